//! The demo's comparison table, one row per scenario: a verdict other than
//! the one its entry promises says which it expected, and a scenario that
//! could not be recorded has a row that says so.

use crate::demo::record::{Failed, Run};
use crate::scenario::verdict::{Expectation, Verdict};

/// The table as text, columns aligned.
pub(crate) fn render(runs: &[Run], failed: &[Failed], requests: usize) -> String {
    let header = [
        "scenario".to_owned(),
        format!("after {requests} (s2 / s1)"),
        "after idle (s2 / s1)".to_owned(),
        "tasks per request (s2 / s1)".to_owned(),
        "s1 open connections (after / idle)".to_owned(),
        "verdict".to_owned(),
    ];
    let rows: Vec<[String; 6]> = runs
        .iter()
        .map(
            |Run {
                 scenario,
                 recording,
                 server1_connections,
                 ..
             }| {
                let last = recording.per_request.last().copied().unwrap_or_default();
                let (slope2, slope1) = recording.slope();
                [
                    scenario.label(),
                    format!("{} / {}", last.server2, last.server1),
                    format!(
                        "{} / {}",
                        recording.after_idle.server2, recording.after_idle.server1
                    ),
                    format!("{slope2:.2} / {slope1:.2}"),
                    format!(
                        "{} / {}",
                        server1_connections.after_requests, server1_connections.after_idle
                    ),
                    verdict_cell(scenario.expectation(), recording.verdict()),
                ]
            },
        )
        .chain(failed.iter().map(|Failed { scenario, .. }| {
            let none = || "-".to_owned();
            [
                scenario.label(),
                none(),
                none(),
                none(),
                none(),
                "failed (why: below)".to_owned(),
            ]
        }))
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            std::iter::once(&header)
                .chain(&rows)
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    std::iter::once(&header)
        .chain(&rows)
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            cells.join("  ").trim_end().to_owned() + "\n"
        })
        .collect()
}

/// The verdict, and the one expected where they differ.
fn verdict_cell(expected: Expectation, verdict: Verdict) -> String {
    if expected.met_by(verdict) {
        verdict.to_string()
    } else {
        format!("{verdict} (expected {expected})")
    }
}
