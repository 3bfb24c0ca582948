//! What a server tells of itself: its figures at one moment, as `/figures`
//! answers them, with the switches made on it and its history's newest
//! samples.

use std::collections::BTreeMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::observe::history::Sample;
use crate::serve::switch_guard::Refusal;

/// One server's figures at one moment: what `/figures` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Which process: the name it marks `Via` with.
    pub instance: String,
    /// Its settings in effect, as `VAR=value`.
    pub settings: Vec<String>,
    /// Its last settings switched at runtime, oldest first.
    #[serde(default)]
    pub switches: Vec<Switched>,
    /// Every sample of its `/metrics`, by name with labels.
    pub samples: BTreeMap<String, f64>,
    /// Its history's samples that the asker did not have yet.
    #[serde(default)]
    pub history: Vec<Sample>,
}

/// Which history samples the asker has already: the sequence number of the
/// last of each server's it got. A first poll names none and gets all.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct Since {
    /// This server's.
    pub since: Option<u64>,
    /// Server 1's, on server 2.
    pub upstream_since: Option<u64>,
}

/// `?since=&upstream_since=` read from a request, a bad one refused in
/// JSON naming the parameter, as every other error of this API is.
impl<S: Send + Sync> FromRequestParts<S> for Since {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Since, Refusal> {
        match Query::<Since>::from_request_parts(parts, state).await {
            Ok(Query(since)) => Ok(since),
            Err(rejection) => Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "{}; expected since and upstream_since as whole numbers, each the \
                     sequence number of the last sample received",
                    rejection.body_text()
                ),
            )),
        }
    }
}

/// One switch, as the dashboard marks it on its time axis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Switched {
    /// Counts up from 0 at the server's start: two switches made within
    /// one millisecond are still two.
    #[serde(default)]
    pub seq: u64,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub setting: String,
    pub old: String,
    pub value: String,
}
