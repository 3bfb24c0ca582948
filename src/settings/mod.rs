//! What a user sets: the command line and every setting it reads.
//!
//! - [`cli`]: serve, run the demo, or list the scenarios.
//! - [`config`]: every setting, from env vars or flags, checked at start.
//! - [`go_syntax`]: Go's spelling of durations and booleans.
//! - [`bind_address`]: Go's `:PORT` listen addresses.
//! - [`redact`]: passwords in URLs, replaced wherever they would show.
//! - `ca_file` (with the `tls` feature): `UPSTREAM_CA_FILE`'s certificates.

pub mod bind_address;
#[cfg(feature = "tls")]
pub mod ca_file;
pub mod cli;
pub mod config;
pub mod go_syntax;
pub mod redact;

pub use config::{ClientLifetime, Config};
