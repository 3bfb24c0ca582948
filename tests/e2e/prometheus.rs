//! The alert rules against the real thing: Debian's Prometheus scrapes a
//! leaking pair and a fixed pair on loopback once a second, with the rules
//! of `prometheus/alerts.yml` as they are, and the task alert's condition
//! holds for the leaking pair, and only for it, within a bounded time. The
//! alert then waits out its `for` of a minute before it fires; that wait,
//! and each rule's timing, are what promtool's tests of
//! `prometheus/alerts_test.yml` check (scripts/test.sh runs them), so this
//! test stops at the alert's first state, pending. Likewise the real
//! Prometheus scrapes `inspect --metrics` watching a leaking pair and a
//! fixed one, and the expression of `prometheus/any_service.yml`'s rule on
//! connections used once finds the leak alone.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::inspect_run::serving_at;
use crate::common::{BINARY, Pair, PairExt, exchange_raw, on_linux, start_pair};
use serde_json::Value;

/// The rule's window needs 20 requests and two scrapes of each; a minute
/// is ample.
const PATIENCE: Duration = Duration::from_secs(60);

/// Prometheus, killed and its data removed when dropped.
struct Prometheus {
    child: Child,
    address: std::net::SocketAddr,
    folder: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// `targets` as one static config: (address, pair, role), with the rules
/// of `prometheus/{rules}`.
fn start_prometheus(rules: &str, targets: &[(String, &str, &str)]) -> Prometheus {
    // A folder of its own: two tests may run a Prometheus at once.
    static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let folder = std::env::temp_dir().join(format!(
        "leak-prometheus-{}-{}",
        std::process::id(),
        STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&folder).expect("a folder");
    let rules = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("prometheus")
        .join(rules);
    let mut config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: leak\n    static_configs:\n",
        rules.display()
    );
    for (address, pair, role) in targets {
        config.push_str(&format!(
            "      - targets: [\"{address}\"]\n        labels: {{pair: {pair}, role: {role}}}\n"
        ));
    }
    let config_path = folder.join("prometheus.yml");
    std::fs::write(&config_path, config).expect("write the config");
    let mut child = Command::new("prometheus")
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!("--storage.tsdb.path={}", folder.join("data").display()))
        .arg("--web.listen-address=127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prometheus is needed: scripts/test.sh installs it (Debian: apt-get install prometheus)");
    let address = listening_address(&mut child);
    let prometheus = Prometheus {
        child,
        address,
        folder,
    };
    let ready = crate::common::eventually(Duration::from_secs(20), || {
        std::net::TcpStream::connect(address).is_ok() && ask(address, "/-/ready").0 == 200
    });
    assert!(ready, "prometheus did not get ready");
    prometheus
}

/// The address Prometheus picked for port 0, from its log line
/// `msg="Listening on" address=127.0.0.1:PORT`; the rest of its log is
/// read and dropped, so that it never blocks on a full pipe.
fn listening_address(child: &mut Child) -> std::net::SocketAddr {
    let stderr = child.stderr.take().expect("its log");
    let (found, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let listening = line
                .contains("msg=\"Listening on\"")
                .then(|| line.rsplit_once("address=")?.1.parse().ok())
                .flatten();
            if let Some(address) = listening {
                let _ = found.send(address);
            }
        }
    });
    address
        .recv_timeout(Duration::from_secs(20))
        .expect("prometheus said where it listens")
}

