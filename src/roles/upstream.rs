//! One call from `/forward` to server 1's `/hello`.

use std::time::Duration;

use hyper_util::client::legacy::connect::HttpInfo;
use reqwest::header::{CONNECTION, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION, VIA};
use reqwest::{Client, Method, Response, StatusCode, Url};

use crate::failure::{SHOWN_BYTES, shown};
use crate::observe::ends::Ends;
use crate::roles::head_wait::{HeadTimedOut, WrittenBody, head_within};
use crate::roles::hello::Hello;

/// The most of server 1's answer that is read. `/hello` answers about 40
/// bytes; a larger body is refused before it is all in memory.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the call left behind on the client's connection, which is what
/// decides how long Go would keep the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exchange {
    /// No complete answer was read, so hyper keeps no connection for reuse.
    Failed,
    /// The whole answer was read: the connection goes back to the pool,
    /// unless server 1 said `Connection: close`.
    Completed {
        /// The connection's two ends, as hyper-util's connector recorded
        /// them.
        ends: Option<Ends>,
        connection_close: bool,
    },
}

impl Exchange {
    /// The connection the call leaves open for the client's pool, if any.
    pub(crate) fn left_open(self) -> Option<Ends> {
        match self {
            Exchange::Completed {
                ends,
                connection_close: false,
            } => ends,
            Exchange::Completed { .. } | Exchange::Failed => None,
        }
    }
}

/// Requests made at most for one call, as Go's client makes them: the
/// first and nine redirects; a tenth redirect is an error.
const MAX_REQUESTS: usize = 10;

/// The longest URL the `http` crate holds, and so the longest this client
/// can send; Go's client has no such limit.
const MAX_URL_BYTES: usize = 65_534;

/// Why server 1's answer could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// No answer: refused, reset, unreachable, or a broken body.
    #[error("upstream request failed")]
    Request(#[source] reqwest::Error),
    /// No answer head within `RESPONSE_HEADER_TIMEOUT` of the request
    /// being written.
    #[error("upstream sent no answer head within RESPONSE_HEADER_TIMEOUT ({0:?}) of the request")]
    HeadTimeout(Duration),
    /// An answer with a status other than 2xx.
    #[error("upstream answered status {0}")]
    Status(StatusCode),
    /// An answer larger than this many bytes (1 MiB for
    /// `/hello`).
    #[error("upstream answer is larger than {0} bytes")]
    TooLarge(usize),
    /// An answer that is not `{"msg":...,"goRoutines":...}`.
    #[error("upstream answer is not the expected JSON")]
    Decode(#[source] serde_json::Error),
    /// A redirect without a usable `Location` (shown cut, if long).
    #[error("upstream redirected to {0:?}, which is not a URL")]
    BadRedirect(String),
    /// A redirect to a URL longer than the `http` crate can hold, which
    /// Go's client would still follow.
    #[error(
        "upstream redirected to a target of {0} bytes, over the {MAX_URL_BYTES} this client can send"
    )]
    RedirectTooLong(usize),
    /// More redirects than Go follows.
    #[error("upstream stopped after {MAX_REQUESTS} redirects")]
    TooManyRedirects,
}

/// POSTs `{}` to `url` as the Go original does, following redirects as
/// Go's client does, and reads the answer. Each request carries `via`, and
/// waits for its answer's head at most `head_limit` once written.
///
/// Go follows 301, 302, 303, 307 and 308 with a `Location`, and stops
/// with "stopped after 10 redirects" at the tenth; any other 3xx, or one
/// without a `Location` (or an empty one), is the answer as it is.
///
/// Redirects are followed here rather than inside reqwest so that an error
/// names the URL that failed, not the first one asked, and so that the
/// exchange describes the connection of the last answer.
pub(crate) async fn post_hello(
    client: &Client,
    url: &Url,
    via: &HeaderValue,
    head_limit: Option<Duration>,
) -> (Exchange, Result<Hello, UpstreamError>) {
    let mut next = (Method::POST, url.clone());
    for _ in 0..MAX_REQUESTS {
        let (method, url) = next;
        let response = match send(client, &method, &url, via, head_limit).await {
            Ok(response) => response,
            Err(err) => return (Exchange::Failed, Err(err)),
        };
        next = match redirect_of(&response, &method, &url) {
            Ok(Some(target)) => target,
            Ok(None) => return read_answer(response).await,
            Err(err) => return (Exchange::Failed, Err(err)),
        };
    }
    (Exchange::Failed, Err(UpstreamError::TooManyRedirects))
}

