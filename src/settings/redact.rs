//! Credentials in URLs are never printed or served. `UPSTREAM_URL` may
//! carry a user and a password (`http://user:secret@host/...`), or a token
//! as the user alone (`http://TOKEN@host/...`); any of it would show in the
//! start-up log, in the errors of a bad value, and in `/figures`, `/watch`
//! and the page. Requests to server 1 still send it.
//!
//! The user information is found in the raw text, so a URL that does not
//! parse (a bad port, an unclosed `[`, no host, no scheme) is hidden too.

use std::borrow::Cow;

use reqwest::Url;

/// What the user information is replaced with.
const HIDDEN: &str = "redacted";

/// `url` as it is shown: with any user information replaced.
pub(crate) fn redacted(url: &Url) -> String {
    redacted_text(url.as_str()).into_owned()
}

/// `text` with the user information of the URL it is, if any, replaced:
/// everything between the scheme's `://` (or the start, when there is no
/// scheme) and the last `@` before the host ends.
pub(crate) fn redacted_text(text: &str) -> Cow<'_, str> {
    let start = text.find("://").map_or(0, |at| at + 3);
    let authority_end = text[start..]
        .find(['/', '?', '#'])
        .map_or(text.len(), |at| start + at);
    match text[start..authority_end].rfind('@') {
        Some(at) => Cow::Owned(format!("{}{HIDDEN}{}", &text[..start], &text[start + at..])),
        None => Cow::Borrowed(text),
    }
}

/// `text` with the user information of every URL in it replaced: for
/// messages that quote a value, such as clap's errors.
pub(crate) fn redacted_words(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let quoted = word.trim_matches(|c| matches!(c, '\'' | '"' | ',' | ';' | '(' | ')'));
            match redacted_text(quoted) {
                Cow::Owned(shown) => word.replace(quoted, &shown),
                Cow::Borrowed(_) => word.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_user_information_is_replaced_and_nothing_else_changes() {
        for (text, shown) in [
            (
                "http://user:secret@localhost:8080/hello",
                "http://redacted@localhost:8080/hello",
            ),
            (
                "http://ghp_TOKEN123@host/hello",
                "http://redacted@host/hello",
            ),
            (
                "http://admin:S3cr3t@127.0.0.1:99999/hello",
                "http://redacted@127.0.0.1:99999/hello",
            ),
            (
                "http://admin:S3cr3t@[::1/hello",
                "http://redacted@[::1/hello",
            ),
            ("http://admin:S3cr3t@/hello", "http://redacted@/hello"),
            (
                "admin:S3cr3t@127.0.0.1:8080/hello",
                "redacted@127.0.0.1:8080/hello",
            ),
            ("http://a@b:c@host?x=1", "http://redacted@host?x=1"),
        ] {
            assert_eq!(redacted_text(text), shown, "{text}");
        }
        for plain in ["http://localhost/", "http://host/path@x", "info", ":8080"] {
            assert_eq!(redacted_text(plain), plain);
        }
        assert_eq!(
            redacted_words("invalid URL \"ftp://u:secret@h/x\": scheme"),
            "invalid URL \"ftp://redacted@h/x\": scheme"
        );
    }

    #[test]
    fn a_url_shows_without_its_user() {
        let url = Url::parse("http://TOKEN@localhost:8080/").expect("a URL");
        assert_eq!(redacted(&url), "http://redacted@localhost:8080/");
    }
}
