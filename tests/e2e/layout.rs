//! The house's floors: no module of `src/` reaches, through others, back to
//! itself. Every `use` line and every path written inline (`crate::a::b`,
//! `super::c`) counts, outside the `#[cfg(test)]` modules; a path counts
//! for the deepest module it names, so a module that re-exports its
//! child's items and a child that uses its parent's items make a loop.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `folder`.
fn sources(folder: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(folder).expect("src/ is readable");
    for entry in entries.map(|entry| entry.expect("an entry").path()) {
        if entry.is_dir() {
            sources(&entry, found);
        } else if entry.extension().is_some_and(|ext| ext == "rs") {
            found.push(entry);
        }
    }
}

/// The module a file under `src/` holds, as `a::b`; `""` for the crate.
fn module_of(relative: &Path) -> String {
    let mut parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

/// The text of a file without its `#[cfg(test)]` modules and comments.
fn code_of(text: &str) -> String {
    let code = text.split("#[cfg(test)]\nmod ").next().unwrap_or_default();
    code.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path the code names from the crate's root or from its parent:
/// inline ones and `use` ones, braces unfolded one level deep.
fn paths_in(code: &str, module: &str) -> Vec<Vec<String>> {
    let parent: Vec<String> = module
        .split("::")
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect();
    let mut paths = Vec::new();
    let identifier = |c: char| c.is_ascii_alphanumeric() || c == '_';
    for (anchor, base) in [
        ("crate::", Vec::new()),
        ("super::", parent[..parent.len().saturating_sub(1)].to_vec()),
    ] {
        let mut rest = code;
        while let Some(at) = rest.find(anchor) {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + anchor.len()..];
            if before.is_some_and(identifier) {
                continue;
            }
            let mut path = base.clone();
            let mut tail = rest;
            loop {
                let name: String = tail.chars().take_while(|&c| identifier(c)).collect();
                if name.is_empty() {
                    break;
                }
                tail = &tail[name.len()..];
                path.push(name);
                match tail.strip_prefix("::") {
                    Some(more) => tail = more,
                    None => break,
                }
            }
            if let Some(inner) = tail.strip_prefix('{') {
                let inner = inner.split('}').next().unwrap_or_default();
                for item in inner.split(',') {
                    let mut branch = path.clone();
                    branch.extend(
                        item.trim()
                            .split("::")
                            .map(|name| name.trim().to_owned())
                            .filter(|name| !name.is_empty() && name != "self"),
                    );
                    paths.push(branch);
                }
            } else {
                paths.push(path);
            }
        }
    }
    paths
}

/// The deepest of `modules` that `path` names.
fn module_named(path: &[String], modules: &BTreeSet<String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|depth| path[..depth].join("::"))
        .find(|candidate| modules.contains(candidate))
}

/// Which modules each module's code uses.
fn uses() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let modules: BTreeSet<String> = files
        .iter()
        .map(|file| module_of(file.strip_prefix(&root).expect("under src/")))
        .collect();
    let mut uses = BTreeMap::new();
    for file in &files {
        let module = module_of(file.strip_prefix(&root).expect("under src/"));
        let code = code_of(&std::fs::read_to_string(file).expect("a source file"));
        let used: BTreeSet<String> = paths_in(&code, &module)
            .iter()
            .filter_map(|path| module_named(path, &modules))
            .filter(|used| *used != module && !used.is_empty())
            .collect();
        uses.insert(module, used);
    }
    uses
}

/// A loop through `from`, if there is one: the modules along it.
fn loop_through(from: &str, uses: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    let mut path = vec![from.to_owned()];
    let mut seen = BTreeSet::new();
    fn walk(
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
        uses: &BTreeMap<String, BTreeSet<String>>,
    ) -> bool {
        let here = path.last().expect("a start").clone();
        for next in uses.get(&here).into_iter().flatten() {
            if *next == path[0] {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(path, seen, uses) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    walk(&mut path, &mut seen, uses).then_some(path)
}

#[test]
fn no_module_reaches_back_to_itself() {
    let uses = uses();
    assert!(
        uses.get("serve::watch")
            .is_some_and(|used| used.contains("observe::history")),
        "the reading of paths found nothing: {uses:?}"
    );
    let loops: Vec<String> = uses
        .keys()
        .filter_map(|module| loop_through(module, &uses))
        .map(|modules| modules.join(" -> "))
        .collect();
    assert!(
        loops.is_empty(),
        "loops between modules:\n{}",
        loops.join("\n")
    );
}

#[test]
fn the_reading_sees_inline_paths_super_paths_and_braces() {
    let code = "use crate::a::{b::C, d};\nfn f() { crate::e::f(); super::g::h(); }";
    let paths = paths_in(code, "x::y");
    let shown: Vec<String> = paths.iter().map(|path| path.join("::")).collect();
    assert_eq!(shown, ["a::b::C", "a::d", "e::f", "x::g::h"]);
}

#[tokio::test]
async fn no_metric_name_is_written_outside_the_metrics_module() {
    use reqwest_connection_leak::observe::metrics::{Metrics, samples};
    let text = Metrics::new().render(0).expect("the metrics render");
    let names: BTreeSet<String> = samples(&text)
        .keys()
        .map(|sample| sample.split('{').next().unwrap_or_default().to_owned())
        .collect();
    assert!(names.contains("tokio_alive_tasks"), "{names:?}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    for file in files
        .iter()
        .filter(|file| !file.ends_with("observe/metrics.rs"))
    {
        let code = code_of(&std::fs::read_to_string(file).expect("a source file"));
        for name in &names {
            let bare = name.strip_suffix("_total").unwrap_or(name);
            for written in [format!("\"{name}"), format!("\"{bare}\"")] {
                assert!(
                    !code.contains(&written),
                    "{} writes the metric name {written}: read the counter, or the name's constant in observe/metrics.rs",
                    file.display()
                );
            }
        }
    }
}
