//! `SWITCHES`: whose switches a server accepts. What each policy lets
//! through is `serve/access.rs`'s to decide.

use std::fmt;

/// Whose switches are accepted: the `SWITCHES` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SwitchPolicy {
    Loopback,
    Off,
    Any,
}

impl fmt::Display for SwitchPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SwitchPolicy::Loopback => "loopback",
            SwitchPolicy::Off => "off",
            SwitchPolicy::Any => "any",
        })
    }
}

/// Reads `SWITCHES`: `loopback`, `off` or `any`.
pub(crate) fn parse_switch_policy(text: &str) -> Result<SwitchPolicy, String> {
    match text {
        "loopback" => Ok(SwitchPolicy::Loopback),
        "off" => Ok(SwitchPolicy::Off),
        "any" => Ok(SwitchPolicy::Any),
        _ => Err(format!(
            "invalid value {text:?}: expected loopback, off or any"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_is_one_of_three_words() {
        assert_eq!(parse_switch_policy("any"), Ok(SwitchPolicy::Any));
        assert!(
            parse_switch_policy("all")
                .unwrap_err()
                .contains("loopback, off or any")
        );
    }
}
