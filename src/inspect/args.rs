//! What `inspect` takes on the command line.

use std::time::Duration;

use clap::Args;

use crate::settings::bind_address::BindAddress;
use crate::settings::go_syntax::parse_duration;

/// The default of `--leak-count`; `Rule::standing` in `verdict.rs` says
/// why 15.
pub(crate) const STANDING: u32 = 15;

/// What `inspect` takes.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("processes").required(true).args(["pids", "all"])))]
#[command(group(clap::ArgGroup::new("ends").args(["once", "watch_for"])))]
pub struct InspectArgs {
    /// The processes to watch, by ID.
    #[arg(value_name = "PID", value_parser = parse_pid)]
    pub(crate) pids: Vec<i32>,
    /// Every process this user may read instead (as root, every process,
    /// each network namespace joined once); lists the rows with open
    /// connections, leaking ones first.
    #[arg(long)]
    pub(crate) all: bool,
    /// Time between samples, in Go's spelling (1s, 500ms); at least 10ms.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = at_least_10ms)]
    pub(crate) interval: Duration,
    /// No data either way for this long makes a connection idle.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = at_least_10ms)]
    pub(crate) idle: Duration,
    /// Idle connections used once, to one peer, asked for one by one over a
    /// second or more, that are a leak however old.
    #[arg(long, value_name = "N", default_value_t = STANDING, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) leak_count: u32,
    /// Idle connections used once, asked for one by one since the watch
    /// began, that are a leak growing now.
    #[arg(long, value_name = "G", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) leak_growth: u32,
    /// A row with no connection open for this long is dropped, after one
    /// last reading.
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = at_least_10ms)]
    pub(crate) forget: Duration,
    /// One sample, then exit.
    #[arg(long, conflicts_with = "watch_for")]
    pub(crate) once: bool,
    /// Watch this long, print the final table, and exit.
    #[arg(long = "for", value_name = "DURATION", value_parser = at_least_10ms)]
    pub(crate) watch_for: Option<Duration>,
    /// At the end of the watch, draw each leaking row's connections at
    /// this path, as SVG: when each was asked for, how long it was used,
    /// how long it has been idle since (needs --for or --once).
    #[arg(long, value_name = "PATH", requires = "ends")]
    pub(crate) chart: Option<std::path::PathBuf>,
    /// One JSON object per sample, a line each.
    #[arg(long)]
    pub(crate) json: bool,
    /// Serve the rows on /metrics at this address (HOST:PORT or :PORT), as
    /// an exporter beside a service.
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics: Option<BindAddress>,
    /// Print no sample and no final table: the exit status, and with
    /// --metrics the exporter, say it all (a sidecar whose standard output
    /// is a log nobody should fill).
    #[arg(long, conflicts_with = "json")]
    pub(crate) quiet: bool,
}

/// A process ID: a whole number from 1.
fn parse_pid(text: &str) -> Result<i32, String> {
    text.parse::<i32>()
        .ok()
        .filter(|pid| *pid > 0)
        .ok_or_else(|| format!("expected a process ID, a whole number from 1, not {text:?}"))
}

/// A duration in Go's spelling, no shorter than 10ms.
fn at_least_10ms(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration < Duration::from_millis(10) {
        return Err(format!("{text:?} is too short: expected at least 10ms"));
    }
    Ok(duration)
}
