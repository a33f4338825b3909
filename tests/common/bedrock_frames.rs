//! Reading a Bedrock-dialect answer in tests: every AWS event-stream frame of a body, decoded (CRCs checked) by
//! the codec's decoder, as Bedrock events.

use gatehouse::cloud::eventstream::{bedrock_event, BedrockEvent, Decoder};
use serde_json::Value;

/// Every frame of `body` as a Bedrock event; panics on a bad frame or a partial one at the end.
pub fn frames(body: &[u8]) -> Vec<BedrockEvent> {
    let mut decoder = Decoder::new();
    decoder.push(body);
    let mut out = Vec::new();
    while let Some(frame) = decoder.next_frame() {
        let frame = frame.unwrap_or_else(|e| panic!("frame {}: {e}", out.len()));
        out.push(bedrock_event(&frame).expect("a Bedrock event"));
    }
    assert_eq!(decoder.pending(), 0, "the body ends with a whole frame");
    out
}

/// The Anthropic event a `chunk` frame carries.
pub fn chunk_json(event: &BedrockEvent) -> Value {
    match event {
        BedrockEvent::Chunk(bytes) => serde_json::from_slice(bytes).expect("a chunk carries JSON"),
        other => panic!("not a chunk: {other:?}"),
    }
}
