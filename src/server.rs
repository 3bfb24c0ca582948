//! Both roles in one server: which one a copy plays depends only on which
//! route is called, exactly as in the Go original.
//!
//! The accept loop is this module's own rather than `axum::serve`, for two
//! things `serve` cannot do: an idle timeout on inbound connections
//! (`SERVER_IDLE_TIMEOUT`), and a bounded graceful shutdown that also lets
//! go of the clients the retainer holds.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{any, get};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::forward::{Forwarder, forward};
use crate::hello::{HelloOptions, hello};
use crate::metrics::{Metrics, MetricsState, scrape};

/// How long a shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long the accept loop rests after an error such as running out of
/// file descriptors, instead of spinning on it.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    /// The address could not be listened on (in use, not local, ...).
    Listen {
        address: String,
        source: std::io::Error,
    },
    /// The shared client of `CLIENT_LIFETIME=process` could not be built.
    BuildClient(reqwest::Error),
    /// The TLS configuration could not be built.
    #[cfg(feature = "tls")]
    Tls(String),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Listen { address, source } => {
                write!(f, "cannot listen on {address}: {source}")
            }
            StartError::BuildClient(err) => write!(f, "cannot build the upstream client: {err}"),
            #[cfg(feature = "tls")]
            StartError::Tls(err) => f.write_str(err),
        }
    }
}

impl std::error::Error for StartError {}

/// The router: `/hello` and `/forward`, any method, and `GET /metrics`.
pub fn app(
    hello_options: HelloOptions,
    metrics: Arc<Metrics>,
    forwarder: Arc<Forwarder>,
) -> Router {
    let metrics_state = MetricsState {
        metrics,
        forwarder: forwarder.clone(),
    };
    Router::new()
        .route("/hello", any(hello))
        .with_state(hello_options)
        .merge(
            Router::new()
                .route("/forward", any(forward))
                .with_state(forwarder),
        )
        .merge(
            Router::new()
                .route("/metrics", get(scrape))
                .with_state(metrics_state),
        )
}

/// Listens where the configuration says.
pub fn listen(config: &Config) -> Result<TcpListener, StartError> {
    config
        .bind_address
        .listen()
        .map_err(|source| StartError::Listen {
            address: config.bind_address.to_string(),
            source,
        })
}

/// Reads the address out of the start-up line (`listening address=...`),
/// as the demo and the tests do with a server they started on port 0.
pub fn listening_address(log_line: &str) -> Option<SocketAddr> {
    let (_, rest) = log_line.split_once("listening address=")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Serves on an already bound `listener` until `shutdown` completes, then
/// stops accepting, lets requests in flight finish (for up to 10 s) and
/// drops the retained clients, which closes their connections.
///
/// The listener is bound by the caller so that tests can bind port 0 and
/// know the address before anything runs.
pub async fn run(
    listener: TcpListener,
    config: &Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    #[cfg(feature = "tls")]
    crate::tls::init(config.upstream_ca_file.as_ref()).map_err(StartError::Tls)?;
    let metrics = Arc::new(Metrics::new());
    let forwarder = Arc::new(
        Forwarder::new(
            config.upstream_url.clone(),
            config.client_settings(),
            config.client_lifetime,
            metrics.forward.clone(),
        )
        .map_err(StartError::BuildClient)?,
    );
    let hello_options = HelloOptions {
        connection_close: config.connection_close,
    };
    let router = app(hello_options, metrics.clone(), forwarder.clone());
    let service = TowerToHyperService::new(router);
    let http = http_builder(config.server_idle_timeout());
    let address = listener
        .local_addr()
        .map_or_else(|_| config.bind_address.to_string(), |a| a.to_string());
    // The start-up line: `listening_address` reads it back.
    tracing::info!(
        %address,
        upstream = %config.upstream_url,
        client_lifetime = %config.client_lifetime,
        disable_keep_alives = config.disable_keep_alives,
        idle_conn_timeout = ?config.idle_conn_timeout,
        max_idle_conns_per_host = ?config.max_idle_conns_per_host,
        connection_close = config.connection_close,
        request_timeout = ?config.request_timeout,
        server_idle_timeout = ?config.server_idle_timeout,
        "listening"
    );

    let connections = GracefulShutdown::new();
    let mut accept_trouble = AcceptTrouble::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => {
                accept_trouble.recovered();
                stream
            }
            Err(err) => {
                accept_trouble.failed(&err);
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let open = metrics.connection_opened();
        let connection = http.serve_connection(TokioIo::new(stream), service.clone());
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            // The connection counts as open for as long as this task runs.
            let _open = open;
            if let Err(err) = connection.await {
                // Resets, malformed requests, idle timeouts: the client's
                // business, not the server's.
                tracing::debug!(%err, "connection ended with an error");
            }
        });
    }

    drop(listener);
    forwarder.release_clients();
    let in_flight = connections.count();
    tracing::info!(in_flight, "stopped accepting; finishing requests in flight");
    if tokio::time::timeout(SHUTDOWN_GRACE, connections.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?SHUTDOWN_GRACE, "connections still open after the grace period");
    }
    Ok(())
}

/// The HTTP/1 settings of every inbound connection.
fn http_builder(idle_timeout: Option<Duration>) -> http1::Builder {
    let mut http = http1::Builder::new();
    match idle_timeout {
        // Go's `http.Server.IdleTimeout`. hyper's header read timeout runs
        // from the moment it waits for a request head, between requests
        // too, so it closes a keep-alive connection idle this long, and one
        // whose head trickles in slower than this. It needs a timer.
        Some(timeout) => {
            http.timer(TokioTimer::new()).header_read_timeout(timeout);
        }
        // Go's default: an idle connection stays open for ever. That is the
        // lesson on server 1, so no timer and no header timeout.
        None => {
            http.header_read_timeout(None);
        }
    }
    http
}

/// Logs accept failures once per episode, not once per retry.
#[derive(Debug, Default)]
struct AcceptTrouble {
    failing: bool,
}

impl AcceptTrouble {
    fn failed(&mut self, err: &io::Error) {
        if !self.failing {
            self.failing = true;
            let hint = if crate::error::is_out_of_descriptors(err) {
                "; every leaked connection holds a file descriptor"
            } else {
                ""
            };
            tracing::warn!(%err, "cannot accept connections{hint}; retrying every 100 ms");
        }
    }

    fn recovered(&mut self) {
        if self.failing {
            self.failing = false;
            tracing::info!("accepting connections again");
        }
    }
}