/// `GET path` as HTTP/1.0, so that the answer is neither chunked nor kept
/// alive: (status, body).
fn ask(address: std::net::SocketAddr, path: &str) -> (u16, String) {
    let raw = exchange_raw(address, format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes());
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

/// The alerts Prometheus has now: (name, state, pair).
fn alerts(prometheus: &Prometheus) -> Vec<(String, String, String)> {
    let (status, body) = ask(prometheus.address, "/api/v1/alerts");
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).expect("JSON");
    body["data"]["alerts"]
        .as_array()
        .map(|alerts| {
            alerts
                .iter()
                .map(|alert| {
                    let text = |value: &Value| value.as_str().unwrap_or("").to_owned();
                    (
                        text(&alert["labels"]["alertname"]),
                        text(&alert["state"]),
                        text(&alert["labels"]["pair"]),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn targets_of<'a>(pair: &Pair, name: &'a str) -> [(String, &'a str, &'static str); 2] {
    [
        (pair.server1.address.to_string(), name, "server1"),
        (pair.server2.address.to_string(), name, "server2"),
    ]
}

/// A leaking pair and a fixed one, both scraped by a Prometheus of their
/// own.
fn watched_pairs() -> (Pair, Pair, Prometheus) {
    let leaking = start_pair(&[], &[]);
    let fixed = start_pair(&[], &[("DISABLE_KEEP_ALIVES", "true")]);
    let mut targets = targets_of(&leaking, "leaking").to_vec();
    targets.extend(targets_of(&fixed, "fixed"));
    let prometheus = start_prometheus("alerts.yml", &targets);
    (leaking, fixed, prometheus)
}

#[test]
fn the_task_alert_is_raised_for_the_leaking_pair_only() {
    let (leaking, fixed, prometheus) = watched_pairs();

    let started = Instant::now();
    let mut raised_after = None;
    let mut seen = Vec::new();
    while started.elapsed() < PATIENCE {
        // The curl loop's pace, on both pairs alike.
        leaking.forward_many(20);
        fixed.forward_many(20);
        seen = alerts(&prometheus);
        let raised = |pair: &str| {
            seen.iter().any(|(name, state, on)| {
                name == "TasksGrowWithRequests"
                    && (state == "pending" || state == "firing")
                    && on == pair
            })
        };
        assert!(!raised("fixed"), "the fixed pair: {seen:?}");
        if raised("leaking") {
            raised_after = Some(started.elapsed());
            break;
        }
        thread::sleep(Duration::from_millis(700));
    }
    let raised_after = raised_after.unwrap_or_else(|| panic!("no alert in {PATIENCE:?}: {seen:?}"));
    eprintln!("the task alert was raised {raised_after:?} after the first leaking request");
    assert!(
        !seen.iter().any(|(_, _, pair)| pair == "fixed"),
        "nothing even pending for the fixed pair: {seen:?}"
    );
}

/// The first PromQL block of the guide for operators, as a person would
/// copy it.
fn the_guides_promql() -> String {
    let guide = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operators.md");
    let text = std::fs::read_to_string(&guide).expect("docs/operators.md");
    text.split_once("```promql\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(query, _)| query.trim().to_owned())
        .expect("a promql block in docs/operators.md")
}

/// `query` evaluated now: each result's labels and value.
fn query(prometheus: &Prometheus, query: &str) -> Vec<(Value, f64)> {
    let encoded: String = query
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect();
    let (status, body) = ask(
        prometheus.address,
        &format!("/api/v1/query?query={encoded}"),
    );
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).expect("JSON");
    body["data"]["result"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .map(|result| {
                    let value = result["value"][1].as_str().and_then(|v| v.parse().ok());
                    (result["metric"].clone(), value.unwrap_or(f64::NAN))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_guides_promql_reads_about_one_on_a_leaking_server_2_and_zero_once_fixed() {
    let (leaking, fixed, prometheus) = watched_pairs();
    let promql = the_guides_promql();
    let started = Instant::now();
    let mut results = Vec::new();
    let value_of = |results: &[(Value, f64)], pair: &str| {
        results
            .iter()
            .find(|(labels, _)| labels["pair"] == pair && labels["role"] == "server2")
            .map(|(_, value)| *value)
    };
    let settled = |results: &[(Value, f64)]| {
        let leak = value_of(results, "leaking").is_some_and(|leak| (0.8..=1.2).contains(&leak));
        let fix = value_of(results, "fixed").is_some_and(|fix| fix.abs() <= 0.2);
        results.len() == 2 && leak && fix
    };
    // Requests on both pairs until the window holds enough of them that
    // what was in flight at the first scrape no longer weighs on the
    // ratio (on a busy machine, a few tasks over a few requests).
    while started.elapsed() < PATIENCE {
        leaking.forward_many(20);
        fixed.forward_many(20);
        results = query(&prometheus, &promql);
        if started.elapsed() > Duration::from_secs(4) && settled(&results) {
            break;
        }
        thread::sleep(Duration::from_millis(700));
    }
    assert_eq!(results.len(), 2, "server 2 of each pair alone: {results:?}");
    let leak = value_of(&results, "leaking").unwrap_or(f64::NAN);
    assert!((0.8..=1.2).contains(&leak), "leaking: {leak} ({results:?})");
    let fix = value_of(&results, "fixed").unwrap_or(f64::NAN);
    assert!(fix.abs() <= 0.2, "fixed: {fix} ({results:?})");
}

/// The expression of the rule `alert` in `prometheus/{rules}`, as written
/// there.
fn rule_expression(rules: &str, alert: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("prometheus")
        .join(rules);
    let text = std::fs::read_to_string(&path).expect("the rules");
    let (_, rule) = text
        .split_once(&format!("- alert: {alert}\n"))
        .unwrap_or_else(|| panic!("no {alert} in {rules}"));
    let (_, expression) = rule.split_once("expr: |\n").expect("an expression block");
    expression
        .lines()
        .take_while(|line| !line.trim_start().starts_with("for:"))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `inspect --metrics` on a free port, watching `pids`; killed when
/// dropped.
struct Exporter {
    child: Child,
    address: String,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_exporter(pids: &[u32]) -> Exporter {
    let mut child = Command::new(BINARY)
        .args(["inspect", "--metrics", "127.0.0.1:0", "--json"])
        .args(["--interval", "200ms", "--idle", "300ms"])
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start inspect");
    let address = serving_at(&mut child);
    Exporter { child, address }
}

#[test]
fn the_rule_on_connections_used_once_finds_the_leak_that_inspect_watches() {
    let test = "the_rule_on_connections_used_once_finds_the_leak_that_inspect_watches";
    if !on_linux(test, "inspect") {
        return;
    }
    let leaking = start_pair(&[], &[]);
    let fixed = start_pair(&[], &[("DISABLE_KEEP_ALIVES", "true")]);
    let exporter = start_exporter(&[leaking.server2.pid(), fixed.server2.pid()]);
    let prometheus = start_prometheus(
        "any_service.yml",
        &[(exporter.address.clone(), "both", "inspect")],
    );
    let expression = rule_expression("any_service.yml", "ConnectionsUsedOncePileUp");
    let (leak, fix) = (
        leaking.server2.pid().to_string(),
        fixed.server2.pid().to_string(),
    );
    let started = Instant::now();
    let mut results = Vec::new();
    while started.elapsed() < PATIENCE {
        leaking.forward_many(10);
        fixed.forward_many(10);
        results = query(&prometheus, &expression);
        assert!(
            results
                .iter()
                .all(|(labels, _)| labels["pid"] != fix.as_str()),
            "the fixed pair: {results:?}"
        );
        if results
            .iter()
            .any(|(labels, _)| labels["pid"] == leak.as_str())
        {
            break;
        }
        thread::sleep(Duration::from_millis(500));
    }
    let found = results
        .iter()
        .find(|(labels, _)| labels["pid"] == leak.as_str())
        .unwrap_or_else(|| panic!("{expression} found no leak in {PATIENCE:?}: {results:?}"));
    assert_eq!(found.0["peer"], leaking.server1.address.to_string());
    assert!(found.1 >= 5.0, "a pile of connections used once: {found:?}");
}
