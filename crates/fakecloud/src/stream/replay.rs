//! Replays a recorded response body byte for byte.
//!
//! The recordings in `shared/fixtures/streams` are real cloud bodies; serving
//! them verbatim lets the engine's decoders meet real bytes through a real
//! HTTP stack. Without `split` a piece is one SSE event, one NDJSON line or
//! one AWS event-stream frame; with it, fixed-size byte pieces. Pieces follow
//! the scenario's timing. Bedrock recordings are binary: `.bin` files are
//! served as they are, `.b64` files (one line of base64) decoded first.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use tokio::time::Instant;

use crate::scenario::{ReplayEdits, Scenario};
use crate::stream::{Frame, FrameSource, Step};

/// Where fixtures live relative to some ancestor of the working directory or
/// of this crate.
const FIXTURES_RELATIVE: &str = "shared/fixtures/streams";
const FIXTURES_ENVIRONMENT: &str = "FAKECLOUD_FIXTURES";

/// The fixtures directory: the configured one, else `$FAKECLOUD_FIXTURES`,
/// else the first `shared/fixtures/streams` found walking up from the
/// current directory, then from this crate's directory.
pub(crate) fn find_fixtures_dir(configured: Option<&Path>) -> Option<PathBuf> {
    if let Some(directory) = configured {
        return Some(directory.to_path_buf());
    }
    if let Some(directory) = std::env::var_os(FIXTURES_ENVIRONMENT) {
        return Some(PathBuf::from(directory));
    }
    let current = std::env::current_dir().ok();
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    current
        .iter()
        .chain(std::iter::once(&crate_dir))
        .flat_map(|start| start.ancestors())
        .map(|ancestor| ancestor.join(FIXTURES_RELATIVE))
        .find(|candidate| candidate.is_dir())
}

/// How a fixture's bytes are framed, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FixtureKind {
    ServerSentEvents,
    NewlineDelimitedJson,
    /// AWS event-stream frames (`.bin`, or `.b64` once decoded).
    EventStream,
    Opaque,
}

impl FixtureKind {
    pub(crate) fn from_name(name: &str) -> Self {
        if name.ends_with(".sse") {
            FixtureKind::ServerSentEvents
        } else if name.ends_with(".ndjson") {
            FixtureKind::NewlineDelimitedJson
        } else if name.ends_with(".bin") || name.ends_with(".b64") {
            FixtureKind::EventStream
        } else {
            FixtureKind::Opaque
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            FixtureKind::ServerSentEvents => crate::server::headers::EVENT_STREAM,
            FixtureKind::NewlineDelimitedJson => crate::server::headers::NDJSON,
            FixtureKind::EventStream => crate::wire::event_stream::CONTENT_TYPE,
            FixtureKind::Opaque => "application/octet-stream",
        }
    }
}

/// The bytes a fixture file stands for: `.b64` files hold one line of
/// standard base64 of the recorded body.
pub(crate) fn fixture_body(name: &str, file: Vec<u8>) -> Result<Vec<u8>, String> {
    if !name.ends_with(".b64") {
        return Ok(file);
    }
    let text: Vec<u8> = file.into_iter().filter(|byte| !byte.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|error| format!("`{name}` is not valid base64: {error}"))
}

/// The body with `edits` applied, in their documented order. Line endings are rewritten only in
/// text (SSE and NDJSON) fixtures: an event stream's bytes are binary.
pub(crate) fn edited(body: Bytes, kind: FixtureKind, edits: &ReplayEdits) -> Bytes {
    if edits.is_empty() {
        return body;
    }
    let mut bytes = body.to_vec();
    let text = matches!(kind, FixtureKind::ServerSentEvents | FixtureKind::NewlineDelimitedJson);
    if let Some(ending) = edits.line_ending.filter(|_| text) {
        let mut rewritten = Vec::with_capacity(bytes.len());
        let mut line_start = 0;
        for (line_end, terminator_length) in line_ends(&bytes) {
            rewritten.extend_from_slice(&bytes[line_start..line_end]);
            rewritten.extend_from_slice(ending.bytes());
            line_start = line_end + terminator_length;
        }
        rewritten.extend_from_slice(&bytes[line_start..]);
        bytes = rewritten;
    }
    if edits.twice {
        bytes.extend_from_within(..);
    }
    if edits.bom {
        bytes.splice(0..0, *b"\xEF\xBB\xBF");
    }
    if let Some(cut) = edits.cut {
        bytes.truncate(cut);
    }
    Bytes::from(bytes)
}

