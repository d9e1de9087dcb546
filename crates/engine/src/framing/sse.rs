//! A Server-Sent Events decoder that works on bytes.
//!
//! Network chunks split lines, `\r\n` pairs and UTF-8 characters anywhere, so bytes are buffered
//! and only complete lines are interpreted; text is decoded once per event. Follows the WHATWG
//! rules the clouds rely on: `\n`, `\r\n` or `\r` line endings, `:` comments, multi-line `data`
//! joined with `\n`, one optional space after the colon, one leading UTF-8 BOM stripped.
//! Event-type-only blocks are dropped.
//!
//! One departure, for servers that end events with a single `\n` (OCI Generative AI does,
//! sometimes): a `data:` line holding a JSON object that follows `data:` holding a whole JSON
//! object starts a new event instead of being joined to it. Joined, the two would be one
//! undecodable event; no cloud splits one JSON object over `data:` lines so that its first
//! line is a whole object.

/// One dispatched event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if any (`None` means the default "message").
    pub event: Option<String>,
    pub data: String,
    pub id: Option<String>,
}

#[derive(Debug, Default)]
pub struct SseDecoder {
    buffer: Vec<u8>,
    /// Where to resume looking for a line ending in `buffer`.
    scanned: usize,
    /// The previous chunk ended in `\r`: a leading `\n` in the next one belongs to it.
    skip_line_feed: bool,
    event: Option<String>,
    data: Vec<u8>,
    has_data: bool,
    id: Option<String>,
    /// Comment lines seen (OpenRouter's `: OPENROUTER PROCESSING` keep-alives).
    pub comments: u64,
    /// The body's first bytes were checked for a byte order mark.
    start: ByteOrderMark,
}

