//! A property test over every recording (`../shared/fixtures/streams` and its `peers/`): each is
//! cut, split, given a BOM, other line endings, a second copy of itself, numbers that no count
//! can be and explicit nulls, and decoded. Whatever the bytes: no panic in a test build (overflow
//! checks on), decoding whole and in random pieces agree, nothing is complete that did not reach
//! its terminal event, and no count beyond 2^53 reaches a usage, a billed count or a price. The
//! mutation classes are those of the findings' harness (`findings/repro2/harness`); a seeded
//! xorshift makes every run the same.

use std::panic::{AssertUnwindSafe, catch_unwind};

use aws_smithy_eventstream::frame::{read_message_from, write_message_to};
use aws_smithy_types::event_stream::Message;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use modelbench_e2e::{expected, fixtures_dir, recording_body, target_for_recording};
use modelbench_engine::accumulate::Accumulator;
use modelbench_engine::event::{FinishReason, ResponseMeta, StreamEvent};
use modelbench_engine::pricing::PriceBook;
use modelbench_engine::providers::{MAX_PLAUSIBLE_COUNT, Protocol};
use modelbench_engine::{ErrorKind, ProviderKind, Target, ToolCall};
use serde_json::Value;

use crate::decoders::{feed_in_pieces, fold};

/// xorshift64*: small, seeded, the same on every machine.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    ServerSentEvents,
    NewlineDelimitedJson,
    EventStream,
}

/// A recording and how it is read.
struct Recording {
    name: String,
    body: Vec<u8>,
    protocol: Protocol,
    target: Target,
    framing: Framing,
}

fn recordings() -> Vec<Recording> {
    let mut recordings = Vec::new();
    for name in expected().as_object().expect("object").keys() {
        let target = target_for_recording(name, "http://127.0.0.1:1", "m").expect("a known recording");
        recordings.push(recording(name, recording_body(name), target));
    }
    let peers: Value =
        serde_json::from_slice(&std::fs::read(fixtures_dir().join("peers/expected.json")).expect("peers"))
            .expect("json");
    for (name, want) in peers.as_object().expect("object") {
        let provider = match want["provider"].as_str().expect("provider") {
            "openai" => ProviderKind::OpenAi,
            "anthropic" => ProviderKind::Anthropic,
            "vertex" => ProviderKind::Vertex,
            "bedrock" => ProviderKind::Bedrock,
            other => panic!("{name}: {other}"),
        };
        let mut target = Target::new(name, provider, "m");
        if want["api"] == "invoke" {
            target.api = Some(modelbench_engine::Api::Invoke);
            target.model = "anthropic.claude-3-sonnet-20240229-v1:0".to_owned();
        }
        let body = std::fs::read(fixtures_dir().join("peers").join(name)).expect("recording");
        recordings.push(recording(name, body, target));
    }
    recordings
}

fn recording(name: &str, body: Vec<u8>, target: Target) -> Recording {
    let framing = if name.ends_with(".ndjson") {
        Framing::NewlineDelimitedJson
    } else if name.ends_with(".sse") {
        Framing::ServerSentEvents
    } else {
        Framing::EventStream
    };
    Recording {
        name: name.to_owned(),
        body,
        protocol: Protocol::for_target(&target),
        target,
        framing,
    }
}

/// What one decoding came to, and whether the decoder reached its terminal event.
struct Decoded {
    events: Vec<StreamEvent>,
    done: bool,
}

/// Decodes `body` fed in the pieces `cuts` make, under `catch_unwind`: a panic is a failure
/// with the case named.
fn decode(recording: &Recording, body: &[u8], cuts: &[usize], case: &str) -> Decoded {
    let run = || {
        let mut decoder = recording.protocol.decoder(
            recording.target.provider,
            &recording.target.model,
            ResponseMeta::default(),
        );
        let events = feed_in_pieces(decoder.as_mut(), body, cuts);
        // Asked after `finish`: a last event without its blank line is dispatched there.
        Decoded {
            events,
            done: decoder.is_done(),
        }
    };
    catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|_| panic!("{} ({case}): decoding panicked", recording.name))
}

