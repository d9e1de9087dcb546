//! Oracle OCI Generative AI: its native chat streams (GENERIC and COHERE) through the engine's
//! decoder, split at every byte boundary and with the single-`\n` event separators OCI sends;
//! then a run against fakecloud on both surfaces (native GENERIC and COHERE, OpenAI-compatible
//! Chat and Responses), signed or with an API key, with the client's clock 4 minutes off
//! (accepted) and 6 minutes off (a per-target auth error).

use std::sync::Arc;

use fakecloud::{Config, FAKE_OCI_API_KEY, FAKE_OCI_KEY_ID, FAKE_OCI_PRIVATE_KEY_PEM, FakeCloud, tokens_for};
use modelbench_engine::credentials::{Secret, StaticCredentials};
use modelbench_engine::event::StreamEvent;
use modelbench_engine::pricing::PriceBook;
use modelbench_engine::providers::Protocol;
use modelbench_engine::report::{Format, Report};
use modelbench_engine::runner::Runner;
use modelbench_engine::store::Store;
use modelbench_engine::target::ProviderKind;
use modelbench_engine::{Api, ErrorKind, FinishReason, ResponseRecord, Target, Usage};

use crate::clouds::run;
use crate::decoders::{decode, fold};

/// GENERIC as OCI streams it: some events ended by one `\n`, the finish in its own chunk, usage
/// last.
const GENERIC: &str = concat!(
    "data: {\"index\":0,\"message\":{\"role\":\"ASSISTANT\",\"content\":[{\"type\":\"TEXT\",\"text\":\"Bonjour\"}]},\"pad\":\"aaaa\"}\n",
    "data: {\"index\":0,\"message\":{\"role\":\"ASSISTANT\",\"content\":[{\"type\":\"TEXT\",\"text\":\", caf\u{e9} \u{1f604}\"}]}}\n\n",
    "data: {\"index\":0,\"message\":{\"role\":\"ASSISTANT\",\"content\":[{\"type\":\"TEXT\",\"text\":\"!\"}]},\"finishReason\":\"stop\"}\n",
    "data: {\"message\":{\"role\":\"ASSISTANT\"},\"usage\":{\"completionTokens\":4,\"promptTokens\":11,\"totalTokens\":15,\"completionTokensDetails\":{\"reasoningTokens\":0},\"promptTokensDetails\":{\"cachedTokens\":0}}}\n\n",
);

/// COHERE: deltas, then the terminal event repeating the whole text with the chat history, then
/// usage.
const COHERE: &str = concat!(
    "data: {\"apiFormat\":\"COHERE\",\"text\":\"Hel\"}\n",
    "data: {\"apiFormat\":\"COHERE\",\"text\":\"lo, \u{e9}t\u{e9}\"}\n\n",
    "data: {\"apiFormat\":\"COHERE\",\"text\":\"Hello, \u{e9}t\u{e9}\",\"chatHistory\":[{\"role\":\"USER\",\"message\":\"hi\"},{\"role\":\"CHATBOT\",\"message\":\"Hello, \u{e9}t\u{e9}\"}],\"finishReason\":\"COMPLETE\"}\n",
    "data: {\"apiFormat\":\"COHERE\",\"usage\":{\"promptTokens\":7,\"completionTokens\":3,\"totalTokens\":10}}\n\n",
);

fn native(body: &[u8], cuts: &[usize]) -> Vec<StreamEvent> {
    decode(Protocol::OciNative, ProviderKind::Oci, body, cuts)
}

fn usage(events: &[StreamEvent]) -> Option<&Usage> {
    events.iter().find_map(|event| match event {
        StreamEvent::Usage(usage) => Some(usage),
        _ => None,
    })
}

