//! The dashboard in a real browser. Headless Chromium loads server 2's
//! page, lets it poll for two seconds of its own clock, and hands back the
//! page as it then stands (`--dump-dom` with a virtual time budget): that
//! needs no browser-driving crate and gives the page exactly what a
//! person's browser gives it. Where time must be real, requests come while
//! the page watches, or a switch is clicked, `scripts/lib/drive.mjs` drives
//! Chromium over the DevTools protocol.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use serde_json::Value;

use crate::common::{
    ClosedPort, Pair, PairExt, ServerProcess, eventually, fake_upstream, get, hello_answer,
    put_json, sample, scrape, start_pair, start_server,
};
use reqwest_connection_leak::scenario::verdict::FLAT_BELOW;

/// What the page shows: each value by (server, metric), what the counts
/// showed, and what the settings predict.
struct Shown {
    values: HashMap<(String, String), String>,
    /// What the page says of the server it belongs to, or of its trouble.
    whoami: String,
    seen: String,
    predicted: String,
    dom: String,
}

impl Shown {
    fn number(&self, server: &str, what: &str) -> f64 {
        let text = self
            .values
            .get(&(server.to_owned(), what.to_owned()))
            .unwrap_or_else(|| panic!("no element for server {server} {what}: {}", self.dom));
        text.parse()
            .unwrap_or_else(|_| panic!("server {server} {what} shows {text:?}"))
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
    let values = shown_values(&dom);
    let text_of = |id: &str| {
        dom.split_once(&format!("id=\"{id}\""))
            .and_then(|(_, rest)| rest.split_once('>'))
            .and_then(|(_, rest)| rest.split_once('<'))
            .map_or(String::new(), |(text, _)| text.to_owned())
    };
    Shown {
        whoami: text_of("whoami"),
        seen: text_of("seen"),
        predicted: text_of("amounts"),
        values,
        dom,
    }
}

/// Each value the page shows of a server, by (server, what): a figure by
/// its `data-figure` name, a `/forward` outcome as `forwards.OUTCOME`, and
/// the tasks gained per request as `per_request`.
fn shown_values(dom: &str) -> HashMap<(String, String), String> {
    let attribute = |tag: &str, name: &str| {
        let (_, rest) = tag.split_once(&format!("{name}=\""))?;
        Some(rest.split_once('"')?.0.to_owned())
    };
    let mut values = HashMap::new();
    for element in dom.split('<').skip(1) {
        let Some((tag, text)) = element.split_once('>') else {
            continue;
        };
        let key = match (
            attribute(tag, "data-server"),
            attribute(tag, "data-figure"),
            attribute(tag, "data-outcome"),
            attribute(tag, "data-per-request"),
        ) {
            (Some(server), Some(figure), _, _) => (server, figure),
            (Some(server), _, Some(outcome), _) => (server, format!("forwards.{outcome}")),
            (_, _, _, Some(server)) => (server, "per_request".to_owned()),
            _ => continue,
        };
        values.insert(key, text.to_owned());
    }
    values
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
    assert_eq!(shown.predicted, "leaks");
    // The requests came within the servers' first second or so: their
    // histories hold none of them, or enough to read the leak.
    assert!(
        ["not measured yet", "leaks"].contains(&shown.seen.as_str()),
        "{}",
        shown.seen
    );
    for (server, label) in [(&pair.server2, "server2"), (&pair.server1, "server1")] {
        let metrics = scrape(server);
        for (figure, metric) in [
            ("tasks", "tokio_alive_tasks"),
            ("open_connections", "http_server_open_connections"),
            ("open_fds", "process_open_fds"),
        ] {
            let on_page = shown.number(label, figure);
            let scraped = sample(&metrics, metric);
            assert!(
                (on_page - scraped).abs() <= TOLERANCE,
                "server {label} {metric}: page {on_page}, /metrics {scraped}"
            );
        }
    }
    assert!(shown.number("server2", "tasks") >= 60.0);
    assert!(shown.number("server1", "tasks") >= 60.0);
    assert_eq!(shown.number("server2", "clients_built"), 60.0);
    assert_eq!(shown.number("server2", "clients_held"), 60.0);
    assert_eq!(shown.number("server2", "forwards.ok"), 60.0);
}

/// The newest sample of the history `server` keeps of itself, once it has
/// one that `wanted` accepts.
fn sampled(server: &ServerProcess, wanted: impl Fn(&Value) -> bool) -> Value {
    let mut newest = Value::Null;
    let found = eventually(Duration::from_secs(30), || {
        let figures = get(server.address, "/figures").json();
        newest = figures["history"]
            .as_array()
            .and_then(|history| history.last())
            .cloned()
            .unwrap_or_default();
        !newest.is_null() && wanted(&newest)
    });
    assert!(
        found,
        "no such history sample on {}: {newest}",
        server.address
    );
    newest
}

/// Sends `requests` after both servers' histories have a sample, and waits
/// until both have sampled what they left: server 2 its count of them,
/// server 1 a moment after that.
fn sampled_around(pair: &Pair, requests: u64) {
    for server in [&pair.server2, &pair.server1] {
        sampled(server, |_| true);
    }
    pair.forward_many(requests as usize);
    let done = sampled(&pair.server2, |sample| sample["forwarded"] == requests);
    sampled(&pair.server1, |sample| {
        sample["at_ms"].as_u64() > done["at_ms"].as_u64()
    });
}

#[test]
fn a_page_opened_after_the_leak_draws_it_and_reads_leaks() {
    let pair = start_pair(&[], &[]);
    sampled_around(&pair, 400);
    let shown = open(&format!("http://{}/", pair.server2.address));
    assert_eq!(shown.seen, "leaks", "{}", shown.dom);
    for server in ["server2", "server1"] {
        let per = shown.number(server, "per_request");
        assert!((0.9..=1.1).contains(&per), "server {server}: {per}");
    }
    for side in ["server2", "server1"] {
        let line = shown
            .dom
            .split_once(&format!(r#"class="line {side}""#))
            .map(|(before, _)| before.rsplit_once("points=\"").map_or("", |(_, p)| p))
            .unwrap_or_default();
        assert!(
            line.split(' ').count() >= 2,
            "{side}'s line holds the samples before the page opened: {}",
            shown.dom
        );
    }
}

#[test]
fn a_fixed_pair_shows_flat_counts() {
    let pair = start_pair(&[], &[("DISABLE_KEEP_ALIVES", "true")]);
    sampled_around(&pair, 60);
    let shown = open(&format!("http://{}/", pair.server2.address));
    assert_eq!(shown.predicted, "flat");
    assert_eq!(shown.seen, "flat");
    for server in ["server2", "server1"] {
        let tasks = shown.number(server, "tasks");
        assert!(tasks < FLAT_BELOW as f64, "server {server}: {tasks} tasks");
    }
    assert_eq!(shown.number("server2", "clients_built"), 60.0);
    assert_eq!(shown.number("server2", "clients_held"), 0.0);
}

#[test]
fn a_server_1_without_figures_shows_what_it_can_and_says_what_is_missing() {
    // Answers /hello's shape to every path, as a Go server 1 would to
    // /hello: /figures cannot be read, /hello's count can.
    let upstream = fake_upstream(hello_answer(), 40);
    let url = format!("http://{upstream}/hello");
    let server2 = start_server("server2", &[("UPSTREAM_URL", &url)]);
    let shown = open(&format!("http://{}/", server2.address));
    assert_eq!(shown.number("server1", "tasks"), 1.0, "from /hello");
    assert!(
        shown.dom.contains("/figures is not readable"),
        "{}",
        shown.dom
    );
    assert!(shown.number("server2", "tasks") >= 1.0);
}

/// Drives server 2's page in real time with `scripts/lib/drive.mjs` and
/// its `args`: what the page then shows.
fn drive(server2: &ServerProcess, args: &[&str]) -> Value {
    drive_page(&format!("http://{}/", server2.address), args)
}

/// Drives the page at `url` likewise.
fn drive_page(url: &str, args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lib/drive.mjs");
    let output = Command::new("node")
        .args(["--experimental-websocket", "--no-warnings"])
        .arg(script)
        .arg(url)
        .args(args)
        .output()
        .expect("node is needed to drive the browser");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(said.trim()).unwrap_or_else(|err| panic!("{err}: {said}"))
}

/// The page's per-request figure of `server`, as a number.
fn per_request(shown: &Value, server: &str) -> f64 {
    let text = shown["per_request"][server].as_str().unwrap_or("");
    text.parse()
        .unwrap_or_else(|_| panic!("server {server} shows {text:?}: {shown}"))
}

/// Requests sent as fast as answered while the page watches: the figure is
/// read over a window of requests, however many come between two polls.
fn watched_while_sending(server2_env: &[(&str, &str)]) -> Value {
    let pair = start_pair(&[], server2_env);
    let accepted = || {
        sample(
            &scrape(&pair.server2),
            "http_server_connections_accepted_total",
        )
    };
    let before = accepted();
    thread::scope(|scope| {
        // The page watches until it has seen all 300 requests answered,
        // and a figure read over at least 100 of them (server 2's history
        // samples once a second).
        let all_seen = r##"Number(document.querySelector(`[data-server="server2"][data-outcome="ok"]`).textContent) >= 300 && Number(document.querySelector("#window").textContent) >= 100"##;
        let page = scope.spawn(|| drive(&pair.server2, &["--until", all_seen]));
        // Once the page polls, 300 requests as fast as they are answered.
        assert!(eventually(Duration::from_secs(30), || accepted() >= before + 4.0));
        pair.forward_many(300);
        page.join().expect("the page")
    })
}

#[test]
fn the_per_request_figure_reads_about_one_for_a_leak_sent_fast() {
    let shown = watched_while_sending(&[]);
    for server in ["server2", "server1"] {
        let per = per_request(&shown, server);
        assert!(
            (0.8..=1.2).contains(&per),
            "server {server}: {per}: {shown}"
        );
    }
    assert_eq!(shown["seen"], "leaks", "{shown}");
}

#[test]
fn the_per_request_figure_reads_about_zero_for_a_fix_sent_fast() {
    let shown = watched_while_sending(&[("DISABLE_KEEP_ALIVES", "true")]);
    for server in ["server2", "server1"] {
        let per = per_request(&shown, server);
        assert!(
            (-0.2..=0.2).contains(&per),
            "server {server}: {per}: {shown}"
        );
    }
    assert_eq!(shown["seen"], "flat", "{shown}");
}

/// The value the page shows for `DISABLE_KEEP_ALIVES`, and its button.
const DISABLE_KEEP_ALIVES_NOW: &str =
    r#"document.querySelector('[data-switch="disable-keep-alives"] .now').textContent"#;
const DISABLE_KEEP_ALIVES_BUTTON: &str = r#"[data-switch="disable-keep-alives"] button"#;

#[test]
fn a_click_held_across_polls_still_switches() {
    let pair = start_pair(&[], &[]);
    let now = DISABLE_KEEP_ALIVES_NOW;
    // The button is held down for three polls' redraws: a button rebuilt
    // by one of them would take the press but never see the release.
    let shown = drive(
        &pair.server2,
        &[
            "--until",
            &format!("{now} === 'false'"),
            "--click",
            DISABLE_KEEP_ALIVES_BUTTON,
            "--hold",
            "1.6",
            "--then-until",
            &format!("{now} === 'true'"),
            "--deadline",
            "15",
        ],
    );
    assert_eq!(shown["switches"]["disable-keep-alives"], "true", "{shown}");
    let settings = get(pair.server2.address, "/settings").json();
    assert_eq!(settings["DISABLE_KEEP_ALIVES"], "true");
}

#[test]
fn a_click_on_a_switch_switches_it_and_marks_the_chart() {
    let pair = start_pair(&[], &[]);
    pair.forward_many(20);
    let row = DISABLE_KEEP_ALIVES_NOW;
    let marked = r##"[...document.querySelectorAll("#chart .mark-label")].some((e) => e.textContent === "DISABLE_KEEP_ALIVES=true")"##;
    let shown = drive(
        &pair.server2,
        &[
            "--until",
            &format!("{row} === 'false'"),
            "--click",
            DISABLE_KEEP_ALIVES_BUTTON,
            "--then-until",
            &format!(
                "{row} === 'true' && {marked} && document.querySelector('#amounts').textContent === 'flat'"
            ),
        ],
    );
    assert_eq!(shown["switches"]["disable-keep-alives"], "true", "{shown}");
    let marks: Vec<&str> = shown["marks"]
        .as_array()
        .map(|marks| marks.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(marks.contains(&"DISABLE_KEEP_ALIVES=true"), "{shown}");
    assert_eq!(shown["predicted"], "flat", "{shown}");
    let settings = get(pair.server2.address, "/settings").json();
    assert_eq!(settings["DISABLE_KEEP_ALIVES"], "true");
}

#[test]
fn server_1s_own_page_shows_its_counts_and_says_what_it_plays() {
    // Its upstream a closed port, not the default :8080, which another
    // program on the machine may serve.
    let closed = ClosedPort::new();
    let upstream = format!("http://{}/hello", closed.address);
    let server1 = start_server("server1", &[("UPSTREAM_URL", &upstream)]);
    // Having answered /hello and forwarded nothing, it plays server 1.
    assert_eq!(get(server1.address, "/hello").status, 200);
    let shown = open(&format!("http://{}/", server1.address));
    assert!(
        shown.whoami.starts_with("This server plays server 1"),
        "{}",
        shown.whoami
    );
    assert!(shown.number("server1", "tasks") >= 1.0);
    assert!(
        shown.dom.contains("<polyline"),
        "the chart is drawn: {}",
        shown.dom
    );
}

/// A page on another port that frames `framed` and says when its frame
/// has loaded, whatever it then holds; answered to a few connections.
fn framing_page(framed: &str) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let body = format!(
        r#"<!doctype html><html><body><iframe src="{framed}" style="opacity:0.01" onload="window.framed = true"></iframe></body></html>"#
    );
    thread::spawn(move || {
        for mut stream in listener.incoming().take(4).flatten() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    format!("http://{address}/")
}

#[test]
fn another_site_framing_the_dashboard_gets_an_empty_frame() {
    let server2 = start_server("server2", &[]);
    let dashboard = format!("http://{}/", server2.address);
    let shown = drive_page(
        &framing_page(&dashboard),
        &["--until", "window.framed === true"],
    );
    let frames = shown["frames"].as_array().expect("frames");
    assert_eq!(frames.len(), 1, "{shown}");
    assert_ne!(
        frames[0]["url"],
        dashboard.as_str(),
        "the dashboard was framed: {shown}"
    );
    assert_eq!(frames[0]["unreachable"], dashboard.as_str(), "{shown}");
}

#[test]
fn one_stray_request_takes_no_control_off_server_2s_page() {
    let pair = start_pair(&[], &[]);
    // Any website can make a browser send this, cross-origin.
    assert_eq!(get(pair.server2.address, "/hello").status, 200);
    // The page says what the server plays, and shows every control.
    let shown = drive(
        &pair.server2,
        &[
            "--until",
            "document.querySelector('#whoami').textContent.startsWith('This server plays server 2') \
             && !document.querySelector('#control').hidden \
             && !document.querySelector('#switches-panel').hidden \
             && document.querySelector('[data-switch=\"connection-close\"] .now').textContent === 'false'",
        ],
    );
    assert_eq!(shown["switches"]["disable-keep-alives"], "false", "{shown}");
}

/// `[x, y, width, height]` boxes from what the page shows.
fn boxes(shown: &Value, key: &str) -> Vec<Vec<f64>> {
    shown[key]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|one| {
                    one.as_array()
                        .map(|numbers| numbers.iter().filter_map(Value::as_f64).collect())
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn switch_labels_never_meet_each_other_nor_a_marks_line() {
    let pair = start_pair(&[], &[]);
    let accepted = || {
        sample(
            &scrape(&pair.server2),
            "http_server_connections_accepted_total",
        )
    };
    let before = accepted();
    let shown = thread::scope(|scope| {
        let page = scope.spawn(|| {
            drive(
                &pair.server2,
                &[
                    "--until",
                    "document.querySelectorAll('#chart .mark-label').length >= 5",
                ],
            )
        });
        // Once the page polls, five switches as fast as they are answered:
        // closer than any spacing a person could make.
        assert!(eventually(Duration::from_secs(30), || accepted() >= before + 2.0));
        for value in ["true", "false", "true", "false", "true"] {
            let switch = format!(r#"{{"DISABLE_KEEP_ALIVES":"{value}"}}"#);
            let answer = put_json(pair.server2.address, "/settings", &switch, &[]);
            assert_eq!(answer.status, 200, "{answer:?}");
        }
        page.join().expect("the page")
    });
    let labels = boxes(&shown, "label_boxes");
    let lines = boxes(&shown, "mark_lines");
    assert!(labels.len() >= 5 && lines.len() == labels.len(), "{shown}");
    let meet = |a: &[f64], b: &[f64]| {
        a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3]
    };
    for (i, a) in labels.iter().enumerate() {
        for b in &labels[i + 1..] {
            assert!(!meet(a, b), "labels {a:?} and {b:?} meet: {shown}");
        }
        for line in &lines {
            let (x, top, bottom) = (line[0], line[1], line[2]);
            let across = a[0] <= x && x <= a[0] + a[2];
            let along = top <= a[1] + a[3] && a[1] <= bottom;
            assert!(
                !(across && along),
                "a line at {x} crosses label {a:?}: {shown}"
            );
        }
    }
}
