//! A process being inspected, seen through `/proc` (by `procfs`): which
//! sockets its descriptors hold, and which network namespace it lives in.
//!
//! A socket is tied to a process only while one of its descriptors holds
//! it; `/proc/PID/fd` names each such socket by its inode, the same number
//! the kernel's socket dump gives.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use procfs::ProcError;
use procfs::process::{FDTarget, Process};
use rustix::fs::{Dir, Mode, OFlags};

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
        let mut target = Target {
            pid,
            process,
            namespace: 0,
            namespace_path: PathBuf::new(),
        };
        target.descriptors()?;
        let namespaces = target
            .process
            .namespaces()
            .map_err(|err| target_error(pid, err))?;
        let net = namespaces
            .0
            .get(OsStr::new("net"))
            .ok_or_else(|| TargetError::Unreadable(pid, "no network namespace".into()))?;
        target.namespace = net.identifier;
        target.namespace_path = net.path.clone();
        Ok(target)
    }

    /// The inodes of the sockets its descriptors hold now.
    ///
    /// One `readlinkat` a descriptor, each link read by procfs's
    /// `FDTarget`. (procfs's own `Process::fd` also opens and stats each
    /// descriptor, four system calls where one does: 10,000 descriptors
    /// took about 150 ms of CPU that way, 60 ms this way.)
    pub fn socket_inodes(&self) -> Result<HashSet<u64>, TargetError> {
        let folder = self.descriptors()?;
        let mut inodes = HashSet::new();
        let entries = Dir::read_from(&folder).map_err(|err| self.unreadable(err))?;
        for entry in entries {
            let entry = entry.map_err(|err| self.unreadable(err))?;
            // "." and "..", and a descriptor closed while the folder is
            // read, are simply not sockets.
            let Ok(link) = rustix::fs::readlinkat(&folder, entry.file_name(), Vec::new()) else {
                continue;
            };
            if let Ok(FDTarget::Socket(inode)) = link.to_string_lossy().parse() {
                inodes.insert(inode);
            }
        }
        Ok(inodes)
    }

    /// `/proc/PID/fd`, opened: only its owner, root or a holder of
    /// `CAP_SYS_PTRACE` may.
    fn descriptors(&self) -> Result<OwnedFd, TargetError> {
        rustix::fs::open(
            format!("/proc/{}/fd", self.pid),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|err| self.unreadable(err))
    }

    fn unreadable(&self, err: rustix::io::Errno) -> TargetError {
        let err = std::io::Error::from(err);
        match err.kind() {
            std::io::ErrorKind::NotFound => TargetError::NoSuchProcess(self.pid),
            std::io::ErrorKind::PermissionDenied => TargetError::NotAllowed(self.pid),
            _ => TargetError::Unreadable(self.pid, err.to_string()),
        }
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