/// Decodes `body` whole, then split in two at every byte and in one-byte pieces: the same
/// events every time, and the answer, finish and usage expected.
fn check_every_split(body: &str, text: &str, reason: FinishReason, counts: (u64, u64)) {
    let bytes = body.as_bytes();
    let whole = native(bytes, &[]);
    let folded = fold(&whole);
    assert_eq!(folded.text, text, "{whole:?}");
    assert_eq!(folded.finish_reason, Some(reason), "{whole:?}");
    let usage = usage(&whole).expect("usage");
    assert_eq!(
        (usage.input_tokens, usage.output_tokens),
        (Some(counts.0), Some(counts.1))
    );
    assert!(
        !whole
            .iter()
            .any(|event| matches!(event, StreamEvent::Error(_) | StreamEvent::Warning { .. })),
        "{whole:?}"
    );
    for cut in 0..=bytes.len() {
        assert_eq!(native(bytes, &[cut]), whole, "split at {cut}");
    }
    let every_byte: Vec<usize> = (1..bytes.len()).collect();
    assert_eq!(native(bytes, &every_byte), whole);
}

#[test]
fn generic_streams_decode_the_same_split_at_every_byte() {
    check_every_split(GENERIC, "Bonjour, caf\u{e9} \u{1f604}!", FinishReason::Stop, (11, 4));
}

#[test]
fn cohere_answers_are_the_deltas_never_the_repeat_too() {
    check_every_split(COHERE, "Hello, \u{e9}t\u{e9}", FinishReason::Stop, (7, 3));
    // A terminal event with no deltas before it is the whole answer.
    let lone = "data: {\"apiFormat\":\"COHERE\",\"text\":\"All at once\",\"finishReason\":\"MAX_TOKENS\"}\n";
    let folded = fold(&native(lone.as_bytes(), &[]));
    assert_eq!(folded.text, "All at once");
    assert_eq!(folded.finish_reason, Some(FinishReason::Length));
}

#[test]
fn cut_bodies_and_errors_in_the_stream_are_classified() {
    let cut = native(b"data: {\"apiFormat\":\"COHERE\",\"text\":\"Hel\"}\n", &[]);
    assert!(
        matches!(cut.last(), Some(StreamEvent::Error(error)) if error.kind == modelbench_engine::ErrorKind::Network),
        "{cut:?}"
    );
    let failed = native(
        b"data: {\"code\":\"TooManyRequests\",\"message\":\"slow down\"}\n\n",
        &[],
    );
    assert!(
        matches!(failed.last(), Some(StreamEvent::Error(error))
            if error.kind == modelbench_engine::ErrorKind::RateLimited && error.message == "slow down"),
        "{failed:?}"
    );
    // The usage chunk is asked for but is no part of the answer: a body ending after the
    // finish is whole.
    let no_usage = native(
        b"data: {\"index\":0,\"message\":{\"content\":[{\"type\":\"TEXT\",\"text\":\"ok\"}]},\"finishReason\":\"length\"}\n",
        &[],
    );
    assert!(
        !no_usage.iter().any(|event| matches!(event, StreamEvent::Error(_))),
        "{no_usage:?}"
    );
}

pub(crate) const SPEC: &str = "tokens=24;gap_ms=1";
/// The prompt every OCI run sends: 5 words, 22 characters (Cohere is billed per character).
pub(crate) const PROMPT: &str = "Tell me about the sea.";

/// One target per OCI surface and format, all on `base`; the OpenAI-compatible Responses target
/// uses an API key, the others are signed.
pub(crate) fn oci_targets(base: &str) -> Vec<Target> {
    let target = |name: &str, api: Api, model: &str| {
        let mut target = Target::new(name, ProviderKind::Oci, model);
        target.api = Some(api);
        target.region = Some("us-chicago-1".into());
        target.base_url = Some(base.to_owned());
        target.compartment_id = Some("ocid1.compartment.oc1..fakecloudcompartment".into());
        // No API key for the signed ones: the signing chain is what is left.
        target.api_key_ref = Some("env:MODELBENCH_TEST_SURELY_UNSET_OCI_KEY".into());
        target
    };
    let mut responses = target("oci-responses key", Api::OpenAiResponses, "xai.grok-4");
    responses.api_key_ref = None;
    responses.compartment_id = None;
    let mut native = target("oci-generic signed", Api::Native, "meta.llama-3.3-70b-instruct");
    native.api_key_ref = None;
    let mut cohere = target("oci-cohere signed", Api::Native, "cohere.command-a-03-2025");
    cohere.api_key_ref = None;
    vec![
        native,
        cohere,
        target("oci-chat signed", Api::OpenAiChat, "openai.gpt-5.5"),
        responses,
    ]
}

