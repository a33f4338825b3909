//! The hop count that stops request loops: every request gatehouse sends upstream carries `x-gatehouse-hops`,
//! one more than the request it serves carried (none counts as 0), and a request that arrives having already
//! passed [`MAX_HOPS`] gateways is refused with 508 Loop Detected. A base URL that leads back to the gateway —
//! directly under a name the self-loop check cannot see through, or through other gateways — then costs a few
//! requests instead of looping until something runs out.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

/// The hop header's name.
pub const HOPS_HEADER: &str = "x-gatehouse-hops";

/// The header as a `HeaderName` (a `&str` lookup of a non-standard name would build one per call).
pub const HOPS: HeaderName = HeaderName::from_static(HOPS_HEADER);

/// How many gateways a request may have passed before this one. Legitimate chains (a team gateway in front of a
/// company gateway) are two or three deep.
pub const MAX_HOPS: u32 = 5;

/// The hops a request has made, as its `x-gatehouse-hops` header says (0 without one). `Err` for a value that is
/// not a small whole number (or several headers): the message says what is wrong.
pub fn hops(headers: &HeaderMap) -> Result<u32, String> {
    let mut values = headers.get_all(&HOPS);
    let Some(value) = values.next() else { return Ok(0) };
    match values.next() {
        None => hop_count(value),
        Some(_) => Err(hop_count_error()),
    }
}

/// One `x-gatehouse-hops` value as a count.
pub fn hop_count(value: &HeaderValue) -> Result<u32, String> {
    std::str::from_utf8(value.as_bytes()).ok().and_then(|v| v.trim().parse::<u32>().ok()).ok_or_else(hop_count_error)
}

/// What is wrong with a malformed hop count.
pub fn hop_count_error() -> String {
    format!("{HOPS_HEADER}: must be one whole number (the gateways a request has passed)")
}

/// The value to send upstream for a request that arrived with `hops`: one more. No allocation for the counts a
/// request can have once past the check.
pub fn next_value(hops: u32) -> HeaderValue {
    const SMALL: [&str; 8] = ["1", "2", "3", "4", "5", "6", "7", "8"];
    match SMALL.get(hops as usize) {
        Some(v) => HeaderValue::from_static(v),
        None => HeaderValue::from(hops.saturating_add(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(HOPS, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn counts_and_refusals() {
        assert_eq!(hops(&with(&[])), Ok(0));
        assert_eq!(hops(&with(&["3"])), Ok(3));
        assert_eq!(hops(&with(&[" 2 "])), Ok(2));
        for bad in [&["x"][..], &["-1"], &["1", "2"], &[""], &["99999999999"]] {
            assert!(hops(&with(bad)).unwrap_err().contains(HOPS_HEADER), "{bad:?}");
        }
    }

    #[test]
    fn next_is_one_more() {
        for n in [0u32, 1, 4, 7, 8, 41, u32::MAX] {
            assert_eq!(next_value(n).to_str().unwrap(), n.saturating_add(1).to_string());
        }
    }
}
