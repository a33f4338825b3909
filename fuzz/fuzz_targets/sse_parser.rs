//! The SSE parser on arbitrary bytes, split at input-chosen points: it must
//! never panic, and the split must not change the events or the error.
#![no_main]

use gatehouse::sse::{SseEvent, SseParser};
use libfuzzer_sys::fuzz_target;

fn parse(chunks: &[&[u8]], limit: usize) -> (Vec<SseEvent>, bool) {
    let mut parser = SseParser::new(limit);
    let mut events = Vec::new();
    for chunk in chunks {
        if parser.push(chunk, &mut events).is_err() {
            return (events, true);
        }
    }
    parser.finish(&mut events);
    (events, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    // The first byte picks the event-size limit and the chunk size.
    let limit = usize::from(control % 64) * 8 + 1;
    let chunk_size = usize::from(control / 64) * 3 + 1;
    let whole = parse(&[body], limit);
    let chunks: Vec<&[u8]> = body.chunks(chunk_size).collect();
    assert_eq!(whole, parse(&chunks, limit));
});
