//! A switch of a client's knob reaches the next requests whatever the
//! client's lifetime: a client per request reads it when built, and the
//! one shared client of `CLIENT_LIFETIME=process` is built anew with it,
//! as Go's transport reads its fields on every request. Each test asserts
//! what the next requests do on the wire (server 1's connections, the
//! 504), not what the page says. Server 1's knobs are read by each request
//! or wait on server 1, whatever server 2's lifetime, and are switched in
//! `switches.rs`.

use std::time::Duration;

use crate::common::{
    InProcess, InProcessPair, PairExt, ServerExt, eventually, get, hello_answer, put_json, sample,
    scrape, serve_pair, serve_server2_for, slow_upstream,
};

const LIFETIMES: [&str; 3] = ["connection", "request", "process"];

/// A pair whose server 2 has `lifetime`, after one request, so that a
/// shared client holds a connection when the switch comes.
fn warm_pair(lifetime: &str) -> InProcessPair {
    let pair = serve_pair(&[], &[("CLIENT_LIFETIME", lifetime)]);
    pair.forward();
    pair
}

fn switch(server: &InProcess, knob: &str, value: &str) {
    let body = format!(r#"{{"{knob}":"{value}"}}"#);
    let answer = put_json(server.address, "/settings", &body, &[]);
    assert_eq!(answer.status, 200, "{knob}={value}: {answer:?}");
}

/// Server 1's figure `name`, from a scrape that opens one connection of
/// its own.
fn server1_figure(pair: &InProcessPair, name: &str) -> f64 {
    sample(&scrape(&pair.server1), name)
}

/// The connections server 1 accepted for `requests` requests to server 2.
fn connections_for(pair: &InProcessPair, requests: usize) -> f64 {
    let accepted = "http_server_connections_accepted_total";
    let before = server1_figure(pair, accepted);
    pair.forward_many(requests);
    // Less the second scrape's own connection.
    server1_figure(pair, accepted) - before - 1.0
}

#[test]
fn a_switch_to_keep_no_connection_opens_one_per_request_whatever_the_lifetime() {
    for (knob, value) in [
        ("DISABLE_KEEP_ALIVES", "true"),
        ("MAX_IDLE_CONNS_PER_HOST", "-1"),
    ] {
        for lifetime in LIFETIMES {
            let pair = warm_pair(lifetime);
            switch(&pair.server2, knob, value);
            assert_eq!(
                connections_for(&pair, 5),
                5.0,
                "{knob}={value} under {lifetime}"
            );
        }
    }
}

#[test]
fn a_switched_idle_timeout_closes_the_next_connections_whatever_the_lifetime() {
    for lifetime in LIFETIMES {
        let pair = warm_pair(lifetime);
        switch(&pair.server2, "IDLE_CONN_TIMEOUT", "200ms");
        pair.forward();
        // Evicted within two timeouts: only the scrape's own stays open.
        // The warm-up's connection closes too: a client per request keeps
        // none, the retainer lets go of it only when it closes (it stays,
        // built with no timeout), and the shared client it came from is
        // gone. So under `connection` one stays.
        let staying = if lifetime == "connection" { 2.0 } else { 1.0 };
        let closed = eventually(Duration::from_secs(3), || {
            server1_figure(&pair, "http_server_open_connections") <= staying
        });
        assert!(closed, "under {lifetime}: {}", scrape_text(&pair));
    }
}

fn scrape_text(pair: &InProcessPair) -> String {
    format!("{:?}", scrape(&pair.server1))
}

#[test]
fn a_switched_timeout_answers_504_whatever_the_lifetime() {
    for knob in ["REQUEST_TIMEOUT", "RESPONSE_HEADER_TIMEOUT"] {
        for lifetime in LIFETIMES {
            // A server 1 that takes 5 s to answer its one connection.
            let silent = slow_upstream(Duration::from_secs(5), hello_answer(), 1);
            let server2 = serve_server2_for(silent, &[("CLIENT_LIFETIME", lifetime)]);
            switch(&server2, knob, "300ms");
            let answer = get(server2.address(), "/forward");
            assert_eq!(answer.status, 504, "{knob} under {lifetime}: {answer:?}");
        }
    }
}
