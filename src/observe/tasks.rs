//! The number both roles report in the field Go calls `goRoutines`.

use tokio::runtime::Handle;

/// tokio's count of live tasks, standing in for Go's
/// `runtime.NumGoroutine()`.
///
/// What it counts here: one task per open inbound connection (the accept
/// loop spawns one each), one per connection a `/forward` client holds
/// open (hyper-util spawns one to drive each), and one per client pool
/// that has an idle timeout (its eviction timer). It leaves out the main
/// task, the blocking threads that resolve host names, and the threads of
/// the retainer's watch and of the log, as Go's count leaves out its
/// garbage collector.
pub(crate) fn alive_tasks() -> usize {
    alive_tasks_in(&Handle::current())
}

/// The same count for the runtime behind `handle`, read from any thread.
pub(crate) fn alive_tasks_in(handle: &Handle) -> usize {
    handle.metrics().num_alive_tasks()
}
