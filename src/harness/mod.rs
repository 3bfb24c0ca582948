//! Starts this package's binary as servers on loopback: the one way the
//! demo and the end-to-end tests start a pair.
//!
//! Each server gets a clean environment, only the variables it is given and
//! `RUST_LOG`, and listens on `127.0.0.1:0` unless told otherwise. It writes
//! the address it listens on as one line to standard output (see
//! `main.rs`), so no port is guessed and no log line is parsed.
//! Its log goes on to this process's standard error with the server's name
//! in front, which `cargo test` shows when a test fails, and is kept for
//! the caller to read. A server is killed
//! and reaped when dropped, so none outlives its caller's scope.

use std::io::{self, BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use crate::scenario::Scenario;
use crate::settings::knobs::Side;

/// How long a server may take to say where it listens. Generous: the
/// machine may be shared and a debug build is slow to start.
const START_LIMIT: Duration = Duration::from_secs(20);

/// Why a server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("cannot start {name}")]
    Spawn {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("{name} did not say where it listens within {START_LIMIT:?} ({ended})")]
    NoAddress { name: String, ended: String },
}

/// Starts servers from one binary, all with the same log filter.
#[derive(Debug, Clone)]
pub struct Launcher {
    binary: PathBuf,
    log_filter: String,
}

impl Launcher {
    /// Servers from `binary`, logging what `log_filter` lets through.
    pub fn new(binary: impl Into<PathBuf>, log_filter: &str) -> Launcher {
        Launcher {
            binary: binary.into(),
            log_filter: log_filter.to_owned(),
        }
    }

    /// A server on a free loopback port, unless `env` sets `BIND_ADDRESS`.
    pub fn server(&self, name: &str, env: &[(&str, &str)]) -> Result<ServerProcess, HarnessError> {
        self.spawn(name, Command::new(&self.binary), &on_a_free_port(env))
    }

    /// A server with exactly the variables of `env`.
    pub fn server_with(
        &self,
        name: &str,
        env: &[(&str, &str)],
    ) -> Result<ServerProcess, HarnessError> {
        self.spawn(name, Command::new(&self.binary), env)
    }

    /// A server on a free loopback port started under the shell's
    /// `ulimit` with `limit`: `-n 64` for at most 64 descriptors, `-Sn 256`
    /// for a soft limit alone.
    pub fn server_limited(
        &self,
        name: &str,
        limit: &str,
        env: &[(&str, &str)],
    ) -> Result<ServerProcess, HarnessError> {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit {limit} && exec \"$0\""))
            .arg(&self.binary);
        self.spawn(name, command, &on_a_free_port(env))
    }

    /// Server 1 with `server1_env`, then server 2 pointed at it with
    /// `server2_env`: the two terminals of the README.
    pub fn pair(
        &self,
        server1_env: &[(&str, &str)],
        server2_env: &[(&str, &str)],
    ) -> Result<Pair, HarnessError> {
        let server1 = self.server("server 1", server1_env)?;
        let upstream = format!("http://{}/hello", server1.address);
        let mut env = vec![("UPSTREAM_URL", upstream.as_str())];
        env.extend_from_slice(server2_env);
        let server2 = self.server("server 2", &env)?;
        Ok(Pair { server1, server2 })
    }

    /// The pair as `scenario` sets it up.
    pub fn scenario(&self, scenario: &Scenario) -> Result<Pair, HarnessError> {
        self.pair(&scenario.env(Side::Server1), &scenario.env(Side::Server2))
    }

    fn spawn(
        &self,
        name: &str,
        mut command: Command,
        env: &[(&str, &str)],
    ) -> Result<ServerProcess, HarnessError> {
        command
            .env_clear()
            .env("RUST_LOG", &self.log_filter)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_this_thread(&mut command);
        let mut child = command.spawn().map_err(|source| HarnessError::Spawn {
            name: name.to_owned(),
            source,
        })?;
        let log = forward_log(name, child.stderr.take());
        let (address_tx, address_rx) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            thread::spawn(move || {
                let mut line = String::new();
                if BufReader::new(stdout).read_line(&mut line).is_ok()
                    && let Ok(address) = line.trim().parse::<SocketAddr>()
                {
                    let _ = address_tx.send(address);
                }
            });
        }
        let Ok(listening_on) = address_rx.recv_timeout(START_LIMIT) else {
            let ended = match child.try_wait() {
                Ok(Some(status)) => format!("it exited: {status}"),
                _ => "it is still running".to_owned(),
            };
            let _ = child.kill();
            let _ = child.wait();
            return Err(HarnessError::NoAddress {
                name: name.to_owned(),
                ended,
            });
        };
        let mut address = listening_on;
        if address.ip().is_unspecified() {
            address.set_ip(Ipv4Addr::LOCALHOST.into());
        }
        Ok(ServerProcess {
            child,
            address,
            listening_on,
            log,
        })
    }
}

/// The child's log, each line passed on to this process's standard
/// error after `[name]` (so that `cargo test` shows it on a failure) and
/// kept.
fn forward_log(name: &str, stderr: Option<ChildStderr>) -> Arc<Mutex<Vec<String>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    if let Some(stderr) = stderr {
        let prefix = format!("[{name}]");
        let log = log.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{prefix} {line}");
                log.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(line);
            }
        });
    }
    log
}

/// On Linux, the child gets SIGKILL when the thread that started it ends,
/// however this process ends: a killed demo leaves no server behind.
/// Elsewhere, the child is only killed when its [`ServerProcess`] is dropped.
fn die_with_this_thread(command: &mut Command) {
    #[cfg(linux_view)]
    {
        use rustix::process::{Signal, getppid, set_parent_process_death_signal};
        use std::os::unix::process::CommandExt;
        let parent = rustix::process::getpid();
        // SAFETY: between fork and exec the closure only makes system
        // calls, which are safe there, and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                set_parent_process_death_signal(Some(Signal::KILL))?;
                // The parent may have ended before the signal was asked for.
                if getppid() != Some(parent) {
                    return Err(io::Error::other("the parent ended"));
                }
                Ok(())
            });
        }
    }
    #[cfg(not(linux_view))]
    let _ = command;
}

/// `env` with a free loopback port as `BIND_ADDRESS`; a later entry wins.
fn on_a_free_port<'a>(env: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all_env = vec![("BIND_ADDRESS", "127.0.0.1:0")];
    all_env.extend_from_slice(env);
    all_env
}

/// One running server, killed and reaped when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// Where to reach it: loopback, even when it listens on every interface.
    pub address: SocketAddr,
    /// The address it said it listens on.
    pub listening_on: SocketAddr,
    /// Every line it has logged so far.
    log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The lines it has logged so far.
    pub fn log(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits for the server to exit by itself, up to `limit`.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Server 1, and server 2 pointed at it.
#[derive(Debug)]
pub struct Pair {
    pub server1: ServerProcess,
    pub server2: ServerProcess,
}
