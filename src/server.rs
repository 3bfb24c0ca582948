//! Both roles in one server: which one a copy plays depends only on which
//! route is called, exactly as in the Go original.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::any;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::forward::{Forwarder, forward};
use crate::hello::{HelloOptions, hello};

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
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Listen { address, source } => {
                write!(f, "cannot listen on {address}: {source}")
            }
            StartError::BuildClient(err) => write!(f, "cannot build the upstream client: {err}"),
        }
    }
}

impl std::error::Error for StartError {}

/// The router: `/hello` and `/forward`, any method.
pub fn app(config: &Config) -> Result<Router, StartError> {
    let hello_options = HelloOptions {
        connection_close: config.connection_close,
    };
    let forwarder = Forwarder::new(
        config.upstream_url.clone(),
        config.client_settings(),
        config.client_lifetime,
    )
    .map_err(StartError::BuildClient)?;
    Ok(Router::new()
        .route("/hello", any(hello))
        .with_state(hello_options)
        .merge(
            Router::new()
                .route("/forward", any(forward))
                .with_state(Arc::new(forwarder)),
        ))
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

/// Serves on an already bound `listener` until `shutdown` completes.
///
/// The listener is bound by the caller so that tests can bind port 0 and
/// know the address before anything runs.
pub async fn run(
    listener: TcpListener,
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let app = app(config)?;
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
        "listening"
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| StartError::Listen { address, source })
}
