//! `inspect --metrics ADDR`: the latest sample's rows on `/metrics`, in
//! the OpenMetrics text format, so that `inspect` can run beside a service
//! as an exporter and the rules of `prometheus/any_service.yml` can watch
//! it. Each row's series carry its `pid`, `direction` (`out` or `in`) and
//! `peer`; a process that exits takes its series with it. Beside them, how
//! fresh they are: `inspect_last_sample_timestamp_seconds`, the Unix time of
//! the sample they come from, and `inspect_output_dropped_total`, the
//! samples standard output could not take (`output.rs`). A scraper that
//! asks for OpenMetrics gets it; any other, Prometheus's text format.
//!
//! A sidecar must stay up and small whoever connects: a client has
//! [`HEADER_READ_TIMEOUT`] to send each request's head (Go's
//! `ReadHeaderTimeout`), an idle connection included, and at most
//! [`MAX_REQUESTS_IN_FLIGHT`] scrapes are answered at once, the rest with
//! 503 (promhttp's `MaxRequestsInFlight`). A failed accept (no descriptor
//! left) waits a moment and goes on.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::error::InspectError;
use super::process_watch::Row;
use super::verdict::RowVerdict;
use crate::observe::metrics::CONTENT_TYPE_OPENMETRICS;
use crate::settings::bind_address::BindAddress;

/// The latest sample, shared with the server.
pub(crate) type Latest = Arc<Mutex<Snapshot>>;

/// What the exporter serves.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    /// The latest sample's rows.
    pub(crate) rows: Vec<Row>,
    /// When it was taken; `None` before the first.
    pub(crate) sampled_at: Option<SystemTime>,
    /// Samples dropped so far because standard output was not read.
    pub(crate) output_dropped: u64,
}

/// Time to send a request's head, from the connection's opening or the
/// answer before: ample for a scraper, short for a connection left open.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Scrapes answered at once; Prometheus sends one at a time per target.
pub(crate) const MAX_REQUESTS_IN_FLIGHT: usize = 4;

#[derive(Clone)]
struct Exporter {
    latest: Latest,
    in_flight: Arc<Semaphore>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RowLabels {
    pid: String,
    direction: String,
    peer: String,
}

/// Listens on `address` and serves `/metrics` there until the program
/// ends; says where on standard error, for whoever gave port 0.
pub(crate) fn start(address: &BindAddress, latest: Latest) -> Result<(), InspectError> {
    let listener = address.listen().map_err(|source| InspectError::Metrics {
        address: address.to_string(),
        source,
    })?;
    if let Ok(address) = listener.local_addr() {
        eprintln!("inspect: serving /metrics on {address}");
    }
    serve(listener, latest);
    Ok(())
}

/// Serves `/metrics` on `listener` until the program ends.
fn serve(listener: TcpListener, latest: Latest) {
    let exporter = Exporter {
        latest,
        in_flight: Arc::new(Semaphore::new(MAX_REQUESTS_IN_FLIGHT)),
    };
    let router = Router::new()
        .route("/metrics", get(metrics))
        .with_state(exporter);
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let service = TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                let mut http = http1::Builder::new();
                http.timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT);
                // A client that went away or was too slow: nothing to do.
                let _ = http.serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
}

async fn metrics(State(exporter): State<Exporter>, headers: HeaderMap) -> Response {
    let Ok(_permit) = exporter.in_flight.try_acquire() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("more than {MAX_REQUESTS_IN_FLIGHT} scrapes at once; try again\n"),
        )
            .into_response();
    };
    let snapshot = exporter
        .latest
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok());
    match render(&snapshot) {
        Ok(text) => {
            let (content_type, text) = negotiated(text, accept);
            (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], text).into_response()
        }
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "the metrics could not be encoded\n",
        )
            .into_response(),
    }
}

/// How a metric reads its value from a row.
enum Read {
    Gauge(fn(&Row) -> i64),
    Seconds(fn(&Row) -> f64),
    Counter(fn(&Row) -> u64),
}

