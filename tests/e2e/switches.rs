//! Settings switched on a running pair, end to end: for every entry of the
//! registry, switch its setting on a leaking pair and see what Go would
//! do. Growth stops (or new connections are reclaimed once idle), and what
//! already leaked stays, held clients included, except for
//! `SERVER_KEEP_ALIVES=false`, which takes it all back at once. Then who
//! may switch, and what a bad switch gets.

use std::time::Duration;

use reqwest_connection_leak::scenario::verdict::FLAT_BELOW;
use reqwest_connection_leak::scenario::{ALL, Expectation, Scenario, takes_back_what_leaked};
use reqwest_connection_leak::settings::knobs::Side;
use serde_json::json;

use crate::common::{
    Counts, PairExt, ServerExt, check_each, eventually, get, launcher, on_linux, put_json, sample,
    scrape, send, serve, serve_pair,
};

/// Leaking requests before the switch, and requests after it.
const N: usize = 30;

/// How long what leaked is watched after a switch that keeps it.
const KEPT_FOR: Duration = Duration::from_secs(2);

/// Idle timeouts of 1 s: closed within 2 s, swept within half a second
/// more, and a second for a busy machine.
const RECLAIMED_WITHIN: Duration = Duration::from_secs(4);

#[test]
fn every_switch_acts_on_a_leaking_pair_as_go_would() {
    if !on_linux(
        "every_switch_acts_on_a_leaking_pair_as_go_would",
        "the retainer's sight of connections closing",
    ) {
        return;
    }
    check_each(
        ALL.iter().filter(|scenario| scenario.setting.is_some()),
        check,
    );
}

fn check(scenario: &Scenario) {
    let setting = scenario.setting.expect("a setting");
    let name = scenario.name;
    let pair = launcher().pair(&[], &[]).expect("a leaking pair");
    let held_clients = || sample(&scrape(&pair.server2), "forward_clients_held");
    let first = pair.forward();
    pair.forward_many(N);
    let leaked = pair.idle_counts();
    assert!(
        leaked.leaked_since(first, N),
        "{name}: no leak to switch: {leaked:?}"
    );
    let held = held_clients();
    assert_eq!(held, (N + 1) as f64, "{name}");

    // Server 1's settings go through server 2, as the dashboard sends them.
    let path = match setting.side() {
        Side::Server2 => "/settings",
        Side::Server1 => "/upstream/settings",
    };
    let env = setting.knob.env();
    let body = json!({ env: setting.value }).to_string();
    let answer = put_json(pair.server2.address, path, &body, &[]);
    assert_eq!(answer.status, 200, "{name}: {answer:?}");
    assert_eq!(answer.json()[env], setting.value, "{name}");

    if takes_back_what_leaked(setting.knob) {
        let mut now = leaked;
        let fell = eventually(RECLAIMED_WITHIN, || {
            now = pair.idle_counts();
            now.is_flat()
        });
        assert!(fell, "{name}: still {now:?} after the switch");
        let released = eventually(RECLAIMED_WITHIN, || held_clients() == 0.0);
        assert!(released, "{name}: {} clients still held", held_clients());
    } else {
        let shrank = eventually(KEPT_FOR, || !pair.idle_counts().leaked_since(first, N));
        assert!(!shrank, "{name}: what leaked did not stay");
    }

    // Requests after the switch leak no more, at once or once idle.
    let last = *pair.forward_many(N).last().expect("N answers");
    let ceiling = |counts: Counts| Counts {
        server2: counts.server2 + FLAT_BELOW,
        server1: counts.server1 + FLAT_BELOW,
    };
    let base = if takes_back_what_leaked(setting.knob) {
        Counts::default()
    } else {
        leaked
    };
    let under = |now: Counts| now.max(ceiling(base)) == ceiling(base);
    match scenario.expectation() {
        Expectation::Flat => assert!(under(last), "{name}: grew from {base:?} to {last:?}"),
        Expectation::ReclaimedAfterIdle => {
            let mut now = last;
            let back = eventually(RECLAIMED_WITHIN, || {
                now = pair.idle_counts();
                under(now)
            });
            assert!(back, "{name}: from {base:?}, still {now:?} when idle");
        }
        Expectation::Leaks => unreachable!("{name}: only fixes have settings"),
    }
    // Clients already held stay held; none of the later ones is.
    let expected = if takes_back_what_leaked(setting.knob) {
        0.0
    } else {
        held
    };
    let settled = eventually(RECLAIMED_WITHIN, || held_clients() == expected);
    assert!(
        settled,
        "{name}: {} clients held, not {expected}",
        held_clients()
    );
}

