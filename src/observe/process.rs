//! What the kernel tells about this process: its memory, its descriptors
//! and their limit, and the one thing this program changes about it at
//! start, that limit. Each figure is read when asked, and is `None` where
//! it cannot be read (no `/proc`, or no descriptor left to open it with),
//! never a stale one.

/// Resident memory in bytes, from `VmRSS` in `/proc/self/status`.
pub(crate) fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Open descriptors: the entries of `/proc/self/fd`, less the one that
/// reading the folder itself holds.
pub(crate) fn open_fds() -> Option<u64> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(entries.saturating_sub(1))
}

/// The most descriptors this process may hold: the soft `RLIMIT_NOFILE`.
pub(crate) fn max_fds() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Raises the soft limit on open descriptors to the hard one, as Go's
/// runtime does at start (Go 1.19 and later): the leak holds one
/// descriptor per request on each side, and a common default soft limit
/// of 1,024 would end it far sooner than the Go original's.
pub fn raise_descriptor_limit() {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        // An unlimited hard limit is left alone, as Go leaves it.
        let (Some(soft), Some(hard)) = (limit.current, limit.maximum) else {
            return;
        };
        if soft >= hard {
            return;
        }
        let raised = Rlimit {
            current: Some(hard),
            maximum: Some(hard),
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => tracing::debug!(from = soft, to = hard, "raised the open-file limit"),
            Err(err) => tracing::debug!(%err, soft, hard, "cannot raise the open-file limit"),
        }
    }
}
