//! One sample of every process watched: its descriptors' sockets, found in
//! one dump of the kernel's sockets per network namespace, made into rows.
//!
//! Only a process that is gone ends its rows. One whose descriptors cannot
//! be read for now (no descriptor left to read them with, EMFILE; a
//! process that made itself non-dumpable, EACCES) keeps its last rows, with
//! the reason on each, and is read again at the next sample. One that is
//! gone keeps its last rows for the final table, except under `--all`,
//! where a host's processes come and go.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use super::error::InspectError;
use super::fold::fold;
use super::peer::Namespace;
use super::process_watch::{ProcessWatch, Row};
use super::socket_dump::SocketDump;
use super::target::{Target, TargetError};
use super::verdict::Rule;

/// The processes watched, a channel to each of their namespaces, and what
/// the watch remembers of each.
pub(crate) struct Sampler {
    targets: BTreeMap<i32, Target>,
    /// `--all`: every process this one may read, found anew each sample.
    all: bool,
    own_namespace: u64,
    dumps: HashMap<u64, SocketDump>,
    /// Namespaces that could not be joined (`--all` without root).
    unjoinable: HashSet<u64>,
    watches: BTreeMap<i32, ProcessWatch>,
    /// Each process's rows at its last reading.
    last_rows: BTreeMap<i32, Vec<Row>>,
    rule: Rule,
    /// How long a row with no connection open is kept.
    forget: Duration,
}

/// What one sample saw.
#[derive(Debug, Default)]
pub(crate) struct Coverage {
    pub(crate) rows: Vec<Row>,
    /// Processes that exited since the sample before.
    pub(crate) ended: Vec<i32>,
    /// Processes read, and the connections they hold.
    pub(crate) processes: usize,
    pub(crate) connections: usize,
    /// `--all`: processes that could not be read (other users', without
    /// root), and why, one reason each.
    pub(crate) unreadable: BTreeMap<String, usize>,
}

impl Sampler {
    /// Opens every process of `pids`, and a channel to each namespace they
    /// live in: this process's own, or one joined (which needs root).
    pub(crate) fn open(
        pids: &[i32],
        rule: Rule,
        forget: Duration,
    ) -> Result<Sampler, InspectError> {
        let mut sampler = Sampler::new(false, rule, forget)?;
        for pid in pids {
            let target = Target::open(*pid)?;
            join(&mut sampler.dumps, sampler.own_namespace, &target)
                .map_err(|source| InspectError::Namespace { pid: *pid, source })?;
            sampler.targets.insert(*pid, target);
        }
        Ok(sampler)
    }

    /// Every process this one may read, found anew at each sample.
    pub(crate) fn all(rule: Rule, forget: Duration) -> Result<Sampler, InspectError> {
        Sampler::new(true, rule, forget)
    }

    fn new(all: bool, rule: Rule, forget: Duration) -> Result<Sampler, InspectError> {
        let own_namespace = Target::open(std::process::id() as i32)?.namespace;
        Ok(Sampler {
            targets: BTreeMap::new(),
            all,
            own_namespace,
            dumps: HashMap::new(),
            unjoinable: HashSet::new(),
            watches: BTreeMap::new(),
            last_rows: BTreeMap::new(),
            rule,
            forget,
        })
    }

    /// Whether any process is still watched (`--all` always is).
    pub(crate) fn is_watching(&self) -> bool {
        self.all || !self.targets.is_empty()
    }

    /// Each process's rows at its last reading, those that ended included.
    pub(crate) fn last_rows(&self) -> &BTreeMap<i32, Vec<Row>> {
        &self.last_rows
    }

    /// Every row that read `leaks` at its process's last sample, each
    /// connection as the chart draws it.
    pub(crate) fn charted(&self) -> Vec<super::chart::Charted> {
        self.watches
            .values()
            .flat_map(ProcessWatch::charted)
            .collect()
    }