/// A response in the terms every mutation is compared in (the raw usage object apart: nulls and
/// numbers change it on purpose).
#[derive(Debug, PartialEq)]
struct Outcome {
    text: String,
    reasoning: String,
    tool_calls: Vec<ToolCall>,
    finish_reason: Option<FinishReason>,
    raw_finish_reason: Option<String>,
    complete: bool,
    error: Option<ErrorKind>,
    counts: [Option<u64>; 6],
    billed: [Option<u64>; 2],
}

impl Outcome {
    fn of(events: &[StreamEvent]) -> Self {
        let accumulator = fold(events);
        let usage = accumulator.usage.clone().unwrap_or_default();
        Self {
            complete: accumulator.is_complete(),
            error: accumulator.error.as_ref().map(|error| error.kind),
            counts: usage.counts(),
            billed: [accumulator.billed_input_tokens, accumulator.billed_output_tokens],
            tool_calls: accumulator.tool_calls(),
            text: accumulator.text,
            reasoning: accumulator.reasoning,
            finish_reason: accumulator.finish_reason,
            raw_finish_reason: accumulator.raw_finish_reason,
        }
    }
}

fn is_warning(event: &StreamEvent) -> bool {
    event.kind() == "warning"
}

fn without_warnings(events: &[StreamEvent]) -> Vec<StreamEvent> {
    events.iter().filter(|event| !is_warning(event)).cloned().collect()
}

/// Up to `count` random cut points for `length` bytes, sorted.
fn random_cuts(random: &mut Random, length: usize, count: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = (0..count).map(|_| random.below(length + 1)).collect();
    cuts.sort_unstable();
    cuts
}

/// The checks every decoded body must pass: no panic (in `decode`), the same events however it
/// is split, complete only at its terminal event, and no implausible count anywhere.
fn check_body(recording: &Recording, body: &[u8], case: &str, random: &mut Random, prices: &PriceBook) -> Decoded {
    let whole = decode(recording, body, &[], case);
    for pieces in [1, 2, 5, 40] {
        let cuts = random_cuts(random, body.len(), pieces);
        let split = decode(recording, body, &cuts, case);
        assert_eq!(
            split.events, whole.events,
            "{} ({case}): split at {cuts:?}",
            recording.name
        );
    }
    let accumulator = fold(&whole.events);
    if accumulator.is_complete() {
        assert!(
            whole.done,
            "{} ({case}): complete without its terminal event",
            recording.name
        );
    }
    check_counts(recording, &accumulator, case, prices);
    whole
}

fn check_counts(recording: &Recording, accumulator: &Accumulator, case: &str, prices: &PriceBook) {
    let usage = accumulator.usage.clone().unwrap_or_default();
    for count in usage
        .counts()
        .into_iter()
        .chain([accumulator.billed_input_tokens, accumulator.billed_output_tokens])
        .flatten()
    {
        assert!(
            count <= MAX_PLAUSIBLE_COUNT,
            "{} ({case}): a count of {count} got through",
            recording.name
        );
    }
    let billable = accumulator.billable_usage();
    let cost = catch_unwind(AssertUnwindSafe(|| {
        prices.cost(
            &recording.target,
            accumulator.meta.reported_model.as_deref(),
            billable.as_ref(),
        )
    }))
    .unwrap_or_else(|_| panic!("{} ({case}): pricing panicked", recording.name));
    if let Some(usd) = cost.usd {
        assert!(usd.is_finite() && usd >= 0.0, "{} ({case}): cost {usd}", recording.name);
    }
}

// ---- Where a recording's terminal event ends -----------------------------------------------------

/// The offset just past the content of the last line containing `needle` (before its line end).
fn end_of_last_line_with(body: &[u8], needle: &str) -> Option<usize> {
    let text = String::from_utf8_lossy(body);
    let at = text.rfind(needle)?;
    let line_end = text[at..].find(['\r', '\n']).map_or(text.len(), |offset| at + offset);
    Some(line_end)
}

