//! `demo` runs every scenario, reports each, draws the chart and passes.

use std::process::Command;
use std::time::Duration;

use reqwest_connection_leak::scenario;

use crate::common::{BINARY, eventually};

#[test]
fn the_demo_runs_every_scenario_and_draws_one_line_per_scenario_and_role() {
    let folder = std::env::temp_dir().join(format!("leak-demo-test-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("temp folder");
    let chart = folder.join("chart.svg");
    let output = Command::new(BINARY)
        .args(["demo", "--requests", "30", "--chart"])
        .arg(&chart)
        .env_remove("RUST_LOG")
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");

    let rows: Vec<&str> = stdout.lines().collect();
    assert!(rows[0].starts_with("scenario"), "{stdout}");
    let labels: Vec<String> = scenario::ALL.iter().map(|s| s.label()).collect();
    for (scenario, label) in scenario::ALL.iter().zip(&labels) {
        let row = rows
            .iter()
            .find(|row| row.starts_with(label.as_str()))
            .unwrap_or_else(|| panic!("no row for {label}: {stdout}"));
        // 30 requests at full speed outrun a 1 s idle timeout: each
        // scenario shows exactly what it promises, not a milder verdict.
        assert!(row.ends_with(&scenario.expectation().to_string()), "{row}");
    }
    assert!(stdout.contains(&format!("chart: {}", chart.display())));

    let svg = std::fs::read_to_string(&chart).expect("the chart was written");
    std::fs::remove_dir_all(&folder).expect("clean up");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    // One panel per scenario, each with a line per role through every
    // request and the idle wait's samples after them.
    for role in ["server2", "server1"] {
        let lines: Vec<&str> = svg
            .split(&format!(r#"class="line {role}""#))
            .skip(1)
            .collect();
        assert_eq!(lines.len(), labels.len(), "{role}: one line per scenario");
    }
    let points: Vec<usize> = svg
        .split("<polyline points=\"")
        .skip(1)
        .map(|element| {
            element
                .split('"')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .count()
        })
        .collect();
    assert_eq!(points.len(), 2 * labels.len());
    assert!(points.iter().all(|&count| count > 30), "{points:?}");
    for label in &labels {
        assert_eq!(svg.matches(label.as_str()).count(), 1, "{label}: one panel");
    }
}

#[test]
fn json_has_every_sample_and_the_pace_is_kept() {
    let output = demo(
        &[
            "--json",
            "--requests",
            "20",
            "--rate",
            "20",
            "--scenario",
            "leak",
            "--scenario",
            "idle-conn-timeout",
            "--chart",
            &temp_chart("json").to_string_lossy(),
        ],
        &[],
    );
    let _ = std::fs::remove_file(temp_chart("json"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let document: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    let scenarios = document["scenarios"].as_array().expect("scenarios");
    let names: Vec<&str> = scenarios
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["leak", "idle-conn-timeout"]);
    assert_eq!(scenarios[0]["verdict"], "leaks");
    assert_eq!(scenarios[0]["settings"], serde_json::json!({}));
    assert_eq!(
        scenarios[1]["settings"],
        serde_json::json!({"IDLE_CONN_TIMEOUT": "1s"})
    );
    let samples = scenarios[0]["samples"].as_array().expect("samples");
    let field = |sample: &serde_json::Value, name: &str| sample[name].as_f64().unwrap_or(-1.0);
    let last_request = samples
        .iter()
        .find(|sample| field(sample, "requests") == 20.0)
        .expect("a sample at the last request");
    // 20 requests at 20 a second: the last is due 0.95 s after the first.
    assert!(field(last_request, "seconds") >= 0.95, "{last_request}");
    assert!(
        field(last_request, "server1_tasks") >= 17.0,
        "{last_request}"
    );
    assert!(field(last_request, "server1_open_connections") >= 17.0);
    let mut previous = 0.0;
    for sample in samples {
        let seconds = field(sample, "seconds");
        assert!(seconds >= previous, "samples in time order");
        previous = seconds;
        for name in [
            "requests",
            "server2_tasks",
            "server1_tasks",
            "server1_open_connections",
        ] {
            assert!(field(sample, name) >= 0.0, "{name} in {sample}");
        }
    }
    assert!(
        previous >= 3.9,
        "the idle wait is on the same axis: {previous}"
    );
}

/// The demo with `args`, its output kept.
fn demo(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(BINARY)
        .arg("demo")
        .args(args)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .expect("run the demo")
}

fn temp_chart(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("leak-demo-{name}-{}.svg", std::process::id()))
}

#[test]
fn an_unwritable_chart_path_fails_before_the_first_scenario() {
    let started = std::time::Instant::now();
    // A folder under a file cannot be made, even by root.
    let output = demo(&["--chart", "/dev/null/chart.svg"], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("/dev/null/chart.svg"), "{stderr}");
    // Every scenario would take over 20 s: this took none of them.
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(output.stdout.is_empty());
}

#[test]
fn server_settings_in_the_environment_do_not_stop_the_demo() {
    let chart = temp_chart("env");
    let chart_arg = chart.to_string_lossy().into_owned();
    let output = demo(
        &[
            "--requests",
            "5",
            "--scenario",
            "leak",
            "--chart",
            &chart_arg,
        ],
        &[("IDLE_CONN_TIMEOUT", "bogus"), ("BIND_ADDRESS", "nonsense")],
    );
    let _ = std::fs::remove_file(&chart);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_closed_standard_output_is_no_panic() {
    let chart = temp_chart("closed-stdout");
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let output = Command::new(BINARY)
        .args(["demo", "--requests", "5", "--scenario", "leak", "--chart"])
        .arg(&chart)
        .env_remove("RUST_LOG")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run the demo");
    let written = std::fs::read_to_string(&chart).unwrap_or_default();
    let _ = std::fs::remove_file(&chart);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(written.starts_with("<svg"), "the chart was written");
}

/// The processes whose parent is `pid`, from `/proc`.
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| {
                    let after_name = stat.rsplit_once(')')?.1.to_owned();
                    after_name.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// Whether `pid` is still running: gone, or a zombie waiting to be reaped,
/// counts as ended.
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| Some(stat.rsplit_once(')')?.1.split_whitespace().next()? != "Z"))
        .unwrap_or(false)
}

#[test]
fn a_demo_ended_by_a_signal_exits_as_a_shell_reports_it_and_leaves_no_server_behind() {
    // 128 and the signal's number; SIGKILL leaves no status to exit with.
    // SIGKILL leaves the servers behind where only their `Server`'s drop
    // ends them: Linux alone kills a child with the thread that started it.
    let signals: &[(&str, Option<i32>)] = match cfg!(linux_view) {
        true => &[("HUP", Some(129)), ("TERM", Some(143)), ("KILL", None)],
        false => &[("HUP", Some(129)), ("TERM", Some(143))],
    };
    for &(signal, status) in signals {
        let chart = temp_chart(signal);
        let mut demo = Command::new(BINARY)
            .args([
                "demo",
                "--requests",
                "1000000",
                "--scenario",
                "leak",
                "--chart",
            ])
            .arg(&chart)
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the demo");
        let mut servers = Vec::new();
        eventually(Duration::from_secs(20), || {
            servers = children_of(demo.id());
            servers.len() >= 2
        });
        assert_eq!(servers.len(), 2, "{signal}: the demo started its pair");
        let killed = Command::new("kill")
            .args([&format!("-{signal}"), &demo.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let ended = demo.wait().expect("the demo's status");
        assert_eq!(ended.code(), status, "{signal}");
        eventually(Duration::from_secs(3), || {
            !servers.iter().any(|pid| running(*pid))
        });
        let _ = std::fs::remove_file(&chart);
        let left: Vec<_> = servers.iter().filter(|pid| running(**pid)).collect();
        assert!(
            left.is_empty(),
            "{signal}: servers {left:?} outlived the demo"
        );
    }
}

#[test]
fn a_scenario_that_fails_has_its_row_in_the_table_beside_the_others_and_is_named() {
    // 64 descriptors for each process: the leak runs out within its 100
    // requests, each of which keeps a connection on both servers; a fix
    // keeps none.
    let chart = temp_chart("descriptors");
    let output = Command::new("sh")
        .args(["-c", "ulimit -n 64 && exec \"$0\" \"$@\"", BINARY])
        .args([
            "demo",
            "--scenario",
            "leak",
            "--scenario",
            "disable-keep-alives",
        ])
        .args(["--requests", "100", "--rate", "0", "--chart"])
        .arg(&chart)
        .env_remove("RUST_LOG")
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("scenario leak (defaults) failed: "),
        "{stderr}"
    );
    let row = |label: &str| {
        stdout
            .lines()
            .find(|line| line.starts_with(label))
            .unwrap_or_else(|| panic!("no row for {label}: {stdout}"))
            .to_owned()
    };
    assert!(
        row("leak (defaults)").ends_with("failed (why: below)"),
        "{stdout}"
    );
    assert!(
        row("DISABLE_KEEP_ALIVES=true").ends_with("flat"),
        "{stdout}"
    );
}

#[test]
fn too_few_requests_to_judge_are_refused_naming_the_fewest() {
    for requests in ["0", "1", "4"] {
        let output = Command::new(BINARY)
            .args(["demo", "--requests", requests])
            .output()
            .expect("run the demo");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{requests}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("--requests") && stderr.contains("at least 5"),
            "{stderr}"
        );
    }
}

#[test]
fn two_demos_at_once_each_draw_their_own_chart_and_say_where() {
    let chart = temp_chart("twice");
    let start = || {
        Command::new(BINARY)
            .args([
                "demo",
                "--scenario",
                "disable-keep-alives",
                "--requests",
                "5",
                "--chart",
            ])
            .arg(&chart)
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start a demo")
    };
    let (first, second) = (start(), start());
    let said: Vec<String> = [first, second]
        .into_iter()
        .map(|demo| {
            let output = demo.wait_with_output().expect("the demo ends");
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            stdout
                .lines()
                .find_map(|line| line.strip_prefix("chart: "))
                .unwrap_or_else(|| panic!("no chart line: {stdout}"))
                .to_owned()
        })
        .collect();
    assert_ne!(said[0], said[1], "one file for two demos");
    for path in &said {
        let svg = std::fs::read_to_string(path).unwrap_or_default();
        assert!(svg.contains("<svg"), "{path}: {svg:.80}");
        let _ = std::fs::remove_file(path);
    }
}
