//! Programs that are not ours, started for a test: Python and Node
//! clients and servers (`tests/programs/`, `scripts/python_leaker.py`)
//! that say "ready PID [PORT]" first, whatever runs them.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// Long enough for a loaded machine to start a program and make its calls.
const PATIENCE: Duration = Duration::from_secs(60);
/// A program of a test, killed when dropped, and the lines it writes.
pub struct Program {
    child: Child,
    /// As the program said it, whatever ran it.
    pub pid: u32,
    /// The port a server listens on.
    pub port: u16,
    lines: Receiver<String>,
}

impl Program {
    /// Starts `command` and reads its "ready PID [PORT]" line.
    pub fn start(mut command: Command) -> Program {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| panic!("{command:?}: {err}; scripts/test.sh installs it"));
        let stdout = child.stdout.take().expect("its output");
        let (sender, lines) = std::sync::mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut program = Program {
            child,
            pid: 0,
            port: 0,
            lines,
        };
        let ready = program.line_starting("ready ");
        let mut words = ready.split(' ').skip(1).map(|word| word.parse().ok());
        program.pid = words.next().flatten().expect("a PID") as u32;
        program.port = words.next().flatten().unwrap_or(0) as u16;
        program
    }

    /// Waits for the program's line that starts with `prefix`.
    pub fn line_starting(&self, prefix: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!("no {prefix:?} line in {PATIENCE:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("ended before a {prefix:?} line"),
            }
        }
    }
}

impl Program {
    /// Kills the program and reaps it.
    pub fn end(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        self.end();
    }
}

pub fn program_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// `python3 PATH args`, run by `runner` (`env`, or a namespace's).
pub fn python(mut runner: Command, path: &str, args: &[&str]) -> Program {
    runner.arg("python3").arg(program_path(path)).args(args);
    Program::start(runner)
}

/// `node tests/programs/node_clients.mjs SHAPE URL args`.
pub fn node(shape: &str, url: &str, args: &[&str]) -> Program {
    let mut command = Command::new("node");
    command
        .arg(program_path("tests/programs/node_clients.mjs"))
        .args([shape, url])
        .args(args);
    Program::start(command)
}

/// What runs a program here: `env`, where a namespace's command would
/// run it elsewhere.
pub fn here() -> Command {
    Command::new("env")
}
