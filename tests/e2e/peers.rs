//! Streams recorded by other projects' test suites that exposed defects (`peers/` beside the
//! recordings): a Chat Completions refusal, Groq's usage in `x_groq`, Vertex's streamed
//! function-call arguments, Anthropic's `pause_turn` and Bedrock's metered tokens. Each must
//! decode to its `expected.json` (text, refusal mark, tool calls, finish, usage, billed tokens)
//! through the decoders (whole, split in two at byte boundaries, one byte at a time), through
//! fakecloud over HTTP (whole and in tiny pieces) and through the CLI.

use std::path::PathBuf;

use fakecloud::{Config, FakeCloud};
use modelbench_e2e::{FAKE_KEYS, fixtures_dir};
use modelbench_engine::event::FinishReason;
use modelbench_engine::target::Api;
use modelbench_engine::{ProviderKind, ResponseRecord, Target};
use serde_json::Value;

use crate::cli::{cli, json};
use crate::decoders::{decode, fold};
use crate::recordings::replay_once_each;

fn peers_dir() -> PathBuf {
    fixtures_dir().join("peers")
}

fn peers_expected() -> Value {
    let text = std::fs::read_to_string(peers_dir().join("expected.json")).expect("peers/expected.json");
    serde_json::from_str(&text).expect("valid json")
}

/// The target that reads a peer recording: its provider and API, as `expected.json` names them.
fn target_for_peer(name: &str, want: &Value, base_url: &str, model: &str) -> Target {
    let provider = want["provider"].as_str().expect("provider");
    let api = want["api"].as_str().expect("api");
    let kind = match provider {
        "openai" => ProviderKind::OpenAi,
        "anthropic" => ProviderKind::Anthropic,
        "vertex" => ProviderKind::Vertex,
        "bedrock" => ProviderKind::Bedrock,
        other => panic!("{name}: no target for provider {other}"),
    };
    let mut target = Target::new(name, kind, model);
    target.base_url = Some(match kind {
        ProviderKind::OpenAi => format!("{base_url}/v1"),
        _ => base_url.to_owned(),
    });
    match (kind, api) {
        (ProviderKind::OpenAi, "chat") | (ProviderKind::Anthropic, "messages") => {}
        (ProviderKind::Vertex, "streamGenerateContent") => {
            target.project = Some("modelbench-recordings".to_owned());
            target.location = Some("global".to_owned());
        }
        (ProviderKind::Bedrock, "invoke") => {
            target.api = Some(Api::Invoke);
            target.region = Some("us-east-1".to_owned());
            // As recorded: Claude 3 Sonnet's native body. A fakecloud spec after `~` is kept.
            let spec = model.find('~').map_or("", |index| &model[index..]);
            target.model = format!("anthropic.claude-3-sonnet-20240229-v1:0{spec}");
        }
        (kind, api) => panic!("{name}: no target for {kind:?} {api}"),
    }
    target
}

/// A response as every path sees it, in the fields `expected.json` describes.
struct Seen {
    text: String,
    reasoning: String,
    refusal: bool,
    raw_finish_reason: Option<String>,
    complete: bool,
    has_error: bool,
    usage_raw: Value,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    reasoning_tokens: Option<u64>,
    billed_input_tokens: Option<u64>,
    billed_output_tokens: Option<u64>,
    /// `(name, arguments as JSON)` per call, in order.
    tool_calls: Vec<(Option<String>, Value)>,
}

fn arguments(name: &str, text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("{name}: tool arguments are not JSON ({error}): {text}"))
}

impl Seen {
    fn from_record(name: &str, record: &ResponseRecord) -> Self {
        Self {
            text: record.text.clone(),
            reasoning: record.reasoning.clone(),
            refusal: record.refusal,
            raw_finish_reason: record.raw_finish_reason.clone(),
            complete: record.complete,
            has_error: record.error.is_some(),
            usage_raw: record.usage.raw.clone(),
            input_tokens: record.usage.input_tokens,
            output_tokens: record.usage.output_tokens,
            reasoning_tokens: record.usage.reasoning_tokens,
            billed_input_tokens: record.billed_input_tokens,
            billed_output_tokens: record.billed_output_tokens,
            tool_calls: record
                .tool_calls
                .iter()
                .map(|call| (call.name.clone(), arguments(name, &call.arguments)))
                .collect(),
        }
    }