/// Cuts a body into the pieces sent one at a time. Concatenated, the pieces
/// are exactly the input.
pub(crate) fn pieces(body: &Bytes, kind: FixtureKind, split: Option<usize>) -> Vec<Bytes> {
    if let Some(size) = split.filter(|size| *size > 0) {
        return (0..body.len())
            .step_by(size)
            .map(|start| body.slice(start..(start + size).min(body.len())))
            .collect();
    }
    if kind == FixtureKind::EventStream {
        return frame_pieces(body);
    }
    let mut pieces = Vec::new();
    let mut piece_start = 0;
    let mut line_start = 0;
    for (line_end, terminator_length) in line_ends(body) {
        let is_blank = line_end == line_start;
        let next = line_end + terminator_length;
        let piece_ends = match kind {
            FixtureKind::ServerSentEvents => is_blank,
            FixtureKind::NewlineDelimitedJson => true,
            // Event streams are cut by frame above.
            FixtureKind::EventStream | FixtureKind::Opaque => false,
        };
        if piece_ends {
            pieces.push(body.slice(piece_start..next));
            piece_start = next;
        }
        line_start = next;
    }
    if piece_start < body.len() {
        pieces.push(body.slice(piece_start..));
    }
    pieces
}

/// One piece per event-stream frame, by each prelude's total length. Bytes
/// that do not frame (a damaged recording) go out as one last piece.
fn frame_pieces(body: &Bytes) -> Vec<Bytes> {
    let mut pieces = Vec::new();
    let mut start = 0;
    while let Some(prelude) = body.get(start..start + 4) {
        let total = u32::from_be_bytes([prelude[0], prelude[1], prelude[2], prelude[3]]);
        let end = usize::try_from(total).map_or(usize::MAX, |total| start.saturating_add(total));
        if total < 16 || end > body.len() {
            break;
        }
        pieces.push(body.slice(start..end));
        start = end;
    }
    if start < body.len() {
        pieces.push(body.slice(start..));
    }
    pieces
}

/// `(end of line content, terminator length)` for each terminated line,
/// accepting `\n`, `\r\n` and a lone `\r`, as SSE does.
fn line_ends(body: &[u8]) -> Vec<(usize, usize)> {
    let mut ends = Vec::new();
    let mut index = 0;
    while index < body.len() {
        match body[index] {
            b'\n' => {
                ends.push((index, 1));
                index += 1;
            }
            b'\r' if body.get(index + 1) == Some(&b'\n') => {
                ends.push((index, 2));
                index += 2;
            }
            b'\r' => {
                ends.push((index, 1));
                index += 1;
            }
            _ => index += 1,
        }
    }
    ends
}

pub(crate) struct ReplaySource {
    pieces: std::vec::IntoIter<Bytes>,
    sent: usize,
    entry: Instant,
    last_deadline: Option<Instant>,
    time_to_first_token: Duration,
    inter_token_delay: Duration,
    stall: Option<(usize, Duration)>,
}

impl ReplaySource {
    pub(crate) fn new(pieces: Vec<Bytes>, scenario: &Scenario, entry: Instant) -> Self {
        Self {
            pieces: pieces.into_iter(),
            sent: 0,
            entry,
            last_deadline: None,
            time_to_first_token: scenario.time_to_first_token,
            inter_token_delay: scenario.inter_token_delay,
            stall: scenario.stall,
        }
    }
}

