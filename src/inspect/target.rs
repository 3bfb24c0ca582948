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
    /// Its command's name (`comm`, from `/proc/PID/stat`), read lossily:
    /// whatever bytes the process set for itself (`name.rs` says how it is
    /// shown).
    pub(crate) command: String,
    /// The namespace's inode: processes with the same one see the same
    /// sockets.
    pub(crate) namespace: u64,
    /// `/proc/PID/ns/net`, which a thread can join.
    pub(crate) namespace_path: PathBuf,
    /// Its sockets as read when it was opened, for its first sample:
    /// reading them is how opening checks that its descriptors can be read.
    first_inodes: Option<HashSet<u64>>,
}

impl Target {
    /// Finds the process and reads its descriptors' sockets (before its
    /// namespace, whose refusal would read less plainly), its namespace
    /// and its name: each once.
    pub(crate) fn open(pid: i32) -> Result<Target, TargetError> {
        let stat = read_stat(pid)?;
        if stat.state == 'Z' {
            return Err(TargetError::Zombie {
                pid,
                parent: stat.ppid,
            });
        }
        let mut target = Target {
            pid,
            started: stat.starttime,
            command: stat.comm,
            namespace: 0,
            namespace_path: PathBuf::from(format!("/proc/{pid}/ns/net")),
            first_inodes: None,
        };
        target.first_inodes = Some(target.socket_inodes()?);
        target.read_namespace()?;
        Ok(target)
    }

    /// The sockets its descriptors hold now, having checked that it still
    /// runs and read again what a process may change about itself while
    /// watched: its network namespace (`setns`, as `ip netns exec`,
    /// `nsenter` and a container runtime's exec do) and its name (`exec`,
    /// `prctl`). Its first sample takes what opening read.
    pub(crate) fn read(&mut self) -> Result<HashSet<u64>, TargetError> {
        if let Some(inodes) = self.first_inodes.take() {
            return Ok(inodes);
        }
        // Its descriptors first: a process that exits meanwhile shows an
        // empty folder, which its state then explains.
        let inodes = match (self.socket_inodes(), self.read_state()) {
            (_, Err(gone)) if gone.is_gone() => return Err(gone),
            (Ok(_), Err(err)) | (Err(err), _) => return Err(err),
            (Ok(inodes), Ok(())) => inodes,
        };
        self.read_namespace()?;
        Ok(inodes)
    }

    /// Its network namespace, as it is now.
    fn read_namespace(&mut self) -> Result<(), TargetError> {
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
        Ok(())
    }

    /// Whether the process still runs, and its name now (`/proc/PID/stat`
    /// holds it, as `comm` does): a zombie, whose `/proc` entry stays empty
    /// until its parent reaps it, is gone too, and so is one whose PID came
    /// back with another process; a failure to read its state (EMFILE) is
    /// no sign either way.
    fn read_state(&mut self) -> Result<(), TargetError> {
        let stat = read_stat(self.pid)?;
        match stat.state {
            _ if stat.starttime != self.started => Err(TargetError::NoSuchProcess(self.pid)),
            'Z' => Err(TargetError::Zombie {
                pid: self.pid,
                parent: stat.ppid,
            }),
            _ => {
                self.command = stat.comm;
                Ok(())
            }
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
    /// `FDTarget`, and no more: the folder is read through the descriptor
    /// that opened it, and `.` and `..` are not asked about. (procfs's own
    /// `Process::fd` also opens and stats each descriptor, four system
    /// calls where one does: 10,000 descriptors took about 150 ms of CPU
    /// that way, 60 ms this way.)
    pub(crate) fn socket_inodes(&self) -> Result<HashSet<u64>, TargetError> {
        let mut folder = Dir::new(self.descriptors()?).map_err(|err| self.unreadable(err))?;
        let mut names = Vec::new();
        while let Some(entry) = folder.read() {
            let entry = entry.map_err(|err| self.unreadable(err))?;
            if !entry.file_name().to_bytes().starts_with(b".") {
                names.push(entry.file_name().to_owned());
            }
        }
        let folder = folder.fd().map_err(|err| self.unreadable(err))?;
        let mut inodes = HashSet::new();
        let mut link = Vec::new();
        for name in names {
            // A descriptor closed while the folder is read is no socket.
            let Ok(read) = rustix::fs::readlinkat(folder, &name, link) else {
                link = Vec::new();
                continue;
            };
            if let Ok(FDTarget::Socket(inode)) = read.to_string_lossy().parse() {
                inodes.insert(inode);
            }
            link = read.into_bytes();
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
        errno_error(self.pid, err)
    }
}

/// `/proc/PID/stat`, opened, read whole into a buffer and closed: no
/// `stat` of the file first, as reading a file to its end would make.
fn read_stat(pid: i32) -> Result<Stat, TargetError> {
    let file = rustix::fs::open(
        format!("/proc/{pid}/stat"),
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|err| errno_error(pid, err))?;
    // A line of 52 numbers and a name of at most 15 bytes.
    let mut line = [0u8; 2048];
    let mut read = 0;
    while read < line.len() {
        match rustix::io::read(&file, &mut line[read..]) {
            Ok(0) => break,
            Ok(more) => read += more,
            Err(Errno::INTR) => {}
            Err(err) => return Err(errno_error(pid, err)),
        }
    }
    Stat::from_read(&line[..read]).map_err(|err| target_error(pid, err))
}

/// Why a file of `/proc/PID` could not be read: ESRCH when the process
/// ended between the file's opening and its reading.
fn errno_error(pid: i32, err: Errno) -> TargetError {
    match err {
        Errno::NOENT | Errno::SRCH => TargetError::NoSuchProcess(pid),
        Errno::ACCESS | Errno::PERM => TargetError::NotAllowed(pid),
        _ => TargetError::Unreadable(pid, std::io::Error::from(err).to_string()),
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
