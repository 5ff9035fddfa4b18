//! Tests of the keyword matcher, including a check against the Snowball Arabic
//! vocabulary (GPL data read in place from the shared test data, never copied).

use super::*;
use crate::arabic::normalize::normalize;

fn matcher(entries: &[&[&str]]) -> Matcher {
    let owned: Vec<Vec<&str>> = entries.iter().map(|e| e.to_vec()).collect();
    Matcher::new(&owned)
}

fn kws(m: &Matcher, text: &str) -> Vec<usize> {
    m.keywords_in(text)
}

#[test]
fn proclitic_forms_match_their_keyword() {
    let m = matcher(&[&["داعش"], &["العراق"]]);
    assert_eq!(kws(&m, "هجوم لداعش"), [0]);
    assert_eq!(kws(&m, "والعراق"), [1]);
}

#[test]
fn words_that_merely_start_with_a_keyword_do_not_match() {
    let m = matcher(&[&["مصر"], &["عراق"]]);
    assert!(kws(&m, "مصرف المصرف والمصرف").is_empty());
    assert!(kws(&m, "عراقيل").is_empty());
    assert_eq!(kws(&m, "العراق"), [1]);
}

#[test]
fn spelling_variants_of_al_iraq_all_match() {
    let m = matcher(&[&["العراق"]]);
    for w in ["وبالعراق", "للعراق", "وللعراق", "فللعراق", "فالعراق", "العـراق", "العِراق", "بالعراق"]
    {
        assert_eq!(kws(&m, w), [0], "{w}");
    }
}

#[test]
fn hamza_spellings_match_each_other() {
    let with = matcher(&[&["أمريكا"]]);
    let without = matcher(&[&["امريكا"]]);
    assert_eq!(kws(&with, "امريكا"), [0]);
    assert_eq!(kws(&without, "أمريكا"), [0]);
    assert_eq!(kws(&with, "وإمريكا"), [0]);
}

#[test]
fn phrase_matches_with_proclitics_on_its_first_word() {
    let m = matcher(&[&["التحالف الدولي"], &["الدولة الإسلامية"], &["مكافحة الإرهاب"]]);
    let text = "أعلن «والتحالف الدولي» عن خطة لمكافحة الارهاب ضد الدولة الاسلامية.";
    assert_eq!(kws(&m, text), [0, 1, 2]);
    let found = m.find_all(text);
    let first = found.first().cloned();
    let start = text.find("والتحالف");
    let end = text.find("» عن");
    assert_eq!(first.map(|f| (f.keyword, Some(f.start), Some(f.end))), Some((0, start, end)));
}

#[test]
fn phrase_words_after_the_first_must_match_exactly() {
    let m = matcher(&[&["التحالف الدولي"]]);
    assert!(kws(&m, "التحالف والدولي").is_empty());
    assert!(kws(&m, "التحالف").is_empty());
    assert!(kws(&m, "التحالف الدولية").is_empty());
    assert_eq!(kws(&m, "التحالف، الدولي"), [0]);
}

#[test]
fn aliases_map_to_their_keyword_index() {
    let m = matcher(&[&["مصر"], &["داعش", "الدولة الإسلامية", "ISIS", "تنظيم الدولة"]]);
    assert_eq!(kws(&m, "مقاتلو ISIS"), [1]);
    assert_eq!(kws(&m, "عناصر تنظيم الدولة في مصر"), [0, 1]);
    assert_eq!(kws(&m, "بالدولة الإسلامية"), [1]);
    assert_eq!(kws(&m, "للدولة الإسلامية"), [1]);
}

#[test]
fn latin_forms_match_case_insensitively_as_whole_tokens() {
    let m = matcher(&[&["ISIS"], &["CTEF"]]);
    assert_eq!(kws(&m, "isis and Ctef"), [0, 1]);
    assert!(kws(&m, "crisis CTEFS").is_empty());
}

#[test]
fn find_all_reports_every_occurrence_in_text_order_with_original_offsets() {
    let m = matcher(&[&["العراق"], &["داعش"]]);
    let text = "\u{200F}داعش في العِراق، ثم لداعش";
    let found = m.find_all(text);
    let slices: Vec<(usize, &str)> =
        found.iter().map(|f| (f.keyword, text.get(f.start..f.end).unwrap_or("?"))).collect();
    assert_eq!(slices, [(1, "داعش"), (0, "العِراق"), (1, "لداعش")]);
}