impl FrameSource for ReplaySource {
    fn next_step(&mut self) -> Step {
        let Some(bytes) = self.pieces.next() else {
            return Step::Finish;
        };
        let mut at = match self.last_deadline {
            None => self.entry + self.time_to_first_token,
            Some(previous) => previous + self.inter_token_delay,
        };
        if let Some((after, pause)) = self.stall
            && after == self.sent
        {
            at += pause;
        }
        self.last_deadline = Some(at);
        self.sent += 1;
        Step::Send(Frame {
            at: Some(at),
            bytes,
            first_content: self.sent == 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_pieces_are_events() {
        let body = Bytes::from_static(b"data: a\n\nevent: x\r\ndata: b\r\n\r\ndata: c\r\rtail");
        let pieces = pieces(&body, FixtureKind::ServerSentEvents, None);
        assert_eq!(
            pieces,
            [
                Bytes::from_static(b"data: a\n\n"),
                Bytes::from_static(b"event: x\r\ndata: b\r\n\r\n"),
                Bytes::from_static(b"data: c\r\r"),
                Bytes::from_static(b"tail"),
            ]
        );
    }

    #[test]
    fn ndjson_pieces_are_lines_and_split_is_exact() {
        let body = Bytes::from_static(b"{\"a\":1}\n{\"b\":2}\n");
        assert_eq!(pieces(&body, FixtureKind::NewlineDelimitedJson, None).len(), 2);
        let split = pieces(&body, FixtureKind::NewlineDelimitedJson, Some(5));
        assert!(split.iter().all(|piece| piece.len() <= 5));
        assert_eq!(split.concat(), body.to_vec());
        assert_eq!(pieces(&body, FixtureKind::Opaque, None), vec![body]);
    }

    #[test]
    fn event_stream_pieces_are_frames() {
        let frame = |payload: &str| crate::wire::event_stream::event_frame("chunk", payload);
        let (first, second) = (frame("{}"), frame(r#"{"a":1}"#));
        let body = Bytes::from([first.clone(), second.clone(), b"tail".to_vec()].concat());
        let pieces = pieces(&body, FixtureKind::EventStream, None);
        assert_eq!(
            pieces,
            [Bytes::from(first), Bytes::from(second), Bytes::from_static(b"tail")]
        );
        assert_eq!(FixtureKind::from_name("bedrock_x.b64"), FixtureKind::EventStream);
        assert_eq!(fixture_body("x.b64", b"aGk=\n".to_vec()), Ok(b"hi".to_vec()));
        assert!(fixture_body("x.b64", b"not base64!".to_vec()).is_err());
        assert_eq!(fixture_body("x.bin", b"aGk=".to_vec()), Ok(b"aGk=".to_vec()));
    }

    #[test]
    fn edits_apply_in_order() {
        let body = Bytes::from_static(b"data: a\r\n\r\ndata: b\rtail");
        let edits = |spec: &str| {
            crate::scenario::parse_spec(&format!("replay=x.sse;{spec}"))
                .expect("spec")
                .edits
        };
        let sse = FixtureKind::ServerSentEvents;
        assert_eq!(edited(body.clone(), sse, &ReplayEdits::default()), body);
        assert_eq!(
            edited(body.clone(), sse, &edits("endings=lf")),
            Bytes::from_static(b"data: a\n\ndata: b\ntail")
        );
        assert_eq!(
            edited(Bytes::from_static(b"x\n"), sse, &edits("endings=crlf;twice;bom")),
            Bytes::from_static(b"\xEF\xBB\xBFx\r\nx\r\n")
        );
        assert_eq!(
            edited(body.clone(), sse, &edits("bom;cut=5")),
            Bytes::from_static(b"\xEF\xBB\xBFda")
        );
        let binary = Bytes::from_static(b"\r\n\x00\r");
        assert_eq!(
            edited(binary.clone(), FixtureKind::EventStream, &edits("endings=lf")),
            binary
        );
    }

    #[test]
    fn fixtures_are_found_from_the_crate() {
        let directory = find_fixtures_dir(None).expect("shared/fixtures/streams above the crate");
        assert!(directory.join("openai_chat_usage.sse").is_file());
    }
}
