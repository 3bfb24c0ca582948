//! Listening and serving: the accept loop.
//!
//! The loop is this module's own rather than `axum::serve`, for two things
//! `serve` cannot do: an idle timeout on inbound connections
//! (`SERVER_IDLE_TIMEOUT`), and a bounded graceful shutdown that also lets
//! go of the clients the retainer holds.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::failure::is_out_of_descriptors;
use crate::observe::ends::Ends;
use crate::observe::history::{History, Reading};
use crate::observe::metrics::Metrics;
use crate::observe::tasks::alive_tasks_in;
use crate::roles::forward::Forwarder;
use crate::serve::in_flight::{InFlight, Routes, Wrapped};
use crate::serve::inbound::{Inbound, InboundSocket};
use crate::serve::router::app;
use crate::serve::server1_client::Server1Client;
use crate::serve::state::AppState;
use crate::serve::switch_log::SwitchLog;
use crate::settings::Config;
use crate::settings::given::Given;
use crate::settings::live::Live;

/// How long the accept loop rests after an error such as running out of
/// file descriptors, instead of spinning on it.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address could not be listened on (not local, ...).
    #[error("cannot listen on {address}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    /// Another program listens there already: most often the other
    /// server of the pair, started with the same `BIND_ADDRESS`.
    #[error(
        "cannot listen on {address}: its port is in use, perhaps by the other server; \
         give this one another port with BIND_ADDRESS (server 2 takes BIND_ADDRESS=:9090)"
    )]
    InUse { address: String },
    /// The shared client of `CLIENT_LIFETIME=process` could not be built.
    #[error("cannot build the upstream client")]
    BuildClient(#[source] reqwest::Error),
    /// The TLS configuration could not be built.
    #[cfg(feature = "tls")]
    #[error("{0}")]
    Tls(String),
}

/// Listens where the configuration says.
pub fn listen(config: &Config) -> Result<TcpListener, StartError> {
    config.bind_address.listen().map_err(|source| {
        let address = config.bind_address.to_string();
        match source.kind() {
            std::io::ErrorKind::AddrInUse => StartError::InUse { address },
            _ => StartError::Listen { address, source },
        }
    })
}

/// One server, both roles, built from its configuration and ready to
/// serve on a listener.
pub struct Server {
    serving: Serving,
    metrics: Arc<Metrics>,
    forwarder: Arc<Forwarder>,
    grace: Duration,
}

/// What every inbound connection is served with: the routes, the
/// connection's deadlines, the count of requests in flight, and the knobs
/// every answer reads.
#[derive(Clone)]
pub struct Serving {
    routes: Routes,
    inbound: Arc<Inbound>,
    in_flight: InFlight,
    live: Arc<Live>,
}

impl Serving {
    /// The routes alone, as hyper calls them: what `examples/layers.rs`
    /// measures without the connection's wrapper.
    pub fn routes(&self) -> Routes {
        self.routes.clone()
    }

    /// One connection, `io` with the ends `ends`: its socket, which keeps
    /// this server's deadlines, and its routes, wrapped.
    pub fn connection<IO>(&self, io: IO, ends: Ends) -> (InboundSocket<IO>, Wrapped) {
        let socket = self.inbound.wrap(io);
        let service = Wrapped {
            routes: self.routes.clone(),
            ends,
            in_flight: self.in_flight.clone(),
            live: self.live.clone(),
            head_read: socket.head_read(),
        };
        (socket, service)
    }
}

impl Server {
    /// The routes of both roles, with what they share; `settings` are the
    /// settings as given at start, for the dashboard.
    pub fn build(config: &Config, settings: &Given) -> Result<Server, StartError> {
        #[cfg(feature = "tls")]
        crate::roles::tls::init(config.upstream_ca_file.as_ref()).map_err(StartError::Tls)?;
        let metrics = Arc::new(Metrics::new());
        let live = Arc::new(Live::new(config.knobs, settings));
        let forwarder = Arc::new(
            Forwarder::new(
                config.upstream_url.clone(),
                live.clone(),
                config.connection_check,
                metrics.forward.clone(),
            )
            .map_err(StartError::BuildClient)?,
        );
        let inbound = Arc::new(Inbound::new(live.clone()));
        let state = AppState {
            history: sampled_history(&metrics, &forwarder),
            given: Arc::new(settings.clone()),
            server1: Arc::new(Server1Client::new(&config.upstream_url)),
            switch_log: Arc::new(SwitchLog::new(metrics.settings_switched.clone())),
            switch_policy: config.switch_policy,
            extra_hosts: config.extra_hosts.clone(),
            live: live.clone(),
            metrics: metrics.clone(),
            forwarder: forwarder.clone(),
            inbound: inbound.clone(),
        };
        Ok(Server {
            serving: Serving {
                routes: TowerToHyperService::new(app(state)),
                inbound,
                in_flight: InFlight::default(),
                live,
            },
            metrics,
            forwarder,
            grace: config.shutdown_grace,
        })
    }

    /// What its connections are served with.
    pub fn serving(&self) -> &Serving {
        &self.serving
    }

