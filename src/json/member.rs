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

/// The items of `array`, the text of exactly one JSON array (a value whose span is known, such as a member the
/// body scan located, or [`first_value`]'s answer), as texts, read as they are asked for (no list is built);
/// `None` when it is not an array. An item that is not where one should be comes as a last `None`. The text is
/// assumed to be JSON, as for [`first_value`].
pub fn items_of(array: &[u8]) -> Option<Items<'_>> {
    let inner = array.strip_prefix(b"[")?.strip_suffix(b"]")?;
    Some(Items { rest: Some(inner) })
}

/// The items of one array, as [`items_of`] reads them.
pub struct Items<'a> {
    /// What is left to read, `None` once done.
    rest: Option<&'a [u8]>,
}

impl<'a> Iterator for Items<'a> {
    type Item = Option<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest.take()?;
        let start = rest.iter().position(|b| !b.is_ascii_whitespace())?;
        let Some(item) = first_value(&rest[start..]) else { return Some(None) };
        let after = &rest[start + item.len()..];
        match after.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(comma) if after[comma] == b',' => self.rest = Some(&after[comma + 1..]),
            Some(_) => return Some(None),
            None => {}
        }
        Some(Some(item))
    }
}

/// Where one member of an object's top level sits: its name's raw text (between the quotes, escapes as written)
/// and its value's text (without surrounding whitespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSpan {
    pub name: std::ops::Range<usize>,
    pub value: std::ops::Range<usize>,
}

impl MemberSpan {
    /// The whole member, from its name's opening quote to the end of its value.
    pub fn whole(&self) -> std::ops::Range<usize> {
        self.name.start - 1..self.value.end
    }

    /// The member's name in `json` (the text it was found in) as JSON means it: `"mod\u0065l"` is `model`, so a
    /// name the gateway acts on cannot slip past it written with escapes. Plain names, nearly all of them, are
    /// borrowed as written.
    pub fn name_in<'j>(&self, json: &'j [u8]) -> std::borrow::Cow<'j, [u8]> {
        let raw = &json[self.name.clone()];
        if !raw.contains(&b'\\') {
            return std::borrow::Cow::Borrowed(raw);
        }
        match serde_json::from_slice::<String>(&json[self.name.start - 1..self.name.end + 1]) {
            Ok(name) => std::borrow::Cow::Owned(name.into_bytes()),
            Err(_) => std::borrow::Cow::Borrowed(raw),
        }
    }
}

/// Every member of the top level of the JSON object `json`, in order, or `None` when `json` is not an object. Like
/// [`top_level_member`], the text is assumed to be valid JSON (a body the request scan accepted): values are
/// skipped, not checked, and a text that is not JSON gets an answer that means nothing, never a panic.
pub fn top_level_members(json: &[u8]) -> Option<Vec<MemberSpan>> {
    let skip_ws = |mut i: usize| {
        while json.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        i
    };
    let mut i = skip_ws(0);
    if json.get(i) != Some(&b'{') {
        return None;
    }
    let mut members = Vec::new();
    i += 1;
    loop {
        i = skip_ws(i);
        match json.get(i)? {
            b'}' => return Some(members),
            b'"' => {}
            _ => return None,
        }
        let name_end = string_end(json, i + 1)?;
        let name = i + 1..name_end;
        i = skip_ws(name_end + 1);
        if json.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(i + 1);
        i = start;
        let mut depth = 0usize;
        loop {
            match json.get(i)? {
                b'"' => {
                    i = string_end(json, i + 1)? + 1;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth == 0 => break,
                b'}' | b']' => depth -= 1,
                b',' if depth == 0 => break,
                _ => {}
            }
            i += 1;
        }
        let mut end = i;
        while end > start && json[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
        members.push(MemberSpan { name, value: start..end });
        if json[i] == b',' {
            i += 1;
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

    /// The items of the first value of `json` (the array [`items_of`] is given).
    fn array_items(json: &[u8]) -> Option<Vec<&[u8]>> {
        items_of(first_value(json)?)?.collect()
    }

    #[test]
    fn array_items_split_at_top_level_commas_only() {
        let items = array_items(br#" [ {"a":[1,2]}, "x,y" ,3,[4,5] , null ] , "after""#).unwrap();
        let items: Vec<&str> = items.iter().map(|i| std::str::from_utf8(i).unwrap()).collect();
        assert_eq!(items, [r#"{"a":[1,2]}"#, r#""x,y""#, "3", "[4,5]", "null"]);
        assert_eq!(array_items(b"[]").unwrap().len(), 0);
        assert_eq!(array_items(b"[ ]").unwrap().len(), 0);
        assert_eq!(array_items(br#"{"a":1}"#), None);
        assert_eq!(array_items(b"[1 2]"), None, "an item where a comma should be");
        assert_eq!(array_items(b"[1, ]").unwrap().len(), 1);
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

    #[test]
    fn members_are_listed_in_order_with_their_spans() {
        let json = r#" { "a" : [1, {"b": "}"}] , "c\"d":"x,y" ,"e":{} } "#;
        let members = top_level_members(json.as_bytes()).unwrap();
        let text = |r: std::ops::Range<usize>| &json[r];
        let seen: Vec<(&str, &str)> = members.iter().map(|m| (text(m.name.clone()), text(m.value.clone()))).collect();
        assert_eq!(seen, [("a", r#"[1, {"b": "}"}]"#), (r#"c\"d"#, r#""x,y""#), ("e", "{}")]);
        assert_eq!(text(members[1].whole()), r#""c\"d":"x,y""#);
        assert_eq!(top_level_members(b"{}"), Some(vec![]));
        let escaped = br#"{"mod\u0065l":1,"x\"":2}"#;
        let names: Vec<Vec<u8>> =
            top_level_members(escaped).unwrap().iter().map(|m| m.name_in(escaped).into_owned()).collect();
        assert_eq!(names, [b"model".to_vec(), b"x\"".to_vec()]);
        for broken in ["", "[1]", "{", r#"{"a""#, r#"{"a":"#, r#"{"a":1"#, r#"{1:2}"#] {
            assert_eq!(top_level_members(broken.as_bytes()), None, "{broken}");
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

        /// Cutting the listed members out and parsing each gives back the object.
        #[test]
        fn members_agree_with_the_parsed_tree(
            members in prop::collection::btree_map("[a-z\"\\\\]{0,5}", json_value(), 0..6),
            pretty in any::<bool>(),
        ) {
            let object = Value::Object(Map::from_iter(members));
            let text = if pretty { serde_json::to_string_pretty(&object) } else { serde_json::to_string(&object) };
            let text = text.unwrap();
            let spans = top_level_members(text.as_bytes()).unwrap();
            let mut rebuilt = Map::new();
            for span in spans {
                let name: String = serde_json::from_str(&format!("\"{}\"", &text[span.name.clone()])).unwrap();
                rebuilt.insert(name, serde_json::from_str(&text[span.value.clone()]).unwrap());
            }
            prop_assert_eq!(Value::Object(rebuilt), object);
        }
    }
}
