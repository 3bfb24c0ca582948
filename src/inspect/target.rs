//! A process being inspected, seen through `/proc`: its command, which
//! sockets its descriptors hold, and which network namespace it lives in.
//!
//! A socket is tied to a process only while one of its descriptors holds
//! it; `/proc/PID/fd` names each such socket by its inode, the same number
//! the kernel's socket dump gives.

use std::collections::HashSet;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use procfs::process::{FDTarget, Stat};
use procfs::{FromRead, ProcError};
use rustix::fs::{Dir, Mode, OFlags};
use rustix::io::Errno;

/// Why a process cannot be inspected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("PID {0}: no such process")]
    NoSuchProcess(i32),
    #[error(
        "PID {0}: not allowed to read its descriptors (another user's process); run as root or with CAP_SYS_PTRACE: sudo reqwest-connection-leak inspect {0}"
    )]
    NotAllowed(i32),
    #[error(
        "PID {pid} has exited: a zombie its parent (PID {parent}) has not reaped, holding no connections; nothing to watch"
    )]
    Zombie { pid: i32, parent: i32 },
    #[error(
        "PID {0}: not allowed to read its network namespace (/proc/{0}/ns/net); run as root with CAP_SYS_PTRACE, or, for a process of another user namespace such as a container's PID 1, inside that container"
    )]
    NamespaceNotAllowed(i32),
    #[error("PID {0}: {1}")]
    Unreadable(i32, String),
}

impl TargetError {
    /// Whether the process is gone, as opposed to unreadable for now.
    pub(crate) fn is_gone(&self) -> bool {
        matches!(
            self,
            TargetError::NoSuchProcess(_) | TargetError::Zombie { .. }
        )
    }
}

/// One process and its network namespace, as they are at the last
/// reading. No descriptor is held open for it, so a host with more
/// processes than this one may open descriptors is read whole.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) pid: i32,
    /// When it started, in clock ticks after boot: the same PID with
    /// another start is another process.
    started: u64,
    /// Its command's name (`/proc/PID/comm`), read lossily: whatever bytes
    /// the process set for itself (`name.rs` says how it is shown).
    pub(crate) command: String,
    /// The namespace's inode: processes with the same one see the same
    /// sockets.
    pub(crate) namespace: u64,
    /// `/proc/PID/ns/net`, which a thread can join.
    pub(crate) namespace_path: PathBuf,
}

impl Target {
    /// Finds the process and checks that its descriptors can be read
    /// (before its namespace, whose refusal would read less plainly).
    pub(crate) fn open(pid: i32) -> Result<Target, TargetError> {
        let stat = read_stat(pid)?;
        let mut target = Target {
            pid,
            started: stat.starttime,
            command: String::new(),
            namespace: 0,
            namespace_path: PathBuf::from(format!("/proc/{pid}/ns/net")),
        };
        target.check_alive()?;
        target.descriptors()?;
        target.refresh()?;
        Ok(target)
    }

    /// Reads again what a process may change about itself while watched:
    /// its network namespace (`setns`, as `ip netns exec`, `nsenter` and a
    /// container runtime's exec do) and its name (`exec`, `prctl`); and
    /// whether it still runs.
    pub(crate) fn refresh(&mut self) -> Result<(), TargetError> {
        self.check_alive()?;
        // The link reads "net:[INODE]"; procfs's own reading of it takes a
        // refusal for a bug of its own, so it is read here.
        let link = rustix::fs::readlink(&self.namespace_path, Vec::new())
            .map_err(|err| self.namespace_error(err))?;
        self.namespace = link
            .to_string_lossy()
            .strip_prefix("net:[")
            .and_then(|rest| rest.strip_suffix(']'))
            .and_then(|inode| inode.parse().ok())
            .ok_or_else(|| {
                TargetError::Unreadable(self.pid, format!("network namespace {link:?}"))
            })?;
        let comm = std::fs::read(format!("/proc/{}/comm", self.pid)).unwrap_or_default();
        let name = comm.strip_suffix(b"\n").unwrap_or(&comm);
        self.command = String::from_utf8_lossy(name).into_owned();
        Ok(())
    }

    /// Whether the process still runs: a zombie, whose `/proc` entry stays
    /// empty until its parent reaps it, is gone too, and so is one whose
    /// PID came back with another process; a failure to read its state
    /// (EMFILE) is no sign either way.
    pub(crate) fn check_alive(&self) -> Result<(), TargetError> {
        let stat = read_stat(self.pid)?;
        match stat.state {
            _ if stat.starttime != self.started => Err(TargetError::NoSuchProcess(self.pid)),
            'Z' => Err(TargetError::Zombie {
                pid: self.pid,
                parent: stat.ppid,
            }),
            _ => Ok(()),
        }
    }

    fn namespace_error(&self, err: Errno) -> TargetError {
        match err {
            Errno::ACCESS | Errno::PERM => TargetError::NamespaceNotAllowed(self.pid),
            _ => self.unreadable(err),
        }
    }

    /// The inodes of the sockets its descriptors hold now.
    ///
    /// One `readlinkat` a descriptor, each link read by procfs's
    /// `FDTarget`. (procfs's own `Process::fd` also opens and stats each
    /// descriptor, four system calls where one does: 10,000 descriptors
    /// took about 150 ms of CPU that way, 60 ms this way.)
    pub(crate) fn socket_inodes(&self) -> Result<HashSet<u64>, TargetError> {
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

    fn unreadable(&self, err: Errno) -> TargetError {
        let err = std::io::Error::from(err);
        match err.kind() {
            // ESRCH: the process went between the folder's opening and its
            // reading.
            std::io::ErrorKind::NotFound => TargetError::NoSuchProcess(self.pid),
            _ if err.raw_os_error() == Some(Errno::SRCH.raw_os_error()) => {
                TargetError::NoSuchProcess(self.pid)
            }
            std::io::ErrorKind::PermissionDenied => TargetError::NotAllowed(self.pid),
            _ => TargetError::Unreadable(self.pid, err.to_string()),
        }
    }
}

/// `/proc/PID/stat`, opened, read and closed.
fn read_stat(pid: i32) -> Result<Stat, TargetError> {
    Stat::from_file(format!("/proc/{pid}/stat")).map_err(|err| target_error(pid, err))
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
    fn its_command_is_read() {
        let target = Target::open(std::process::id() as i32).unwrap();
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert_eq!(target.command, comm.strip_suffix('\n').unwrap());
        assert_ne!(target.namespace, 0);
    }

    #[test]
    fn a_zombie_is_named_with_its_parent() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        let zombie = (0..200).find_map(|_| match Target::open(pid) {
            Err(err @ TargetError::Zombie { .. }) => Some(err),
            _ => {
                std::thread::sleep(std::time::Duration::from_millis(10));
                None
            }
        });
        child.wait().unwrap();
        let err = zombie.expect("the child became a zombie");
        assert!(err.is_gone());
        let parent = std::process::id();
        assert!(
            err.to_string().contains(&format!("(PID {parent})")),
            "{err}"
        );
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
