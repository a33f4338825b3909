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

/// The first JSON value of `json` (after any whitespace), as text: what [`top_level_member`] found, without what
/// follows it. The text is assumed to be JSON (a body admission has checked); `None` if it ends first.
pub fn first_value(json: &[u8]) -> Option<&[u8]> {
    let start = json.iter().position(|b| !b.is_ascii_whitespace())?;
    let mut depth = 0usize;
    let mut i = start;
    while i < json.len() {
        match json[i] {
            b'"' => {
                i = string_end(json, i + 1)?;
                if depth == 0 {
                    return Some(&json[start..=i]);
                }
            }
            b'{' | b'[' => depth += 1,
            // A scalar ends at the bracket closing what holds it.
            b'}' | b']' | b',' | b':' if depth == 0 => return Some(json[start..i].trim_ascii_end()),
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&json[start..=i]);
                }
            }
            b if depth == 0 && b.is_ascii_whitespace() => return Some(&json[start..i]),
            _ => {}
        }
        i += 1;
    }
    (depth == 0).then(|| json[start..].trim_ascii_end())
}

/// The items of the JSON array `json` as texts, or `None` when it is not an array. The text is assumed to be
/// JSON, as for [`first_value`].
pub fn array_items(json: &[u8]) -> Option<Vec<&[u8]>> {
    let value = first_value(json)?;
    let inner = value.strip_prefix(b"[")?.strip_suffix(b"]")?;
    let mut items = Vec::new();
    let mut rest = inner;
    loop {
        let Some(start) = rest.iter().position(|b| !b.is_ascii_whitespace()) else { return Some(items) };
        let item = first_value(&rest[start..])?;
        items.push(item);
        rest = &rest[start + item.len()..];
        match rest.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(comma) if rest[comma] == b',' => rest = &rest[comma + 1..],
            Some(_) => return None,
            None => return Some(items),
        }
    }
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
    fn first_value_ends_where_the_value_does() {
        for (text, value) in [
            (r#"{"a":[1,{"b":"}"}]} , "x""#, r#"{"a":[1,{"b":"}"}]}"#),
            (r#"  "q\"uo\\" ]"#, r#""q\"uo\\""#),
            ("123 ,4", "123"),
            ("-1.5e3}", "-1.5e3"),
            ("true,", "true"),
            ("null", "null"),
            ("[[],[[]]] x", "[[],[[]]]"),
        ] {
            assert_eq!(first_value(text.as_bytes()), Some(value.as_bytes()), "{text}");
        }
        assert_eq!(first_value(b"  "), None);
        assert_eq!(first_value(b"[1,2"), None, "cut short");
    }

    #[test]
    fn array_items_split_at_top_level_commas_only() {
        let items = array_items(br#" [ {"a":[1,2]}, "x,y" ,3,[4,5] , null ] , "after""#).unwrap();
        let items: Vec<&str> = items.iter().map(|i| std::str::from_utf8(i).unwrap()).collect();
        assert_eq!(items, [r#"{"a":[1,2]}"#, r#""x,y""#, "3", "[4,5]", "null"]);
        assert_eq!(array_items(b"[]").unwrap().len(), 0);
        assert_eq!(array_items(b"[ ]").unwrap().len(), 0);
        assert_eq!(array_items(br#"{"a":1}"#), None);
    }

    proptest! {
        /// The items of any array, written compactly or pretty, are its elements exactly.
        #[test]
        fn array_items_are_the_elements(values in proptest::collection::vec(json_value(), 0..6), pretty: bool) {
            let array = Value::Array(values.clone());
            let text = if pretty { serde_json::to_string_pretty(&array).unwrap() } else { array.to_string() };
            let items = array_items(text.as_bytes()).unwrap();
            let parsed: Vec<Value> = items.iter().map(|i| serde_json::from_slice(i).unwrap()).collect();
            prop_assert_eq!(parsed, values);
        }
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
