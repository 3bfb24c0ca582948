//! What watches the two roles. Watching must not change what it watches:
//! nothing here opens a connection or spawns a task.
//!
//! - [`tasks`]: the live task count, tokio's stand-in for goroutines.
//! - [`metrics`]: `/metrics` in the OpenMetrics text format.
//! - [`sockets`]: which TCP connections are still held open, from the
//!   kernel's own tables.

pub mod metrics;
pub mod sockets;
pub mod tasks;
