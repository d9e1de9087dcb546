//! Every real recording through the engine's decoders alone, whole and split at byte
//! boundaries, checked against `expected.json`; and the quirks each recording exists to show.

use std::time::Duration;

use modelbench_e2e::{check_against_expected, expected, fixtures_dir, recording_body, target_for_recording};
use modelbench_engine::accumulate::Accumulator;
use modelbench_engine::event::{FinishReason, ResponseMeta, StreamEvent};
use modelbench_engine::providers::{Protocol, WireDecoder};
use modelbench_engine::target::ProviderKind;

/// Which decoder reads a recording: the protocol and provider of the target that replays it.
fn protocol_of(name: &str) -> Option<(Protocol, ProviderKind)> {
    let target = target_for_recording(name, "http://127.0.0.1:1", "m")?;
    Some((Protocol::for_target(&target), target.provider))
}

pub(crate) fn decode(protocol: Protocol, provider: ProviderKind, body: &[u8], cuts: &[usize]) -> Vec<StreamEvent> {
    let mut decoder = protocol.decoder(provider, "m", ResponseMeta::default());
    feed_in_pieces(decoder.as_mut(), body, cuts)
}

/// Feeds `body` to `decoder` in the pieces the offsets `cuts` make, then ends it.
pub(crate) fn feed_in_pieces(decoder: &mut dyn WireDecoder, body: &[u8], cuts: &[usize]) -> Vec<StreamEvent> {
    let mut events = Vec::new();
    let mut start = 0;
    for &cut in cuts {
        decoder.feed(&body[start..cut], &mut events);
        start = cut;
    }
    decoder.feed(&body[start..], &mut events);
    decoder.finish(&mut events);
    events
}

pub(crate) fn fold(events: &[StreamEvent]) -> Accumulator {
    let mut accumulator = Accumulator::new();
    for event in events {
        accumulator.apply(event, Duration::ZERO);
    }
    accumulator
}

#[test]
fn every_recording_decodes_to_its_expected_result() {
    let expected = expected();
    let mut checked = 0;
    for (name, want) in expected.as_object().expect("object") {
        let Some((protocol, provider)) = protocol_of(name) else {
            continue;
        };
        let file = std::fs::metadata(fixtures_dir().join(name)).expect("fixture");
        assert_eq!(file.len(), want["size_bytes"].as_u64().expect("size"), "{name}: size");
        let body = recording_body(name);
        let whole = decode(protocol, provider, &body, &[]);
        let accumulator = fold(&whole);
        check_against_expected(name, want, &(&accumulator).into());

        // Byte-exact splits: two pieces at every boundary (every few bytes for the largest
        // recordings, where every UTF-8 and CRLF position is still hit by the stride's offsets),
        // plus one byte at a time.
        let stride = (body.len() / 4000).max(1);
        for cut in (1..body.len()).step_by(stride) {
            assert_eq!(
                decode(protocol, provider, &body, &[cut]),
                whole,
                "{name}: split at {cut}"
            );
        }
        let every_byte: Vec<usize> = (1..body.len()).collect();
        assert_eq!(
            decode(protocol, provider, &body, &every_byte),
            whole,
            "{name}: one byte at a time"
        );
        checked += 1;
    }
    assert_eq!(
        checked, 25,
        "every OpenAI/Azure/Anthropic/Ollama/OpenRouter/Groq/Bedrock/Gemini recording is covered"
    );
}

