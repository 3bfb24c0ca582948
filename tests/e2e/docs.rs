//! The documents say what the program does: the README's fixes are the
//! registry's, its opening says the twist, and every relative link in the
//! README and the guides leads somewhere.

use std::path::{Path, PathBuf};

use reqwest_connection_leak::scenario::{ALL, Expectation};
use reqwest_connection_leak::settings::knobs::Side;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn the_readmes_fixes_are_the_registrys_one_line_each() {
    let readme = read(&root().join("README.md"));
    let section = readme
        .split_once("\n## The fixes\n")
        .and_then(|(_, rest)| rest.split("\n## ").next())
        .expect("a section The fixes");
    let listed: Vec<&str> = section
        .lines()
        .filter(|line| line.starts_with("- `"))
        .collect();
    let expected: Vec<String> = ALL
        .iter()
        .filter_map(|scenario| {
            let setting = scenario.setting?;
            let side = match setting.side() {
                Side::Server1 => "server 1",
                Side::Server2 => "server 2",
            };
            let expectation = match scenario.expectation() {
                Expectation::Leaks => "leaks",
                Expectation::Flat => "flat",
                Expectation::ReclaimedAfterIdle => "reclaimed after idle",
            };
            Some(format!(
                "- `{}`: `{}={}` on {side}, {expectation}. ",
                scenario.name,
                setting.knob.env(),
                setting.value
            ))
        })
        .collect();
    assert_eq!(listed.len(), expected.len(), "{listed:#?}");
    for (line, start) in listed.iter().zip(&expected) {
        assert!(
            line.starts_with(start.as_str()),
            "{line:?} should start {start:?}"
        );
    }
}

#[test]
fn the_readme_is_short_and_says_the_twist_first() {
    let readme = read(&root().join("README.md"));
    assert!(readme.len() <= 12 * 1024 + 512, "{} bytes", readme.len());
    let opening = &readme[..2000];
    assert!(opening.contains("a plain Rust port"), "{opening}");
    assert!(opening.contains("would not leak"), "{opening}");
    assert!(opening.contains("CLIENT_LIFETIME=connection"), "{opening}");
}

#[test]
fn every_relative_link_leads_somewhere() {
    let mut documents = vec![root().join("README.md"), root().join("CONTRIBUTING.md")];
    for entry in std::fs::read_dir(root().join("docs")).expect("docs/") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|ext| ext == "md") {
            documents.push(path);
        }
    }
    let mut checked = 0;
    for document in &documents {
        let text = read(document);
        for target in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let path: PathBuf = if file.is_empty() {
                document.clone()
            } else {
                document.parent().expect("a folder").join(file)
            };
            assert!(
                path.exists(),
                "{}: {target} leads nowhere",
                document.display()
            );
            if !anchor.is_empty() {
                let headings: Vec<String> = read(&path)
                    .lines()
                    .filter_map(|line| line.strip_prefix('#'))
                    .map(|heading| slug(heading.trim_start_matches('#')))
                    .collect();
                assert!(
                    headings.iter().any(|heading| heading == anchor),
                    "{}: no heading #{anchor} in {}",
                    document.display(),
                    path.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} links");
}

/// The targets of every `](target)` in `text`.
fn links(text: &str) -> Vec<String> {
    text.split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(target, _)| target.to_owned()))
        .collect()
}

/// A heading's anchor, as GitHub makes it: lower case, punctuation left
/// out, spaces as dashes.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}
