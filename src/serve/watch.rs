//! The figures a person or a program watches: `GET /metrics` for a
//! scrape, `GET /figures` (this server's own) and `GET /watch` (this
//! server's, server 1's, and what the settings in effect amount to), which
//! the dashboard polls.
//!
//! Each server keeps its own recent figures ([`History`], a thread's
//! work); nothing else runs unless asked. A page's first `/watch` gets the
//! whole of both servers' histories, each later one what is new since the
//! last it had; server 1's come through [`crate::serve::server1_client`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::observe::history::{History, Sample, now_ms};
use crate::observe::metrics::{CONTENT_TYPE_OPENMETRICS, Metrics, Outcome, samples};
use crate::scenario::verdict::{Point, Seen};
use crate::scenario::{self, Expectation, Scenario, amounts_to, in_effect};
use crate::serve::figures::{Figures, Since};
use crate::serve::server1_client::Upstream;
use crate::serve::switch_guard::Peer;
use crate::serve::switches::Switchboard;
use crate::settings::knobs::{ClientLifetime, Knobs, Side};

/// What `/watch` answers.
#[derive(Debug, Clone, Serialize)]
pub struct Watch {
    /// The role this server plays, decided at each poll: `server1` when
    /// its `UPSTREAM_URL` is its own socket, or when it has answered
    /// `/hello`, forwarded nothing successfully and reaches no server 1;
    /// `server2` otherwise. No one stray request makes a server 2 that
    /// reaches its server 1 look like a server 1.
    pub role: Side,
    /// This server's clock, in milliseconds since the Unix epoch: the
    /// chart's "now".
    pub now_ms: u64,
    pub this: Figures,
    /// Server 1, seen from server 2; `None` on server 1.
    pub upstream: Option<Upstream>,
    /// The registry's entries that the settings of both servers put in
    /// effect; the leak itself when none.
    pub in_effect: Vec<Entry>,
    /// What they amount to: the settings' prediction, not what was seen.
    pub amounts_to: Expectation,
    /// What the counts showed over server 2's last requests, read from
    /// both servers' histories; `None` on server 1, or before enough
    /// requests.
    pub seen: Option<Seen>,
    /// The registry's settings, for the page's switches.
    pub switchable: Vec<Switchable>,
    /// Set when this server's retainer cannot see connections close: what
    /// that means for the prediction.
    pub blind: Option<&'static str>,
}

/// One registry entry's setting, as a switch on the page.
#[derive(Debug, Clone, Serialize)]
pub struct Switchable {
    pub name: &'static str,
    pub side: Side,
    pub setting: &'static str,
    /// The entry's value: the fix.
    pub value: &'static str,
    /// The value it has when not given.
    pub default: &'static str,
    /// Whether its value is in effect on its server now, compared as a
    /// value (`1000ms` is `1s`); `None` when that server's settings are
    /// unknown (a Go server 1).
    pub on: Option<bool>,
}

/// One entry of the registry, as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub name: &'static str,
    pub label: String,
    pub go: &'static str,
    pub rust: &'static str,
    pub expectation: Expectation,
}

impl From<&Scenario> for Entry {
    fn from(scenario: &Scenario) -> Self {
        Entry {
            name: scenario.name,
            label: scenario.label(),
            go: scenario.go,
            rust: scenario.rust,
            expectation: scenario.expectation(),
        }
    }
}

/// What both endpoints read.
#[derive(Debug, Clone)]
pub struct Watched {
    pub metrics: Arc<Metrics>,
    /// This server's recent figures.
    pub history: Arc<History>,
    /// The settings given at start, as `VAR=value`.
    pub settings: Arc<[String]>,
    /// The knobs now, and how they were switched.
    pub board: Arc<Switchboard>,
}

impl Watched {
    /// This server's figures now, with its history's samples after
    /// `since`.
    pub fn figures(&self, since: Option<u64>) -> Result<Figures, std::fmt::Error> {
        let forwarder = &self.board.forwarder;
        let text = self.metrics.render(forwarder.retained_clients())?;
        Ok(Figures {
            instance: forwarder.instance().to_owned(),
            settings: self.settings_now(),
            switches: self.board.history(),
            samples: samples(&text),
            history: self.history.after(since),
        })
    }

    /// The settings given at start, each knob's as it is now; not
    /// `EXTRA_HOSTS`, up to 64 names that every poll would repeat.
    fn settings_now(&self) -> Vec<String> {
        let current = self.board.live.current();
        self.settings
            .iter()
            .filter(|setting| !setting.starts_with("EXTRA_HOSTS="))
            .map(|setting| {
                let env = setting
                    .split_once('=')
                    .map_or(setting.as_str(), |(env, _)| env);
                match current.given.get(env) {
                    Some(value) => format!("{env}={value}"),
                    None => setting.clone(),
                }
            })
            .collect()
    }

