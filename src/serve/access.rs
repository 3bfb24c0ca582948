//! Who may switch a setting. A switch changes how a server behaves for
//! everyone, so it is refused unless it comes from an allowed peer, names
//! this server as its host, and comes from no other site's page.
//!
//! - `SWITCHES=loopback` (the default): only peers on this machine.
//! - `SWITCHES=off`: nobody. `SWITCHES=any`: any peer, for a lab network.
//! - The `Host` must be a loopback name or address, or the address the
//!   connection was accepted on: a page whose own host name resolves to
//!   this machine (DNS rebinding) sends its own name, and is refused.
//! - An `Origin`, which browsers send with a cross-site request, must be
//!   this server's own. A switch is a `PUT` of JSON, which no page can send
//!   to another site without a CORS preflight, and none is ever granted.
//! - All of it is decided from the request's head, before a byte of the
//!   body is read; a body announced over [`BODY_LIMIT`] is refused then too.
//! - A head no browser sends is refused: two `Host`, `Origin` or
//!   `Content-Type` headers, a `Host` that is not ASCII. An absolute-form
//!   target (`PUT http://host/settings`) is judged by its own host, which
//!   RFC 9112 has win over `Host`. Values repeated in an answer are cut.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{FromRef, FromRequestParts, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::failure::shown;
use crate::observe::ends::Ends;
use crate::serve::refusal::Refusal;
use crate::settings::extra_hosts::ExtraHosts;
use crate::settings::switch_policy::SwitchPolicy;

/// The largest body a switch may have: every setting at once fits many
/// times over.
pub(crate) const BODY_LIMIT: usize = 4 * 1024;

/// A switch whose head passed every check: only then is its body read, so
/// a refused caller gets its answer before sending a byte of it, and no
/// `100 Continue`.
#[derive(Debug)]
pub(crate) struct MaySwitch;

impl<S: Send + Sync> FromRequestParts<S> for MaySwitch
where
    SwitchPolicy: FromRef<S>,
    ExtraHosts: FromRef<S>,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Refusal> {
        may_switch(
            SwitchPolicy::from_ref(state),
            Some(&ExtraHosts::from_ref(state)),
            parts,
        )?;
        Ok(MaySwitch)
    }
}

/// A switch that server 2 may pass on to server 1 (`PUT
/// /upstream/settings`): only from callers that server 1's own default
/// rule would accept, a loopback peer naming a loopback host, whatever
/// server 2 allows for its own settings. Else `SWITCHES=any` on server 2
/// would open server 1 to every peer of server 2.
#[derive(Debug)]
pub(crate) struct MayRelay;

impl<S: Send + Sync> FromRequestParts<S> for MayRelay
where
    SwitchPolicy: FromRef<S>,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Refusal> {
        let relayed = match SwitchPolicy::from_ref(state) {
            SwitchPolicy::Off => SwitchPolicy::Off,
            SwitchPolicy::Loopback | SwitchPolicy::Any => SwitchPolicy::Loopback,
        };
        // Server 1's default: loopback names and addresses only.
        may_switch(relayed, None, parts)?;
        Ok(MayRelay)
    }
}

