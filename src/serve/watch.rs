//! What the dashboard polls: `GET /watch`, this server's figures, server
//! 1's, and what the settings in effect amount to.
//!
//! Each server keeps its own recent figures (a thread's
//! work); nothing else runs unless asked. A page's first `/watch` gets the
//! whole of both servers' histories, each later one what is new since the
//! last it had; server 1's come through [`crate::serve::server1_client`].

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{Extension, State};
use serde::Serialize;

use crate::observe::ends::Ends;
use crate::observe::history::{Tick, now_ms};
use crate::scenario::seen::{Point, Seen};
use crate::scenario::{self, Expectation, Scenario, amounts_to, in_effect};
use crate::serve::figures::{Figures, Since};
use crate::serve::role::{role, whoami};
use crate::serve::server1_client::Server1View;
use crate::serve::state::AppState;
use crate::serve::told::figures_of;
use crate::settings::knobs::{ClientLifetime, Knobs, Side};

/// What `/watch` answers.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Watch {
    /// The role this server plays, decided at each poll (see [`role`]).
    pub(crate) role: Side,
    /// The role, and what follows from it for the page, in words.
    pub(crate) whoami: String,
    /// This server's clock, in milliseconds since the Unix epoch: the
    /// chart's "now".
    pub(crate) now_ms: u64,
    pub(crate) this: Figures,
    /// Server 1, seen from server 2; `None` on server 1.
    pub(crate) server1: Option<Server1View>,
    /// The registry's entries that the settings of both servers put in
    /// effect; the leak itself when none.
    pub(crate) in_effect: Vec<Entry>,
    /// What they amount to: the settings' prediction, not what was seen.
    pub(crate) amounts_to: Expectation,
    /// What the counts showed over server 2's last requests, read from
    /// both servers' histories; `None` on server 1, or before enough
    /// requests.
    pub(crate) seen: Option<Seen>,
    /// The registry's settings, for the page's switches.
    pub(crate) switchable: Vec<Switchable>,
    /// Set when this server's retainer cannot see connections close: what
    /// that means for the prediction.
    pub(crate) blind: Option<&'static str>,
}

/// One registry entry's setting, as a switch on the page.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Switchable {
    pub(crate) name: &'static str,
    pub(crate) side: Side,
    pub(crate) setting: &'static str,
    /// The entry's value: the fix.
    pub(crate) value: &'static str,
    /// The value it has when not given.
    pub(crate) default: &'static str,
    /// Its value on its server now, as spelled there; `None` when that
    /// server's settings are unknown.
    pub(crate) now: Option<String>,
    /// Whether the entry's value is in effect on its server now, compared
    /// as a value (`1000ms` is `1s`); `None` when that server's figures
    /// cannot be had.
    pub(crate) on: Option<bool>,
}

/// One entry of the registry, as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Entry {
    pub(crate) name: &'static str,
    pub(crate) label: String,
    pub(crate) go: &'static str,
    pub(crate) rust: &'static str,
    pub(crate) expectation: Expectation,
}

impl From<&Scenario> for Entry {
    fn from(scenario: &Scenario) -> Self {
        let expectation = scenario.expectation();
        Entry {
            name: scenario.name,
            label: scenario.label(),
            go: scenario.go,
            rust: scenario.rust,
            expectation,
        }
    }
}

/// What the page says when this server's retainer is blind.
const BLIND: &str = "this server's retainer cannot see connections close (no socket \
                     diagnostics, no /proc/net/tcp, or CONNECTION_CHECK=none): every client \
                     it holds stays held until shutdown, whatever closes its connection";

/// Each side's figures and knobs, where known.
struct Sides<'a> {
    role: Side,
    this: &'a Figures,
    this_knobs: Knobs,
    server1: Option<&'a Figures>,
    server1_knobs: Option<Knobs>,
}

impl Sides<'_> {
    /// The figures and knobs of `side`, where known.
    fn of(&self, side: Side) -> Option<(&Figures, Knobs)> {
        match (self.role, side) {
            (Side::Server2, Side::Server2) | (Side::Server1, Side::Server1) => {
                Some((self.this, self.this_knobs))
            }
            (Side::Server2, Side::Server1) => self.server1.zip(self.server1_knobs),
            (Side::Server1, Side::Server2) => None,
        }
    }
}