    /// This server's figures, server 1's, and what the settings amount
    /// to. `local` is the address the asking connection came to: this
    /// server's own socket.
    pub async fn watch(&self, local: SocketAddr, since: Since) -> Result<Watch, std::fmt::Error> {
        let this = self.figures(since.since)?;
        // Server 1 is fetched unless it is this very server: a page shows
        // what a server can do, whatever one request made it look like.
        let own_socket = self.board.upstream.is_at(local);
        let fetched = match own_socket {
            true => None,
            false => {
                let forwarded = self.metrics.forward.requests();
                Some(
                    self.board
                        .upstream
                        .fetch(since.upstream_since, forwarded)
                        .await,
                )
            }
        };
        let role = self.role(own_socket, fetched.as_ref());
        let upstream = fetched.filter(|_| role == Side::Server2);
        let seen = upstream.as_ref().and_then(|_| {
            Seen::over(
                &points(&self.history.after(None), |s| s.forwarded),
                &points(&self.board.upstream.history(), |s| s.answered),
            )
        });
        let this_knobs = self.board.live.knobs();
        let upstream_knobs = upstream
            .as_ref()
            .and_then(|upstream| upstream.figures.as_ref())
            .map(|figures| Knobs::read(&figures.settings));
        let effective = match role {
            Side::Server1 => in_effect(Some(&this_knobs), None),
            Side::Server2 => in_effect(upstream_knobs.as_ref(), Some(&this_knobs)),
        };
        let mut predicted = amounts_to(&effective);
        let blind = role == Side::Server2
            && self.metrics.forward.is_blind()
            && this_knobs.client_lifetime == ClientLifetime::Connection;
        if blind && predicted == Expectation::ReclaimedAfterIdle {
            // The connections close, but their clients stay held.
            predicted = Expectation::Leaks;
        }
        Ok(Watch {
            role,
            now_ms: now_ms(),
            amounts_to: predicted,
            seen,
            blind: blind.then_some(
                "this server's retainer cannot see connections close (no socket diagnostics, \
                 no /proc/net/tcp, or CONNECTION_CHECK=none): every client it holds stays \
                 held until shutdown, whatever closes its connection",
            ),
            in_effect: effective.into_iter().map(Entry::from).collect(),
            switchable: switchable(|side| match (role, side) {
                (Side::Server2, Side::Server2) | (Side::Server1, Side::Server1) => Some(this_knobs),
                (Side::Server2, Side::Server1) => upstream_knobs,
                (Side::Server1, Side::Server2) => None,
            }),
            this,
            upstream,
        })
    }

    /// The role this server plays, from what it did and what it can
    /// reach: see [`Watch::role`].
    fn role(&self, own_socket: bool, upstream: Option<&Upstream>) -> Side {
        let forwarded = self.metrics.forward.ended_with(Outcome::ok);
        let answered = self.metrics.hello_answers.get();
        let reaches_server_1 = upstream.is_some_and(|upstream| upstream.figures.is_some());
        if own_socket || (forwarded == 0 && answered > 0 && !reaches_server_1) {
            Side::Server1
        } else {
            Side::Server2
        }
    }
}

/// `GET /metrics`: every metric, for a scrape.
pub async fn get_metrics(State(watched): State<Watched>) -> Response {
    let retained = watched.board.forwarder.retained_clients();
    match watched.metrics.render(retained) {
        Ok(text) => ([(CONTENT_TYPE, CONTENT_TYPE_OPENMETRICS)], text).into_response(),
        Err(err) => encoding_failed(err),
    }
}

/// `GET /figures`: this server's figures, as JSON, with its history's
/// samples after `?since=`.
pub async fn get_figures(State(watched): State<Watched>, since: Since) -> Response {
    match watched.figures(since.since) {
        Ok(figures) => Json(figures).into_response(),
        Err(err) => encoding_failed(err),
    }
}

/// `GET /watch`: this server's figures, server 1's, and what the settings
/// amount to.
pub async fn get_watch(
    State(watched): State<Watched>,
    Extension(peer): Extension<Peer>,
    since: Since,
) -> Response {
    match watched.watch(peer.local, since).await {
        Ok(watch) => Json(watch).into_response(),
        Err(err) => encoding_failed(err),
    }
}

fn encoding_failed(err: std::fmt::Error) -> Response {
    tracing::error!(%err, "could not encode the metrics");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// Each role's samples as the verdict reads them: server 2's by its
/// `/forward`s, server 1's by its `/hello`s.
fn points(samples: &[Sample], requests: fn(&Sample) -> u64) -> Vec<Point> {
    samples
        .iter()
        .map(|sample| Point {
            requests: requests(sample),
            tasks: usize::try_from(sample.tasks).unwrap_or(usize::MAX),
        })
        .collect()
}

/// Every registry entry that sets something, as a switch, each on or not
/// by `knobs_of` its side.
fn switchable(knobs_of: impl Fn(Side) -> Option<Knobs>) -> Vec<Switchable> {
    scenario::ALL
        .iter()
        .filter_map(|scenario| {
            let setting = scenario.setting?;
            let on = knobs_of(setting.side()).map(|knobs| {
                let mut switched = knobs;
                setting.knob.set(&mut switched, setting.value).is_ok() && switched == knobs
            });
            Some(Switchable {
                name: scenario.name,
                side: setting.side(),
                setting: setting.knob.env(),
                value: setting.value,
                default: setting.knob.default_value(),
                on,
            })
        })
        .collect()
}
