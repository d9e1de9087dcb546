//! Streams that end without closing, odd but legal bytes, and numbers that do not fit: the eight
//! decoder findings of issue 22 (`../shared/findings/streams-and-history.md`, §1–8). Each is
//! replayed through fakecloud (whole, and one byte per write) and through the decoders alone
//! (split in two at every byte, and one byte at a time), for every protocol it applies to.

use std::time::{Duration, Instant};

use fakecloud::{Config, FakeCloud};
use modelbench_e2e::{FAKE_KEYS, check_against_expected, expected, recording_body, target_for_recording};
use modelbench_engine::event::{FinishReason, StreamEvent};
use modelbench_engine::providers::Protocol;
use modelbench_engine::store::{RunStatus, Store};
use modelbench_engine::{ErrorKind, ProviderKind, ResponseRecord, Target};
use serde_json::Value;

use crate::cli::{cli, json};
use crate::decoders::{decode, fold};
use crate::recordings::replay_once_each;

/// One recording per protocol (and per cloud where the same protocol is served differently):
/// Chat Completions (OpenAI, Azure), Responses, Anthropic Messages, Gemini (AI Studio, Vertex),
/// Ollama, Bedrock ConverseStream and InvokeModelWithResponseStream.
const ONE_PER_PROTOCOL: [&str; 9] = [
    "openai_chat_usage.sse",
    "azure_chat_content_filter_2026_emoji.sse",
    "openai_responses_text.sse",
    "anthropic_messages_short.sse",
    "gemini_aistudio_cumulative_usage.sse",
    "gemini_vertex_thinking.sse",
    "ollama_api_chat.ndjson",
    "bedrock_converse_stream_nova.b64",
    "bedrock_invoke_stream_claude3.b64",
];

/// The recordings served over HTTP as text (SSE and NDJSON), in `expected.json` order.
fn text_recordings() -> Vec<String> {
    expected()
        .as_object()
        .expect("object")
        .keys()
        .filter(|name| name.ends_with(".sse") || name.ends_with(".ndjson"))
        .cloned()
        .collect()
}

/// Which decoder reads a recording.
fn protocol_of(name: &str) -> (Protocol, ProviderKind) {
    let target = target_for_recording(name, "http://127.0.0.1:1", "m").expect("a known recording");
    (Protocol::for_target(&target), target.provider)
}

/// Decodes `body` whole, checks that splitting it in two at every byte boundary (every few bytes
/// past 1,500 bytes, whose offsets still hit every UTF-8 and line-ending position over the
/// recordings) and one byte at a time give the same events, and returns them.
fn decode_every_split(name: &str, body: &[u8]) -> Vec<StreamEvent> {
    let (protocol, provider) = protocol_of(name);
    let whole = decode(protocol, provider, body, &[]);
    let stride = (body.len() / 1500).max(1);
    for cut in (1..body.len()).step_by(stride) {
        assert_eq!(
            decode(protocol, provider, body, &[cut]),
            whole,
            "{name}: split at {cut}"
        );
    }
    let every_byte: Vec<usize> = (1..body.len()).collect();
    assert_eq!(
        decode(protocol, provider, body, &every_byte),
        whole,
        "{name}: one byte at a time"
    );
    whole
}

fn warnings(events: &[StreamEvent]) -> usize {
    events.iter().filter(|event| event.kind() == "warning").count()
}

/// A fakecloud whose fixtures are `files` (altered recordings), plus the real recordings they
/// are named after. Keep both returned values bound.
async fn cloud_serving(files: &[(String, Vec<u8>)]) -> (FakeCloud, tempfile::TempDir) {
    let directory = tempfile::tempdir().expect("tempdir");
    for (name, bytes) in files {
        std::fs::write(directory.path().join(name), bytes).expect("write fixture");
    }
    let cloud = FakeCloud::start(Config {
        fixtures_dir: Some(directory.path().to_owned()),
        ..Config::default()
    })
    .await
    .expect("fakecloud");
    (cloud, directory)
}

/// Targets that replay `file` (read as the recording `recording`) with `spec` added, whole and
/// one byte per write. Each is named `{label} {variant}`.
fn replaying(base_url: &str, recording: &str, file: &str, spec: &str, label: &str) -> Vec<Target> {
    [("whole", ""), ("bytewise", ";split=1")]
        .into_iter()
        .map(|(variant, split)| {
            let model = format!("m~replay={file}{spec}{split}");
            let mut target = target_for_recording(recording, base_url, &model).expect("a known recording");
            target.name = format!("{label} {variant}");
            target
        })
        .collect()
}

