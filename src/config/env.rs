//! Environment overrides: `NASHRA_<SECTION>__<KEY>[__<KEY>…]=value` sets one scalar of the parsed
//! file before it is read (`NASHRA_HTTP__LISTEN=0.0.0.0:8080`, `NASHRA_SOURCES__0__URL=…` for the
//! first `[[sources]]`). Only scalars can be overridden; the value is always text and the typed
//! reader decides what it means, so a bad override is reported like a bad value in the file.

use toml::{Table, Value};

use super::Problem;

/// Variables that configure the process rather than the file (and `NASHRA_TEST_*`, the tests').
const NOT_OVERRIDES: &[&str] = &["NASHRA_CONFIG", "NASHRA_LOG"];

pub fn apply<I>(doc: &mut Table, vars: I) -> Vec<Problem>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut problems = Vec::new();
    let mut vars: Vec<_> = vars.into_iter().collect();
    vars.sort();
    for (name, value) in vars {
        let Some(path) = name.strip_prefix("NASHRA_") else {
            continue;
        };
        if NOT_OVERRIDES.contains(&name.as_str()) || name.starts_with("NASHRA_TEST_") {
            continue;
        }
        if !path.contains("__") {
            // Not an override (tools and tests keep their own NASHRA_… variables); a misspelt
            // override such as NASHRA_HTTP_LISTEN is worth a word, not a refusal.
            tracing::warn!("{name} is not a configuration override (those are NASHRA_<SECTION>__<KEY>); ignored");
            continue;
        }
        let segments: Vec<String> = path.split("__").map(str::to_lowercase).collect();
        if segments.iter().any(String::is_empty) {
            problems.push(Problem::new(
                name.clone(),
                &value,
                "an override is named NASHRA_<SECTION>__<KEY>, e.g. NASHRA_HTTP__LISTEN",
            ));
            continue;
        }
        if let Err(reason) = set(doc, &segments, value.clone()) {
            problems.push(Problem::new(name, &value, reason));
        }
    }
    problems
}

fn set(doc: &mut Table, path: &[String], value: String) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("empty key")?;
    let (first, rest) = parents.split_first().ok_or("a key needs a section")?;
    let mut here: &mut Value = doc.entry(first.clone()).or_insert_with(|| Value::Table(Table::new()));
    for segment in rest {
        here = step(here, segment)?;
    }
    match here {
        Value::Table(t) => {
            if matches!(t.get(last), Some(Value::Table(_) | Value::Array(_))) {
                return Err(format!("`{last}` is a section or a list, not a single value"));
            }
            t.insert(last.clone(), Value::String(value));
            Ok(())
        }
        Value::Array(items) => {
            let slot = index(items, last)?;
            *slot = Value::String(value);
            Ok(())
        }
        _ => Err(format!("the parent of `{last}` is a single value, not a section")),
    }
}

fn step<'a>(here: &'a mut Value, segment: &str) -> Result<&'a mut Value, String> {
    match here {
        Value::Table(t) => Ok(t.entry(segment.to_owned()).or_insert_with(|| Value::Table(Table::new()))),
        Value::Array(items) => index(items, segment),
        _ => Err(format!("cannot descend into `{segment}`: its parent is a single value")),
    }
}

fn index<'a>(items: &'a mut [Value], segment: &str) -> Result<&'a mut Value, String> {
    let i: usize = segment.parse().map_err(|_| format!("`{segment}` must be a list index (0, 1, …)"))?;
    let len = items.len();
    items.get_mut(i).ok_or_else(|| format!("index {i} is past the end of a list of {len}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Table {
        toml::from_str(
            r#"
            [http]
            listen = "127.0.0.1:8080"
            [[sources]]
            name = "a"
            url = "http://a.example/"
            "#,
        )
        .unwrap()
    }

    fn var(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn section_keys_and_list_items_are_overridden() {
        let mut d = doc();
        let problems = apply(
            &mut d,
            [var("NASHRA_HTTP__LISTEN", "0.0.0.0:9"), var("NASHRA_SOURCES__0__URL", "http://b.example/")],
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(d["http"]["listen"].as_str(), Some("0.0.0.0:9"));
        assert_eq!(d["sources"][0]["url"].as_str(), Some("http://b.example/"));
    }

    #[test]
    fn a_missing_section_is_created() {
        let mut d = doc();
        assert!(apply(&mut d, [var("NASHRA_MAIL__TRANSPORT", "smtp")]).is_empty());
        assert_eq!(d["mail"]["transport"].as_str(), Some("smtp"));
    }

    #[test]
    fn malformed_override_names_are_reported_with_the_variable() {
        let mut d = doc();
        let vars = [
            var("NASHRA_HTTP__", "x"),
            var("NASHRA_SOURCES__7__URL", "x"),
            var("NASHRA_HTTP__LISTEN__PORT", "x"),
            var("NASHRA_HTTP_LISTEN", "a misspelt override is only warned about"),
        ];
        let problems = apply(&mut d, vars);
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["NASHRA_HTTP__", "NASHRA_HTTP__LISTEN__PORT", "NASHRA_SOURCES__7__URL"]);
        assert!(problems[1].reason.contains("parent of `port` is a single value"), "{problems:?}");
        assert!(problems[2].reason.contains("past the end"));
    }

    #[test]
    fn unrelated_variables_are_ignored() {
        let mut d = doc();
        let vars = [var("HOME", "/root"), var("NASHRA_CONFIG", "x.toml"), var("NASHRA_TEST_POSTGRES_URL", "x")];
        assert!(apply(&mut d, vars).is_empty());
    }
}
