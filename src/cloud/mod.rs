//! Amazon Bedrock and Google Vertex AI plumbing that is not about the request path: the AWS event-stream codec
//! Bedrock streams are framed in ([`eventstream`]), SigV4 signing of Bedrock requests ([`sigv4`]), Google access
//! tokens for Vertex ([`google_token`]), the request and answer bodies of both clouds ([`bodies`]) and the mapping
//! of Bedrock's error names to Anthropic error types ([`bedrock_errors`]). Below `gateway`, `upstream` and `config`: it knows no configuration type.

pub mod bedrock_errors;
pub mod bodies;
pub mod eventstream;
pub mod google_token;
pub mod sigv4;
