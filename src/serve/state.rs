//! The one state every route is given, built once in `Server::build`: one
//! field per part, and each handler takes the parts it needs by axum's
//! `FromRef`, one step each (a switch takes the four it acts on as one,
//! `Switchboard`). Two take the whole state, since they read most of it:
//! `/figures` six of its ten parts, `/watch` those and server 1.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::observe::history::History;
use crate::observe::metrics::Metrics;
use crate::roles::forward::Forwarder;
use crate::serve::inbound::Inbound;
use crate::serve::server1_client::Server1Client;
use crate::serve::switch_log::SwitchLog;
use crate::settings::extra_hosts::ExtraHosts;
use crate::settings::given::Given;
use crate::settings::live::Live;
use crate::settings::switch_policy::SwitchPolicy;

/// What the routes share.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    /// The knobs in effect, switchable.
    pub(crate) live: Arc<Live>,
    /// Every counter, for `/metrics` and `/figures`.
    pub(crate) metrics: Arc<Metrics>,
    /// This server's recent figures.
    pub(crate) history: Arc<History>,
    /// The settings given at start.
    pub(crate) given: Arc<Given>,
    /// `/forward`'s per-request clients and the retainer holding them.
    pub(crate) forwarder: Arc<Forwarder>,
    /// The inbound connections' deadlines, and those waiting now.
    pub(crate) inbound: Arc<Inbound>,
    /// Server 1, for its figures and for switches passed on to it.
    pub(crate) server1: Arc<Server1Client>,
    /// Who may switch a setting: `SWITCHES`.
    pub(crate) switch_policy: SwitchPolicy,
    /// Names this server answers to besides loopback ones: `EXTRA_HOSTS`.
    pub(crate) extra_hosts: ExtraHosts,
    /// The switches made, as logged, counted and shown.
    pub(crate) switch_log: Arc<SwitchLog>,
}

/// `FromRef<AppState>` for each part: a clone of its field.
macro_rules! parts {
    ($($field:ident: $type:ty),* $(,)?) => {
        $(
            impl FromRef<AppState> for $type {
                fn from_ref(state: &AppState) -> $type {
                    state.$field.clone()
                }
            }
        )*
    };
}

parts! {
    live: Arc<Live>,
    metrics: Arc<Metrics>,
    forwarder: Arc<Forwarder>,
    server1: Arc<Server1Client>,
    switch_policy: SwitchPolicy,
    extra_hosts: ExtraHosts,
}
