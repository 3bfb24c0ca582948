//! Every end-to-end test, in one binary, so that cargo runs them on
//! parallel threads.
//!
//! A test drives the servers in this process (`common::in_process`)
//! wherever no process boundary is what it tests: the wire format, the
//! metrics it counts, upstream errors, the dashboard's JSON. It starts this
//! package's binary (`common::spawn`) where the process is the subject:
//! signals, exit statuses, descriptor limits, the process's own figures,
//! the demo, and the retainer against real sockets.

mod common;

mod config;
mod dashboard;
mod demo;
mod docs;
mod inspect;
mod inspect_cases;
mod inspect_host;
mod layout;
mod metrics;
mod prometheus;
mod read_timeout;
mod registry;
mod reliability;
mod resilience;
mod retainer;
mod switch_surface;
mod switches;
#[cfg(feature = "tls")]
mod tls;
mod upstream_errors;
mod wire;
