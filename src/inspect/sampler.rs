//! One sample of every process watched: its descriptors' sockets, found in
//! one dump of the kernel's sockets per network namespace, made into rows.

use std::collections::{BTreeMap, HashMap, hash_map::Entry};
use std::time::Duration;

use super::InspectError;
use super::peer::connections_of;
use super::socket_dump::SocketDump;
use super::target::Target;
use super::verdict::Rule;
use super::watch::{ProcessWatch, Row};

/// The processes still running, a channel to each of their namespaces,
/// and what the watch remembers of each.
pub struct Sampler {
    targets: Vec<Target>,
    dumps: HashMap<u64, SocketDump>,
    watches: BTreeMap<i32, ProcessWatch>,
    rule: Rule,
}

/// What one sample saw.
pub struct Seen {
    pub rows: Vec<Row>,
    /// Processes that exited since the sample before.
    pub ended: Vec<i32>,
}

impl Sampler {
    /// Opens every process, and a channel to each namespace they live in:
    /// this process's own, or one joined (which needs root).
    pub fn open(pids: &[i32], rule: Rule) -> Result<Sampler, InspectError> {
        let targets = pids
            .iter()
            .map(|pid| Target::open(*pid))
            .collect::<Result<Vec<Target>, _>>()?;
        let own_namespace = Target::open(std::process::id() as i32)?.namespace;
        let mut dumps = HashMap::new();
        for target in &targets {
            let Entry::Vacant(entry) = dumps.entry(target.namespace) else {
                continue;
            };
            let dump = if target.namespace == own_namespace {
                SocketDump::here().map_err(InspectError::Dump)?
            } else {
                SocketDump::in_namespace(&target.namespace_path).map_err(|source| {
                    InspectError::Namespace {
                        pid: target.pid,
                        source,
                    }
                })?
            };
            entry.insert(dump);
        }
        Ok(Sampler {
            targets,
            dumps,
            watches: BTreeMap::new(),
            rule,
        })
    }

    /// Whether any process is still watched.
    pub fn is_watching(&self) -> bool {
        !self.targets.is_empty()
    }

    /// Samples every process, `watched` after the watch began.
    pub fn sample(&mut self, watched: Duration) -> Result<Seen, InspectError> {
        let mut sockets = HashMap::new();
        let mut seen = Seen {
            rows: Vec::new(),
            ended: Vec::new(),
        };
        for target in &self.targets {
            let inodes = match target.socket_inodes() {
                Ok(inodes) if target.is_alive() => inodes,
                _ => {
                    seen.ended.push(target.pid);
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
                    entry.insert(dump.dump().map_err(InspectError::Dump)?)
                }
            };
            let connections = connections_of(namespace_sockets, &inodes);
            seen.rows
                .extend(self.watches.entry(target.pid).or_default().sample(
                    target.pid,
                    &connections,
                    watched,
                    &self.rule,
                ));
        }
        self.targets
            .retain(|target| !seen.ended.contains(&target.pid));
        Ok(seen)
    }
}
