//! A server's counters at one moment, typed: what `/metrics` renders as
//! text for a scrape, read from the same atomics for `/figures`, so that
//! the dashboard names no metric and parses nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::observe::metrics::Outcome;

/// Everything a server counts but its task count, which every server 1
/// has (the Go original's too) and which [`crate::serve::figures`] keeps
/// apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Inbound connections open now.
    pub open_connections: u64,
    /// Inbound connections accepted since the start.
    pub connections_accepted: u64,
    /// Per-request clients `/forward` built.
    pub clients_built: u64,
    /// Per-request clients the retainer holds now.
    pub clients_retained: u64,
    /// Whether the retainer cannot see connections close now.
    pub retainer_blind: bool,
    /// `/forward` requests by how they ended, every outcome present.
    pub forwards: BTreeMap<Outcome, u64>,
    /// `/hello` answers given.
    pub hello_answers: u64,
    /// Log lines dropped because the log's reader was not reading.
    pub log_lines_dropped: u64,
    /// Resident memory in bytes; `None` when it cannot be read.
    pub resident_bytes: Option<u64>,
    /// Open file descriptors; `None` when they cannot be counted.
    pub open_fds: Option<u64>,
    /// The most file descriptors the process may open.
    pub max_fds: Option<u64>,
}