/// One prompt to every target, `concurrency` at a time, one attempt each.
async fn replay(targets: Vec<Target>, concurrency: usize) -> Vec<ResponseRecord> {
    let mut options = modelbench_engine::runner::RunOptions::default();
    options.retry.max_retries = 0;
    options.concurrency = concurrency;
    let plan = modelbench_engine::runner::RunPlan {
        targets,
        prompts: vec![modelbench_engine::Prompt::user("replay")],
        parameters: modelbench_engine::Parameters::default(),
        options,
    };
    modelbench_engine::runner::Runner::new(crate::recordings::credentials())
        .start(plan, tokio_util::sync::CancellationToken::new())
        .expect("start")
        .outcome()
        .await
        .expect("outcome")
        .responses
}

/// Replays each of `names` (whole and one byte per write) with `spec` added, and checks every
/// response against the recording's `expected.json` entry.
async fn replays_match_expected(base_url: &str, names: &[String], spec: &str) {
    let expected = expected();
    let targets = names
        .iter()
        .flat_map(|name| replaying(base_url, name, name, spec, name))
        .collect();
    let responses = replay_once_each(targets).await;
    assert_eq!(responses.len(), 2 * names.len());
    for response in &responses {
        let name = recording_of(response);
        check_against_expected(name, &expected[name], &response.into());
    }
}

/// The recording a response's target replayed: its name up to the first space.
fn recording_of(response: &ResponseRecord) -> &str {
    response.target.split(' ').next().expect("a name")
}

// ---- 1. A finished stream whose connection stays open ------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_stream_held_open_is_complete_and_timed_at_its_terminal_event() {
    // The server sends the whole answer, then keeps the connection open for 30 s: silent, with
    // keep-alives every 200 ms (which would reset an idle timer), and written one byte at a time.
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let mut targets = Vec::new();
    for name in ONE_PER_PROTOCOL {
        for (variant, spec) in [("silent", ";hold_ms=30000"), ("pings", ";hold_ms=30000;ping_ms=200")] {
            targets.extend(replaying(
                &cloud.base_url(),
                name,
                name,
                spec,
                &format!("{name} {variant}"),
            ));
        }
    }
    let count = targets.len();
    let started = Instant::now();
    // Two at a time: the times compared are the server's and the engine's, and a loaded 2-core
    // machine must not make one lag the other.
    let responses = tokio::time::timeout(Duration::from_secs(20), replay(targets, 2))
        .await
        .expect("every response ends at its terminal event, not when the server closes (30 s)");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(responses.len(), count);
    let expected = expected();
    let requests = cloud.requests();
    for response in &responses {
        let name = recording_of(response);
        check_against_expected(name, &expected[name], &response.into());
        // The server's own clock: from its handler's entry to the body's last byte. The
        // engine's total also covers connecting and sending the request, so it is a little more.
        let spec = response.model.split_once('~').expect("a spec").1;
        let request = requests
            .iter()
            .find(|request| request.model.ends_with(spec))
            .unwrap_or_else(|| panic!("{}: no request with {spec}", response.target));
        let server_ms = request.server_body_sent_us.expect("the body was sent") as f64 / 1000.0;
        let total_ms = response.metrics.total_ms;
        // Written one byte at a time, the body reaches a debug build faster than it reads it:
        // there the engine's own reading is what lags, not any wait for the connection.
        let lag_ms = if response.target.ends_with("bytewise") {
            250.0
        } else {
            50.0
        };
        assert!(
            total_ms - server_ms < lag_ms,
            "{}: total {total_ms:.1} ms, the server sent the last byte at {server_ms:.1} ms",
            response.target
        );
    }
}

// ---- 2. Explicit nulls ---------------------------------------------------------------------------

/// Rewrites each JSON event of an SSE body with `change`, keeping every other line as it was.
fn map_sse_json(body: &[u8], mut change: impl FnMut(&mut Value)) -> Vec<u8> {
    let text = String::from_utf8(body.to_vec()).expect("utf8");
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\r', '\n']);
        let ending = &line[content.len()..];
        match content
            .strip_prefix("data: ")
            .and_then(|data| serde_json::from_str::<Value>(data).ok())
        {
            Some(mut json) => {
                change(&mut json);
                out.push_str("data: ");
                out.push_str(&json.to_string());
            }
            None => out.push_str(content),
        }
        out.push_str(ending);
    }
    out.into_bytes()
}

