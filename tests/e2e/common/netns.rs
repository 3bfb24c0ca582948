//! Network namespaces a test makes for itself, as root: a process in one
//! sees only its own loopback, as a process in a container does. Each has
//! a unique name and is removed when dropped. Where one cannot be made
//! (not root, no `ip`), [`Namespace::new`] prints why and the test skips.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A network namespace with its loopback up, removed when dropped.
pub struct Namespace {
    pub name: String,
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
        let made = ip(&["netns", "add", &name]);
        if let Err(why) = made {
            eprintln!("skipped: cannot make a network namespace ({why})");
            return None;
        }
        let namespace = Namespace { name };
        ip(&["-n", &namespace.name, "link", "set", "lo", "up"]).expect("loopback up");
        Some(namespace)
    }

    /// A command that runs the program given as its first argument inside
    /// the namespace (`ip netns exec` runs it in its own place, same PID).
    pub fn command(&self) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]);
        command
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
