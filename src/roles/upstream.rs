//! One call from `/forward` to server 1's `/hello`.

use hyper_util::client::legacy::connect::HttpInfo;
use reqwest::header::{CONNECTION, CONTENT_TYPE, HeaderMap};
use reqwest::{Client, StatusCode, Url};

use crate::observe::sockets::Ends;
use crate::roles::hello::Hello;

/// The most of server 1's answer that is read. `/hello` answers about 40
/// bytes; a larger body is refused before it is all in memory.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the call left behind on the client's connection, which is what
/// decides how long Go would keep the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
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
    pub fn left_open(self) -> Option<Ends> {
        match self {
            Exchange::Completed {
                ends,
                connection_close: false,
            } => ends,
            Exchange::Completed { .. } | Exchange::Failed => None,
        }
    }
}

/// Why server 1's answer could not be used.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No answer: refused, reset, unreachable, or a broken body.
    #[error("upstream request failed")]
    Request(#[source] reqwest::Error),
    /// An answer with a status other than 2xx.
    #[error("upstream answered status {0}")]
    Status(StatusCode),
    /// An answer larger than [`MAX_BODY_BYTES`].
    #[error("upstream answer is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// An answer that is not `{"msg":...,"goRoutines":...}`.
    #[error("upstream answer is not the expected JSON")]
    Decode(#[source] serde_json::Error),
}

/// POSTs `{}` to `url` as the Go original does, and reads the answer.
pub async fn post_hello(client: &Client, url: &Url) -> (Exchange, Result<Hello, UpstreamError>) {
    let mut response = match client
        .post(url.clone())
        .header(CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
    {
        Ok(response) => response,
        Err(err) => return (Exchange::Failed, Err(UpstreamError::Request(err))),
    };
    let status = response.status();
    let connection_close = says_close(response.headers());
    let ends = response
        .extensions()
        .get::<HttpInfo>()
        .map(|info| (info.local_addr(), info.remote_addr()));

    if response
        .content_length()
        .is_some_and(|length| length > MAX_BODY_BYTES as u64)
    {
        return (Exchange::Failed, Err(UpstreamError::TooLarge));
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > MAX_BODY_BYTES => {
                return (Exchange::Failed, Err(UpstreamError::TooLarge));
            }
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(err) => return (Exchange::Failed, Err(UpstreamError::Request(err))),
        }
    }

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
