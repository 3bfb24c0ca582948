//! `inspect PID [PID...]` and `inspect --all`: the leak found from
//! outside in any running process, whatever its language, with no change
//! to it.
//!
//! Each sample (`sampler.rs`) lists the TCP sockets each process's
//! descriptors hold (`target.rs`, from `/proc`, the process's namespace
//! and name read again each time), finds them in one dump of the kernel's
//! sockets per network namespace with what each connection has carried
//! (`socket_dump.rs`, `tcp_info.rs`), groups them by peer, inbound where
//! the namespace listens (`peer.rs`), and keeps what the watch saw
//! between samples (`process_watch.rs`) for the rule that names what each
//! row is doing (`verdict.rs`); past a hundred peers a process's rows
//! fold (`fold.rs`). The rows are written to standard output by a thread
//! of their own (`output.rs`), as a table whose names are safe to show
//! (`name.rs`) or as JSON (`report.rs`), and, with `--metrics`, served on
//! `/metrics` (`exporter.rs`); `--chart` draws the leaking rows'
//! connections (`chart.rs`); why it stops short is `error.rs`; what it
//! takes on the command line is `args`.
//!
//! Linux only: the kernel's socket diagnostics and `/proc` are its view.

pub(crate) mod args;
#[cfg(linux_view)]
mod chart;
mod error;
#[cfg(linux_view)]
mod exporter;
#[cfg(linux_view)]
mod fold;
#[cfg(linux_view)]
mod name;
#[cfg(linux_view)]
mod output;
#[cfg(linux_view)]
mod peer;
#[cfg(linux_view)]
mod process_watch;
#[cfg(linux_view)]
mod report;
#[cfg(linux_view)]
mod sampler;
#[cfg(linux_view)]
mod socket_dump;
#[cfg(linux_view)]
mod target;
#[cfg(linux_view)]
mod tcp_info;
#[cfg(linux_view)]
mod verdict;

use args::InspectArgs;
pub(crate) use error::InspectError;

/// What a watch found at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A row's final verdict was `leaks`.
    Leak,
    /// No row's was.
    NoLeak,
}

/// Watches the processes as `args` say, and says whether a row leaks at
/// the end; elsewhere than on Linux, says that it cannot.
pub async fn run(args: &InspectArgs) -> Result<Found, InspectError> {
    #[cfg(linux_view)]
    {
        watch(args).await
    }
    #[cfg(not(linux_view))]
    {
        let _ = args;
        Err(InspectError::NotLinux)
    }
}

/// The watch itself, on Linux.
#[cfg(linux_view)]
async fn watch(args: &InspectArgs) -> Result<Found, InspectError> {
    use report::Report;
    use sampler::Sampler;
    use verdict::{RowVerdict, Rule};

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
    // A chart that cannot be written fails now, not after the watch.
    let chart_failed = |path: &std::path::Path, source| InspectError::Chart {
        path: path.display().to_string(),
        source,
    };
    if let Some(path) = &args.chart {
        std::fs::File::create(path).map_err(|err| chart_failed(path, err))?;
    }
    let latest = exporter::Latest::default();
    if let Some(address) = &args.metrics {
        exporter::start(address, latest.clone())?;
    }
    let report = Report::for_args(args.json, args.once || args.watch_for.is_some(), args.all);
    let mut output = output::Output::start().map_err(InspectError::Output)?;
    let (summary, watched) =
        sample_until_over(args, &mut sampler, &latest, &report, &mut output).await?;
    if let Some(path) = &args.chart {
        let watched_ms = watched.as_millis() as i64;
        chart::draw(path, &sampler.charted(), watched_ms).map_err(|err| chart_failed(path, err))?;
    }
    let last: Vec<process_watch::Row> = sampler.last_rows().values().flatten().cloned().collect();
    if !args.quiet {
        output.finish(report.end(&last, summary.as_ref()));
    }
    Ok(
        match last.iter().any(|row| row.verdict == RowVerdict::Leaks) {
            true => Found::Leak,
            false => Found::NoLeak,
        },
    )
}

/// Samples every `--interval` and hands each to `output`, until the watch
/// is over: `--once`, the end of `--for`, every process gone, or the
/// reader gone. Returns the last sample's summary (with `--all`) and how
/// long the watch had lasted at it.
#[cfg(linux_view)]
async fn sample_until_over(
    args: &InspectArgs,
    sampler: &mut sampler::Sampler,
    latest: &exporter::Latest,
    report: &report::Report,
    output: &mut output::Output,
) -> Result<(Option<report::Summary>, std::time::Duration), InspectError> {
    use std::sync::PoisonError;

    let mut ended_lines: Vec<String> = Vec::new();
    let mut clock = Clock::start(args.interval, args.watch_for);
    loop {
        let watched = clock.tick().await;
        let coverage = sampler.sample(watched)?;
        *latest.lock().unwrap_or_else(PoisonError::into_inner) = exporter::Snapshot {
            rows: coverage.rows.clone(),
            sampled_at: Some(std::time::SystemTime::now()),
            output_dropped: output.dropped(),
        };
        ended_lines.extend(coverage.ended.iter().map(|pid| report::ended_line(*pid)));
        let summary = args.all.then(|| report::Summary::of(&coverage));
        let line = report::Line {
            elapsed_seconds: watched.as_secs_f64(),
            rows: &coverage.rows,
            ended: &coverage.ended,
            summary: summary.as_ref(),
        };
        // A reader that went away (`| head`) ends the watch.
        let reader_gone = !args.quiet && !output.send(report.sample(&line, &ended_lines));
        if reader_gone || args.once || clock.is_over() || !sampler.is_watching() {
            return Ok((summary, watched));
        }
    }
}

/// The samples' clock: every `--interval`, and once more at the end of
/// `--for`, however long the interval.
#[cfg(linux_view)]
struct Clock {
    started: std::time::Instant,
    ticker: tokio::time::Interval,
    deadline: Option<tokio::time::Instant>,
}

#[cfg(linux_view)]
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
