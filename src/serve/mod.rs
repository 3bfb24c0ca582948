//! Serving the roles: listening, routing, stopping, and the pages and
//! figures that let a person watch.
//!
//! - [`server`]: listening, the accept loop and a bounded graceful shutdown.
//! - [`router`]: which route answers what.
//! - [`shutdown`]: Ctrl-C, SIGTERM and SIGHUP.
//! - [`watch`]: the figures a person watches, `/figures` and `/watch`.
//! - [`dashboard`]: the page at `/` that polls them.

pub mod dashboard;
pub mod router;
pub mod server;
pub mod shutdown;
pub mod watch;
