//! Shows, live and in numbers, how an HTTP client built per request leaks
//! connections and tasks, and how each fix stops it.
//!
//! One binary plays two roles. Server 1 answers `/hello`; server 2's
//! `/forward` builds a fresh `reqwest::Client` per request, calls server 1
//! and nests the answer. Both report tokio's live task count.
//!
//! # Layout
//!
//! - [`cli`]: the command line: serve, or run the demo.
//! - [`config`]: every setting, from env vars or flags, checked at start.
//! - [`go_syntax`]: Go's spelling of durations and booleans.
//! - [`bind_address`]: Go's `:PORT` listen addresses.
//! - [`server`]: the router, listening and serving.
//! - [`hello`]: server 1's `/hello`.
//! - [`forward`]: server 2's `/forward` and where its clients come from.
//! - [`client_settings`]: the knobs that cause or stop the leak.
//! - [`upstream`]: one call from server 2 to server 1.
//! - [`retainer`]: keeps per-request clients as long as Go would.
//! - [`error`]: how `/forward` fails.
//! - [`metrics`]: `/metrics`, for Prometheus.
//! - [`tasks`]: the live task count.
//! - [`json_answer`]: logged JSON answers.
//! - [`shutdown`]: Ctrl-C and SIGTERM.
//! - `tls` (with the `tls` feature): one TLS configuration for every client.
//! - [`demo`]: every scenario in one command, with a table and a chart.

pub mod bind_address;
pub mod cli;
pub mod client_settings;
pub mod config;
pub mod demo;
pub mod error;
pub mod forward;
pub mod go_syntax;
pub mod hello;
pub mod json_answer;
pub mod metrics;
pub mod retainer;
pub mod server;
pub mod shutdown;
pub mod tasks;
#[cfg(feature = "tls")]
pub mod tls;
pub mod upstream;

pub use config::{ClientLifetime, Config};
pub use server::{StartError, run};
