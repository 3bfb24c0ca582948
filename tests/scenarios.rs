//! The leak and its fixes, end to end, one for each entry of the registry:
//! start the pair as the scenario says, send N sequential `/forward`
//! requests, expect the counts it promises.

mod common;

use std::thread;
use std::time::Duration;

use common::{Counts, Pair, PairExt, eventually, launcher};
use reqwest_connection_leak::scenario::verdict::FLAT_BELOW;
use reqwest_connection_leak::scenario::{self, Expectation, Scenario};

/// Requests per scenario.
const N: usize = 100;

fn start(scenario: &Scenario) -> Pair {
    launcher()
        .scenario(scenario)
        .unwrap_or_else(|err| panic!("{}: {err}", scenario.name))
}

/// One task per request on both sides, kept after 2 s idle.
fn assert_leaks(scenario: &Scenario, pair: &Pair) {
    let before = pair.forward();
    let after = *pair.forward_many(N).last().expect("N answers");
    assert!(
        after.leaked_since(before, N),
        "{}: grew from {before:?} to {after:?}",
        scenario.name
    );

    thread::sleep(Duration::from_secs(2));
    let later = pair.forward();
    assert!(
        later.server1 >= after.server1 && later.server2 >= after.server2,
        "{}: the leak shrank after 2 s idle: {after:?} then {later:?}",
        scenario.name
    );
}

/// Under [`FLAT_BELOW`] on both sides throughout.
fn assert_flat(scenario: &Scenario, pair: &Pair) {
    let peak = pair
        .forward_many(N)
        .into_iter()
        .fold(Counts::default(), Counts::max);
    assert!(
        peak.is_flat(),
        "{}: expected both under {FLAT_BELOW} tasks, peak was {peak:?}",
        scenario.name
    );
}

/// Back under [`FLAT_BELOW`] within 3 s of the last request.
fn assert_reclaimed(scenario: &Scenario, pair: &Pair) {
    let last = *pair.forward_many(N).last().expect("N answers");
    let mut now = last;
    // The idle timeouts are 1 s: a connection closes between 1 s and 2 s
    // after its request; 3 s leaves a second for the debug build on a busy
    // machine.
    let reclaimed = eventually(Duration::from_secs(3), || {
        now = pair.idle_counts();
        now.is_flat()
    });
    assert!(
        reclaimed,
        "{}: after the last request {last:?}, 3 s later {now:?}",
        scenario.name
    );
}

#[test]
fn every_scenario_shows_what_the_registry_expects() {
    for scenario in &scenario::ALL {
        let pair = start(scenario);
        match scenario.expectation {
            Expectation::Leaks => assert_leaks(scenario, &pair),
            Expectation::Flat => assert_flat(scenario, &pair),
            Expectation::ReclaimedAfterIdle => assert_reclaimed(scenario, &pair),
        }
    }
}
