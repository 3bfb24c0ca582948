//! The settings a server was started with, each by its env var and spelled
//! as given (a password in a URL hidden), as the command line read them:
//! the log's first line, each knob's first spelling, and what `/figures`
//! tells of the settings no switch changes.

use std::collections::BTreeMap;
use std::fmt;

use crate::settings::knobs::Knob;

/// Every setting in effect at start, in `--help` order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Given(Vec<(String, String)>);

/// `EXTRA_HOSTS`: up to 64 names, which every poll of `/figures` would
/// repeat, so it is left out there.
const NOT_REPEATED: &str = "EXTRA_HOSTS";

impl Given {
    pub(crate) fn new(settings: Vec<(String, String)>) -> Given {
        Given(settings)
    }

    /// How `knob` was spelled, when given.
    pub(crate) fn knob(&self, knob: Knob) -> Option<&str> {
        self.0
            .iter()
            .find(|(env, _)| env == knob.env())
            .map(|(_, value)| value.as_str())
    }

    /// The settings no switch changes, by env var, but `EXTRA_HOSTS`.
    pub(crate) fn fixed(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .filter(|(env, _)| Knob::named(env).is_none() && env != NOT_REPEATED)
            .cloned()
            .collect()
    }
}

impl fmt::Display for Given {
    /// `VAR=value` each, separated by spaces, as a shell sets them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (env, value)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{env}={value}")?;
        }
        Ok(())
    }
}
