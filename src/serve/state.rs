//! The one state every route is given, built once in `Server::build`:
//! each handler takes the part it needs, by axum's `FromRef`.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::roles::forward::Forwarder;
use crate::roles::hello::HelloState;
use crate::serve::switches::Switchboard;
use crate::serve::watch::Watched;
use crate::settings::config::{ExtraHosts, Switches};

/// What the routes share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// What `/figures`, `/watch` and `/metrics` read; its board is what a
    /// switch reaches.
    pub watched: Watched,
    /// What `/hello` reads and counts.
    pub hello: HelloState,
}

impl FromRef<AppState> for Watched {
    fn from_ref(state: &AppState) -> Watched {
        state.watched.clone()
    }
}

impl FromRef<AppState> for HelloState {
    fn from_ref(state: &AppState) -> HelloState {
        state.hello.clone()
    }
}

impl FromRef<AppState> for Arc<Switchboard> {
    fn from_ref(state: &AppState) -> Arc<Switchboard> {
        state.watched.board.clone()
    }
}

impl FromRef<AppState> for Arc<Forwarder> {
    fn from_ref(state: &AppState) -> Arc<Forwarder> {
        state.watched.board.forwarder.clone()
    }
}

impl FromRef<AppState> for Switches {
    fn from_ref(state: &AppState) -> Switches {
        state.watched.board.switches
    }
}

impl FromRef<AppState> for ExtraHosts {
    fn from_ref(state: &AppState) -> ExtraHosts {
        state.watched.board.extra_hosts.clone()
    }
}