/// One request of the call: the Go original's POST of `{}`, or the GET a
/// redirect turned it into; its answer's head within `head_limit` of it
/// being written.
async fn send(
    client: &Client,
    method: &Method,
    url: &Url,
    via: &HeaderValue,
    head_limit: Option<Duration>,
) -> Result<Response, UpstreamError> {
    let mut request = client
        .request(method.clone(), url.clone())
        .header(VIA, via.clone());
    let mut written = None;
    if *method == Method::POST {
        let (body, heard) = WrittenBody::new(b"{}");
        written = Some(heard);
        request = request
            .header(CONTENT_TYPE, "application/json")
            .body(reqwest::Body::wrap(body));
    }
    let answer = head_within(head_limit, written, request.send())
        .await
        .map_err(|HeadTimedOut(limit)| UpstreamError::HeadTimeout(limit))?;
    answer.map_err(|err| {
        // A message repeats at most a few hundred bytes of a URL.
        let err = if url.as_str().len() > SHOWN_BYTES {
            err.without_url()
        } else {
            err
        };
        UpstreamError::Request(err)
    })
}

/// Go's client's rule for `response` to `method` on `url`: the request to
/// make next, if it is a redirect to follow; `None` when it is the answer.
fn redirect_of(
    response: &Response,
    method: &Method,
    url: &Url,
) -> Result<Option<(Method, Url)>, UpstreamError> {
    let status = response.status();
    let followed = matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    );
    let location = response
        .headers()
        .get(LOCATION)
        .filter(|location| !location.is_empty());
    let (true, Some(location)) = (followed, location) else {
        return Ok(None);
    };
    let location = String::from_utf8_lossy(location.as_bytes()).into_owned();
    let next = match url.join(&location) {
        Ok(next) if next.as_str().len() > MAX_URL_BYTES => {
            return Err(UpstreamError::RedirectTooLong(next.as_str().len()));
        }
        Ok(next) => next,
        Err(_) => return Err(UpstreamError::BadRedirect(shown(&location))),
    };
    // 307 and 308 repeat the request; the others turn a POST into a GET
    // without a body.
    let repeated = matches!(
        status,
        StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
    );
    let method = if repeated {
        method.clone()
    } else {
        Method::GET
    };
    Ok(Some((method, next)))
}

/// Reads server 1's answer, at most [`MAX_BODY_BYTES`] of it.
async fn read_answer(mut response: Response) -> (Exchange, Result<Hello, UpstreamError>) {
    let status = response.status();
    let connection_close = says_close(response.headers());
    let ends = response.extensions().get::<HttpInfo>().map(|info| Ends {
        local: info.local_addr(),
        remote: info.remote_addr(),
    });

    let body = match read_body(&mut response, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(err) => return (Exchange::Failed, Err(err)),
    };

    let exchange = Exchange::Completed {
        ends,
        connection_close,
    };
    if !status.is_success() {
        return (exchange, Err(UpstreamError::Status(status)));
    }
    (
        exchange,
        serde_json::from_slice(&body).map_err(UpstreamError::Decode),
    )
}

/// The whole body of `response`, refused as soon as it is known to be
/// larger than `limit` bytes: by its `Content-Length`, or as it streams in.
pub(crate) async fn read_body(
    response: &mut Response,
    limit: usize,
) -> Result<Vec<u8>, UpstreamError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(UpstreamError::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(UpstreamError::Request)? {
        if body.len() + chunk.len() > limit {
            return Err(UpstreamError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether the `Connection` header lists the `close` option.
fn says_close(headers: &HeaderMap) -> bool {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|option| option.trim().eq_ignore_ascii_case("close"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn close_is_found_among_connection_options() {
        let mut headers = HeaderMap::new();
        assert!(!says_close(&headers));
        headers.insert(CONNECTION, HeaderValue::from_static("keep-alive"));
        assert!(!says_close(&headers));
        headers.insert(CONNECTION, HeaderValue::from_static("Upgrade, Close"));
        assert!(says_close(&headers));
    }
}
