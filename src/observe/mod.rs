//! What watches the two roles. Watching must not change what it watches:
//! nothing here opens a connection or spawns a task.
//!
//! - [`tasks`]: the live task count, tokio's stand-in for goroutines.
//! - [`metrics`]: `/metrics` in the OpenMetrics text format.

pub mod metrics;
pub mod tasks;
