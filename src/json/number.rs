//! The grammar of a JSON number (RFC 8259), one byte at a time: shared by the request-body scan
//! (`json::scan`) and the streamed tool-input validator (`convert::stream::tool_input`), which both read
//! JSON in pieces and so cannot hand a number to a parser whole.

/// Where a number stands in `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Number {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    Exp,
    ExpSign,
    ExpDigits,
}

impl Number {
    /// The state after a number's first byte, if `b` can start one.
    pub fn start(b: u8) -> Option<Number> {
        match b {
            b'-' => Some(Number::Minus),
            b'0' => Some(Number::Zero),
            b'1'..=b'9' => Some(Number::Int),
            _ => None,
        }
    }

    /// The state after `b`, or `None` when `b` cannot go on the number: then the number ends before `b` if it
    /// [is complete](Number::is_complete), and is malformed otherwise.
    pub fn next(self, b: u8) -> Option<Number> {
        use Number::*;
        Some(match (self, b) {
            (Minus, b'0') => Zero,
            (Minus, b'1'..=b'9') => Int,
            (Int, b'0'..=b'9') => Int,
            (Zero | Int, b'.') => Dot,
            (Dot | Frac, b'0'..=b'9') => Frac,
            (Zero | Int | Frac, b'e' | b'E') => Exp,
            (Exp, b'+' | b'-') => ExpSign,
            (Exp | ExpSign | ExpDigits, b'0'..=b'9') => ExpDigits,
            _ => return None,
        })
    }

    /// Whether the text so far is a whole number.
    pub fn is_complete(self) -> bool {
        matches!(self, Number::Zero | Number::Int | Number::Frac | Number::ExpDigits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(text: &str) -> bool {
        let mut bytes = text.bytes();
        let Some(mut state) = bytes.next().and_then(Number::start) else { return false };
        for b in bytes {
            match state.next(b) {
                Some(next) => state = next,
                None => return false,
            }
        }
        state.is_complete()
    }

    #[test]
    fn agrees_with_serde_json_on_numbers_and_near_misses() {
        let texts = [
            "0",
            "-0",
            "7",
            "-12",
            "10",
            "0.5",
            "-0.25",
            "1e5",
            "1E+5",
            "2.5e-3",
            "00",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "1e+",
            "+1",
            "1.e3",
            "0x1",
            "1.5.2",
            "--1",
            "1ee2",
            "-01",
            "9007199254740993",
            "1e400",
        ];
        for text in texts {
            let serde = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
            assert_eq!(accepts(text), serde, "{text}");
        }
    }
}
