//! The registry: the leak, each fix and each client lifetime, one entry
//! each, in the order the demo runs them, and what the counts should show
//! for each.
//!
//! Everything that lists fixes reads the registry: the demo's scenarios,
//! their labels, colours and expectations, the hint given when descriptors
//! run out, the end-to-end tests and the scripts (through `scenarios`).
//!
//! - `registry`: the entries.
//! - `effect`: what one knob's value amounts to.
//! - `in_effect`: which entries a pair's knobs put in effect.
//! - [`verdict`]: what counts show, by one rule for the demo and the page;
//!   `recording`: what the demo recorded of a scenario; `seen`: what the
//!   page's window of the last requests showed.

pub(crate) mod effect;
pub(crate) mod in_effect;
pub(crate) mod recording;
pub(crate) mod registry;
pub(crate) mod seen;
pub mod verdict;

pub use effect::takes_back_what_leaked;
pub(crate) use in_effect::{amounts_to, in_effect};
pub use registry::{ALL, Scenario, Setting, ways_out};
pub use verdict::Expectation;