#[test]
fn specific_recordings_keep_their_quirks() {
    let dir = fixtures_dir();
    let read = |name: &str| std::fs::read(dir.join(name)).expect("fixture");

    // Azure: the first chunk is a prompt-filter chunk with model "", so the reported model comes later.
    let events = decode(
        Protocol::OpenAiChat,
        ProviderKind::Azure,
        &read("azure_chat_content_filter_2026_emoji.sse"),
        &[],
    );
    let StreamEvent::Started(meta) = &events[0] else {
        panic!("first event must be Started: {events:?}")
    };
    assert!(meta.reported_model.as_deref().is_some_and(|model| !model.is_empty()));

    // Anthropic: input tokens from message_start, output from the last message_delta.
    let accumulator = fold(&decode(
        Protocol::AnthropicMessages,
        ProviderKind::Anthropic,
        &read("anthropic_messages_tool_use.sse"),
        &[],
    ));
    let usage = accumulator.usage.expect("usage");
    assert_eq!((usage.input_tokens, usage.output_tokens), (Some(506), Some(153)));
    assert_eq!(accumulator.finish_reason, Some(FinishReason::ToolCalls));

    // Groq: `event: error` mid-stream after reasoning; reasoning kept, classified as validation.
    let accumulator = fold(&decode(
        Protocol::OpenAiChat,
        ProviderKind::OpenAi,
        &read("groq_chat_midstream_event_error.sse"),
        &[],
    ));
    let error = accumulator.error.expect("error");
    assert_eq!(error.code.as_deref(), Some("tool_use_failed"));
    assert_eq!(error.kind, modelbench_engine::ErrorKind::Validation);
    assert!(!accumulator.reasoning.is_empty());

    // OpenRouter: the error rides in a chunk next to usage; the finish reason before it is kept.
    let accumulator = fold(&decode(
        Protocol::OpenAiChat,
        ProviderKind::OpenAi,
        &read("openrouter_chat_midstream_error.sse"),
        &[],
    ));
    assert_eq!(accumulator.finish_reason, Some(FinishReason::Length));
    assert_eq!(accumulator.error.expect("error").message, "Token limit reached");
    assert_eq!(accumulator.usage.and_then(|usage| usage.reasoning_tokens), Some(11));

    // Responses: the nested `error` event wins over the `response.failed` that follows it.
    let accumulator = fold(&decode(
        Protocol::OpenAiResponses,
        ProviderKind::OpenAi,
        &read("openai_responses_midstream_error.sse"),
        &[],
    ));
    let error = accumulator.error.expect("error");
    assert_eq!(error.kind, modelbench_engine::ErrorKind::Quota);
    assert!(!error.retryable());

    // Ollama: usage from the final line.
    let accumulator = fold(&decode(
        Protocol::OllamaChat,
        ProviderKind::Ollama,
        &read("ollama_api_chat.ndjson"),
        &[],
    ));
    let usage = accumulator.usage.expect("usage");
    assert_eq!((usage.input_tokens, usage.output_tokens), (Some(17), Some(50)));
}

#[test]
fn a_cut_stream_keeps_its_text_and_is_incomplete() {
    let body = std::fs::read(fixtures_dir().join("openai_chat_usage.sse")).expect("fixture");
    let text = String::from_utf8(body.clone()).expect("utf8");
    let cut = text.find("London").expect("word") + 10;
    let cut = text[cut..]
        .find("\n\n")
        .map(|offset| cut + offset + 2)
        .expect("event end");
    let accumulator = fold(&decode(Protocol::OpenAiChat, ProviderKind::OpenAi, &body[..cut], &[]));
    assert!(
        accumulator.text.starts_with("The capital of the UK is London"),
        "{}",
        accumulator.text
    );
    assert!(!accumulator.is_complete());
    assert_eq!(
        accumulator.error.expect("error").kind,
        modelbench_engine::ErrorKind::Network
    );
}

#[test]
fn an_anthropic_stream_broken_after_message_start_reports_input_but_no_output_tokens() {
    let body = std::fs::read(fixtures_dir().join("anthropic_messages_short.sse")).expect("fixture");
    let text = String::from_utf8(body.clone()).expect("utf8");
    let cut = text.find("event: content_block_start").expect("a content block");
    let accumulator = fold(&decode(
        Protocol::AnthropicMessages,
        ProviderKind::Anthropic,
        &body[..cut],
        &[],
    ));
    let usage = accumulator.usage.clone().expect("usage from message_start");
    assert_eq!(usage.input_tokens, Some(20));
    assert_eq!(
        usage.output_tokens, None,
        "message_start's output_tokens is a placeholder"
    );
    assert!(!accumulator.is_complete());
}

/// The normalised event sequence of one short recording per protocol, pinned so any change to
/// what consumers (CLI, store, UI) see is a reviewed snapshot change.
#[test]
fn event_sequences_are_pinned() {
    for name in [
        "anthropic_messages_short.sse",
        "openai_chat_usage.sse",
        "openai_responses_function_call.sse",
        "gemini_aistudio_crlf.sse",
    ] {
        let (protocol, provider) = protocol_of(name).expect("a known recording");
        let body = std::fs::read(fixtures_dir().join(name)).expect("fixture");
        let events = decode(protocol, provider, &body, &[]);
        insta::assert_json_snapshot!(name, events);
    }
}
