//! A process's name as a terminal may be given it. `/proc/PID/comm` is
//! whatever the process set for itself (`prctl(PR_SET_NAME)`, 15 bytes):
//! written raw, a carriage return would let a row pass for another
//! process's, an escape sequence could clear the rows above it or set the
//! window's title, and a bidirectional override could reverse what
//! follows. So, as `ps` does, each control character is shown as `?`:
//! C0, DEL and C1, and the bidirectional marks, embeddings, overrides and
//! isolates. Bytes that are not UTF-8 were already read lossily
//! (`target.rs`). `--json` needs none of this: JSON escapes them.

/// `name` with every character a terminal would act on replaced by `?`.
pub(crate) fn printable(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() || is_bidi_control(c) {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// The characters that change the direction of the text after them.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_direction_marks_are_question_marks_and_the_rest_stays() {
        assert_eq!(printable("\r    1  systemd"), "?    1  systemd");
        assert_eq!(printable("\u{1b}[2J\u{1b}[H"), "?[2J?[H");
        assert_eq!(printable("a\u{7f}b\u{85}c\u{9b}"), "a?b?c?");
        assert_eq!(printable("\u{202E}gnp.exe"), "?gnp.exe");
        assert_eq!(printable("\u{2066}x\u{2069}"), "?x?");
        assert_eq!(printable("nginx: worker"), "nginx: worker");
        assert_eq!(printable("café\u{FFFD}"), "café\u{FFFD}");
    }
}
