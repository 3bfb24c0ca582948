//! Passwords in URLs are never printed or served: `UPSTREAM_URL` may carry
//! one (`http://user:secret@host/...`), and it would show in the start-up
//! log and in the errors of a bad value. (`--help` shows no value of it,
//! and reqwest's own errors name the URL without its credentials.)

use std::borrow::Cow;

use reqwest::Url;

/// What a password is replaced with.
const HIDDEN: &str = "redacted";

/// `url` with its password, if any, replaced.
pub fn redacted(url: &Url) -> Cow<'_, Url> {
    if url.password().is_none() {
        return Cow::Borrowed(url);
    }
    let mut shown = url.clone();
    // Only URLs that cannot have a password refuse one.
    let _ = shown.set_password(Some(HIDDEN));
    Cow::Owned(shown)
}

/// `text` with the password replaced if it is a URL that has one; any
/// other text as it is.
pub fn redacted_text(text: &str) -> Cow<'_, str> {
    match Url::parse(text) {
        Ok(url) if url.password().is_some() => Cow::Owned(redacted(&url).to_string()),
        _ => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_replaced_and_nothing_else_changes() {
        let text = "http://user:secret@localhost:8080/hello";
        assert_eq!(
            redacted_text(text),
            "http://user:redacted@localhost:8080/hello"
        );
        for plain in [
            "http://user@localhost/hello",
            "http://localhost/",
            "info",
            ":8080",
        ] {
            assert_eq!(redacted_text(plain), plain);
        }
    }
}