/// Where each event-stream frame ends.
fn frame_ends(body: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut offset = 0;
    while offset + 4 <= body.len() {
        let total = u32::from_be_bytes(body[offset..offset + 4].try_into().expect("4 bytes")) as usize;
        if total < 16 || offset + total > body.len() {
            break;
        }
        offset += total;
        ends.push(offset);
    }
    ends
}

/// How far a body must get for its response to be whole, read from the recording's bytes and
/// not from any decoder: the end of `[DONE]`, of the `message_stop` or `response.completed`
/// line, of the last Gemini chunk (it carries the finish reason) or OCI chunk with one, of Ollama's `done` line, of
/// the last event-stream frame. `None` for a recording that ends in an error.
fn terminal_end(recording: &Recording) -> Option<usize> {
    let body = &recording.body;
    match recording.protocol {
        Protocol::OpenAiChat => end_of_last_line_with(body, "data: [DONE]"),
        Protocol::OpenAiResponses => end_of_last_line_with(body, "\"type\":\"response.completed\""),
        Protocol::AnthropicMessages => end_of_last_line_with(body, "\"type\":\"message_stop\""),
        // OCI's usage chunk after the finish is asked for but no part of the answer.
        Protocol::GeminiGenerate | Protocol::OciNative => end_of_last_line_with(body, "finishReason"),
        Protocol::OllamaChat => end_of_last_line_with(body, "\"done\":true"),
        Protocol::BedrockConverse | Protocol::BedrockInvoke => frame_ends(body).last().copied(),
    }
}

// ---- Event-stream frames, re-encoded after their JSON changes ------------------------------------
// With `aws-smithy-eventstream`, as the engine's own Bedrock tests do: not code under test.

/// The messages of an event stream (all of its whole frames).
fn frames(body: &[u8]) -> Vec<Message> {
    let mut start = 0;
    frame_ends(body)
        .into_iter()
        .map(|end| {
            let message = read_message_from(&body[start..end]).expect("a recorded frame");
            start = end;
            message
        })
        .collect()
}

/// `message` with another payload, its headers kept.
fn encode_frame(message: &Message, payload: Vec<u8>) -> Vec<u8> {
    let changed = message.headers().iter().fold(Message::new(payload), |changed, header| {
        changed.add_header(header.clone())
    });
    let mut frame = Vec::new();
    write_message_to(&changed, &mut frame).expect("encodes");
    frame
}

/// The JSON texts a body's events carry, as (where they are, the text): SSE `data:` lines,
/// NDJSON lines, event-stream payloads (the decoded `bytes` of invoke chunks).
fn json_texts(recording: &Recording, body: &[u8]) -> Vec<String> {
    match recording.framing {
        Framing::EventStream => frames(body)
            .iter()
            .map(|message| inner_json(message.payload()))
            .collect(),
        _ => String::from_utf8_lossy(body)
            .split_inclusive('\n')
            .map(|line| {
                let content = line.trim_end_matches(['\r', '\n']);
                content
                    .strip_prefix("data:")
                    .map_or(content, str::trim_start)
                    .to_owned()
            })
            .collect(),
    }
}

/// An event-stream payload's JSON, or for an invoke `chunk` the JSON inside its `bytes`.
fn inner_json(payload: &[u8]) -> String {
    let outer: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    match outer
        .get("bytes")
        .and_then(Value::as_str)
        .map(|bytes| BASE64.decode(bytes))
    {
        Some(Ok(inner)) => String::from_utf8_lossy(&inner).into_owned(),
        _ => String::from_utf8_lossy(payload).into_owned(),
    }
}