/// Every metric of a row: its name, its help, and how it is read.
const METRICS: [(&str, &str, Read); 10] = [
    (
        "inspect_connections_open",
        "TCP connections open now, per process, direction and peer",
        Read::Gauge(|row| row.open as i64),
    ),
    (
        "inspect_connections_idle",
        "Open connections with no data either way for at least --idle",
        Read::Gauge(|row| row.idle as i64),
    ),
    (
        "inspect_connections_idle_used_once",
        "Idle connections used once and left, the leak's signature",
        Read::Gauge(|row| row.idle_used_once as i64),
    ),
    (
        "inspect_used_once_spread_seconds",
        "From the first idle connection used once asked for to the last",
        Read::Seconds(|row| row.used_once_spread_seconds),
    ),
    (
        "inspect_used_once_burst",
        "The most idle connections used once asked for within 250 ms of each other",
        Read::Gauge(|row| row.used_once_burst as i64),
    ),
    (
        "inspect_oldest_idle_seconds",
        "The longest time an open connection has gone without data",
        Read::Seconds(|row| row.oldest_idle_seconds),
    ),
    (
        "inspect_connections_opened",
        "Connections seen opened since the watch began (a lower bound)",
        Read::Counter(|row| row.opened),
    ),
    (
        "inspect_connections_gone",
        "Connections seen gone since the watch began (a lower bound)",
        Read::Counter(|row| row.gone),
    ),
    (
        "inspect_connections_reused",
        "Connections seen used again after being idle, since the watch began",
        Read::Counter(|row| row.reused),
    ),
    (
        "inspect_leaking",
        "1 while the row's verdict is leaks, else 0",
        Read::Gauge(|row| i64::from(row.verdict == RowVerdict::Leaks)),
    ),
];

/// The snapshot as OpenMetrics text.
pub(crate) fn render(snapshot: &Snapshot) -> Result<String, std::fmt::Error> {
    let rows = &snapshot.rows;
    let mut registry = Registry::default();
    for (name, help, read) in METRICS {
        match read {
            Read::Gauge(read) => {
                let family = filled(rows, |gauge: &Gauge, row| {
                    gauge.set(read(row));
                });
                registry.register(name, help, family);
            }
            Read::Seconds(read) => {
                let family = filled(rows, |gauge: &Gauge<f64, AtomicU64>, row| {
                    gauge.set(read(row));
                });
                registry.register(name, help, family);
            }
            Read::Counter(read) => {
                let family = filled(rows, |counter: &Counter, row| {
                    counter.inc_by(read(row));
                });
                registry.register(name, help, family);
            }
        }
    }
    if let Some(sampled_at) = snapshot.sampled_at {
        let seconds = sampled_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let gauge = Gauge::<f64, AtomicU64>::default();
        gauge.set(seconds);
        registry.register(
            "inspect_last_sample_timestamp_seconds",
            "Unix time of the sample the other series come from",
            gauge,
        );
    }
    let dropped = Counter::<u64>::default();
    dropped.inc_by(snapshot.output_dropped);
    registry.register(
        "inspect_output_dropped",
        "Samples not written to standard output because nothing read it",
        dropped,
    );
    let mut text = String::new();
    encode(&mut text, &registry)?;
    Ok(text)
}

/// One metric's family: a series per row, labelled by its process,
/// direction and peer, each `set` from its row.
fn filled<M: Default>(rows: &[Row], set: impl Fn(&M, &Row)) -> Family<RowLabels, M> {
    let family = Family::<RowLabels, M>::default();
    for row in rows {
        let labels = RowLabels {
            pid: row.pid.to_string(),
            direction: row.direction.word().to_owned(),
            peer: row.peer.clone(),
        };
        set(&family.get_or_create(&labels), row);
    }
    family
}

