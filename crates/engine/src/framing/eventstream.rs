//! AWS event-stream framing (`application/vnd.amazon.eventstream`), the binary framing Bedrock
//! streams in: bytes in, whole messages (headers and payload) out.
//!
//! Network reads split frames anywhere, so bytes are buffered until a frame's `total_len` bytes
//! are in; `aws-smithy-eventstream` then parses the frame and checks both of its CRC32s. The
//! prelude's own CRC is also checked here as soon as its 12 bytes arrive, so a corrupt length is
//! reported at once instead of waiting for megabytes that will never come. Corrupt input is an
//! [`EventStreamError`] and ends the stream: after a bad frame nothing that follows can be
//! trusted to start on a frame boundary. What the messages mean (events, exceptions) is the
//! Bedrock provider's business, not this module's; signing outgoing messages is left out.

use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::{Bytes, BytesMut};

/// `total_len`, `headers_len` and the prelude CRC, each a big-endian `u32`.
const PRELUDE_LEN: usize = 12;
/// A frame with no headers and no payload: the prelude plus the message CRC.
const MIN_FRAME_LEN: usize = PRELUDE_LEN + 4;
/// The largest frame AWS event streams allow (16 MiB); anything longer is a corrupt length.
const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// One decoded message.
#[derive(Clone, Debug, PartialEq)]
pub struct EventStreamMessage {
    message: Message,
}

impl EventStreamMessage {
    /// Headers in wire order (the order varies between frames; look them up by name).
    pub fn headers(&self) -> &[Header] {
        self.message.headers()
    }

    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers()
            .iter()
            .find(|header| header.name().as_str() == name)
            .map(Header::value)
    }

    /// A header's value when it is a string (`:message-type`, `:event-type`, ...).
    pub fn string_header(&self, name: &str) -> Option<&str> {
        self.header(name)
            .and_then(|value| value.as_string().ok())
            .map(|value| value.as_str())
    }

    pub fn payload(&self) -> &Bytes {
        self.message.payload()
    }
}

/// Input that is not a valid event stream, or that ended inside a frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("event-stream frame {frame} (at byte {offset}): {reason}")]
pub struct EventStreamError {
    /// 0-based number of the frame that failed.
    pub frame: u64,
    /// Where that frame starts in the body.
    pub offset: u64,
    pub reason: String,
}

/// Streaming decoder. Feed it the body's bytes in any pieces.
#[derive(Debug, Default)]
pub struct EventStreamDecoder {
    buffer: BytesMut,
    frames: u64,
    offset: u64,
    failed: bool,
}

impl EventStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds raw bytes; each complete message, or the error that ends the stream, goes to
    /// `out`. After an error further input is ignored.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Result<EventStreamMessage, EventStreamError>>) {
        if self.failed {
            return;
        }
        self.buffer.extend_from_slice(bytes);
        while let Some(result) = self.next_frame() {
            let failed = result.is_err();
            out.push(result);
            if failed {
                self.failed = true;
                self.buffer.clear();
                return;
            }
        }
    }

    /// The body ended. Bytes left over are a frame cut short.
    pub fn finish(&mut self) -> Result<(), EventStreamError> {
        if self.failed || self.buffer.is_empty() {
            return Ok(());
        }
        let reason = match frame_length(&self.buffer) {
            Some(total) => format!(
                "the stream ended inside a frame ({} of its {total} bytes arrived)",
                self.buffer.len()
            ),
            None => format!(
                "the stream ended inside a frame's prelude ({} of {PRELUDE_LEN} bytes arrived)",
                self.buffer.len()
            ),
        };
        self.failed = true;
        self.buffer.clear();
        Err(self.error(reason))
    }

    fn next_frame(&mut self) -> Option<Result<EventStreamMessage, EventStreamError>> {
        let total = frame_length(&self.buffer)?;
        let stated = u32::from_be_bytes([self.buffer[8], self.buffer[9], self.buffer[10], self.buffer[11]]);
        let computed = crc32(&self.buffer[..8]);
        if stated != computed {
            return Some(Err(self.error(format!(
                "prelude checksum mismatch (computed {computed:#010x}, frame says {stated:#010x})"
            ))));
        }
        if !(MIN_FRAME_LEN..=MAX_FRAME_LEN).contains(&total) {
            return Some(Err(self.error(format!(
                "impossible frame length {total} (must be {MIN_FRAME_LEN} to {MAX_FRAME_LEN} bytes)"
            ))));
        }
        if self.buffer.len() < total {
            return None;
        }
        let frame = self.buffer.split_to(total).freeze();
        let result = aws_smithy_eventstream::frame::read_message_from(frame)
            .map(|message| EventStreamMessage { message })
            .map_err(|error| self.error(error.to_string()));
        self.frames += 1;
        self.offset += total as u64;
        Some(result)
    }

    fn error(&self, reason: String) -> EventStreamError {
        EventStreamError {
            frame: self.frames,
            offset: self.offset,
            reason,
        }
    }
}

