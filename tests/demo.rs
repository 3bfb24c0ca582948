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
