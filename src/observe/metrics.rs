//! `/metrics`: the leak as a Prometheus server scrapes it.
//!
//! The scrape's own connection is the one thing counting adds, to
//! `http_server_open_connections` and to `tokio_alive_tasks` alike, as it
//! does to `/hello`'s count. The same counters, typed (`Counters`),
//! are what `/figures` tells.

use std::collections::BTreeMap;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeLabelValue, EncodeMetric,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use serde::{Deserialize, Serialize};

use crate::observe::tasks::alive_tasks;
use crate::observe::{log, process};
use crate::settings::knobs::Knob;

/// The live task count's name: the count `/hello` reports as
/// `goRoutines`.
pub(crate) const ALIVE_TASKS: &str = "tokio_alive_tasks";

/// The name of the count of inbound connections open now.
pub(crate) const OPEN_CONNECTIONS: &str = "http_server_open_connections";

/// The OpenMetrics text format, which Prometheus reads.
pub(crate) const CONTENT_TYPE_OPENMETRICS: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How a `/forward` request ended. Each variant is spelled as the value of
/// `forward_requests_total`'s `outcome` label it encodes to, and so on the
/// wire of `/figures`.
#[allow(non_camel_case_types)]
#[derive(
    Debug,
    Clone,
    Copy,
    Hash,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    EncodeLabelValue,
    Serialize,
    Deserialize,
)]
pub(crate) enum Outcome {
    /// Server 1's answer was nested and sent.
    ok,
    /// Server 1 could not be reached, or its answer could not be used.
    upstream_error,
    /// Server 1 did not answer within `REQUEST_TIMEOUT`.
    timeout,
    /// This server ran out of its own resources: file descriptors.
    local_resources,
    /// The request had already come through this server: a loop.
    loop_detected,
    /// The caller went away before the answer.
    cancelled,
    /// The per-request client could not be built here: nothing was sent.
    client_build_failed,
}

impl Outcome {
    /// Every outcome, each shown from the start.
    pub(crate) const ALL: [Outcome; 7] = [
        Outcome::ok,
        Outcome::upstream_error,
        Outcome::timeout,
        Outcome::local_resources,
        Outcome::loop_detected,
        Outcome::cancelled,
        Outcome::client_build_failed,
    ];
}

/// `settings_switches_total`'s label set: the env var switched.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct SwitchLabel {
    pub(crate) setting: String,
}

/// `forward_requests_total`'s label set.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: Outcome,
}

/// The counters `/forward` moves.
#[derive(Debug, Clone, Default)]
pub(crate) struct ForwardMetrics {
    /// Per-request clients built.
    pub(crate) clients_built: Counter,
    /// Requests by outcome.
    requests: Family<OutcomeLabel, Counter>,
    /// 1 while the retainer cannot see connections close.
    pub(crate) retainer_blind: Gauge,
}

