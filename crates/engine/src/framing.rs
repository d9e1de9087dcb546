//! The framing layer: bytes in, frames out, for the three framings the clouds stream in
//! (Server-Sent Events, newline-delimited JSON, AWS event-stream).
//!
//! Left out on purpose: any domain meaning. A frame is text or a binary message here; what it
//! says is the providers' business. This layer imports nothing from the rest of the crate.

pub mod eventstream;
pub mod ndjson;
pub mod sse;
