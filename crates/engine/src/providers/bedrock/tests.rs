//! Bedrock request bodies, and the decoders on recorded and hand-built event streams (frames
//! are encoded with `aws-smithy-eventstream`'s writer, not by code under test).

use std::path::PathBuf;
use std::time::Duration;

use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use aws_smithy_types::str_bytes::StrBytes;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::*;
use crate::model::accumulate::Accumulator;
use crate::model::event::{FinishReason, WarningKind};
use crate::model::request::{Message as PromptMessage, Parameter};
use crate::model::target::ProviderKind;
use crate::providers::{Protocol, error_from_response};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/streams")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut message = Message::new(payload.to_vec());
    for (name, value) in headers {
        message = message.add_header(Header::new(
            StrBytes::from((*name).to_owned()),
            HeaderValue::String(StrBytes::from((*value).to_owned())),
        ));
    }
    let mut bytes = Vec::new();
    aws_smithy_eventstream::frame::write_message_to(&message, &mut bytes).expect("encodes");
    bytes
}

fn event(event_type: &str, payload: &Value) -> Vec<u8> {
    frame(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

fn exception(exception_type: &str, payload: &Value) -> Vec<u8> {
    frame(
        &[
            (":message-type", "exception"),
            (":exception-type", exception_type),
            (":content-type", "application/json"),
        ],
        payload.to_string().as_bytes(),
    )
}

fn chunk(native: &Value) -> Vec<u8> {
    event(
        "chunk",
        &json!({"bytes": BASE64.encode(native.to_string()), "p": "abcdefgh"}),
    )
}

fn run(mut decoder: Box<dyn WireDecoder>, body: &[u8]) -> Vec<StreamEvent> {
    let mut events = Vec::new();
    decoder.feed(body, &mut events);
    decoder.finish(&mut events);
    events
}

fn converse(body: &[u8]) -> Vec<StreamEvent> {
    run(converse_decoder("bedrock", ResponseMeta::default()), body)
}

fn invoke(model: &str, body: &[u8]) -> Vec<StreamEvent> {
    run(invoke_decoder("bedrock", model, ResponseMeta::default()), body)
}

fn fold(events: &[StreamEvent]) -> Accumulator {
    let mut accumulator = Accumulator::new();
    for event in events {
        accumulator.apply(event, Duration::ZERO);
    }
    accumulator
}

/// `Started` first, exactly once; at most one error, and it is last.
fn assert_well_formed(events: &[StreamEvent]) {
    assert!(matches!(events.first(), Some(StreamEvent::Started(_))), "{events:?}");
    let starts = events
        .iter()
        .filter(|event| matches!(event, StreamEvent::Started(_)))
        .count();
    assert_eq!(starts, 1, "{events:?}");
    let errors: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, event)| matches!(event, StreamEvent::Error(_)))
        .map(|(index, _)| index)
        .collect();
    assert!(errors.is_empty() || errors == [events.len() - 1], "{events:?}");
}

fn conversation() -> Prompt {
    Prompt {
        system: Some("Be brief.".into()),
        messages: vec![
            PromptMessage {
                role: Role::User,
                content: "Hi".into(),
            },
            PromptMessage {
                role: Role::Assistant,
                content: "Hello!".into(),
            },
            PromptMessage {
                role: Role::User,
                content: "Capital of France?".into(),
            },
        ],
    }
}

fn all_parameters() -> Parameters {
    Parameters {
        temperature: Some(0.5),
        top_p: Some(0.9),
        max_output_tokens: Some(256),
        stop_sequences: vec!["END".into()],
        seed: Some(7),
    }
}

#[test]
fn converse_body_has_messages_system_and_inference_config() {
    assert_eq!(
        converse_request_body(&conversation(), &all_parameters()),
        json!({
            "messages": [
                {"role": "user", "content": [{"text": "Hi"}]},
                {"role": "assistant", "content": [{"text": "Hello!"}]},
                {"role": "user", "content": [{"text": "Capital of France?"}]},
            ],
            "system": [{"text": "Be brief."}],
            "inferenceConfig": {"maxTokens": 256, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]},
        })
    );
    assert_eq!(
        converse_request_body(&Prompt::user("Hi"), &Parameters::default()),
        json!({"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}),
        "nothing set, nothing sent"
    );
}

#[test]
fn model_families_are_read_from_ids_and_arns() {
    for (model, family) in [
        ("anthropic.claude-3-sonnet-20240229-v1:0", ModelFamily::Anthropic),
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", ModelFamily::Anthropic),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0",
            ModelFamily::Anthropic,
        ),
        ("meta.llama3-2-1b-instruct-v1:0", ModelFamily::Llama),
        ("us.meta.llama3-3-70b-instruct-v1:0", ModelFamily::Llama),
        ("amazon.titan-text-express-v1", ModelFamily::Titan),
        ("us.amazon.nova-micro-v1:0", ModelFamily::Nova),
        ("mistral.mistral-large-2402-v1:0", ModelFamily::Other),
        (
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3",
            ModelFamily::Other,
        ),
    ] {
        assert_eq!(ModelFamily::of(model), family, "{model}");
    }
}

