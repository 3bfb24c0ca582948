//! The number both roles report in the field Go calls `goRoutines`.

/// tokio's count of live tasks, standing in for Go's
/// `runtime.NumGoroutine()`.
///
/// What it counts here: one task per open inbound connection (the accept
/// loop spawns one each), one per connection a `/forward` client holds
/// open (hyper-util spawns one to drive each), one per client pool that
/// has an idle timeout (its eviction timer) and the retainer's sweeper
/// while it has clients to drop. It leaves out the main task and the
/// blocking threads that resolve host names.
pub fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}
