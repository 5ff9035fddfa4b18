//! The tree keeps the shape of the data flow: the modules of `src/` depend on each other without a
//! cycle, `spec` (what the operator writes, as types) depends on nothing but `arabic`, and
//! `config` on nothing but `spec`. A dependency is any `crate::<module>` named in a module's
//! files outside their `#[cfg(test)]` part (tests may reach anywhere).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The top-level modules of `src/` and, for each, the other top-level modules its code names.
fn dependencies() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeSet::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let name = name.strip_suffix(".rs").unwrap_or(&name).to_owned();
        if name != "lib" && name != "main" {
            modules.insert(name);
        }
    }
    let mut graph = Graph::new();
    for module in &modules {
        let mut files = Vec::new();
        let dir = src.join(module);
        if dir.is_dir() {
            walk(&dir, &mut files);
        }
        let file = src.join(format!("{module}.rs"));
        if file.is_file() {
            files.push(file);
        }
        let named = graph.entry(module.clone()).or_default();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for other in named_modules(code) {
                if &other != module && modules.contains(&other) {
                    named.insert(other);
                }
            }
        }
    }
    graph
}

fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// Every module named as `crate::name` or inside `crate::{a, b::c}`.
fn named_modules(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Each item of the group starts after the brace or a comma at the group's own depth.
            let mut depth = 0;
            let mut item_start = Some(0);
            for (i, c) in group.char_indices() {
                if let Some(start) = item_start.take() {
                    found.extend(ident(group[start..].trim_start()));
                }
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = Some(i + 1),
                    _ => {}
                }
            }
        } else {
            found.extend(ident(rest));
        }
    }
    found
}

fn ident(text: &str) -> Option<String> {
    let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(text.len());
    (end > 0).then(|| text[..end].to_owned())
}

/// A cycle through `from`, as a path of module names, if there is one.
fn cycle(graph: &Graph, from: &str) -> Option<Vec<String>> {
    fn visit(graph: &Graph, at: &str, start: &str, path: &mut Vec<String>, seen: &mut BTreeSet<String>) -> bool {
        for next in graph.get(at).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if visit(graph, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![from.to_owned()];
    visit(graph, from, from, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn the_modules_depend_on_each_other_without_a_cycle() {
    let graph = dependencies();
    assert!(graph.len() > 10, "the modules of src/ were not found: {graph:?}");
    for module in graph.keys() {
        if let Some(path) = cycle(&graph, module) {
            panic!("src/ has a dependency cycle: {}", path.join(" → "));
        }
    }
}

#[test]
fn spec_and_config_sit_below_every_stage() {
    let graph = dependencies();
    let names = |m: &str| graph[m].iter().cloned().collect::<Vec<_>>();
    assert_eq!(names("spec"), ["arabic"], "spec may depend on arabic only");
    assert_eq!(names("config"), ["spec"], "config may depend on spec only");
    assert!(graph["arabic"].is_empty(), "arabic is pure: {:?}", graph["arabic"]);
}

#[test]
fn the_reader_finds_what_a_module_names() {
    let code = "use crate::store::{A, B};\nuse crate::{arabic, spec::{X, store}, web};\nlet x = crate::feeds::ALL;";
    assert_eq!(named_modules(code), ["store", "arabic", "spec", "web", "feeds"]);
    let mut graph = Graph::new();
    graph.insert("a".into(), ["b".into()].into());
    graph.insert("b".into(), ["c".into()].into());
    graph.insert("c".into(), ["a".into()].into());
    assert_eq!(cycle(&graph, "a").unwrap(), ["a", "b", "c", "a"]);
    graph.get_mut("c").unwrap().clear();
    assert_eq!(cycle(&graph, "a"), None);
}
