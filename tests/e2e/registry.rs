//! The registry, end to end: for every entry, a pair started as the entry
//! says shows the counts it promises, holds the clients it should, and the
//! dashboard's verdict names it, for the entry's value and for another Go
//! spelling of it. A fix missing from the retainer's rule or from the
//! verdict fails here.

use std::time::Duration;

use reqwest_connection_leak::scenario::verdict::FLAT_BELOW;
use reqwest_connection_leak::scenario::{ALL, Expectation, Scenario, Setting};
use reqwest_connection_leak::settings::knobs::{Knobs, Side};

use crate::common::{
    Counts, PairExt, ServerExt, check_each, eventually, get, launcher, on_linux, sample, scrape,
    serve_pair,
};

/// Requests per entry.
const N: usize = 40;

/// How long the leak must keep what it leaked, watched, not slept through.
const KEPT_FOR: Duration = Duration::from_millis(1500);

/// The idle timeouts are 1 s: a connection closes between 1 s and 2 s
/// after its request, and the retainer looks twice a second; 4 s leaves
/// a second for the debug build on a busy machine.
const RECLAIMED_WITHIN: Duration = Duration::from_secs(4);

#[test]
fn every_entry_shows_what_it_promises() {
    if !on_linux(
        "every_entry_shows_what_it_promises",
        "the retainer's sight of connections closing",
    ) {
        return;
    }
    check_each(ALL.iter(), check);
}

/// One entry, on its own pair.
fn check(scenario: &Scenario) {
    let pair = launcher()
        .scenario(scenario)
        .unwrap_or_else(|err| panic!("{}: {err}", scenario.name));
    let name = scenario.name;
    let before = pair.forward();
    let counts = pair.forward_many(N);
    let last = *counts.last().expect("N answers");
    let held_clients = || sample(&scrape(&pair.server2), "forward_clients_held");
    match scenario.expectation() {
        Expectation::Leaks => {
            assert!(
                last.leaked_since(before, N),
                "{name}: grew from {before:?} to {last:?}"
            );
            let shrank = eventually(KEPT_FOR, || !pair.idle_counts().leaked_since(before, N));
            assert!(!shrank, "{name}: the leak shrank within {KEPT_FOR:?}");
            // Every client, the first request's included, is held.
            assert_eq!(held_clients(), (N + 1) as f64, "{name}");
        }
        Expectation::Flat => {
            let peak = counts.into_iter().fold(before, Counts::max);
            assert!(
                peak.is_flat(),
                "{name}: expected both under {FLAT_BELOW} tasks, peak was {peak:?}"
            );
            assert_eq!(held_clients(), 0.0, "{name}: clients held");
        }
        Expectation::ReclaimedAfterIdle => {
            let mut now = last;
            let reclaimed = eventually(RECLAIMED_WITHIN, || {
                now = pair.idle_counts();
                now.is_flat()
            });
            assert!(reclaimed, "{name}: after {last:?}, still {now:?} when idle");
            let released = eventually(RECLAIMED_WITHIN, || held_clients() == 0.0);
            assert!(released, "{name}: {} clients still held", held_clients());
        }
    }
    assert_watch_names(&pair.server2, scenario);

    // The same entry in another of Go's spellings, on a pair in this
    // process: the verdict reads meanings, not spellings.
    if let Some(setting) = scenario.setting {
        let other = other_spelling(setting);
        let mut knobs = Knobs::default();
        setting
            .knob
            .set(&mut knobs, &other)
            .expect("a valid spelling");
        assert_eq!(
            knobs,
            setting.knobs(),
            "{name}: {other} means something else"
        );
        let env = [(setting.knob.env(), other.as_str())];
        let pair = match setting.side() {
            Side::Server1 => serve_pair(&env, &[]),
            Side::Server2 => serve_pair(&[], &env),
        };
        assert_watch_names(&pair.server2, scenario);
    }
}

/// Server 2's `/watch` names `scenario` alone as in effect, and its
/// expectation as what the settings amount to.
fn assert_watch_names(server2: &impl ServerExt, scenario: &Scenario) {
    let answer = get(server2.address(), "/watch");
    assert_eq!(answer.status, 200, "{answer:?}");
    let watch = answer.json();
    let expected = serde_json::to_value(scenario.expectation()).expect("JSON");
    assert_eq!(watch["amounts_to"], expected, "{}: {watch}", scenario.name);
    let names: Vec<&str> = watch["in_effect"]
        .as_array()
        .map(|entries| entries.iter().filter_map(|e| e["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, [scenario.name], "{watch}");
}

/// Another spelling Go accepts for the same value, from the knob's row:
/// `T` for `true`, milliseconds for a duration, a leading zero for a whole
/// number. `CLIENT_LIFETIME` has no Go spelling, and keeps its own.
fn other_spelling(setting: Setting) -> String {
    let (spelled, also) = setting.knob.spellings();
    match Knobs::spelled([(setting.knob, spelled)]) == setting.knobs() {
        true => also.to_owned(),
        false => setting.value.to_owned(),
    }
}
