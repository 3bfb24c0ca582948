//! `EXTRA_HOSTS`: the host names a server answers to besides loopback
//! ones, checked as names a `Host` header can carry.

/// The `EXTRA_HOSTS` setting: host names, lower-cased, without ports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ExtraHosts(pub Vec<String>);

/// The most names `EXTRA_HOSTS` takes: a server has a few names, and each
/// is compared with every request's `Host`.
pub(crate) const MOST_EXTRA_HOSTS: usize = 64;

/// Reads `EXTRA_HOSTS`: names separated by commas, each a DNS name or an IP
/// address, no port. The `Host` rule compares names as written, so a
/// trailing dot (a second spelling of a name) is refused, and so is the
/// unspecified address, which names no host.
pub(crate) fn parse_extra_hosts(text: &str) -> Result<ExtraHosts, String> {
    let names: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect();
    if names.len() > MOST_EXTRA_HOSTS {
        return Err(format!(
            "{} names; at most {MOST_EXTRA_HOSTS}, separated by commas",
            names.len()
        ));
    }
    names
        .into_iter()
        .map(extra_host)
        .collect::<Result<_, _>>()
        .map(ExtraHosts)
}

/// One name of `EXTRA_HOSTS`, lower-cased, or why it is refused.
fn extra_host(name: &str) -> Result<String, String> {
    let bad = |why: &str| {
        format!(
            "invalid host name {name:?}: {why}; expected DNS names such as server1.internal or \
             IP addresses, separated by commas, without ports"
        )
    };
    let bare = name
        .strip_prefix('[')
        .and_then(|name| name.strip_suffix(']'))
        .unwrap_or(name);
    if let Ok(address) = bare.parse::<std::net::IpAddr>() {
        if address.is_unspecified() {
            return Err(bad("the unspecified address names no host"));
        }
        return Ok(bare.to_ascii_lowercase());
    }
    if name.ends_with('.') {
        return Err(bad("write it without the trailing dot"));
    }
    let label_fine = |label: &str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let labels: Vec<&str> = name.split('.').collect();
    if name.len() > 253 || !labels.iter().all(|label| label_fine(label)) {
        return Err(bad("not a DNS name"));
    }
    // A URL reads a name whose last label is a number as an IPv4 address.
    if labels
        .last()
        .is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad("not a DNS name nor an IP address"));
    }
    Ok(name.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_hosts_are_names_without_ports() {
        assert_eq!(
            parse_extra_hosts(" Server1.internal, ,pair-a "),
            Ok(ExtraHosts(vec!["server1.internal".into(), "pair-a".into()]))
        );
        assert_eq!(parse_extra_hosts(""), Ok(ExtraHosts::default()));
        for bad in [
            "server1:8080",
            "a b",
            "evil.example/x",
            ".",
            "..",
            "-",
            "a..b",
            "-a.example",
            "0.0.0.0",
            "::",
            "[::]",
            "localhost.",
            "1.2.3",
        ] {
            assert!(
                parse_extra_hosts(bad)
                    .unwrap_err()
                    .contains("invalid host name"),
                "{bad}"
            );
        }
        assert_eq!(
            parse_extra_hosts("10.0.0.8, [FD00::1], fd00::2, a-1.example"),
            Ok(ExtraHosts(vec![
                "10.0.0.8".into(),
                "fd00::1".into(),
                "fd00::2".into(),
                "a-1.example".into()
            ]))
        );
        let many: Vec<String> = (0..=MOST_EXTRA_HOSTS).map(|n| format!("h{n}")).collect();
        let err = parse_extra_hosts(&many.join(",")).unwrap_err();
        assert!(err.starts_with("65 names; at most 64"), "{err}");
    }
}
