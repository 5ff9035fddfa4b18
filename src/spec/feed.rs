//! Feed declarations: one TOML file per published feed in the `feeds/` folder. The `all` feed
//! always exists; if no file declares it, it lists every article under the site's title.

use std::path::Path;

use serde::Deserialize;

use super::{KeywordName, Problem};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedSpec {
    /// The URL name: `/feeds/{id}.rss`. ASCII letters, digits, '-' and '_'.
    pub id: String,
    /// Empty means the site's title.
    pub title: String,
    pub description: String,
    pub language: String,
    /// Only articles carrying at least one of these keywords; empty means every article.
    pub keywords: Vec<String>,
    pub limit: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default = "default_language")]
    language: String,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_language() -> String {
    "ar".into()
}

fn default_limit() -> u32 {
    50
}

pub const ALL: &str = "all";

impl FeedSpec {
    /// The implicit `all` feed.
    pub fn all() -> Self {
        Self {
            id: ALL.into(),
            title: String::new(),
            description: String::new(),
            language: default_language(),
            keywords: Vec::new(),
            limit: default_limit(),
        }
    }

    /// Reads every `*.toml` in `dir`, sorted by id, adding `all` if it is not declared. Every
    /// problem is reported with its file and key.
    pub fn load_dir(dir: &Path) -> Result<Vec<FeedSpec>, Vec<Problem>> {
        let key = |file: &Path, field: &str| format!("{}: {field}", file.display());
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                return Err(vec![Problem::new("feeds.dir", dir.display(), format!("cannot read the folder: {e}"))]);
            }
        };
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        let mut specs: Vec<FeedSpec> = Vec::new();
        let mut problems = Vec::new();
        for file in files {
            let raw: RawSpec = match std::fs::read_to_string(&file)
                .map_err(|e| e.to_string())
                .and_then(|text| toml::from_str(&text).map_err(|e| e.to_string()))
            {
                Ok(raw) => raw,
                Err(reason) => {
                    problems.push(Problem::new(file.display().to_string(), "", reason.trim().replace('\n', " ")));
                    continue;
                }
            };
            let id = raw.id.trim().to_owned();
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                problems.push(Problem::new(
                    key(&file, "id"),
                    &raw.id,
                    "use ASCII letters, digits, '-' or '_' (it is the feed's URL name)",
                ));
            } else if specs.iter().any(|s| s.id == id) {
                problems.push(Problem::new(key(&file, "id"), &raw.id, "another file declares this feed id"));
            }
            if raw.limit == 0 || raw.limit > 1000 {
                problems.push(Problem::new(key(&file, "limit"), raw.limit, "must be between 1 and 1000"));
            }
            for (i, k) in raw.keywords.iter().enumerate() {
                if let Err(e) = KeywordName::parse(k) {
                    problems.push(Problem::new(key(&file, &format!("keywords[{i}]")), k, e.to_string()));
                }
            }
            if id == ALL && !raw.keywords.is_empty() {
                problems.push(Problem::new(
                    key(&file, "keywords"),
                    "",
                    "the all feed lists every article; give it no keywords",
                ));
            }
            specs.push(FeedSpec {
                id,
                title: raw.title.trim().to_owned(),
                description: raw.description.trim().to_owned(),
                language: raw.language.trim().to_owned(),
                keywords: raw.keywords,
                limit: raw.limit,
            });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        if !specs.iter().any(|s| s.id == ALL) {
            specs.push(FeedSpec::all());
        }
        specs.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(specs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_added_when_no_file_declares_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("iraq.toml"), "id = \"iraq\"\nkeywords = [\"العراق\"]\n").unwrap();
        let specs = FeedSpec::load_dir(dir.path()).unwrap();
        let ids: Vec<_> = specs.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["all", "iraq"]);
    }

    #[test]
    fn every_bad_declaration_is_reported_with_its_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.toml"), "id = \"bad id\"\nlimit = 0\n").unwrap();
        std::fs::write(dir.path().join("b.toml"), "id = \"b\"\ncolour = 1\n").unwrap();
        let problems = FeedSpec::load_dir(dir.path()).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].key.ends_with("a.toml: id"));
        assert!(problems[1].key.ends_with("a.toml: limit"));
        assert!(problems[2].key.ends_with("b.toml") && problems[2].reason.contains("colour"));
    }
}
