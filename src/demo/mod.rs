//! `demo`: every scenario, one after the other, with the comparison table
//! and the chart. It does what a user does with two terminals and a curl
//! loop, and checks each scenario against what the registry expects.
//!
//! - [`table`] and [`chart`]: the report.
//! - [`error`]: why the demo could not finish.

pub mod chart;
pub mod error;
pub mod table;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Client;
use serde::de::DeserializeOwned;

pub use crate::demo::error::DemoError;
use crate::harness::{Launcher, Server};
use crate::observe::metrics;
use crate::roles::client_settings::ClientSettings;
use crate::roles::forward::Forwarded;
use crate::roles::hello::Hello;
use crate::scenario::verdict::{Counts, OpenConnections, Recording};
use crate::scenario::{self, Expectation, Scenario};
use crate::serve::shutdown::shutdown_signal;
use crate::settings::cli::DemoArgs;
use crate::settings::go_syntax::parse_duration;

/// The least time the demo waits idle before its last sample.
const MIN_IDLE_WAIT: Duration = Duration::from_secs(3);

/// Runs the demo. `Ok(true)` when every scenario behaved as it should.
pub async fn run(args: &DemoArgs) -> Result<bool, DemoError> {
    let scenarios: Vec<&Scenario> = if args.scenarios.is_empty() {
        scenario::ALL.iter().collect()
    } else {
        args.scenarios.clone()
    };
    let requests = args.requests as usize;
    // Like curl in a loop: a new connection for every request, closed
    // after the answer, so the demo itself holds nothing open.
    let curl_like = ClientSettings {
        max_idle_conns_per_host: Some(0),
        ..ClientSettings::default()
    };
    let client = curl_like.build().map_err(DemoError::Client)?;
    check_writable(&args.chart)?;
    let executable = std::env::current_exe().map_err(DemoError::OwnExecutable)?;
    // Warnings only: logging every answer would cost more than the
    // requests themselves.
    let launcher = Launcher::new(executable, "warn");

    let mut results = Vec::new();
    for scenario in scenarios {
        let progress = progress_bar(scenario, requests);
        let recording = tokio::select! {
            recording = record(&launcher, scenario, requests, &client, &progress) => recording?,
            // Dropping the recording future kills both children.
            () = shutdown_signal() => return Err(DemoError::Interrupted),
        };
        progress.finish_with_message(recording.verdict().to_string());
        results.push((scenario, recording));
    }

    chart::draw(&args.chart, &results, requests)?;
    // A reader that went away (`demo | head`) is no reason to stop: the
    // chart is written and the exit code still tells.
    let _ = writeln!(
        std::io::stdout().lock(),
        "{}chart: {}",
        table::render(&results, requests),
        args.chart.display()
    );

    let mut all_met = true;
    for (scenario, recording) in &results {
        let verdict = recording.verdict();
        if !scenario.expectation.met_by(verdict) {
            all_met = false;
            eprintln!(
                "scenario {} did not behave as it should: expected {}, measured {verdict}",
                scenario.label(),
                scenario.expectation
            );
        }
    }
    Ok(all_met)
}

/// Fails now, not after every scenario ran, if the chart cannot be written
/// at `path`. A file already there is left as it is until then.
fn check_writable(path: &Path) -> Result<(), DemoError> {
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|err| DemoError::Chart {
            path: path.display().to_string(),
            reason: err.to_string(),
        })?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
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

/// How long to wait idle after the last request: 3 s, or three idle
/// timeouts where the scenario should be reclaimed after one, enough for
/// either side to close every connection.
fn idle_wait(scenario: &Scenario) -> Duration {
    let timeout = match (scenario.expectation, scenario.setting) {
        (Expectation::ReclaimedAfterIdle, Some(setting)) => {
            parse_duration(setting.value).unwrap_or_default()
        }
        _ => Duration::ZERO,
    };
    MIN_IDLE_WAIT.max(timeout * 3)
}

/// Starts the pair, sends the requests, waits idle, samples once more.
async fn record(
    launcher: &Launcher,
    scenario: &'static Scenario,
    requests: usize,
    client: &Client,
    progress: &ProgressBar,
) -> Result<Recording, DemoError> {
    // Started from this thread, which lives as long as the demo: on Linux
    // each child is killed when the thread that started it ends. Starting
    // takes milliseconds, and nothing else runs meanwhile.
    let pair = launcher.scenario(scenario)?;
    let forward_url = format!("http://{}/forward", pair.server2.address);
    let mut per_request = Vec::with_capacity(requests);
    for _ in 0..requests {
        let forwarded: Forwarded = get_json(client, &forward_url).await?;
        per_request.push(Counts {
            server2: forwarded.go_routines,
            server1: forwarded.server1_response.go_routines,
        });
        progress.inc(1);
    }
    let metrics_url = format!("http://{}/metrics", pair.server1.address);
    let open_after_requests = open_connections(client, &metrics_url).await?;
    let idle_wait = idle_wait(scenario);
    progress.set_message(format!("idle {idle_wait:?}"));
    tokio::time::sleep(idle_wait).await;
    let hello = |server: &Server| format!("http://{}/hello", server.address);
    let server2: Hello = get_json(client, &hello(&pair.server2)).await?;
    let server1: Hello = get_json(client, &hello(&pair.server1)).await?;
    Ok(Recording {
        per_request,
        after_idle: Counts {
            server2: server2.go_routines,
            server1: server1.go_routines,
        },
        server1_connections: OpenConnections {
            after_requests: open_after_requests,
            after_idle: open_connections(client, &metrics_url).await?,
        },
    })
}

/// `http_server_open_connections` from a scrape, less the scrape's own.
async fn open_connections(client: &Client, metrics_url: &str) -> Result<usize, DemoError> {
    const METRIC: &str = "http_server_open_connections";
    let text = get_text(client, metrics_url).await?;
    let open = *metrics::samples(&text)
        .get(METRIC)
        .ok_or_else(|| DemoError::Metric {
            url: metrics_url.to_owned(),
            metric: METRIC,
        })?;
    Ok((open as usize).saturating_sub(1))
}

async fn get_json<T: DeserializeOwned>(client: &Client, url: &str) -> Result<T, DemoError> {
    let body = get_text(client, url).await?;
    serde_json::from_str(&body).map_err(|source| DemoError::Json {
        url: url.to_owned(),
        source,
    })
}

async fn get_text(client: &Client, url: &str) -> Result<String, DemoError> {
    let request_failed = |source| DemoError::Request {
        url: url.to_owned(),
        source,
    };
    let response = client.get(url).send().await.map_err(request_failed)?;
    let status = response.status();
    let body = response.text().await.map_err(request_failed)?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(DemoError::Status {
            url: url.to_owned(),
            status,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idle_scenarios_wait_three_of_their_timeouts() {
        for scenario in &scenario::ALL {
            let wait = idle_wait(scenario);
            assert!(wait >= MIN_IDLE_WAIT, "{}", scenario.name);
            if scenario.expectation == Expectation::ReclaimedAfterIdle {
                let setting = scenario.setting.expect("a setting");
                let timeout = parse_duration(setting.value).expect("a duration");
                assert!(!timeout.is_zero(), "{}", scenario.name);
                assert!(wait >= timeout * 3, "{}", scenario.name);
            }
        }
    }
}
