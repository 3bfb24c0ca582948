//! The two roles and the client between them.
//!
//! - `hello`: server 1's `/hello`.
//! - `forward`: server 2's `/forward` and where its clients come from.
//! - [`client_settings`]: the per-request client's knobs: those that
//!   cause or stop the leak, and the two timeouts, which do neither.
//! - `upstream`: one call from server 2 to server 1, and `head_wait`: how
//!   long it waits for the answer's head (`RESPONSE_HEADER_TIMEOUT`).
//! - `via`: the mark that stops a forwarding loop.
//! - `retainer`: keeps per-request clients as long as Go would.
//! - `forward_error`: how `/forward` fails.
//! - `json_answer`: logged JSON answers.
//! - `tls` (with the `tls` feature): one TLS configuration for every client.

pub mod client_settings;
pub(crate) mod forward;
pub(crate) mod forward_error;
pub(crate) mod head_wait;
pub(crate) mod hello;
pub(crate) mod json_answer;
pub(crate) mod retainer;
#[cfg(feature = "tls")]
pub(crate) mod tls;
pub(crate) mod upstream;
pub(crate) mod via;
