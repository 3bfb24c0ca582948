//! What watches the two roles. Watching must not change what it watches:
//! nothing here spawns a task or touches the connections it counts. (The
//! socket check tests itself once, when it starts, on a loopback
//! connection of its own that it closes at once.)
//!
//! - `tasks`: the live task count, tokio's stand-in for goroutines.
//! - `history`: the last five minutes of a server's figures, sampled by
//!   a thread of its own (a thread is not a task: the count stays true).
//! - [`metrics`]: `/metrics` in the OpenMetrics text format, and the same
//!   counters typed for `/figures`.
//! - [`process`]: this process's memory and descriptors, and its limit.
//! - `repeats`: a failure logged once a second, not once a request.
//! - [`log`]: the log's writer, which never waits for a stuck reader.
//! - [`ends`]: a TCP connection's two ends, seen from this process.
//! - [`sockets`]: which TCP connections are still held open, from the
//!   kernel's socket diagnostics; [`proc_net`]: the same from
//!   `/proc/net/tcp`; `connection_check`: which of the two to ask.

pub(crate) mod connection_check;
pub mod ends;
pub(crate) mod history;
pub mod log;
pub mod metrics;
pub mod proc_net;
pub mod process;
pub(crate) mod repeats;
pub mod sockets;
pub(crate) mod tasks;