#[test]
fn anthropic_invoke_body_is_messages_with_the_bedrock_version() {
    let body = invoke_request_body(
        "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        &conversation(),
        &all_parameters(),
    );
    assert_eq!(
        body,
        json!({
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 256,
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "Capital of France?"},
            ],
            "system": "Be brief.",
            "temperature": 0.5,
            "top_p": 0.9,
            "stop_sequences": ["END"],
        })
    );
    let minimal = invoke_request_body("anthropic.claude-v2", &Prompt::user("Hi"), &Parameters::default());
    assert_eq!(
        minimal["max_tokens"],
        anthropic::DEFAULT_MAX_TOKENS,
        "required by the API"
    );
    assert!(minimal.get("model").is_none() && minimal.get("stream").is_none());
}

#[test]
fn llama_invoke_body_uses_the_llama3_chat_template() {
    let body = invoke_request_body("meta.llama3-1-8b-instruct-v1:0", &conversation(), &all_parameters());
    assert_eq!(
        body,
        json!({
            "prompt": "<|begin_of_text|>\
                <|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>\
                <|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>\
                <|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>\
                <|start_header_id|>user<|end_header_id|>\n\nCapital of France?<|eot_id|>\
                <|start_header_id|>assistant<|end_header_id|>\n\n",
            "max_gen_len": 256,
            "temperature": 0.5,
            "top_p": 0.9,
        }),
        "no stop sequences: Llama's body has none"
    );
}

#[test]
fn titan_nova_and_other_invoke_bodies() {
    assert_eq!(
        invoke_request_body("amazon.titan-text-express-v1", &Prompt::user("Hi"), &all_parameters()),
        json!({
            "inputText": "Hi",
            "textGenerationConfig": {"maxTokenCount": 256, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]},
        })
    );
    assert_eq!(
        invoke_request_body(
            "amazon.titan-text-premier-v1:0",
            &conversation(),
            &Parameters::default()
        )["inputText"],
        "Be brief.\n\nUser: Hi\nBot: Hello!\nUser: Capital of France?\nBot:"
    );
    let nova = invoke_request_body("us.amazon.nova-lite-v1:0", &conversation(), &all_parameters());
    let mut expected = converse_request_body(&conversation(), &all_parameters());
    expected["schemaVersion"] = json!("messages-v1");
    assert_eq!(nova, expected);
    assert_eq!(
        invoke_request_body(
            "mistral.mistral-7b-instruct-v0:2",
            &Prompt::user("Hi"),
            &all_parameters()
        ),
        json!({"prompt": "Hi", "max_tokens": 256, "temperature": 0.5, "top_p": 0.9, "stop": ["END"]})
    );
}

#[test]
fn capabilities_are_honest_per_api_and_family() {
    let llama = invoke_capabilities("meta.llama3-8b-instruct-v1:0");
    assert!(!llama.stop_sequences && !llama.seed && llama.system_prompt);
    let claude = invoke_capabilities("anthropic.claude-3-sonnet-20240229-v1:0");
    assert!(claude.stop_sequences && !claude.seed);
    assert_eq!(
        Protocol::BedrockInvoke
            .capabilities_for("meta.llama3-8b-instruct-v1:0")
            .unsupported(&Prompt::user("x"), &all_parameters()),
        vec![Parameter::StopSequences, Parameter::Seed]
    );
    assert_eq!(
        Protocol::BedrockConverse
            .capabilities_for("meta.llama3-8b-instruct-v1:0")
            .unsupported(&Prompt::user("x"), &all_parameters()),
        vec![Parameter::Seed]
    );
}

