//! AWS event-stream framing (`application/vnd.amazon.eventstream`), as
//! Bedrock Runtime streams its responses.
//!
//! Frames are written by `aws-smithy-eventstream`, so preludes and CRCs are
//! exactly what the AWS SDKs expect. Header order follows the recordings:
//! events carry `:event-type`, `:content-type`, `:message-type`; exceptions
//! carry `:message-type`, `:exception-type`, `:content-type`.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use aws_smithy_types::str_bytes::StrBytes;
use bytes::Bytes;

/// The media type of a Bedrock event stream.
pub(crate) const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

fn string_header(name: &'static str, value: &str) -> Header {
    Header::new(name, HeaderValue::String(StrBytes::from(value.to_owned())))
}

fn encode(message: &Message) -> Vec<u8> {
    let mut buffer = Vec::new();
    // Only oversized frames (16 MiB) fail, which our payloads never are.
    if let Err(error) = write_message_to(message, &mut buffer) {
        tracing::warn!(%error, "fakecloud could not frame an event-stream message");
        buffer.clear();
    }
    buffer
}

/// One `:message-type: event` frame with a JSON payload.
pub(crate) fn event_frame(event_type: &str, payload: &str) -> Vec<u8> {
    let message = Message::new(Bytes::copy_from_slice(payload.as_bytes()))
        .add_header(string_header(":event-type", event_type))
        .add_header(string_header(":content-type", "application/json"))
        .add_header(string_header(":message-type", "event"));
    encode(&message)
}

/// One `:message-type: exception` frame, the way Bedrock reports an error
/// after the stream has started.
pub(crate) fn exception_frame(exception_type: &str, payload: &str) -> Vec<u8> {
    let message = Message::new(Bytes::copy_from_slice(payload.as_bytes()))
        .add_header(string_header(":message-type", "exception"))
        .add_header(string_header(":exception-type", exception_type))
        .add_header(string_header(":content-type", "application/json"));
    encode(&message)
}

/// The characters Bedrock's `"p"` padding is cut from: always a prefix of
/// this run, of varying length, so a payload's size says nothing about its
/// content.
const PADDING_ALPHABET: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Produces the `"p"` values of one stream: random-looking lengths that
/// differ between streams, without a random-number crate.
pub(crate) struct Padding {
    state: u64,
}

impl Padding {
    pub(crate) fn new() -> Self {
        // RandomState is seeded randomly per instance; `| 1` keeps xorshift
        // away from its all-zero fixed point.
        Self {
            state: RandomState::new().hash_one(0u8) | 1,
        }
    }

    /// The next padding, 1 to 62 characters.
    pub(crate) fn next_padding(&mut self) -> &'static str {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let length = usize::try_from(self.state % 62).unwrap_or(0) + 1;
        &PADDING_ALPHABET[..length]
    }
}

#[cfg(test)]
mod tests {
    use aws_smithy_eventstream::frame::read_message_from;

    use super::*;

    fn header<'a>(message: &'a Message, name: &str) -> &'a str {
        message
            .headers()
            .iter()
            .find(|header| header.name().as_str() == name)
            .and_then(|header| header.value().as_string().ok())
            .map(StrBytes::as_str)
            .unwrap_or_else(|| panic!("no header {name}"))
    }

    #[test]
    fn frames_read_back_with_their_headers() {
        let frame = event_frame("messageStart", r#"{"p":"abc","role":"assistant"}"#);
        let message = read_message_from(Bytes::from(frame)).expect("a valid frame");
        assert_eq!(header(&message, ":event-type"), "messageStart");
        assert_eq!(header(&message, ":message-type"), "event");
        assert_eq!(header(&message, ":content-type"), "application/json");
        assert_eq!(&message.payload()[..], br#"{"p":"abc","role":"assistant"}"#);

        let frame = exception_frame("throttlingException", r#"{"message":"slow down"}"#);
        let message = read_message_from(Bytes::from(frame)).expect("a valid frame");
        assert_eq!(header(&message, ":message-type"), "exception");
        assert_eq!(header(&message, ":exception-type"), "throttlingException");
    }

    #[test]
    fn exception_frame_matches_the_recorded_bytes() {
        // Same headers, order and payload as the recorded synthetic frame.
        let recorded = std::fs::read(
            crate::stream::replay::find_fixtures_dir(None)
                .expect("fixtures")
                .join("bedrock_exception_modelStreamError.bin"),
        )
        .expect("fixture");
        let payload =
            r#"{"message":"Model Stream Error","originalStatusCode":500,"originalMessage":"The model stream failed."}"#;
        assert_eq!(exception_frame("modelStreamErrorException", payload), recorded);
    }

    #[test]
    fn padding_is_a_prefix_of_varying_length() {
        let mut padding = Padding::new();
        let lengths: std::collections::HashSet<usize> = (0..50)
            .map(|_| {
                let value = padding.next_padding();
                assert!(PADDING_ALPHABET.starts_with(value) && !value.is_empty());
                value.len()
            })
            .collect();
        assert!(lengths.len() > 5, "{lengths:?}");
    }
}
