//! String contents, where most of a request body's bytes are: finding the end of a run of plain characters fast.

/// The bytes that may follow a backslash on their own (`\u` takes four hex digits). A table rather than a `match`:
/// this runs once per escape, and a long text has thousands.
pub(super) const SHORT_ESCAPES: [bool; 256] = {
    let mut table = [false; 256];
    let mut k = 0;
    let short = *b"\"\\/bfnrt";
    while k < short.len() {
        table[short[k] as usize] = true;
        k += 1;
    }
    table
};

/// Whether `b` ends a run of plain string content: a quote, a backslash or a control character.
pub(super) fn ends_plain(b: u8) -> bool {
    (b == b'"') | (b == b'\\') | (b < 0x20)
}

/// The length of the run of plain string content at the start of `text`, and whether it holds a byte outside ASCII.
/// This is where a request body's bytes go (most of them are string contents), so on x86_64 it tests 16 bytes at a
/// time with SSE2 (part of the x86_64 baseline) and finds the run's end from a bit mask; the bytes past the last
/// whole block, and other architectures, go byte by byte.
pub(super) fn plain_run(text: &[u8]) -> (usize, bool) {
    let mut i = 0;
    let mut high = false;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is enabled on every x86_64 target; each load reads the 16 bytes at `i..i + 16`, which the loop
        // condition keeps inside `text` (unaligned loads are allowed).
        unsafe {
            let quote = _mm_set1_epi8(b'"' as i8);
            let backslash = _mm_set1_epi8(b'\\' as i8);
            let below_space = _mm_set1_epi8(0x1f);
            while i + 16 <= text.len() {
                let block = _mm_loadu_si128(text.as_ptr().add(i).cast());
                let control = _mm_cmpeq_epi8(_mm_min_epu8(block, below_space), block);
                let ends =
                    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(block, quote), _mm_cmpeq_epi8(block, backslash)), control);
                let ends = _mm_movemask_epi8(ends) as u32;
                let high_bits = _mm_movemask_epi8(block) as u32;
                if ends != 0 {
                    let run = ends.trailing_zeros();
                    return (i + run as usize, high || high_bits & ((1 << run) - 1) != 0);
                }
                high |= high_bits != 0;
                i += 16;
            }
        }
    }
    while let Some(&b) = text.get(i) {
        if ends_plain(b) {
            break;
        }
        high |= b >= 0x80;
        i += 1;
    }
    (i, high)
}