/// This server's figures, server 1's, and what the settings amount to.
/// `local` is the address the asking connection came to: this server's own
/// socket.
pub(crate) async fn watch(state: &AppState, local: SocketAddr, since: Since) -> Watch {
    let this = figures_of(state, since.since);
    // Server 1 is fetched unless it is this very server: a page shows what
    // a server can do, whatever one request made it look like.
    let own_socket = state.server1.is_at(local);
    let fetched = match own_socket {
        true => None,
        false => {
            let forwarded = state.metrics.forward.requests();
            Some(state.server1.fetch(since.server1_since, forwarded).await)
        }
    };
    let role = role(&state.metrics, own_socket, fetched.as_ref());
    let server1 = fetched.filter(|_| role == Side::Server2);
    let server1_figures = server1.as_ref().and_then(|u| u.figures.as_ref());
    let sides = Sides {
        role,
        this: &this,
        this_knobs: state.live.knobs(),
        server1: server1_figures,
        server1_knobs: server1_figures
            .map(|figures| Knobs::spelled(figures.knobs.iter().map(|(&k, v)| (k, v.as_str())))),
    };
    let effective = match role {
        Side::Server1 => in_effect(Some(&sides.this_knobs), None),
        Side::Server2 => in_effect(sides.server1_knobs.as_ref(), Some(&sides.this_knobs)),
    };
    // A blind retainer changes no count the verdict reads: the connections
    // still close, and their tasks with them (the demo built without the
    // kernel's view reads every entry as it does with it); only the
    // clients stay held, which the page says beside the prediction.
    let blind = role == Side::Server2
        && state.metrics.forward.is_blind()
        && sides.this_knobs.client_lifetime == ClientLifetime::Connection;
    let predicted = amounts_to(&effective);
    let switchable = switchable(&sides);
    Watch {
        role,
        whoami: whoami(role, server1.as_ref()),
        now_ms: now_ms(),
        amounts_to: predicted,
        seen: server1.as_ref().and_then(|_| seen(state)),
        blind: blind.then_some(BLIND),
        in_effect: effective.into_iter().map(Entry::from).collect(),
        switchable,
        this,
        server1,
    }
}

/// What the counts showed, read from this server's history as server 2's
/// and its mirror of server 1's.
fn seen(state: &AppState) -> Option<Seen> {
    Seen::over(
        &points(&state.history.after(None), |s| s.read.forwarded),
        &points(&state.server1.history(), |s| s.read.answered),
    )
}

/// `GET /watch`: this server's figures, server 1's, and what the settings
/// amount to.
pub(crate) async fn get_watch(
    State(state): State<AppState>,
    Extension(ends): Extension<Ends>,
    since: Since,
) -> Json<Watch> {
    Json(watch(&state, ends.local, since).await)
}

/// Each role's samples as the verdict reads them: server 2's by its
/// `/forward`s, server 1's by its `/hello`s.
fn points(samples: &[Tick], requests: fn(&Tick) -> u64) -> Vec<Point> {
    samples
        .iter()
        .map(|sample| Point {
            requests: requests(sample),
            tasks: usize::try_from(sample.read.tasks).unwrap_or(usize::MAX),
        })
        .collect()
}

/// Every registry entry that sets something, as a switch, with its value
/// now and whether it is on, by its side's figures and knobs.
fn switchable(sides: &Sides) -> Vec<Switchable> {
    scenario::ALL
        .iter()
        .filter_map(|scenario| {
            let setting = scenario.setting?;
            let known = sides.of(setting.side());
            let on = known.map(|(_, knobs)| {
                let mut switched = knobs;
                setting.knob.set(&mut switched, setting.value).is_ok() && switched == knobs
            });
            Some(Switchable {
                name: scenario.name,
                side: setting.side(),
                setting: setting.knob.env(),
                value: setting.value,
                default: setting.knob.default_value(),
                now: known.and_then(|(figures, _)| figures.knobs.get(&setting.knob).cloned()),
                on,
            })
        })
        .collect()
}
