//! The event-stream decoder (Bedrock's frames) on arbitrary bytes, split at input-chosen points: it must never
//! panic, splitting must change neither the frames nor the error, reading a frame as a Bedrock event must never
//! panic, and every frame it accepts re-encodes (chunk payloads) to a frame that decodes to the same event.
#![no_main]

use gatehouse::cloud::eventstream::{bedrock_event, encode_chunk, BedrockEvent, Decoder};
use libfuzzer_sys::fuzz_target;

fn decode(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Option<String>) {
    let mut decoder = Decoder::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        decoder.push(chunk);
        while let Some(frame) = decoder.next_frame() {
            match frame {
                Ok(message) => {
                    let event = bedrock_event(&message);
                    if let Ok(BedrockEvent::Chunk(bytes)) = &event {
                        let mut again = Decoder::new();
                        again.push(&encode_chunk(bytes));
                        let decoded = again.next_frame().expect("a whole frame").expect("a valid frame");
                        assert_eq!(bedrock_event(&decoded).ok(), event.clone().ok());
                    }
                    frames.push(format!("{event:?}").into_bytes());
                }
                Err(e) => return (frames, Some(e.to_string())),
            }
        }
    }
    (frames, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let chunk_size = usize::from(control) + 1;
    let whole = decode(&[body]);
    let chunks: Vec<&[u8]> = body.chunks(chunk_size).collect();
    assert_eq!(whole, decode(&chunks));
});