#[test]
fn converse_tool_use_recording_maps_text_tool_call_usage_and_timing() {
    let events = converse(&fixture("bedrock_converse_stream_tool_use.bin"));
    assert_well_formed(&events);
    let accumulator = fold(&events);
    assert_eq!(
        accumulator.text,
        "Okay, let me check the weather for Barcelona using the available tool:"
    );
    let calls = accumulator.tool_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].index, 1, "the content block index");
    assert_eq!(calls[0].id.as_deref(), Some("tooluse_yypYDr71TwCwByoyao4-Vg"));
    assert_eq!(calls[0].name.as_deref(), Some("get_weather"));
    assert_eq!(calls[0].arguments, r#"{"location": "Barcelona"}"#);
    assert_eq!(accumulator.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(accumulator.raw_finish_reason.as_deref(), Some("tool_use"));
    let usage = accumulator.usage.clone().expect("usage");
    assert_eq!(
        (usage.input_tokens, usage.output_tokens, usage.total_tokens),
        (Some(236), Some(58), Some(294))
    );
    assert_eq!(
        usage.raw,
        json!({"inputTokens": 236, "outputTokens": 58, "serverToolUsage": {}, "totalTokens": 294})
    );
    assert!(events.contains(&StreamEvent::ServerTiming {
        latency_ms: Some(1176),
        first_byte_latency_ms: None
    }));
    assert_eq!(
        accumulator.metrics(Duration::from_secs(2)).server_latency_ms,
        Some(1176.0)
    );
    assert!(accumulator.is_complete());
    // The empty first tool-input fragment is not an event.
    assert!(!events.iter().any(|event| matches!(
        event,
        StreamEvent::ToolCallDelta { id: None, arguments, .. } if arguments.is_empty()
    )));
}

#[test]
fn converse_recordings_end_with_their_stop_reasons() {
    for (name, reason, raw) in [
        ("bedrock_converse_stream_nova.bin", FinishReason::Stop, "end_turn"),
        ("bedrock_converse_stream_llama.bin", FinishReason::Stop, "end_turn"),
        (
            "bedrock_converse_stream_guardrail.bin",
            FinishReason::ContentFilter,
            "guardrail_intervened",
        ),
    ] {
        let events = converse(&fixture(name));
        assert_well_formed(&events);
        let accumulator = fold(&events);
        assert_eq!(accumulator.finish_reason, Some(reason), "{name}");
        assert_eq!(accumulator.raw_finish_reason.as_deref(), Some(raw), "{name}");
        assert!(accumulator.is_complete(), "{name}");
        // The `p` padding never leaks into text, and empty deltas are no events.
        assert!(!accumulator.text.contains("abcdefghij"), "{name}");
        assert!(
            !events.contains(&StreamEvent::TextDelta { text: String::new() }),
            "{name}"
        );
    }
}

#[test]
fn converse_reasoning_cache_usage_and_stop_reasons() {
    let mut body = event("messageStart", &json!({"role": "assistant", "p": "abc"}));
    body.extend(event(
        "contentBlockDelta",
        &json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Thinking."}}}),
    ));
    body.extend(event(
        "contentBlockDelta",
        &json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "c2ln"}}}),
    ));
    body.extend(event(
        "contentBlockDelta",
        &json!({"contentBlockIndex": 1, "delta": {"text": "Paris."}}),
    ));
    body.extend(event("messageStop", &json!({"stopReason": "max_tokens"})));
    let usage = json!({
        "inputTokens": 10, "outputTokens": 5, "totalTokens": 115,
        "cacheReadInputTokens": 60, "cacheWriteInputTokens": 40,
    });
    body.extend(event(
        "metadata",
        &json!({"usage": usage, "metrics": {"latencyMs": 99}, "p": "x"}),
    ));
    let events = converse(&body);
    assert_well_formed(&events);
    let accumulator = fold(&events);
    assert_eq!(accumulator.reasoning, "Thinking.");
    assert_eq!(accumulator.text, "Paris.");
    assert_eq!(accumulator.finish_reason, Some(FinishReason::Length));
    let got = accumulator.usage.expect("usage");
    assert_eq!(got.cached_input_tokens, Some(60));
    assert_eq!(got.cache_creation_input_tokens, Some(40));
    assert_eq!(got.total_tokens, Some(115));
    assert_eq!(got.raw, usage, "kept verbatim");

    for (raw, reason) in [
        ("end_turn", FinishReason::Stop),
        ("stop_sequence", FinishReason::Stop),
        ("max_tokens", FinishReason::Length),
        ("tool_use", FinishReason::ToolCalls),
        ("guardrail_intervened", FinishReason::ContentFilter),
        ("content_filtered", FinishReason::ContentFilter),
        ("something_new", FinishReason::Other),
    ] {
        assert_eq!(converse::finish_reason(raw), reason, "{raw}");
    }
}

