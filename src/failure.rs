//! How a failure reads: its whole cause chain on one line, and whether it
//! is the one the leak ends in, running out of file descriptors.

use std::error::Error;
use std::io;

/// Whether `err` is the process (EMFILE) or the system (ENFILE) running
/// out of file descriptors. The numbers are the same on Linux and macOS.
pub fn is_out_of_descriptors(err: &io::Error) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_descriptors_is_recognised() {
        assert!(is_out_of_descriptors(&io::Error::from_raw_os_error(24)));
        assert!(is_out_of_descriptors(&io::Error::from_raw_os_error(23)));
        assert!(!is_out_of_descriptors(&io::Error::from_raw_os_error(111)));
        assert!(!is_out_of_descriptors(&io::Error::other("no code")));
    }
}
