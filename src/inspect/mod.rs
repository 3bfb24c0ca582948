//! `inspect PID [PID...]` and `inspect --all`: the leak found from
//! outside in any running process, whatever its language, with no change
//! to it.
//!
//! Each sample (`sampler.rs`) lists the TCP sockets each process's
//! descriptors hold (`target.rs`, from `/proc`), finds them in one dump of
//! the kernel's sockets per network namespace with what each connection
//! has carried (`socket_dump.rs`, `tcp_info.rs`), groups them by peer
//! (`peer.rs`), and keeps what the watch saw between samples (`watch.rs`)
//! for the rule that names what each row is doing (`verdict.rs`); past a
//! hundred peers a process's rows fold (`fold.rs`). The rows are printed
//! (`report.rs`) and, with `--metrics`, served on `/metrics`
//! (`exporter.rs`); why it stops short is `error.rs`.
//!
//! Linux only: the kernel's socket diagnostics and `/proc` are its view.

mod error;
#[cfg(target_os = "linux")]
mod exporter;
#[cfg(target_os = "linux")]
mod fold;
#[cfg(target_os = "linux")]
mod peer;
#[cfg(target_os = "linux")]
mod report;
#[cfg(target_os = "linux")]
mod sampler;
#[cfg(target_os = "linux")]
mod socket_dump;
#[cfg(target_os = "linux")]
mod target;
#[cfg(target_os = "linux")]
mod tcp_info;
#[cfg(target_os = "linux")]
mod verdict;
#[cfg(target_os = "linux")]
mod watch;

use crate::cli::InspectArgs;
pub use error::InspectError;

/// Watches the processes as `args` say; returns whether any row's final
/// verdict was `leaks`.
#[cfg(not(target_os = "linux"))]
pub async fn run(_args: &InspectArgs) -> Result<bool, InspectError> {
    Err(InspectError::NotLinux)
}

/// Watches the processes as `args` say; returns whether any row's final
/// verdict was `leaks`.
#[cfg(target_os = "linux")]
pub async fn run(args: &InspectArgs) -> Result<bool, InspectError> {
    use std::io::Write;
    use std::sync::PoisonError;

    use report::{Report, Sample, Summary};
    use sampler::Sampler;
    use verdict::{Rule, Verdict};

    // Every connection watched, and the exporter's, needs a descriptor.
    crate::observe::process::raise_descriptor_limit();
    let rule = Rule {
        standing: args.leak_count as usize,
        growth: args.leak_growth as usize,
        idle_after: args.idle,
    };
    let mut sampler = if args.all {
        Sampler::all(rule, args.forget)?
    } else {
        Sampler::open(&args.pids, rule, args.forget)?
    };
    let latest = exporter::Latest::default();
    if let Some(address) = &args.metrics {
        exporter::start(address, latest.clone())?;
    }
    let report = Report::for_args(args.json, args.once || args.watch_for.is_some(), args.all);
    let mut stdout = std::io::stdout().lock();
    let mut ended_lines: Vec<String> = Vec::new();
    let mut clock = Clock::start(args.interval, args.watch_for);
    let summary = loop {
        let watched = clock.tick().await;
        let seen = sampler.sample(watched)?;
        *latest.lock().unwrap_or_else(PoisonError::into_inner) = seen.rows.clone();
        ended_lines.extend(seen.ended.iter().map(|pid| report::ended_line(*pid)));
        let summary = args.all.then(|| Summary::of(&seen));
        let sample = Sample {
            elapsed_seconds: watched.as_secs_f64(),
            rows: &seen.rows,
            ended: &seen.ended,
            summary: summary.as_ref(),
        };
        let text = report.sample(&sample, &ended_lines);
        // A reader that went away (`| head`) ends the watch.
        let reader_gone = stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .is_err();
        if reader_gone || args.once || clock.is_over() || !sampler.is_watching() {
            break summary;
        }
    };
    let last: Vec<watch::Row> = sampler.last_rows().values().flatten().cloned().collect();
    let _ = stdout.write_all(report.end(&last, summary.as_ref()).as_bytes());
    Ok(last.iter().any(|row| row.verdict == Verdict::Leaks))
}

/// The samples' clock: every `--interval`, and once more at the end of
/// `--for`, however long the interval.
#[cfg(target_os = "linux")]
struct Clock {
    started: std::time::Instant,
    ticker: tokio::time::Interval,
    deadline: Option<tokio::time::Instant>,
}

#[cfg(target_os = "linux")]
impl Clock {
    fn start(interval: std::time::Duration, watch_for: Option<std::time::Duration>) -> Clock {
        let started = std::time::Instant::now();
        Clock {
            started,
            ticker: tokio::time::interval(interval),
            deadline: watch_for.map(|limit| tokio::time::Instant::from_std(started + limit)),
        }
    }

    /// Waits for the next sample's time; returns how long the watch has
    /// lasted.
    async fn tick(&mut self) -> std::time::Duration {
        match self.deadline {
            Some(deadline) => {
                tokio::select! {
                    _ = self.ticker.tick() => {}
                    () = tokio::time::sleep_until(deadline) => {}
                }
            }
            None => {
                self.ticker.tick().await;
            }
        }
        self.started.elapsed()
    }

    fn is_over(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| tokio::time::Instant::now() >= deadline)
    }
}