#[test]
fn the_exception_recording_is_a_clear_server_error() {
    let events = converse(&fixture("bedrock_exception_modelStreamError.bin"));
    assert_well_formed(&events);
    let StreamEvent::Error(error) = events.last().expect("events") else {
        panic!("{events:?}")
    };
    assert_eq!(error.kind, ErrorKind::Server);
    assert!(error.retryable());
    assert_eq!(error.code.as_deref(), Some("modelStreamErrorException"));
    assert_eq!(
        error.message,
        "modelStreamErrorException: Model Stream Error (the model answered HTTP 500: The model stream failed.)"
    );
    assert_eq!(events.len(), 2, "Started, then the error; no truncation error on top");
}

#[test]
fn exceptions_are_classified_by_type() {
    for (exception_type, kind) in [
        ("throttlingException", ErrorKind::RateLimited),
        ("validationException", ErrorKind::Validation),
        ("serviceUnavailableException", ErrorKind::Server),
        ("internalServerException", ErrorKind::Server),
        ("modelStreamErrorException", ErrorKind::Server),
        ("modelTimeoutException", ErrorKind::Timeout),
        ("somethingNewException", ErrorKind::Server),
    ] {
        let mut body = event("messageStart", &json!({"role": "assistant"}));
        body.extend(event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": 0, "delta": {"text": "Hel"}}),
        ));
        body.extend(exception(
            exception_type,
            &json!({"message": "Too many requests, slow down."}),
        ));
        // Nothing after the exception is read.
        body.extend(event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": 0, "delta": {"text": "lo"}}),
        ));
        for events in [converse(&body), invoke("anthropic.claude-3-haiku-20240307-v1:0", &body)] {
            let accumulator = fold(&events);
            let error = accumulator.error.clone().expect("an error");
            assert_eq!(error.kind, kind, "{exception_type}");
            assert_eq!(error.code.as_deref(), Some(exception_type));
            assert_eq!(
                error.message,
                format!("{exception_type}: Too many requests, slow down.")
            );
            assert!(!accumulator.text.contains("lo"));
            assert!(!accumulator.is_complete());
        }
    }
}

#[test]
fn error_frames_and_corrupt_frames_end_the_stream() {
    let mut body = event("messageStart", &json!({"role": "assistant"}));
    body.extend(frame(
        &[
            (":message-type", "error"),
            (":error-code", "InternalFailure"),
            (":error-message", "Something broke."),
        ],
        b"",
    ));
    let error = fold(&converse(&body)).error.expect("error");
    assert_eq!(error.code.as_deref(), Some("InternalFailure"));
    assert_eq!(error.message, "InternalFailure: Something broke.");

    let mut body = event("messageStart", &json!({"role": "assistant"}));
    let mut bad = event(
        "contentBlockDelta",
        &json!({"contentBlockIndex": 0, "delta": {"text": "x"}}),
    );
    let last = bad.len() - 1;
    bad[last] ^= 0xFF;
    body.extend(bad);
    let events = converse(&body);
    assert_well_formed(&events);
    let error = fold(&events).error.expect("error");
    assert_eq!(error.kind, ErrorKind::Protocol);
    assert!(
        error.message.contains("corrupt event stream") && error.message.contains("checksum"),
        "{}",
        error.message
    );

    let mut body = event("contentBlockDelta", &json!("not an object"));
    body.extend(frame(
        &[(":message-type", "event"), (":event-type", "metadata")],
        b"{not json",
    ));
    let error = fold(&converse(&body)).error.expect("error");
    assert_eq!(error.kind, ErrorKind::Protocol);
    assert!(
        error.message.contains("undecodable metadata event"),
        "{}",
        error.message
    );
}

