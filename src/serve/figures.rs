//! What a server tells of itself: its figures at one moment, typed, as
//! `/figures` answers them, with the switches made on it and its
//! history's newest samples.

use std::collections::BTreeMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::observe::history::Tick;
use crate::observe::metrics::Counters;
use crate::serve::refusal::Refusal;
use crate::serve::switch_log::Switched;
use crate::settings::knobs::Knob;

/// One server's figures at one moment, typed: what `/figures` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Figures {
    /// Which process: the name it marks `Via` with.
    pub(crate) instance: String,
    /// Its knobs now, each as spelled when given or switched, by env var.
    pub(crate) knobs: BTreeMap<Knob, String>,
    /// Its other settings, which no switch changes, as given at start;
    /// not `EXTRA_HOSTS`, up to 64 names that every poll would repeat.
    pub(crate) fixed: BTreeMap<String, String>,
    /// Its last settings switched at runtime, oldest first.
    #[serde(default)]
    pub(crate) switches: Vec<Switched>,
    /// Its live task count: `/hello`'s `goRoutines`.
    pub(crate) tasks: u64,
    /// Its other counters; `None` for a server 1 with no `/figures` (the
    /// Go original), known only by its task count.
    pub(crate) counters: Option<Counters>,
    /// Its history's samples that the asker did not have yet.
    #[serde(default)]
    pub(crate) history: Vec<Tick>,
}

impl Figures {
    /// A server known only by its task count, from `/hello`.
    pub(crate) fn tasks_only(tasks: u64) -> Figures {
        Figures {
            instance: String::new(),
            knobs: BTreeMap::new(),
            fixed: BTreeMap::new(),
            switches: Vec::new(),
            tasks,
            counters: None,
            history: Vec::new(),
        }
    }
}

/// Which history samples the asker has already: the sequence number of the
/// last of each server's it got. A first poll names none and gets all.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(crate) struct Since {
    /// This server's.
    pub(crate) since: Option<u64>,
    /// Server 1's, on server 2.
    pub(crate) server1_since: Option<u64>,
}

/// `?since=&server1_since=` read from a request, a bad one refused in
/// JSON naming the parameter, as every other error of this API is.
impl<S: Send + Sync> FromRequestParts<S> for Since {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Since, Refusal> {
        match Query::<Since>::from_request_parts(parts, state).await {
            Ok(Query(since)) => Ok(since),
            Err(rejection) => Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "{}; expected since and server1_since as whole numbers, each the \
                     sequence number of the last sample received",
                    rejection.body_text()
                ),
            )),
        }
    }
}
