//! `demo`: every scenario at once, each on a pair of its own, with the
//! comparison table and the chart. It does what a user does with two
//! terminals and a curl loop, and checks each scenario against what the
//! registry expects. The pairs share nothing but the machine: each counts
//! only its own tasks, and at the demo's pace they leave it mostly idle.
//!
//! - `args`: what it takes on the command line.
//! - `record`: one scenario, sampled over time.
//! - `table`, `chart` and `json`: the report; `chart_path.rs`, where
//!   the chart goes when another demo holds the path asked for.
//! - `error`: why the demo could not finish.

pub(crate) mod args;
pub(crate) mod chart;
mod chart_path;
pub(crate) mod error;
pub(crate) mod json;
pub(crate) mod record;
pub(crate) mod table;

use std::io::Write;

use futures_util::future::join_all;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::demo::args::DemoArgs;
use crate::demo::chart_path::ClaimedChart;
pub use crate::demo::error::DemoError;
use crate::demo::record::{Failed, Pace, record};
use crate::harness::Launcher;
use crate::roles::client_settings::ClientSettings;
use crate::scenario::{self, Scenario};
use crate::serve::shutdown::Signals;
use crate::settings::knobs::IdleConnsPerHost;

/// Runs the demo. `Ok(true)` when every scenario behaved as it should.
pub async fn run(args: &DemoArgs) -> Result<bool, DemoError> {
    // Caught before any child starts: see `Signals`.
    let mut signals = Signals::listen();
    let scenarios: Vec<&'static Scenario> = if args.scenarios.is_empty() {
        scenario::ALL.iter().collect()
    } else {
        args.scenarios.clone()
    };
    let pace = Pace {
        requests: args.requests as usize,
        rate: args.rate,
    };
    // Like curl in a loop: a new connection for every request, closed
    // after the answer, so the demo itself holds nothing open.
    let curl_like = ClientSettings {
        max_idle_conns_per_host: IdleConnsPerHost(-1),
        ..ClientSettings::default()
    };
    let client = curl_like.build().map_err(DemoError::Client)?;
    let chart = ClaimedChart::claim(&args.chart)?;
    let executable = std::env::current_exe().map_err(DemoError::OwnExecutable)?;
    // Warnings only: logging every answer would cost more than the
    // requests themselves.
    let launcher = Launcher::new(executable, log_filter());

    // Every recording runs on this task, so that every child is started
    // from this thread (see `record`). A scenario that fails keeps the
    // others going: its row says so.
    let bars = MultiProgress::new();
    let recordings = scenarios.into_iter().map(|scenario| {
        let progress = bars.add(progress_bar(scenario, pace.requests));
        let (launcher, client) = (&launcher, &client);
        async move {
            let recorded = record(launcher, scenario, pace, client, &progress).await;
            progress.finish_with_message(match &recorded {
                Ok(run) => run.recording.verdict().to_string(),
                Err(_) => "failed".to_owned(),
            });
            recorded.map_err(|err| Failed { scenario, err })
        }
    });
    let outcomes = tokio::select! {
        outcomes = join_all(recordings) => outcomes,
        // Dropping the recordings kills every child.
        signal = signals.next() => return Err(DemoError::Interrupted(signal)),
    };
    let mut runs = Vec::new();
    let mut failed = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(run) => runs.push(run),
            Err(failure) => failed.push(failure),
        }
    }

    chart::draw(&chart.path, &runs, pace)?;
    report(args, &runs, &failed, &chart, pace)?;
    Ok(all_behaved(&runs, &failed))
}

/// What the servers log: their warnings. Where no server can see its
/// connections close (not Linux), each would warn of it at start; the
/// demo says it once instead.
fn log_filter() -> &'static str {
    if cfg!(linux_view) {
        return "warn";
    }
    eprintln!(
        "note: without Linux's socket diagnostics and /proc, server 2 cannot see \
         a connection close, so it keeps every per-request client until it ends; \
         the tasks still end with their connections, so the table reads as on Linux"
    );
    "warn,reqwest_connection_leak::roles::retainer=error"
}

/// Prints the table (or the JSON document) with where the chart is: every
/// scenario recorded, and a row for each that failed.
fn report(
    args: &DemoArgs,
    runs: &[record::Run],
    failed: &[Failed],
    chart: &ClaimedChart,
    pace: Pace,
) -> Result<(), DemoError> {
    let report = if args.json {
        serde_json::to_string(&json::Document::of(runs)).map_err(DemoError::Report)?
    } else {
        format!(
            "{}chart: {}",
            table::render(runs, failed, pace.requests),
            chart.path.display()
        )
    };
    // A reader that went away (`demo | head`) is no reason to stop: the
    // chart is written and the exit code still tells.
    let _ = writeln!(std::io::stdout().lock(), "{report}");
    Ok(())
}

/// Whether every scenario was recorded and behaved as the registry
/// expects; each that did not is said on standard error.
fn all_behaved(runs: &[record::Run], failed: &[Failed]) -> bool {
    let mut all_met = failed.is_empty();
    for Failed { scenario, err } in failed {
        eprintln!(
            "scenario {} failed: {}",
            scenario.label(),
            crate::failure::cause_chain(err)
        );
    }
    for run in runs {
        let verdict = run.recording.verdict();
        if !run.scenario.expectation().met_by(verdict) {
            all_met = false;
            eprintln!(
                "scenario {} did not behave as it should: expected {}, measured {verdict}",
                run.scenario.label(),
                run.scenario.expectation()
            );
        }
    }
    all_met
}

fn progress_bar(scenario: &Scenario, requests: usize) -> ProgressBar {
    let progress = ProgressBar::new(requests as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{prefix:34} [{bar:30}] {pos:>6}/{len:<6} {msg}")
    {
        progress.set_style(style.progress_chars("=> "));
    }
    progress.set_prefix(scenario.label());
    progress
}
