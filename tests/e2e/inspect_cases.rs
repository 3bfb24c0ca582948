//! `inspect` on programs it was not written against: clients and servers on
//! Python's standard library and Node's built-in `http` and `http2`
//! (`tests/programs/`, `scripts/python_leaker.py`), leaking in every shape
//! that used to be missed and healthy in every shape that used to read as
//! a leak. Each case starts real programs and runs `inspect --json --for`
//! to its end twice: beside them from the start, and again only once
//! their load is over, as an operator's watch begun long after a leak
//! did. Each asserts the exit status and every row of theirs at the last
//! sample; a healthy case also asserts that no sample read `leaks`. Each
//! prints how long the watch took to read as it should, for the guide's
//! table.
//!
//! The watch runs with `--idle 1s` and samples four times a second, so
//! that a case takes seconds; the rule's other numbers are the defaults.
//! The slow leaks run with every default.

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::inspect_run::{Watch, run_inspect, watch};
use crate::common::netns::{FIRST_ADDRESS, Namespace};
use crate::common::program::{Program, here, node, python};

/// The watch of every case but the slow leaks.
const FAST: [&str; 4] = ["--interval", "250ms", "--idle", "1s"];

/// A case's two watches: one begun with its load, one begun once it was
/// over.
struct Watches {
    early: Watch,
    late: Watch,
}

/// Watches `pids` for `watch_for` from now, then again, with the same
/// `flags` and as long, once `load` is over (when its program says the
/// line given, if it has not yet).
fn watches(
    pids: &[u32],
    watch_for: &str,
    flags: &[&str],
    load: Option<(&Program, &str)>,
) -> Watches {
    let early = watch(pids, watch_for, flags);
    if let Some((program, over)) = load {
        program.line_starting(over);
    }
    let late = watch(pids, watch_for, flags);
    Watches { early, late }
}

impl Watches {
    fn leaks(&self, case: &str, rows: &[(u32, &str)]) {
        self.early.leaks(case, rows);
        self.late.leaks(&format!("{case}, watched late"), rows);
    }

    fn healthy(&self, case: &str, pids: &[u32]) {
        self.early.healthy(case, pids);
        self.late.healthy(&format!("{case}, watched late"), pids);
    }
}

/// A keep-alive HTTP/1.1 server on `hosts`.
fn server(runner: Command, hosts: &[&str]) -> Program {
    python(runner, "tests/programs/http_server.py", hosts)
}

fn leaker(runner: Command, urls: &[String], args: &[&str]) -> Program {
    let mut all: Vec<&str> = urls.iter().map(String::as_str).collect();
    all.extend_from_slice(args);
    python(runner, "scripts/python_leaker.py", &all)
}

fn waiting(shape: &str, server: &Program, count: &str) -> Program {
    let port = server.port.to_string();
    let args = [shape, "127.0.0.1", &port, "--count", count];
    python(here(), "tests/programs/waiting_clients.py", &args)
}

fn url(server: &Program, path: &str) -> Vec<String> {
    vec![format!("http://127.0.0.1:{}{path}", server.port)]
}

#[test]
fn small_answers_leak_on_both_ends() {
    let server = server(here(), &["127.0.0.1"]);
    let client = leaker(here(), &url(&server, "/hello"), &[]);
    let seen = watches(
        &[client.pid, server.pid],
        "6s",
        &FAST,
        Some((&client, "sent ")),
    );
    seen.leaks("small answers", &[(client.pid, "out"), (server.pid, "in")]);
}

#[test]
fn answers_of_a_megabyte_leak() {
    let server = server(here(), &["127.0.0.1"]);
    let client = leaker(here(), &url(&server, "/bytes/1000000"), &[]);
    let seen = watches(
        &[client.pid, server.pid],
        "6s",
        &FAST,
        Some((&client, "sent ")),
    );
    seen.leaks("1 MB answers", &[(client.pid, "out"), (server.pid, "in")]);
}

#[test]
fn six_calls_per_client_leak() {
    let server = server(here(), &["127.0.0.1"]);
    let client = leaker(here(), &url(&server, "/hello"), &["--calls", "6"]);
    let seen = watches(&[client.pid], "6s", &FAST, Some((&client, "sent ")));
    seen.leaks("six calls per client", &[(client.pid, "out")]);
}

/// A self-signed certificate for `localhost` and its key, as PEM files in
/// a folder of their own, removed when dropped.
struct Certificate {
    folder: std::path::PathBuf,
    cert: String,
    key: String,
}

impl Certificate {
    fn new(purpose: &str) -> Certificate {
        let folder = std::env::temp_dir().join(format!("inspect-{purpose}-{}", std::process::id()));
        std::fs::create_dir_all(&folder).expect("a folder for the certificate");
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("a certificate");
        let (cert, key) = (folder.join("cert.pem"), folder.join("key.pem"));
        std::fs::write(&cert, certified.cert.pem()).expect("write the certificate");
        std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write the key");
        Certificate {
            cert: cert.to_string_lossy().into_owned(),
            key: key.to_string_lossy().into_owned(),
            folder,
        }
    }
}

