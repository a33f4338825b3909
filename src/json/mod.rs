//! Byte-level JSON, for the places where parsing a whole text into a tree would cost more than the answer is
//! worth: validating a request body as it arrives ([`scan`]), finding one top-level member of an answer
//! ([`member`]), and the number grammar both those and the streamed tool-input validator share ([`number`]).

pub mod member;
pub mod number;
pub mod scan;
