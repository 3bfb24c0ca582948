//! Servers started as processes of this package's binary, through the
//! library's harness: for tests whose subject is the process itself.
//!
//! The harness starts each server with a clean environment on
//! `127.0.0.1:0` and learns its address from the line it writes to standard
//! output; see `reqwest_connection_leak::harness`.

use std::net::SocketAddr;
use std::process::Command;

use reqwest_connection_leak::harness::Launcher;
pub use reqwest_connection_leak::harness::{Pair, ServerProcess};

pub const BINARY: &str = env!("CARGO_BIN_EXE_reqwest-connection-leak");

/// Servers of this package's binary, logging every answer.
pub fn launcher() -> Launcher {
    Launcher::new(BINARY, "info")
}

/// A server on a free loopback port, unless `env` sets `BIND_ADDRESS`.
pub fn start_server(name: &str, env: &[(&str, &str)]) -> ServerProcess {
    launcher().server(name, env).expect("start the server")
}

/// A server with exactly these variables set (and RUST_LOG=info).
pub fn start_server_with(name: &str, env: &[(&str, &str)]) -> ServerProcess {
    launcher().server_with(name, env).expect("start the server")
}

/// A server started under `ulimit` with `limit`, e.g. `-n 64`.
pub fn start_limited(name: &str, limit: &str, env: &[(&str, &str)]) -> ServerProcess {
    launcher()
        .server_limited(name, limit, env)
        .expect("start the server")
}

/// Server 1, and server 2 pointed at it.
pub fn start_pair(server1_env: &[(&str, &str)], server2_env: &[(&str, &str)]) -> Pair {
    launcher()
        .pair(server1_env, server2_env)
        .expect("start the pair")
}

/// Server 2 pointed at `upstream`'s `/hello`, plus `env`.
pub fn server2_for(upstream: SocketAddr, env: &[(&str, &str)]) -> ServerProcess {
    let url = format!("http://{upstream}/hello");
    let mut all_env = vec![("UPSTREAM_URL", url.as_str())];
    all_env.extend_from_slice(env);
    start_server("server2", &all_env)
}

/// What only a process can be sent.
pub trait Signals {
    /// Sends a signal to the server, e.g. `TERM`.
    fn signal(&self, signal: &str);
}

impl Signals for ServerProcess {
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }
}