#[test]
fn a_stream_cut_short_is_a_truncation_error() {
    let body = fixture("bedrock_converse_stream_nova.bin");
    let whole = converse(&body);
    let frames: Vec<usize> = {
        let mut ends = Vec::new();
        let mut offset = 0;
        while offset < body.len() {
            let total = u32::from_be_bytes(body[offset..offset + 4].try_into().expect("4 bytes")) as usize;
            offset += total;
            ends.push(offset);
        }
        ends
    };
    // Before messageStop (the last two frames are messageStop and metadata).
    let cut = frames[frames.len() - 3];
    let accumulator = fold(&converse(&body[..cut]));
    let error = accumulator.error.expect("truncated");
    assert_eq!(error.kind, ErrorKind::Network);
    assert_eq!(error.message, "the stream ended before messageStop");
    assert!(accumulator.text.starts_with("The capital of France is Paris."));
    // After messageStop, before metadata: the usage never came.
    let accumulator = fold(&converse(&body[..frames[frames.len() - 2]]));
    assert_eq!(accumulator.finish_reason, Some(FinishReason::Stop));
    assert!(accumulator.error.expect("truncated").message.contains("metadata"));
    // Inside a frame.
    let events = converse(&body[..cut + 7]);
    assert_well_formed(&events);
    let error = fold(&events).error.expect("cut frame");
    assert_eq!(error.kind, ErrorKind::Network);
    assert!(error.message.contains("ended inside a frame"), "{}", error.message);
    // Empty body.
    let events = converse(b"");
    assert_well_formed(&events);
    assert_eq!(events.len(), 2);
    assert_ne!(whole.len(), 0);
}

#[test]
fn invoke_claude_recording_goes_through_the_anthropic_mapping() {
    let events = invoke(
        "anthropic.claude-3-sonnet-20240229-v1:0",
        &fixture("bedrock_invoke_stream_claude3.bin"),
    );
    assert_well_formed(&events);
    let StreamEvent::Started(meta) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(meta.reported_model.as_deref(), Some("claude-3-sonnet-20240229"));
    let accumulator = fold(&events);
    assert_eq!(
        accumulator.text,
        "Why did the distributed tracing span cross the road? To get to the other service!"
    );
    assert_eq!(accumulator.raw_finish_reason.as_deref(), Some("end_turn"));
    let usage = accumulator.usage.clone().expect("usage");
    assert_eq!((usage.input_tokens, usage.output_tokens), (Some(16), Some(21)));
    assert!(events.contains(&StreamEvent::ServerTiming {
        latency_ms: Some(738),
        first_byte_latency_ms: Some(378)
    }));
    let metrics = accumulator.metrics(Duration::from_secs(1));
    assert_eq!(
        (metrics.server_latency_ms, metrics.server_first_byte_ms),
        (Some(738.0), Some(378.0))
    );
    assert!(accumulator.is_complete());
    // The same chunks from a model whose id hides its family are recognised by their shape.
    let hidden = invoke(
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3",
        &fixture("bedrock_invoke_stream_claude3.bin"),
    );
    assert_eq!(hidden, events);
}

#[test]
fn invoke_llama_chunks() {
    let mut body =
        chunk(&json!({"generation": "", "prompt_token_count": 12, "generation_token_count": 1, "stop_reason": null}));
    body.extend(chunk(
        &json!({"generation": "Paris", "prompt_token_count": null, "generation_token_count": 2, "stop_reason": null}),
    ));
    body.extend(chunk(&json!({"generation": " it is.", "prompt_token_count": null, "generation_token_count": 4, "stop_reason": "stop",
        "amazon-bedrock-invocationMetrics": {"inputTokenCount": 12, "outputTokenCount": 4, "invocationLatency": 321, "firstByteLatency": 123}})));
    let events = invoke("meta.llama3-8b-instruct-v1:0", &body);
    assert_well_formed(&events);
    let accumulator = fold(&events);
    assert_eq!(accumulator.text, "Paris it is.");
    assert_eq!(accumulator.finish_reason, Some(FinishReason::Stop));
    assert_eq!(accumulator.raw_finish_reason.as_deref(), Some("stop"));
    let usage = accumulator.usage.clone().expect("usage");
    assert_eq!(
        (usage.input_tokens, usage.output_tokens, usage.total_tokens),
        (Some(12), Some(4), Some(16))
    );
    assert_eq!(usage.raw["amazon-bedrock-invocationMetrics"]["invocationLatency"], 321);
    assert!(events.contains(&StreamEvent::ServerTiming {
        latency_ms: Some(321),
        first_byte_latency_ms: Some(123)
    }));
    // Input tokens are reported with the first chunk, before any text.
    let first_usage = events.iter().position(|event| matches!(event, StreamEvent::Usage(_)));
    let first_text = events
        .iter()
        .position(|event| matches!(event, StreamEvent::TextDelta { .. }));
    assert!(first_usage < first_text, "{events:?}");
    // Cut before the stop reason: truncated, with the input tokens kept.
    let cut = fold(&invoke(
        "meta.llama3-8b-instruct-v1:0",
        &chunk(&json!({"generation": "Pa", "prompt_token_count": 12})),
    ));
    assert_eq!(cut.error.expect("truncated").kind, ErrorKind::Network);
    assert_eq!(cut.usage.and_then(|usage| usage.input_tokens), Some(12));
}