    /// Serves on an already bound `listener` until a future made by
    /// `shutdown` completes. Then it stops accepting, drops the held
    /// clients, which closes their idle connections, and lets requests in
    /// flight finish for up to `SHUTDOWN_GRACE`, unless a second
    /// `shutdown` completes first.
    pub async fn run<F: Future<Output = ()>>(
        self,
        listener: TcpListener,
        shutdown: impl Fn() -> F,
    ) -> Stopped {
        let in_flight = self.serving.in_flight.clone();
        let listener = Listener {
            listener,
            http: http_builder(),
            metrics: self.metrics,
            serving: self.serving,
            connections: GracefulShutdown::new(),
            trouble: AcceptTrouble::default(),
        };
        let connections = listener.run(shutdown()).await;
        self.forwarder.release_clients();
        drain(connections, &in_flight, self.grace, shutdown()).await
    }
}

/// This server's history, sampled each second from its own counters by a
/// thread that holds none of them: it ends at its first tick after the
/// server is gone. Without a runtime to count the tasks of, no history.
fn sampled_history(metrics: &Arc<Metrics>, forwarder: &Arc<Forwarder>) -> Arc<History> {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return Arc::default();
    };
    let (metrics, forwarder) = (Arc::downgrade(metrics), Arc::downgrade(forwarder));
    History::sampled(move || {
        let (metrics, forwarder) = (metrics.upgrade()?, forwarder.upgrade()?);
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        Some(Reading {
            tasks: count(alive_tasks_in(&runtime)),
            connections: metrics.open_connections(),
            clients_held: count(forwarder.held_clients()),
            forwarded: metrics.forward.requests(),
            answered: metrics.hello_answers.get(),
        })
    })
}

/// The accept loop: a task for each inbound connection.
struct Listener {
    listener: TcpListener,
    http: http1::Builder,
    metrics: Arc<Metrics>,
    serving: Serving,
    /// Every connection, so that the shutdown can wait for them.
    connections: GracefulShutdown,
    trouble: AcceptTrouble,
}

impl Listener {
    /// Accepts until `stop` completes; then hands over the connections
    /// still open. Dropping the listener stops accepting.
    async fn run(mut self, stop: impl Future<Output = ()>) -> GracefulShutdown {
        tokio::pin!(stop);
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                () = &mut stop => return self.connections,
            };
            match accepted {
                Ok((stream, remote)) => {
                    self.trouble.recovered();
                    let local = stream.local_addr().unwrap_or(remote);
                    self.serve(stream, Ends { local, remote });
                }
                Err(err) => {
                    self.trouble.failed(&err);
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }

    /// Serves one connection on a task of its own.
    fn serve(&self, stream: tokio::net::TcpStream, ends: Ends) {
        let open = self.metrics.connection_opened();
        let (stream, service) = self.serving.connection(stream, ends);
        let connection = self.http.serve_connection(TokioIo::new(stream), service);
        let connection = self.connections.watch(connection);
        tokio::spawn(async move {
            // The connection counts as open for as long as this task runs.
            let _open = open;
            if let Err(err) = connection.await {
                // Resets, malformed requests: the client's business, not
                // the server's.
                tracing::debug!(%err, "connection ended with an error");
            }
        });
    }
}

/// Lets the requests in flight finish, for up to `grace`, unless `now`
/// completes first.
async fn drain(
    connections: GracefulShutdown,
    in_flight: &InFlight,
    grace: Duration,
    now: impl Future<Output = ()>,
) -> Stopped {
    tracing::info!(
        connections = connections.count(),
        requests = in_flight.now(),
        ?grace,
        "shutting down: stopped accepting, finishing requests in flight; \
         Ctrl-C again stops at once"
    );
    tokio::select! {
        finished = tokio::time::timeout(grace, connections.shutdown()) => {
            let requests = in_flight.now();
            if finished.is_ok() || requests == 0 {
                Stopped::Gracefully
            } else {
                tracing::warn!(?grace, requests, "the grace period cut requests still in flight");
                Stopped::CutShort { requests }
            }
        }
        () = now => {
            tracing::warn!("stopping at once");
            Stopped::AtOnce
        }
    }
}

/// How the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every request in flight finished within the grace period.
    Gracefully,
    /// The grace period ran out with these requests still in flight.
    CutShort { requests: usize },
    /// A second signal came during the grace period.
    AtOnce,
}

/// The HTTP/1 settings of every inbound connection: no timer, so no
/// timeout of hyper's own. hyper 1 applies a 30 s header-read timeout to
/// every connection once it has a timer, which would end the leak on its
/// own after 30 s idle; Go's zero `http.Server` waits for ever. The
/// deadlines are the port's own (see [`crate::serve::inbound`]): the idle
/// timeout, `SERVER_IDLE_TIMEOUT`'s or, while it is 0,
/// `SERVER_READ_TIMEOUT`'s, read as each wait begins; and
/// `SERVER_READ_TIMEOUT`'s on each request's head and body.
fn http_builder() -> http1::Builder {
    let mut http = http1::Builder::new();
    http.header_read_timeout(None);
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
            let hint = if is_out_of_descriptors(err) {
                "; every leaked connection holds a file descriptor"
            } else {
                ""
            };
            tracing::warn!(%err, retry_every = ?ACCEPT_BACKOFF, "cannot accept connections{hint}");
        }
    }

    fn recovered(&mut self) {
        if self.failing {
            self.failing = false;
            tracing::info!("accepting connections again");
        }
    }
}