/// The frame's `total_len`, once the prelude is in.
fn frame_length(buffer: &[u8]) -> Option<usize> {
    let prelude: &[u8; PRELUDE_LEN] = buffer.get(..PRELUDE_LEN)?.try_into().ok()?;
    let total = u32::from_be_bytes([prelude[0], prelude[1], prelude[2], prelude[3]]);
    usize::try_from(total).ok()
}

/// CRC-32 (IEEE 802.3, the zlib one) of the 8 prelude bytes. `aws-smithy-eventstream` checks it
/// too, but only once the whole frame is in, which is too late when the length itself is corrupt.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::Value;

    use super::*;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/streams")
    }

    fn decode_pieces(
        body: &[u8],
        cuts: &[usize],
    ) -> (
        Vec<Result<EventStreamMessage, EventStreamError>>,
        Result<(), EventStreamError>,
    ) {
        let mut decoder = EventStreamDecoder::new();
        let mut out = Vec::new();
        let mut start = 0;
        for &cut in cuts {
            decoder.feed(&body[start..cut], &mut out);
            start = cut;
        }
        decoder.feed(&body[start..], &mut out);
        let end = decoder.finish();
        (out, end)
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|index| u8::from_str_radix(&text[index..index + 2], 16).expect("hex"))
            .collect()
    }

    /// A decoded header in the test vectors' own notation.
    fn header_as_json(value: &HeaderValue) -> (&'static str, Value) {
        match value {
            HeaderValue::Bool(true) => ("boolean_true(0)", Value::Bool(true)),
            HeaderValue::Bool(false) => ("boolean_false(1)", Value::Bool(false)),
            HeaderValue::Byte(value) => ("byte(2)", (*value).into()),
            HeaderValue::Int16(value) => ("short(3)", (*value).into()),
            HeaderValue::Int32(value) => ("integer(4)", (*value).into()),
            HeaderValue::Int64(value) => ("long(5)", (*value).into()),
            HeaderValue::ByteArray(bytes) => ("binary(6)", String::from_utf8_lossy(bytes).into()),
            HeaderValue::String(text) => ("string(7)", text.as_str().into()),
            HeaderValue::Timestamp(time) => ("timestamp(8)", time.to_millis().expect("millis").into()),
            HeaderValue::Uuid(value) => {
                let hex = format!("{value:032x}");
                let uuid = format!(
                    "{}-{}-{}-{}-{}",
                    &hex[0..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..32]
                );
                ("uuid(9)", uuid.into())
            }
            other => panic!("unexpected header value {other:?}"),
        }
    }

    #[test]
    fn every_aws_test_vector_decodes_or_fails_as_specified() {
        let text = std::fs::read_to_string(fixtures().join("aws_eventstream_test_vectors.json")).expect("vectors");
        let vectors: Value = serde_json::from_str(&text).expect("json");
        let vectors = vectors["vectors"].as_object().expect("vectors object");
        assert_eq!(vectors.len(), 9);
        for (name, vector) in vectors {
            let bytes = hex(vector["encoded_hex"].as_str().expect("hex"));
            for cuts in [vec![], (1..bytes.len()).collect::<Vec<_>>()] {
                let (out, end) = decode_pieces(&bytes, &cuts);
                match vector["expectation"].as_str() {
                    Some("success") => {
                        assert_eq!(end, Ok(()), "{name}");
                        assert_eq!(out.len(), 1, "{name}: one message");
                        let message = out[0].as_ref().expect("decodes");
                        let want = &vector["decoded"];
                        assert_eq!(
                            message.payload().as_ref(),
                            want["body_utf8"].as_str().expect("body").as_bytes(),
                            "{name}: payload"
                        );
                        let want_headers = want["headers"].as_object().expect("headers");
                        assert_eq!(message.headers().len(), want_headers.len(), "{name}: header count");
                        for header in message.headers() {
                            let expected = &want_headers[header.name().as_str()];
                            let (kind, value) = header_as_json(header.value());
                            assert_eq!(expected["type"], kind, "{name}: {}", header.name().as_str());
                            let expected_value = expected
                                .get("value")
                                .or_else(|| expected.get("value_utf8"))
                                .or_else(|| expected.get("value_epoch_millis"))
                                .expect("a value");
                            assert_eq!(&value, expected_value, "{name}: {}", header.name().as_str());
                        }
                    }
                    Some("failure") => {
                        assert_eq!(out.len(), 1, "{name}: the error, and nothing else");
                        let error = out[0].as_ref().expect_err("corrupt input is an error");
                        assert!(error.reason.contains("checksum"), "{name}: {error}");
                        assert_eq!((error.frame, error.offset), (0, 0), "{name}");
                        assert_eq!(end, Ok(()), "{name}: the error is reported once");
                    }
                    other => panic!("{name}: unknown expectation {other:?}"),
                }
            }
        }
    }

    #[test]
    fn recordings_decode_identically_however_they_are_split() {
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).expect("expected"))
                .expect("json");
        let mut checked = 0;
        for (name, want) in expected.as_object().expect("object") {
            let Some(stem) = name.strip_suffix(".b64").filter(|stem| stem.starts_with("bedrock_")) else {
                continue;
            };
            let body = std::fs::read(fixtures().join(format!("{stem}.bin"))).expect("recording");
            let (whole, end) = decode_pieces(&body, &[]);
            assert_eq!(end, Ok(()), "{name}");
            let messages: Vec<&EventStreamMessage> = whole
                .iter()
                .map(|result| result.as_ref().expect("valid frame"))
                .collect();
            assert_eq!(
                messages.len() as u64,
                want["frames"].as_u64().expect("frames"),
                "{name}"
            );
            let types: Vec<&str> = messages
                .iter()
                .map(|message| {
                    message
                        .string_header(":event-type")
                        .or_else(|| message.string_header(":exception-type"))
                        .expect("a type header")
                })
                .collect();
            let want_types: Vec<&str> = want["event_types"]
                .as_array()
                .expect("types")
                .iter()
                .map(|kind| kind.as_str().expect("type"))
                .collect();
            assert_eq!(types, want_types, "{name}");
            for cut in 1..body.len() {
                assert_eq!(
                    decode_pieces(&body, &[cut]),
                    (whole.clone(), Ok(())),
                    "{name}: split at {cut}"
                );
            }
            let every_byte: Vec<usize> = (1..body.len()).collect();
            assert_eq!(
                decode_pieces(&body, &every_byte),
                (whole.clone(), Ok(())),
                "{name}: byte by byte"
            );
            checked += 1;
        }
        assert_eq!(checked, 6, "every Bedrock recording");
    }

    #[test]
    fn a_body_cut_inside_a_frame_is_an_error_at_the_end() {
        let body = std::fs::read(fixtures().join("bedrock_converse_stream_nova.bin")).expect("recording");
        let (whole, _) = decode_pieces(&body, &[]);
        let first_len = frame_length(&body).expect("prelude");
        for cut in [5, first_len + 3, first_len + 20] {
            let (out, end) = decode_pieces(&body[..cut], &[]);
            assert_eq!(out.len(), usize::from(cut > first_len), "cut at {cut}");
            assert_eq!(out.first(), whole.first().filter(|_| cut > first_len));
            let error = end.expect_err("a cut frame");
            assert!(error.reason.contains("ended inside a frame"), "{error}");
            assert_eq!(error.frame, u64::from(cut > first_len));
        }
    }

    #[test]
    fn corruption_anywhere_is_an_error_and_never_a_panic() {
        let body = std::fs::read(fixtures().join("bedrock_converse_stream_tool_use.bin")).expect("recording");
        let (whole, _) = decode_pieces(&body, &[]);
        // Flip each bit of the first two frames (prelude, headers, payload, CRCs): every flip must
        // be caught by one of the two CRCs, with the frames before it intact.
        let second_end = {
            let first = frame_length(&body).expect("first");
            first + frame_length(&body[first..]).expect("second")
        };
        for position in 0..second_end {
            for bit in 0..8 {
                let mut corrupt = body.clone();
                corrupt[position] ^= 1 << bit;
                let (out, end) = decode_pieces(&corrupt, &[]);
                let errors: Vec<&EventStreamError> = out
                    .iter()
                    .filter_map(|result| result.as_ref().err())
                    .chain(end.as_ref().err())
                    .collect();
                assert_eq!(errors.len(), 1, "flip {position}:{bit}");
                let good = out.iter().take_while(|result| result.is_ok()).count();
                assert_eq!(&out[..good], &whole[..good], "flip {position}:{bit}");
            }
        }
        // Lengths that cannot be: shorter than a frame, longer than AWS allows.
        for total in [0u32, 15, 17 * 1024 * 1024] {
            let mut prelude = Vec::from(total.to_be_bytes());
            prelude.extend_from_slice(&0u32.to_be_bytes());
            prelude.extend_from_slice(&crc32(&prelude).to_be_bytes());
            let (out, _) = decode_pieces(&prelude, &[]);
            let error = out[0].as_ref().expect_err("impossible length");
            assert!(error.reason.contains("impossible frame length"), "{error}");
        }
    }

    #[test]
    fn frames_with_valid_checksums_but_garbage_inside_never_panic() {
        // A small deterministic generator (xorshift) so failures reproduce.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..5000 {
            let headers_len = (next() % 40) as u32;
            let payload_len = (next() % 20) as u32;
            let total = 16 + headers_len + payload_len;
            let mut frame = Vec::from(total.to_be_bytes());
            frame.extend_from_slice(&headers_len.to_be_bytes());
            frame.extend_from_slice(&crc32(&frame).to_be_bytes());
            for _ in 0..headers_len + payload_len {
                // Mostly small values, so header names, types and lengths are often plausible.
                frame.push((next() % 12) as u8);
            }
            frame.extend_from_slice(&crc32(&frame).to_be_bytes());
            let (out, end) = decode_pieces(&frame, &[]);
            assert_eq!(out.len(), 1);
            assert_eq!(end, Ok(()));
        }
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
