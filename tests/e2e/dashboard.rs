//! The dashboard in a real browser: headless Chromium loads server 2's page,
//! lets it poll for two seconds of its own clock, and hands back the page
//! as it then stands. Driven from the command line (`--dump-dom` with a
//! virtual time budget): that needs no browser-driving crate and gives the
//! page exactly what a person's browser gives it.

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::{
    PairExt, fake_upstream, hello_answer, sample, scrape, start_pair, start_server,
};
use reqwest_connection_leak::scenario::verdict::FLAT_BELOW;

/// What the page shows: each value by (server, metric), and its verdict.
struct Shown {
    values: HashMap<(String, String), String>,
    verdict: String,
    dom: String,
}

impl Shown {
    fn number(&self, server: &str, metric: &str) -> f64 {
        let text = self
            .values
            .get(&(server.to_owned(), metric.to_owned()))
            .unwrap_or_else(|| panic!("no element for server {server} {metric}: {}", self.dom));
        text.parse()
            .unwrap_or_else(|_| panic!("server {server} {metric} shows {text:?}"))
    }
}

/// Loads `url` in headless Chromium and reads the page after it polled.
fn open(url: &str) -> Shown {
    // A profile of its own: two browsers never share one.
    static OPENED: AtomicUsize = AtomicUsize::new(0);
    let profile = std::env::temp_dir().join(format!(
        "leak-dashboard-{}-{}",
        std::process::id(),
        OPENED.fetch_add(1, Ordering::Relaxed)
    ));
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=2000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .output()
        .expect(
            "chromium is needed: scripts/test.sh installs it (Debian: apt-get install chromium)",
        );
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(dom.contains("</html>"), "no page: {dom}");
    let mut values = HashMap::new();
    for element in dom.split("data-server=\"").skip(1) {
        let Some((server, rest)) = element.split_once('"') else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix("data-metric=\"") else {
            continue;
        };
        let Some((metric, rest)) = rest.split_once('"') else {
            continue;
        };
        let text = rest
            .split_once('>')
            .and_then(|(_, text)| text.split_once('<'))
            .map_or("", |(text, _)| text);
        values.insert(
            (server.to_owned(), metric.replace("&quot;", "\"")),
            text.to_owned(),
        );
    }
    let verdict = dom
        .split_once("id=\"amounts\"")
        .and_then(|(_, rest)| rest.split_once('>'))
        .and_then(|(_, rest)| rest.split_once('<'))
        .map_or(String::new(), |(text, _)| text.to_owned());
    Shown {
        values,
        verdict,
        dom,
    }
}

/// The page and `/metrics` are read moments apart, each with its own
/// connection counted: they may differ by those connections, and by one
/// closing.
const TOLERANCE: f64 = 3.0;

#[test]
fn a_leaking_pair_shows_both_servers_counts_as_metrics_has_them() {
    let pair = start_pair(&[], &[]);
    pair.forward_many(60);
    let shown = open(&format!("http://{}/", pair.server2.address));
    assert_eq!(shown.verdict, "leaks");
    for (server, label) in [(&pair.server2, "2"), (&pair.server1, "1")] {
        let metrics = scrape(server);
        for metric in [
            "tokio_alive_tasks",
            "http_server_open_connections",
            "process_open_fds",
        ] {
            let on_page = shown.number(label, metric);
            let scraped = sample(&metrics, metric);
            assert!(
                (on_page - scraped).abs() <= TOLERANCE,
                "server {label} {metric}: page {on_page}, /metrics {scraped}"
            );
        }
    }
    assert!(shown.number("2", "tokio_alive_tasks") >= 60.0);
    assert!(shown.number("1", "tokio_alive_tasks") >= 60.0);
    assert_eq!(shown.number("2", "forward_clients_built_total"), 60.0);
    assert_eq!(shown.number("2", "forward_clients_retained"), 60.0);
    assert_eq!(
        shown.number("2", r#"forward_requests_total{outcome="ok"}"#),
        60.0
    );
}

#[test]
fn a_fixed_pair_shows_flat_counts() {
    let pair = start_pair(&[], &[("DISABLE_KEEP_ALIVES", "true")]);
    pair.forward_many(60);
    let shown = open(&format!("http://{}/", pair.server2.address));
    assert_eq!(shown.verdict, "flat");
    for server in ["2", "1"] {
        let tasks = shown.number(server, "tokio_alive_tasks");
        assert!(tasks < FLAT_BELOW as f64, "server {server}: {tasks} tasks");
    }
    assert_eq!(shown.number("2", "forward_clients_built_total"), 60.0);
    assert_eq!(shown.number("2", "forward_clients_retained"), 0.0);
}

#[test]
fn a_server_1_without_figures_shows_what_it_can_and_says_what_is_missing() {
    // Answers /hello's shape to every path, as a Go server 1 would to
    // /hello: /figures cannot be read, /hello's count can.
    let upstream = fake_upstream(hello_answer(), 40);
    let url = format!("http://{upstream}/hello");
    let server2 = start_server("server2", &[("UPSTREAM_URL", &url)]);
    let shown = open(&format!("http://{}/", server2.address));
    assert_eq!(shown.number("1", "tokio_alive_tasks"), 1.0, "from /hello");
    assert!(
        shown.dom.contains("/figures is not readable"),
        "{}",
        shown.dom
    );
    assert!(shown.number("2", "tokio_alive_tasks") >= 1.0);
}