/// The items of the array at `pointer` in `value`, if there is one.
fn items_mut<'a>(value: &'a mut Value, pointer: &str) -> impl Iterator<Item = &'a mut Value> {
    value
        .pointer_mut(pointer)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

fn null_if_absent(object: &mut Value, key: &str) {
    if let Some(object) = object.as_object_mut() {
        object.entry(key).or_insert(Value::Null);
    }
}

/// What OpenAI-compatible servers (SGLang, LiteLLM) send: every optional delta field written
/// out as `null`, and `"choices": null` rather than `[]` on the usage chunk.
fn chat_with_nulls(body: &[u8]) -> Vec<u8> {
    map_sse_json(body, |chunk| {
        if chunk
            .get("choices")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            chunk["choices"] = Value::Null;
        }
        for choice in items_mut(chunk, "/choices") {
            null_if_absent(choice, "finish_reason");
            if let Some(delta) = choice.get_mut("delta") {
                for key in ["content", "tool_calls", "function_call", "refusal", "reasoning_content"] {
                    null_if_absent(delta, key);
                }
                for call in items_mut(delta, "/tool_calls") {
                    null_if_absent(call, "id");
                    null_if_absent(call, "type");
                }
            }
        }
    })
}

/// Gemini with `"thought": null` on every part, `willContinue`/`partialArgs` as `null` on every
/// call, and a first chunk that is all nulls.
fn gemini_with_nulls(body: &[u8]) -> Vec<u8> {
    let changed = map_sse_json(body, |chunk| {
        for candidate in items_mut(chunk, "/candidates") {
            for part in items_mut(candidate, "/content/parts") {
                null_if_absent(part, "thought");
                if let Some(call) = part.get_mut("functionCall") {
                    null_if_absent(call, "willContinue");
                    null_if_absent(call, "partialArgs");
                }
            }
        }
    });
    [
        b"data: {\"candidates\": null, \"usageMetadata\": null, \"promptFeedback\": null}\n\n".as_slice(),
        &changed,
    ]
    .concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_nulls_read_as_absent() {
    let mut files = Vec::new();
    for name in text_recordings() {
        let body = recording_body(&name);
        let changed = if name.starts_with("gemini") {
            gemini_with_nulls(&body)
        } else if let (Protocol::OpenAiChat, _) = protocol_of(&name) {
            chat_with_nulls(&body)
        } else {
            continue;
        };
        assert_ne!(changed, body, "{name}: nulls were added");
        files.push((name, changed));
    }
    // OpenAI, Azure (2), OpenRouter, Groq, and every Gemini recording.
    assert_eq!(files.len(), 10);
    let expected = expected();
    for (name, body) in &files {
        let accumulator = fold(&decode_every_split(name, body));
        check_against_expected(name, &expected[name.as_str()], &(&accumulator).into());
    }
    let (cloud, _fixtures) = cloud_serving(&files).await;
    let names: Vec<String> = files.into_iter().map(|(name, _)| name).collect();
    replays_match_expected(&cloud.base_url(), &names, "").await;
}

// ---- 3. A byte order mark before the body --------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_byte_order_mark_before_the_body_is_stripped() {
    let expected = expected();
    let names = text_recordings();
    // 19 SSE and NDJSON recordings, among them the five that lost their first event.
    assert_eq!(names.len(), 19);
    for name in &names {
        let body = [b"\xEF\xBB\xBF".as_slice(), &recording_body(name)].concat();
        let accumulator = fold(&decode_every_split(name, &body));
        check_against_expected(name, &expected[name.as_str()], &(&accumulator).into());
    }
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    replays_match_expected(&cloud.base_url(), &names, ";bom").await;
}

// ---- 4. Usage counts that do not fit -------------------------------------------------------------

