//! How a sample reads: a table for people, one JSON object for programs.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::io::IsTerminal;

use serde::Serialize;

use super::name::printable;
use super::peer::Direction;
use super::process_watch::Row;
use super::sampler::Coverage;
use super::verdict::RowVerdict;

/// One sample of every process watched.
#[derive(Debug, Serialize)]
pub(crate) struct Line<'a> {
    pub(crate) elapsed_seconds: f64,
    pub(crate) rows: &'a [Row],
    /// Processes that exited since the sample before.
    pub(crate) ended: &'a [i32],
    /// `--all`: what was watched, and what could not be.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) summary: Option<&'a Summary>,
}

/// `--all`: how many processes and connections a sample read, and how many
/// processes it could not, by reason.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Summary {
    pub(crate) processes: usize,
    pub(crate) connections: usize,
    pub(crate) unreadable: BTreeMap<String, usize>,
}

impl Summary {
    pub(crate) fn of(seen: &Coverage) -> Summary {
        Summary {
            processes: seen.processes,
            connections: seen.connections,
            unreadable: seen.unreadable.clone(),
        }
    }

    /// One line: what was watched, then what was not and what to do.
    pub(crate) fn line(&self) -> String {
        let mut line = format!(
            "watched {} processes and {} connections",
            self.processes, self.connections
        );
        let unread: usize = self.unreadable.values().sum();
        if unread > 0 {
            let reasons: Vec<String> = self
                .unreadable
                .iter()
                .map(|(why, count)| format!("{count} {why}"))
                .collect();
            let _ = write!(line, "; could not read {unread}: {}", reasons.join(", "));
        }
        line
    }
}

/// What the columns mean, and what the counts cannot see.
pub(crate) const LEGEND: &str = "\
IDLE: no data either way for --idle. ONCE: idle ones used once and left: answered,
  used in one stretch, never seen used again. SPREAD: from the first of them
  asked for to the last. BURST: the most asked for within 250 ms of each other.
OPENED, GONE, REUSED: seen since the watch began, a lower bound: a connection
  that opens and closes between two samples is never seen. /MIN: open
  connections gained per minute of the watch.
leaks: ONCE asked for one by one over a second or more (bursts set aside), at
  least --leak-count of them, or --leak-growth since the watch began; a `*`
  marks a leak found over the process's outbound peers together. pool: a
  bounded set, reused or idle after a burst. closing: more gone than open; they
  end after use. watching: not watched for --idle yet (all --once can say short
  of leaks). Streams, websockets or a scale-up opened one by one over seconds
  look like a leak to the kernel's counters: see the operators' guide.";

const HEADER: [&str; 15] = [
    "PID",
    "COMMAND",
    "DIR",
    "PEER",
    "OPEN",
    "IDLE",
    "ONCE",
    "SPREAD",
    "BURST",
    "OLDEST IDLE",
    "OPENED",
    "GONE",
    "REUSED",
    "/MIN",
    "VERDICT",
];

/// The rows as an aligned table, its header first.
pub(crate) fn table(rows: &[Row]) -> String {
    let cells: Vec<[String; 15]> = rows
        .iter()
        .map(|row| {
            [
                row.pid.to_string(),
                printable(&row.command),
                row.direction.word().to_owned(),
                row.peer.clone(),
                row.open.to_string(),
                row.idle.to_string(),
                row.idle_used_once.to_string(),
                format!("{:.1}s", row.used_once_spread_seconds),
                row.used_once_burst.to_string(),
                format!("{:.1}s", row.oldest_idle_seconds),
                row.opened.to_string(),
                row.gone.to_string(),
                row.reused.to_string(),
                format!("{:+.1}", row.change_per_minute),
                verdict_cell(row),
            ]
        })
        .collect();
    let mut widths = HEADER.map(str::len);
    for line in &cells {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header = HEADER.map(str::to_owned);
    for line in std::iter::once(&header).chain(&cells) {
        for (column, (cell, width)) in line.iter().zip(widths).enumerate() {
            // Names to the left, numbers to the right, the verdict last.
            let gap = if column == 0 { "" } else { "  " };
            match column {
                1..=3 | 14 => write!(text, "{gap}{cell:<width$}"),
                _ => write!(text, "{gap}{cell:>width$}"),
            }
            .expect("writing to a String");
        }
        let trimmed = text.trim_end().len();
        text.truncate(trimmed);
        text.push('\n');
    }
    if rows.is_empty() {
        text.push_str("(no TCP connections)\n");
    }
    for row in rows.iter().filter(|row| row.unread.is_some()) {
        let why = row.unread.as_deref().unwrap_or_default();
        let _ = writeln!(
            text,
            "{} {}: not read at this sample ({why}); its last reading",
            row.pid, row.peer
        );
    }
    for (row, host) in rows.iter().filter_map(one_caller_leaking) {
        let _ = writeln!(
            text,
            "{} in {}: the connections of one address. Many clients behind a proxy or a NAT \
             there, each keeping one, look the same: to tell, watch the callers at {host} \
             (inspect --all on that host).",
            row.pid, row.peer
        );
    }
    text
}

/// An inbound row reading `leaks` whose connections all came from one
/// address, and that address: what else it could be is said under the
/// table. (A folded row, from `*`, has no one address.)
fn one_caller_leaking(row: &Row) -> Option<(&Row, &str)> {
    let (_, host) = row.peer.rsplit_once(" from ")?;
    let one_caller =
        row.direction == Direction::In && row.verdict == RowVerdict::Leaks && host != "*";
    one_caller.then_some((row, host))
}

/// The verdict, `*` when found over the process's outbound peers together,
/// and whether the process has exited or could not be read now.
fn verdict_cell(row: &Row) -> String {
    let mut cell = row.verdict.word().to_owned();
    if row.across_peers {
        cell.push('*');
    }
    if row.ended {
        cell.push_str(" (exited)");
    } else if row.unread.is_some() {
        cell.push_str(" (unread)");
    }
    cell
}

/// `--all`'s rows: those with open connections, leaking ones first.
fn open_rows(rows: &[Row]) -> Vec<Row> {
    let mut open: Vec<Row> = rows.iter().filter(|row| row.open > 0).cloned().collect();
    open.sort_by_key(|row| row.verdict != RowVerdict::Leaks);
    open
}

/// Where the samples go, and so how they read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One JSON object a sample, a line each.
    Json,
    /// A terminal: the table redrawn in place.
    Live,
    /// Piped: each sample's table after a line with its time.
    Lines,
    /// Piped, with an end in sight (`--once`, `--for`): the final table.
    FinalTable,
}

