//! One scenario, as a person runs it: start the pair, send the requests at
//! the curl loop's pace, wait idle, and note both counts all along.

use std::time::Duration;

use indicatif::ProgressBar;
use reqwest::Client;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::demo::error::DemoError;
use crate::harness::{Launcher, Pair, ServerProcess};
use crate::roles::forward::Forwarded;
use crate::roles::hello::Hello;
use crate::scenario::Scenario;
use crate::scenario::recording::Recording;
use crate::scenario::verdict::Counts;
use crate::serve::figures::Figures;

/// The least time the demo waits idle before its last sample.
const MIN_IDLE_WAIT: Duration = Duration::from_secs(3);

/// How often the counts are sampled while idle, and server 1's open
/// connections while requests go on: a scrape reads every descriptor of
/// server 1, so one per request would cost more with every connection
/// leaked; four a second keeps the chart's resolution.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// Both counts at one moment, and server 1's open connections.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Moment {
    /// Since the first request.
    pub(crate) seconds: f64,
    /// Requests answered by then.
    pub(crate) requests: usize,
    pub(crate) server2_tasks: usize,
    pub(crate) server1_tasks: usize,
    /// Inbound connections open on server 1, less the scrape's own, as
    /// last scraped (at most a quarter of a second before).
    pub(crate) server1_open_connections: usize,
}

/// Inbound connections open on a server, not counting the scrape's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct OpenConnections {
    pub(crate) after_requests: usize,
    pub(crate) after_idle: usize,
}

/// A scenario that could not be recorded, and why.
pub(crate) struct Failed {
    pub(crate) scenario: &'static Scenario,
    pub(crate) err: DemoError,
}

/// What one scenario recorded.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub(crate) scenario: &'static Scenario,
    /// What the verdict reads.
    pub(crate) recording: Recording,
    /// Connections open on server 1, seen from its side: the leak as its
    /// `http_server_open_connections` shows it.
    pub(crate) server1_connections: OpenConnections,
    /// Every sample, in time order: one per request, then the idle wait's.
    pub(crate) samples: Vec<Moment>,
    /// When the last request was answered.
    pub(crate) requests_ended: f64,
}

/// The pace and length of each scenario.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    pub(crate) requests: usize,
    /// Requests a second; 0 for as fast as they are answered.
    pub(crate) rate: u32,
}

impl Pace {
    /// When request `index` (from 0) is due, from the first one.
    fn due(self, index: usize) -> Duration {
        match self.rate {
            0 => Duration::ZERO,
            rate => Duration::from_secs_f64(index as f64 / f64::from(rate)),
        }
    }
}

/// Starts the pair, sends the requests at `pace`, waits idle, and samples
/// throughout.
pub(crate) async fn record(
    launcher: &Launcher,
    scenario: &'static Scenario,
    pace: Pace,
    client: &Client,
    progress: &ProgressBar,
) -> Result<Run, DemoError> {
    // Started from this thread, which lives as long as the demo: on Linux
    // each child is killed when the thread that started it ends. Starting
    // takes milliseconds, for which the other recordings wait.
    let pair = launcher.scenario(scenario)?;
    let urls = Urls::of(&pair);
    let mut per_request = Vec::with_capacity(pace.requests);
    let mut samples = Vec::with_capacity(pace.requests + 40);
    let start = Instant::now();
    let (mut open, mut scraped) = (0, None::<Instant>);
    for index in 0..pace.requests {
        tokio::time::sleep_until(start + pace.due(index)).await;
        let forwarded: Forwarded = get_json(client, &urls.forward).await?;
        let counts = Counts {
            server2: forwarded.go_routines,
            server1: forwarded.server1_response.go_routines,
        };
        per_request.push(counts);
        let last = index + 1 == pace.requests;
        if last || scraped.is_none_or(|at| at.elapsed() >= SAMPLE_EVERY) {
            open = open_connections(client, &urls.figures1).await?;
            scraped = Some(Instant::now());
        }
        samples.push(sample(start, index + 1, counts, open));
        progress.inc(1);
    }
    let requests_ended = start.elapsed().as_secs_f64();
    let open_after_requests = samples.last().map_or(0, |s| s.server1_open_connections);

    let idle_wait = idle_wait(scenario);
    progress.set_message(format!("idle {idle_wait:?}"));
    let idle_until = Instant::now() + idle_wait;
    let (mut after_idle, mut open_after_idle) = (Counts::default(), 0);
    while Instant::now() < idle_until {
        tokio::time::sleep(SAMPLE_EVERY.min(idle_until - Instant::now())).await;
        (after_idle, open_after_idle) = urls.idle_counts(client).await?;
        samples.push(sample(start, pace.requests, after_idle, open_after_idle));
    }
    Ok(Run {
        scenario,
        recording: Recording {
            per_request,
            after_idle,
        },
        server1_connections: OpenConnections {
            after_requests: open_after_requests,
            after_idle: open_after_idle,
        },
        samples,
        requests_ended,
    })
}

