//! Switching settings on a running server: `GET /settings`, `PUT
//! /settings`, and on server 2 `PUT /upstream/settings`, which passes the
//! same switch on to server 1.
//!
//! A switch is the env vars' own names and Go spellings, checked as at
//! start, all or nothing. What it does to what exists already is Go's
//! answer for each knob: a client keeps the knobs it was built with, a
//! waiting connection the idle timeout it read when its wait began, and
//! `SERVER_KEEP_ALIVES=false` closes the connections waiting now.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::Serialize;
use serde_json::{Value, json};

use crate::observe::metrics::SwitchLabel;
use crate::roles::forward::Forwarder;
use crate::serve::inbound::Inbound;
use crate::serve::switch_guard::{Peer, may_switch};
use crate::serve::watch::UpstreamWatch;
use crate::settings::config::Switches;
use crate::settings::knobs::Knob;
use crate::settings::live::{Change, Live};

/// How many switches `/figures` and `/watch` show.
const HISTORY: usize = 32;

/// One switch, as the dashboard marks it on its time axis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Switched {
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub setting: String,
    pub old: String,
    pub value: String,
}

/// Everything a switch reaches.
#[derive(Debug)]
pub struct Switchboard {
    pub live: Arc<Live>,
    pub forwarder: Arc<Forwarder>,
    pub inbound: Arc<Inbound>,
    pub upstream: Arc<UpstreamWatch>,
    pub counted: Family<SwitchLabel, Counter>,
    pub switches: Switches,
    pub history: Mutex<VecDeque<Switched>>,
}

impl Switchboard {
    /// The last switches, oldest first.
    pub fn history(&self) -> Vec<Switched> {
        self.lock_history().iter().cloned().collect()
    }

    /// Makes `changes`, all or nothing, and what follows from each: the
    /// shared client built or dropped, waiting connections closed. Each
    /// change is logged, counted and kept in the history.
    fn switch(&self, changes: &[(String, String)]) -> Result<(), String> {
        let made = self.live.switch(changes)?;
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
        for Change { knob, old, new } in &made {
            tracing::info!(setting = knob.env(), %old, %new, "switched");
            self.counted
                .get_or_create(&SwitchLabel {
                    setting: knob.env().to_owned(),
                })
                .inc();
            let mut history = self.lock_history();
            if history.len() == HISTORY {
                history.pop_front();
            }
            history.push_back(Switched {
                at_ms,
                setting: knob.env().to_owned(),
                old: old.clone(),
                value: new.clone(),
            });
        }
        if made
            .iter()
            .any(|change| change.knob == Knob::ClientLifetime)
            && let Err(err) = self.forwarder.follow_lifetime()
        {
            tracing::warn!(%err, "cannot build the shared client; each request builds one");
        }
        if made
            .iter()
            .any(|change| change.knob == Knob::ServerKeepAlives)
            && !self.live.knobs().server_keep_alives
        {
            let closed = self.inbound.close_waiting();
            tracing::info!(closed, "closed the connections waiting for a next request");
        }
        Ok(())
    }

    fn lock_history(&self) -> std::sync::MutexGuard<'_, VecDeque<Switched>> {
        self.history.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `GET /settings`: every switchable setting's value now, as given.
pub async fn settings(
    State(board): State<Arc<Switchboard>>,
) -> Json<BTreeMap<&'static str, String>> {
    Json(board.live.current().given.clone())
}

/// `PUT /settings`: a JSON object of `"VAR": "value"` pairs.
pub async fn switch(
    State(board): State<Arc<Switchboard>>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some((status, why)) = refused(board.switches, peer, &headers) {
        return error(status, &why);
    }
    let changes = match changes_in(&body) {
        Ok(changes) => changes,
        Err(err) => return error(StatusCode::BAD_REQUEST, &err),
    };
    match board.switch(&changes) {
        Ok(()) => Json(board.live.current().given.clone()).into_response(),
        Err(err) => error(StatusCode::BAD_REQUEST, &err),
    }
}

/// `PUT /upstream/settings`: the same switch, passed on to server 1's
/// `/settings` through the client kept for watching it; server 1's answer
/// is this one.
pub async fn switch_upstream(
    State(board): State<Arc<Switchboard>>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some((status, why)) = refused(board.switches, peer, &headers) {
        return error(status, &why);
    }
    match board.upstream.relay_settings(body).await {
        Ok((status, answer)) => {
            (status, [(CONTENT_TYPE, "application/json")], answer).into_response()
        }
        Err(err) => error(StatusCode::BAD_GATEWAY, &err),
    }
}

/// Why a switch is refused before its body is read, if it is: who may
/// switch (403), and a JSON body (415).
fn refused(switches: Switches, peer: Peer, headers: &HeaderMap) -> Option<(StatusCode, String)> {
    if let Err(refusal) = may_switch(switches, peer, headers) {
        return Some((StatusCode::FORBIDDEN, refusal));
    }
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    (!json).then(|| {
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a switch is a JSON object sent with Content-Type: application/json".to_owned(),
        )
    })
}

/// The `(VAR, value)` pairs of a switch's body, in the variables' order.
fn changes_in(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let expected = "expected a JSON object of \"VAR\": \"value\" pairs, such as \
                    {\"DISABLE_KEEP_ALIVES\": \"true\"}";
    let object: serde_json::Map<String, Value> =
        serde_json::from_slice(body).map_err(|err| format!("invalid JSON ({err}); {expected}"))?;
    if object.is_empty() {
        return Err(format!("nothing to switch; {expected}"));
    }
    object
        .into_iter()
        .map(|(env, value)| match value {
            Value::String(value) => Ok((env, value)),
            other => Err(format!(
                "{env}: invalid value {other}: a value is a JSON string, such as \"true\" or \"1s\""
            )),
        })
        .collect()
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switch_is_an_object_of_strings() {
        assert_eq!(
            changes_in(br#"{"IDLE_CONN_TIMEOUT":"1s","DISABLE_KEEP_ALIVES":"T"}"#),
            Ok(vec![
                ("DISABLE_KEEP_ALIVES".to_owned(), "T".to_owned()),
                ("IDLE_CONN_TIMEOUT".to_owned(), "1s".to_owned())
            ])
        );
        for (body, expected) in [
            (&b"[1]"[..], "invalid JSON"),
            (b"{}", "nothing to switch"),
            (
                br#"{"DISABLE_KEEP_ALIVES":true}"#,
                "DISABLE_KEEP_ALIVES: invalid value true",
            ),
            (b"DISABLE_KEEP_ALIVES=true", "invalid JSON"),
        ] {
            let err = changes_in(body).unwrap_err();
            assert!(err.starts_with(expected), "{err}");
        }
    }
}
