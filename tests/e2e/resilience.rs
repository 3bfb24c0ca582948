//! The program around the leak keeps working when things go wrong:
//! slow upstreams, shutdowns, descriptor exhaustion, a restarted server 1,
//! idle connections and malformed requests.

use std::thread;
use std::time::{Duration, Instant};

use crate::common::{
    Counts, Pair, PairExt, ServerExt, Signals, eventually, exchange_raw, get, hello_answer, sample,
    scrape, server2_for, slow_upstream, start_limited, start_pair, start_server, start_server_with,
    watched_upstream,
};
use reqwest_connection_leak::scenario::verdict::FLAT_BELOW;

#[test]
fn a_slow_upstream_gets_a_504_at_the_request_timeout() {
    let upstream = slow_upstream(Duration::from_secs(5), hello_answer(), 1);
    let server2 = server2_for(upstream, &[("REQUEST_TIMEOUT", "300ms")]);
    let started = Instant::now();
    let answer = get(server2.address, "/forward");
    let waited = started.elapsed();
    assert_eq!(answer.status, 504, "{answer:?}");
    let error = answer.json()["error"].as_str().unwrap_or("").to_owned();
    assert!(error.contains("timed out"), "{error}");
    // The deadline is 300 ms; well under the upstream's 5 s, with room for
    // a debug build on a busy machine.
    assert!(waited < Duration::from_secs(2), "took {waited:?}");
}