#[test]
fn settings_read_back_as_given_and_a_bad_switch_changes_nothing() {
    let server = serve(&[("IDLE_CONN_TIMEOUT", "1500ms")]);
    let before = get(server.address, "/settings");
    assert_eq!(before.status, 200);
    assert_eq!(before.json()["IDLE_CONN_TIMEOUT"], "1500ms");
    assert_eq!(before.json()["SERVER_KEEP_ALIVES"], "true");
    for (body, names) in [
        (
            r#"{"DISABLE_KEEP_ALIVES":"true","IDLE_CONN_TIMEOUT":"5"}"#,
            "IDLE_CONN_TIMEOUT: invalid duration \"5\"",
        ),
        (
            r#"{"BIND_ADDRESS":":9090"}"#,
            "BIND_ADDRESS: not a setting that can be switched",
        ),
        (
            r#"{"DISABLE_KEEP_ALIVES":true}"#,
            "DISABLE_KEEP_ALIVES: invalid value true",
        ),
        ("DISABLE_KEEP_ALIVES=true", "invalid JSON"),
    ] {
        let answer = put_json(server.address, "/settings", body, &[]);
        assert_eq!(answer.status, 400, "{body}: {answer:?}");
        let error = answer.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(error.starts_with(names), "{body}: {error}");
        assert_eq!(get(server.address, "/settings").body, before.body, "{body}");
    }
}

/// A switch's method and headers, and the status it should get.
type Attempt<'a> = (&'a str, &'a [(&'a str, &'a str)], u16);

#[test]
fn a_switch_is_refused_from_another_site_host_method_or_type() {
    let server = serve(&[]);
    let own = server.address.to_string();
    let switch = r#"{"DISABLE_KEEP_ALIVES":"true"}"#;
    let cases: [Attempt; 5] = [
        (
            "PUT",
            &[
                ("Content-Type", "application/json"),
                ("Origin", "http://evil.example"),
            ],
            403,
        ),
        (
            "PUT",
            &[
                ("Content-Type", "application/json"),
                ("Host", "evil.example:9090"),
            ],
            403,
        ),
        (
            "POST",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            405,
        ),
        ("PUT", &[("Content-Type", "text/plain")], 415),
        (
            "PUT",
            &[("Content-Type", "application/json"), ("Origin", "null")],
            403,
        ),
    ];
    for (method, headers, status) in cases {
        let answer = send(server.address, method, "/settings", headers, switch);
        assert_eq!(answer.status, status, "{method} {headers:?}: {answer:?}");
        assert_eq!(
            get(server.address, "/settings").json()["DISABLE_KEEP_ALIVES"],
            "false"
        );
    }
    let origin = format!("http://{own}");
    let answer = put_json(server.address, "/settings", switch, &[("Origin", &origin)]);
    assert_eq!(answer.status, 200, "its own origin: {answer:?}");
}

#[test]
fn switches_off_refuses_every_switch_and_says_how_to_allow_them() {
    let pair = serve_pair(&[("SWITCHES", "off")], &[("SWITCHES", "off")]);
    let switch = r#"{"CONNECTION_CLOSE":"true"}"#;
    for path in ["/settings", "/upstream/settings"] {
        let answer = put_json(pair.server2.address, path, switch, &[]);
        assert_eq!(answer.status, 403, "{path}: {answer:?}");
        assert!(answer.body.contains("SWITCHES=loopback"), "{answer:?}");
    }
    assert_eq!(
        get(pair.server1.address, "/settings").json()["CONNECTION_CLOSE"],
        "false"
    );
}

