//! The per-request client's knobs, those that cause or prevent the leak
//! and the two timeouts, which do neither, and the client built from
//! them.

use std::time::Duration;

use reqwest::header::{CONNECTION, HeaderMap, HeaderValue};

use crate::settings::go_syntax::zero_means_none;
use crate::settings::knobs::{IdleConnsPerHost, Knobs};

/// What a `/forward` client is built with: the counterpart of the Go
/// original's `http.Transport` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientSettings {
    /// Go's `DisableKeepAlives`.
    pub(crate) disable_keep_alives: bool,
    /// Go's `IdleConnTimeout`; `None` is Go's zero value: no limit.
    pub(crate) idle_conn_timeout: Option<Duration>,
    /// Go's `MaxIdleConnsPerHost`, as Go reads it.
    pub(crate) max_idle_conns_per_host: IdleConnsPerHost,
    /// Go's `http.Client.Timeout`: connect, send and read the whole answer
    /// within this; `None` waits for ever, as the Go original does.
    pub(crate) request_timeout: Option<Duration>,
    /// Go's `ResponseHeaderTimeout`: the answer's head within this of the
    /// request being written; `None` waits for ever, Go's zero value.
    /// reqwest has no such setting: the call keeps it (`head_wait.rs`).
    pub(crate) response_header_timeout: Option<Duration>,
}

impl From<&Knobs> for ClientSettings {
    fn from(knobs: &Knobs) -> Self {
        ClientSettings {
            disable_keep_alives: knobs.disable_keep_alives,
            idle_conn_timeout: zero_means_none(knobs.idle_conn_timeout),
            max_idle_conns_per_host: knobs.max_idle_conns_per_host,
            request_timeout: zero_means_none(knobs.request_timeout),
            response_header_timeout: zero_means_none(knobs.response_header_timeout),
        }
    }
}

impl ClientSettings {
    /// Whether a client built with these settings can keep a connection
    /// open after its request: the precondition of the leak.
    pub(crate) fn pools_connections(&self) -> bool {
        !self.disable_keep_alives && self.max_idle_conns_per_host.kept() > 0
    }

    /// Builds a new client. It opens no connection until first used, and
    /// costs under a microsecond on the development machine: no proxy
    /// lookup, and no TLS set-up (with the `tls` feature, a copy of the
    /// configuration built at start).
    pub fn build(&self) -> reqwest::Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder()
            // Go: `IdleConnTimeout` zero keeps an idle connection forever.
            // reqwest defaults to 90 s, which would hide the leak, so the
            // setting is passed on as it is, `None` included. hyper-util
            // checks for expired connections on a timer whose period is the
            // timeout, so one closes between one and two timeouts idle.
            .pool_idle_timeout(self.idle_conn_timeout)
            // Go's zero `http.Transport` has no proxy; reqwest would read
            // the proxy env vars on every build.
            .no_proxy()
            // The call follows redirects itself (see `upstream`).
            .redirect(reqwest::redirect::Policy::none())
            // Go: 0 means 2, a negative value none. reqwest's default is
            // no cap; 0 keeps none.
            .pool_max_idle_per_host(self.max_idle_conns_per_host.kept());
        if let Some(timeout) = self.request_timeout {
            builder = builder.timeout(timeout);
        }
        if self.disable_keep_alives {
            // Go: `DisableKeepAlives` sends `Connection: close` and never
            // pools. hyper closes a connection after a request that says
            // `Connection: close`; a pool of size zero keeps nothing either.
            let mut headers = HeaderMap::new();
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
            builder = builder.default_headers(headers).pool_max_idle_per_host(0);
        }
        #[cfg(feature = "tls")]
        {
            builder = builder.tls_backend_preconfigured(crate::roles::tls::client_config());
        }
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{ALL, Expectation};
    use crate::settings::knobs::{ClientLifetime, Side};

    #[test]
    fn a_zero_timeout_means_no_limit() {
        let knobs = Knobs {
            idle_conn_timeout: Duration::from_millis(1500),
            ..Knobs::default()
        };
        assert_eq!(
            ClientSettings::from(&Knobs::default()).idle_conn_timeout,
            None
        );
        assert_eq!(
            ClientSettings::from(&knobs).idle_conn_timeout,
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            ClientSettings::from(&Knobs::default()).request_timeout,
            None
        );
    }

    #[test]
    fn only_a_pool_that_keeps_connections_can_leak() {
        let with_idle = |value| ClientSettings {
            max_idle_conns_per_host: IdleConnsPerHost(value),
            ..ClientSettings::default()
        };
        assert!(ClientSettings::default().pools_connections());
        assert!(with_idle(1).pools_connections());
        assert!(!with_idle(-1).pools_connections());
        let no_keep_alives = ClientSettings {
            disable_keep_alives: true,
            ..ClientSettings::default()
        };
        assert!(!no_keep_alives.pools_connections());
    }

    /// The retainer holds a client only while it pools its connection:
    /// every flat fix of server 2 must build clients that do not
    /// pool, and every other entry clients that do.
    #[test]
    fn the_retainers_rule_follows_the_registry() {
        for scenario in ALL {
            let knobs = scenario
                .setting
                .filter(|setting| setting.side() == Side::Server2)
                .map_or_else(Knobs::default, |setting| setting.knobs());
            if knobs.client_lifetime != ClientLifetime::Connection {
                continue;
            }
            let flat_here = scenario.expectation() == Expectation::Flat
                && scenario.setting.is_some_and(|s| s.side() == Side::Server2);
            assert_eq!(
                ClientSettings::from(&knobs).pools_connections(),
                !flat_here,
                "{}",
                scenario.name
            );
        }
    }
}
