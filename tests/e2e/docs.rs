//! The documents say what the program does: the README's fixes are the
//! registry's, its opening says the twist, and every relative link in the
//! README and the guides leads somewhere.

use std::path::{Path, PathBuf};

use reqwest_connection_leak::scenario::ALL;
use reqwest_connection_leak::settings::knobs::{Knob, Side};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn the_readmes_fixes_are_the_registrys_one_line_each() {
    let readme = read(&root().join("README.md"));
    let section = between(&readme, "\n## The fixes\n", "\n## ");
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
            let expectation = scenario.expectation();
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

/// The part of `text` after the first `start`, up to the next `end` or
/// the end; the test fails where `text` has no `start`.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let (_, rest) = text
        .split_once(start)
        .unwrap_or_else(|| panic!("no {start:?}"));
    rest.split(end).next().unwrap_or_default()
}

/// The table rows of `text`'s section headed `heading`, up to the next
/// heading of level 2 or 3.
fn rows_under<'a>(text: &'a str, heading: &str) -> Vec<&'a str> {
    let section = text
        .split_once(&format!("\n{heading}\n"))
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("no section {heading:?}"));
    let end = ["\n## ", "\n### "]
        .iter()
        .filter_map(|next| section.find(next))
        .min()
        .unwrap_or(section.len());
    section[..end]
        .lines()
        .filter(|line| line.starts_with("| `"))
        .collect()
}

/// The first ```` ```text ```` block of `text`'s section headed `heading`:
/// a table as a script prints it.
fn text_block_under<'a>(text: &'a str, heading: &str) -> &'a str {
    text.split_once(&format!("\n{heading}\n"))
        .and_then(|(_, rest)| rest.split_once("```text\n"))
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map(|(table, _)| table)
        .unwrap_or_else(|| panic!("no text block under {heading:?}"))
}

#[test]
fn the_readmes_settings_table_has_every_setting_and_each_knobs_default() {
    let readme = read(&root().join("README.md"));
    let rows = rows_under(&readme, "## Settings");
    let command = <reqwest_connection_leak::cli::Cli as clap::CommandFactory>::command();
    for argument in command.get_arguments() {
        let Some(env) = argument.get_env() else {
            continue;
        };
        let start = format!("| `{}` |", env.to_string_lossy());
        assert!(
            rows.iter().any(|row| row.starts_with(&start)),
            "no row {start}"
        );
    }
    for &knob in Knob::ALL {
        let start = format!("| `{}` | `{}`", knob.env(), knob.default_value());
        assert!(
            rows.iter().any(|row| row.starts_with(&start)),
            "no row {start}"
        );
    }
}

#[test]
fn the_guides_knob_table_has_every_knob_and_its_go_field_in_order() {
    let guide = read(&root().join("docs/how-the-port-models-go.md"));
    let rows = rows_under(&guide, "## Each knob against Go's");
    let expected: Vec<String> = Knob::ALL
        .iter()
        .map(|knob| format!("| `{}` | `{}` |", knob.env(), knob.go()))
        .collect();
    assert_eq!(rows.len(), expected.len(), "{rows:#?}");
    for (row, start) in rows.iter().zip(&expected) {
        assert!(
            row.starts_with(start.as_str()),
            "{row:?} should start {start:?}"
        );
    }
}

#[test]
fn the_operators_table_of_what_a_switch_acts_on_has_every_knob_in_order() {
    let guide = read(&root().join("docs/operators.md"));
    let rows = rows_under(&guide, "### What a switch of each knob acts on");
    let expected: Vec<String> = Knob::ALL
        .iter()
        .map(|knob| format!("| `{}` | ", knob.env()))
        .collect();
    assert_eq!(rows.len(), expected.len(), "{rows:#?}");
    for (row, start) in rows.iter().zip(&expected) {
        assert!(
            row.starts_with(start.as_str()) && row.len() > start.len() + 10,
            "{row:?} should start {start:?} and say what a switch acts on"
        );
    }
}

