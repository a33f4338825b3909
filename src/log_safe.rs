//! Client-supplied text in log lines: every control character (a `\r` or `\n` in a model name would end the line
//! and let a client write a forged one) and the backslash (so an escape in the log is never ambiguous) are written
//! as escapes. Text without any of them is written as it is, without allocating.

use std::borrow::Cow;
use std::fmt::{self, Write};

/// `text` for a log line, escaped when it holds a control character or a backslash (borrowed otherwise).
pub fn escaped(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    // Writing into a String cannot fail.
    let _ = write!(out, "{}", Escaped(text));
    Cow::Owned(out)
}

/// Displays its text escaped, for `format!` arguments: no allocation in any case.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(needs_escape) {
            f.write_str(&rest[..at])?;
            let Some(c) = rest[at..].chars().next() else { break };
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\\' => f.write_str("\\\\")?,
                other => write!(f, "\\u{{{:x}}}", u32::from(other))?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// C0 and C1 controls and DEL (`char::is_control`), the Unicode line and paragraph separators (some log viewers
/// break lines there), and the backslash.
fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\\' || c == '\u{2028}' || c == '\u{2029}'
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(escaped("claude-sonnet-4-5"), Cow::Borrowed(_)));
        assert!(matches!(escaped("modèle ünïcode"), Cow::Borrowed(_)));
    }

    #[test]
    fn controls_and_backslashes_are_escaped() {
        assert_eq!(escaped("x\r\nFORGED line"), "x\\r\\nFORGED line");
        assert_eq!(escaped("a\tb\\c"), "a\\tb\\\\c");
        assert_eq!(escaped("\u{1b}[31mred\u{7f}\u{85}"), "\\u{1b}[31mred\\u{7f}\\u{85}");
        assert_eq!(escaped("a\u{2028}b"), "a\\u{2028}b");
        assert_eq!(format!("[{}]", Escaped("é\n")), "[é\\n]");
    }

    proptest! {
        #[test]
        fn escaped_text_has_no_control_character_and_round_trips(text in any::<String>()) {
            let out = escaped(&text);
            let breaks_line = |c: char| c.is_control() || c == '\u{2028}' || c == '\u{2029}';
            prop_assert!(!out.chars().any(breaks_line));
            prop_assert_eq!(unescape(&out), text);
        }
    }

    /// The inverse of the escaping, to show it loses nothing.
    fn unescape(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('\\') => out.push('\\'),
                Some('u') => {
                    let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                }
                other => panic!("unexpected escape {other:?}"),
            }
        }
        out
    }
}