fn credentials() -> Arc<StaticCredentials> {
    Arc::new(
        StaticCredentials::new()
            .with("OCI_GENAI_API_KEY", Secret::new(FAKE_OCI_API_KEY))
            .with_oci(Secret::new(FAKE_OCI_KEY_ID), Secret::new(FAKE_OCI_PRIVATE_KEY_PEM)),
    )
}

/// fakecloud with its clock `skew` seconds ahead of ours: our signatures look that late.
async fn cloud_with_skew(skew: i64) -> FakeCloud {
    FakeCloud::start(Config {
        clock_skew_seconds: skew,
        default_scenario: fakecloud::parse_spec(SPEC).expect("spec"),
        ..Config::default()
    })
    .await
    .expect("fakecloud")
}

#[tokio::test]
async fn both_surfaces_stream_signed_with_the_clock_four_minutes_off() {
    let cloud = cloud_with_skew(4 * 60).await;
    let data = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&data.path().join("modelbench.db")).expect("store");
    let runner = Runner::new(credentials())
        .with_store(store.writer())
        .with_prices(PriceBook::shipped());
    let outcome = run(&runner, oci_targets(&cloud.base_url())).await;

    assert_eq!(outcome.responses.len(), 4);
    check_oci_answers(&outcome.responses);
    for response in &outcome.responses {
        assert!(
            response
                .request_id
                .as_deref()
                .is_some_and(|id| id.starts_with("req_fake_")),
            "{:?}",
            response.request_id
        );
    }
    let requests = cloud.requests();
    assert_eq!(requests.len(), 4, "{requests:?}");
    for request in &requests {
        assert!(request.authenticated, "{request:?}");
        assert_eq!(request.provider, "oci");
    }
    assert_eq!(credentials_presented(&cloud), (3, 1));
    // Native requests always cap the answer (OCI's default is about 20 tokens).
    for request in requests
        .iter()
        .filter(|request| request.path == "/20231130/actions/chat")
    {
        assert_eq!(request.body["chatRequest"]["maxTokens"], 4000, "{:?}", request.body);
    }

    let stored = store.load_run(outcome.run.id).expect("load").expect("stored");
    assert_eq!(stored.responses, outcome.responses);

    // No API key and no private key in the database, the run's files or any export.
    let report = Report::from_run(&stored, "test", 0);
    let exports: Vec<String> = Format::ALL.into_iter().map(|format| report.render(format)).collect();
    drop(store);
    for secret in secrets() {
        crate::scenarios::assert_nowhere_on_disk(data.path(), &secret);
        for export in &exports {
            assert!(!export.contains(&secret), "an export holds a secret");
        }
    }
}