    /// A result of `modelbench run --json`.
    fn from_cli(name: &str, result: &Value) -> Self {
        let usage = &result["usage"];
        Self {
            text: result["text"].as_str().expect("text").to_owned(),
            reasoning: result["reasoning"].as_str().expect("reasoning").to_owned(),
            refusal: result["refusal"].as_bool().expect("refusal"),
            raw_finish_reason: result["raw_finish_reason"].as_str().map(str::to_owned),
            complete: result["complete"].as_bool().expect("complete"),
            has_error: !result["error"].is_null(),
            // The CLI reports the normalised counts, not the cloud's raw object.
            usage_raw: Value::Null,
            input_tokens: usage["input_tokens"].as_u64(),
            output_tokens: usage["output_tokens"].as_u64(),
            reasoning_tokens: usage["reasoning_tokens"].as_u64(),
            billed_input_tokens: usage["billed_input_tokens"].as_u64(),
            billed_output_tokens: usage["billed_output_tokens"].as_u64(),
            tool_calls: result["tool_calls"]
                .as_array()
                .expect("tool calls")
                .iter()
                .map(|call| {
                    (
                        call["name"].as_str().map(str::to_owned),
                        arguments(name, call["arguments"].as_str().expect("arguments")),
                    )
                })
                .collect(),
        }
    }
}

fn check(name: &str, want: &Value, seen: &Seen) {
    assert_eq!(seen.text, want["text"].as_str().expect("text"), "{name}: text");
    assert_eq!(
        seen.reasoning,
        want["reasoning"].as_str().unwrap_or(""),
        "{name}: reasoning"
    );
    assert_eq!(seen.refusal, !want["refusal"].is_null(), "{name}: refusal mark");
    if let Some(refusal) = want["refusal"].as_str() {
        assert_eq!(seen.text, refusal, "{name}: the refusal is the response text");
    }
    assert_eq!(
        seen.raw_finish_reason.as_deref(),
        want["finish_reason"].as_str(),
        "{name}: finish reason"
    );
    assert!(!seen.has_error, "{name}: unexpected error");
    // A turn the server paused is unfinished; every other recording ends normally.
    let paused = want["finish_reason"] == "pause_turn";
    assert_eq!(seen.complete, !paused, "{name}: complete");
    if !seen.usage_raw.is_null() {
        assert_eq!(seen.usage_raw, want["usage"], "{name}: usage as the cloud sent it");
    }
    assert_eq!(
        seen.input_tokens,
        want["usage_io"]["input"].as_u64(),
        "{name}: input tokens"
    );
    // Gemini counts thoughts apart from the answer; ModelBench's output tokens include them
    // (as OpenAI's do, and as Google bills them), with the thoughts alone as reasoning tokens.
    let thoughts = want["thoughts_tokens"].as_u64();
    assert_eq!(
        seen.reasoning_tokens.filter(|_| thoughts.is_some()),
        thoughts,
        "{name}: thoughts"
    );
    assert_eq!(
        seen.output_tokens,
        want["usage_io"]["output"]
            .as_u64()
            .map(|output| output + thoughts.unwrap_or(0)),
        "{name}: output tokens"
    );
    let metrics = &want["bedrock_metrics"];
    assert_eq!(
        seen.billed_input_tokens,
        metrics["inputTokenCount"].as_u64(),
        "{name}: billed input tokens"
    );
    assert_eq!(
        seen.billed_output_tokens,
        metrics["outputTokenCount"].as_u64(),
        "{name}: billed output tokens"
    );
    let want_calls: Vec<(Option<String>, Value)> = want["tool_calls"]
        .as_array()
        .expect("tool calls")
        .iter()
        .map(|call| (call["name"].as_str().map(str::to_owned), call["args"].clone()))
        .collect();
    assert_eq!(seen.tool_calls, want_calls, "{name}: tool calls");
}