const TWO_TO_THE_63: &str = "9223372036854775808";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_usage_count_that_does_not_fit_is_flagged_and_costs_no_other_target_its_results() {
    // `repro2/openai_usage_2pow63.sse`: the usage chunk's completion_tokens set to 2^63.
    let good = recording_body("openai_chat_usage.sse");
    let text = String::from_utf8(good).expect("utf8");
    assert!(text.contains("\"completion_tokens\":9,"));
    let gateway = text.replace(
        "\"completion_tokens\":9,",
        &format!("\"completion_tokens\":{TWO_TO_THE_63},"),
    );
    let (cloud, _fixtures) = cloud_serving(&[
        ("openai_chat_usage.sse".to_owned(), text.clone().into_bytes()),
        ("openai_usage_2pow63.sse".to_owned(), gateway.into_bytes()),
    ])
    .await;
    let base = cloud.base_url();
    let data = tempfile::tempdir().expect("tempdir");
    let targets = data.path().join("targets.toml");
    std::fs::write(
        &targets,
        format!(
            r#"
[[target]]
name = "good"
provider = "openai"
model = "gpt-4o-mini~replay=openai_chat_usage.sse"
base_url = "{base}/v1"

[[target]]
name = "gateway"
provider = "openai"
model = "gpt-4o-mini~replay=openai_usage_2pow63.sse;split=1"
base_url = "{base}/v1"
"#
        ),
    )
    .expect("write targets");
    let output = cli(
        data.path(),
        &[
            "run",
            "--targets",
            targets.to_str().expect("utf8"),
            "--retries",
            "0",
            "--json",
            "hello",
        ],
        FAKE_KEYS,
        None,
    )
    .await;
    let document = json(&output);
    let results = document["results"].as_array().expect("results");
    assert_eq!(results.len(), 2, "{document}");
    let by_target = |name: &str| results.iter().find(|result| result["target"] == name).expect("target");
    let good = by_target("good");
    assert_eq!(good["complete"], true);
    assert_eq!(good["text"], "The capital of the UK is London.");
    assert_eq!(good["usage"]["output_tokens"], 9);
    assert!(good["cost_usd"].is_f64(), "{good}");
    let gateway = by_target("gateway");
    assert_eq!(gateway["complete"], true, "the answer itself is whole: {gateway}");
    assert_eq!(gateway["text"], good["text"]);
    assert_eq!(gateway["usage"]["input_tokens"], 78);
    assert!(gateway["usage"]["output_tokens"].is_null(), "{gateway}");
    assert!(gateway["cost_usd"].is_null(), "{gateway}");
    let reason = gateway["cost_source"].as_str().expect("why no cost");
    assert!(
        reason.starts_with("implausible usage") && reason.contains(TWO_TO_THE_63),
        "{reason}"
    );

    // Stored, with the run finished; the raw value is in the response's events as it came.
    let run_id = document["run_id"].as_str().expect("run id").to_owned();
    let shown = json(&cli(data.path(), &["runs", "show", &run_id, "--json"], &[], None).await);
    assert_eq!(shown["results"], document["results"], "stored as printed");
    let runs = json(&cli(data.path(), &["runs", "list", "--json"], &[], None).await);
    assert_eq!(runs[0]["response_count"], 2);
    let store = Store::open(&data.path().join("modelbench.db")).expect("store");
    let run = store
        .load_run(run_id.parse().expect("run id"))
        .expect("load")
        .expect("the run");
    assert_eq!(run.status, RunStatus::Completed);
    let key = run
        .responses
        .iter()
        .find(|response| response.target == "gateway")
        .expect("stored")
        .key;
    let events = store.load_events(run.record.id, key).expect("events");
    let raw = events
        .iter()
        .find_map(|stored| match &stored.event {
            StreamEvent::Usage(usage) => Some(usage.raw["completion_tokens"].clone()),
            _ => None,
        })
        .expect("a usage event");
    assert_eq!(raw.to_string(), TWO_TO_THE_63);
    assert_eq!(
        events.iter().filter(|stored| stored.event.kind() == "warning").count(),
        1
    );
}

