//! `inspect PID [PID...]`: the leak found from outside in any running
//! process, whatever its language, with no change to it.
//!
//! Each sample (`sampler.rs`) lists the TCP sockets each process's
//! descriptors hold (`target.rs`, from `/proc`), finds them in one dump of
//! the kernel's sockets per network namespace with what each connection
//! has carried (`socket_dump.rs`, `tcp_info.rs`), groups them by peer
//! (`peer.rs`), and keeps what the watch saw between samples (`watch.rs`) for the rule that
//! names what each row is doing (`verdict.rs`). The rows are printed
//! (`report.rs`) and, with `--metrics`, served on `/metrics`
//! (`exporter.rs`).
//!
//! Linux only: the kernel's socket diagnostics and `/proc` are its view.

#[cfg(target_os = "linux")]
mod exporter;
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

/// Why `inspect` stopped short.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("inspect needs Linux: it reads the kernel's socket diagnostics and /proc")]
    NotLinux,
    #[cfg(target_os = "linux")]
    #[error("{0}")]
    Target(#[from] target::TargetError),
    #[error(
        "PID {pid} lives in another network namespace (a container?), and joining it failed: {source}; run as root: sudo reqwest-connection-leak inspect {pid}"
    )]
    Namespace { pid: i32, source: std::io::Error },
    #[error(
        "--metrics {address}: cannot listen there: {source}; expected a free HOST:PORT or :PORT"
    )]
    Metrics {
        address: String,
        source: std::io::Error,
    },
    #[error("the kernel's socket dump failed: {0}")]
    Dump(std::io::Error),
}

impl InspectError {
    /// 2 for what was asked (as with a bad flag), 1 for what failed later.
    pub fn exit_code(&self) -> u8 {
        match self {
            InspectError::Dump(_) => 1,
            _ => 2,
        }
    }
}

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
    use std::collections::BTreeMap;
    use std::io::Write;
    use std::sync::PoisonError;
    use std::time::Instant;

    use report::{Mode, Sample, ended_line};
    use sampler::{Sampler, Seen};
    use verdict::{Rule, Verdict};
    use watch::Row;

    let rule = Rule {
        standing: args.leak_count as usize,
        growth: args.leak_growth as usize,
        idle_after: args.idle,
    };
    let mut sampler = Sampler::open(&args.pids, rule)?;
    let latest = exporter::Latest::default();
    if let Some(address) = &args.metrics {
        let listener = address.listen().map_err(|source| InspectError::Metrics {
            address: address.to_string(),
            source,
        })?;
        // Where it listens, for whoever gave port 0.
        if let Ok(address) = listener.local_addr() {
            eprintln!("inspect: serving /metrics on {address}");
        }
        exporter::serve(listener, latest.clone());
    }

    let mode = Mode::for_args(args.json, args.once || args.watch_for.is_some());
    let mut stdout = std::io::stdout().lock();
    // Each process's rows at its last sample, for the verdict at the end.
    let mut last_rows: BTreeMap<i32, Vec<Row>> = BTreeMap::new();
    let mut ended_lines: Vec<String> = Vec::new();
    let started = Instant::now();
    let mut ticker = tokio::time::interval(args.interval);
    let rows = loop {
        ticker.tick().await;
        let watched = started.elapsed();
        let Seen { rows, ended } = sampler.sample(watched)?;
        for rows in rows.chunk_by(|a, b| a.pid == b.pid) {
            last_rows.insert(rows[0].pid, rows.to_vec());
        }
        *latest.lock().unwrap_or_else(PoisonError::into_inner) = rows.clone();
        ended_lines.extend(ended.iter().map(|pid| ended_line(*pid)));
        let sample = Sample {
            elapsed_seconds: watched.as_secs_f64(),
            rows: &rows,
            ended: &ended,
        };
        let text = mode.sample(&sample, &ended_lines);
        // A reader that went away (`| head`) ends the watch.
        let reader_gone = stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .is_err();
        let done = args.once
            || args.watch_for.is_some_and(|limit| watched >= limit)
            || !sampler.is_watching();
        if reader_gone || done {
            break rows;
        }
    };
    let _ = stdout.write_all(mode.end(&rows).as_bytes());
    Ok(last_rows
        .values()
        .flatten()
        .any(|row| row.verdict == Verdict::Leaks))
}
