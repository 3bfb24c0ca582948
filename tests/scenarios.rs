//! The leak and its fixes, end to end: start the pair with some flags, send
//! N sequential `/forward` requests, expect these counts.

mod common;

use std::thread;
use std::time::Duration;

use common::{Counts, Pair, eventually};
use reqwest_connection_leak::demo::verdict::FLAT_BELOW;

/// Requests per scenario.
const N: usize = 100;

/// Slack on "one task per request": the first requests may race the
/// counts they report, by one or two.
const LEAK_SLACK: usize = 3;

fn peak(counts: &[Counts]) -> Counts {
    counts.iter().copied().fold(Counts::default(), Counts::max)
}

fn assert_flat(pair: &Pair) {
    let peak = peak(&pair.forward_many(N));
    assert!(
        peak.is_flat(),
        "expected both under {FLAT_BELOW} tasks, peak was {peak:?}"
    );
}

#[test]
fn defaults_leak_one_task_per_request_on_both_sides_and_keep_them() {
    let pair = Pair::start(&[], &[]);
    let before = pair.forward();
    let after = *pair.forward_many(N).last().expect("N answers");
    assert!(
        after.server1 >= before.server1 + N - LEAK_SLACK,
        "server 1 grew from {before:?} to {after:?}"
    );
    assert!(
        after.server2 >= before.server2 + N - LEAK_SLACK,
        "server 2 grew from {before:?} to {after:?}"
    );

    thread::sleep(Duration::from_secs(2));
    let later = pair.forward();
    assert!(
        later.server1 >= after.server1 && later.server2 >= after.server2,
        "the leak shrank after 2 s idle: {after:?} then {later:?}"
    );
}

#[test]
fn disabling_keep_alives_stays_flat() {
    assert_flat(&Pair::start(&[], &[("DISABLE_KEEP_ALIVES", "true")]));
}

#[test]
fn server_1_answering_connection_close_stays_flat() {
    assert_flat(&Pair::start(&[("CONNECTION_CLOSE", "true")], &[]));
}

#[test]
fn a_client_dropped_with_its_request_stays_flat() {
    assert_flat(&Pair::start(&[], &[("CLIENT_LIFETIME", "request")]));
}

#[test]
fn one_shared_client_stays_flat() {
    assert_flat(&Pair::start(&[], &[("CLIENT_LIFETIME", "process")]));
}

#[test]
fn an_idle_timeout_reclaims_everything_within_three_seconds() {
    let pair = Pair::start(&[], &[("IDLE_CONN_TIMEOUT", "1s")]);
    let last = *pair.forward_many(N).last().expect("N answers");
    let mut now = last;
    // The pool closes an idle connection between 1 s and 2 s after its
    // request; 3 s leaves a second for the debug build on a busy machine.
    let reclaimed = eventually(Duration::from_secs(3), || {
        now = pair.idle_counts();
        now.is_flat()
    });
    assert!(
        reclaimed,
        "after the last request {last:?}, 3 s later {now:?}"
    );
}