fn sample(start: Instant, requests: usize, counts: Counts, open: usize) -> Moment {
    Moment {
        seconds: start.elapsed().as_secs_f64(),
        requests,
        server2_tasks: counts.server2,
        server1_tasks: counts.server1,
        server1_open_connections: open,
    }
}

/// How long to wait idle after the last request: 3 s, or three idle
/// timeouts where the scenario should be reclaimed after one, enough for
/// either side to close every connection.
fn idle_wait(scenario: &Scenario) -> Duration {
    MIN_IDLE_WAIT.max(idle_timeout(scenario) * 3)
}

/// The idle timeout a scenario sets, on either side; zero for none.
fn idle_timeout(scenario: &Scenario) -> Duration {
    scenario.setting.map_or(Duration::ZERO, |setting| {
        let knobs = setting.knobs();
        knobs.idle_conn_timeout.max(knobs.server_idle_wait())
    })
}

/// Where the demo asks.
struct Urls {
    forward: String,
    hello2: String,
    hello1: String,
    figures1: String,
}

impl Urls {
    fn of(pair: &Pair) -> Urls {
        let at = |server: &ServerProcess, path: &str| format!("http://{}{path}", server.address);
        Urls {
            forward: at(&pair.server2, "/forward"),
            hello2: at(&pair.server2, "/hello"),
            hello1: at(&pair.server1, "/hello"),
            figures1: at(&pair.server1, "/figures"),
        }
    }

    /// Each role's own count, from `/hello`, and server 1's connections.
    async fn idle_counts(&self, client: &Client) -> Result<(Counts, usize), DemoError> {
        let server2: Hello = get_json(client, &self.hello2).await?;
        let server1: Hello = get_json(client, &self.hello1).await?;
        let open = open_connections(client, &self.figures1).await?;
        let counts = Counts {
            server2: server2.go_routines,
            server1: server1.go_routines,
        };
        Ok((counts, open))
    }
}

/// Server 1's open inbound connections, from its `/figures`, less the
/// one that asks.
async fn open_connections(client: &Client, figures_url: &str) -> Result<usize, DemoError> {
    let figures: Figures = get_json(client, figures_url).await?;
    let counters = figures.counters.ok_or_else(|| DemoError::Counters {
        url: figures_url.to_owned(),
    })?;
    Ok((counters.open_connections as usize).saturating_sub(1))
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
    use crate::scenario::{self, Expectation};

    #[test]
    fn the_idle_scenarios_wait_three_of_their_timeouts() {
        for scenario in scenario::ALL {
            let wait = idle_wait(scenario);
            assert!(wait >= MIN_IDLE_WAIT, "{}", scenario.name);
            if scenario.expectation() == Expectation::ReclaimedAfterIdle {
                let timeout = idle_timeout(scenario);
                assert!(!timeout.is_zero(), "{}", scenario.name);
                assert!(wait >= timeout * 3, "{}", scenario.name);
            }
        }
    }

    #[test]
    fn requests_are_due_at_the_rate_and_all_at_once_at_zero() {
        let paced = Pace {
            requests: 10,
            rate: 50,
        };
        assert_eq!(paced.due(0), Duration::ZERO);
        assert_eq!(paced.due(25), Duration::from_millis(500));
        let fast = Pace {
            requests: 10,
            rate: 0,
        };
        assert_eq!(fast.due(9), Duration::ZERO);
    }
}
