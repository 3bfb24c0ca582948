//! What a user sets: the command line and every setting it reads.
//!
//! - [`config`]: every setting, from env vars or flags, checked at start;
//!   `extra_hosts`, `switch_policy` and `check_with` read three of them,
//!   and [`misspelled`] finds a setting given under a wrong name.
//! - [`given`]: the settings as given at start, each by its env var.
//! - [`knobs`]: the settings that cause the leak or stop it, typed.
//! - `live`: the knobs in effect now, switchable at runtime.
//! - [`on_switch`]: what switching each knob does at once.
//! - `go_syntax`: Go's spelling of durations, booleans and whole numbers.
//! - `bind_address`: Go's `:PORT` listen addresses.
//! - `redact`: passwords in URLs, replaced wherever they would show.
//! - `ca_file` (with the `tls` feature): `UPSTREAM_CA_FILE`'s certificates.

pub(crate) mod bind_address;
#[cfg(feature = "tls")]
pub(crate) mod ca_file;
pub(crate) mod check_with;
pub mod config;
pub(crate) mod extra_hosts;
pub mod given;
pub(crate) mod go_syntax;
pub mod knobs;
pub(crate) mod live;
pub mod misspelled;
pub mod on_switch;
pub(crate) mod redact;
pub(crate) mod switch_policy;

pub use config::Config;