#[test]
fn a_grace_period_that_cuts_a_request_exits_1_and_says_how_many() {
    let (upstream, arrivals) = watched_upstream(Duration::from_secs(8), hello_answer(), 1);
    let mut server2 = server2_for(upstream, &[("SHUTDOWN_GRACE", "300ms")]);
    let mut in_flight = std::net::TcpStream::connect(server2.address).expect("connect");
    std::io::Write::write_all(&mut in_flight, b"GET /forward HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    arrivals
        .recv_timeout(Duration::from_secs(10))
        .expect("the request reached server 1");
    server2.signal("TERM");
    let status = server2.wait_for_exit(Duration::from_secs(5));
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{status:?}");
    let log = server2.log().join("\n");
    assert!(
        log.contains("the grace period cut requests still in flight"),
        "{log}"
    );
    assert!(log.contains("requests=1"), "{log}");
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_then_exits_0() {
    let (upstream, arrivals) = watched_upstream(Duration::from_secs(1), hello_answer(), 1);
    let mut server2 = server2_for(upstream, &[]);
    let address = server2.address;
    let in_flight = thread::spawn(move || get(address, "/forward"));
    arrivals
        .recv_timeout(Duration::from_secs(10))
        .expect("the request reached server 1");
    server2.signal("TERM");
    let answer = in_flight.join().expect("request thread");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.json()["server1Response"]["msg"].as_str(),
        Some("Hello World")
    );
    let status = server2.wait_for_exit(Duration::from_secs(5));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{status:?}");
    // The log is written from a thread of its own: its last lines still
    // come out before the process ends.
    let logged = eventually(Duration::from_secs(2), || {
        server2
            .log()
            .iter()
            .any(|line| line.contains("shutting down"))
    });
    assert!(logged, "{:?}", server2.log());
}

#[test]
fn out_of_descriptors_server_2_answers_a_clear_error_and_recovers() {
    let server1 = start_server("server1", &[]);
    let upstream = format!("http://{}/hello", server1.address);
    let server2 = start_limited("server2", "-n 64", &[("UPSTREAM_URL", &upstream)]);
    // A scrape while descriptors are plenty, so a stale value would show.
    let before = scrape(&server2);
    assert!(sample(&before, "process_open_fds") < 20.0, "{before:?}");
    assert_eq!(sample(&before, "process_max_fds"), 64.0);

    // Every leaked connection holds a descriptor: within 64 requests the
    // process has none left for the next connection to server 1.
    let mut exhausted = None;
    for _ in 0..100 {
        let answer = get(server2.address, "/forward");
        if answer.status != 200 {
            exhausted = Some(answer);
            break;
        }
    }
    let answer = exhausted.expect("descriptors never ran out");
    assert_eq!(answer.status, 503, "{answer:?}");
    let error = answer.json()["error"].as_str().unwrap_or("").to_owned();
    assert!(error.contains("Too many open files"), "{error}");
    assert!(error.contains("out of file descriptors"), "{error}");
    assert!(error.contains("DISABLE_KEEP_ALIVES=true"), "{error}");
    // Still up, and still clear on the next try. The first 503 can come a
    // request early, while the previous request's inbound connection is
    // still closing and holds a descriptor: one or two more may leak first.
    let mut next = get(server2.address, "/forward");
    for _ in 0..3 {
        if next.status == 503 {
            break;
        }
        next = get(server2.address, "/forward");
    }
    assert_eq!(next.status, 503, "{next:?}");
    assert_eq!(get(server2.address, "/hello").status, 200);
    // Counted as this server's own want, and its descriptor count is
    // right or absent, never the stale figure from before.
    let exhausted = scrape(&server2);
    assert_eq!(
        sample(
            &exhausted,
            r#"forward_requests_total{outcome="local_resources"}"#
        ),
        2.0,
        "the two 503s"
    );
    if let Some(open) = exhausted.get("process_open_fds") {
        assert!(*open >= 60.0, "{exhausted:?}");
    }

    // Server 1 goes away: server 2's leaked connections close and give
    // their descriptors back. Server 1 comes back at the same address.
    let address1 = server1.address.to_string();
    drop(server1);
    let _server1 = start_server_with("server1 again", &[("BIND_ADDRESS", &address1)]);
    let recovered = eventually(Duration::from_secs(5), || {
        get(server2.address, "/forward").status == 200
    });
    assert!(recovered, "server 2 did not recover");
}

#[test]
fn server_2_notices_server_1_going_away_and_works_when_it_is_back() {
    let pair = start_pair(&[], &[]);
    let leaked = *pair.forward_many(20).last().expect("20 answers");
    assert!(leaked.server2 >= 20, "{leaked:?}");

    let address1 = pair.server1.address.to_string();
    let Pair { server1, server2 } = pair;
    drop(server1);
    // Its connection tasks end as each connection sees server 1 close.
    let mut tasks = leaked.server2;
    let noticed = eventually(Duration::from_secs(3), || {
        tasks = server2.hello_tasks();
        tasks < FLAT_BELOW
    });
    assert!(noticed, "server 2 still has {tasks} tasks");
    assert_eq!(get(server2.address, "/forward").status, 502);

    let _server1 = start_server_with("server1 again", &[("BIND_ADDRESS", &address1)]);
    assert_eq!(get(server2.address, "/forward").status, 200);
}

#[test]
fn a_server_idle_timeout_protects_server_1_from_a_leaking_server_2() {
    let pair = start_pair(&[("SERVER_IDLE_TIMEOUT", "1s")], &[]);
    let leaked = *pair.forward_many(30).last().expect("30 answers");
    assert!(
        leaked.leaked_since(Counts::default(), 30),
        "the requests leaked: {leaked:?}"
    );
    let mut tasks = leaked.server1;
    // Closed after 1 s idle; 3 s leaves room for a busy machine.
    let reclaimed = eventually(Duration::from_secs(3), || {
        tasks = pair.server1.hello_tasks();
        tasks < FLAT_BELOW
    });
    assert!(reclaimed, "server 1 still has {tasks} tasks");
}

#[test]
fn malformed_requests_get_an_error_or_a_close_and_serving_goes_on() {
    let pair = start_pair(&[], &[]);
    let huge_header = format!(
        "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    let inputs: [&[u8]; 3] = [
        b"\x00\x01\x02 this is not HTTP \xff\r\n\r\n",
        b"GET /hello HTTP/9.9\r\n\r\n",
        huge_header.as_bytes(),
    ];
    for server in [&pair.server1, &pair.server2] {
        for input in inputs {
            let answer = exchange_raw(server.address, input);
            assert!(
                answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
                "{:?}",
                &answer[..answer.len().min(200)]
            );
            assert_eq!(get(server.address, "/hello").status, 200);
        }
    }
    assert_eq!(get(pair.server2.address, "/forward").status, 200);
}

#[test]
fn out_of_descriptors_server_1_keeps_its_accept_loop_and_recovers() {
    let server1 = start_limited("server1", "-n 32", &[]);
    let upstream = format!("http://{}/hello", server1.address);
    let env = [
        ("UPSTREAM_URL", upstream.as_str()),
        ("REQUEST_TIMEOUT", "1s"),
    ];
    let server2 = start_server("server2", &env);

    // Each leaked connection holds one of server 1's 32 descriptors; once
    // they are gone it cannot accept, and server 2's call times out.
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let status = get(server2.address, "/forward").status;
        statuses.push(status);
        if status != 200 {
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&504), "{statuses:?}");

    // Server 2 goes away with its leaked connections: server 1 gets its
    // descriptors back and accepts again.
    drop(server2);
    let recovered = eventually(Duration::from_secs(5), || {
        std::net::TcpStream::connect(server1.address).is_ok()
            && get(server1.address, "/hello").status == 200
    });
    assert!(recovered, "server 1 did not accept again");
    let server2 = start_server("server2 again", &env);
    assert_eq!(get(server2.address, "/forward").status, 200);
}
