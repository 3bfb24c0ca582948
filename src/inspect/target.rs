//! A process being inspected, seen through `/proc` (by `procfs`): which
//! sockets its descriptors hold, and which network namespace it lives in.
//!
//! A socket is tied to a process only while one of its descriptors holds
//! it; `/proc/PID/fd` names each such socket by its inode, the same number
//! the kernel's socket dump gives.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::path::PathBuf;

use procfs::ProcError;
use procfs::process::{FDTarget, Process};

/// Why a process cannot be inspected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("PID {0}: no such process")]
    NoSuchProcess(i32),
    #[error(
        "PID {0}: not allowed to read its descriptors (another user's process); run as root or with CAP_SYS_PTRACE: sudo reqwest-connection-leak inspect {0}"
    )]
    NotAllowed(i32),
    #[error("PID {0}: {1}")]
    Unreadable(i32, String),
}

/// One process and its network namespace.
#[derive(Debug)]
pub struct Target {
    pub pid: i32,
    process: Process,
    /// The namespace's inode: processes with the same one see the same
    /// sockets.
    pub namespace: u64,
    /// `/proc/PID/ns/net`, which a thread can join.
    pub namespace_path: PathBuf,
}

impl Target {
    /// Opens `/proc/PID` and checks that its descriptors can be read
    /// (before its namespace, whose refusal would read less plainly).
    pub fn open(pid: i32) -> Result<Target, TargetError> {
        let process = Process::new(pid).map_err(|err| target_error(pid, err))?;
        process.fd().map_err(|err| target_error(pid, err))?;
        let namespaces = process.namespaces().map_err(|err| target_error(pid, err))?;
        let net = namespaces
            .0
            .get(OsStr::new("net"))
            .ok_or_else(|| TargetError::Unreadable(pid, "no network namespace".into()))?;
        Ok(Target {
            pid,
            namespace: net.identifier,
            namespace_path: net.path.clone(),
            process,
        })
    }

    /// The inodes of the sockets its descriptors hold now.
    pub fn socket_inodes(&self) -> Result<HashSet<u64>, TargetError> {
        let descriptors = self
            .process
            .fd()
            .map_err(|err| target_error(self.pid, err))?;
        Ok(descriptors
            // A descriptor closed while the folder is read is simply gone.
            .filter_map(Result::ok)
            .filter_map(|descriptor| match descriptor.target {
                FDTarget::Socket(inode) => Some(inode),
                _ => None,
            })
            .collect())
    }

    /// Whether the process still runs (a zombie counts as ended).
    pub fn is_alive(&self) -> bool {
        self.process.is_alive()
    }
}

fn target_error(pid: i32, err: ProcError) -> TargetError {
    match err {
        ProcError::NotFound(_) => TargetError::NoSuchProcess(pid),
        ProcError::PermissionDenied(_) => TargetError::NotAllowed(pid),
        other => TargetError::Unreadable(pid, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn its_own_sockets_are_found_by_inode() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let target = Target::open(std::process::id() as i32).unwrap();
        use std::os::fd::AsRawFd;
        let link = std::fs::read_link(format!("/proc/self/fd/{}", listener.as_raw_fd())).unwrap();
        let inode: u64 = link
            .to_str()
            .and_then(|text| text.strip_prefix("socket:["))
            .and_then(|text| text.strip_suffix(']'))
            .and_then(|text| text.parse().ok())
            .unwrap();
        assert!(target.socket_inodes().unwrap().contains(&inode));
    }

    #[test]
    fn a_pid_that_does_not_exist_is_named() {
        // PIDs stop well below i32::MAX (pid_max is at most 2^22).
        let err = Target::open(i32::MAX).unwrap_err();
        assert_eq!(err, TargetError::NoSuchProcess(i32::MAX));
        assert_eq!(
            err.to_string(),
            format!("PID {}: no such process", i32::MAX)
        );
    }
}