/// Sets one count in a recording's usage (its last occurrence, which is the final usage).
fn with_count(name: &str, field: &str, value: &str) -> Vec<u8> {
    let text = String::from_utf8(recording_body(name)).expect("utf8");
    let key = format!("\"{field}\":");
    let at = text.rfind(&key).unwrap_or_else(|| panic!("{name}: no {field}"));
    let after_key = at + key.len();
    let start = after_key + (text[after_key..].len() - text[after_key..].trim_start().len());
    let end = start
        + text[start..]
            .find(|character: char| !(character.is_ascii_digit() || character == '-'))
            .expect("the number ends");
    format!("{}{value}{}", &text[..start], &text[end..]).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implausible_counts_are_flagged_on_every_text_protocol() {
    let cases = [
        ("openai_chat_usage.sse", "completion_tokens", "18446744073709551615"),
        ("openai_responses_text.sse", "output_tokens", "18446744073709551616"),
        ("anthropic_messages_short.sse", "output_tokens", "-1"),
        ("gemini_aistudio_crlf.sse", "candidatesTokenCount", "1e300"),
        ("ollama_api_chat.ndjson", "eval_count", TWO_TO_THE_63),
    ];
    let mut files = Vec::new();
    for (name, field, value) in cases {
        let body = with_count(name, field, value);
        let events = decode_every_split(name, &body);
        let accumulator = fold(&events);
        assert!(accumulator.is_complete(), "{name}: {:?}", accumulator.error);
        assert_eq!(
            accumulator.text,
            fold(&decode_every_split(name, &recording_body(name))).text
        );
        let usage = accumulator.usage.clone().expect("usage");
        assert_eq!(usage.output_tokens, None, "{name}: {field} = {value} is no count");
        assert_eq!(warnings(&events), 1, "{name}");
        files.push((name.to_owned(), body));
    }
    let (cloud, _fixtures) = cloud_serving(&files).await;
    let targets = files
        .iter()
        .flat_map(|(name, _)| replaying(&cloud.base_url(), name, name, "", name))
        .collect();
    let responses = replay_once_each(targets).await;
    assert_eq!(responses.len(), 2 * cases.len());
    for response in &responses {
        assert!(response.complete, "{}: {:?}", response.target, response.error);
        assert_eq!(response.usage.output_tokens, None, "{}", response.target);
        assert_eq!(response.cost_usd, None, "{}", response.target);
        let reason = response.cost_source.as_deref().unwrap_or_default();
        assert!(reason.starts_with("implausible usage"), "{}: {reason}", response.target);
    }
}

// ---- 5. OpenAI Chat cut after its finish chunk ---------------------------------------------------

/// Where each SSE event of `body` ends (after its blank line).
fn event_ends(body: &[u8]) -> Vec<usize> {
    let text = String::from_utf8(body.to_vec()).expect("utf8");
    text.match_indices("\n\n").map(|(at, _)| at + 2).collect()
}

/// Where the first chunk with a finish reason starts, and where it ends.
fn finish_chunk(body: &[u8]) -> (usize, usize) {
    let text = String::from_utf8_lossy(body);
    let start = text.find("\"finish_reason\":\"").expect("a finish chunk");
    let end = event_ends(body)
        .into_iter()
        .find(|end| *end > start)
        .expect("the finish chunk ends");
    (start, end)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_stream_cut_before_done_is_incomplete_even_after_its_finish_chunk() {
    // The four Chat recordings that ask for usage: the finish chunk, then the usage chunk (with
    // OpenRouter's error beside it), then `[DONE]`. No cut before `[DONE]` is complete.
    let fixtures = modelbench_e2e::fixtures_dir();
    for name in [
        "openai_chat_usage.sse",
        "openai_chat_tool_call_usage.sse",
        "openrouter_chat_midstream_error.sse",
        "peers/oai_chat_refusal_gpt4o.sse",
    ] {
        let body = std::fs::read(fixtures.join(name)).expect("recording");
        let done = String::from_utf8_lossy(&body).rfind("data: [DONE]").expect("[DONE]");
        let (finish, _) = finish_chunk(&body);
        for cut in finish..done + "data: [DONE]".len() {
            let accumulator = fold(&decode(Protocol::OpenAiChat, ProviderKind::OpenAi, &body[..cut], &[]));
            assert!(
                !accumulator.is_complete(),
                "{name}: cut at {cut} of {} is complete",
                body.len()
            );
        }
    }
    // Cut right after the finish chunk: the text is kept, the response marked, the cause named.
    let expected = expected();
    for name in ["openai_chat_usage.sse", "openai_chat_tool_call_usage.sse"] {
        let body = recording_body(name);
        let (_, end) = finish_chunk(&body);
        let accumulator = fold(&decode_every_split(name, &body[..end]));
        let error = accumulator.error.clone().expect("cut");
        assert_eq!(error.kind, ErrorKind::Network, "{name}");
        assert_eq!(error.message, "the stream ended before [DONE]", "{name}");
        assert!(accumulator.finish_reason.is_some(), "{name}");
        assert_eq!(
            accumulator.text,
            expected[name]["text"].as_str().expect("text"),
            "{name}"
        );
        assert_eq!(
            accumulator.tool_calls().len(),
            fold(&decode_every_split(name, &body)).tool_calls().len()
        );
    }
    // Over HTTP: `findings/repro2`'s `cut~3306`, right after the finish chunk.
    let name = "openai_chat_usage.sse";
    let (_, cut) = finish_chunk(&recording_body(name));
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let responses = replay_once_each(replaying(&cloud.base_url(), name, name, &format!(";cut={cut}"), name)).await;
    assert_eq!(responses.len(), 2);
    for response in &responses {
        assert!(!response.complete, "{}", response.target);
        assert_eq!(response.text, "The capital of the UK is London.");
        assert_eq!(response.finish_reason, Some(FinishReason::Stop));
        let error = response.error.as_ref().expect("cut");
        assert_eq!(error.kind, ErrorKind::Network);
        assert!(
            error.message.contains("the stream ended before [DONE]"),
            "{}",
            error.message
        );
    }
}

// ---- 6. Anthropic usage merging ------------------------------------------------------------------

/// `repro2/make_anthropic_usage_keys.py`: an Anthropic stream whose `count` message_delta events
/// each add a new usage key.
fn anthropic_usage_keys(count: usize) -> Vec<u8> {
    let mut body = String::from(concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-3-5-sonnet-20241022\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello world\"}}\n\n",
    ));
    for index in 0..count {
        body.push_str(&format!(
            "event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{}},\"usage\":{{\"k{index}\":{index}}}}}\n\n"
        ));
    }
    body.push_str(concat!(
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    ));
    body.into_bytes()
}

fn usage_bytes(events: &[StreamEvent]) -> usize {
    events
        .iter()
        .filter(|event| event.kind() == "usage")
        .map(|event| serde_json::to_string(event).expect("json").len())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_usage_stays_linear_when_its_keys_keep_changing() {
    let body = anthropic_usage_keys(8000);
    // Decoded event by event, the usage events so far must stay within a small multiple of the
    // bytes fed so far (quadratic growth shows within the first thousand events).
    let mut decoder = Protocol::AnthropicMessages.decoder(ProviderKind::Anthropic, "m", Default::default());
    let mut accumulator = modelbench_engine::accumulate::Accumulator::new();
    let mut events = Vec::new();
    let mut usage_so_far = 0;
    let mut fed = 0;
    let started = Instant::now();
    for end in event_ends(&body) {
        decoder.feed(&body[fed..end], &mut events);
        fed = end;
        usage_so_far += usage_bytes(&events);
        assert!(
            usage_so_far <= 4 * fed + 8192,
            "{usage_so_far} bytes of usage events after {fed} bytes of stream"
        );
        for event in events.drain(..) {
            accumulator.apply(&event, Duration::ZERO);
        }
    }
    decoder.finish(&mut events);
    let elapsed = started.elapsed();
    eprintln!(
        "8000 message_delta events, {} bytes: decoded in {elapsed:?}, {usage_so_far} bytes of usage events",
        body.len()
    );
    assert!(elapsed < Duration::from_secs(3), "8000 deltas took {elapsed:?}");
    for event in &events {
        accumulator.apply(event, Duration::ZERO);
    }
    assert!(accumulator.is_complete());
    assert_eq!(accumulator.text, "Hello world");

    // Through fakecloud and the store: what is written is linear in the stream too.
    let (cloud, _fixtures) = cloud_serving(&[("anthropic_usage_keys_8000.sse".to_owned(), body.clone())]).await;
    let data = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&data.path().join("modelbench.db")).expect("store");
    let mut target = Target::new(
        "keys",
        ProviderKind::Anthropic,
        "claude~replay=anthropic_usage_keys_8000.sse",
    );
    target.base_url = Some(cloud.base_url());
    let plan = modelbench_engine::runner::RunPlan {
        targets: vec![target],
        prompts: vec![modelbench_engine::Prompt::user("hi")],
        parameters: modelbench_engine::Parameters::default(),
        options: modelbench_engine::runner::RunOptions::default(),
    };
    let started = Instant::now();
    let outcome = modelbench_engine::runner::Runner::new(crate::recordings::credentials())
        .with_store(store.writer())
        .start(plan, tokio_util::sync::CancellationToken::new())
        .expect("start")
        .outcome()
        .await
        .expect("outcome");
    let elapsed = started.elapsed();
    let response = &outcome.responses[0];
    assert!(response.complete, "{:?}", response.error);
    assert_eq!(response.text, "Hello world");
    assert_eq!(
        (response.usage.input_tokens, response.usage.output_tokens),
        (Some(10), Some(2))
    );
    let stored: Vec<StreamEvent> = store
        .load_events(outcome.run.id, response.key)
        .expect("events")
        .into_iter()
        .map(|stored| stored.event)
        .collect();
    let stored_usage = usage_bytes(&stored);
    eprintln!("through fakecloud and the store: {elapsed:?}, {stored_usage} bytes of usage events stored");
    assert!(
        stored_usage < 4 * body.len(),
        "{stored_usage} bytes of usage stored for a {} byte stream",
        body.len()
    );
    assert!(elapsed < Duration::from_secs(10), "the run took {elapsed:?}");
}

// ---- 7. Sums of counts that overflow -------------------------------------------------------------

#[test]
fn counts_whose_sum_overflows_neither_panic_nor_wrap() {
    // `repro2/anthropic_usage_wrap.sse`: the four Anthropic counts at 6e18 each (each fits an
    // i64, their sum does not fit a u64).
    let six = "6000000000000000000";
    let mut anthropic = recording_body("anthropic_messages_short.sse");
    for field in [
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
    ] {
        let text = String::from_utf8(anthropic).expect("utf8");
        anthropic = text
            .replace(&format!("\"{field}\":20,"), &format!("\"{field}\":{six},"))
            .replace(&format!("\"{field}\":0,"), &format!("\"{field}\":{six},"))
            .replace(&format!("\"{field}\":5}}"), &format!("\"{field}\":{six}}}"))
            .into_bytes();
    }
    let gemini = with_count(
        "gemini_aistudio_cumulative_usage.sse",
        "thoughtsTokenCount",
        "18446744073709551615",
    );
    let ollama = with_count("ollama_api_chat.ndjson", "prompt_eval_count", "18446744073709551615");
    for (name, body) in [
        ("anthropic_messages_short.sse", anthropic),
        ("gemini_aistudio_cumulative_usage.sse", gemini),
        ("ollama_api_chat.ndjson", ollama),
    ] {
        let events = std::panic::catch_unwind(|| decode_every_split(name, &body))
            .unwrap_or_else(|_| panic!("{name}: decoding panicked"));
        let accumulator = fold(&events);
        let usage = accumulator.usage.clone().expect("usage");
        for count in [usage.input_tokens, usage.output_tokens, usage.total_tokens]
            .into_iter()
            .flatten()
        {
            assert!(count <= 1 << 53, "{name}: {count} reached the record");
        }
        assert!(accumulator.is_complete(), "{name}");
        assert!(warnings(&events) >= 1, "{name}: flagged");
    }
}

// ---- 8. Data after the end -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_after_the_terminal_event_is_appended_or_fails_the_response() {
    let expected = expected();
    let every: Vec<String> = expected
        .as_object()
        .expect("object")
        .keys()
        .filter(|name| !name.starts_with("bedrock_exception"))
        .cloned()
        .collect();
    // The stream twice, as a gateway replaying it on retry sends it: never doubled.
    for name in &every {
        let body = recording_body(name);
        let once = decode_every_split(name, &body);
        let twice = decode_every_split(name, &[body.clone(), body].concat());
        let accumulator = fold(&twice);
        check_against_expected(name, &expected[name.as_str()], &(&accumulator).into());
        if fold(&once).is_complete() {
            assert_eq!(warnings(&twice), 1, "{name}: the rest is a warning");
        }
    }
    // A gateway's `data: [DONE]` after a finished Gemini stream (`repro2/gemini_then_done.sse`).
    let gemini = "gemini_aistudio_cumulative_usage.sse";
    let then_done = [recording_body(gemini), b"data: [DONE]\r\n\r\n".to_vec()].concat();
    let accumulator = fold(&decode_every_split(gemini, &then_done));
    check_against_expected(gemini, &expected[gemini], &(&accumulator).into());

    let (cloud, _fixtures) = cloud_serving(&[("gemini_then_done.sse".to_owned(), then_done)]).await;
    let targets = replaying(&cloud.base_url(), gemini, "gemini_then_done.sse", "", gemini);
    for response in &replay_once_each(targets).await {
        check_against_expected(gemini, &expected[gemini], &response.into());
    }
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    replays_match_expected(&cloud.base_url(), &every, ";twice").await;
}