/// `body` with the JSON text at position `index` (as `json_texts` numbers them) replaced.
fn with_json_text(recording: &Recording, body: &[u8], index: usize, replacement: &str) -> Vec<u8> {
    match recording.framing {
        Framing::EventStream => frames(body)
            .iter()
            .enumerate()
            .flat_map(|(at, message)| {
                if at != index {
                    return encode_frame(message, message.payload().to_vec());
                }
                let mut outer: Value = serde_json::from_slice(message.payload()).unwrap_or(Value::Null);
                let payload = if outer.get("bytes").is_some_and(Value::is_string) {
                    outer["bytes"] = Value::String(BASE64.encode(replacement));
                    outer.to_string().into_bytes()
                } else {
                    replacement.as_bytes().to_vec()
                };
                encode_frame(message, payload)
            })
            .collect(),
        _ => String::from_utf8_lossy(body)
            .split_inclusive('\n')
            .enumerate()
            .map(|(at, line)| {
                if at != index {
                    return line.to_owned();
                }
                let content = line.trim_end_matches(['\r', '\n']);
                let ending = &line[content.len()..];
                let prefix = if content.starts_with("data:") { "data: " } else { "" };
                format!("{prefix}{replacement}{ending}")
            })
            .collect::<String>()
            .into_bytes(),
    }
}

/// Numbers no count can be, and the ones at the edge that can.
const HOSTILE_NUMBERS: [&str; 11] = [
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "-1",
    "1e400",
    "1.5",
    "\"12\"",
    "12.0",
    "9007199254740992",
];

/// One number in `text` replaced by a hostile one, if the text has a number.
fn with_hostile_number(random: &mut Random, text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let starts: Vec<usize> = (0..bytes.len())
        .filter(|&at| bytes[at].is_ascii_digit() && (at == 0 || matches!(bytes[at - 1], b':' | b' ' | b'[' | b',')))
        .collect();
    if starts.is_empty() {
        return None;
    }
    let start = *random.pick(&starts);
    let end = start
        + text[start..]
            .find(|character: char| !(character.is_ascii_digit() || matches!(character, '.' | 'e' | 'E' | '-' | '+')))
            .unwrap_or(text.len() - start);
    Some(format!(
        "{}{}{}",
        &text[..start],
        random.pick(&HOSTILE_NUMBERS),
        &text[end..]
    ))
}

/// Optional fields a cloud may write as `null` instead of leaving them out. Adding one where it
/// is absent must change nothing.
const OPTIONAL_FIELDS: [&str; 30] = [
    "tool_calls",
    "function_call",
    "refusal",
    "reasoning",
    "reasoning_content",
    "usage",
    "x_groq",
    "error",
    "thought",
    "functionCall",
    "finishReason",
    "finish_reason",
    "choices",
    "candidates",
    "content",
    "parts",
    "delta",
    "index",
    "model",
    "modelVersion",
    "usageMetadata",
    "promptFeedback",
    "partialArgs",
    "willContinue",
    "stop_reason",
    "thinking",
    "contentBlockIndex",
    "output_index",
    "message",
    "metrics",
];

/// Arguments are the model's own JSON: a key added there changes the answer.
const ANSWER_FIELDS: [&str; 4] = ["args", "arguments", "input", "parameters"];