impl Drop for Certificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

#[test]
fn three_calls_per_client_over_tls_leak() {
    let tls = Certificate::new("tls-python");
    let server = server(here(), &["--tls", &tls.cert, &tls.key, "127.0.0.1"]);
    let urls = [format!("https://localhost:{}/hello", server.port)];
    let client = leaker(here(), &urls, &["--calls", "3", "--cafile", &tls.cert]);
    let seen = watches(
        &[client.pid, server.pid],
        "6s",
        &FAST,
        Some((&client, "sent ")),
    );
    seen.leaks(
        "TLS, three calls",
        &[(client.pid, "out"), (server.pid, "in")],
    );
}

#[test]
fn a_node_https_agent_per_request_leaks() {
    let tls = Certificate::new("tls-node");
    let server = server(here(), &["--tls", &tls.cert, &tls.key, "127.0.0.1"]);
    let url = format!("https://localhost:{}", server.port);
    let client = node("https-leak", &url, &["--ca", &tls.cert]);
    let seen = watches(
        &[client.pid, server.pid],
        "6s",
        &FAST,
        Some((&client, "done")),
    );
    seen.leaks(
        "Node https, an agent per request",
        &[(client.pid, "out"), (server.pid, "in")],
    );
}

#[test]
fn nodes_global_fetch_under_load_is_healthy() {
    let server = server(here(), &["127.0.0.1"]);
    let client = node("fetch", &url(&server, "")[0], &["--concurrency", "4"]);
    let seen = watches(
        &[client.pid, server.pid],
        "6s",
        &FAST,
        Some((&client, "done")),
    );
    seen.healthy("Node fetch, its shared pool", &[client.pid, server.pid]);
}

#[test]
fn an_http2_client_per_request_leaks() {
    let server = node("h2-server", "http://127.0.0.1", &[]);
    let client = node("h2-leak", &format!("http://127.0.0.1:{}", server.port), &[]);
    let seen = watches(
        &[client.pid, server.pid],
        "6s",
        &FAST,
        Some((&client, "done")),
    );
    seen.leaks(
        "HTTP/2 per request",
        &[(client.pid, "out"), (server.pid, "in")],
    );
}

/// A leak the kernel's counters cannot see: a PING and its answer, every
/// 2 s on each session, move data as a small request on a kept
/// connection does, so no connection is ever idle for `--idle` (the
/// default, 5 s), and the row reads as a pool (`docs/operators.md`, "What
/// it cannot tell apart").
#[test]
fn http2_clients_per_request_kept_alive_by_pings_read_as_a_pool() {
    let server = node("h2-server", "http://127.0.0.1", &[]);
    let address = format!("http://127.0.0.1:{}", server.port);
    let client = node("h2-leak", &address, &["--ping", "2"]);
    let seen = watches(&[client.pid], "7s", &[], Some((&client, "done")));
    seen.healthy("HTTP/2 per request, pinged every 2 s", &[client.pid]);
}

#[test]
fn a_client_per_request_over_30_hosts_leaks_though_each_has_4() {
    let hosts: Vec<String> = (1..=30).map(|n| format!("127.0.2.{n}")).collect();
    let host_refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let server = server(here(), &host_refs);
    let urls: Vec<String> = hosts
        .iter()
        .map(|host| format!("http://{host}:{}/hello", server.port))
        .collect();
    let client = leaker(here(), &urls, &["--count", "120", "--rate", "40"]);
    let seen = watches(&[client.pid], "7s", &FAST, Some((&client, "sent ")));
    seen.leaks("30 hosts, 4 each", &[(client.pid, "out")]);
    for watch in [&seen.early, &seen.late] {
        let rows: Vec<&Value> = Watch::rows(watch.last(), client.pid).collect();
        assert_eq!(rows.len(), 30, "{}", watch.last());
        assert!(rows.iter().all(|row| row["across_peers"] == true));
    }
}

#[test]
fn a_slow_leak_of_one_a_second_reads_leaks_with_the_defaults() {
    let server = server(here(), &["127.0.0.1"]);
    let client = leaker(here(), &url(&server, "/hello"), &["--rate", "1"]);
    let early = watch(&[client.pid, server.pid], "15s", &[]);
    early.leaks("one a second", &[(client.pid, "out"), (server.pid, "in")]);
    client.line_starting("sent ");
    // A second `--idle` and a second: the last one asked for is idle.
    let seen = watch(&[client.pid, server.pid], "6s", &[]);
    seen.leaks(
        "one a second, watched late",
        &[(client.pid, "out"), (server.pid, "in")],
    );
}