/// Every peer recording: (file name, expected entry).
fn peers() -> Vec<(String, Value)> {
    let expected = peers_expected();
    let peers: Vec<(String, Value)> = expected
        .as_object()
        .expect("object")
        .iter()
        .map(|(name, want)| (name.clone(), want.clone()))
        .collect();
    assert_eq!(peers.len(), 5, "the five peer recordings");
    peers
}

#[test]
fn peer_recordings_decode_whole_split_and_one_byte_at_a_time() {
    for (name, want) in peers() {
        let body = std::fs::read(peers_dir().join(&name)).expect("recording");
        assert_eq!(body.len() as u64, want["size"].as_u64().expect("size"), "{name}: size");
        let target = target_for_peer(&name, &want, "http://127.0.0.1:1", "m");
        let protocol = modelbench_engine::providers::Protocol::for_target(&target);
        let whole = decode(protocol, target.provider, &body, &[]);
        let accumulator = fold(&whole);
        let record = Seen {
            text: accumulator.text.clone(),
            reasoning: accumulator.reasoning.clone(),
            refusal: accumulator.finish_reason == Some(FinishReason::Refusal),
            raw_finish_reason: accumulator.raw_finish_reason.clone(),
            complete: accumulator.is_complete(),
            has_error: accumulator.error.is_some(),
            usage_raw: accumulator
                .usage
                .as_ref()
                .map(|usage| usage.raw.clone())
                .unwrap_or_default(),
            input_tokens: accumulator.usage.as_ref().and_then(|usage| usage.input_tokens),
            output_tokens: accumulator.usage.as_ref().and_then(|usage| usage.output_tokens),
            reasoning_tokens: accumulator.usage.as_ref().and_then(|usage| usage.reasoning_tokens),
            billed_input_tokens: accumulator.billed_input_tokens,
            billed_output_tokens: accumulator.billed_output_tokens,
            tool_calls: accumulator
                .tool_calls()
                .iter()
                .map(|call| (call.name.clone(), arguments(&name, &call.arguments)))
                .collect(),
        };
        check(&name, &want, &record);
        // The first content is the first token: a refusal's first fragment included.
        assert!(whole.iter().any(|event| event.is_content()), "{name}: content");

        for cut in cuts(&body) {
            assert_eq!(
                decode(protocol, target.provider, &body, &[cut]),
                whole,
                "{name}: split at {cut}"
            );
        }
        let every_byte: Vec<usize> = (1..body.len()).collect();
        assert_eq!(
            decode(protocol, target.provider, &body, &every_byte),
            whole,
            "{name}: one byte at a time"
        );
    }
}

/// Where to split a body in two: at every byte boundary of a recording up to 40 KB; in the
/// larger ones (each cut decodes the whole body again), at every boundary within four bytes of
/// a line end, at every byte of each multi-byte UTF-8 character, and every few bytes between.
fn cuts(body: &[u8]) -> Vec<usize> {
    if body.len() <= 40_000 {
        return (1..body.len()).collect();
    }
    let stride = body.len() / 2000;
    let mut cuts = std::collections::BTreeSet::new();
    for (index, byte) in body.iter().enumerate() {
        if *byte == b'\n' || *byte == b'\r' {
            cuts.extend(index.saturating_sub(4)..=index + 4);
        }
        if *byte >= 0x80 {
            cuts.extend([index, index + 1]);
        }
        if index % stride == 0 {
            cuts.insert(index);
        }
    }
    cuts.into_iter().filter(|cut| (1..body.len()).contains(cut)).collect()
}

