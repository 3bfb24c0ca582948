//! `demo` runs every scenario, reports each, draws the chart and passes.

use std::process::Command;

use reqwest_connection_leak::scenario;

const BINARY: &str = env!("CARGO_BIN_EXE_reqwest-connection-leak");

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
        assert!(row.ends_with(&scenario.expectation.to_string()), "{row}");
    }
    assert!(stdout.contains(&format!("chart: {}", chart.display())));

    let svg = std::fs::read_to_string(&chart).expect("the chart was written");
    std::fs::remove_dir_all(&folder).expect("clean up");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    // A data line has a point per request; grid lines, legend marks and
    // the idle rule have two.
    let data_lines = svg
        .split("<polyline")
        .skip(1)
        .filter(|element| {
            let points = element.split("points=\"").nth(1).unwrap_or("");
            let points = points.split('"').next().unwrap_or("");
            points.split_whitespace().count() == 30
        })
        .count();
    assert_eq!(data_lines, 2 * labels.len(), "one per scenario and role");
    for label in &labels {
        assert_eq!(
            svg.matches(label.as_str()).count(),
            2,
            "{label} in both legends"
        );
    }
    assert_eq!(
        svg.matches("<circle").count(),
        2 * labels.len(),
        "idle dots"
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
    let output = demo(&["--chart", "/nonexistent-folder/chart.svg"], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("/nonexistent-folder/chart.svg"), "{stderr}");
    // Every scenario would take over 20 s: this took none of them.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
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
fn a_demo_ended_by_a_signal_leaves_no_server_behind() {
    for signal in ["HUP", "KILL"] {
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
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut servers = Vec::new();
        while servers.len() < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
            servers = children_of(demo.id());
        }
        assert_eq!(servers.len(), 2, "{signal}: the demo started its pair");
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &demo.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let _ = demo.wait();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while servers.iter().any(|pid| running(*pid)) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = std::fs::remove_file(&chart);
        let left: Vec<_> = servers.iter().filter(|pid| running(**pid)).collect();
        assert!(
            left.is_empty(),
            "{signal}: servers {left:?} outlived the demo"
        );
    }
}