#[test]
fn invoke_titan_and_nova_chunks() {
    let mut body = chunk(
        &json!({"outputText": "Hello", "index": 0, "totalOutputTextTokenCount": 1, "completionReason": null, "inputTextTokenCount": 3}),
    );
    body.extend(chunk(&json!({"outputText": " there.", "index": 0, "totalOutputTextTokenCount": 3, "completionReason": "LENGTH", "inputTextTokenCount": null})));
    let accumulator = fold(&invoke("amazon.titan-text-express-v1", &body));
    assert_eq!(accumulator.text, "Hello there.");
    assert_eq!(accumulator.finish_reason, Some(FinishReason::Length));
    assert_eq!(accumulator.raw_finish_reason.as_deref(), Some("LENGTH"));
    let usage = accumulator.usage.expect("usage");
    assert_eq!((usage.input_tokens, usage.output_tokens), (Some(3), Some(3)));

    let mut body = chunk(&json!({"messageStart": {"role": "assistant"}}));
    body.extend(chunk(
        &json!({"contentBlockDelta": {"delta": {"text": "Bonjour"}, "contentBlockIndex": 0}}),
    ));
    body.extend(chunk(&json!({"contentBlockStop": {"contentBlockIndex": 0}})));
    body.extend(chunk(&json!({"messageStop": {"stopReason": "end_turn"}})));
    body.extend(chunk(&json!({
        "metadata": {"usage": {"inputTokens": 4, "outputTokens": 2}, "metrics": {}, "trace": {}},
        "amazon-bedrock-invocationMetrics": {"inputTokenCount": 4, "outputTokenCount": 2, "invocationLatency": 200, "firstByteLatency": 80},
    })));
    let events = invoke("us.amazon.nova-micro-v1:0", &body);
    assert_well_formed(&events);
    let accumulator = fold(&events);
    assert_eq!(accumulator.text, "Bonjour");
    assert_eq!(accumulator.finish_reason, Some(FinishReason::Stop));
    let usage = accumulator.usage.clone().expect("usage");
    assert_eq!(
        (usage.input_tokens, usage.output_tokens, usage.total_tokens),
        (Some(4), Some(2), Some(6))
    );
    assert_eq!(
        accumulator.metrics(Duration::from_secs(1)).server_first_byte_ms,
        Some(80.0)
    );
    assert!(accumulator.is_complete());
}

#[test]
fn invoke_chunks_that_are_not_base64_json_are_protocol_errors() {
    for payload in [
        json!({"bytes": "***"}),
        json!({"bytes": BASE64.encode("not json")}),
        json!({"nothing": true}),
    ] {
        let events = invoke("anthropic.claude-3-haiku-20240307-v1:0", &event("chunk", &payload));
        assert_well_formed(&events);
        let error = fold(&events).error.expect("error");
        assert_eq!(error.kind, ErrorKind::Protocol, "{payload}");
    }
}

#[test]
fn pre_stream_errors_name_the_aws_exception() {
    for (status, error_type, kind) in [
        (400, "ValidationException", ErrorKind::Validation),
        (403, "AccessDeniedException", ErrorKind::Auth),
        (404, "ResourceNotFoundException", ErrorKind::Validation),
        (408, "ModelTimeoutException", ErrorKind::Timeout),
        (424, "ModelErrorException", ErrorKind::Server),
        (429, "ThrottlingException", ErrorKind::RateLimited),
        (500, "InternalServerException", ErrorKind::Server),
        (503, "ServiceUnavailableException", ErrorKind::Server),
    ] {
        let mut headers = HeaderMap::new();
        let header = format!("{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/");
        headers.insert("x-amzn-ErrorType", header.parse().expect("header"));
        let error = error_from_response(
            ProviderKind::Bedrock,
            status,
            &headers,
            br#"{"message":"The provided model identifier is invalid."}"#,
        );
        assert_eq!(error.code.as_deref(), Some(error_type), "{status}");
        assert_eq!(error.kind, kind, "{status} {error_type}");
        assert_eq!(error.status, Some(status));
        assert_eq!(error.message, "The provided model identifier is invalid.");
    }
    let error = error_from_response(
        ProviderKind::Bedrock,
        429,
        &HeaderMap::new(),
        br#"{"message":"Too many tokens"}"#,
    );
    assert_eq!((error.kind, error.code), (ErrorKind::RateLimited, None));
}

