//! Network namespaces a test makes for itself, as root: a process in one
//! sees only its own interfaces, as a process in a container does. Each
//! has a unique name, its loopback up, and is removed when dropped. Two can
//! be linked, each end with a fixed private address that exists inside
//! those namespaces only, so that a server sees a peer that is not
//! loopback. Where one cannot be made (not root, no `ip`), the helpers
//! print why and return `None`, and the test skips.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::spawn::BINARY;

/// The addresses of a linked pair's two ends, inside their namespaces.
pub const FIRST_ADDRESS: &str = "10.250.0.1";
pub const SECOND_ADDRESS: &str = "10.250.0.2";

/// A network namespace with its loopback up, removed when dropped.
pub struct Namespace {
    pub name: String,
}

/// A server started inside a namespace, killed when dropped.
pub struct NamespacedServer {
    child: Child,
    pub address: SocketAddr,
}

impl Drop for NamespacedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Namespace {
    /// A new namespace whose name starts with `purpose`, or `None`, with
    /// the reason printed, where this machine cannot make one.
    pub fn new(purpose: &str) -> Option<Namespace> {
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "leak-{purpose}-{}-{}",
            std::process::id(),
            MADE.fetch_add(1, Ordering::Relaxed)
        );
        if let Err(why) = ip(&["netns", "add", &name]) {
            eprintln!("skipped: cannot make a network namespace ({why})");
            return None;
        }
        let namespace = Namespace { name };
        ip(&["-n", &namespace.name, "link", "set", "lo", "up"]).expect("loopback up");
        Some(namespace)
    }

    /// Two namespaces linked by a virtual cable, the first at
    /// [`FIRST_ADDRESS`], the second at [`SECOND_ADDRESS`].
    pub fn linked(purpose: &str) -> Option<(Namespace, Namespace)> {
        let (first, second) = (Namespace::new(purpose)?, Namespace::new(purpose)?);
        let made = ip(&[
            "link",
            "add",
            "eth0",
            "netns",
            &first.name,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &second.name,
        ]);
        if let Err(why) = made {
            eprintln!("skipped: cannot link two network namespaces ({why})");
            return None;
        }
        for (namespace, address) in [(&first, FIRST_ADDRESS), (&second, SECOND_ADDRESS)] {
            let cidr = format!("{address}/24");
            ip(&["-n", &namespace.name, "addr", "add", &cidr, "dev", "eth0"]).expect("an address");
            ip(&["-n", &namespace.name, "link", "set", "eth0", "up"]).expect("the link up");
        }
        Some((first, second))
    }

    /// A command that runs the program given as its first argument inside
    /// the namespace (`ip netns exec` runs it in its own place, same PID).
    pub fn command(&self) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]);
        command
    }

    /// This package's binary serving inside the namespace with exactly
    /// `env`, once it has said where it listens.
    pub fn server(&self, env: &[(&str, &str)]) -> NamespacedServer {
        let mut child = self
            .command()
            .arg(BINARY)
            .env_clear()
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("a server in the namespace");
        let line = super::first_line(child.stdout.take().expect("its output"));
        let address = line
            .parse()
            .unwrap_or_else(|_| panic!("not an address: {line:?}"));
        NamespacedServer { child, address }
    }

    /// `curl` inside the namespace with `args`: (HTTP status, body).
    pub fn curl(&self, args: &[&str]) -> (u16, String) {
        let output = self
            .command()
            .args(["curl", "-s", "-w", "\n%{http_code}"])
            .args(args)
            .output()
            .expect("curl is needed");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
        (status.trim().parse().unwrap_or(0), body.to_owned())
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = ip(&["netns", "delete", &self.name]);
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|err| format!("ip: {err}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}
