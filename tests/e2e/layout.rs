//! The house's floors: no module of `src/` reaches, through others, back to
//! itself, each of the crate's top modules uses only those `lib.rs` lists
//! above it, and what a scenario should show is decided in `scenario/`
//! alone. Every path in a `use` line or written inline counts, outside
//! comments, literals and items built only for tests ([`code_of`]): from the crate (`crate::a::b`), from
//! a parent (`super::c`), from the module itself (`self::d`), and from a
//! child module by its bare name (`sampler::Sampler` in `inspect`). A path
//! counts for the deepest module it names, so a module that re-exports its
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

/// The code of a file as the compiler builds it outside tests: comments
/// gone, string and character literals emptied (so that `"http://..."`
/// or `"crate::a"` is no code), and every item under a `cfg` that names
/// `test` (`cfg(test)`, `cfg(all(test, linux_view))`) gone whole.
fn code_of(text: &str) -> String {
    without_test_items(&lexed(text, false))
}

/// The same, string literals kept whole: what the code writes out.
fn code_and_strings_of(text: &str) -> String {
    without_test_items(&lexed(text, true))
}

/// `text` with comments removed and, unless `keep_literals`, literals'
/// contents removed, their quotes kept; lifetimes (`'a`) stay.
fn lexed(text: &str, keep_literals: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut code = String::with_capacity(text.len());
    let mut at = 0;
    let identifier = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let literal = |start: usize, end: usize, quotes: &'static str| -> String {
        match keep_literals {
            true => chars[start..end.min(chars.len())].iter().collect(),
            false => quotes.to_owned(),
        }
    };
    while at < chars.len() {
        let start = at;
        let rest = &chars[at..];
        let starts = |prefix: &str| rest.iter().take(prefix.len()).copied().eq(prefix.chars());
        let after_identifier = at > 0 && identifier(chars[at - 1]);
        if starts("//") {
            while at < chars.len() && chars[at] != '\n' {
                at += 1;
            }
        } else if starts("/*") {
            let mut depth = 0;
            loop {
                if at >= chars.len() {
                    break;
                } else if chars[at..].starts_with(&['/', '*']) {
                    depth += 1;
                    at += 2;
                } else if chars[at..].starts_with(&['*', '/']) {
                    depth -= 1;
                    at += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    at += 1;
                }
            }
        } else if !after_identifier
            && (starts("r\"") || starts("r#") || starts("br\"") || starts("br#"))
        {
            // A raw string: `r`, hashes, a quote, and back to a quote and
            // as many hashes.
            let mut hashes = 0;
            at += if chars[at] == 'b' { 2 } else { 1 };
            while at < chars.len() && chars[at] == '#' {
                hashes += 1;
                at += 1;
            }
            at += 1;
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            while at < chars.len() && !chars[at..].starts_with(&close) {
                at += 1;
            }
            at += close.len();
            code.push_str(&literal(start, at, "\"\""));
        } else if chars[at] == '"' {
            at += 1;
            while at < chars.len() && chars[at] != '"' {
                at += if chars[at] == '\\' { 2 } else { 1 };
            }
            at += 1;
            code.push_str(&literal(start, at, "\"\""));
        } else if chars[at] == '\'' && is_char_literal(rest) {
            at += 1;
            while at < chars.len() && chars[at] != '\'' {
                at += if chars[at] == '\\' { 2 } else { 1 };
            }
            at += 1;
            code.push_str(&literal(start, at, "''"));
        } else {
            code.push(chars[at]);
            at += 1;
        }
    }
    code
}

/// Whether the quote `rest` starts opens a character literal (`'x'`,
/// `'\n'`, `'\''`) rather than a lifetime (`'a`).
fn is_char_literal(rest: &[char]) -> bool {
    matches!(rest, ['\'', '\\', ..] | ['\'', _, '\'', ..])
}

