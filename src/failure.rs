//! How a failure reads: its whole cause chain on one line, a value from
//! outside cut to a size a message may repeat, and whether it is the one
//! the leak ends in, running out of file descriptors.

use std::error::Error;
use std::io;

/// Whether `err` is the process (EMFILE) or the system (ENFILE) running
/// out of file descriptors. The numbers are the same on Linux and macOS.
pub(crate) fn is_out_of_descriptors(err: &io::Error) -> bool {
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    matches!(err.raw_os_error(), Some(ENFILE | EMFILE))
}

/// `err` and each of its sources, joined by ": ".
pub fn cause_chain(err: &dyn Error) -> String {
    let mut chain = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}

/// The most of a value from outside that a message repeats.
pub(crate) const SHOWN_BYTES: usize = 200;

/// `text` as a message may repeat it: whole if short, else its first
/// [`SHOWN_BYTES`] and how long it was, so that no caller can make an
/// answer or a log line as large as what it sent.
pub(crate) fn shown(text: &str) -> String {
    if text.len() <= SHOWN_BYTES {
        return text.to_owned();
    }
    let mut end = SHOWN_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_value_is_shown_cut_with_its_length() {
        assert_eq!(shown("localhost:9090"), "localhost:9090");
        let long = "é".repeat(150);
        let cut = shown(&long);
        assert!(cut.ends_with("... (300 bytes)"), "{cut}");
        assert!(cut.len() <= SHOWN_BYTES + 20, "{cut}");
    }

    #[test]
    fn running_out_of_descriptors_is_recognised() {
        assert!(is_out_of_descriptors(&io::Error::from_raw_os_error(24)));
        assert!(is_out_of_descriptors(&io::Error::from_raw_os_error(23)));
        assert!(!is_out_of_descriptors(&io::Error::from_raw_os_error(111)));
        assert!(!is_out_of_descriptors(&io::Error::other("no code")));
    }
}