#[test]
fn switching_adds_no_task_and_shows_in_figures_and_metrics() {
    let pair = serve_pair(&[], &[]);
    let switch = r#"{"IDLE_CONN_TIMEOUT":"1s","CLIENT_LIFETIME":"request"}"#;
    assert_eq!(
        put_json(pair.server2.address, "/settings", switch, &[]).status,
        200
    );
    // The same value in other spellings: answered, and nothing recorded.
    for same in ["1000ms", "1s"] {
        let body = format!(r#"{{"IDLE_CONN_TIMEOUT":"{same}"}}"#);
        let answer = put_json(pair.server2.address, "/settings", &body, &[]);
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    let relayed = put_json(
        pair.server2.address,
        "/upstream/settings",
        r#"{"SERVER_IDLE_TIMEOUT":"2s"}"#,
        &[],
    );
    assert_eq!(relayed.status, 200, "{relayed:?}");
    // Before any /hello, server 2 shows server 1's switches too.
    let watch = get(pair.server2.address, "/watch").json();
    assert_eq!(
        watch["server1"]["figures"]["switches"][0]["setting"],
        "SERVER_IDLE_TIMEOUT"
    );
    // At rest: each count is the asking connection's task alone.
    let rest = Counts {
        server2: 1,
        server1: 1,
    };
    let at_rest = eventually(Duration::from_secs(3), || pair.idle_counts() == rest);
    assert!(at_rest, "{:?}", pair.idle_counts());
    let figures = get(pair.server2.address, "/figures").json();
    assert_eq!(figures["knobs"]["IDLE_CONN_TIMEOUT"], "1s", "{figures}");
    let switched: Vec<(&str, &str)> = figures["switches"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|s| {
                    (
                        s["setting"].as_str().unwrap_or(""),
                        s["value"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        switched,
        [("CLIENT_LIFETIME", "request"), ("IDLE_CONN_TIMEOUT", "1s")]
    );
    let samples = scrape(&pair.server2);
    assert_eq!(
        sample(
            &samples,
            r#"settings_switches_total{setting="IDLE_CONN_TIMEOUT"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &samples,
            r#"settings_switches_total{setting="DISABLE_KEEP_ALIVES"}"#
        ),
        0.0
    );
    let server1 = scrape(&pair.server1);
    assert_eq!(
        sample(
            &server1,
            r#"settings_switches_total{setting="SERVER_IDLE_TIMEOUT"}"#
        ),
        1.0
    );
    // The scrapes' connections end on their own tasks' time: wait for it.
    let at_rest = eventually(Duration::from_secs(3), || {
        pair.servers().0.hello_tasks() == 1
    });
    assert!(
        at_rest,
        "server 1 at {} tasks",
        pair.servers().0.hello_tasks()
    );
}

#[test]
fn the_page_is_told_a_switch_is_on_when_its_value_is_in_effect_in_any_spelling() {
    let pair = serve_pair(&[], &[]);
    let switch = r#"{"IDLE_CONN_TIMEOUT":"1000ms"}"#;
    assert_eq!(
        put_json(pair.server2.address, "/settings", switch, &[]).status,
        200
    );
    let watch = get(pair.server2.address, "/watch").json();
    let on = |setting: &str| {
        watch["switchable"]
            .as_array()
            .and_then(|all| all.iter().find(|entry| entry["setting"] == setting))
            .map(|entry| entry["on"].clone())
            .unwrap_or_else(|| panic!("no {setting} in {watch}"))
    };
    assert_eq!(on("IDLE_CONN_TIMEOUT"), true, "1000ms is the entry's 1s");
    assert_eq!(on("DISABLE_KEEP_ALIVES"), false);
    // Server 1's, from its figures.
    assert_eq!(on("SERVER_KEEP_ALIVES"), false);
}
