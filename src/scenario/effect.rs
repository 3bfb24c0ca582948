//! What one knob's value amounts to on its own: what the counts should
//! show, from the parsed value, never from its spelling, so
//! `IDLE_CONN_TIMEOUT=1000ms` is the registry's `1s`, and
//! `MAX_IDLE_CONNS_PER_HOST=-5` its `-1`.

use crate::scenario::verdict::Expectation;
use crate::settings::knobs::{ClientLifetime, Knob, Knobs};

/// What one knob, as set in `knobs`, amounts to on its own.
pub(crate) fn effect(knob: Knob, knobs: &Knobs) -> Expectation {
    let flat_if = |fixed: bool| {
        if fixed {
            Expectation::Flat
        } else {
            Expectation::Leaks
        }
    };
    let reclaimed_if = |fixed: bool| {
        if fixed {
            Expectation::ReclaimedAfterIdle
        } else {
            Expectation::Leaks
        }
    };
    match knob {
        Knob::DisableKeepAlives => flat_if(knobs.disable_keep_alives),
        Knob::IdleConnTimeout => reclaimed_if(!knobs.idle_conn_timeout.is_zero()),
        // One connection per client: any pool that keeps one keeps it.
        Knob::MaxIdleConnsPerHost => flat_if(knobs.max_idle_conns_per_host.kept() == 0),
        Knob::ConnectionClose => flat_if(knobs.connection_close),
        Knob::ClientLifetime => flat_if(knobs.client_lifetime != ClientLifetime::Connection),
        Knob::ServerIdleTimeout => reclaimed_if(!knobs.server_idle_timeout.is_zero()),
        // Go's idle timeout when IdleTimeout is zero; when it is not, the
        // idle timeout closes the waiting connections all the same.
        Knob::ServerReadTimeout => reclaimed_if(!knobs.server_read_timeout.is_zero()),
        Knob::ServerKeepAlives => flat_if(!knobs.server_keep_alives),
        // It bounds a call in flight, not an idle connection.
        Knob::RequestTimeout | Knob::ResponseHeaderTimeout => Expectation::Leaks,
    }
}

/// Whether switching `knob` on a running pair takes back the connections
/// already leaked, as Go's would. Only `SERVER_KEEP_ALIVES=false`, which
/// closes the connections waiting for a next request at once, does; every
/// other knob acts on what is built, answered or waited on after the
/// switch, so growth stops or new connections are reclaimed, and what
/// leaked stays.
pub fn takes_back_what_leaked(knob: Knob) -> bool {
    knob == Knob::ServerKeepAlives
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knobs(settings: &[&str]) -> Knobs {
        Knobs::from_settings(settings)
    }

    #[test]
    fn idle_conns_per_host_fix_only_when_none_are_kept() {
        for (value, expected) in [
            ("-1", Expectation::Flat),
            ("-01", Expectation::Flat),
            ("-5", Expectation::Flat),
            // Go's default of 2, and any cap: each per-request client has
            // one connection, and keeps it.
            ("0", Expectation::Leaks),
            ("1", Expectation::Leaks),
        ] {
            let server2 = knobs(&[&format!("MAX_IDLE_CONNS_PER_HOST={value}")]);
            assert_eq!(
                effect(Knob::MaxIdleConnsPerHost, &server2),
                expected,
                "{value}"
            );
        }
    }
}
