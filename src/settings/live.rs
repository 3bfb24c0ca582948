//! The knobs in effect now: read once per use on the request path, and
//! switched while the server runs, all or nothing.
//!
//! A read is one atomic load (`arc-swap`), so reading the knobs costs a
//! request nothing measurable; a switch builds a new set and swaps it in.
//! What a switch does to what already exists is each reader's business:
//! a client keeps the knobs it was built with, a connection waiting for
//! its next request keeps the idle timeout it read when the wait began, as
//! in Go.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

use crate::settings::config::bad_setting;
use crate::settings::given::Given;
use crate::settings::knobs::{Knob, Knobs};

/// The knobs in effect, and how each was spelled when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Current {
    pub(crate) knobs: Knobs,
    /// Each knob's value as given (empty when not given).
    pub(crate) given: BTreeMap<Knob, String>,
}

/// One knob's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub(crate) knob: Knob,
    pub(crate) old: String,
    pub(crate) new: String,
}

/// The knobs of one server, switchable.
#[derive(Debug)]
pub(crate) struct Live {
    current: ArcSwap<Current>,
    /// Held while a switch is made, so that two switches do not lose one.
    switching: Mutex<()>,
}

impl Live {
    /// The knobs a server started with; `settings` are its settings as
    /// given, from which each knob's spelling is kept.
    pub(crate) fn new(knobs: Knobs, settings: &Given) -> Live {
        let given = Knob::ALL
            .iter()
            .map(|&knob| (knob, settings.knob(knob).unwrap_or_default().to_owned()))
            .collect();
        Live {
            current: ArcSwap::from_pointee(Current { knobs, given }),
            switching: Mutex::new(()),
        }
    }

    /// The knobs in effect now.
    pub(crate) fn knobs(&self) -> Knobs {
        self.current.load().knobs
    }

    /// The knobs in effect now, with their spellings.
    pub(crate) fn current(&self) -> Arc<Current> {
        self.current.load_full()
    }

    /// Sets every `(VAR, value)` of `changes`, or none of them: an unknown
    /// variable or a bad value leaves every knob as it was, and says which
    /// in one line. On success, the changes made (values that already meant
    /// what is in effect are left out), in the order given.
    pub(crate) fn apply(&self, changes: &[(String, String)]) -> Result<Vec<Change>, String> {
        let _one_at_a_time = self
            .switching
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (after, made) = self.switched(changes)?;
        self.current.store(Arc::new(after));
        Ok(made)
    }

    /// Whether `changes` would be accepted, checked as [`Live::apply`]
    /// checks them, changing nothing.
    pub(crate) fn check(&self, changes: &[(String, String)]) -> Result<(), String> {
        self.switched(changes).map(|_| ())
    }

    /// The settings `changes` would make, and the changes among them.
    fn switched(&self, changes: &[(String, String)]) -> Result<(Current, Vec<Change>), String> {
        let mut after = Current::clone(&self.current.load());
        let mut made = Vec::new();
        for (env, value) in changes {
            let knob = Knob::named(env).ok_or_else(|| {
                let names: Vec<&str> = Knob::ALL.iter().map(|knob| knob.env()).collect();
                bad_setting(
                    env,
                    &format!(
                        "not a setting that can be switched; expected one of {}",
                        names.join(", ")
                    ),
                )
            })?;
            let before = after.knobs;
            knob.set(&mut after.knobs, value)
                .map_err(|reason| bad_setting(env, &reason))?;
            // Values compare by what they mean (1s and 1000ms, 0 and 2 idle
            // connections): a switch to what is in effect changes nothing,
            // its spelling included.
            if after.knobs != before {
                let old = after.given.insert(knob, value.clone()).unwrap_or_default();
                made.push(Change {
                    knob,
                    old,
                    new: value.clone(),
                });
            }
        }
        Ok((after, made))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn switch(live: &Live, changes: &[(&str, &str)]) -> Result<Vec<Change>, String> {
        let changes: Vec<(String, String)> = changes
            .iter()
            .map(|(env, value)| (env.to_string(), value.to_string()))
            .collect();
        live.apply(&changes)
    }

    fn started() -> Live {
        Live::new(
            Knobs::default(),
            &Given::new(vec![
                ("BIND_ADDRESS".to_owned(), ":8080".to_owned()),
                ("IDLE_CONN_TIMEOUT".to_owned(), "0".to_owned()),
            ]),
        )
    }

    #[test]
    fn the_spellings_given_at_start_are_kept() {
        let live = started();
        assert_eq!(live.current().given[&Knob::IdleConnTimeout], "0");
        assert_eq!(live.current().given.len(), Knob::ALL.len());
    }

    #[test]
    fn a_switch_sets_every_change_and_reports_what_changed() {
        let live = started();
        let made = switch(
            &live,
            &[
                ("IDLE_CONN_TIMEOUT", "1000ms"),
                ("DISABLE_KEEP_ALIVES", "T"),
            ],
        )
        .expect("valid");
        assert_eq!(live.knobs().idle_conn_timeout, Duration::from_secs(1));
        assert!(live.knobs().disable_keep_alives);
        assert_eq!(live.current().given[&Knob::IdleConnTimeout], "1000ms");
        assert_eq!(
            made[0],
            Change {
                knob: Knob::IdleConnTimeout,
                old: "0".to_owned(),
                new: "1000ms".to_owned()
            }
        );
        assert_eq!(made.len(), 2);
        let again = switch(&live, &[("IDLE_CONN_TIMEOUT", "1000ms")]).expect("valid");
        assert!(again.is_empty(), "{again:?}");
    }

    #[test]
    fn a_switch_to_the_same_value_in_another_spelling_changes_nothing() {
        let live = started();
        switch(&live, &[("IDLE_CONN_TIMEOUT", "1s")]).expect("valid");
        for same in ["1000ms", "1s", "1000000us"] {
            let made = switch(&live, &[("IDLE_CONN_TIMEOUT", same)]).expect("valid");
            assert!(made.is_empty(), "{same}: {made:?}");
        }
        assert_eq!(live.current().given[&Knob::IdleConnTimeout], "1s");
        // Go reads 0 as its default of 2, and every negative as none.
        switch(&live, &[("MAX_IDLE_CONNS_PER_HOST", "-1")]).expect("valid");
        assert!(
            switch(&live, &[("MAX_IDLE_CONNS_PER_HOST", "-7")])
                .unwrap()
                .is_empty()
        );
        let made = switch(&live, &[("MAX_IDLE_CONNS_PER_HOST", "0")]).expect("valid");
        assert_eq!(made.len(), 1);
        assert!(
            switch(&live, &[("MAX_IDLE_CONNS_PER_HOST", "2")])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_bad_change_changes_nothing_and_names_the_variable_first() {
        let live = started();
        let before = live.current();
        let err = switch(
            &live,
            &[("DISABLE_KEEP_ALIVES", "true"), ("IDLE_CONN_TIMEOUT", "5")],
        )
        .unwrap_err();
        assert!(
            err.starts_with("IDLE_CONN_TIMEOUT: invalid duration \"5\""),
            "{err}"
        );
        assert_eq!(live.current(), before);
        let err = switch(&live, &[("BIND_ADDRESS", ":9090")]).unwrap_err();
        assert!(
            err.starts_with("BIND_ADDRESS: not a setting that can be switched"),
            "{err}"
        );
        assert!(err.contains("SERVER_KEEP_ALIVES"), "{err}");
        assert_eq!(live.current(), before);
    }
}
