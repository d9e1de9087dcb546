//! The Bedrock recordings through the engine's decoders, as a replayed target would read them:
//! what each recording exists to show, beyond `expected.json`.

use std::time::Duration;

use modelbench_e2e::{recording_body, target_for_recording};
use modelbench_engine::accumulate::Accumulator;
use modelbench_engine::event::{FinishReason, ResponseMeta, StreamEvent};
use modelbench_engine::providers::Protocol;
use modelbench_engine::target::Api;
use modelbench_engine::{ErrorKind, ProviderKind};

/// Decodes a recording with the decoder its replay target gets, fed in `piece`-byte reads.
fn decode_as_target(name: &str, piece: usize) -> Vec<StreamEvent> {
    let target = target_for_recording(name, "http://127.0.0.1:1", "replay-model").expect("a Bedrock recording");
    assert_eq!(target.provider, ProviderKind::Bedrock);
    let mut decoder = Protocol::for_target(&target).decoder(target.provider, &target.model, ResponseMeta::default());
    let mut events = Vec::new();
    for bytes in recording_body(name).chunks(piece) {
        decoder.feed(bytes, &mut events);
    }
    decoder.finish(&mut events);
    events
}

fn fold(events: &[StreamEvent]) -> Accumulator {
    let mut accumulator = Accumulator::new();
    for event in events {
        accumulator.apply(event, Duration::ZERO);
    }
    accumulator
}

#[test]
fn recordings_map_to_bedrock_targets_and_apis() {
    for (name, api, protocol) in [
        (
            "bedrock_converse_stream_nova.b64",
            Api::Converse,
            Protocol::BedrockConverse,
        ),
        (
            "bedrock_exception_modelStreamError.b64",
            Api::Converse,
            Protocol::BedrockConverse,
        ),
        (
            "bedrock_invoke_stream_claude3.b64",
            Api::Invoke,
            Protocol::BedrockInvoke,
        ),
    ] {
        let target = target_for_recording(name, "http://127.0.0.1:1", "replay-model~replay=x").expect("target");
        assert_eq!(target.api(), api, "{name}");
        assert_eq!(Protocol::for_target(&target), protocol, "{name}");
        assert_eq!(target.region.as_deref(), Some("us-east-1"), "{name}");
        target.validate().expect("a valid target");
    }
    let invoke = target_for_recording("bedrock_invoke_stream_claude3.b64", "http://x", "m~replay=y").expect("target");
    assert_eq!(invoke.model, "anthropic.claude-3-sonnet-20240229-v1:0~replay=y");
}

#[test]
fn the_exception_recording_is_a_clear_retryable_server_error() {
    let events = decode_as_target("bedrock_exception_modelStreamError.b64", 1);
    assert!(matches!(events[0], StreamEvent::Started(_)), "{events:?}");
    let accumulator = fold(&events);
    let error = accumulator.error.clone().expect("an error");
    assert_eq!(error.kind, ErrorKind::Server);
    assert!(error.retryable());
    assert_eq!(error.provider, "bedrock");
    assert_eq!(error.code.as_deref(), Some("modelStreamErrorException"));
    assert!(
        error
            .message
            .starts_with("modelStreamErrorException: Model Stream Error")
            && error.message.contains("500")
            && error.message.contains("The model stream failed."),
        "{}",
        error.message
    );
    assert!(!accumulator.is_complete());
}

#[test]
fn converse_tool_use_and_guardrail_recordings() {
    let accumulator = fold(&decode_as_target("bedrock_converse_stream_tool_use.b64", 7));
    let calls = accumulator.tool_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].name.as_deref(), Some("get_weather"));
    assert_eq!(calls[0].id.as_deref(), Some("tooluse_yypYDr71TwCwByoyao4-Vg"));
    assert_eq!(calls[0].arguments, r#"{"location": "Barcelona"}"#);
    assert_eq!(accumulator.finish_reason, Some(FinishReason::ToolCalls));

    let accumulator = fold(&decode_as_target("bedrock_converse_stream_guardrail.b64", 13));
    assert_eq!(accumulator.finish_reason, Some(FinishReason::ContentFilter));
    assert!(accumulator.text.contains("{ADDRESS}"));
    assert!(accumulator.is_complete(), "a guardrail intervention is a normal end");
}

#[test]
fn invoke_reads_the_same_whether_or_not_the_model_id_names_its_family() {
    let name = "bedrock_invoke_stream_claude3.b64";
    let by_family = decode_as_target(name, 64);
    let mut decoder = Protocol::BedrockInvoke.decoder(ProviderKind::Bedrock, "my-profile", ResponseMeta::default());
    let mut by_shape = Vec::new();
    decoder.feed(&recording_body(name), &mut by_shape);
    decoder.finish(&mut by_shape);
    assert_eq!(by_family, by_shape);
    let metrics = fold(&by_family).metrics(Duration::from_secs(1));
    assert_eq!(metrics.server_latency_ms, Some(738.0));
    assert_eq!(metrics.server_first_byte_ms, Some(378.0));
}

/// What consumers see of a Bedrock stream, pinned: a converse stream with a guardrail, an
/// invoke stream and an exception.
#[test]
fn bedrock_event_sequences_are_pinned() {
    for name in [
        "bedrock_converse_stream_guardrail.b64",
        "bedrock_invoke_stream_claude3.b64",
        "bedrock_exception_modelStreamError.b64",
    ] {
        insta::assert_json_snapshot!(name, decode_as_target(name, 1000));
    }
}
