//! Environment variables that look like a misspelled setting: a fix
//! given under a wrong name is otherwise silently ignored.

use crate::settings::Config;

/// Environment variables that are not settings but lie within two edits of
/// one (`DISABLE_KEEPALIVES`, `IDLE_CONN_TIMOUT`), each with the setting
/// it was probably meant to be: a misspelled fix is otherwise silently
/// ignored, and the leak goes on.
pub fn misspelled_settings(variables: impl Iterator<Item = String>) -> Vec<(String, String)> {
    let settings = Config::env_names();
    variables
        .filter(|variable| !settings.contains(variable))
        .filter_map(|variable| {
            let upper = variable.to_ascii_uppercase();
            let meant = settings
                .iter()
                .find(|setting| edits(&upper, setting) <= 2)?;
            Some((variable, meant.clone()))
        })
        .collect()
}

/// The Levenshtein distance between two ASCII names.
fn edits(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_two_edits_from_a_setting_is_named_with_it() {
        let given = [
            "DISABLE_KEEPALIVES",
            "IDLE_CONN_TIMOUT",
            "disable_keep_alives",
            "DISABLE_KEEP_ALIVES",
            "PATH",
            "HOME",
            "SWITCH",
        ]
        .map(String::from);
        assert_eq!(
            misspelled_settings(given.into_iter()),
            [
                ("DISABLE_KEEPALIVES", "DISABLE_KEEP_ALIVES"),
                ("IDLE_CONN_TIMOUT", "IDLE_CONN_TIMEOUT"),
                ("disable_keep_alives", "DISABLE_KEEP_ALIVES"),
                ("SWITCH", "SWITCHES"),
            ]
            .map(|(given, meant)| (given.to_owned(), meant.to_owned()))
        );
    }
}
