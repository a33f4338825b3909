//! Bounding how deeply a JSON request body nests, checked on each chunk as it arrives from the client.
//!
//! The passthrough path never parses a body into a tree, so nesting cannot hurt the gateway there; but a body nested
//! thousands of levels deep is the client's mistake (or an attack on whoever parses it next), and is refused with a
//! clear 400 on every route alike. Scanning chunk by chunk refuses such a body as soon as the offending chunk
//! arrives, without waiting for the rest. (On loopback the body is usually all there before the handler runs, so
//! this did not measurably overlap the scan with the transfer; the scan's speed is what made it cheap.)

/// Deepest nesting of arrays and objects accepted (serde_json's own limit for parsing into values).
pub const MAX_DEPTH: usize = 128;

/// Nesting depth of a JSON text fed in arbitrary pieces. Strings are skipped by jumping from quote to quote with
/// `memchr` (a quote preceded by an odd run of backslashes is escaped and does not end the string), so brackets
/// inside them do not count and escapes cost nothing; nothing is allocated.
#[derive(Debug, Clone, Default)]
pub struct DepthGuard {
    depth: usize,
    in_string: bool,
    /// Inside a string, the previous pieces ended on an odd run of backslashes: a quote opening the next piece
    /// is escaped.
    odd_backslashes: bool,
}

/// The text nests deeper than the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep;

impl DepthGuard {
    /// Scans the next piece of the text. Only the verdict is meaningful for invalid JSON.
    pub fn feed(&mut self, piece: &[u8], limit: usize) -> Result<(), TooDeep> {
        let mut i = 0;
        while i < piece.len() {
            if self.in_string {
                i = self.skip_string(piece, i);
                continue;
            }
            match piece[i] {
                b'"' => self.in_string = true,
                b'[' | b'{' => {
                    self.depth += 1;
                    if self.depth > limit {
                        return Err(TooDeep);
                    }
                }
                b']' | b'}' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
            i += 1;
        }
        Ok(())
    }

    /// From `i` inside a string: the index just past its closing quote, or the piece's end if it goes on.
    fn skip_string(&mut self, piece: &[u8], i: usize) -> usize {
        let mut from = i;
        while let Some(offset) = memchr::memchr(b'"', &piece[from..]) {
            let quote = from + offset;
            if !self.escaped(&piece[i..quote]) {
                self.in_string = false;
                self.odd_backslashes = false;
                return quote + 1;
            }
            from = quote + 1;
        }
        self.odd_backslashes = self.escaped(&piece[i..]);
        piece.len()
    }

    /// Whether the string's bytes `before` (from the piece's start or the string's, whichever is later) end on an
    /// odd run of backslashes, counting the run carried over from earlier pieces when it reaches back that far.
    fn escaped(&self, before: &[u8]) -> bool {
        let run = before.iter().rev().take_while(|&&b| b == b'\\').count();
        let carried = run == before.len() && self.odd_backslashes;
        (run % 2 == 1) != carried
    }
}

/// Whether the whole text `json` nests deeper than `limit`.
pub fn exceeds_depth(json: &[u8], limit: usize) -> bool {
    DepthGuard::default().feed(json, limit).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn nested(levels: usize, inner: &str) -> String {
        format!(r#"{{"a":{}{inner}{}}}"#, "[".repeat(levels - 1), "]".repeat(levels - 1))
    }

    #[test]
    fn the_limit_itself_is_accepted_and_one_more_refused() {
        assert!(!exceeds_depth(nested(128, "1").as_bytes(), MAX_DEPTH));
        assert!(exceeds_depth(nested(129, "1").as_bytes(), MAX_DEPTH));
        assert!(!exceeds_depth(br#"{"a":[{"b":[]},{"c":{}}],"d":[[[]]]}"#, 4));
        assert!(exceeds_depth(br#"{"a":[{"b":[]},{"c":{}}],"d":[[[]]]}"#, 3));
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let body = format!(r#"{{"a":["{}\\\"[[[","\\\\","{}"]}}"#, "[".repeat(500), "{".repeat(500));
        assert!(!exceeds_depth(body.as_bytes(), MAX_DEPTH));
        // An escaped backslash ends the escape: the quote after it closes the string.
        assert!(exceeds_depth(br#"{"a":"\\",[[["#, 3));
    }

    #[test]
    fn an_escape_split_across_pieces_is_carried_over() {
        let mut guard = DepthGuard::default();
        guard.feed(br#"{"a":"x\"#, 2).unwrap();
        guard.feed(br#""[[[[",[]}"#, 2).unwrap();
        assert!(guard.feed(b"[[[", 2).is_err());
    }

    fn json_text() -> impl Strategy<Value = String> {
        let leaf =
            prop_oneof![Just("1".to_string()), "\\PC{0,8}".prop_map(|s| serde_json::Value::String(s).to_string())];
        leaf.prop_recursive(12, 64, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec(("[\\[\\]{}\"\\\\a]{0,4}", inner), 0..4).prop_map(|v| {
                    // Keys made unique: a parsed object keeps only the last of duplicate keys.
                    let fields: Vec<String> = v
                        .into_iter()
                        .enumerate()
                        .map(|(n, (k, v))| format!("{}:{v}", serde_json::Value::String(format!("{k}{n}"))))
                        .collect();
                    format!("{{{}}}", fields.join(","))
                }),
            ]
        })
    }

    fn tree_depth(value: &serde_json::Value) -> usize {
        match value {
            serde_json::Value::Array(items) => 1 + items.iter().map(tree_depth).max().unwrap_or(0),
            serde_json::Value::Object(map) => 1 + map.values().map(tree_depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    proptest! {
        #[test]
        fn agrees_with_the_parsed_tree_however_the_text_is_split(text in json_text(), limit in 0usize..8, cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6)) {
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            let expected = tree_depth(&value) > limit;
            prop_assert_eq!(exceeds_depth(text.as_bytes(), limit), expected);
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(text.len() + 1)).collect();
            points.sort_unstable();
            let mut guard = DepthGuard::default();
            let mut start = 0;
            let mut verdict = Ok(());
            for end in points.into_iter().chain([text.len()]) {
                verdict = verdict.and_then(|()| guard.feed(&text.as_bytes()[start..end], limit));
                start = end;
            }
            prop_assert_eq!(verdict.is_err(), expected);
        }
    }
}