impl ForwardMetrics {
    /// Counts one request that ended with `outcome`.
    pub(crate) fn ended(&self, outcome: Outcome) {
        self.requests.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// Requests that ended with `outcome` so far.
    pub(crate) fn ended_with(&self, outcome: Outcome) -> u64 {
        self.requests.get_or_create(&OutcomeLabel { outcome }).get()
    }

    /// Requests ended so far, whatever their outcome.
    pub(crate) fn requests(&self) -> u64 {
        Outcome::ALL.into_iter().map(|o| self.ended_with(o)).sum()
    }

    /// Whether the retainer cannot see connections close now.
    pub(crate) fn is_blind(&self) -> bool {
        self.retainer_blind.get() == 1
    }
}

/// Every metric both roles expose.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    alive_tasks: Gauge,
    open_connections: Gauge,
    connections_accepted: Counter,
    clients_held: Gauge,
    pub(crate) forward: ForwardMetrics,
    /// Settings switched at runtime, by env var.
    pub(crate) settings_switched: Family<SwitchLabel, Counter>,
    /// `/hello` answers given.
    pub(crate) hello_answers: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let metrics = Metrics {
            registry: Registry::default(),
            alive_tasks: Gauge::default(),
            open_connections: Gauge::default(),
            connections_accepted: Counter::default(),
            clients_held: Gauge::default(),
            forward: ForwardMetrics::default(),
            settings_switched: Family::default(),
            hello_answers: Counter::default(),
        };
        // Every outcome and every setting shows from the start, at zero,
        // so that a rate over it is defined before the first one.
        for outcome in Outcome::ALL {
            drop(
                metrics
                    .forward
                    .requests
                    .get_or_create(&OutcomeLabel { outcome }),
            );
        }
        for knob in Knob::ALL {
            drop(metrics.settings_switched.get_or_create(&SwitchLabel {
                setting: knob.env().to_owned(),
            }));
        }
        metrics.registered()
    }

    /// Registers every metric, each under its name, which is written here
    /// and nowhere else.
    fn registered(mut self) -> Self {
        let registry = &mut self.registry;
        registry.register(
            ALIVE_TASKS,
            "Live tokio tasks: the count /hello reports as goRoutines",
            self.alive_tasks.clone(),
        );
        registry.register(
            OPEN_CONNECTIONS,
            "Inbound connections open now",
            self.open_connections.clone(),
        );
        registry.register(
            "http_server_connections_accepted",
            "Inbound connections accepted",
            self.connections_accepted.clone(),
        );
        registry.register(
            "forward_clients_built",
            "Per-request clients /forward built",
            self.forward.clients_built.clone(),
        );
        registry.register(
            "forward_retainer_blind",
            "1 while the retainer cannot see connections close: every held client stays until shutdown",
            self.forward.retainer_blind.clone(),
        );
        registry.register(
            "forward_clients_held",
            "Per-request clients the retainer holds now",
            self.clients_held.clone(),
        );
        registry.register(
            "forward_requests",
            "/forward requests by outcome",
            self.forward.requests.clone(),
        );
        registry.register(
            "settings_switches",
            "Settings switched at runtime, by setting",
            self.settings_switched.clone(),
        );
        registry.register(
            "hello_answers",
            "/hello answers given: this server played server 1",
            self.hello_answers.clone(),
        );
        registry.register_collector(Box::new(ProcessFigures));
        self
    }

    /// Counts an accepted connection; it counts as open until the returned
    /// guard is dropped.
    pub(crate) fn connection_opened(&self) -> OpenConnection {
        self.connections_accepted.inc();
        self.open_connections.inc();
        OpenConnection {
            open_connections: self.open_connections.clone(),
        }
    }

    /// Inbound connections open now.
    pub(crate) fn open_connections(&self) -> u64 {
        self.open_connections.get().try_into().unwrap_or(0)
    }

    /// The counters now, read from the atomics [`Metrics::render`] encodes.
    pub(crate) fn counters(&self, clients_held: usize) -> Counters {
        let count = |counter: &Counter| counter.get();
        Counters {
            open_connections: self.open_connections(),
            connections_accepted: count(&self.connections_accepted),
            clients_built: count(&self.forward.clients_built),
            clients_held: u64::try_from(clients_held).unwrap_or(u64::MAX),
            retainer_blind: self.forward.is_blind(),
            forwards: Outcome::ALL
                .into_iter()
                .map(|outcome| (outcome, self.forward.ended_with(outcome)))
                .collect(),
            hello_answers: count(&self.hello_answers),
            log_lines_dropped: log::dropped_lines(),
            resident_bytes: process::resident_bytes(),
            open_fds: process::open_fds(),
            max_fds: process::max_fds(),
        }
    }

    /// Reads the live values and encodes every metric.
    pub fn render(&self, clients_held: usize) -> Result<String, std::fmt::Error> {
        self.alive_tasks.set(gauge_value(alive_tasks()));
        self.clients_held.set(gauge_value(clients_held));
        let mut text = String::new();
        encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

fn gauge_value(value: impl TryInto<i64>) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

/// The `process_*` gauges and the log's dropped lines, read at each
/// scrape: the process's own. A gauge that cannot be read
/// (no `/proc`, or no descriptor left to read it with) is left out of that
/// scrape: absent, never a false zero or a stale value.
#[derive(Debug)]
struct ProcessFigures;

impl Collector for ProcessFigures {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let figures = [
            (
                "process_resident_memory_bytes",
                "Resident memory in bytes",
                process::resident_bytes(),
            ),
            (
                "process_open_fds",
                "Open file descriptors",
                process::open_fds(),
            ),
            (
                "process_max_fds",
                "The most file descriptors the process may open (its soft limit)",
                process::max_fds(),
            ),
        ];
        for (name, help, value) in figures {
            if let Some(value) = value {
                let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
                ConstGauge::new(gauge_value(value)).encode(metric)?;
            }
        }
        let metric = encoder.encode_descriptor(
            "log_lines_dropped",
            "Log lines lost: dropped while the log's reader was not reading, or in a write that failed",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(log::dropped_lines()).encode(metric)?;
        Ok(())
    }
}

/// Everything a server counts but its task count, which every server 1
/// has (the Go original's too) and which `/figures` keeps apart. Read
/// from the same atomics [`Metrics::render`] encodes, so that the
/// dashboard names no metric and parses nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Counters {
    /// Inbound connections open now.
    pub(crate) open_connections: u64,
    /// Inbound connections accepted since the start.
    pub(crate) connections_accepted: u64,
    /// Per-request clients `/forward` built.
    pub(crate) clients_built: u64,
    /// Per-request clients the retainer holds now.
    pub(crate) clients_held: u64,
    /// Whether the retainer cannot see connections close now.
    pub(crate) retainer_blind: bool,
    /// `/forward` requests by how they ended, every outcome present.
    pub(crate) forwards: BTreeMap<Outcome, u64>,
    /// `/hello` answers given.
    pub(crate) hello_answers: u64,
    /// Log lines dropped because the log's reader was not reading.
    pub(crate) log_lines_dropped: u64,
    /// Resident memory in bytes; `None` when it cannot be read.
    pub(crate) resident_bytes: Option<u64>,
    /// Open file descriptors; `None` when they cannot be counted.
    pub(crate) open_fds: Option<u64>,
    /// The most file descriptors the process may open.
    pub(crate) max_fds: Option<u64>,
}

