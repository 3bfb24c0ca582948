//! Switching settings on a running server: `GET /settings`, `PUT
//! /settings`, and on server 2 `PUT /upstream/settings`, which passes the
//! same switch on to server 1.
//!
//! A switch is the env vars' own names and Go spellings, checked as at
//! start, all or nothing. What it does to what exists already is Go's
//! answer for each knob: a client keeps the knobs it was built with, a
//! waiting connection the idle timeout it read when its wait began, and
//! `SERVER_KEEP_ALIVES=false` closes the connections waiting now.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::failure::shown;
use crate::roles::forward::Forwarder;
use crate::serve::access::{BODY_LIMIT, MayRelay, MaySwitch};
use crate::serve::inbound::Inbound;
use crate::serve::leftover::ReadTimedOut;
use crate::serve::refusal::Refusal;
use crate::serve::server1_client::Server1Client;
use crate::serve::state::AppState;
use crate::serve::switch_log::SwitchLog;
use crate::settings::knobs::{Knob, OnSwitch};
use crate::settings::live::Live;

/// What a switch acts on, taken by `PUT /settings` as one part of the
/// state: the knobs, the log of switches, the clients and the inbound
/// connections.
#[derive(Debug, Clone)]
pub(crate) struct Switchboard {
    live: Arc<Live>,
    log: Arc<SwitchLog>,
    forwarder: Arc<Forwarder>,
    inbound: Arc<Inbound>,
}

impl FromRef<AppState> for Switchboard {
    fn from_ref(state: &AppState) -> Switchboard {
        Switchboard {
            live: state.live.clone(),
            log: state.switch_log.clone(),
            forwarder: state.forwarder.clone(),
            inbound: state.inbound.clone(),
        }
    }
}

impl Switchboard {
    /// Makes `changes`, all or nothing, then logs, counts and keeps each,
    /// and does at once what each knob's row says a switch of it does
    /// ([`OnSwitch`]), each effect once. The handlers only parse, guard
    /// and answer.
    fn apply(&self, changes: &[(String, String)]) -> Result<(), String> {
        let made = self.live.apply(changes)?;
        self.log.record(&made);
        let effects: BTreeSet<OnSwitch> =
            made.iter().map(|change| change.knob.on_switch()).collect();
        for effect in effects {
            match effect {
                OnSwitch::Nothing => {}
                OnSwitch::RenewSharedClient => {
                    if let Err(err) = self.forwarder.renew_shared() {
                        tracing::warn!(%err, "cannot build the shared client; each request builds one");
                    }
                }
                OnSwitch::CloseWaitingIfOff => {
                    if !self.live.knobs().server_keep_alives {
                        let closed = self.inbound.close_waiting();
                        tracing::info!(closed, "closed the connections waiting for a next request");
                    }
                }
            }
        }
        Ok(())
    }
}

/// `GET /settings`: every switchable setting's value now, as given.
pub(crate) async fn get_settings(State(live): State<Arc<Live>>) -> Json<BTreeMap<Knob, String>> {
    Json(live.current().given.clone())
}

