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

/// `text` with the password of every URL in it replaced: for messages
/// that quote a value, such as clap's errors.
pub fn redacted_words(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let quoted = word.trim_matches(|c| matches!(c, '\'' | '"' | ',' | ':' | ';'));
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
    fn a_password_is_replaced_and_nothing_else_changes() {
        let text = "http://user:secret@localhost:8080/hello";
        assert_eq!(
            redacted_text(text),
            "http://user:redacted@localhost:8080/hello"
        );
        assert_eq!(
            redacted_words("invalid value 'ftp://u:secret@h/x' for '--upstream-url <URL>':"),
            "invalid value 'ftp://u:redacted@h/x' for '--upstream-url <URL>':"
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