/// Adds `"field": null` to random objects of `value` that lack it.
fn add_nulls(random: &mut Random, value: &mut Value, depth: usize) {
    match value {
        Value::Object(object) => {
            if random.below(2) == 0 {
                let field = *random.pick(&OPTIONAL_FIELDS);
                object.entry(field).or_insert(Value::Null);
            }
            for (key, child) in object.iter_mut() {
                if depth < 5 && !ANSWER_FIELDS.contains(&key.as_str()) {
                    add_nulls(random, child, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                add_nulls(random, item, depth + 1);
            }
        }
        _ => {}
    }
}

fn line_endings(body: &[u8], ending: &str) -> Vec<u8> {
    String::from_utf8_lossy(body)
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', ending)
        .into_bytes()
}

#[test]
fn every_recording_survives_every_mutation() {
    let started = std::time::Instant::now();
    let prices = PriceBook::shipped();
    // Another seed explores further: MODELBENCH_MUTATION_SEED=7 cargo test … mutations.
    let seed = std::env::var("MODELBENCH_MUTATION_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(0x005E_ED0F_1551_E022_u64);
    let mut random = Random(seed.max(1));
    let recordings = recordings();
    assert_eq!(recordings.len(), 30, "the 25 recordings and the 5 peers");
    let mut cases = 0_usize;
    for recording in &recordings {
        let body = &recording.body;
        let original = check_body(recording, body, "as recorded", &mut random, &prices);
        let outcome = Outcome::of(&original.events);
        cases += 1;

        // Cuts: ~250 spread over the body, and every offset around the terminal event.
        let terminal = terminal_end(recording).filter(|_| outcome.complete);
        let stride = (body.len() / 250).max(1);
        let mut offsets: Vec<usize> = (0..body.len()).step_by(stride).collect();
        if let Some(end) = terminal {
            offsets.extend(end.saturating_sub(48)..(end + 4).min(body.len()));
        }
        for cut in offsets {
            let case = format!("cut at {cut}");
            let decoded = check_body(recording, &body[..cut], &case, &mut random, &prices);
            cases += 1;
            let cut_outcome = Outcome::of(&decoded.events);
            if cut_outcome.complete {
                let end = terminal.unwrap_or_else(|| panic!("{} ({case}): complete", recording.name));
                assert!(
                    cut >= end,
                    "{} ({case}): complete before its terminal event at {end}",
                    recording.name
                );
                assert_eq!(
                    cut_outcome, outcome,
                    "{} ({case}): complete, but not the whole answer",
                    recording.name
                );
            }
        }

        // The body twice: the second copy is after the end.
        let twice = check_body(
            recording,
            &[body.clone(), body.clone()].concat(),
            "twice",
            &mut random,
            &prices,
        );
        assert_eq!(Outcome::of(&twice.events), outcome, "{}: twice", recording.name);
        assert!(twice.events.iter().filter(|event| is_warning(event)).count() <= 1);
        cases += 1;

        if recording.framing != Framing::EventStream {
            let bom = [b"\xEF\xBB\xBF".as_slice(), body].concat();
            let decoded = check_body(recording, &bom, "BOM", &mut random, &prices);
            assert_eq!(decoded.events, original.events, "{}: BOM", recording.name);
            for ending in ["\n", "\r\n", "\r"] {
                let case = format!("line endings {ending:?}");
                let decoded = check_body(recording, &line_endings(body, ending), &case, &mut random, &prices);
                // NDJSON has no lone-CR line ending: there it must only fail cleanly.
                if !(recording.framing == Framing::NewlineDelimitedJson && ending == "\r") {
                    assert_eq!(
                        without_warnings(&decoded.events),
                        without_warnings(&original.events),
                        "{}: {case}",
                        recording.name
                    );
                }
            }
            cases += 4;
        }

        // Numbers out of range, and explicit nulls, in random events.
        let texts = json_texts(recording, body);
        let json_events: Vec<usize> = (0..texts.len())
            .filter(|&at| serde_json::from_str::<Value>(&texts[at]).is_ok_and(|json| json.is_object()))
            .collect();
        for round in 0..40 {
            let at = *random.pick(&json_events);
            if let Some(changed) = with_hostile_number(&mut random, &texts[at]) {
                let case = format!("number #{round} in event {at}: {changed}");
                check_body(
                    recording,
                    &with_json_text(recording, body, at, &changed),
                    &case,
                    &mut random,
                    &prices,
                );
                cases += 1;
            }
            let mut json: Value = serde_json::from_str(&texts[at]).expect("json");
            add_nulls(&mut random, &mut json, 0);
            let case = format!("nulls #{round} in event {at}: {json}");
            let decoded = check_body(
                recording,
                &with_json_text(recording, body, at, &json.to_string()),
                &case,
                &mut random,
                &prices,
            );
            assert_eq!(Outcome::of(&decoded.events), outcome, "{}: {case}", recording.name);
            cases += 1;
        }
    }
    let elapsed = started.elapsed();
    eprintln!("seed {seed}: {cases} mutated bodies, each decoded whole and in 4 random splits, in {elapsed:?}");
    assert!(cases > 10_000);
}
