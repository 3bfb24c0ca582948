//! `inspect --json` run to its end on a test's processes, and what a test
//! asserts of its samples.

use std::process::{Command, Stdio};

use serde_json::Value;

use super::BINARY;

/// A finished `inspect --json --for`: its exit status and every sample.
pub struct Watch {
    pub status: Option<i32>,
    pub samples: Vec<Value>,
}

pub fn watch(pids: &[u32], watch_for: &str, flags: &[&str]) -> Watch {
    run_inspect(pids, &[&["--for", watch_for], flags].concat())
}

/// `inspect --json` with `flags` on `pids`, to its end.
pub fn run_inspect(pids: &[u32], flags: &[&str]) -> Watch {
    let output = Command::new(BINARY)
        .args(["inspect", "--json"])
        .args(flags)
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::inherit())
        .output()
        .expect("run inspect");
    let samples = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
        .collect();
    Watch {
        status: output.status.code(),
        samples,
    }
}

impl Watch {
    pub fn rows(sample: &Value, pid: u32) -> impl Iterator<Item = &Value> {
        sample["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(move |row| row["pid"] == pid)
    }

    pub fn last(&self) -> &Value {
        self.samples.last().expect("at least one sample")
    }

    /// The first sample's time from which every later sample reads
    /// `verdict` on `pid`'s rows matching `which`, for the guide's table.
    pub fn settled(&self, pid: u32, which: &dyn Fn(&Value) -> bool, verdict: &str) -> f64 {
        let holds = |sample: &Value| {
            let mut rows = Self::rows(sample, pid).filter(|row| which(row)).peekable();
            rows.peek().is_some() && rows.all(|row| row["verdict"] == verdict)
        };
        let from = self.samples.iter().rposition(|sample| !holds(sample));
        let at = from.map_or(0, |index| index + 1);
        self.samples
            .get(at)
            .and_then(|sample| sample["elapsed_seconds"].as_f64())
            .unwrap_or(f64::NAN)
    }

    /// Asserts that the watch ended in `leaks` (exit 1) on each of `rows`:
    /// (PID, direction), every row of that direction; prints when.
    pub fn leaks(&self, case: &str, rows: &[(u32, &str)]) {
        assert_eq!(self.status, Some(1), "{case}: {}", self.last());
        for (pid, direction) in rows {
            let which = |row: &Value| row["direction"] == *direction;
            let last: Vec<&Value> = Self::rows(self.last(), *pid).filter(|r| which(r)).collect();
            assert!(
                !last.is_empty(),
                "{case}: no {direction} row of {pid}: {}",
                self.last()
            );
            for row in last {
                assert_eq!(row["verdict"], "leaks", "{case}: {row}");
            }
            let at = self.settled(*pid, &which, "leaks");
            eprintln!("matrix: {case}: {direction} leaks from {at:.2} s");
        }
    }

    /// Asserts that no sample read `leaks` on `pids` and the watch exited
    /// 0; prints the verdicts of the last sample.
    pub fn healthy(&self, case: &str, pids: &[u32]) {
        for sample in &self.samples {
            for pid in pids {
                for row in Self::rows(sample, *pid) {
                    assert_ne!(row["verdict"], "leaks", "{case}: {row}");
                }
            }
        }
        assert_eq!(self.status, Some(0), "{case}: {}", self.last());
        let mut words: Vec<String> = pids
            .iter()
            .flat_map(|pid| Self::rows(self.last(), *pid))
            .map(|row| format!("{} {}", row["direction"], row["verdict"]))
            .collect();
        words.sort();
        words.dedup();
        eprintln!(
            "matrix: {case}: never leaks; at the end: {}",
            words.join(", ")
        );
    }
}