/// How samples are written: the mode, and whether every process is
/// watched (`--all`), whose rows are only those with open connections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Report {
    mode: Mode,
    all: bool,
}

impl Report {
    pub(crate) fn for_args(json: bool, ends: bool, all: bool) -> Report {
        let mode = match (json, std::io::stdout().is_terminal(), ends) {
            (true, _, _) => Mode::Json,
            (false, true, _) => Mode::Live,
            (false, false, false) => Mode::Lines,
            (false, false, true) => Mode::FinalTable,
        };
        Report { mode, all }
    }

    /// The table of `rows`, with `--all`'s summary under it.
    fn table(self, rows: &[Row], summary: Option<&Summary>) -> String {
        let mut text = if self.all {
            table(&open_rows(rows))
        } else {
            table(rows)
        };
        if let Some(summary) = summary {
            text.push_str(&summary.line());
            text.push('\n');
        }
        text
    }

    /// What to write for one sample; `ended_lines` are every line that
    /// ended a process's rows so far.
    pub(crate) fn sample(self, sample: &Line, ended_lines: &[String]) -> String {
        let just_ended: String = sample
            .ended
            .iter()
            .map(|pid| ended_line(*pid) + "\n")
            .collect();
        match self.mode {
            Mode::Json => serde_json::to_string(sample).expect("a sample is JSON") + "\n",
            Mode::Live => format!(
                "\x1b[H\x1b[2Jinspect: watched for {:.1} s\n\n{}{}\n{LEGEND}\n",
                sample.elapsed_seconds,
                self.table(sample.rows, sample.summary),
                ended_lines
                    .iter()
                    .map(|line| format!("{line}\n"))
                    .collect::<String>(),
            ),
            Mode::Lines => format!(
                "# after {:.1} s\n{}{just_ended}",
                sample.elapsed_seconds,
                self.table(sample.rows, sample.summary)
            ),
            Mode::FinalTable => just_ended,
        }
    }

    /// What to write once the watch is over, after its last sample: every
    /// process's last rows, those that exited marked so.
    pub(crate) fn end(self, rows: &[Row], summary: Option<&Summary>) -> String {
        match self.mode {
            Mode::FinalTable => format!("{}\n{LEGEND}\n", self.table(rows, summary)),
            _ => String::new(),
        }
    }
}

/// The line that ends a process's rows.
pub(crate) fn ended_line(pid: i32) -> String {
    format!("PID {pid} exited; its rows end here")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::process_watch::tests::leaking_row;

    #[test]
    fn the_table_aligns_its_columns_under_the_header() {
        let row = leaking_row();
        let text = table(&[row]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with(" PID  COMMAND  DIR  PEER"), "{text}");
        assert!(lines[1].ends_with("+0.0  leaks"), "{text}");
        assert_eq!(lines[0].find("VERDICT"), lines[1].find("leaks"));
        assert_eq!(
            lines[0].find("OPEN").map(|at| at + 4),
            lines[1].find(" 400").map(|at| at + 4)
        );
    }

    #[test]
    fn an_inbound_leak_from_one_address_says_what_else_it_could_be_and_how_to_tell() {
        let inbound = Row {
            direction: Direction::In,
            peer: ":8080 from 10.0.0.7".into(),
            ..leaking_row()
        };
        let text = table(std::slice::from_ref(&inbound));
        let note = text.lines().nth(2).expect("a line under the table");
        assert!(note.starts_with("4242 in :8080 from 10.0.0.7: "), "{text}");
        assert!(note.contains("proxy or a NAT"), "{text}");
        assert!(note.contains("watch the callers at 10.0.0.7"), "{text}");
        for quiet in [
            Row {
                verdict: RowVerdict::Pool,
                ..inbound.clone()
            },
            Row {
                peer: ":8080 from *".into(),
                ..inbound.clone()
            },
            leaking_row(),
        ] {
            assert_eq!(table(&[quiet]).lines().count(), 2, "no line under it");
        }
    }
}