/// The Host rule for every page and figure that is not the demo's own
/// (`/hello`, `/forward` and `/metrics` stay open, as in the Go original,
/// where any client may call them): the settings, the figures, `/watch`
/// and the dashboard answer only a request that names this server, so
/// that a page whose host name was pointed at this machine (DNS
/// rebinding) cannot read them.
pub(crate) async fn named_host(
    State(extra_hosts): State<ExtraHosts>,
    request: Request,
    next: Next,
) -> Response {
    match this_servers_host(
        Some(&extra_hosts),
        request.extensions(),
        request.uri(),
        request.headers(),
    ) {
        Ok(_) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

/// The host a request names, once it is known to name this server (see
/// [`named_host`]): for the read rule and the switch rule alike.
fn this_servers_host(
    extra_hosts: Option<&ExtraHosts>,
    extensions: &Extensions,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<String, Refusal> {
    let peer = ends_of(extensions)?;
    let host = host_of(uri, headers)?;
    let none = ExtraHosts::default();
    if is_this_server(&host, peer.local, extra_hosts.unwrap_or(&none)) {
        return Ok(host);
    }
    let named = match extra_hosts {
        Some(_) => "or a name given in EXTRA_HOSTS",
        // The relay to server 1 passes on what server 1 accepts by default.
        None => "as the relay to server 1 takes no name of EXTRA_HOSTS",
    };
    Err(Refusal::new(
        StatusCode::FORBIDDEN,
        format!(
            "Host {:?} is not this server: name a loopback host or {}, {named}",
            shown(&host),
            peer.local.ip()
        ),
    ))
}

/// The ends of the connection a request came on, which the accept loop
/// gives every request.
fn ends_of(extensions: &Extensions) -> Result<Ends, Refusal> {
    extensions.get::<Ends>().copied().ok_or_else(|| {
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the connection's ends are unknown",
        )
    })
}

/// Whether `switches` lets the peer at `ends` switch at all.
fn policy_allows(switches: SwitchPolicy, ends: Ends) -> Result<(), Refusal> {
    let forbidden = |why: String| Refusal::new(StatusCode::FORBIDDEN, why);
    match switches {
        SwitchPolicy::Off => Err(forbidden(
            "switches are off on this server (SWITCHES=off); start it with \
             SWITCHES=loopback to accept them from this machine"
                .to_owned(),
        )),
        SwitchPolicy::Loopback if !canonical(ends.remote.ip()).is_loopback() => {
            Err(forbidden(format!(
                "switches are accepted from this machine only, not from {}; start the server \
                 with SWITCHES=any to accept them from any peer",
                ends.remote.ip()
            )))
        }
        SwitchPolicy::Loopback | SwitchPolicy::Any => Ok(()),
    }
}

/// Whether the switch whose head is `request` may be made under
/// `switches`, decided from the head alone.
pub(crate) fn may_switch(
    switches: SwitchPolicy,
    extra_hosts: Option<&ExtraHosts>,
    request: &Parts,
) -> Result<(), Refusal> {
    let forbidden = |why: String| Refusal::new(StatusCode::FORBIDDEN, why);
    policy_allows(switches, ends_of(&request.extensions)?)?;
    let host = this_servers_host(
        extra_hosts,
        &request.extensions,
        &request.uri,
        &request.headers,
    )?;
    if let Some(origin) = single(&request.headers, ORIGIN)? {
        let own = format!("http://{host}");
        if origin.as_bytes() != own.as_bytes() {
            return Err(forbidden(format!(
                "a switch from another site is refused: its Origin is {:?}, not {:?}",
                shown(&String::from_utf8_lossy(origin.as_bytes())),
                shown(&own)
            )));
        }
    }
    let json = single(&request.headers, CONTENT_TYPE)?
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a switch is a JSON object sent with Content-Type: application/json",
        ));
    }
    let announced = single(&request.headers, CONTENT_LENGTH)?
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if let Some(length) = announced.filter(|length| *length > BODY_LIMIT as u64) {
        return Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a switch is at most {BODY_LIMIT} bytes; this one says it is {length}"),
        ));
    }
    Ok(())
}

/// The host a request names: an absolute-form target's own (RFC 9112 has
/// it win over `Host`), else its one `Host` header.
fn host_of(uri: &Uri, headers: &HeaderMap) -> Result<String, Refusal> {
    let bad = |why: &str| Refusal::new(StatusCode::BAD_REQUEST, why);
    let header = single(headers, HOST)?;
    if let Some(authority) = uri.authority() {
        return Ok(authority.as_str().to_owned());
    }
    let header = header.ok_or_else(|| bad("a switch needs a Host header"))?;
    header
        .to_str()
        .map(str::to_owned)
        .map_err(|_| bad("Host is not ASCII"))
}

/// The one value of a header that a request has at most once, or a 400
/// when it has two: which of them counts is not for this server to guess.
fn single(headers: &HeaderMap, name: HeaderName) -> Result<Option<&HeaderValue>, Refusal> {
    let mut values = headers.get_all(&name).iter();
    let first = values.next();
    if values.next().is_some() {
        // `content-type` as `Content-Type`.
        let title: Vec<String> = name
            .as_str()
            .split('-')
            .map(|word| word[..1].to_ascii_uppercase() + &word[1..])
            .collect();
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("two {} headers: a request has one", title.join("-")),
        ));
    }
    Ok(first)
}