#[test]
fn the_operators_switches_table_has_every_entry_that_sets_something() {
    let guide = read(&root().join("docs/operators.md"));
    let table = text_block_under(&guide, "## Switching a fix on a running pair");
    let rows: Vec<&str> = table.lines().skip(1).collect();
    let entries: Vec<String> = ALL
        .iter()
        .filter(|scenario| scenario.setting.is_some())
        .map(|scenario| scenario.label())
        .collect();
    assert_eq!(rows.len(), entries.len(), "{table}");
    for (row, label) in rows.iter().zip(&entries) {
        assert!(row.starts_with(&format!("{label} ")), "{row:?}: {label}");
    }
}

#[test]
fn the_readmes_demo_table_has_every_entry_with_its_verdict() {
    let readme = read(&root().join("README.md"));
    let table = text_block_under(&readme, "## One command");
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), ALL.len(), "{table}");
    for (row, scenario) in rows.iter().zip(ALL) {
        assert!(
            row.starts_with(&scenario.label()),
            "{row:?}: {}",
            scenario.label()
        );
        let verdict = scenario.expectation().to_string();
        assert!(row.trim_end().ends_with(&verdict), "{row:?}: {verdict}");
    }
}

#[test]
fn the_guides_table_of_what_inspect_was_tried_on_is_every_case_as_its_test_asserts() {
    let guide = read(&root().join("docs/operators.md"));
    let section = between(&guide, "\n### What it was tried on\n", "\n### ");
    let cases = read(&root().join("tests/e2e/inspect_cases.rs"));
    let tests: Vec<(&str, &str)> = cases
        .split("#[test]\nfn ")
        .skip(1)
        .filter_map(|test| test.split_once('('))
        .collect();
    let rows: Vec<Vec<&str>> = section
        .lines()
        .filter(|line| line.starts_with("| ") && !line.starts_with("| case "))
        .map(|line| line.split('|').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), tests.len(), "one row per test: {rows:#?}");
    for row in rows {
        let (reads, late, name) = (row[3], row[5], row[6].trim_matches('`'));
        let (_, body) = tests
            .iter()
            .find(|(test, _)| *test == name)
            .unwrap_or_else(|| panic!("no test {name} in inspect_cases.rs"));
        for verdict in reads.split('`').skip(1).step_by(2) {
            let asserted = match verdict {
                "pool" => body.contains(".healthy("),
                _ => body.contains(".leaks(") || body.contains(&format!("\"{verdict}\"")),
            };
            assert!(asserted, "{name} does not assert {verdict}");
        }
        // Watched late: a leak that a test asserts, or never a leak.
        let late_asserted = match late.contains("`leaks`") {
            true => body.contains(".leaks("),
            false => late.starts_with('(') || body.contains(".healthy("),
        };
        assert!(late_asserted, "{name} does not assert {late} watched late");
    }
}

#[test]
fn the_recipe_names_every_word_of_a_knobs_row() {
    // The row's words, from the macro's pattern: `env $env:literal, ...`.
    let knobs = read(&root().join("src/settings/knobs.rs"));
    let pattern = between(&knobs, "macro_rules! knobs {", ")*) => {");
    let words: Vec<&str> = pattern
        .split_whitespace()
        .filter(|word| word.chars().all(|c| c.is_ascii_lowercase()))
        .filter(|word| !["as", "doc"].contains(word))
        .collect();
    assert!(words.contains(&"switched"), "{words:?}");
    let contributing = read(&root().join("CONTRIBUTING.md"));
    let step = between(&contributing, "1. **The knob**", "2. **");
    for word in words {
        assert!(
            step.contains(&format!("`{word}`")) || step.contains(&format!("`{word} ")),
            "CONTRIBUTING's first step does not name `{word}`"
        );
    }
}
