//! Server 2's role: `/forward`, which calls server 1 with a client built
//! for the purpose, as the Go original does on every request.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
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
use crate::settings::check_with::CheckWith;
use crate::settings::knobs::ClientLifetime;
use crate::settings::live::Live;

/// `/forward`'s body: this server's count, then server 1's whole answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Forwarded {
    #[serde(rename = "goRoutines")]
    pub(crate) go_routines: usize,
    #[serde(rename = "server1Response")]
    pub(crate) server1_response: Hello,
}

/// Calls server 1 for each `/forward` request, with a client whose
/// lifetime and knobs are the ones in effect when the request comes.
#[derive(Debug)]
pub(crate) struct Forwarder {
    upstream: Url,
    live: Arc<Live>,
    /// Clients built per request and left with a connection open, held as
    /// long as Go would hold their transports: every client built while
    /// `CLIENT_LIFETIME=connection`, whatever the lifetime is now.
    retainer: Retainer,
    /// The one client of `CLIENT_LIFETIME=process`, while it is in effect.
    shared: ArcSwapOption<Client>,
    metrics: ForwardMetrics,
    /// This server's mark on what it forwards.
    hop: Hop,
}

impl Forwarder {
    /// Builds the shared client at once when the lifetime asks for one.
    pub(crate) fn new(
        upstream: Url,
        live: Arc<Live>,
        check: CheckWith,
        metrics: ForwardMetrics,
    ) -> reqwest::Result<Self> {
        let forwarder = Forwarder {
            upstream,
            live,
            retainer: Retainer::new(check, metrics.retainer_blind.clone()),
            shared: ArcSwapOption::empty(),
            metrics,
            hop: Hop::default(),
        };
        forwarder.renew_shared()?;
        Ok(forwarder)
    }

    /// Builds the shared client anew from the knobs now when
    /// `CLIENT_LIFETIME` is `process`, and drops it when it is not: at
    /// start, and after a switch of any knob of the client's
    /// ([`crate::settings::on_switch::OnSwitch::RenewSharedClient`]). The
    /// client it replaces goes when the last request using it ends, which
    /// closes its idle connection. Clients the retainer holds stay held.
    pub(crate) fn renew_shared(&self) -> reqwest::Result<()> {
        let knobs = self.live.knobs();
        match knobs.client_lifetime {
            ClientLifetime::Process => match ClientSettings::from(&knobs).build() {
                Ok(client) => self.shared.store(Some(Arc::new(client))),
                // Each request then builds its own, with the knobs now.
                Err(err) => {
                    self.shared.store(None);
                    return Err(err);
                }
            },
            ClientLifetime::Connection | ClientLifetime::Request => self.shared.store(None),
        }
        Ok(())
    }

    /// Lets go of every client held, which closes their connections: part
    /// of a clean shutdown.
    pub(crate) fn release_clients(&self) {
        self.retainer.clear();
        self.shared.store(None);
    }

    /// This process's name, as it marks `Via`.
    pub(crate) fn instance(&self) -> &str {
        self.hop.pseudonym()
    }

    /// How many clients the retainer holds now.
    pub(crate) fn held_clients(&self) -> usize {
        self.retainer.len()
    }

    /// POSTs to server 1 and nests its answer in this server's, and counts
    /// how it went: every request in exactly one outcome, `cancelled` when
    /// the caller went away before the end.
    pub(crate) async fn answer(&self, headers: &HeaderMap) -> Result<Forwarded, ForwardError> {
        let mut counted = Counted {
            metrics: &self.metrics,
            outcome: Outcome::cancelled,
        };
        let result = self.relay(headers).await;
        counted.outcome = match &result {
            Ok(_) => Outcome::ok,
            Err(err) => err.outcome(),
        };
        result
    }

    async fn relay(&self, headers: &HeaderMap) -> Result<Forwarded, ForwardError> {
        // Before any client or connection: a loop must cost nothing.
        if let Some(via) = self.hop.seen_in(headers) {
            return Err(ForwardError::Loop { via });
        }
        let knobs = self.live.knobs();
        let settings = ClientSettings::from(&knobs);
        let shared = match knobs.client_lifetime {
            ClientLifetime::Process => self.shared.load_full(),
            ClientLifetime::Connection | ClientLifetime::Request => None,
        };
        let client = match &shared {
            Some(client) => Client::clone(client),
            None => {
                self.metrics.clients_built.inc();
                settings.build().map_err(ForwardError::BuildClient)?
            }
        };
        let via = self.hop.via_upstream(headers);
        let head_limit = settings.response_header_timeout;
        let (exchange, answer) = post_hello(&client, &self.upstream, &via, head_limit).await;
        match (shared, knobs.client_lifetime) {
            (Some(_), _) => {}
            // The Go original's lifetime: see the retainer for why Rust
            // needs this to leak at all.
            (None, ClientLifetime::Connection) => self.retainer.keep(client, &settings, exchange),
            // Rust's own lifetime: dropping the last handle to a client
            // drops its pool, which closes the idle connection now.
            (None, _) => drop(client),
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
pub(crate) async fn answer_forward(
    State(forwarder): State<Arc<Forwarder>>,
    headers: HeaderMap,
) -> Result<Response, ForwardError> {
    let forwarded = forwarder.answer(&headers).await?;
    Ok(json_answer("/forward", &forwarded))
}