/// Prometheus's text format 0.0.4: what a scraper that does not ask for
/// OpenMetrics reads, `curl` and `promtool check metrics` among them.
const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `openmetrics` in the format a scraper that sent `accept` reads: as it
/// is for one that asks for OpenMetrics (Prometheus does), else in the
/// text format 0.0.4, where a counter's `# HELP` and `# TYPE` name its
/// `_total` samples and nothing ends with `# EOF`. The samples are the
/// same in both.
fn negotiated(openmetrics: String, accept: Option<&str>) -> (&'static str, String) {
    if accept.is_some_and(|accept| accept.contains("application/openmetrics-text")) {
        return (CONTENT_TYPE_OPENMETRICS, openmetrics);
    }
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let counter_named = ["# HELP ", "# TYPE "].iter().find_map(|comment| {
            let (name, rest) = line.strip_prefix(comment)?.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{comment}{name}_total {rest}"))
        });
        text.push_str(counter_named.as_deref().unwrap_or(line));
        text.push('\n');
    }
    (CONTENT_TYPE_TEXT, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::process_watch::tests::leaking_row;
    use crate::observe::metrics::samples;

    #[tokio::test]
    async fn past_the_cap_a_scrape_is_refused_with_503_and_one_in_is_answered() {
        let exporter = Exporter {
            latest: Latest::default(),
            in_flight: Arc::new(Semaphore::new(MAX_REQUESTS_IN_FLIGHT)),
        };
        let held = exporter
            .in_flight
            .clone()
            .acquire_many_owned(MAX_REQUESTS_IN_FLIGHT as u32)
            .await
            .unwrap();
        let refused = metrics(State(exporter.clone()), HeaderMap::new()).await;
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        drop(held);
        let answered = metrics(State(exporter), HeaderMap::new()).await;
        assert_eq!(answered.status(), StatusCode::OK);
    }

    #[test]
    fn each_row_is_a_labelled_series_of_every_metric() {
        let snapshot = Snapshot {
            rows: vec![leaking_row()],
            sampled_at: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_250)),
            output_dropped: 3,
        };
        let scraped = samples(&render(&snapshot).unwrap());
        let labels = r#"{pid="4242",direction="out",peer="127.0.0.1:8080"}"#;
        let value = |name: &str| scraped[&format!("{name}{labels}")];
        assert_eq!(value("inspect_connections_open"), 400.0);
        assert_eq!(value("inspect_connections_idle"), 400.0);
        assert_eq!(value("inspect_connections_idle_used_once"), 400.0);
        assert_eq!(value("inspect_used_once_spread_seconds"), 20.0);
        assert_eq!(value("inspect_used_once_burst"), 5.0);
        assert_eq!(value("inspect_connections_reused_total"), 1.0);
        assert_eq!(value("inspect_oldest_idle_seconds"), 12.34);
        assert_eq!(value("inspect_connections_opened_total"), 3.0);
        assert_eq!(value("inspect_connections_gone_total"), 2.0);
        assert_eq!(value("inspect_leaking"), 1.0);
        assert_eq!(
            scraped["inspect_last_sample_timestamp_seconds"],
            1_700_000_000.25
        );
        assert_eq!(scraped["inspect_output_dropped_total"], 3.0);
    }

    #[test]
    fn a_scraper_that_does_not_ask_for_openmetrics_gets_the_text_format() {
        let snapshot = Snapshot {
            rows: vec![leaking_row()],
            ..Snapshot::default()
        };
        let openmetrics = render(&snapshot).unwrap();
        let (kind, text) = negotiated(openmetrics.clone(), Some("*/*"));
        assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
        assert!(text.contains("# TYPE inspect_connections_opened_total counter\n"));
        assert!(text.contains("# HELP inspect_connections_opened_total "));
        assert!(!text.contains("# EOF"));
        assert_eq!(samples(&text), samples(&openmetrics));
        let asked = "application/openmetrics-text;version=1.0.0,text/plain;q=0.5";
        assert_eq!(negotiated(openmetrics.clone(), Some(asked)).1, openmetrics);
    }
}
