//! The scan against serde_json, the oracle, on generated and mutated texts cut into arbitrary pieces.

use super::strings::ends_plain;
use super::*;
use proptest::prelude::*;
mod serde_probe {
    include!("../../../tests/support/serde_probe.rs");
}

/// What serde_json makes of the same text (see `tests/support/serde_probe.rs`).
fn oracle(text: &[u8]) -> Option<Located> {
    serde_probe::serde_spans(text).map(|spans| Located { spans })
}

/// The scan's spans as serde reads them into `Option`s: a member whose value is `null` reads as absent there.
fn as_options(located: Located, text: &[u8]) -> Located {
    Located { spans: located.spans.map(|span| span.filter(|r| &text[r.clone()] != b"null")) }
}

/// Scans `text` fed in pieces cut at `cuts`.
fn scan_in_pieces(text: &[u8], cuts: &[usize]) -> Result<Located, ScanError> {
    let mut points = cuts.to_vec();
    points.sort_unstable();
    let mut scan = JsonScan::default();
    let mut start = 0;
    for end in points.into_iter().chain([text.len()]) {
        scan.feed(&text[start..end])?;
        start = end;
    }
    scan.finish(text).map(|located| as_options(located, text))
}

fn agrees(text: &[u8]) {
    let scanned = scan(text).ok().map(|located| as_options(located, text));
    assert_eq!(scanned, oracle(text), "{:?}", String::from_utf8_lossy(text));
    for cut in 0..=text.len() {
        assert_eq!(scan_in_pieces(text, &[cut]).ok(), scanned, "cut at {cut}: {:?}", String::from_utf8_lossy(text));
    }
}

#[test]
fn accepts_and_refuses_what_serde_json_does() {
    let cases: &[&str] = &[
        r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":10,"stream":true}"#,
        " { \"model\" : \"p:m\\u00e9\" , \"messages\" : [ 1 , -2.5e+3 , 0 , -0 , 1E9 , 0.25 ] } \n",
        r#"{"a":{"model":1},"model":"x","b":[{"messages":[]}]}"#,
        r#"{"mod\u0065l":"escaped key","max_tokens":7}"#,
        r#"{"model":"a","mod\u0065l":"b"}"#,
        r#"{"model":"a","model":"b"}"#,
        r#"{"messages":null,"stream":false,"x":[true,false,null,{},[],""]}"#,
        r#"{"s":"\"\\\/\b\f\n\r\t\u0000\uD83D\uDE00\ud800"}"#,
        r#"{"\ud800":1}"#,
        r#"{"a":[[]],"b":{"c":{}}}"#,
        "{}",
        "{\"a\":\"\u{7f}é😀\"}",
        "",
        "   ",
        "[1]",
        "\"s\"",
        "{",
        "{\"a\"",
        "{\"a\":",
        "{\"a\":1",
        "{\"a\":1,}",
        "{\"a\":[1,]}",
        "{\"a\":[,1]}",
        "{\"a\" 1}",
        "{\"a\":1 \"b\":2}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":-}",
        "{\"a\":1e}",
        "{\"a\":1e+}",
        "{\"a\":+1}",
        "{\"a\":tru}",
        "{\"a\":truex}",
        "{\"a\":nul}",
        "{\"a\":NaN}",
        "{\"a\":\"\\q\"}",
        "{\"a\":\"\\u12G4\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":\"nl\nhere\"}",
        "{\"a\":\"unterminated}",
        "{\"a\":1} x",
        "{\"a\":1}{}",
        "{'a':1}",
        "{a:1}",
        "{\"a\":[1}",
        "{\"a\":{]}",
        "{\"a\":1]",
        "\u{feff}{}",
    ];
    for case in cases {
        agrees(case.as_bytes());
    }
    agrees(b"{\"a\":\"\xff\"}");
    agrees(b"{\"a\":\"\xc3\"}");
    agrees(b"{\"a\":\xc3\xa9}");
}