/// Where each frame of an event stream ends.
fn frame_ends(body: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut offset = 0;
    while offset + 4 <= body.len() {
        offset += u32::from_be_bytes(body[offset..offset + 4].try_into().expect("4 bytes")) as usize;
        ends.push(offset);
    }
    ends
}

/// Feeds `body` and says whether the decoder was done before `finish` (as the runner sees it).
fn done_before_finish(mut decoder: Box<dyn WireDecoder>, body: &[u8]) -> (bool, Vec<StreamEvent>) {
    let mut events = Vec::new();
    decoder.feed(body, &mut events);
    let done = decoder.is_done();
    decoder.finish(&mut events);
    (done, events)
}

fn after_end_warnings(events: &[StreamEvent]) -> usize {
    events
        .iter()
        .filter(|event| {
            matches!(
                event,
                StreamEvent::Warning {
                    kind: WarningKind::AfterEnd,
                    ..
                }
            )
        })
        .count()
}

#[test]
fn converse_and_invoke_end_at_their_terminal_event_and_read_nothing_after_it() {
    // ConverseStream: done once both messageStop and metadata came, not at messageStop.
    let nova = fixture("bedrock_converse_stream_nova.bin");
    let once = fold(&converse(&nova));
    let (done, _) = done_before_finish(converse_decoder("bedrock", ResponseMeta::default()), &nova);
    assert!(done);
    let without_metadata = converse_decoder("bedrock", ResponseMeta::default());
    let frames = frame_ends(&nova);
    let (done, _) = done_before_finish(without_metadata, &nova[..frames[frames.len() - 2]]);
    assert!(!done, "messageStop alone is not the end: the usage follows in metadata");
    // The stream replayed by a gateway: the text is not doubled, and the response stays complete.
    let twice = converse(&[nova.clone(), nova.clone()].concat());
    assert_eq!(after_end_warnings(&twice), 1, "{twice:?}");
    let accumulator = fold(&twice);
    assert_eq!(accumulator.text, once.text);
    assert!(accumulator.is_complete());
    // Content after the end is never appended, even from a frame that parses.
    let mut injected = nova.clone();
    injected.extend(event(
        "contentBlockDelta",
        &json!({"contentBlockIndex": 0, "delta": {"text": " INJECTED AFTER THE END"}}),
    ));
    injected.extend_from_slice(b"\x00\x00\x00");
    let events = converse(&injected);
    assert_eq!(fold(&events).text, once.text);
    assert_eq!(after_end_warnings(&events), 1);
    assert!(fold(&events).is_complete());

    // Invoke: done at the model's last chunk (message_stop, with the invocation metrics).
    let claude = fixture("bedrock_invoke_stream_claude3.bin");
    let model = "anthropic.claude-3-sonnet-20240229-v1:0";
    let (done, events) = done_before_finish(invoke_decoder("bedrock", model, ResponseMeta::default()), &claude);
    assert!(done);
    let twice = invoke(model, &[claude.clone(), claude.clone()].concat());
    assert_eq!(fold(&twice).text, fold(&events).text);
    assert_eq!(fold(&twice).billed_output_tokens, Some(21));
    assert_eq!(after_end_warnings(&twice), 1);
    // Cut before message_stop: the stop reason came, but not the end (nor Bedrock's metrics).
    let frames = frame_ends(&claude);
    let cut = fold(&invoke(model, &claude[..frames[frames.len() - 2]]));
    assert_eq!(cut.finish_reason, Some(FinishReason::Stop));
    assert!(!cut.is_complete());
    assert_eq!(cut.error.expect("cut").message, "the stream ended before message_stop");
}