#[test]
fn overlapping_keywords_are_all_reported() {
    let m = matcher(&[&["التحالف"], &["التحالف الدولي"]]);
    let found = m.find_all("التحالف الدولي");
    assert_eq!(found.len(), 2);
    assert_eq!(found.iter().map(|f| f.keyword).collect::<Vec<_>>(), [0, 1]);
}

#[test]
fn several_forms_hitting_the_same_place_give_one_match() {
    let m = matcher(&[&["العراق", "عراق", "العِراق"]]);
    assert_eq!(m.find_all("والعراق").len(), 1);
}

#[test]
fn too_short_or_empty_forms_are_ignored() {
    let m = matcher(&[&["و", "ـ", "", "  ", "\u{064E}"]]);
    assert!(m.is_empty());
    assert!(m.find_all("و ـ").is_empty());
    assert!(Matcher::new::<&str>(&[]).is_empty());
    assert!(!matcher(&[&["مصر"]]).is_empty());
}

#[test]
fn a_lone_tatweel_between_phrase_words_is_transparent() {
    let m = matcher(&[&["التحالف الدولي"]]);
    assert_eq!(kws(&m, "التحالف ـ الدولي"), [0]);
}

/// `rel` under the shared test data: `$NASHRA_SHARED_DIR/testdata`, or `../shared/testdata`
/// beside the checkout.
fn shared_testdata(rel: &str) -> Option<std::path::PathBuf> {
    let base = std::env::var_os("NASHRA_SHARED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    Some(base.join("testdata").join(rel)).filter(|p| p.exists())
}

/// Proclitic chains as written before a stem, including the لل contraction before a
/// stem that starts with ال.
fn chains_of(stem: &str) -> Vec<String> {
    let mut out = Vec::new();
    for conj in ["", "و", "ف"] {
        for prep in ["", "ب", "ك", "ل"] {
            for art in ["", "ال"] {
                out.push(format!("{conj}{prep}{art}{stem}"));
            }
        }
        out.push(format!("{conj}لل{stem}"));
    }
    out
}

#[test]
fn snowball_vocabulary_words_behind_proclitics_match_their_keyword_stem() {
    let Some(path) = shared_testdata("snowball-arabic/news-keywords.tsv") else {
        eprintln!("skipped: snowball-arabic/news-keywords.tsv not found in ../shared/testdata or $NASHRA_SHARED_DIR");
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    // The README's search strings, normalised, are the keywords.
    let keywords: Vec<String> =
        ["عراق", "داعش", "مصر", "قاهر", "بغداد", "موصل", "فلسطين", "سرائيل", "لبنان", "غزة", "سوري"]
            .iter()
            .map(|k| normalize(k))
            .collect();
    let entries: Vec<Vec<&str>> = keywords.iter().map(|k| vec![k.as_str()]).collect();
    let m = Matcher::new(&entries);
    let (mut rows, mut qualifying, mut passing, mut matched) = (0usize, 0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    let mut unexplained = Vec::new();
    for line in text.lines() {
        let mut cols = line.split('\t');
        let (Some(word), Some(stem)) = (cols.next(), cols.next()) else {
            continue;
        };
        rows += 1;
        // No match may come from anything but a proclitic chain (e.g. «مصرف» ≠ مصر).
        let word_norm = normalize(word);
        let found = m.keywords_in(word);
        matched += usize::from(!found.is_empty());
        for k in found {
            let explained = keywords.get(k).is_some_and(|kw| chains_of(kw).contains(&word_norm));
            if !explained {
                unexplained.push(word.to_owned());
            }
        }
        let stem = normalize(stem);
        let Some(k) = keywords.iter().position(|kw| *kw == stem) else {
            continue;
        };
        if !chains_of(&stem).contains(&normalize(word)) {
            continue;
        }
        qualifying += 1;
        if m.keywords_in(word).contains(&k) {
            passing += 1;
        } else {
            failures.push(word.to_owned());
        }
    }
    eprintln!(
        "snowball news-keywords: {rows} rows, {qualifying} qualify, {passing} pass; {matched} rows match some keyword, all through a proclitic chain"
    );
    assert!(rows > 6000, "only {rows} rows read from {}", path.display());
    assert!(qualifying > 0);
    assert_eq!(failures, Vec::<String>::new());
    assert_eq!(unexplained, Vec::<String>::new(), "matches not explained by a proclitic chain");
}

mod inflection {
    use super::super::Matcher;

    fn surfaces(m: &Matcher, text: &str) -> Vec<String> {
        m.find_all(text).into_iter().map(|x| text[x.start..x.end].to_owned()).collect()
    }

    #[test]
    fn suffix_forms_match_only_keywords_that_take_them() {
        let mut m = Matcher::new(&[vec!["العراق"], vec!["مصر"], vec!["سوريا"], vec!["أمن"]]);
        let text = "القوات العراقية والعراقيون في العراق، والمصريين بمصر، والسوري والسورية، أمنية";
        assert_eq!(surfaces(&m, text), ["العراق", "بمصر"], "off by default");
        m.inflect(0);
        m.inflect(1);
        m.inflect(2);
        assert_eq!(
            surfaces(&m, text),
            ["العراقية", "والعراقيون", "العراق", "والمصريين", "بمصر", "والسوري", "والسورية"]
        );
    }

    #[test]
    fn suffix_forms_never_reach_other_words() {
        let mut m = Matcher::new(&[vec!["مصر"], vec!["العراق"]]);
        m.inflect(0);
        m.inflect(1);
        for other in ["مصرف", "المصارف", "مصرع", "عراقيل", "عراقة", "مصراتة"] {
            assert!(m.find_all(other).is_empty(), "{other}");
        }
    }
}

#[test]
fn lam_plus_article_before_a_word_starting_with_lam_is_read() {
    let m = super::Matcher::new(&[vec!["اللاجئين"], vec!["لبنان"]]);
    assert_eq!(m.keywords_in("المساعدات للاجئين"), [0]);
    assert_eq!(m.keywords_in("وللاجئين حقوق"), [0]);
    assert_eq!(m.keywords_in("رسالة للبنان"), [1]);
}

/// The matcher's rules spelled out the slow, obvious way — every reading of every word against
/// every form of every keyword — to check the index and the streaming pass against.
mod oracle {
    use proptest::prelude::*;
    use proptest::sample::select;

    use super::super::{Match, Matcher, NISBA, PLURAL, PRONOUNS};
    use crate::arabic::clitics::proclitic_stems;
    use crate::arabic::normalize::{TATWEEL, is_harakah, normalize};
    use crate::arabic::tokens::tokens;

    fn long(s: &str) -> bool {
        s.chars().count() >= 2
    }

    /// (normalised words, start, end, ends with ة) of `text`.
    fn words(text: &str) -> Vec<(String, usize, usize, bool)> {
        tokens(text)
            .map(|t| {
                let ta = t.text.chars().rev().find(|c| !is_harakah(*c) && *c != TATWEEL) == Some('ة');
                (normalize(t.text), t.start, t.end, ta)
            })
            .filter(|w| !w.0.is_empty())
            .collect()
    }

    /// Does `reading` (of a word ending in ة or not) match the one-word form `f`?
    fn fits(f: &str, inflected: bool, reading: &str, ta: bool) -> bool {
        if reading == f {
            return true;
        }
        if !inflected {
            return false;
        }
        let bare = f.strip_prefix("ال").filter(|b| long(b)).unwrap_or(f);
        let name = bare.strip_suffix("يا").or_else(|| bare.strip_suffix('ا')).unwrap_or(bare);
        let nisba = [f, bare, name].iter().any(|b| long(b) && NISBA.iter().any(|s| reading == format!("{b}{s}")));
        let pronoun = long(bare) && PRONOUNS.iter().any(|s| !(ta && *s == "ه") && reading == format!("{bare}{s}"));
        let plural = [f, bare].iter().any(|b| {
            let stem = PLURAL.iter().find_map(|p| b.strip_suffix(p)).or_else(|| {
                (b.strip_prefix("ال").unwrap_or(b).chars().count() >= super::super::MIN_SINGULAR_CHARS).then_some(*b)
            });
            stem.is_some_and(|s| long(s) && PLURAL.iter().any(|p| reading == format!("{s}{p}")))
        });
        reading == bare || nisba || pronoun || plural
    }

    pub fn find_all(entries: &[Vec<String>], inflected: &[bool], text: &str) -> Vec<Match> {
        let ws = words(text);
        let mut found = Vec::new();
        for (keyword, forms) in entries.iter().enumerate() {
            for form in forms {
                let parts: Vec<String> = words(form).into_iter().map(|w| w.0).collect();
                let Some((first, rest)) = parts.split_first() else { continue };
                if first.chars().count() + rest.iter().map(|r| r.chars().count()).sum::<usize>() < 2 {
                    continue;
                }
                for (i, (w, start, end, ta)) in ws.iter().enumerate() {
                    for reading in proclitic_stems(w) {
                        if rest.is_empty() {
                            if fits(first, inflected[keyword], &reading, *ta) {
                                found.push(Match { keyword, start: *start, end: *end });
                            }
                        } else if reading == *first
                            && ws.len() > i + rest.len()
                            && ws[i + 1..=i + rest.len()].iter().zip(rest).all(|(w, r)| w.0 == *r)
                        {
                            found.push(Match { keyword, start: *start, end: ws[i + rest.len()].2 });
                        }
                    }
                }
            }
        }
        found.sort_by_key(|m| (m.start, m.end, m.keyword));
        found.dedup();
        found
    }

    fn word() -> impl Strategy<Value = String> {
        let prefix = select(vec!["", "", "و", "ف", "ب", "ل", "ك", "ال", "وال", "بال", "لل", "ولل", "فب"]);
        let stem = select(vec![
            "عراق",
            "العراق",
            "مصر",
            "سوريا",
            "لاجئ",
            "اللاجئين",
            "أمن",
            "داعش",
            "قطر",
            "حماس",
            "ISIS",
            "تحالف",
            "دولي",
            "مُصْرِف",
            "الـدولة",
            "إيران",
            "ة",
            "ـ",
            "َ",
            "x",
            "é",
            "ڤيينا",
            "\u{0627}\u{0654}من",
            "٣",
            "Ünï",
        ]);
        let suffix = select(vec!["", "", "", "ي", "ية", "يون", "يين", "ه", "ها", "ين", "ون", "ة", "ات"]);
        let joint = select(vec!["", "", "\u{200F}", "\u{200B}"]);
        (prefix, stem, joint, suffix).prop_map(|(p, s, j, x)| format!("{p}{s}{j}{x}"))
    }

    fn text() -> impl Strategy<Value = String> {
        let sep = select(vec![" ", " ", "، ", "\n", " \u{200F}", "«", "»", "\u{00A0}", "؟", "ـ ", "٫"]);
        proptest::collection::vec((word(), sep), 0..24)
            .prop_map(|v| v.into_iter().map(|(w, s)| format!("{w}{s}")).collect())
    }

    fn vocabulary() -> impl Strategy<Value = Vec<(Vec<String>, bool)>> {
        let entry = (proptest::collection::vec((word(), proptest::option::of(word())), 1..3), any::<bool>()).prop_map(
            |(forms, inflected)| {
                let forms = forms.into_iter().map(|(a, b)| b.map_or(a.clone(), |b| format!("{a} {b}"))).collect();
                (forms, inflected)
            },
        );
        proptest::collection::vec(entry, 1..6)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn the_matcher_finds_what_the_rules_say(vocabulary in vocabulary(), text in text()) {
            let entries: Vec<Vec<String>> = vocabulary.iter().map(|(f, _)| f.clone()).collect();
            let inflected: Vec<bool> = vocabulary.iter().map(|(_, i)| *i).collect();
            let mut m = Matcher::new(&entries);
            for (i, _) in inflected.iter().enumerate().filter(|(_, i)| **i) {
                m.inflect(i);
            }
            let expected = find_all(&entries, &inflected, &text);
            prop_assert_eq!(m.find_all(&text), expected.clone(), "{:?}", entries);
            let mut keywords: Vec<usize> = expected.iter().map(|x| x.keyword).collect();
            keywords.sort_unstable();
            keywords.dedup();
            prop_assert_eq!(m.keywords_in(&text), keywords);
        }

        #[test]
        fn a_text_fed_in_pieces_finds_what_it_finds_whole(vocabulary in vocabulary(), text in text()) {
            let entries: Vec<Vec<String>> = vocabulary.iter().map(|(f, _)| f.clone()).collect();
            let m = Matcher::new(&entries);
            let mut scan = m.scan();
            let mut found = Vec::new();
            let mut offset = 0;
            for line in text.split_inclusive('\n') {
                scan.feed(line, offset, |x| found.push(x));
                offset += line.len();
            }
            found.sort_by_key(|x| (x.start, x.end, x.keyword));
            found.dedup();
            prop_assert_eq!(found, m.find_all(&text));
        }
    }
}

mod proper_names {
    use super::super::Matcher;

    #[test]
    fn the_article_before_a_proper_name_is_not_a_proclitic() {
        let mut m = Matcher::new(&[vec!["قطر"], vec!["حماس"], vec!["حلب"]]);
        let text = "نصف القطر والحماس بالحماس الحلب";
        assert_eq!(m.keywords_in(text), [0, 1, 2], "a word like any other by default");
        for k in 0..3 {
            m.proper(k);
        }
        assert!(m.keywords_in(text).is_empty(), "{:?}", m.find_all(text));
        assert_eq!(m.keywords_in("زار وقطر بقطر لقطر فقطر"), [0]);
        assert_eq!(m.find_all("وفد قطر وحماس في حلب").len(), 3);
        assert!(m.keywords_in("للقطر وللحماس").is_empty());
    }

    #[test]
    fn the_adjective_of_a_proper_name_takes_the_article() {
        let mut m = Matcher::new(&[vec!["قطر"], vec!["حلب"]]);
        m.proper(0);
        m.proper(1);
        m.inflect(0);
        m.inflect(1);
        assert_eq!(m.keywords_in("الجيش القطري والفصائل الحلبية"), [0, 1]);
        assert!(m.keywords_in("القطر الحلب").is_empty());
    }

    #[test]
    fn a_proper_name_that_has_the_article_keeps_it() {
        let mut m = Matcher::new(&[vec!["العراق"], vec!["الأمم المتحدة"]]);
        m.proper(0);
        m.proper(1);
        assert_eq!(m.keywords_in("في العراق وبالعراق وللعراق"), [0]);
        assert_eq!(m.keywords_in("قالت الأمم المتحدة وللأمم المتحدة"), [1]);
    }
}

#[test]
fn a_format_character_inside_a_word_does_not_split_it() {
    let m = matcher(&[&["العراق"], &["ISIS"]]);
    assert_eq!(kws(&m, "في الع\u{200F}راق و IS\u{200B}IS"), [0, 1]);
    assert_eq!(kws(&m, "الع \u{200F}راق"), Vec::<usize>::new());
}

#[test]
fn a_singular_finds_its_sound_plurals_when_inflected() {
    let mut m = Matcher::new(&[vec!["اللاجئ"], vec!["مصر"]]);
    assert!(m.keywords_in("اللاجئون واللاجئين").is_empty(), "off by default");
    m.inflect(0);
    m.inflect(1);
    assert_eq!(m.keywords_in("اللاجئون"), [0]);
    assert_eq!(m.keywords_in("وللاجئين"), [0]);
    assert_eq!(m.keywords_in("لاجئون"), [0]);
    assert!(m.keywords_in("المصرين على موقفهم").is_empty(), "three letters: no plural of a name");
}

/// The labelled set (tests/fixtures/arabic-matching): precision and recall of the matcher over
/// 300-odd paragraphs written for it — proper names behind the article, format characters
/// inside words, sound plurals, substrings, phrases, spellings. Every row is a rule the matcher
/// keeps, so every row must come out as labelled.
#[test]
fn the_labelled_paragraphs_come_out_as_labelled() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/arabic-matching/labelled.tsv");
    let text = std::fs::read_to_string(path).unwrap();
    let (mut tp, mut fp, mut fn_, mut tn) = (0, 0, 0, 0);
    let mut wrong = Vec::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let [id, keyword, flags, expected, category, paragraph] = line.split('\t').collect::<Vec<_>>()[..] else {
            panic!("bad row {line:?}");
        };
        let mut m = Matcher::new(&[vec![keyword]]);
        for flag in flags.split(',') {
            match flag {
                "proper" => m.proper(0),
                "inflected" => m.inflect(0),
                "-" => {}
                other => panic!("row {id}: unknown flag {other}"),
            }
        }
        let found = !m.keywords_in(paragraph).is_empty();
        match (found, expected == "1") {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => tn += 1,
        }
        if found != (expected == "1") {
            wrong.push(format!("{id} {category} {keyword} [{flags}] expected {expected}"));
        }
    }
    let precision = f64::from(tp) / f64::from((tp + fp).max(1));
    let recall = f64::from(tp) / f64::from((tp + fn_).max(1));
    eprintln!(
        "labelled set: {} rows, precision {precision:.3}, recall {recall:.3} ({tp} tp, {fp} fp, {fn_} fn, {tn} tn)",
        tp + fp + fn_ + tn
    );
    assert!(tp + fp + fn_ + tn >= 300);
    assert_eq!(wrong, Vec::<String>::new());
}
