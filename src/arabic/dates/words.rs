//! The closed vocabulary of Arabic (and a little English) date words: month names of
//! every regional family, weekdays, a.m./p.m. markers, relative-time words and the filler
//! words news sites print around a date. Look-ups take NORMALISED words (hamza seats,
//! ة and ى already folded), so one entry covers every spelling. A word not listed here
//! makes the date unreadable: this list must not grow catch-alls.

/// What a known word means inside a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Word {
    /// Gregorian month 1..=12.
    Month(u32),
    /// كانون / تشرين: a month only together with الأول/الثاني (or 1/2) after it.
    MonthPair(Pair),
    /// الأول / الثاني after كانون or تشرين; «أول» also in «أول أمس».
    Ordinal(u32),
    HijriMonth,
    /// Hijri month names of two words start with one of these (ربيع، جمادى، ذو).
    HijriMonthHead,
    /// Second word of a two-word Hijri month (الآخرة، القعدة، الحجة ...).
    HijriMonthTail,
    Weekday,
    Meridiem(Meridiem),
    /// Words that carry no information for us (الساعة، الموافق، في ...).
    Filler,
    /// بتوقيت / توقيت: a zone name follows; only Greenwich/UTC is understood.
    ZoneIntro,
    Utc,
    /// ميلادي, or م right after a year.
    EraAd,
    /// هـ / هجري after a year: the date before it is Hijri.
    EraHijri,
    Now,
    Today,
    Yesterday,
    /// «السابق» in «اليوم السابق» (the day before).
    Previous,
    /// منذ / قبل before an amount of time.
    Ago,
    /// مضت after an amount of time.
    AgoAfter,
    Unit(Unit, Count),
    /// «و» joining two amounts: «منذ ساعة و20 دقيقة».
    And,
    /// «واحد/واحدة» after a singular unit: «منذ ساعة واحدة».
    One,
    /// لحظات: «منذ لحظات», moments ago.
    Moments,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pair {
    /// كانون: الأول = December, الثاني = January.
    Kanun,
    /// تشرين: الأول = October, الثاني = November.
    Tishrin,
}

