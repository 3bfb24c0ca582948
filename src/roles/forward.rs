//! Server 2's role: `/forward`, which calls server 1 with a client built
//! for the purpose, as the Go original does on every request.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use reqwest::{Client, Url};
use serde::{Deserialize, Serialize};

use crate::observe::metrics::{ForwardMetrics, Outcome};
use crate::observe::tasks::alive_tasks;
use crate::roles::client_settings::ClientSettings;
use crate::roles::forward_error::ForwardError;
use crate::roles::hello::Hello;
use crate::roles::json_answer::json_answer;
use crate::roles::retainer::Retainer;
use crate::roles::upstream::post_hello;
use crate::roles::via::Hop;
use crate::settings::ClientLifetime;

/// `/forward`'s body: this server's count, then server 1's whole answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forwarded {
    #[serde(rename = "goRoutines")]
    pub go_routines: usize,
    #[serde(rename = "server1Response")]
    pub server1_response: Hello,
}

/// Calls server 1 for each `/forward` request.
#[derive(Debug)]
pub struct Forwarder {
    upstream: Url,
    settings: ClientSettings,
    clients: Clients,
    metrics: ForwardMetrics,
    /// This server's mark on what it forwards.
    hop: Hop,
}

/// Where each request's client comes from, and where it goes afterwards.
#[derive(Debug)]
enum Clients {
    /// Built per request, then held as long as Go would hold it.
    PerRequestRetained(Retainer),
    /// Built per request, dropped when the request is done.
    PerRequestDropped,
    /// Built once and shared by every request.
    Shared(Client),
}

impl Forwarder {
    /// Builds the shared client at once when the lifetime asks for one.
    pub fn new(
        upstream: Url,
        settings: ClientSettings,
        lifetime: ClientLifetime,
        metrics: ForwardMetrics,
    ) -> reqwest::Result<Self> {
        let clients = match lifetime {
            ClientLifetime::Connection => Clients::PerRequestRetained(Retainer::new()),
            ClientLifetime::Request => Clients::PerRequestDropped,
            ClientLifetime::Process => Clients::Shared(settings.build()?),
        };
        Ok(Forwarder {
            upstream,
            settings,
            clients,
            metrics,
            hop: Hop::default(),
        })
    }

    /// Lets go of every client the retainer holds, which closes their
    /// connections: part of a clean shutdown.
    pub fn release_clients(&self) {
        if let Clients::PerRequestRetained(retainer) = &self.clients {
            retainer.clear();
        }
    }

    /// This process's name, as it marks `Via`.
    pub fn instance(&self) -> &str {
        self.hop.pseudonym()
    }

    /// How many clients the retainer holds now.
    pub fn retained_clients(&self) -> usize {
        match &self.clients {
            Clients::PerRequestRetained(retainer) => retainer.len(),
            Clients::PerRequestDropped | Clients::Shared(_) => 0,
        }
    }

    /// POSTs to server 1 and nests its answer in this server's, and counts
    /// how it went: every request in exactly one outcome, `cancelled` when
    /// the caller went away before the end.
    pub async fn forward(&self, headers: &HeaderMap) -> Result<Forwarded, ForwardError> {
        let mut counted = Counted {
            metrics: &self.metrics,
            outcome: Outcome::cancelled,
        };
        let result = self.call_upstream(headers).await;
        counted.outcome = match &result {
            Ok(_) => Outcome::ok,
            Err(err) => err.outcome(),
        };
        result
    }

    async fn call_upstream(&self, headers: &HeaderMap) -> Result<Forwarded, ForwardError> {
        // Before any client or connection: a loop must cost nothing.
        if let Some(via) = self.hop.seen_in(headers) {
            return Err(ForwardError::Loop { via });
        }
        let client = match &self.clients {
            Clients::Shared(client) => client.clone(),
            Clients::PerRequestRetained(_) | Clients::PerRequestDropped => {
                self.metrics.clients_built.inc();
                self.settings.build().map_err(ForwardError::BuildClient)?
            }
        };
        let via = self.hop.via_upstream(headers);
        let (exchange, answer) = post_hello(&client, &self.upstream, &via).await;
        match &self.clients {
            // The Go original's lifetime: see the retainer for why Rust
            // needs this to leak at all.
            Clients::PerRequestRetained(retainer) => {
                retainer.keep(client, &self.settings, exchange);
            }
            // Rust's own lifetime: dropping the last handle to a client
            // drops its pool, which closes the idle connection now.
            Clients::PerRequestDropped => drop(client),
            Clients::Shared(_) => {}
        }
        Ok(Forwarded {
            go_routines: alive_tasks(),
            server1_response: answer.map_err(ForwardError::Upstream)?,
        })
    }
}

/// Counts a request in its outcome when dropped: at its end, or when the
/// caller goes away and the request's future is dropped with it.
struct Counted<'a> {
    metrics: &'a ForwardMetrics,
    outcome: Outcome,
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.metrics.ended(self.outcome);
    }
}

/// Answers any method with both servers' task counts.
pub async fn forward(
    State(forwarder): State<Arc<Forwarder>>,
    headers: HeaderMap,
) -> Result<Response, ForwardError> {
    let forwarded = forwarder.forward(&headers).await?;
    Ok(json_answer("/forward", &forwarded))
}
