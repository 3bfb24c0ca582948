//! Bad settings stop the program before it listens, with one line that
//! names the variable.

use std::process::{Command, Output, Stdio};

use clap::CommandFactory;
use reqwest_connection_leak::cli::Cli;
use reqwest_connection_leak::settings::knobs::Knob;

use crate::common::{BINARY, start_server, start_server_with};

fn run_with(env: &[(&str, &str)]) -> Output {
    Command::new(BINARY)
        .env_clear()
        .env("BIND_ADDRESS", "127.0.0.1:0")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run the binary")
}

#[test]
fn every_bad_variable_exits_2_naming_it() {
    let cases = [
        ("BIND_ADDRESS", "8080"),
        ("BIND_ADDRESS", ":99999"),
        ("UPSTREAM_URL", "ftp://localhost/hello"),
        ("UPSTREAM_URL", "not a url"),
        ("DISABLE_KEEP_ALIVES", "yes"),
        ("IDLE_CONN_TIMEOUT", "5"),
        ("IDLE_CONN_TIMEOUT", "-1s"),
        ("MAX_IDLE_CONNS_PER_HOST", "1.5"),
        ("MAX_IDLE_CONNS_PER_HOST", "9223372036854775808"),
        ("CONNECTION_CLOSE", "2"),
        ("CLIENT_LIFETIME", "forever"),
        ("REQUEST_TIMEOUT", "1 s"),
        // Past Go's longest duration, as time.ParseDuration refuses them.
        ("REQUEST_TIMEOUT", "2562048h"),
        ("IDLE_CONN_TIMEOUT", "9223372036854775808ns"),
        ("SERVER_IDLE_TIMEOUT", "forever"),
        ("SERVER_IDLE_TIMEOUT", "1ns"),
        ("UPSTREAM_URL", "http:///hello"),
        ("UPSTREAM_URL", "http://localhost:0/hello"),
        ("RUST_LOG", "info,["),
        ("EXTRA_HOSTS", "localhost."),
        ("EXTRA_HOSTS", "0.0.0.0"),
        ("EXTRA_HOSTS", ".."),
    ];
    for (variable, value) in cases {
        let output = run_with(&[(variable, value)]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{variable}={value}: {stderr}"
        );
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(variable), "{variable}={value}: {stderr}");
        assert!(stderr.contains(value), "{variable}={value}: {stderr}");
    }
}

#[test]
fn a_value_that_is_not_utf8_exits_2_naming_its_variable() {
    use std::os::unix::ffi::OsStrExt;
    let output = Command::new(BINARY)
        .env_clear()
        .env("IDLE_CONN_TIMEOUT", std::ffi::OsStr::from_bytes(b"1\xffs"))
        .output()
        .expect("run the binary");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("IDLE_CONN_TIMEOUT"), "{stderr}");
    assert!(stderr.contains("UTF-8"), "{stderr}");
}

#[test]
fn a_bad_url_with_credentials_is_refused_without_showing_them() {
    for url in [
        "ftp://user:S3cr3t@localhost/hello",
        "http://admin:S3cr3t@127.0.0.1:99999/hello",
        "http://admin:S3cr3t@[::1/hello",
        "http://admin:S3cr3t@/hello",
        "admin:S3cr3t@127.0.0.1:8080/hello",
    ] {
        let by_env = run_with(&[("UPSTREAM_URL", url)]);
        let by_flag = Command::new(BINARY)
            .env_clear()
            .arg(format!("--upstream-url={url}"))
            .output()
            .expect("run the binary");
        for output in [by_env, by_flag] {
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{url}: {stderr}");
            assert!(
                stderr.starts_with("error: UPSTREAM_URL: "),
                "{url}: {stderr}"
            );
            assert!(stderr.contains("redacted@"), "{url}: {stderr}");
            assert!(!stderr.contains("S3cr3t"), "{url}: {stderr}");
        }
    }
}

#[test]
fn flags_are_checked_the_same_way() {
    let output = Command::new(BINARY)
        .arg("--idle-conn-timeout=soon")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("IDLE_CONN_TIMEOUT"));
}

#[test]
fn help_lists_every_variable_and_exits_0() {
    let output = Command::new(BINARY).arg("--help").output().expect("run");
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    // Every knob, from the registry, and every other setting the command
    // line reads from the environment.
    let command = Cli::command();
    let settings = command
        .get_arguments()
        .filter_map(|argument| argument.get_env())
        .map(|env| env.to_string_lossy().into_owned());
    let knobs = Knob::ALL.iter().map(|knob| knob.env().to_owned());
    let every: std::collections::BTreeSet<String> = settings.chain(knobs).collect();
    assert!(every.len() >= 16, "{every:?}");
    for variable in every {
        assert!(help.contains(&format!("[env: {variable}")), "{variable}");
    }
}

#[test]
fn every_scenario_setting_is_a_variable_with_a_checked_value() {
    for scenario in reqwest_connection_leak::scenario::ALL {
        let Some(setting) = scenario.setting else {
            continue;
        };
        let env = setting.knob.env();
        let output = run_with(&[(env, "bogus")]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{env}: {stderr}");
        assert!(stderr.contains(env), "{stderr}");
    }
}

#[test]
fn scenarios_lists_the_registry_for_scripts() {
    let output = Command::new(BINARY).arg("scenarios").output().expect("run");
    assert_eq!(output.status.code(), Some(0));
    let listed = String::from_utf8_lossy(&output.stdout);
    let expected: Vec<String> = reqwest_connection_leak::scenario::ALL
        .iter()
        .map(|scenario| scenario.tab_separated())
        .collect();
    assert_eq!(listed.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn a_port_in_use_exits_2_naming_the_address_and_how_to_pick_another() {
    let first = start_server("first", &[]);
    let taken = first.address.to_string();
    let output = run_with(&[("BIND_ADDRESS", &taken)]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&taken), "{stderr}");
    assert!(stderr.contains("in use"), "{stderr}");
    assert!(
        stderr.contains("BIND_ADDRESS=:9090"),
        "says how to pick another: {stderr}"
    );
}

#[test]
fn a_misspelled_setting_is_named_with_the_one_meant_and_the_server_starts() {
    let server = start_server_with(
        "misspelled",
        &[
            ("BIND_ADDRESS", "127.0.0.1:0"),
            ("DISABLE_KEEPALIVES", "true"),
            ("IDLE_CONN_TIMOUT", "1s"),
        ],
    );
    let warned = |given: &str, meant: &str| {
        let line = format!(
            "{given} is not a setting of this program and is ignored; did you mean {meant}?"
        );
        crate::common::eventually(std::time::Duration::from_secs(10), || {
            server.log().iter().any(|logged| logged.contains(&line))
        })
    };
    assert!(
        warned("DISABLE_KEEPALIVES", "DISABLE_KEEP_ALIVES"),
        "{:?}",
        server.log()
    );
    assert!(
        warned("IDLE_CONN_TIMOUT", "IDLE_CONN_TIMEOUT"),
        "{:?}",
        server.log()
    );
}

#[test]
fn an_unknown_scenario_says_so_and_lists_the_known_ones() {
    let output = Command::new(BINARY)
        .args(["demo", "--scenario", "x"])
        .output()
        .expect("run the demo");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(r#"error: unknown scenario "x"; expected one of leak, "#),
        "{stderr}"
    );
}
