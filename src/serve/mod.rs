//! Serving the roles: listening, routing, stopping, and the pages and
//! figures that let a person watch.
//!
//! - [`server`]: listening, the accept loop and a bounded graceful shutdown.
//! - `in_flight`: what every request gets on its way: its connection's
//!   ends, a place in the count of requests in flight, and `Connection:
//!   close` while keep-alives are off.
//! - `leftover`: what a route leaves of a request's body, read after
//!   its answer as Go's server reads it.
//! - `inbound`: inbound connections' deadlines: the idle timeout between
//!   requests, `SERVER_READ_TIMEOUT` on each request, and closing those
//!   waiting when keep-alives are switched off.
//! - `transfer_encoding`: `Transfer-Encoding` as Go's server takes it.
//! - `state`: what the routes share, and the part each takes.
//! - `router`: which route answers what.
//! - [`shutdown`]: Ctrl-C, SIGTERM and SIGHUP.
//! - `switches`: settings switched on a running server, `/settings`;
//!   `switch_log`: the switches made, logged, counted and kept.
//! - `access`: who may read the settings and figures, and who may switch.
//! - `refusal`: how every refusal reads, a method or a path that no
//!   route takes included.
//! - `figures`: what a server tells of itself, typed; `told`: the routes
//!   that tell it, `/metrics` for a scraper and `/figures`.
//! - `server1_client`: the client to server 1 for its figures and its
//!   switches.
//! - `watch`: what the dashboard polls, `/watch`: both servers' figures
//!   and what the settings amount to; `role`: which role a server plays.
//! - `dashboard`: the page at `/` that polls it.

pub(crate) mod access;
pub(crate) mod dashboard;
pub(crate) mod figures;
pub(crate) mod in_flight;
pub(crate) mod inbound;
pub(crate) mod leftover;
pub(crate) mod refusal;
pub(crate) mod role;
pub(crate) mod router;
pub mod server;
pub(crate) mod server1_client;
pub mod shutdown;
pub(crate) mod state;
pub(crate) mod switch_log;
pub(crate) mod switches;
pub(crate) mod told;
pub(crate) mod transfer_encoding;
pub(crate) mod watch;