#[test]
fn a_slow_leak_of_one_every_4_s_watched_late_reads_leaks_once_15_stand() {
    let server = server(here(), &["127.0.0.1"]);
    let args = ["--rate", "0.25", "--count", "15"];
    let client = leaker(here(), &url(&server, "/hello"), &args);
    client.line_starting("sent ");
    // The first `--idle` and a second: the last one asked for is idle.
    let seen = watch(&[client.pid, server.pid], "6s", &[]);
    seen.leaks(
        "one every 4 s, 15 standing, watched late",
        &[(client.pid, "out"), (server.pid, "in")],
    );
}

/// Server in one namespace, client in another, over a veth link of MTU
/// 1500 (many segments per answer or upload, as on a real network): the
/// case's watches and the client's and server's PIDs, or `None` where no
/// namespace can be made.
fn over_a_link(path: &str, args: &[&str]) -> Option<(Watches, u32, u32)> {
    let (far, near) = Namespace::linked("inspect-mtu")?;
    let server = server(far.command(), &[FIRST_ADDRESS]);
    let urls = [format!("http://{FIRST_ADDRESS}:{}{path}", server.port)];
    let client = leaker(near.command(), &urls, args);
    let seen = watches(
        &[client.pid, server.pid],
        "6s",
        &FAST,
        Some((&client, "sent ")),
    );
    Some((seen, client.pid, server.pid))
}

#[test]
fn answers_of_64_kb_over_a_link_leak() {
    let Some((seen, client, server)) = over_a_link("/bytes/65536", &[]) else {
        return;
    };
    seen.leaks(
        "64 KB answers over MTU 1500",
        &[(client, "out"), (server, "in")],
    );
}

#[test]
fn an_upload_of_64_kb_per_request_over_a_link_leaks() {
    let Some((seen, client, server)) = over_a_link("/upload", &["--upload", "65536"]) else {
        return;
    };
    seen.leaks(
        "64 KB uploads over MTU 1500",
        &[(client, "out"), (server, "in")],
    );
}

#[test]
fn an_upload_of_1_mb_per_request_over_a_link_leaks() {
    let Some((seen, client, server)) = over_a_link("/upload", &["--upload", "1048576"]) else {
        return;
    };
    seen.leaks(
        "1 MB uploads over MTU 1500",
        &[(client, "out"), (server, "in")],
    );
}

#[test]
fn a_shared_pool_busy_then_at_rest_is_healthy() {
    let server = server(here(), &["127.0.0.1"]);
    let client = node("pool", &url(&server, "")[0], &["--seconds", "3"]);
    let seen = watches(
        &[client.pid, server.pid],
        "7s",
        &FAST,
        Some((&client, "done")),
    );
    seen.healthy("a pool, busy then at rest", &[client.pid, server.pid]);
}

#[test]
fn a_burst_of_50_then_4_steady_is_healthy() {
    let server = server(here(), &["127.0.0.1"]);
    let client = node("burst", &url(&server, "")[0], &["--seconds", "8"]);
    let seen = watches(
        &[client.pid, server.pid],
        "6s",
        &FAST,
        Some((&client, "done")),
    );
    seen.healthy("a burst of 50, then 4 steady", &[client.pid, server.pid]);
}

#[test]
fn http2_with_many_streams_on_one_connection_is_healthy() {
    let server = node("h2-server", "http://127.0.0.1", &[]);
    let address = format!("http://127.0.0.1:{}", server.port);
    let client = node("h2-streams", &address, &["--concurrency", "16"]);
    let seen = watches(
        &[client.pid, server.pid],
        "6s",
        &FAST,
        Some((&client, "done")),
    );
    seen.healthy("HTTP/2, many streams", &[client.pid, server.pid]);
}

#[test]
fn idle_event_streams_opened_at_once_are_healthy() {
    let server = server(here(), &["127.0.0.1"]);
    let client = waiting("events", &server, "30");
    let seen = watches(
        &[client.pid, server.pid],
        "5s",
        &FAST,
        Some((&client, "open ")),
    );
    seen.healthy("30 event streams at once", &[client.pid, server.pid]);
}

#[test]
fn long_polls_waiting_for_their_answer_are_healthy() {
    let server = server(here(), &["127.0.0.1"]);
    let client = waiting("poll", &server, "25");
    let seen = watches(
        &[client.pid, server.pid],
        "5s",
        &FAST,
        Some((&client, "open ")),
    );
    seen.healthy("25 long polls", &[client.pid, server.pid]);
}

#[test]
fn idle_websockets_opened_at_once_are_healthy_on_both_ends() {
    let server = server(here(), &["127.0.0.1"]);
    let client = waiting("socket", &server, "25");
    let seen = watches(
        &[client.pid, server.pid],
        "5s",
        &FAST,
        Some((&client, "open ")),
    );
    seen.healthy("25 websockets at once", &[client.pid, server.pid]);
}