/// `PUT /settings`: a JSON object of `"VAR": "value"` pairs.
pub(crate) async fn put_settings(
    State(board): State<Switchboard>,
    _allowed: MaySwitch,
    body: Body,
) -> Response {
    let made = async {
        let changes = changes_in(&read_switch(body).await?)?;
        board
            .apply(&changes)
            .map_err(|err| Refusal::new(StatusCode::BAD_REQUEST, err))
    };
    match made.await {
        Ok(()) => Json(board.live.current().given.clone()).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// `PUT /upstream/settings`: the same switch, checked here as server 1
/// checks it, passed on to server 1's `/settings` in a body made anew
/// from what was checked, through the client kept for watching it; server
/// 1's answer is this one, when it is JSON.
pub(crate) async fn put_upstream_settings(
    State(live): State<Arc<Live>>,
    State(server1): State<Arc<Server1Client>>,
    _allowed: MayRelay,
    body: Body,
) -> Response {
    let relayed = async {
        let changes = changes_in(&read_switch(body).await?)?;
        live.check(&changes)
            .map_err(|err| Refusal::new(StatusCode::BAD_REQUEST, err))?;
        let object: serde_json::Map<String, Value> = changes
            .into_iter()
            .map(|(env, value)| (env, Value::String(value)))
            .collect();
        server1
            .relay_settings(Value::Object(object))
            .await
            .map_err(|err| Refusal::new(StatusCode::BAD_GATEWAY, err))
    };
    match relayed.await {
        Ok((status, answer)) => (status, Json(answer)).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// A switch's body, at most [`BODY_LIMIT`] bytes however it is sent, by
/// the request's deadline (`SERVER_READ_TIMEOUT`): one that misses it gets
/// a 408, and its connection closes (`in_flight.rs`).
async fn read_switch(body: Body) -> Result<Bytes, Refusal> {
    axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|err| {
        if timed_out(&err) {
            Refusal::new(
                StatusCode::REQUEST_TIMEOUT,
                "the switch's body did not come within SERVER_READ_TIMEOUT",
            )
        } else {
            Refusal::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a switch is at most {BODY_LIMIT} bytes, sent whole"),
            )
        }
    })
}

/// Whether `err` comes of a body read past its request's deadline.
fn timed_out(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(err) = cause {
        if err.is::<ReadTimedOut>() {
            return true;
        }
        cause = err.source();
    }
    false
}

/// The longest name or value a switch takes. Go would read longer
/// spellings of the same values (leading zeros), but no setting needs
/// them, and a switch is kept and shown.
pub(crate) const LONGEST_SPELLING: usize = 64;

/// The `(VAR, value)` pairs of a switch's body, sorted by name.
fn changes_in(body: &[u8]) -> Result<Vec<(String, String)>, Refusal> {
    let bad = |why: String| Refusal::new(StatusCode::BAD_REQUEST, why);
    let expected = "expected a JSON object of \"VAR\": \"value\" pairs, such as \
                    {\"DISABLE_KEEP_ALIVES\": \"true\"}";
    let object: serde_json::Map<String, Value> = serde_json::from_slice(body)
        .map_err(|err| bad(format!("invalid JSON ({err}); {expected}")))?;
    if object.is_empty() {
        return Err(bad(format!("nothing to switch; {expected}")));
    }
    object
        .into_iter()
        .map(|(env, value)| {
            if env.len() > LONGEST_SPELLING {
                return Err(bad(format!(
                    "{}: not a setting: a name is at most {LONGEST_SPELLING} bytes",
                    shown(&env)
                )));
            }
            match value {
                Value::String(value) if value.len() > LONGEST_SPELLING => Err(bad(format!(
                    "{env}: the value is {} bytes; a switch takes at most {LONGEST_SPELLING} \
                     (Go would also read longer spellings, such as leading zeros: this server does not)",
                    value.len()
                ))),
                Value::String(value) => Ok((env, value)),
                other => Err(bad(format!(
                    "{env}: invalid value {}: a value is a JSON string, such as \"true\" or \"1s\"",
                    shown(&other.to_string())
                ))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_name_or_value_is_refused_naming_what_and_cut() {
        let value = format!("{}1s", "0".repeat(LONGEST_SPELLING));
        let body = format!(r#"{{"IDLE_CONN_TIMEOUT":"{value}"}}"#);
        let err = changes_in(body.as_bytes()).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(
            err.why
                .starts_with("IDLE_CONN_TIMEOUT: the value is 66 bytes; a switch takes at most 64"),
            "{}",
            err.why
        );
        let name = "X".repeat(100_000);
        let body = format!(r#"{{"{name}":"1"}}"#);
        let err = changes_in(body.as_bytes()).unwrap_err().why;
        assert!(err.len() < 400 && err.contains("at most 64 bytes"), "{err}");
        assert!(
            changes_in(format!(r#"{{"IDLE_CONN_TIMEOUT":"{}1s"}}"#, "0".repeat(62)).as_bytes())
                .is_ok()
        );
    }

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
            let err = changes_in(body).unwrap_err().why;
            assert!(err.starts_with(expected), "{err}");
        }
    }
}