impl Pair {
    pub(super) fn month(self, ordinal: u32) -> Option<u32> {
        match (self, ordinal) {
            (Pair::Kanun, 1) => Some(12),
            (Pair::Kanun, 2) => Some(1),
            (Pair::Tishrin, 1) => Some(10),
            (Pair::Tishrin, 2) => Some(11),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Meridiem {
    /// ص، صباحًا: 12 → 0, 1..=11 unchanged.
    Am,
    /// م، مساءً: 12 → 12, 1..=11 → +12.
    Pm,
    /// ظهرًا (around noon): 11 and 12 unchanged, 1..=5 → +12.
    Noon,
    /// عصرًا (afternoon): 1..=7 → +12, 12 unchanged.
    Afternoon,
    /// ليلًا (at night): 6..=11 → +12, 12 → 0, 1..=5 unchanged (after midnight).
    Night,
    /// فجرًا (dawn): 1..=6 unchanged.
    Dawn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// Grammatical number of a unit word; Arabic marks «one» and «two» on the noun itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Count {
    One,
    Two,
    /// A plural without a number («منذ أيام») means «a few»: read as 3, the smallest
    /// amount Arabic puts in the plural.
    Plural,
}

const MONTHS: &[(&str, u32)] = &[
    // Egypt, Gulf, Sudan, Libya (and Morocco / Mauritania variants).
    ("يناير", 1),
    ("فبراير", 2),
    ("مارس", 3),
    ("ابريل", 4),
    ("مايو", 5),
    ("يونيو", 6),
    ("يونيه", 6),
    ("يوليو", 7),
    ("يوليه", 7),
    ("اغسطس", 8),
    ("سبتمبر", 9),
    ("اكتوبر", 10),
    ("نوفمبر", 11),
    ("ديسمبر", 12),
    // Levant and Iraq (كانون and تشرين are pairs, see MonthPair).
    ("شباط", 2),
    ("اذار", 3),
    ("نيسان", 4),
    ("ايار", 5),
    ("حزيران", 6),
    ("تموز", 7),
    ("اب", 8),
    ("ايلول", 9),
    // Algeria, Tunisia (French-derived).
    ("جانفي", 1),
    ("فيفري", 2),
    ("افريل", 4),
    ("ماي", 5),
    ("جوان", 6),
    ("جويليه", 7),
    ("اوت", 8),
    // Morocco and Mauritania.
    ("يوليوز", 7),
    ("غشت", 8),
    ("اغشت", 8),
    ("شتنبر", 9),
    ("شتمبر", 9),
    ("نونبر", 11),
    ("دجنبر", 12),
    ("دجمبر", 12),
    // English month names, for mixed-language bylines.
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("sept", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
];

const HIJRI_MONTHS: &[&str] = &["محرم", "صفر", "رجب", "شعبان", "رمضان", "شوال"];

/// Second words of two-word Hijri month names (besides الأول/الثاني).
const HIJRI_TAILS: &[&str] = &["الاولي", "الاخر", "الاخره", "الثانيه", "القعده", "الحجه"];

const WEEKDAYS: &[&str] = &[
    "الاحد",
    "الاثنين",
    "الثلاثاء",
    "الثلاثا",
    "الاربعاء",
    "الاربعا",
    "الخميس",
    "الجمعه",
    "السبت",
    "احد",
    "اثنين",
    "ثلاثاء",
    "اربعاء",
    "خميس",
    "جمعه",
    "سبت",
];

const FILLERS: &[&str] =
    &["الساعه", "الموافق", "في", "بتاريخ", "تاريخ", "النشر", "نشر", "اخر", "تحديث", "تم", "تمام", "علي", "عند"];

const UNITS: &[(&str, Unit, Count)] = &[
    ("ثانيه", Unit::Second, Count::One),
    ("ثانيتين", Unit::Second, Count::Two),
    ("ثانيتان", Unit::Second, Count::Two),
    ("ثواني", Unit::Second, Count::Plural),
    ("ثوان", Unit::Second, Count::Plural),
    ("دقيقه", Unit::Minute, Count::One),
    ("دقيقتين", Unit::Minute, Count::Two),
    ("دقيقتان", Unit::Minute, Count::Two),
    ("دقائق", Unit::Minute, Count::Plural),
    ("دقايق", Unit::Minute, Count::Plural),
    ("ساعه", Unit::Hour, Count::One),
    ("ساعتين", Unit::Hour, Count::Two),
    ("ساعتان", Unit::Hour, Count::Two),
    ("ساعات", Unit::Hour, Count::Plural),
    ("يوم", Unit::Day, Count::One),
    ("يومين", Unit::Day, Count::Two),
    ("يومان", Unit::Day, Count::Two),
    ("ايام", Unit::Day, Count::Plural),
    ("اسبوع", Unit::Week, Count::One),
    ("اسبوعين", Unit::Week, Count::Two),
    ("اسبوعان", Unit::Week, Count::Two),
    ("اسابيع", Unit::Week, Count::Plural),
    ("شهر", Unit::Month, Count::One),
    ("شهرين", Unit::Month, Count::Two),
    ("شهران", Unit::Month, Count::Two),
    ("اشهر", Unit::Month, Count::Plural),
    ("شهور", Unit::Month, Count::Plural),
    ("سنه", Unit::Year, Count::One),
    ("عام", Unit::Year, Count::One),
    ("سنتين", Unit::Year, Count::Two),
    ("سنتان", Unit::Year, Count::Two),
    ("عامين", Unit::Year, Count::Two),
    ("عامان", Unit::Year, Count::Two),
    ("سنوات", Unit::Year, Count::Plural),
    ("سنين", Unit::Year, Count::Plural),
    ("اعوام", Unit::Year, Count::Plural),
];

/// Meaning of a normalised word, or `None` when it is not date vocabulary.
pub(super) fn classify(word: &str) -> Option<Word> {
    if let Some(&(_, m)) = MONTHS.iter().find(|(w, _)| *w == word) {
        return Some(Word::Month(m));
    }
    if let Some(&(_, unit, count)) = UNITS.iter().find(|(w, _, _)| *w == word) {
        return Some(Word::Unit(unit, count));
    }
    let w = match word {
        "كانون" => Word::MonthPair(Pair::Kanun),
        "تشرين" => Word::MonthPair(Pair::Tishrin),
        "الاول" | "اول" => Word::Ordinal(1),
        "الثاني" | "ثاني" => Word::Ordinal(2),
        "ربيع" | "جمادي" | "ذو" => Word::HijriMonthHead,
        "ص" | "صباحا" | "صباح" | "am" => Word::Meridiem(Meridiem::Am),
        "م" | "مساء" | "مساءا" | "pm" => Word::Meridiem(Meridiem::Pm),
        "ظهرا" | "ظهر" | "الظهر" => Word::Meridiem(Meridiem::Noon),
        "عصرا" | "العصر" => Word::Meridiem(Meridiem::Afternoon),
        "ليلا" | "ليل" | "الليل" => Word::Meridiem(Meridiem::Night),
        "فجرا" | "الفجر" => Word::Meridiem(Meridiem::Dawn),
        "بتوقيت" | "توقيت" => Word::ZoneIntro,
        "gmt" | "utc" | "غرينتش" | "غرينيتش" | "جرينتش" | "جرينيتش" | "غرنتش" => {
            Word::Utc
        }
        "ميلادي" | "ميلاديه" => Word::EraAd,
        "ه" | "هجري" | "هجريه" => Word::EraHijri,
        "الان" | "للتو" | "حالا" => Word::Now,
        "اليوم" => Word::Today,
        "امس" | "البارحه" => Word::Yesterday,
        "السابق" => Word::Previous,
        "منذ" | "قبل" => Word::Ago,
        "مضت" | "مضي" => Word::AgoAfter,
        "و" => Word::And,
        "واحد" | "واحده" => Word::One,
        "لحظات" | "لحظه" => Word::Moments,
        _ if HIJRI_MONTHS.contains(&word) => Word::HijriMonth,
        _ if HIJRI_TAILS.contains(&word) => Word::HijriMonthTail,
        _ if WEEKDAYS.contains(&word) => Word::Weekday,
        _ if FILLERS.contains(&word) => Word::Filler,
        _ => return None,
    };
    Some(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arabic::normalize::normalize;

    #[test]
    fn every_spelling_of_a_month_is_found_through_normalize() {
        for (w, m) in [("أبريل", 4), ("إبريل", 4), ("يونية", 6), ("يولية", 7), ("آذار", 3)] {
            assert_eq!(classify(&normalize(w)), Some(Word::Month(m)), "{w}");
        }
        assert_eq!(classify(&normalize("آب")), Some(Word::Month(8)));
        assert_eq!(classify(&normalize("أغسطس")), Some(Word::Month(8)));
    }

    #[test]
    fn kanun_and_tishrin_need_an_ordinal() {
        assert_eq!(Pair::Kanun.month(2), Some(1));
        assert_eq!(Pair::Kanun.month(1), Some(12));
        assert_eq!(Pair::Tishrin.month(1), Some(10));
        assert_eq!(Pair::Tishrin.month(2), Some(11));
        assert_eq!(Pair::Tishrin.month(3), None);
        assert_eq!(classify(&normalize("الأول")), Some(Word::Ordinal(1)));
    }

    #[test]
    fn weekdays_with_or_without_hamza_are_weekdays() {
        for w in ["الإثنين", "الاثنين", "الأربعاء", "الجمعة", "الجمعه", "الأحد"]
        {
            assert_eq!(classify(&normalize(w)), Some(Word::Weekday), "{w}");
        }
    }

    #[test]
    fn meridiem_words_with_tanween_are_found() {
        for w in ["صباحًا", "صباحاً", "ص"] {
            assert_eq!(classify(&normalize(w)), Some(Word::Meridiem(Meridiem::Am)), "{w}");
        }
        for w in ["مساءً", "مساء", "م"] {
            assert_eq!(classify(&normalize(w)), Some(Word::Meridiem(Meridiem::Pm)), "{w}");
        }
        assert_eq!(classify(&normalize("ظهرًا")), Some(Word::Meridiem(Meridiem::Noon)));
    }

    #[test]
    fn unknown_words_are_not_date_words() {
        assert_eq!(classify("العراق"), None);
        assert_eq!(classify(""), None);
    }
}