#[test]
fn two_hundred_clients_from_two_hundred_addresses_are_healthy_to_the_server() {
    let server = server(here(), &["127.0.0.1"]);
    let clients = waiting("addresses", &server, "200");
    clients.line_starting("open ");
    let seen = watches(&[server.pid], "5s", &FAST, None);
    seen.healthy("200 clients from 200 addresses", &[server.pid]);
}

/// `inspect --once --idle 1s` on `pid`, again until the row's connections
/// have all been idle for a second (a loaded machine may take longer).
fn once_when_idle(pid: u32, count: u64) -> Watch {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = run_inspect(&[pid], &["--once", "--idle", "1s"]);
        let idle = Watch::rows(seen.last(), pid).any(|row| row["idle"] == count);
        if idle || Instant::now() > deadline {
            return seen;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn one_sample_reads_leaks_for_a_pile_asked_for_over_a_second_and_no_more_for_a_burst() {
    let server = server(here(), &["127.0.0.1"]);
    let paced = leaker(here(), &url(&server, "/hello"), &["--count", "25"]);
    let burst = leaker(
        here(),
        &url(&server, "/hello"),
        &["--count", "25", "--rate", "0"],
    );
    paced.line_starting("sent ");
    burst.line_starting("sent ");

    let seen = once_when_idle(paced.pid, 25);
    assert_eq!(seen.status, Some(1), "{}", seen.last());
    let row = Watch::rows(seen.last(), paced.pid).next().expect("its row");
    assert_eq!(
        (row["idle_used_once"].as_u64(), row["verdict"].as_str()),
        (Some(25), Some("leaks"))
    );
    assert!(
        row["used_once_spread_seconds"].as_f64() >= Some(1.0),
        "{row}"
    );

    // The same leak made in one burst is what a scale-up looks like: one
    // sample says what it can, watching.
    let seen = once_when_idle(burst.pid, 25);
    assert_eq!(seen.status, Some(0), "{}", seen.last());
    let row = Watch::rows(seen.last(), burst.pid).next().expect("its row");
    assert_eq!(
        (row["idle_used_once"].as_u64(), row["verdict"].as_str()),
        (Some(25), Some("watching"))
    );
}

#[test]
fn the_chart_draws_each_connection_of_a_leak_on_the_axis_where_it_was_asked_for() {
    let server = server(here(), &["127.0.0.1"]);
    let client = leaker(here(), &url(&server, "/hello"), &["--rate", "10"]);
    client.line_starting("sent ");
    let path = std::env::temp_dir().join(format!("inspect-chart-{}.svg", std::process::id()));
    let chart = path.to_string_lossy().into_owned();
    let seen = watch(
        &[client.pid],
        "2s",
        &[&FAST[..], &["--chart", &chart]].concat(),
    );
    let svg = std::fs::read_to_string(&path).expect("the chart was written");
    let _ = std::fs::remove_file(&path);
    seen.leaks("the chart's leak", &[(client.pid, "out")]);

    let document = roxmltree::Document::parse(&svg).expect("the chart is well-formed XML");
    let panel = document
        .descendants()
        .find(|node| node.attribute("data-pid") == Some(&client.pid.to_string()))
        .expect("a panel for the leaking row");
    let number = |name: &str| -> f64 {
        let text = panel.attribute(name).unwrap_or_else(|| panic!("{name}"));
        text.parse().unwrap_or_else(|_| panic!("{name}: {text}"))
    };
    let (from, to) = (number("data-from-ms"), number("data-to-ms"));
    let (left, width) = (number("data-plot-left"), number("data-plot-width"));
    // (asked for, x, y) of each connection's mark, in the order asked.
    let mut marks: Vec<(f64, f64, f64)> = panel
        .descendants()
        .filter_map(|node| {
            let asked: f64 = node.attribute("data-asked-ms")?.parse().ok()?;
            let at = |name| node.attribute(name)?.parse::<f64>().ok();
            Some((asked, at("cx")?, at("cy")?))
        })
        .collect();
    marks.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(marks.len(), 30, "one mark per connection: {svg}");
    for (asked, x, _) in &marks {
        let expected = left + (asked - from) / (to - from) * width;
        assert!(
            (x - expected).abs() < 0.1,
            "asked at {asked} ms drawn at {x}, not {expected}"
        );
    }
    // A staircase: each later one higher up, all asked for over the
    // leak's three seconds (at ten a second; a loaded machine slows it).
    assert!(
        marks.windows(2).all(|pair| pair[1].2 < pair[0].2),
        "{marks:?}"
    );
    let spread = marks[29].0 - marks[0].0;
    assert!((2_500.0..10_000.0).contains(&spread), "spread {spread} ms");
}