/// An open inbound connection; dropping it counts the connection closed.
#[derive(Debug)]
pub(crate) struct OpenConnection {
    open_connections: Gauge,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.open_connections.dec();
    }
}

/// Every sample of a scrape's text, by name with its labels (for example
/// `forward_requests_total{outcome="ok"}`), comments left out.
pub fn samples(scrape: &str) -> BTreeMap<String, f64> {
    scrape
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            Some((name.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_rendered_scrape_can_be_read_back() {
        let metrics = Metrics::new();
        let first = metrics.connection_opened();
        let _second = metrics.connection_opened();
        drop(first);
        let text = metrics.render(7).expect("encode");
        let read = samples(&text);
        assert_eq!(read.get("http_server_open_connections"), Some(&1.0));
        assert_eq!(
            read.get("http_server_connections_accepted_total"),
            Some(&2.0)
        );
        assert_eq!(read.get("forward_clients_held"), Some(&7.0));
        assert_eq!(
            read.get(r#"forward_requests_total{outcome="timeout"}"#),
            Some(&0.0)
        );
        assert!(text.contains(r#"forward_requests_total{outcome="timeout"} 0"#));
        metrics.forward.ended(Outcome::upstream_error);
        let text = metrics.render(7).expect("encode");
        assert!(text.contains(r#"forward_requests_total{outcome="upstream_error"} 1"#));
    }
}
