//! Which of the registry's entries a pair's knobs put in effect, and what
//! they amount to together.

use crate::scenario::effect::effect;
use crate::scenario::registry::{ALL, Scenario};
use crate::scenario::verdict::Expectation;
use crate::settings::knobs::{Knob, Knobs, Side};

impl Scenario {
    /// Whether `knobs`, the knobs of the server this entry's setting acts
    /// on, put it in effect: its knob means what the entry's value means.
    /// The leak, which sets nothing, is never "in effect" by itself.
    pub(crate) fn is_set_in(&self, knobs: &Knobs) -> bool {
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
pub(crate) fn in_effect(
    server1: Option<&Knobs>,
    server2: Option<&Knobs>,
) -> Vec<&'static Scenario> {
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
pub(crate) fn amounts_to(entries: &[&Scenario]) -> Expectation {
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
        Knobs::from_settings(settings)
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
