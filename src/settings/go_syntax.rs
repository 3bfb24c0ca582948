//! Values written the way the Go original's users write them.
//!
//! The settings mirror Go's `http.Transport` fields, so they accept Go's
//! spelling: durations as `time.ParseDuration` reads them (`1s`, `500ms`,
//! `1m30s`, `1.5s`), booleans as `strconv.ParseBool` reads them and whole
//! numbers as `strconv.Atoi` does.

use std::time::Duration;

/// The units `time.ParseDuration` knows, with their length in nanoseconds.
/// `ms` comes before `m` so that it is not read as `m` followed by `s`.
const UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Go's durations are signed 64-bit nanoseconds: `time.ParseDuration`
/// refuses anything longer.
const GO_MAX_NANOS: u128 = i64::MAX as u128;

const DURATION_HELP: &str =
    "expected a number followed by a unit (ns, us, ms, s, m, h), such as 1s, 500ms, 1m30s or 1.5s";

/// Reads a duration in Go's syntax: a sign, then one or more
/// `<number><unit>` parts or a bare `0`. Negative durations are refused:
/// no setting here gives them a meaning; a negative zero (`-0`, `-0s`) is
/// zero, as Go reads it.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {text:?}: {DURATION_HELP}");
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, after_number) = rest.split_at(number_len);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
            return Err(invalid());
        }
        let (unit, unit_nanos) = UNITS
            .iter()
            .find(|(unit, _)| after_number.starts_with(unit))
            .ok_or_else(|| format!("invalid duration {text:?}: missing unit; {DURATION_HELP}"))?;
        total_nanos += scaled(whole, fraction, *unit_nanos).ok_or_else(invalid)?;
        if total_nanos > GO_MAX_NANOS {
            return Err(format!(
                "invalid duration {text:?}: longer than Go's longest, 2562047h47m16.854775807s"
            ));
        }
        rest = &after_number[unit.len()..];
    }
    let nanos = u64::try_from(total_nanos).map_err(|_| invalid())?;
    if negative && nanos > 0 {
        return Err(format!("invalid duration {text:?}: must not be negative"));
    }
    Ok(Duration::from_nanos(nanos))
}

/// Go's zero duration means "no limit".
pub(crate) fn zero_means_none(duration: Duration) -> Option<Duration> {
    (!duration.is_zero()).then_some(duration)
}

/// `whole.fraction` units, in nanoseconds, rounded down like Go does.
fn scaled(whole: &str, fraction: &str, unit_nanos: u128) -> Option<u128> {
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut nanos = whole.checked_mul(unit_nanos)?;
    // Digits past nanosecond precision change nothing; keep the sum small.
    let fraction = &fraction[..fraction.len().min(30)];
    if !fraction.is_empty() {
        let numerator: u128 = fraction.parse().ok()?;
        let denominator = 10u128.checked_pow(u32::try_from(fraction.len()).ok()?)?;
        nanos = nanos.checked_add(numerator.checked_mul(unit_nanos)? / denominator)?;
    }
    Some(nanos)
}

/// Reads a boolean exactly as Go's `strconv.ParseBool` does.
pub(crate) fn parse_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "invalid boolean {text:?}: expected one of 1 t T TRUE true True 0 f F FALSE false False"
        )),
    }
}

/// Reads a whole number exactly as Go's `strconv.Atoi` does on a 64-bit
/// machine: an optional sign, then decimal digits, leading zeros allowed.
pub(crate) fn parse_int(text: &str) -> Result<i64, String> {
    use std::num::IntErrorKind;
    text.parse().map_err(|err: std::num::ParseIntError| match err.kind() {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => {
            format!("invalid whole number {text:?}: out of range for a 64-bit integer")
        }
        _ => format!("invalid whole number {text:?}: expected digits with an optional sign, such as -1, 0 or 2"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn durations_in_go_syntax() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1s"), Ok(ms(1_000)));
        assert_eq!(parse_duration("+1s"), Ok(ms(1_000)));
        assert_eq!(parse_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_duration("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1_500)));
        assert_eq!(parse_duration(".5s"), Ok(ms(500)));
        assert_eq!(parse_duration("2h"), Ok(ms(7_200_000)));
        assert_eq!(parse_duration("1h2m3s4ms"), Ok(ms(3_723_004)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("7us"), Ok(Duration::from_micros(7)));
        assert_eq!(parse_duration("7µs"), Ok(Duration::from_micros(7)));
        assert_eq!(parse_duration("3ns"), Ok(Duration::from_nanos(3)));
        assert_eq!(
            parse_duration("1.0000000009s"),
            Ok(Duration::from_nanos(1_000_000_000))
        );
    }

    #[test]
    fn durations_that_go_refuses_are_refused() {
        for text in ["", "1", "s", "1x", "1.2.3s", ".s", "1s2", "-1s", "+", "ms"] {
            let err = parse_duration(text).expect_err(text);
            assert!(err.contains(&format!("{text:?}")), "{err}");
        }
        assert!(parse_duration("-1s").unwrap_err().contains("negative"));
        assert!(parse_duration("-1ns").unwrap_err().contains("negative"));
        for zero in ["-0", "+0", "-0s", "-0.0ms", "+0h"] {
            assert_eq!(parse_duration(zero), Ok(Duration::ZERO), "{zero}");
        }
        assert!(parse_duration("5").unwrap_err().contains("missing unit"));
    }

    #[test]
    fn durations_past_gos_longest_are_refused_in_gos_words() {
        assert_eq!(
            parse_duration("2562047h47m16.854775807s"),
            Ok(Duration::from_nanos(i64::MAX as u64))
        );
        assert_eq!(
            parse_duration("9223372036854775807ns"),
            Ok(Duration::from_nanos(i64::MAX as u64))
        );
        for text in [
            "2562048h",
            "9223372036854775808ns",
            "2562047h47m16.854775808s",
            "99999999999999999999999999999999999999999h",
        ] {
            let err = parse_duration(text).unwrap_err();
            assert!(
                err.starts_with(&format!("invalid duration {text:?}")),
                "{err}"
            );
        }
        assert!(
            parse_duration("2562048h")
                .unwrap_err()
                .contains("longer than Go's longest, 2562047h47m16.854775807s")
        );
    }

    #[test]
    fn booleans_as_strconv_parse_bool() {
        for text in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(text), Ok(true), "{text}");
        }
        for text in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(text), Ok(false), "{text}");
        }
        for text in ["", "yes", "on", "tRUE", "2", " true"] {
            assert!(parse_bool(text).unwrap_err().contains("expected one of"));
        }
    }

    #[test]
    fn whole_numbers_as_strconv_atoi() {
        assert_eq!(parse_int("-01"), Ok(-1));
        assert_eq!(parse_int("+2"), Ok(2));
        assert_eq!(parse_int("0"), Ok(0));
        for text in ["", "-", "1e3", "0x10", "1 ", "--1"] {
            assert!(
                parse_int(text).unwrap_err().contains("expected digits"),
                "{text}"
            );
        }
        assert!(
            parse_int("-9223372036854775809")
                .unwrap_err()
                .contains("out of range")
        );
    }
}
