//! What a demanding operator tries: forwarding loops, a low descriptor
//! limit, failure floods, abandoned requests, passwords in URLs and a
//! second Ctrl-C. Each test names what it would catch.

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{
    ClosedPort, Relay, Signals, eventually, exchange_raw, fake_upstream, get, hello_answer, sample,
    scrape, serve, server2_for, start_limited, start_server, watched_upstream,
};

/// The `error` text of a JSON error answer.
fn error_of(answer: &crate::common::Answer) -> String {
    answer.json()["error"].as_str().unwrap_or("").to_owned()
}

#[test]
fn a_forward_to_itself_stops_at_once_with_508() {
    let itself = Relay::new();
    let url = format!("http://{}/forward", itself.address);
    let server = start_server("looping", &[("UPSTREAM_URL", &url)]);
    itself.forward_to(server.address);
    let started = Instant::now();
    let answer = get(server.address, "/forward");
    // The inner request is refused; the outer one reports it.
    assert_eq!(answer.status, 502, "{answer:?}");
    assert!(error_of(&answer).contains("508"), "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let samples = scrape(&server);
    assert_eq!(
        sample(
            &samples,
            r#"forward_requests_total{outcome="loop_detected"}"#
        ),
        1.0
    );
    assert!(sample(&samples, "process_open_fds") < 30.0, "{samples:?}");
    assert_eq!(get(server.address, "/hello").status, 200);
}

#[test]
fn a_loop_through_two_servers_is_caught_where_it_closes() {
    let (to_first, to_second) = (Relay::new(), Relay::new());
    let a = start_server(
        "a",
        &[(
            "UPSTREAM_URL",
            &format!("http://{}/forward", to_second.address),
        )],
    );
    let b = start_server(
        "b",
        &[(
            "UPSTREAM_URL",
            &format!("http://{}/forward", to_first.address),
        )],
    );
    to_first.forward_to(a.address);
    to_second.forward_to(b.address);
    let answer = get(a.address, "/forward");
    assert_eq!(answer.status, 502, "{answer:?}");
    let samples = scrape(&a);
    assert_eq!(
        sample(
            &samples,
            r#"forward_requests_total{outcome="loop_detected"}"#
        ),
        1.0,
        "a sees its own mark come back"
    );
    assert_eq!(get(b.address, "/hello").status, 200);
}

#[test]
fn a_request_that_already_came_through_is_answered_508_naming_the_loop() {
    // Server 2's mark, read off the request it sends to a stand-in
    // server 1.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let probe_url = format!("http://{}/hello", probe.local_addr().unwrap());
    let marking = start_server("server2 marking", &[("UPSTREAM_URL", &probe_url)]);
    let address = marking.address;
    let asking = thread::spawn(move || get(address, "/forward"));
    let (mut upstream, _) = probe.accept().unwrap();
    let mut request = [0u8; 4096];
    let read = std::io::Read::read(&mut upstream, &mut request).unwrap();
    let request = String::from_utf8_lossy(&request[..read]).into_owned();
    let via = request
        .lines()
        .find_map(|line| line.strip_prefix("via: ").or(line.strip_prefix("Via: ")))
        .expect("a Via header")
        .to_owned();
    upstream.write_all(&hello_answer()).unwrap();
    assert_eq!(asking.join().unwrap().status, 200);

    let mut again = TcpStream::connect(marking.address).unwrap();
    write!(
        again,
        "GET /forward HTTP/1.1\r\nHost: x\r\nVia: {via}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut again, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 508"), "{answer}");
    assert!(answer.contains("forwarding loop"), "{answer}");
    assert!(answer.contains(&via), "{answer}");
}

#[test]
fn a_redirect_back_to_forward_is_caught_and_names_no_password() {
    let itself = Relay::new();
    let redirect = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{}/forward\r\nContent-Length: 0\r\n\r\n",
        itself.address
    );
    let upstream = fake_upstream(redirect.into_bytes(), 1);
    let url = format!("http://user:secret@{upstream}/hello");
    let server = start_server("server2", &[("UPSTREAM_URL", &url)]);
    itself.forward_to(server.address);
    let answer = get(server.address, "/forward");
    assert_eq!(answer.status, 502, "{answer:?}");
    assert!(error_of(&answer).contains("508"), "{answer:?}");
    assert!(!answer.body.contains("secret"), "{answer:?}");
}

#[test]
fn an_error_after_a_redirect_names_the_url_that_failed() {
    let closed = ClosedPort::new();
    let nowhere = closed.address;
    let redirect = format!(
        "HTTP/1.1 302 Found\r\nLocation: http://{nowhere}/elsewhere\r\nContent-Length: 0\r\n\r\n"
    );
    let server2 = server2_for(fake_upstream(redirect.into_bytes(), 1), &[]);
    let answer = get(server2.address, "/forward");
    assert_eq!(answer.status, 502, "{answer:?}");
    let error = error_of(&answer);
    assert!(error.contains(&format!("{nowhere}/elsewhere")), "{error}");
}

