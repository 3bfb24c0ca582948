//! `/metrics` shows the leak as operators see it. What it counts is tested
//! in process, each server on a runtime of its own; the process's own
//! figures on a process of its own.

use crate::common::{
    ClosedPort, PairExt, ServerExt, get, sample, scrape, serve_pair, serve_server2_for,
    start_server,
};

#[test]
fn metrics_count_leaked_connections_and_held_clients() {
    let pair = serve_pair(&[], &[]);
    pair.forward_many(30);

    let server1 = scrape(&pair.server1);
    // 30 leaked connections, and the scrape's own.
    assert!(sample(&server1, "http_server_open_connections") >= 30.0);
    assert_eq!(
        sample(&server1, "http_server_connections_accepted_total"),
        31.0
    );

    let server2 = scrape(&pair.server2);
    assert_eq!(sample(&server2, "forward_clients_built_total"), 30.0);
    assert_eq!(sample(&server2, "forward_clients_held"), 30.0);
    assert_eq!(
        sample(&server2, r#"forward_requests_total{outcome="ok"}"#),
        30.0
    );
    assert_eq!(
        sample(&server2, r#"forward_requests_total{outcome="timeout"}"#),
        0.0
    );

    // The same count /hello reports, give or take the connections that
    // open and close between the two requests.
    for server in [&pair.server1, &pair.server2] {
        let from_json = server.hello_tasks() as f64;
        let from_metrics = sample(&scrape(server), "tokio_alive_tasks");
        assert!(
            (from_json - from_metrics).abs() <= 3.0,
            "/hello {from_json}, /metrics {from_metrics}"
        );
    }
}

#[test]
fn the_process_figures_are_the_processes_own() {
    let server = start_server("server1", &[]);
    let samples = scrape(&server);
    assert!(sample(&samples, "process_resident_memory_bytes") > 1e6);
    assert!(sample(&samples, "process_open_fds") >= 3.0);
    assert!(sample(&samples, "process_max_fds") >= sample(&samples, "process_open_fds"));
}

#[test]
fn without_keep_alives_nothing_stays_open_or_held() {
    let pair = serve_pair(&[], &[("DISABLE_KEEP_ALIVES", "true")]);
    pair.forward_many(30);
    let server1 = scrape(&pair.server1);
    // The scrape's own connection, and one closing at most.
    assert!(sample(&server1, "http_server_open_connections") <= 2.0);
    let server2 = scrape(&pair.server2);
    assert_eq!(sample(&server2, "forward_clients_built_total"), 30.0);
    assert_eq!(sample(&server2, "forward_clients_held"), 0.0);
}

#[test]
fn failed_requests_are_counted_by_outcome() {
    let closed = ClosedPort::new();
    let server2 = serve_server2_for(closed.address, &[]);
    assert_eq!(get(server2.address, "/forward").status, 502);
    let samples = scrape(&server2);
    assert_eq!(
        sample(
            &samples,
            r#"forward_requests_total{outcome="upstream_error"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(&samples, r#"forward_requests_total{outcome="ok"}"#),
        0.0
    );
    assert_eq!(sample(&samples, "forward_clients_held"), 0.0);
}
