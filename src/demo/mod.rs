//! `demo`: every scenario, one after the other, with the comparison table
//! and the chart. It does what a user does with two terminals and a curl
//! loop, and checks each scenario against what the Go original showed.
//!
//! - [`scenario`]: the scenarios, their flags and expectations.
//! - [`pair`]: the two child servers of one scenario.
//! - [`verdict`]: what the recorded counts say.
//! - [`table`] and [`chart`]: the report.

pub mod chart;
pub mod pair;
pub mod scenario;
pub mod table;
pub mod verdict;

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Client;
use serde::de::DeserializeOwned;

use crate::client_settings::ClientSettings;
use crate::error::cause_chain;
use crate::forward::Forwarded;
use crate::hello::Hello;
use crate::metrics;
use crate::shutdown::shutdown_signal;
use pair::ServerPair;
use scenario::Scenario;
use verdict::{Counts, OpenConnections, Recording};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Sequential /forward requests per scenario (the seed's loop sends 400).
    #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub requests: u32,
    /// Where to write the SVG chart.
    #[arg(long, default_value = "leak-demo.svg")]
    pub chart: PathBuf,
    /// Run only this scenario; repeat for more. Every one by default.
    #[arg(long = "scenario", value_enum)]
    pub scenarios: Vec<Scenario>,
}

/// Runs the demo. `Ok(true)` when every scenario behaved as it should.
pub async fn run(args: DemoArgs) -> Result<bool, String> {
    let scenarios = if args.scenarios.is_empty() {
        Scenario::ALL.to_vec()
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
    let client = curl_like.build().map_err(|err| cause_chain(&err))?;

    let mut results = Vec::new();
    for scenario in scenarios {
        let progress = progress_bar(scenario, requests);
        let recording = tokio::select! {
            recording = record(scenario, requests, &client, &progress) => recording?,
            // Dropping the recording future kills both children.
            () = shutdown_signal() => return Err("interrupted".to_owned()),
        };
        progress.finish_with_message(recording.verdict().to_string());
        results.push((scenario, recording));
    }

    print!("{}", table::render(&results, requests));
    chart::draw(&args.chart, &results, requests)?;
    println!("chart: {}", args.chart.display());

    let mut all_met = true;
    for (scenario, recording) in &results {
        let verdict = recording.verdict();
        if !scenario.expectation().met_by(verdict) {
            all_met = false;
            eprintln!(
                "scenario {} did not behave as it should: expected {:?}, measured {verdict}",
                scenario.label(),
                scenario.expectation()
            );
        }
    }
    Ok(all_met)
}

fn progress_bar(scenario: Scenario, requests: usize) -> ProgressBar {
    let progress = ProgressBar::new(requests as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{prefix:34} [{bar:30}] {pos:>6}/{len:<6} {msg}")
    {
        progress.set_style(style.progress_chars("=> "));
    }
    progress.set_prefix(scenario.label());
    progress
}

/// Starts the pair, sends the requests, waits idle, samples once more.
async fn record(
    scenario: Scenario,
    requests: usize,
    client: &Client,
    progress: &ProgressBar,
) -> Result<Recording, String> {
    let pair = ServerPair::start(scenario).await?;
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
    let idle_wait = scenario.idle_wait();
    progress.set_message(format!("idle {idle_wait:?}"));
    tokio::time::sleep(idle_wait).await;
    let hello = |server: &pair::ServerProcess| format!("http://{}/hello", server.address);
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
async fn open_connections(client: &Client, metrics_url: &str) -> Result<usize, String> {
    let text = get_text(client, metrics_url).await?;
    let open = metrics::sample(&text, "http_server_open_connections")
        .ok_or_else(|| format!("{metrics_url} has no http_server_open_connections"))?;
    Ok((open as usize).saturating_sub(1))
}

async fn get_json<T: DeserializeOwned>(client: &Client, url: &str) -> Result<T, String> {
    let body = get_text(client, url).await?;
    serde_json::from_str(&body).map_err(|err| format!("{url} answered unexpected JSON: {err}"))
}

async fn get_text(client: &Client, url: &str) -> Result<String, String> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|err| cause_chain(&err))?;
    let status = response.status();
    let body = response.text().await.map_err(|err| cause_chain(&err))?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("{url} answered {status}: {body}"))
    }
}
