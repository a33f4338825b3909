//! The OpenAI → Anthropic stream converter on arbitrary upstream bytes: it
//! must never panic, must always finish with a stream an Anthropic client
//! accepts (the test suite's invariant checker), and its output must not
//! depend on how the upstream bytes were chunked.
#![no_main]

#[path = "../../tests/support/invariants.rs"]
mod invariants;

use bytes::BytesMut;
use gatehouse::convert::StreamConvert;
use gatehouse::convert::{StreamConverter, ToolNames};
use libfuzzer_sys::fuzz_target;

fn convert(chunks: &[&[u8]]) -> BytesMut {
    let mut names = ToolNames::new(true);
    for name in ["Read", "mcp__fs.read_file"] {
        let _ = names.register(name);
    }
    let mut converter = StreamConverter::new("claude-fuzz".into(), "msg_fuzz".into(), names);
    let mut out = BytesMut::new();
    for chunk in chunks {
        converter.push(chunk, &mut out);
    }
    converter.finish(&mut out);
    assert!(converter.is_finished());
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let chunk_size = usize::from(control) + 1;
    let whole = convert(&[body]);
    if let Err(violation) = invariants::check_anthropic_stream(&whole) {
        panic!("{violation}\n{}", String::from_utf8_lossy(&whole));
    }
    let chunks: Vec<&[u8]> = body.chunks(chunk_size).collect();
    assert_eq!(whole, convert(&chunks));
});
