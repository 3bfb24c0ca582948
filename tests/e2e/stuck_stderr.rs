//! Standard error that takes nothing: a full disk (`/dev/full`) loses
//! every log line, and each is counted; a pipe nobody reads never keeps a
//! failed start from ending.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest_connection_leak::observe::metrics::samples;

use crate::common::{BINARY, eventually, first_line, get, sample, start_server};

#[test]
fn every_log_line_lost_to_a_full_disk_is_counted() {
    let mut server = Command::new(BINARY)
        .env_clear()
        .envs([("BIND_ADDRESS", "127.0.0.1:0"), ("RUST_LOG", "info")])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create("/dev/full").expect("/dev/full"))
        .spawn()
        .expect("start the server");
    let line = first_line(server.stdout.take().expect("its output"));
    let address = line.parse().expect("an address");
    for _ in 0..20 {
        assert_eq!(get(address, "/hello").status, 200);
    }
    // Each answer logs a line at info; none could be written.
    let dropped = || {
        sample(
            &samples(&get(address, "/metrics").body),
            "log_lines_dropped_total",
        )
    };
    let counted = eventually(Duration::from_secs(10), || dropped() >= 20.0);
    let last = dropped();
    let _ = server.kill();
    let _ = server.wait();
    assert!(counted, "log_lines_dropped_total {last}");
}

#[test]
fn a_failed_start_exits_2_within_a_second_whatever_standard_error_is() {
    let first = start_server("first", &[]);
    let taken = first.address.to_string();
    // A pipe already full, which no one reads.
    let (_reader, mut writer) = std::io::pipe().expect("a pipe");
    rustix::fs::fcntl_setfl(&writer, rustix::fs::OFlags::NONBLOCK).expect("non-blocking");
    while writer.write(&[b'x'; 4096]).is_ok() {}
    rustix::fs::fcntl_setfl(&writer, rustix::fs::OFlags::empty()).expect("blocking again");
    let started = Instant::now();
    let mut failed = Command::new(BINARY)
        .env_clear()
        .env("BIND_ADDRESS", &taken)
        .stdout(Stdio::null())
        .stderr(writer)
        .spawn()
        .expect("start the second server");
    let status = eventually(Duration::from_secs(10), || {
        failed.try_wait().is_ok_and(|status| status.is_some())
    });
    let took = started.elapsed();
    let _ = failed.kill();
    let code = failed.wait().expect("reaped").code();
    // It waits half a second for its line at most (0.57 s measured here);
    // what fails is a start that never ends, whatever the machine's load.
    assert!(status, "still running after {took:?}");
    assert_eq!(code, Some(2));
}
