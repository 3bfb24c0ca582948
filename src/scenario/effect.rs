//! What settings amount to: which of the registry's entries a pair's knobs
//! put in effect, and what the counts should then show.
//!
//! Every answer here comes from parsed values, never from spellings, so
//! `IDLE_CONN_TIMEOUT=1000ms` is the registry's `1s`, and
//! `MAX_IDLE_CONNS_PER_HOST=-5` its `-1`.

use crate::scenario::{ALL, Expectation, Scenario};
use crate::settings::knobs::{ClientLifetime, Knob, Knobs, Side};

/// What one knob, as set in `knobs`, amounts to on its own.
pub fn effect(knob: Knob, knobs: &Knobs) -> Expectation {
    let flat_if = |fixed: bool| {
        if fixed {
            Expectation::Flat
        } else {
            Expectation::Leaks
        }
    };
    let reclaimed_if = |fixed: bool| {
        if fixed {
            Expectation::ReclaimedAfterIdle
        } else {
            Expectation::Leaks
        }
    };
    match knob {
        Knob::DisableKeepAlives => flat_if(knobs.disable_keep_alives),
        Knob::IdleConnTimeout => reclaimed_if(!knobs.idle_conn_timeout.is_zero()),
        // One connection per client: any pool that keeps one keeps it.
        Knob::MaxIdleConnsPerHost => flat_if(knobs.max_idle_conns_per_host.kept() == 0),
        Knob::ConnectionClose => flat_if(knobs.connection_close),
        Knob::ClientLifetime => flat_if(knobs.client_lifetime != ClientLifetime::Connection),
        Knob::ServerIdleTimeout => reclaimed_if(!knobs.server_idle_timeout.is_zero()),
        Knob::ServerKeepAlives => flat_if(!knobs.server_keep_alives),
        // It bounds a call in flight, not an idle connection.
        Knob::RequestTimeout => Expectation::Leaks,
    }
}

/// Whether switching `knob` on a running pair takes back the connections
/// already leaked, as Go's would. Only `SERVER_KEEP_ALIVES=false`, which
/// closes the connections waiting for a next request at once, does; every
/// other knob acts on what is built, answered or waited on after the
/// switch, so growth stops or new connections are reclaimed, and what
/// leaked stays.
pub fn takes_back_what_leaked(knob: Knob) -> bool {
    knob == Knob::ServerKeepAlives
}

impl Scenario {
    /// Whether `knobs`, the knobs of the server this entry's setting acts
    /// on, put it in effect: its knob means what the entry's value means.
    /// The leak, which sets nothing, is never "in effect" by itself.
    pub fn is_set_in(&self, knobs: &Knobs) -> bool {
        let Some(setting) = self.setting else {
            return false;
        };
        let given = effect(setting.knob, knobs);
        let same_choice = match setting.knob {
            // Two lifetimes fix the leak, in different ways.
            Knob::ClientLifetime => knobs.client_lifetime == setting.knobs().client_lifetime,
            _ => true,
        };
        given != Expectation::Leaks && given == self.expectation() && same_choice
    }
}

/// The registry's entries that each server's knobs, where known, put in
/// effect; the leak itself when none.
pub fn in_effect(server1: Option<&Knobs>, server2: Option<&Knobs>) -> Vec<&'static Scenario> {
    let knobs_of = |side| match side {
        Side::Server1 => server1,
        Side::Server2 => server2,
    };
    let fixes: Vec<&Scenario> = ALL
        .iter()
        .filter(|scenario| {
            scenario.setting.is_some_and(|setting| {
                knobs_of(setting.side()).is_some_and(|knobs| scenario.is_set_in(knobs))
            })
        })
        .collect();
    if fixes.is_empty() {
        ALL.iter()
            .filter(|scenario| scenario.setting.is_none())
            .collect()
    } else {
        fixes
    }
}

/// What entries in effect amount to together: the best that any of them
/// promises.
pub fn amounts_to(entries: &[&Scenario]) -> Expectation {
    let promises = |expectation| entries.iter().any(|s| s.expectation() == expectation);
    if promises(Expectation::Flat) {
        Expectation::Flat
    } else if promises(Expectation::ReclaimedAfterIdle) {
        Expectation::ReclaimedAfterIdle
    } else {
        Expectation::Leaks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(entries: &[&Scenario]) -> Vec<&'static str> {
        entries.iter().map(|s| s.name).collect()
    }

    fn knobs(settings: &[&str]) -> Knobs {
        Knobs::read(&settings.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn the_defaults_are_the_leak() {
        let defaults = Knobs::default();
        let effective = in_effect(Some(&defaults), Some(&defaults));
        assert_eq!(names(&effective), ["leak"]);
        assert_eq!(amounts_to(&effective), Expectation::Leaks);
    }

    #[test]
    fn every_entry_is_in_effect_with_its_own_value_alone() {
        for scenario in ALL {
            let Some(setting) = scenario.setting else {
                continue;
            };
            let given = setting.knobs();
            let (server1, server2) = match setting.side() {
                Side::Server1 => (Some(&given), None),
                Side::Server2 => (None, Some(&given)),
            };
            let effective = in_effect(server1, server2);
            assert_eq!(names(&effective), [scenario.name]);
            assert_eq!(amounts_to(&effective), scenario.expectation());
            // On the other side it does nothing.
            let effective = in_effect(server2, server1);
            assert_eq!(names(&effective), ["leak"], "{}", scenario.name);
        }
    }

    #[test]
    fn each_side_is_read_for_its_own_fixes_in_any_spelling() {
        let server1 = knobs(&["CONNECTION_CLOSE=T", "IDLE_CONN_TIMEOUT=5s"]);
        let server2 = knobs(&["IDLE_CONN_TIMEOUT=2000ms", "CONNECTION_CLOSE=false"]);
        let effective = in_effect(Some(&server1), Some(&server2));
        assert_eq!(names(&effective), ["idle-conn-timeout", "connection-close"]);
        assert_eq!(amounts_to(&effective), Expectation::Flat);
        let effective = in_effect(None, Some(&server2));
        assert_eq!(names(&effective), ["idle-conn-timeout"]);
        assert_eq!(amounts_to(&effective), Expectation::ReclaimedAfterIdle);
    }

    #[test]
    fn idle_conns_per_host_fix_only_when_none_are_kept() {
        for (value, expected) in [
            ("-1", Expectation::Flat),
            ("-01", Expectation::Flat),
            ("-5", Expectation::Flat),
            // Go's default of 2, and any cap: each per-request client has
            // one connection, and keeps it.
            ("0", Expectation::Leaks),
            ("1", Expectation::Leaks),
        ] {
            let server2 = knobs(&[&format!("MAX_IDLE_CONNS_PER_HOST={value}")]);
            assert_eq!(
                effect(Knob::MaxIdleConnsPerHost, &server2),
                expected,
                "{value}"
            );
        }
    }

    #[test]
    fn a_lifetime_is_matched_by_its_value() {
        let server2 = knobs(&["CLIENT_LIFETIME=process"]);
        assert_eq!(
            names(&in_effect(None, Some(&server2))),
            ["client-lifetime-process"]
        );
        let server2 = knobs(&["CLIENT_LIFETIME=connection"]);
        assert_eq!(names(&in_effect(None, Some(&server2))), ["leak"]);
    }
}
