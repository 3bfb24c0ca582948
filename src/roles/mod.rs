//! The two roles and the client between them.
//!
//! - [`hello`]: server 1's `/hello`.
//! - [`forward`]: server 2's `/forward` and where its clients come from.
//! - [`client_settings`]: the knobs that cause or stop the leak.
//! - [`upstream`]: one call from server 2 to server 1.
//! - [`via`]: the mark that stops a forwarding loop.
//! - [`retainer`]: keeps per-request clients as long as Go would.
//! - [`forward_error`]: how `/forward` fails.
//! - [`json_answer`]: logged JSON answers.
//! - `tls` (with the `tls` feature): one TLS configuration for every client.

pub mod client_settings;
pub mod forward;
pub mod forward_error;
pub mod hello;
pub mod json_answer;
pub mod retainer;
#[cfg(feature = "tls")]
pub mod tls;
pub mod upstream;
pub mod via;