/// `code` without the items under a `cfg` attribute that names `test`:
/// from the attribute to the item's `;` or its closing brace.
fn without_test_items(code: &str) -> String {
    let mut kept = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(") {
        kept.push_str(&rest[..at]);
        let attribute_end = rest[at..].find(']').map_or(rest.len(), |end| at + end + 1);
        let attribute = &rest[at..attribute_end];
        let names_test = attribute
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .any(|word| word == "test");
        if !names_test {
            kept.push_str(attribute);
            rest = &rest[attribute_end..];
            continue;
        }
        // The item: up to its first `;` or `{` at depth 0, and with a
        // brace, to the one that closes it.
        let item = &rest[attribute_end..];
        let mut depth = 0usize;
        let mut end = item.len();
        for (offset, c) in item.char_indices() {
            match c {
                ';' if depth == 0 => {
                    end = offset + 1;
                    break;
                }
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = offset + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &item[end..];
    }
    kept.push_str(rest);
    kept
}

/// Where a path that starts with `first` leads from `module`, whose child
/// modules are `children`: the crate's root, a parent, the module itself,
/// or one of its children; `None` for anything else (another crate, a
/// type, a local name).
fn anchored(first: &str, module: &[String], children: &BTreeSet<String>) -> Option<Vec<String>> {
    match first {
        "crate" => Some(Vec::new()),
        "super" => Some(module[..module.len().saturating_sub(1)].to_vec()),
        "self" => Some(module.to_vec()),
        child if children.contains(child) => {
            Some(module.iter().cloned().chain([child.to_owned()]).collect())
        }
        _ => None,
    }
}

/// Every path the code names from the crate's root, a parent, the module
/// itself or a child module (see [`anchored`]): inline ones and `use`
/// ones, braces unfolded one level deep.
fn paths_in(code: &str, module: &str, children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let module: Vec<String> = module
        .split("::")
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect();
    let identifier = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut paths = Vec::new();
    let mut from = 0;
    while let Some(found) = code[from..].find("::") {
        let at = from + found;
        from = at + 2;
        // The segment before this `::` starts a path when no `::` comes
        // right before it.
        let start = code[..at].trim_end_matches(identifier).len();
        let first = &code[start..at];
        if code[..start].ends_with("::") {
            continue;
        }
        let Some(mut path) = anchored(first, &module, children) else {
            continue;
        };
        let mut tail = &code[from..];
        loop {
            let name: String = tail.chars().take_while(|&c| identifier(c)).collect();
            if name.is_empty() {
                break;
            }
            tail = &tail[name.len()..];
            match name.as_str() {
                "super" => drop(path.pop()),
                _ => path.push(name),
            }
            match tail.strip_prefix("::") {
                Some(more) => tail = more,
                None => break,
            }
        }
        match tail.strip_prefix('{') {
            Some(inner) => {
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
                // The braces' paths are read: go on after them.
                from = code.len() - tail.len() + 1 + inner.len();
            }
            None => {
                paths.push(path);
                from = code.len() - tail.len();
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

/// The names of `module`'s child modules.
fn children_of(module: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let prefix = match module {
        "" => String::new(),
        module => format!("{module}::"),
    };
    modules
        .iter()
        .filter_map(|other| other.strip_prefix(&prefix))
        .filter(|child| !child.is_empty() && !child.contains("::"))
        .map(str::to_owned)
        .collect()
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
        let children = children_of(&module, &modules);
        let code = code_of(&std::fs::read_to_string(file).expect("a source file"));
        let used: BTreeSet<String> = paths_in(&code, &module, &children)
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
    let paths = paths_in(code, "x::y", &BTreeSet::new());
    let shown: Vec<String> = paths.iter().map(|path| path.join("::")).collect();
    assert_eq!(shown, ["a::b::C", "a::d", "e::f", "x::g::h"]);
}

#[test]
fn the_reading_sees_paths_from_the_module_itself_and_its_children() {
    let code = "use sampler::{Sampler, Seen};\nuse self::report::Row;\n\
                fn f() { std::mem::drop(verdict::Rule::default()); other::g(); a::sampler::h() }";
    let children = BTreeSet::from(["sampler".to_owned(), "verdict".to_owned()]);
    let paths = paths_in(code, "inspect", &children);
    let shown: Vec<String> = paths.iter().map(|path| path.join("::")).collect();
    assert_eq!(
        shown,
        [
            "inspect::sampler::Sampler",
            "inspect::sampler::Seen",
            "inspect::report::Row",
            "inspect::verdict::Rule::default"
        ]
    );
}

#[test]
fn a_planted_loop_is_found() {
    let uses = BTreeMap::from([
        (
            "inspect".to_owned(),
            BTreeSet::from(["inspect::sampler".to_owned()]),
        ),
        (
            "inspect::sampler".to_owned(),
            BTreeSet::from(["inspect".to_owned()]),
        ),
        ("serve".to_owned(), BTreeSet::from(["inspect".to_owned()])),
    ]);
    assert_eq!(
        loop_through("inspect", &uses),
        Some(vec![
            "inspect".to_owned(),
            "inspect::sampler".to_owned(),
            "inspect".to_owned()
        ])
    );
    assert_eq!(loop_through("serve", &uses), None);
}

/// The crate's top modules in the order `lib.rs` lists them.
fn floors() -> Vec<String> {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs");
    let text = std::fs::read_to_string(lib).expect("lib.rs");
    text.lines()
        .filter_map(|line| line.strip_prefix("pub mod ")?.strip_suffix(';'))
        .map(str::to_owned)
        .collect()
}

/// Each use of a module on a floor below its own, as `a uses b`.
fn below(uses: &BTreeMap<String, BTreeSet<String>>, floors: &[String]) -> Vec<String> {
    let floor = |module: &str| {
        let top = module.split("::").next().unwrap_or_default();
        floors.iter().position(|name| name == top)
    };
    let mut below = Vec::new();
    for (module, used) in uses {
        let Some(here) = floor(module) else {
            continue;
        };
        for other in used {
            if floor(other).is_some_and(|there| there > here) {
                below.push(format!("{module} uses {other}"));
            }
        }
    }
    below
}

#[test]
fn each_top_module_uses_only_those_lib_rs_lists_above_it() {
    let floors = floors();
    assert!(floors.len() > 5, "lib.rs lists {floors:?}");
    let mut uses = uses();
    let below_now = below(&uses, &floors);
    assert!(
        below_now.is_empty(),
        "modules using one lib.rs lists below them:\n{}",
        below_now.join("\n")
    );
    // Planted: settings, high up, reaching for the server below it.
    let planted = "fn f() { crate::serve::server::Server::build(); }";
    let used = paths_in(&code_of(planted), "settings::config", &BTreeSet::new());
    uses.entry("settings::config".to_owned())
        .or_default()
        .extend(used.iter().map(|path| path[..2].join("::")));
    assert_eq!(
        below(&uses, &floors),
        ["settings::config uses serve::server"]
    );
}

#[test]
fn strings_comments_and_test_items_are_no_code() {
    let text = r##"
        const URL: &str = "http://example/x"; fn f() { crate::a::b(); }
        const RAW: &str = r#"crate::c::d "quoted" // not a comment"#; fn g() { crate::e::f(); }
        // crate::g::h in a comment
        /* crate::i::j in a /* nested */ block */
        fn h(x: &'static str) -> char { let _ = x; '"' }
        fn k() { crate::k::l(); }
        #[cfg(all(test, linux_view))]
        mod tests { use crate::m::n; fn t() { crate::o::p(); } }
        #[cfg(test)]
        fn helper() { crate::q::r(); }
        #[cfg(linux_view)]
        fn linux() { crate::s::t(); }
        #[cfg_attr(test, allow(dead_code))]
        fn kept() { crate::u::v(); }
    "##;
    let paths = paths_in(&code_of(text), "", &BTreeSet::new());
    let shown: Vec<String> = paths.iter().map(|path| path.join("::")).collect();
    assert_eq!(shown, ["a::b", "e::f", "k::l", "s::t", "u::v"]);
}

/// Each place outside `scenario/` whose code names what a scenario
/// should show or what counts showed, variant by variant: a second rule.
fn second_rules(sources: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (module, code) in sources {
        if module == "scenario" || module.starts_with("scenario::") {
            continue;
        }
        for kind in ["Expectation::", "Verdict::"] {
            for (at, _) in code.match_indices(kind) {
                let before = code[..at].chars().next_back();
                if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                    continue;
                }
                let variant: String = code[at + kind.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                found.push(format!("{module}: {kind}{variant}"));
            }
        }
    }
    found
}

#[test]
fn what_a_scenario_should_show_is_decided_in_scenario_alone() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut code: Vec<(String, String)> = files
        .iter()
        .map(|file| {
            let module = module_of(file.strip_prefix(&root).expect("under src/"));
            let text = std::fs::read_to_string(file).expect("a source file");
            (module, code_of(&text))
        })
        .collect();
    assert_eq!(second_rules(&code), Vec::<String>::new());
    // Planted: the page turning one expectation into another.
    let planted = "let predicted = match amounts_to(&effective) { \
                   Expectation::ReclaimedAfterIdle if blind => Expectation::Leaks, p => p };";
    code.push(("serve::watch".to_owned(), code_of(planted)));
    assert_eq!(
        second_rules(&code),
        [
            "serve::watch: Expectation::ReclaimedAfterIdle",
            "serve::watch: Expectation::Leaks"
        ]
    );
}

#[tokio::test]
async fn no_metric_name_is_written_outside_the_metrics_module_and_the_page_names_none() {
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
        let code = code_and_strings_of(&std::fs::read_to_string(file).expect("a source file"));
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
    // The dashboard reads typed figures: its page names no metric at all.
    let page = root.join("serve/page");
    for entry in std::fs::read_dir(&page).expect("the page's folder") {
        let file = entry.expect("an entry").path();
        let text = std::fs::read_to_string(&file).expect("a page file");
        for name in &names {
            let bare = name.strip_suffix("_total").unwrap_or(name);
            assert!(
                !text.contains(bare),
                "{} names the metric {bare}: read the figure from /watch instead",
                file.display()
            );
        }
    }
}
