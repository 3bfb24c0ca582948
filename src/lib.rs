//! Shows, live and in numbers, how an HTTP client built per request leaks
//! connections and tasks, and how each fix stops it.
//!
//! One binary plays two roles. Server 1 answers `/hello`; server 2's
//! `/forward` builds a fresh `reqwest::Client` per request, calls server 1
//! and nests the answer. Both report tokio's live task count.
//!
//! # Layout
//!
//! The subject, then what drives it. Each folder only uses the ones above
//! it, so the modules form no loop.
//!
//! - [`failure`]: how a failure reads, for every layer below.
//! - [`settings`]: every setting, in Go's spelling, and the knobs that
//!   cause the leak or stop it, each parsed once into what it means.
//! - [`scenario`]: the registry of the leak, each fix and each client
//!   lifetime, one entry each; what a pair's knobs amount to, and the rule
//!   that judges their counts. Everything that lists fixes derives from it.
//! - [`observe`]: what watches the roles: the live task count, `/metrics`,
//!   the process's own figures, its last five minutes of them, and the
//!   kernel's word on a connection.
//! - [`roles`]: the two roles and their client: `/hello`, `/forward`, the
//!   per-request client's knobs and the retainer that keeps it as long as
//!   Go would.
//! - [`serve`]: the accept loop, the routes, shutdown, and the dashboard.
//! - [`harness`]: starts this binary as server 1 and server 2 on loopback,
//!   for the demo and the tests alike.
//! - [`demo`]: every scenario in one command, with a table and a chart.
//! - [`inspect`]: the same leak found from outside in any running
//!   process, from the kernel's view of its connections.
//! - [`cli`]: the command line: serve, run the demo, list the scenarios,
//!   or inspect other processes.

pub mod failure;
pub mod settings;

pub mod scenario;

pub mod observe;
pub mod roles;
pub mod serve;

pub mod harness;

pub mod demo;
pub mod inspect;

pub mod cli;