#[test]
fn errors_say_what_is_wrong_and_where() {
    assert_eq!(scan(b" \n").unwrap_err(), ScanError::Empty);
    assert_eq!(scan(b" [1]").unwrap_err(), ScanError::NotAnObject);
    assert_eq!(
        scan(br#"{"a":1,}"#).unwrap_err().to_string(),
        "request body is not valid JSON: expected a member name in double quotes at byte 7"
    );
    assert_eq!(
        scan(br#"{"model":"a","model":"b"}"#).unwrap_err().to_string(),
        "model: appears more than once in the request body"
    );
    assert!(scan(b"{\"a\":\"x\x01\"}").unwrap_err().to_string().contains("control character"));
    assert_eq!(scan(b"{\"a\":\"\xff\"}").unwrap_err(), ScanError::NotUtf8 { at: 6 });
}

#[test]
fn spans_cover_each_located_value_exactly() {
    let text = br#"{ "stream" : true , "model":"a:b", "x":{"model":1}, "messages" :[ {"c":"]"} ] , "max_tokens":12 }"#;
    let located = scan(text).unwrap();
    let get = |m| located.span(m).map(|r| std::str::from_utf8(&text[r]).unwrap().to_string());
    assert_eq!(get(Member::Model).as_deref(), Some(r#""a:b""#));
    assert_eq!(get(Member::Messages).as_deref(), Some(r#"[ {"c":"]"} ]"#));
    assert_eq!(get(Member::MaxTokens).as_deref(), Some("12"));
    assert_eq!(get(Member::Stream).as_deref(), Some("true"));
}

fn nested(levels: usize) -> String {
    format!(r#"{{"a":{}1{}}}"#, "[".repeat(levels - 1), "]".repeat(levels - 1))
}

#[test]
fn nesting_is_bounded_at_the_limit() {
    assert!(scan(nested(MAX_DEPTH).as_bytes()).is_ok());
    assert_eq!(scan(nested(MAX_DEPTH + 1).as_bytes()).unwrap_err(), ScanError::TooDeep);
    // Refused as soon as the offending piece arrives, whatever follows.
    let mut scan = JsonScan::default();
    scan.feed(br#"{"a":"[[[[","b":"#).unwrap();
    assert_eq!(scan.feed("[".repeat(MAX_DEPTH).as_bytes()).unwrap_err(), ScanError::TooDeep);
}

#[test]
fn escapes_and_words_split_across_pieces_are_carried_over() {
    let text = br#"{"model":"a\"\\\u00e9b","messages":[true,false,null,-12.5e-3],"max_tokens":100}"#;
    for a in 0..text.len() {
        for b in a..text.len() {
            assert_eq!(scan_in_pieces(text, &[a, b]), scan(text), "cuts {a} {b}");
        }
    }
}

fn ws() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", "", " ", "\n", "\t ", "\r\n  "])
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,6}".prop_map(|s| serde_json::Value::String(s).to_string()),
        prop::sample::select(vec![r#""a\u00e9\n\"\\\/""#, r#""\uD83D\uDE00""#, r#""\ud800""#, r#""""#])
            .prop_map(String::from),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| serde_json::json!(f).to_string()),
        prop::sample::select(vec!["-0", "1e10", "2.5E-3", "0.0", "true", "false", "null", "[]", "{}"])
            .prop_map(String::from),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "model",
            "messages",
            "max_tokens",
            "stream",
            "system",
            "tools",
            r"mod\u0065l",
            "a",
            r"b\n",
            ""
        ])
        .prop_map(|k| format!("\"{k}\"")),
        "\\PC{0,4}".prop_map(|s| serde_json::Value::String(s).to_string()),
    ]
}

/// JSON texts with located members (sometimes twice), escapes, every kind of value and assorted whitespace.
fn object_text() -> impl Strategy<Value = String> {
    let value = leaf().prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec((ws(), inner.clone(), ws()), 0..4).prop_map(|v| format!(
                "[{}]",
                v.iter().map(|(a, x, b)| format!("{a}{x}{b}")).collect::<Vec<_>>().join(",")
            )),
            prop::collection::vec((key(), ws(), inner), 0..4).prop_map(|v| {
                format!("{{{}}}", v.iter().map(|(k, w, x)| format!("{k}{w}:{w}{x}")).collect::<Vec<_>>().join(","))
            }),
        ]
    });
    (ws(), prop::collection::vec((key(), ws(), value), 0..6)).prop_map(|(w, members)| {
        let body: Vec<String> = members.iter().map(|(k, w, x)| format!("{w}{k}{w}:{w}{x}{w}")).collect();
        format!("{w}{{{}}}{w}", body.join(","))
    })
}

/// One byte inserted, replaced or removed: most such texts are broken in some way serde_json names.
fn mutate(text: &str, at: prop::sample::Index, op: u8, byte: u8) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    let i = at.index(bytes.len() + 1);
    match op % 3 {
        0 => bytes.insert(i, byte),
        1 if i < bytes.len() => bytes[i] = byte,
        _ if i < bytes.len() => {
            bytes.remove(i);
        }
        _ => bytes.push(byte),
    }
    bytes
}

/// Bytes around the ends of a plain run: quotes, backslashes, control characters, and bytes outside ASCII.
fn string_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(b"ab \"\\\x00\x1f\x20\x7f\x80\xff".to_vec()), 0..80)
}

fn cut_points() -> impl Strategy<Value = Vec<prop::sample::Index>> {
    prop::collection::vec(any::<prop::sample::Index>(), 0..5)
}

const NOISE: &[u8] = b"{}[],:\"\\ /0123456789-+.eEtrufalsnu\x00\x1f\t\n\x7f\xc3\xa9\xffab";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn plain_runs_end_at_the_first_quote_backslash_or_control(text in string_bytes(), skip in 0usize..40) {
        let text = &text[skip.min(text.len())..];
        let end = text.iter().position(|&b| ends_plain(b)).unwrap_or(text.len());
        prop_assert_eq!(plain_run(text), (end, text[..end].iter().any(|&b| b >= 0x80)));
    }

    #[test]
    fn agrees_with_serde_json_on_generated_texts(text in object_text(), cuts in cut_points()) {
        let cuts: Vec<usize> = cuts.iter().map(|c| c.index(text.len() + 1)).collect();
        prop_assert_eq!(scan_in_pieces(text.as_bytes(), &cuts).ok(), oracle(text.as_bytes()), "{}", text);
    }

    #[test]
    fn agrees_with_serde_json_on_broken_texts(
        text in object_text(),
        at in any::<prop::sample::Index>(),
        op in any::<u8>(),
        byte in prop::sample::select(NOISE),
        cuts in cut_points(),
    ) {
        let text = mutate(&text, at, op, byte);
        let cuts: Vec<usize> = cuts.iter().map(|c| c.index(text.len() + 1)).collect();
        prop_assert_eq!(scan_in_pieces(&text, &cuts).ok(), oracle(&text), "{}", String::from_utf8_lossy(&text));
    }
}
