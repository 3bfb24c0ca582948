//! The knobs that cause or prevent the leak, and the client built from them.

use std::time::Duration;

use reqwest::header::{CONNECTION, HeaderMap, HeaderValue};

use crate::settings::Config;
use crate::settings::go_syntax::zero_means_none;

/// What a `/forward` client is built with: the counterpart of the Go
/// original's `http.Transport` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientSettings {
    /// Go's `DisableKeepAlives`.
    pub disable_keep_alives: bool,
    /// Go's `IdleConnTimeout`; `None` is Go's zero value: no limit.
    pub idle_conn_timeout: Option<Duration>,
    /// Go's `MaxIdleConnsPerHost`; `None` is no limit.
    pub max_idle_conns_per_host: Option<usize>,
    /// Go's `http.Client.Timeout`: connect, send and read the whole answer
    /// within this; `None` waits for ever, as the Go original does.
    pub request_timeout: Option<Duration>,
}

impl From<&Config> for ClientSettings {
    fn from(config: &Config) -> Self {
        ClientSettings {
            disable_keep_alives: config.disable_keep_alives,
            idle_conn_timeout: zero_means_none(config.idle_conn_timeout),
            max_idle_conns_per_host: config.max_idle_conns_per_host,
            request_timeout: zero_means_none(config.request_timeout),
        }
    }
}

impl ClientSettings {
    /// Whether a client built with these settings can keep a connection
    /// open after its request: the precondition of the leak.
    pub fn pools_connections(&self) -> bool {
        !self.disable_keep_alives && self.max_idle_conns_per_host != Some(0)
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
            .redirect(reqwest::redirect::Policy::none());
        if let Some(timeout) = self.request_timeout {
            builder = builder.timeout(timeout);
        }
        if let Some(max_idle) = self.max_idle_conns_per_host {
            builder = builder.pool_max_idle_per_host(max_idle);
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
    use crate::settings::cli::Cli;
    use clap::Parser;

    fn from_flags(flags: &[&str]) -> ClientSettings {
        let args = std::iter::once("reqwest-connection-leak").chain(flags.iter().copied());
        let cli = Cli::try_parse_from(args).expect("valid flags");
        ClientSettings::from(&cli.serve)
    }

    #[test]
    fn a_zero_idle_timeout_means_no_limit() {
        assert_eq!(
            from_flags(&["--idle-conn-timeout=0s"]).idle_conn_timeout,
            None
        );
        assert_eq!(
            from_flags(&["--idle-conn-timeout=1.5s"]).idle_conn_timeout,
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            from_flags(&["--max-idle-conns-per-host=3"]).max_idle_conns_per_host,
            Some(3)
        );
    }

    #[test]
    fn only_a_pool_that_keeps_connections_can_leak() {
        let defaults = ClientSettings::default();
        assert!(defaults.pools_connections());
        let no_keep_alives = ClientSettings {
            disable_keep_alives: true,
            ..defaults
        };
        assert!(!no_keep_alives.pools_connections());
        let no_idle = ClientSettings {
            max_idle_conns_per_host: Some(0),
            ..defaults
        };
        assert!(!no_idle.pools_connections());
        let one_idle = ClientSettings {
            max_idle_conns_per_host: Some(1),
            ..defaults
        };
        assert!(one_idle.pools_connections());
    }
}