/// The four [`oci_targets`]' answers to [`PROMPT`] with [`SPEC`], whatever else was in the run:
/// complete, the scripted text once (COHERE's repeat dropped), usage as fakecloud sent it, a
/// cost or the reason there is none (Cohere per character, OCI's gpt-5.5 unpriced), and each
/// model's base model.
pub(crate) fn check_oci_answers(responses: &[ResponseRecord]) {
    let expected = tokens_for(&fakecloud::parse_spec(SPEC).expect("spec")).concat();
    let oci: Vec<&ResponseRecord> = responses.iter().filter(|response| response.provider == "oci").collect();
    assert_eq!(oci.len(), 4, "{responses:?}");
    for response in &oci {
        assert!(response.complete, "{}: {:?}", response.target, response.error);
        // COHERE's terminal event repeats the whole text: the answer is still said once.
        assert_eq!(response.text, expected, "{}", response.target);
        assert_eq!(response.finish_reason, Some(FinishReason::Stop), "{}", response.target);
        // fakecloud counts the prompt's words and sends one token per piece.
        assert_eq!(
            (response.usage.input_tokens, response.usage.output_tokens),
            (Some(5), Some(24)),
            "{}: {:?}",
            response.target,
            response.usage
        );
        assert!(
            response.cost_usd.is_some() || response.cost_source.as_deref().is_some_and(|reason| !reason.is_empty()),
            "{}: a cost or the reason there is none",
            response.target
        );
    }
    // Cohere on OCI is billed per character of prompt and answer; Grok per token; OCI's
    // gpt-5.5 has no price in the catalog.
    let by_name = |name: &str| {
        oci.iter()
            .find(|response| response.target == name)
            .unwrap_or_else(|| panic!("no response of {name}"))
    };
    let cohere = by_name("oci-cohere signed");
    let characters = PROMPT.chars().count() + expected.chars().count();
    let cohere_cost = cohere.cost_usd.expect("priced per character");
    assert!(
        (cohere_cost - characters as f64 / 10_000.0 * 0.0156).abs() < 1e-12,
        "{cohere_cost}"
    );
    assert!(
        cohere
            .cost_source
            .as_deref()
            .is_some_and(|source| source.contains("billed per character")),
        "{:?}",
        cohere.cost_source
    );
    assert!(by_name("oci-responses key").cost_usd.is_some_and(|usd| usd > 0.0));
    let unpriced = by_name("oci-chat signed");
    assert_eq!(unpriced.cost_usd, None);
    assert!(
        unpriced
            .cost_source
            .as_deref()
            .is_some_and(|reason| reason.starts_with("no price for oci/us-chicago-1/openai.gpt-5.5")),
        "{:?}",
        unpriced.cost_source
    );
    let base_models: Vec<Option<&str>> = oci.iter().map(|response| response.base_model.as_deref()).collect();
    assert_eq!(
        base_models,
        [
            Some("llama-3.3-70b-instruct"),
            Some("command-a-03-2025"),
            Some("gpt-5.5"),
            Some("grok-4")
        ]
    );
}

/// How many requests fakecloud saw signed, and how many with the OCI API key.
pub(crate) fn credentials_presented(cloud: &FakeCloud) -> (usize, usize) {
    let credentials: Vec<String> = cloud
        .requests()
        .into_iter()
        .filter_map(|request| request.credential)
        .collect();
    let signed = credentials
        .iter()
        .filter(|credential| credential.starts_with("oci-signature "))
        .count();
    let keyed = credentials
        .iter()
        .filter(|credential| *credential == "oci-api-key")
        .count();
    (signed, keyed)
}

/// What must never be stored or shown: the API key, the private key (each line of its base64),
/// and its armour.
pub(crate) fn secrets() -> Vec<String> {
    let mut secrets = vec![FAKE_OCI_API_KEY.to_owned(), "PRIVATE KEY".to_owned()];
    secrets.extend(
        FAKE_OCI_PRIVATE_KEY_PEM
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .map(str::to_owned),
    );
    secrets
}

#[tokio::test]
async fn six_minutes_of_clock_skew_is_an_auth_error_naming_the_target() {
    let cloud = cloud_with_skew(-6 * 60).await;
    let runner = Runner::new(credentials());
    let outcome = run(&runner, oci_targets(&cloud.base_url())).await;
    for response in &outcome.responses {
        if response.target == "oci-responses key" {
            // An API key carries no date.
            assert!(response.complete, "{:?}", response.error);
            continue;
        }
        let error = response.error.as_ref().expect("refused");
        assert_eq!((error.kind, error.status), (ErrorKind::Auth, Some(401)), "{error}");
        assert_eq!(error.code.as_deref(), Some("NotAuthenticated"));
        let message = error.to_string();
        assert!(message.contains(&response.target), "{message}");
        assert!(message.contains("more than 5 minutes"), "{message}");
        for secret in secrets() {
            assert!(!message.contains(&secret), "{message}");
        }
        assert_eq!(response.attempts, 1, "auth failures are not retried");
    }
}