/// Strips one UTF-8 byte order mark from the start of a body (gateways on .NET or Java writers
/// set to "UTF-8 with BOM" send one), however the network splits it. Shared with NDJSON.
#[derive(Debug, Default)]
pub(crate) struct ByteOrderMark {
    /// The start is settled: a BOM was stripped, or the body does not start with one.
    settled: bool,
    /// How many of the BOM's bytes have arrived so far, held back until it is settled.
    held: usize,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl ByteOrderMark {
    /// The bytes to decode: `bytes` without a leading BOM, and with any bytes held back from
    /// earlier feeds that turned out not to be one.
    pub fn strip<'a>(&mut self, bytes: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        if self.settled {
            return bytes.into();
        }
        let wanted = &BOM[self.held..];
        let matching = wanted.iter().zip(bytes).take_while(|(want, got)| want == got).count();
        if matching == wanted.len() {
            self.settled = true;
            self.held = 0;
            return bytes[matching..].into();
        }
        if matching == bytes.len() {
            // Still a BOM's beginning: hold those bytes until more arrive.
            self.held += matching;
            return (&[][..]).into();
        }
        self.settled = true;
        let held = std::mem::take(&mut self.held);
        if held == 0 {
            bytes.into()
        } else {
            [&BOM[..held], bytes].concat().into()
        }
    }

    /// The body ended: bytes held back as a possible BOM were not one after all.
    pub fn finish(&mut self) -> &'static [u8] {
        self.settled = true;
        &BOM[..std::mem::take(&mut self.held)]
    }
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds raw bytes; complete events are appended to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) {
        let bytes = self.start.strip(bytes);
        self.feed_lines(&bytes, out);
    }

    fn feed_lines(&mut self, mut bytes: &[u8], out: &mut Vec<SseEvent>) {
        if self.skip_line_feed && !bytes.is_empty() {
            self.skip_line_feed = false;
            if bytes[0] == b'\n' {
                bytes = &bytes[1..];
            }
        }
        self.buffer.extend_from_slice(bytes);
        let mut line_start = 0;
        let mut index = self.scanned;
        while index < self.buffer.len() {
            let byte = self.buffer[index];
            if byte == b'\n' || byte == b'\r' {
                let line_end = index;
                index += 1;
                if byte == b'\r' {
                    if index < self.buffer.len() {
                        if self.buffer[index] == b'\n' {
                            index += 1;
                        }
                    } else {
                        self.skip_line_feed = true;
                    }
                }
                let line = std::mem::take(&mut self.buffer);
                self.process_line(&line[line_start..line_end], out);
                self.buffer = line;
                line_start = index;
            } else {
                index += 1;
            }
        }
        self.buffer.drain(..line_start);
        self.scanned = self.buffer.len();
    }

    /// Ends the stream. A final line without its newline is processed and a pending event with
    /// data is dispatched, so a body that ends without a trailing blank line loses nothing.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        let held = self.start.finish();
        self.buffer.extend_from_slice(held);
        if !self.buffer.is_empty() {
            let line = std::mem::take(&mut self.buffer);
            self.process_line(&line, out);
        }
        self.scanned = 0;
        self.dispatch(out);
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            self.comments += 1;
            return;
        }
        let (field, value) = match line.iter().position(|&byte| byte == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match field {
            b"data" => {
                if self.has_data && starts_object(value) && is_whole_object(&self.data) {
                    self.dispatch_data(out);
                }
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            b"id" => self.id = Some(String::from_utf8_lossy(value).into_owned()),
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        self.dispatch_data(out);
        self.event = None;
    }

    /// Dispatches the data gathered so far, with the event type it has (which a
    /// single-`\n`-separated event that follows keeps, as no blank line reset it).
    fn dispatch_data(&mut self, out: &mut Vec<SseEvent>) {
        if !self.has_data {
            return;
        }
        self.has_data = false;
        let data = text(std::mem::take(&mut self.data));
        out.push(SseEvent {
            event: self.event.clone(),
            data,
            id: self.id.clone(),
        });
    }
}

fn starts_object(value: &[u8]) -> bool {
    value.trim_ascii_start().first() == Some(&b'{')
}

/// `data` is one whole JSON object (checked only when a second `data:` line arrives, so
/// ordinary events never pay for it).
fn is_whole_object(data: &[u8]) -> bool {
    starts_object(data) && serde_json::from_slice::<serde::de::IgnoredAny>(data).is_ok()
}

/// An event's data as text: its own bytes when they are UTF-8 (validated at memory speed, no
/// copy), else a lossy copy with U+FFFD for what is not.
fn text(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(body: &[u8], cuts: &[usize]) -> (Vec<SseEvent>, u64) {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        let mut start = 0;
        for &cut in cuts {
            decoder.feed(&body[start..cut], &mut out);
            start = cut;
        }
        decoder.feed(&body[start..], &mut out);
        decoder.finish(&mut out);
        (out, decoder.comments)
    }

    #[test]
    fn data_that_is_not_utf8_is_kept_with_replacement_characters() {
        let (events, _) = decode_in_pieces(b"data: caf\xC3\xA9 \xFF ok\n\ndata: plain\n\n", &[]);
        let data: Vec<&str> = events.iter().map(|event| event.data.as_str()).collect();
        assert_eq!(data, ["caf\u{e9} \u{fffd} ok", "plain"]);
    }

    #[test]
    fn handles_every_line_ending_comments_and_multiline_data() {
        let body = "event: a\r\ndata: one\r\ndata:two\r\n\r\n: comment\n\ndata: x\r\rdata:  y\n\nevent: only\n\n";
        let (events, comments) = decode_in_pieces(body.as_bytes(), &[]);
        assert_eq!(comments, 1);
        assert_eq!(
            events,
            vec![
                SseEvent {
                    event: Some("a".into()),
                    data: "one\ntwo".into(),
                    id: None
                },
                SseEvent {
                    event: None,
                    data: "x".into(),
                    id: None
                },
                SseEvent {
                    event: None,
                    data: " y".into(),
                    id: None
                },
            ]
        );
    }

    #[test]
    fn every_two_way_and_three_way_split_decodes_the_same() {
        let body = "data: caf\u{e9} \u{1f604} \u{2019}\r\n\r\nevent: e\rdata: {\"a\":1}\r\r: c\n\ndata: end\n\n";
        let bytes = body.as_bytes();
        let (whole, _) = decode_in_pieces(bytes, &[]);
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[0].data, "caf\u{e9} \u{1f604} \u{2019}");
        for first in 0..=bytes.len() {
            assert_eq!(decode_in_pieces(bytes, &[first]).0, whole, "split at {first}");
            for second in first..=bytes.len() {
                assert_eq!(
                    decode_in_pieces(bytes, &[first, second]).0,
                    whole,
                    "split at {first},{second}"
                );
            }
        }
        let one_byte_cuts: Vec<usize> = (1..bytes.len()).collect();
        assert_eq!(decode_in_pieces(bytes, &one_byte_cuts).0, whole);
    }

    #[test]
    fn one_leading_byte_order_mark_is_stripped_however_it_is_split() {
        let body = "\u{feff}data: a\n\n\u{feff}data: b\n\n";
        let bytes = body.as_bytes();
        let (whole, _) = decode_in_pieces(bytes, &[]);
        assert_eq!(
            whole.iter().map(|event| event.data.as_str()).collect::<Vec<_>>(),
            ["a"],
            "only the first BOM is stripped; a second one starts an unknown field"
        );
        for first in 0..=bytes.len() {
            for second in first..=bytes.len().min(first + 4) {
                assert_eq!(
                    decode_in_pieces(bytes, &[first, second]).0,
                    whole,
                    "split at {first},{second}"
                );
            }
        }
        // Bytes that start like a BOM but are not one are kept, as is a body shorter than one.
        let (events, _) = decode_in_pieces(b"\xEF\xBBdata: x\n\n", &[1, 2]);
        assert_eq!(events.len(), 0, "the field name is `\\xEF\\xBBdata`, unknown");
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        decoder.feed(b"\xEF\xBB", &mut out);
        decoder.finish(&mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn json_events_separated_by_a_single_line_feed_stay_apart_however_they_are_split() {
        let body = "data: {\"a\":\"x\\ny\"}\ndata: {\"b\":[1,{\"c\":2}]}\r\ndata: {\"d\":\"\u{e9}\"}\n\n\
                    data: {\ndata: \"pretty\": 1\ndata: }\n\ndata: one\ndata: {\"not\":\"split\"}\n\n";
        let bytes = body.as_bytes();
        let (whole, _) = decode_in_pieces(bytes, &[]);
        let data: Vec<&str> = whole.iter().map(|event| event.data.as_str()).collect();
        assert_eq!(
            data,
            [
                "{\"a\":\"x\\ny\"}",
                "{\"b\":[1,{\"c\":2}]}",
                "{\"d\":\"\u{e9}\"}",
                // Data lines that are no whole object are joined, as the standard says.
                "{\n\"pretty\": 1\n}",
                "one\n{\"not\":\"split\"}",
            ]
        );
        for first in 0..=bytes.len() {
            assert_eq!(decode_in_pieces(bytes, &[first]).0, whole, "split at {first}");
        }
        let one_byte_cuts: Vec<usize> = (1..bytes.len()).collect();
        assert_eq!(decode_in_pieces(bytes, &one_byte_cuts).0, whole);
    }

    #[test]
    fn a_final_event_without_blank_line_is_kept() {
        let (events, _) = decode_in_pieces(b"data: a\n\ndata: b", &[]);
        assert_eq!(
            events.iter().map(|event| event.data.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
    }
}