async fn replay_through_fakecloud(spec_suffix: &str) {
    let cloud = FakeCloud::start(Config {
        fixtures_dir: Some(peers_dir()),
        ..Config::default()
    })
    .await
    .expect("fakecloud");
    let peers = peers();
    let targets: Vec<Target> = peers
        .iter()
        .map(|(name, want)| {
            let model = format!("replay-model~replay={name}{spec_suffix}");
            target_for_peer(name, want, &cloud.base_url(), &model)
        })
        .collect();
    let responses = replay_once_each(targets).await;
    assert_eq!(responses.len(), peers.len());
    for response in &responses {
        let want = &peers
            .iter()
            .find(|(name, _)| *name == response.target)
            .expect("a peer")
            .1;
        check(&response.target, want, &Seen::from_record(&response.target, response));
        // Over HTTP the engine measured a time to first token for every answer, refusals too.
        assert!(
            response.metrics.time_to_first_token_ms.is_some(),
            "{}: time to first token",
            response.target
        );
    }
    let requests = cloud.requests();
    assert_eq!(requests.len(), peers.len());
    assert!(requests.iter().all(|request| request.status == 200), "{requests:?}");
}

#[tokio::test]
async fn peer_recordings_replay_through_fakecloud() {
    replay_through_fakecloud("").await;
}

#[tokio::test]
async fn peer_recordings_replay_one_byte_per_write() {
    replay_through_fakecloud(";split=1").await;
}

#[tokio::test]
async fn peer_recordings_replay_in_seven_byte_pieces() {
    replay_through_fakecloud(";split=7").await;
}

/// The same recordings through the `modelbench` binary: `run --json`, then what the database
/// kept (`runs show --json`), with Bedrock signed through the real AWS chain and the recordings
/// named `peers/…` inside fakecloud's fixtures directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_recordings_through_the_cli() {
    // fakecloud's own fixtures directory, the recordings named by their subfolder.
    let cloud = FakeCloud::start(Config::default()).await.expect("fakecloud");
    let data = tempfile::tempdir().expect("tempdir");
    let peers = peers();
    let mut toml = String::new();
    for (name, want) in &peers {
        let target = target_for_peer(
            name,
            want,
            &cloud.base_url(),
            &format!("replay-model~replay=peers/{name}"),
        );
        toml.push_str(&toml_table(&target));
    }
    let file = data.path().join("targets.toml");
    std::fs::write(&file, toml).expect("write targets");
    let file = file.to_str().expect("utf8");
    let output = cli(
        data.path(),
        &["run", "--targets", file, "--retries", "0", "--json", "replay"],
        FAKE_KEYS,
        None,
    )
    .await;
    let document = json(&output);
    let results = document["results"].as_array().expect("results");
    assert_eq!(results.len(), peers.len());
    for result in results {
        let name = result["target"].as_str().expect("target");
        let want = &peers.iter().find(|(peer, _)| peer == name).expect("peer").1;
        check(name, want, &Seen::from_cli(name, result));
    }
    let run_id = document["run_id"].as_str().expect("run id");
    let shown = json(&cli(data.path(), &["runs", "show", run_id, "--json"], &[], None).await);
    for result in shown["results"].as_array().expect("results") {
        let name = result["target"].as_str().expect("target");
        let want = &peers.iter().find(|(peer, _)| peer == name).expect("peer").1;
        check(name, want, &Seen::from_cli(name, result));
    }
}

/// A target as one `[[target]]` table of a targets file (JSON strings are valid TOML strings).
fn toml_table(target: &Target) -> String {
    let mut table = String::from("[[target]]\n");
    let fields = [
        ("name", Some(target.name.clone())),
        ("provider", Some(target.provider.as_str().to_owned())),
        ("model", Some(target.model.clone())),
        ("base_url", target.base_url.clone()),
        ("api", target.api.map(|api| api.as_str().to_owned())),
        ("region", target.region.clone()),
        ("project", target.project.clone()),
        ("location", target.location.clone()),
    ];
    for (key, value) in fields {
        if let Some(value) = value {
            table.push_str(&format!("{key} = {}\n", Value::String(value)));
        }
    }
    table
}
