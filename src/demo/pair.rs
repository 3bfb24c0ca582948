//! The two servers a scenario runs, as child processes of this executable.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use clap::CommandFactory;

use crate::cli::Cli;
use crate::demo::scenario::{Scenario, Side};
use crate::server::listening_address;

/// How long a child may take to print its start-up line.
const START_LIMIT: Duration = Duration::from_secs(10);

/// One server, killed when dropped.
pub struct ServerProcess {
    /// Held for its `kill_on_drop`.
    _child: Child,
    pub address: SocketAddr,
}

impl ServerProcess {
    /// Starts this executable as a server on a free loopback port.
    async fn start(role: &str, env: &[(&str, &str)]) -> Result<ServerProcess, String> {
        let executable =
            std::env::current_exe().map_err(|err| format!("cannot find this executable: {err}"))?;
        let mut command = Command::new(executable);
        // A child gets only the scenario's settings, none of the caller's.
        for argument in Cli::command().get_arguments() {
            if let Some(name) = argument.get_env() {
                command.env_remove(name);
            }
        }
        command
            .env("BIND_ADDRESS", "127.0.0.1:0")
            // Only the start-up line and warnings: logging every answer
            // would cost more than the requests themselves.
            .env("RUST_LOG", "warn,reqwest_connection_leak::server=info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|err| format!("cannot start {role}: {err}"))?;
        let stderr = child.stderr.take().ok_or("no stderr to read")?;
        let mut lines = BufReader::new(stderr).lines();
        let address = tokio::time::timeout(START_LIMIT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(address) = listening_address(&line) {
                    return Ok(address);
                }
                eprintln!("[{role}] {line}");
            }
            Err(format!("{role} exited before it listened"))
        })
        .await
        .map_err(|_| format!("{role} did not listen within {START_LIMIT:?}"))??;
        let role = role.to_owned();
        // Keep draining, so a chatty child never blocks on a full pipe.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("[{role}] {line}");
            }
        });
        Ok(ServerProcess {
            _child: child,
            address,
        })
    }
}

/// Server 1, and server 2 pointed at it, with a scenario's flag.
pub struct ServerPair {
    pub server1: ServerProcess,
    pub server2: ServerProcess,
}

impl ServerPair {
    pub async fn start(scenario: Scenario) -> Result<ServerPair, String> {
        let flag = scenario.flag();
        let env_for = |side: Side| -> Vec<(&str, &str)> {
            flag.iter()
                .filter(|flag| flag.side == side)
                .map(|flag| (flag.name, flag.value))
                .collect()
        };
        let server1 = ServerProcess::start("server 1", &env_for(Side::Server1)).await?;
        let upstream = format!("http://{}/hello", server1.address);
        let mut server2_env = env_for(Side::Server2);
        server2_env.push(("UPSTREAM_URL", &upstream));
        let server2 = ServerProcess::start("server 2", &server2_env).await?;
        Ok(ServerPair { server1, server2 })
    }
}