#[test]
fn the_soft_descriptor_limit_is_raised_to_the_hard_one_as_go_does() {
    let hard = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .maximum
        .expect("a finite hard limit");
    assert!(
        hard > 256,
        "the test needs a hard limit over 256, not {hard}"
    );
    let server = start_limited("server1", "-Sn 256", &[]);
    assert_eq!(sample(&scrape(&server), "process_max_fds"), hard as f64);
}

#[test]
fn a_flood_of_the_same_failure_logs_about_one_line_a_second_and_adds_up() {
    let closed = ClosedPort::new();
    let server2 = server2_for(closed.address, &[("RUST_LOG", "warn")]);
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_millis(1500) {
        assert_eq!(get(server2.address, "/forward").status, 502);
        sent += 1;
    }
    // On a loaded machine the last of them may end well after 1.5 s.
    let failing = started.elapsed();
    assert!(sent > 20, "only {sent} requests");
    // About a second after the last failure, a closing line, and the
    // lines then account for every failure.
    let failed = || -> Vec<String> {
        server2
            .log()
            .into_iter()
            .filter(|line| line.contains("failed"))
            .collect()
    };
    let accounted = |lines: &[String]| -> u64 {
        let left_out: u64 = lines
            .iter()
            .filter_map(|line| line.split("left_out=").nth(1))
            .filter_map(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .sum();
        let written = lines
            .iter()
            .filter(|line| !line.contains("no more since"))
            .count() as u64;
        written + left_out
    };
    let settled = eventually(Duration::from_secs(10), || accounted(&failed()) == sent);
    let lines = failed();
    assert!(settled, "{sent} failures: {lines:?}");
    assert!(
        lines
            .last()
            .is_some_and(|line| line.contains("no more since")),
        "the last line closes the flood: {lines:?}"
    );
    // The first line, one a second after it while they last, the closing
    // one; each says how many like it it stands for.
    let most = 2 + failing.as_secs_f64().ceil() as usize;
    assert!(
        (2..=most).contains(&lines.len()),
        "{sent} failures over {failing:?}: {lines:?}"
    );
}

#[test]
fn every_request_is_counted_in_exactly_one_outcome_cancelled_ones_too() {
    let (upstream, arrivals) = watched_upstream(Duration::from_secs(2), hello_answer(), 3);
    let server2 = server2_for(upstream, &[]);
    // One the caller gives up on once it reached server 1 ...
    let mut abandoned = TcpStream::connect(server2.address).unwrap();
    abandoned
        .write_all(b"GET /forward HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    arrivals
        .recv_timeout(Duration::from_secs(10))
        .expect("the request reached server 1");
    drop(abandoned);
    // ... and one that waits.
    assert_eq!(get(server2.address, "/forward").status, 200);
    let mut samples = scrape(&server2);
    eventually(Duration::from_secs(3), || {
        samples = scrape(&server2);
        sample(&samples, r#"forward_requests_total{outcome="cancelled"}"#) == 1.0
    });
    assert_eq!(
        sample(&samples, r#"forward_requests_total{outcome="cancelled"}"#),
        1.0
    );
    let counted: f64 = samples
        .iter()
        .filter(|(name, _)| name.starts_with("forward_requests_total{"))
        .map(|(_, value)| value)
        .sum();
    assert_eq!(counted, 2.0, "{samples:?}");
}

#[test]
fn no_credential_is_logged_shown_in_help_or_served() {
    let closed = ClosedPort::new();
    for credentials in ["user:secret", "ghp_secretTOKEN123"] {
        let url = format!("http://{credentials}@{}/hello", closed.address);
        let server2 = start_server("server2", &[("UPSTREAM_URL", &url)]);
        let answer = get(server2.address, "/forward");
        assert_eq!(answer.status, 502);
        // reqwest moves the credentials into an Authorization header, so
        // the URL in its errors carries none.
        assert!(!answer.body.contains("secret"), "{}", answer.body);
        for path in ["/figures", "/watch"] {
            let shown = get(server2.address, path).body;
            assert!(shown.contains("redacted@"), "{path}: {shown}");
            assert!(!shown.contains("secret"), "{path}: {shown}");
        }
        // The log's thread writes its lines a moment after they are made.
        let started = || server2.log().join("\n").contains("UPSTREAM_URL=");
        eventually(Duration::from_secs(3), started);
        let log = server2.log().join("\n");
        assert!(log.contains("UPSTREAM_URL=http://redacted@"), "{log}");
        assert!(!log.contains("secret"), "{log}");
        let help = std::process::Command::new(crate::common::BINARY)
            .arg("--help")
            .env("UPSTREAM_URL", &url)
            .output()
            .unwrap();
        assert!(!String::from_utf8_lossy(&help.stdout).contains("secret"));
    }
}

#[test]
fn a_second_ctrl_c_stops_at_once_with_130() {
    let (upstream, arrivals) = watched_upstream(Duration::from_secs(8), hello_answer(), 1);
    let mut server2 = server2_for(upstream, &[]);
    // A request in flight, its connection kept open by this test.
    let mut in_flight = TcpStream::connect(server2.address).unwrap();
    in_flight
        .write_all(b"GET /forward HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    arrivals
        .recv_timeout(Duration::from_secs(10))
        .expect("the request reached server 1");
    server2.signal("INT");
    assert!(eventually(Duration::from_secs(3), || {
        server2
            .log()
            .iter()
            .any(|line| line.contains("Ctrl-C again"))
    }));
    let started = Instant::now();
    server2.signal("INT");
    let status = server2.wait_for_exit(Duration::from_secs(3));
    assert_eq!(status.and_then(|s| s.code()), Some(130), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(in_flight);
}

#[test]
fn a_mark_in_via_is_found_whatever_bytes_are_around_it() {
    let server = serve(&[]);
    let instance = get(server.address, "/figures").json()["instance"]
        .as_str()
        .expect("an instance")
        .to_owned();
    // A proxy that merged Via and added a comment that is not ASCII.
    let mut request =
        b"GET /forward HTTP/1.1\r\nHost: x\r\nVia: 1.1 proxy (caf\xe9), 1.1 ".to_vec();
    request.extend_from_slice(instance.as_bytes());
    request.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    let answer = exchange_raw(server.address, &request);
    assert!(answer.starts_with("HTTP/1.1 508"), "{answer}");
    let samples = scrape(&server);
    assert_eq!(
        sample(
            &samples,
            r#"forward_requests_total{outcome="loop_detected"}"#
        ),
        1.0
    );
    assert_eq!(sample(&samples, "forward_clients_built_total"), 0.0);
}

#[test]
fn a_log_reader_that_stops_reading_holds_up_nothing() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    /// Killed and reaped however the test ends.
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    // Standard error is a pipe that nobody reads, as behind a paused less.
    let mut server = Command::new(crate::common::BINARY)
        .env_clear()
        .env("BIND_ADDRESS", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(Killed)
        .expect("start the server");
    let mut first_line = String::new();
    BufReader::new(server.0.stdout.take().expect("stdout"))
        .read_line(&mut first_line)
        .expect("the address");
    let address: std::net::SocketAddr = first_line.trim().parse().expect("an address");
    // Far more lines than the pipe and the log's queue hold: each answer
    // is one. Four connections, kept alive.
    let senders: Vec<_> = (0..4)
        .map(|_| {
            thread::spawn(move || {
                let mut stream = TcpStream::connect(address).expect("connect");
                // A server held up by its log stops answering: fail, not hang.
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .expect("a timeout");
                let mut answer = [0u8; 512];
                for _ in 0..2000 {
                    stream
                        .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                        .expect("send");
                    let _ = crate::common::read_some(&mut stream, &mut answer).expect("an answer");
                }
            })
        })
        .collect();
    for sender in senders {
        sender.join().expect("every request answered");
    }
    let samples = scrape(&crate::common::Reached(address));
    assert!(
        sample(&samples, "log_lines_dropped_total") > 0.0,
        "{samples:?}"
    );
    // Once someone reads again, the next line is preceded by the count.
    let mut stderr = BufReader::new(server.0.stderr.take().expect("stderr"));
    let reported = thread::spawn(move || {
        let mut line = String::new();
        while stderr.read_line(&mut line).is_ok_and(|read| read > 0) {
            if line.contains("lines were dropped") {
                return Some(line);
            }
            line.clear();
        }
        None
    });
    assert_eq!(get(address, "/hello").status, 200);
    let status = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let started = Instant::now();
    let ended = server.0.wait().expect("its status");
    assert_eq!(ended.code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let line = reported
        .join()
        .expect("the reader")
        .expect("a line with the count");
    assert!(line.contains("WARN log: "), "{line}");
}

#[test]
fn a_large_answer_is_logged_as_its_first_kilobyte_and_its_size() {
    let msg = "x".repeat(100_000);
    let body = format!(r#"{{"msg":"{msg}","goRoutines":1}}"#);
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let server2 = server2_for(fake_upstream(answer.into_bytes(), 1), &[]);
    let forwarded = get(server2.address, "/forward");
    assert_eq!(forwarded.status, 200);
    assert!(forwarded.body.len() > 100_000, "the answer itself is whole");
    let logged = eventually(Duration::from_secs(3), || {
        server2
            .log()
            .iter()
            .any(|line| line.contains("answered (body cut)"))
    });
    let log = server2.log();
    assert!(logged, "{log:?}");
    let line = log
        .iter()
        .find(|line| line.contains("answered (body cut)"))
        .expect("the line");
    assert!(line.len() < 2048, "{} bytes", line.len());
    assert!(
        line.contains(&format!("bytes={}", forwarded.body.len())),
        "{line}"
    );
}