    /// Samples every process, `watched` after the watch began.
    pub(crate) fn sample(&mut self, watched: Duration) -> Result<Coverage, InspectError> {
        let mut seen = Coverage::default();
        if self.all {
            self.find_processes(&mut seen);
        }
        // One dump of the kernel's sockets per namespace, when first needed.
        let mut sockets = HashMap::new();
        for target in self.targets.values_mut() {
            let pid = target.pid;
            let read = target.read();
            // A process that moved to another namespace is read there.
            let read = read.and_then(|inodes| {
                join(&mut self.dumps, self.own_namespace, target)
                    .map(|()| inodes)
                    .map_err(|err| {
                        TargetError::Unreadable(
                            pid,
                            format!("joining its network namespace: {err}"),
                        )
                    })
            });
            let inodes = match read {
                Ok(inodes) => inodes,
                Err(err) if err.is_gone() => {
                    seen.ended.push(pid);
                    continue;
                }
                Err(err) => {
                    let rows = self.last_rows.entry(pid).or_default();
                    for row in rows.iter_mut() {
                        row.unread = Some(err.to_string());
                    }
                    seen.rows.extend(rows.iter().cloned());
                    continue;
                }
            };
            let namespace_sockets = match sockets.entry(target.namespace) {
                Entry::Occupied(entry) => entry.into_mut(),
                Entry::Vacant(entry) => {
                    let dump = self
                        .dumps
                        .get_mut(&target.namespace)
                        .expect("a channel to every namespace");
                    entry.insert(Namespace::of(dump.dump().map_err(InspectError::Dump)?))
                }
            };
            let connections = namespace_sockets.connections_of(&inodes);
            seen.processes += 1;
            seen.connections += connections.len();
            let watch = self
                .watches
                .entry(pid)
                .or_insert_with(|| ProcessWatch::new(pid, self.forget));
            let rows = fold(watch.sample(&target.command, &connections, watched, &self.rule));
            seen.rows.extend(rows.iter().cloned());
            self.last_rows.insert(pid, rows);
        }
        self.forget_ended(&seen.ended);
        Ok(seen)
    }

    /// Stops watching the processes that `ended`: their rows stay, marked
    /// ended, for a watch of given processes; with `--all` they go, and so
    /// does the channel to a namespace that no process watched lives in
    /// any more, as a host's processes come and go.
    fn forget_ended(&mut self, ended: &[i32]) {
        for pid in ended {
            self.targets.remove(pid);
            self.watches.remove(pid);
            if self.all {
                self.last_rows.remove(pid);
            } else {
                for row in self.last_rows.entry(*pid).or_default() {
                    row.ended = true;
                }
            }
        }
        if self.all && !ended.is_empty() {
            let used: HashSet<u64> = self.targets.values().map(|t| t.namespace).collect();
            let own = self.own_namespace;
            self.dumps
                .retain(|namespace, _| *namespace == own || used.contains(namespace));
        }
    }

    /// `--all`: opens every process not yet watched; counts those that
    /// cannot be read.
    fn find_processes(&mut self, seen: &mut Coverage) {
        let own = std::process::id() as i32;
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        let pids = entries
            .filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok());
        for pid in pids {
            if pid == own || self.targets.contains_key(&pid) {
                continue;
            }
            const OTHER_NAMESPACE: &str = "in a network namespace only root can join";
            let why = match Target::open(pid) {
                Ok(target) if self.unjoinable.contains(&target.namespace) => OTHER_NAMESPACE,
                Ok(target) => match join(&mut self.dumps, self.own_namespace, &target) {
                    Ok(()) => {
                        self.targets.insert(pid, target);
                        continue;
                    }
                    Err(_) => {
                        self.unjoinable.insert(target.namespace);
                        OTHER_NAMESPACE
                    }
                },
                Err(err) if err.is_gone() => continue,
                Err(TargetError::NotAllowed(_)) => "of other users (run as root to read them)",
                Err(TargetError::NamespaceNotAllowed(_)) => {
                    "whose network namespace is closed to this process (CAP_SYS_PTRACE, or another user namespace)"
                }
                Err(_) => "whose /proc entries could not be read",
            };
            *seen.unreadable.entry(why.to_owned()).or_default() += 1;
        }
    }
}

/// A channel to `target`'s namespace in `dumps`, opened once per
/// namespace: this process's own, or one joined (which needs root).
fn join(
    dumps: &mut HashMap<u64, SocketDump>,
    own_namespace: u64,
    target: &Target,
) -> std::io::Result<()> {
    if dumps.contains_key(&target.namespace) {
        return Ok(());
    }
    let dump = if target.namespace == own_namespace {
        SocketDump::here()?
    } else {
        SocketDump::in_namespace(&target.namespace_path)?
    };
    dumps.insert(target.namespace, dump);
    Ok(())
}
