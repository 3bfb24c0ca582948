//! Every end-to-end test, in one binary, so that cargo runs them on
//! parallel threads.
//!
//! A test drives the servers in this process (`common::in_process`)
//! wherever no process boundary is what it tests: the wire format, the
//! metrics it counts, upstream errors, the dashboard's JSON. It starts this
//! package's binary (`common::spawn`) where the process is the subject:
//! signals, exit statuses, descriptor limits, the process's own figures,
//! the demo, and the retainer against real sockets.
//!
//! The modules marked `cfg(linux_view)` need Linux's socket diagnostics or
//! `/proc`: the build a Mac gets (`portable`) leaves them out.

mod common;

mod config;
mod dashboard;
mod demo;
mod docs;
#[cfg(linux_view)]
mod inspect;
#[cfg(linux_view)]
mod inspect_cases;
#[cfg(linux_view)]
mod inspect_host;
#[cfg(linux_view)]
mod inspect_real_host;
mod layout;
mod metrics;
mod portable;
mod prometheus;
mod read_timeout;
mod registry;
mod reliability;
mod resilience;
mod response_header_timeout;
#[cfg(linux_view)]
mod retainer;
mod stuck_stderr;
mod switch_lifetimes;
mod switch_surface;
mod switches;
#[cfg(feature = "tls")]
mod tls;
mod upstream_errors;
mod wire;
