//! The switches made on a server: each logged, counted in `/metrics`, and
//! the last ones kept for `/figures`, whose page marks them on its chart.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::{Deserialize, Serialize};

use crate::observe::history::now_ms;
use crate::observe::metrics::SwitchLabel;
use crate::settings::knobs::Knob;
use crate::settings::live::Change;

/// How many switches `/figures` and `/watch` show.
const KEPT: usize = 32;

/// One switch, as the dashboard marks it on its time axis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Switched {
    /// Counts up from 0 at the server's start: two switches made within
    /// one millisecond are still two.
    #[serde(default)]
    pub(crate) seq: u64,
    /// When, in milliseconds since the Unix epoch.
    pub(crate) at_ms: u64,
    /// The knob switched, by its env var on the wire.
    #[serde(rename = "setting")]
    pub(crate) knob: Knob,
    pub(crate) old: String,
    pub(crate) value: String,
}

/// The switches made, as logged, counted and shown.
#[derive(Debug)]
pub(crate) struct SwitchLog {
    /// `settings_switches_total`, by setting.
    counted: Family<SwitchLabel, Counter>,
    /// The last [`KEPT`], oldest first.
    kept: Mutex<VecDeque<Switched>>,
}

impl SwitchLog {
    /// A log that counts in `counted`, the metric's family.
    pub(crate) fn new(counted: Family<SwitchLabel, Counter>) -> SwitchLog {
        SwitchLog {
            counted,
            kept: Mutex::default(),
        }
    }

    /// The last switches, oldest first.
    pub(crate) fn last(&self) -> Vec<Switched> {
        self.lock().iter().cloned().collect()
    }

    /// Logs, counts and keeps each change made.
    pub(crate) fn record(&self, made: &[Change]) {
        let at_ms = now_ms();
        let mut kept = self.lock();
        for Change { knob, old, new } in made {
            tracing::info!(setting = knob.env(), %old, %new, "switched");
            self.counted
                .get_or_create(&SwitchLabel {
                    setting: knob.env().to_owned(),
                })
                .inc();
            let seq = kept.back().map_or(0, |last| last.seq + 1);
            if kept.len() == KEPT {
                kept.pop_front();
            }
            kept.push_back(Switched {
                seq,
                at_ms,
                knob: *knob,
                old: old.clone(),
                value: new.clone(),
            });
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Switched>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
