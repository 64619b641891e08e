//! The domain's modules import one another without a circle (each can be read, and moved, on its
//! own): checked from the sources, outside their tests.

use std::collections::{BTreeMap, BTreeSet};

/// Each domain module and the domain modules it imports, from `src/domain/*.rs`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
    let names: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.unwrap().path().file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|n| n != "mod")
        .collect();
    let mut graph = BTreeMap::new();
    for name in &names {
        let text = std::fs::read_to_string(dir.join(format!("{name}.rs"))).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let used = names
            .iter()
            .filter(|other| *other != name)
            .filter(|other| [format!("super::{other}"), format!("domain::{other}")].iter().any(|p| code.contains(p)))
            .cloned()
            .collect();
        graph.insert(name.clone(), used);
    }
    graph
}

/// A circle through `from`, if there is one, as the modules on it.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut path = vec![from.to_owned()];
    let mut seen = BTreeSet::new();
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        let last = path.last().unwrap().clone();
        for next in &graph[&last] {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    walk(graph, from, &mut path, &mut seen).then_some(path)
}

#[test]
fn domain_modules_import_one_another_without_a_circle() {
    let graph = imports();
    assert!(graph.contains_key("outcome") && graph["outcome"].contains("contact"), "the scan reads the imports");
    for module in graph.keys() {
        assert_eq!(circle(&graph, module), None, "an import circle through domain::{module}");
    }
}

#[test]
fn a_circle_is_found() {
    let graph: BTreeMap<String, BTreeSet<String>> = [("a", ["b"]), ("b", ["c"]), ("c", ["a"])]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.iter().map(|s| s.to_string()).collect()))
        .collect();
    assert_eq!(circle(&graph, "a"), Some(vec!["a".into(), "b".into(), "c".into()]));
}
