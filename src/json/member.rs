//! Finding one member of a JSON object's top level without parsing its other members.
//!
//! Reading the token usage of every relayed answer is bookkeeping: it should not cost a parse of the whole answer.
//! [`top_level_member`] walks the text once, jumping from quote to quote with `memchr` inside strings, and hands
//! back where the member's value starts so that only the value itself is parsed. Callers fall back to a full parse
//! when it finds nothing, so a key written with escapes (`"\u0075sage"`) is still read, just slower.

/// The text from the start of the value of the top-level member `key` of the JSON object `json` (the value and
/// whatever follows it), or `None` when `json` is not an object or has no such member written plainly. The text is
/// assumed to be JSON; for anything else the answer means nothing, but the scan still ends without panicking.
pub fn top_level_member<'a>(json: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let start = json.iter().position(|b| !b.is_ascii_whitespace())?;
    if json[start] != b'{' {
        return None;
    }
    let mut depth = 1usize;
    // At depth 1 (inside the top-level object) a string is a key right after the `{` or a `,`.
    let mut expect_key = true;
    let mut i = start + 1;
    while i < json.len() {
        match json[i] {
            b'"' => {
                let end = string_end(json, i + 1)?;
                if depth == 1 && expect_key && &json[i + 1..end] == key {
                    let colon = end + 1 + json[end + 1..].iter().position(|b| !b.is_ascii_whitespace())?;
                    return (json[colon] == b':').then(|| &json[colon + 1..]);
                }
                expect_key = false;
                i = end;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return None;
                }
            }
            b',' => expect_key = depth == 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the quote closing the string whose contents start at `from` (a quote after an odd run of
/// backslashes is escaped), or `None` if the text ends first.
fn string_end(json: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let quote = at + memchr::memchr(b'"', &json[at..])?;
        let backslashes = json[from..quote].iter().rev().take_while(|&&b| b == b'\\').count();
        if backslashes % 2 == 0 {
            return Some(quote);
        }
        at = quote + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    /// The value found by the scan, parsed (the first JSON value of the remaining text).
    fn found(json: &str, key: &str) -> Option<Value> {
        let rest = top_level_member(json.as_bytes(), key.as_bytes())?;
        let mut stream = serde_json::Deserializer::from_slice(rest).into_iter::<Value>();
        stream.next()?.ok()
    }

    #[test]
    fn finds_the_top_level_member_and_not_nested_ones() {
        let json = r#"{"content":[{"type":"tool_use","input":{"usage":1}}],"usage" : {"output_tokens":7}}"#;
        assert_eq!(found(json, "usage"), Some(serde_json::json!({"output_tokens": 7})));
        assert_eq!(found(r#"{"a":{"usage":1}}"#, "usage"), None);
        assert_eq!(found(r#"[{"usage":1}]"#, "usage"), None);
        assert_eq!(found(r#"  {"usage":2}"#, "usage"), Some(Value::from(2)));
    }

    #[test]
    fn strings_that_look_like_the_key_are_not_keys() {
        assert_eq!(found(r#"{"a":"usage","b":"\"usage\":1","usage":3}"#, "usage"), Some(Value::from(3)));
        assert_eq!(found(r#"{"a":["usage",{"usage":1}],"b":"x\\","usage":4}"#, "usage"), Some(Value::from(4)));
        assert_eq!(found(r#"{"a":"usage"}"#, "usage"), None);
    }

    #[test]
    fn broken_text_ends_the_scan_without_an_answer() {
        for text in [r#"{"usage""#, r#"{"a":"unterminated"#, r#"{"usage"   "#, "", "{", r#"{"a":1}}"usage":2"#] {
            assert_eq!(top_level_member(text.as_bytes(), b"usage"), None, "{text}");
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let key = prop_oneof![Just("usage".to_string()), Just("a\"b".to_string()), "[a-z\\\\\"{}:,\\[\\]]{0,6}"];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<i32>().prop_map(Value::from),
            "[a-z\\\\\"{}:,\\[\\] ]{0,8}".prop_map(Value::from),
            Just(Value::from("usage")),
        ];
        leaf.prop_recursive(4, 40, 5, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(key.clone(), inner, 0..5).prop_map(|m| Value::Object(Map::from_iter(m))),
            ]
        })
    }

    proptest! {
        /// Whatever the members and their nesting, the scan agrees with the parsed tree's top level.
        #[test]
        fn agrees_with_the_parsed_tree(
            members in prop::collection::btree_map("[a-z\"\\\\]{0,5}|usage", json_value(), 0..6),
            pretty in any::<bool>(),
        ) {
            let object = Value::Object(Map::from_iter(members));
            let text = if pretty { serde_json::to_string_pretty(&object) } else { serde_json::to_string(&object) };
            let text = text.unwrap();
            prop_assert_eq!(found(&text, "usage"), object.get("usage").cloned());
        }
    }
}