/// What `oci setup config` leaves, written in `directory`: a config file naming a key file
/// (here the PKCS#8 form, as the OCI console's download is). Returns the config file's path.
pub(crate) fn write_oci_config(directory: &std::path::Path) -> std::path::PathBuf {
    let key_file = directory.join("oci_api_key.pem");
    std::fs::write(&key_file, fakecloud::FAKE_OCI_PRIVATE_KEY_PKCS8_PEM).expect("key");
    let (tenancy, rest) = FAKE_OCI_KEY_ID.split_once('/').expect("tenancy/user/fingerprint");
    let (user, fingerprint) = rest.split_once('/').expect("user/fingerprint");
    let config = directory.join("oci-config");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nuser={user}\nfingerprint={fingerprint}\ntenancy={tenancy}\nregion=us-chicago-1\nkey_file={}\n",
            key_file.display()
        ),
    )
    .expect("config");
    config
}

#[tokio::test]
async fn the_cli_signs_with_the_oci_config_file_and_sends_the_api_key_from_the_environment() {
    let cloud = cloud_with_skew(0).await;
    let data = tempfile::tempdir().expect("tempdir");
    let config = write_oci_config(data.path());
    let targets: Vec<Target> = oci_targets(&cloud.base_url())
        .into_iter()
        .filter(|target| target.name != "oci-chat signed")
        .collect();
    let targets_file = data.path().join("targets.toml");
    std::fs::write(&targets_file, modelbench_engine::target::targets_to_toml(&targets)).expect("targets");
    let data_dir = data.path().join("data");
    let config_variable = config.display().to_string();
    let output = tokio::task::spawn_blocking({
        let data_dir = data_dir.clone();
        let targets_file = targets_file.display().to_string();
        move || {
            modelbench_e2e::modelbench(
                &data_dir,
                &["run", "--targets", &targets_file, "--json", PROMPT],
                &[
                    ("OCI_CONFIG_FILE", config_variable.as_str()),
                    ("OCI_GENAI_API_KEY", FAKE_OCI_API_KEY),
                ],
                None,
            )
        }
    })
    .await
    .expect("cli");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let result: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let responses = result["results"].as_array().expect("results");
    assert_eq!(responses.len(), 3);
    let expected = tokens_for(&fakecloud::parse_spec(SPEC).expect("spec")).concat();
    for response in responses {
        assert_eq!(response["complete"], true, "{response}");
        assert_eq!(response["text"], expected.as_str(), "{response}");
    }
    assert_eq!(credentials_presented(&cloud), (2, 1));
    for secret in secrets() {
        assert!(
            !stdout.contains(&secret) && !stderr.contains(&secret),
            "the output holds a secret"
        );
        crate::scenarios::assert_nowhere_on_disk(&data_dir, &secret);
    }
}

#[tokio::test]
async fn oci_rejections_are_classified_like_every_clouds() {
    let cloud = cloud_with_skew(0).await;
    let native = |name: &str, spec: &str| {
        let mut target = oci_targets(&cloud.base_url()).remove(0);
        target.name = name.to_owned();
        target.model = format!("meta.llama-3.3-70b-instruct~{spec}");
        target
    };
    let targets = vec![
        native("rate-limited once", "tokens=3;fail=429x1;retry_after_ms=30"),
        native("not in region", "fail=404"),
        native("server error", "fail=500"),
    ];
    let outcome = run(&Runner::new(credentials()), targets).await;
    let by_name = |name: &str| crate::scenarios::response_of(&outcome, name);

    let retried = by_name("rate-limited once");
    assert!(retried.complete, "{:?}", retried.error);
    assert_eq!(retried.attempts, 2, "a 429 with retry-after is retried");

    let missing = by_name("not in region").error.as_ref().expect("404");
    assert_eq!(
        (missing.kind, missing.status),
        (ErrorKind::Validation, Some(404)),
        "{missing}"
    );
    assert_eq!(missing.code.as_deref(), Some("NotAuthorizedOrNotFound"));
    assert!(missing.message.contains("served in this region"), "{missing}");
    assert_eq!(by_name("not in region").attempts, 1);

    let server = by_name("server error").error.as_ref().expect("500");
    assert_eq!((server.kind, server.status), (ErrorKind::Server, Some(500)), "{server}");
    assert!(server.retryable(), "{server}");
}