#[test]
fn implausible_counts_in_metadata_and_invocation_metrics_are_flagged_not_summed() {
    let metadata = |usage: Value| {
        let mut body = event("messageStart", &json!({"role": "assistant"}));
        body.extend(event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": 0, "delta": {"text": "Hi"}}),
        ));
        body.extend(event("messageStop", &json!({"stopReason": "end_turn"})));
        body.extend(event("metadata", &json!({"usage": usage, "metrics": {"latencyMs": 5}})));
        body
    };
    let accumulator = fold(&converse(&metadata(json!({
        "inputTokens": u64::MAX,
        "outputTokens": 7,
        "cacheReadInputTokens": -1,
        "cacheWriteInputTokens": 1.5,
    }))));
    let usage = accumulator.usage.clone().expect("usage");
    assert_eq!(
        (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens),
        (None, Some(7), None)
    );
    assert_eq!(usage.raw["inputTokens"], u64::MAX, "the raw usage keeps what was sent");
    let reason = accumulator.implausible_usage().expect("flagged");
    assert!(reason.contains("inputTokens = 18446744073709551615"), "{reason}");
    assert!(reason.contains("cacheReadInputTokens = -1"), "{reason}");
    assert!(accumulator.is_complete(), "the answer itself is whole");
    // Without a total, the counts are summed; a sum no response can have is implausible too.
    let limit = crate::providers::MAX_PLAUSIBLE_COUNT;
    let quarter = limit / 4;
    let accumulator = fold(&converse(&metadata(json!({
        "inputTokens": quarter, "outputTokens": quarter, "cacheReadInputTokens": quarter, "cacheWriteInputTokens": quarter,
    }))));
    assert_eq!(accumulator.usage.clone().expect("usage").total_tokens, Some(limit));
    assert_eq!(accumulator.implausible_usage(), None);
    let accumulator = fold(&converse(&metadata(json!({
        "inputTokens": limit, "outputTokens": limit, "cacheReadInputTokens": limit, "cacheWriteInputTokens": limit,
    }))));
    let usage = accumulator.usage.clone().expect("usage");
    assert_eq!((usage.input_tokens, usage.total_tokens), (Some(limit), None));
    let reason = accumulator.implausible_usage().expect("flagged");
    assert!(reason.contains("the total = 36028797018963968"), "{reason}");

    let body = chunk(
        &json!({"generation": "Hi", "prompt_token_count": 3, "generation_token_count": 1, "stop_reason": "stop",
        "amazon-bedrock-invocationMetrics": {"inputTokenCount": u64::MAX, "outputTokenCount": 1, "invocationLatency": u64::MAX, "firstByteLatency": 4}}),
    );
    let accumulator = fold(&invoke("meta.llama3-8b-instruct-v1:0", &body));
    assert_eq!(accumulator.billed_input_tokens, None);
    assert_eq!(accumulator.usage.clone().expect("usage").input_tokens, Some(3));
    assert!(accumulator.implausible_usage().is_some());
    assert_eq!(
        accumulator.metrics(Duration::from_secs(1)).server_latency_ms,
        None,
        "an impossible latency is no latency"
    );
}

#[test]
fn invoke_anthropic_usage_stays_linear_when_its_keys_keep_changing() {
    let model = "anthropic.claude-3-sonnet-20240229-v1:0";
    let mut body = chunk(
        &json!({"type": "message_start", "message": {"model": "claude", "usage": {"input_tokens": 10, "output_tokens": 1}}}),
    );
    body.extend(chunk(
        &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}),
    ));
    for index in 0..8000 {
        body.extend(chunk(
            &json!({"type": "message_delta", "delta": {}, "usage": {format!("k{index}"): index}}),
        ));
    }
    body.extend(chunk(
        &json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}),
    ));
    body.extend(chunk(&json!({"type": "message_stop"})));
    let started = std::time::Instant::now();
    let events = invoke(model, &body);
    let elapsed = started.elapsed();
    let usage_bytes: usize = events
        .iter()
        .filter(|event| matches!(event, StreamEvent::Usage(_)))
        .map(|event| serde_json::to_string(event).expect("json").len())
        .sum();
    assert!(
        usage_bytes < 4 * body.len(),
        "usage events hold {usage_bytes} bytes for a {} byte body",
        body.len()
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    let accumulator = fold(&events);
    let usage = accumulator.usage.clone().expect("usage");
    assert_eq!((usage.input_tokens, usage.output_tokens), (Some(10), Some(2)));
    assert!(accumulator.is_complete());
}
