//! Servers in this process, through the library's own seam
//! (`Server::build`, then `run` on a listener bound to port 0): no binary
//! to start and no port to learn from a line.
//!
//! Each server has a tokio runtime of its own, on a thread of its own, so
//! its task count is its own, as a separate process's would be. What stays
//! process-wide (open descriptors, resident memory) is not for these.
//! Settings are given as env var names and passed as the flags they go
//! with, so the test process's own environment is not changed.

use std::net::SocketAddr;
use std::thread::{self, JoinHandle};

use clap::CommandFactory;
use reqwest_connection_leak::cli::Cli;
use reqwest_connection_leak::serve::server::{Server, Stopped};
use tokio::sync::watch;

/// A server running in this process; stopped and joined when dropped.
pub struct InProcess {
    /// Where to reach it: loopback, even when it listens on every interface.
    pub address: SocketAddr,
    /// The address it listens on.
    pub listening_on: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<Stopped>>,
}

/// A server with `env`'s settings, on a free loopback port unless `env`
/// sets `BIND_ADDRESS`, with a short shutdown grace so that dropping it is
/// quick.
pub fn serve(env: &[(&str, &str)]) -> InProcess {
    let mut all_env = vec![("BIND_ADDRESS", "127.0.0.1:0"), ("SHUTDOWN_GRACE", "1s")];
    all_env.retain(|(name, _)| !env.iter().any(|(given, _)| given == name));
    all_env.extend_from_slice(env);
    let args = std::iter::once("reqwest-connection-leak".to_owned())
        .chain(all_env.iter().map(|(env, value)| flag(env, value)));
    let (cli, settings) = Cli::parse_with_settings(args.map(Into::into)).expect("valid settings");
    let config = cli.serve;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (server, listener) = runtime.block_on(async {
        let server = Server::build(&config, &settings).expect("build the server");
        (server, config.bind_address.listen().expect("listen"))
    });
    let listening_on = listener.local_addr().expect("address");
    let mut address = listening_on;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let (stop, stopped) = watch::channel(false);
    let thread = thread::spawn(move || {
        runtime.block_on(server.run(listener, move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        }))
    });
    InProcess {
        address,
        listening_on,
        stop,
        thread: Some(thread),
    }
}

/// Server 1 with `server1_env`, then server 2 pointed at it.
pub fn serve_pair(server1_env: &[(&str, &str)], server2_env: &[(&str, &str)]) -> InProcessPair {
    let server1 = serve(server1_env);
    let upstream = format!("http://{}/hello", server1.address);
    let mut env = vec![("UPSTREAM_URL", upstream.as_str())];
    env.extend_from_slice(server2_env);
    let server2 = serve(&env);
    InProcessPair { server1, server2 }
}

/// Server 2 pointed at `upstream`'s `/hello`, plus `env`.
pub fn serve_server2_for(upstream: SocketAddr, env: &[(&str, &str)]) -> InProcess {
    let url = format!("http://{upstream}/hello");
    let mut all_env = vec![("UPSTREAM_URL", url.as_str())];
    all_env.extend_from_slice(env);
    serve(&all_env)
}

/// Server 1 and server 2, both in this process.
pub struct InProcessPair {
    pub server1: InProcess,
    pub server2: InProcess,
}

/// `--name-of-the-flag=value` for the variable `env`.
fn flag(env: &str, value: &str) -> String {
    let command = Cli::command();
    let long = command
        .get_arguments()
        .find(|argument| argument.get_env().is_some_and(|name| name == env))
        .and_then(|argument| argument.get_long())
        .unwrap_or_else(|| panic!("no setting {env}"));
    format!("--{long}={value}")
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