/// Whether `host`, a `Host` header's value, names this server: a loopback
/// name or address, the address the connection was accepted on, or one of
/// `extra_hosts`.
fn is_this_server(host: &str, local: SocketAddr, extra_hosts: &ExtraHosts) -> bool {
    let name = match host.rsplit_once(':') {
        // `[::1]:8080`, `127.0.0.1:8080`, `localhost:8080`.
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        // `localhost`, `[::1]`.
        _ => host,
    };
    let name = name
        .strip_prefix('[')
        .and_then(|name| name.strip_suffix(']'))
        .unwrap_or(name);
    if name.eq_ignore_ascii_case("localhost")
        || extra_hosts
            .0
            .iter()
            .any(|extra| name.eq_ignore_ascii_case(extra))
    {
        return true;
    }
    name.parse::<IpAddr>().is_ok_and(|address| {
        let address = canonical(address);
        address.is_loopback() || address == canonical(local.ip())
    })
}

/// An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) as IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    address.to_canonical()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    const LOCAL: &str = "192.0.2.10:9090";

    /// A switch's head: `target`, from `remote`, with `headers`.
    fn head(target: &str, remote: &str, headers: &[(&str, &str)]) -> Parts {
        let mut request = Request::put(target);
        for (name, value) in headers {
            request = request.header(*name, HeaderValue::from_bytes(value.as_bytes()).unwrap());
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        parts.extensions.insert(Ends {
            remote: remote.parse().expect("an address"),
            local: LOCAL.parse().expect("an address"),
        });
        parts
    }

    fn json_with(host: &str) -> Vec<(&str, &str)> {
        vec![("host", host), ("content-type", "application/json")]
    }

    fn refused(switches: SwitchPolicy, request: &Parts) -> (u16, String) {
        let refusal = may_switch(switches, Some(&ExtraHosts::default()), request).unwrap_err();
        (refusal.status.as_u16(), refusal.why)
    }

    #[test]
    fn loopback_peers_with_a_loopback_host_may_switch() {
        for host in [
            "localhost:9090",
            "127.0.0.1:9090",
            "[::1]:9090",
            "LOCALHOST",
            LOCAL,
        ] {
            let request = head("/settings", "127.0.0.1:5000", &json_with(host));
            assert_eq!(
                may_switch(
                    SwitchPolicy::Loopback,
                    Some(&ExtraHosts::default()),
                    &request
                ),
                Ok(()),
                "{host}"
            );
        }
        let mapped = head(
            "/settings",
            "[::ffff:127.0.0.1]:5000",
            &json_with("localhost"),
        );
        assert_eq!(
            may_switch(
                SwitchPolicy::Loopback,
                Some(&ExtraHosts::default()),
                &mapped
            ),
            Ok(())
        );
    }

    #[test]
    fn a_peer_that_is_not_loopback_is_refused_unless_any() {
        let request = head("/settings", "192.0.2.99:5000", &json_with(LOCAL));
        let (status, why) = refused(SwitchPolicy::Loopback, &request);
        assert_eq!(status, 403);
        assert!(why.contains("SWITCHES=any"), "{why}");
        assert_eq!(
            may_switch(SwitchPolicy::Any, Some(&ExtraHosts::default()), &request),
            Ok(())
        );
    }

    #[test]
    fn switches_off_refuses_everyone_and_says_how_to_allow_them() {
        let request = head("/settings", "127.0.0.1:5000", &json_with("localhost"));
        let (status, why) = refused(SwitchPolicy::Off, &request);
        assert_eq!(status, 403);
        assert!(why.contains("SWITCHES=loopback"), "{why}");
    }

    #[test]
    fn a_foreign_host_is_refused_and_shown_cut() {
        let long = format!("{}.example", "a".repeat(300_000));
        for host in [
            "evil.example:9090",
            "0.0.0.0:9090",
            "192.0.2.11:9090",
            "localhost.evil.example",
            &long,
        ] {
            let request = head("/settings", "127.0.0.1:5000", &json_with(host));
            let (status, why) = refused(SwitchPolicy::Any, &request);
            assert_eq!(status, 403, "{host}");
            assert!(why.contains("is not this server"), "{why}");
            assert!(why.len() < 400, "cut: {} bytes", why.len());
        }
    }

    #[test]
    fn a_head_no_browser_sends_is_a_bad_request() {
        let cases: [(&[(&str, &str)], &str); 5] = [
            (
                &[("content-type", "application/json")],
                "a switch needs a Host header",
            ),
            (
                &[
                    ("host", "localhost"),
                    ("host", "evil.example"),
                    ("content-type", "application/json"),
                ],
                "two Host headers: a request has one",
            ),
            (
                &[
                    ("host", "localhost"),
                    ("origin", "http://localhost"),
                    ("origin", "http://evil.example"),
                    ("content-type", "application/json"),
                ],
                "two Origin headers: a request has one",
            ),
            (
                &[
                    ("host", "localhost"),
                    ("content-type", "application/json"),
                    ("content-type", "text/plain"),
                ],
                "two Content-Type headers: a request has one",
            ),
            (
                &[("host", "caf\u{e9}"), ("content-type", "application/json")],
                "Host is not ASCII",
            ),
        ];
        for (headers, expected) in cases {
            let request = head("/settings", "127.0.0.1:5000", headers);
            let (status, why) = refused(SwitchPolicy::Loopback, &request);
            assert_eq!((status, why.as_str()), (400, expected), "{headers:?}");
        }
    }

    #[test]
    fn an_absolute_form_target_is_judged_by_its_own_host() {
        let request = head(
            "http://evil.example/settings",
            "127.0.0.1:5000",
            &json_with("localhost"),
        );
        let (status, why) = refused(SwitchPolicy::Loopback, &request);
        assert_eq!(status, 403);
        assert!(why.contains("evil.example"), "{why}");
        let own = head(
            "http://localhost:9090/settings",
            "127.0.0.1:5000",
            &json_with("localhost"),
        );
        assert_eq!(
            may_switch(SwitchPolicy::Loopback, Some(&ExtraHosts::default()), &own),
            Ok(())
        );
    }

    #[test]
    fn another_sites_origin_is_refused_and_its_own_accepted() {
        let from = |origin| {
            head(
                "/settings",
                "127.0.0.1:5000",
                &[
                    ("host", "127.0.0.1:9090"),
                    ("origin", origin),
                    ("content-type", "application/json"),
                ],
            )
        };
        assert_eq!(
            may_switch(
                SwitchPolicy::Loopback,
                Some(&ExtraHosts::default()),
                &from("http://127.0.0.1:9090")
            ),
            Ok(())
        );
        for origin in ["http://evil.example", "http://localhost:9090", "null"] {
            let (status, why) = refused(SwitchPolicy::Loopback, &from(origin));
            assert_eq!(status, 403);
            assert!(why.contains("another site"), "{origin}: {why}");
        }
    }

    #[test]
    fn a_name_in_extra_hosts_is_this_server_too() {
        let request = head(
            "/settings",
            "127.0.0.1:5000",
            &json_with("Server1.internal:8080"),
        );
        let extra = ExtraHosts(vec!["server1.internal".into()]);
        assert_eq!(
            may_switch(SwitchPolicy::Loopback, Some(&extra), &request),
            Ok(())
        );
        let (status, why) = refused(SwitchPolicy::Loopback, &request);
        assert_eq!(status, 403);
        assert!(why.contains("or a name given in EXTRA_HOSTS"), "{why}");
        // The relay to server 1 takes no such name, and says so.
        let relayed = may_switch(SwitchPolicy::Loopback, None, &request).unwrap_err();
        assert!(
            relayed
                .why
                .contains("the relay to server 1 takes no name of EXTRA_HOSTS")
        );
        assert!(!relayed.why.contains("a name given"), "{}", relayed.why);
    }

    #[test]
    fn a_body_announced_over_the_limit_is_refused_before_it_is_read() {
        let mut headers = json_with("localhost");
        let over = (BODY_LIMIT + 1).to_string();
        headers.push(("content-length", &over));
        let request = head("/settings", "127.0.0.1:5000", &headers);
        let (status, why) = refused(SwitchPolicy::Loopback, &request);
        assert_eq!(status, 413);
        assert!(why.contains(&over), "{why}");
    }
}
