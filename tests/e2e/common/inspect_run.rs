//! `inspect --json` on a test's processes, run to its end or read as it
//! samples, and what a test asserts of its samples.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{BINARY, first_line};

/// Long enough for a busy 2-core machine to take the samples a test waits
/// for.
const PATIENCE: Duration = Duration::from_secs(60);

/// A finished `inspect --json --for`: its exit status and every sample.
pub struct Watch {
    pub status: Option<i32>,
    pub samples: Vec<Value>,
}

/// Runs `inspect` by `command` with `args` to its end: (exit status,
/// standard error).
pub fn inspect_to_end(command: &mut Command, args: &[&str]) -> (Option<i32>, String) {
    let output = command
        .arg("inspect")
        .args(args)
        .output()
        .expect("run inspect");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `inspect --json --for WATCH_FOR` with `flags` on `pids`, to its end.
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
    /// The rows of `pid` in `sample`.
    pub fn rows(sample: &Value, pid: u32) -> impl Iterator<Item = &Value> {
        sample["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(move |row| row["pid"] == pid)
    }

    /// The last sample.
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
        // The most used once on a row, and its largest burst: how near a
        // healthy shape came to a staircase.
        let (once, burst) = self
            .samples
            .iter()
            .flat_map(|sample| pids.iter().flat_map(|pid| Self::rows(sample, *pid)))
            .map(|row| {
                (
                    row["idle_used_once"].as_u64(),
                    row["used_once_burst"].as_u64(),
                )
            })
            .max()
            .unwrap_or_default();
        eprintln!(
            "matrix: {case}: never leaks; at the end: {}; most used once {} (burst {})",
            words.join(", "),
            once.unwrap_or(0),
            burst.unwrap_or(0),
        );
    }
}

/// Where an `inspect --metrics` just started serves, from the first line
/// of its standard error (piped).
pub fn serving_at(inspect: &mut Child) -> String {
    let line = first_line(inspect.stderr.take().expect("its log"));
    line.strip_prefix("inspect: serving /metrics on ")
        .unwrap_or_else(|| panic!("inspect said {line:?}"))
        .to_owned()
}

/// `inspect --json` started by `command` with `args`, its samples read as
/// they come, killed when dropped; with `--metrics`, where it serves.
pub struct Running {
    child: Child,
    samples: Receiver<Value>,
    /// Where it serves `/metrics`, with `--metrics`.
    pub metrics: Option<String>,
}

impl Running {
    pub fn start(mut command: Command, args: &[&str]) -> Running {
        let metrics = args.contains(&"--metrics");
        let mut child = command
            .args(["inspect", "--json"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(if metrics {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .expect("start inspect");
        let metrics = metrics.then(|| serving_at(&mut child));
        let stdout = child.stdout.take().expect("its output");
        let (sender, samples) = std::sync::mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let sample: Value = serde_json::from_str(&line).expect("a JSON sample");
                if sender.send(sample).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            samples,
            metrics,
        }
    }

    /// Reads samples until one meets `condition`; every sample read is
    /// also given to `each`, which may fail the test.
    pub fn until_each(
        &self,
        what: &str,
        mut each: impl FnMut(&Value),
        condition: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + PATIENCE;
        let mut last = Value::Null;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.samples.recv_timeout(left) {
                Ok(sample) => {
                    each(&sample);
                    if condition(&sample) {
                        return sample;
                    }
                    last = sample;
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("not seen in {PATIENCE:?}: {what}; the last sample: {last}")
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("inspect ended before {what}; the last sample: {last}")
                }
            }
        }
    }

    /// Reads samples until one meets `condition`.
    pub fn until(&self, what: &str, condition: impl Fn(&Value) -> bool) -> Value {
        self.until_each(what, |_| {}, condition)
    }

    /// `/metrics`, whole.
    pub fn scrape(&self) -> String {
        let address = self.metrics.as_deref().expect("serving /metrics");
        let mut stream = TcpStream::connect(address).expect("connect to /metrics");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: inspect\r\nConnection: close\r\n\r\n")
            .expect("ask");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read");
        answer
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
