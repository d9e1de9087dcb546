//! Gemini and Vertex: what the decoder makes of each kind of chunk Google sends (thoughts,
//! cumulative usage, whole function calls, safety blocks, errors, cut streams), how google.rpc.Status
//! rejections are classified, what the requests look like, and Application Default Credentials
//! end to end: the `modelbench` binary reads a service-account key named by
//! `GOOGLE_APPLICATION_CREDENTIALS`, gets a token from a local token endpoint and sends it to a
//! local Vertex endpoint. `google_throwaway_key.pem` is an RSA key generated for these tests; it
//! belongs to no Google account and grants nothing.

use std::path::Path;

use base64::Engine as _;
use local_http::{Request, serve};
use modelbench_e2e::{fixtures_dir, modelbench};
use modelbench_engine::event::{FinishReason, StreamEvent};
use modelbench_engine::providers::{self, Protocol};
use modelbench_engine::target::{ProviderKind, Publisher};
use modelbench_engine::{ErrorKind, Parameters, Prompt, Target};
use serde_json::{Value, json};

use crate::decoders::{decode, fold};

/// A Gemini SSE body: each chunk as one `data:` event, separated by CRLF CRLF as Google does.
fn sse(chunks: &[Value]) -> Vec<u8> {
    chunks
        .iter()
        .map(|chunk| format!("data: {chunk}\r\n\r\n"))
        .collect::<String>()
        .into_bytes()
}

fn gemini(body: &[u8]) -> Vec<StreamEvent> {
    decode(Protocol::GeminiGenerate, ProviderKind::Gemini, body, &[])
}

fn recording(name: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(name)).expect("fixture")
}

fn text_chunk(text: &str) -> Value {
    json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}}], "modelVersion": "gemini-2.5-flash"})
}

#[test]
fn thought_parts_are_reasoning_not_text() {
    let body = sse(&[
        json!({"candidates": [{"content": {"role": "model", "parts": [
            {"text": "**Counting**\nThe user wants numbers.", "thought": true},
        ]}}], "modelVersion": "gemini-2.5-pro"}),
        json!({"candidates": [{"content": {"role": "model", "parts": [
            {"text": " Start at one.", "thought": true},
            {"text": "1, 2, 3", "thoughtSignature": "c2lnbmF0dXJl"},
        ]}, "finishReason": "STOP"}]}),
    ]);
    let events = gemini(&body);
    let StreamEvent::Started(meta) = &events[0] else {
        panic!("Started first: {events:?}")
    };
    assert_eq!(meta.reported_model.as_deref(), Some("gemini-2.5-pro"));
    let accumulator = fold(&events);
    assert_eq!(
        accumulator.reasoning,
        "**Counting**\nThe user wants numbers. Start at one."
    );
    assert_eq!(accumulator.text, "1, 2, 3");
    assert_eq!(accumulator.finish_reason, Some(FinishReason::Stop));
    assert!(accumulator.is_complete());
}

#[test]
fn usage_is_cumulative_and_the_last_report_wins() {
    // 31 → 79 → 80 candidate tokens: each change is reported, in order, and the last one stands.
    let events = gemini(&recording("gemini_aistudio_cumulative_usage.sse"));
    let outputs: Vec<Option<u64>> = events
        .iter()
        .filter_map(|event| match event {
            StreamEvent::Usage(usage) => Some(usage.output_tokens),
            _ => None,
        })
        .collect();
    assert_eq!(outputs, [Some(31 + 35), Some(79 + 35), Some(80 + 35)]);
    let usage = fold(&events).usage.expect("usage");
    assert_eq!(usage.input_tokens, Some(18));
    assert_eq!(usage.reasoning_tokens, Some(35));
    assert_eq!(usage.total_tokens, Some(133));

    // The prompt count changes (15 → 13) on the last chunk; repeats of an unchanged count are
    // not reported again.
    let events = gemini(&recording("gemini_aistudio_crlf.sse"));
    let usages = events
        .iter()
        .filter(|event| matches!(event, StreamEvent::Usage(_)))
        .count();
    assert_eq!(usages, 2);
    let usage = fold(&events).usage.expect("usage");
    assert_eq!((usage.input_tokens, usage.output_tokens), (Some(13), Some(8)));
    assert_eq!(usage.reasoning_tokens, None);

    // Vertex: thoughts make the total exceed prompt + candidates; its extra fields stay in raw.
    let events = gemini(&recording("gemini_vertex_thinking.sse"));
    let usage = fold(&events).usage.expect("usage");
    assert_eq!(
        (usage.input_tokens, usage.output_tokens, usage.total_tokens),
        (Some(5), Some(101), Some(106))
    );
    assert_eq!(usage.raw["trafficType"], "ON_DEMAND_FLEX");
    let StreamEvent::Started(meta) = &events[0] else {
        panic!("Started first: {events:?}")
    };
    assert_eq!(meta.reported_model.as_deref(), Some("gemini-3-flash-preview"));
}

#[test]
fn function_calls_arrive_whole_with_one_index_each() {
    let accumulator = fold(&gemini(&recording("gemini_aistudio_function_call.sse")));
    let calls = accumulator.tool_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].name.as_deref(), Some("get_country"));
    assert_eq!(calls[0].arguments, "{}");
    // Google says STOP; the response did call a function.
    assert_eq!(accumulator.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(accumulator.raw_finish_reason.as_deref(), Some("STOP"));
    assert_eq!(accumulator.text, "");

    let body = sse(&[
        json!({"candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": "weather", "args": {"city": "Paris", "days": 2}}},
            {"functionCall": {"id": "call-2", "name": "weather", "args": {"city": "Oslo"}}},
        ]}}]}),
        json!({"candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": "time"}},
        ]}, "finishReason": "STOP"}]}),
    ]);
    let calls = fold(&gemini(&body)).tool_calls();
    let summary: Vec<(u32, Option<&str>, Option<&str>, Value)> = calls
        .iter()
        .map(|call| {
            let arguments = serde_json::from_str(&call.arguments).expect("JSON arguments");
            (call.index, call.id.as_deref(), call.name.as_deref(), arguments)
        })
        .collect();
    assert_eq!(
        summary,
        [
            (0, None, Some("weather"), json!({"city": "Paris", "days": 2})),
            (1, Some("call-2"), Some("weather"), json!({"city": "Oslo"})),
            (2, None, Some("time"), json!({})),
        ]
    );
}

#[test]
fn a_safety_stop_is_a_content_filter_finish_that_keeps_the_text() {
    let body = sse(&[
        text_chunk("Here is how"),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "SAFETY",
            "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}]}]}),
    ]);
    let accumulator = fold(&gemini(&body));
    assert_eq!(accumulator.text, "Here is how");
    assert_eq!(accumulator.finish_reason, Some(FinishReason::ContentFilter));
    assert_eq!(accumulator.raw_finish_reason.as_deref(), Some("SAFETY"));
    assert_eq!(accumulator.error, None);

    let body = sse(&[json!({"candidates": [{"finishReason": "MAX_TOKENS"}]})]);
    assert_eq!(fold(&gemini(&body)).finish_reason, Some(FinishReason::Length));
}

#[test]
fn a_blocked_prompt_is_a_content_filter_error_saying_why() {
    let body = sse(&[json!({
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT", "safetyRatings": []},
        "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
        "modelVersion": "gemini-2.5-flash",
    })]);
    let events = gemini(&body);
    assert!(
        matches!(&events[0], StreamEvent::Started(meta) if meta.reported_model.as_deref() == Some("gemini-2.5-flash"))
    );
    assert!(
        events.contains(&StreamEvent::Finished {
            reason: FinishReason::ContentFilter,
            raw_reason: Some("prompt blocked: PROHIBITED_CONTENT".into()),
        }),
        "{events:?}"
    );
    let accumulator = fold(&events);
    assert_eq!(accumulator.usage.as_ref().expect("usage").input_tokens, Some(7));
    let error = accumulator.error.clone().expect("an error");
    assert_eq!(error.kind, ErrorKind::ContentFilter);
    assert!(!error.retryable());
    assert_eq!(error.code.as_deref(), Some("PROHIBITED_CONTENT"));
    assert!(
        error.message.contains("prompt was blocked") && error.message.contains("PROHIBITED_CONTENT"),
        "{}",
        error.message
    );
    assert!(!accumulator.is_complete());
    assert!(!accumulator.has_content());
    // Terminal: no "stream ended early" error follows it.
    assert_eq!(events.iter().filter(|event| event.kind() == "error").count(), 1);
}

#[test]
fn an_error_in_the_stream_ends_it_and_is_classified() {
    let error_chunk = json!({"error": {
        "code": 429,
        "status": "RESOURCE_EXHAUSTED",
        "message": "Resource has been exhausted (e.g. check quota).",
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}],
    }});
    let body = sse(&[text_chunk("Hel"), error_chunk, text_chunk("lo")]);
    let events = gemini(&body);
    let accumulator = fold(&events);
    assert_eq!(accumulator.text, "Hel", "nothing after the error is kept");
    let error = accumulator.error.expect("error");
    assert_eq!(error.kind, ErrorKind::RateLimited);
    assert_eq!(error.code.as_deref(), Some("RESOURCE_EXHAUSTED"));
    assert_eq!(error.retry_after_ms, Some(37_000));
    assert_eq!(error.message, "Resource has been exhausted (e.g. check quota).");
    assert_eq!(events.last().map(StreamEvent::kind), Some("error"));
    assert_eq!(events.iter().filter(|event| event.kind() == "error").count(), 1);

    let body = sse(&[json!({"error": {"code": 503, "status": "UNAVAILABLE", "message": "The model is overloaded."}})]);
    let error = fold(&gemini(&body)).error.expect("error");
    assert_eq!((error.kind, error.retryable()), (ErrorKind::Server, true));
}

#[test]
fn a_stream_that_ends_without_a_finish_reason_was_cut() {
    let body = recording("gemini_aistudio_crlf.sse");
    let last_event = body
        .windows(4)
        .rposition(|window| window == b"\r\n\r\n")
        .and_then(|end| body[..end].windows(4).rposition(|window| window == b"\r\n\r\n"))
        .expect("two events")
        + 4;
    let accumulator = fold(&gemini(&body[..last_event]));
    assert_eq!(accumulator.text, "The capital of France");
    let error = accumulator.error.clone().expect("error");
    assert_eq!(error.kind, ErrorKind::Network);
    assert!(error.message.contains("finish reason"), "{}", error.message);
    assert!(!accumulator.is_complete());

    let accumulator = fold(&gemini(b"data: {\"candidates\": [oops\r\n\r\n"));
    assert_eq!(accumulator.error.expect("error").kind, ErrorKind::Protocol);
}

#[test]
fn google_rpc_status_rejections_are_classified() {
    let classify = |status: u16, body: Value| {
        providers::error_from_response(
            ProviderKind::Gemini,
            status,
            &Default::default(),
            body.to_string().as_bytes(),
        )
    };
    let rate_limited = classify(
        429,
        json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count",
                 "quotaId": "GenerateContentInputTokensPerModelPerMinute-FreeTier"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "26.5s"},
        ]}}),
    );
    assert_eq!(rate_limited.kind, ErrorKind::RateLimited);
    assert!(rate_limited.retryable());
    assert_eq!(rate_limited.code.as_deref(), Some("RESOURCE_EXHAUSTED"));
    assert_eq!(rate_limited.status, Some(429));
    assert_eq!(rate_limited.retry_after_ms, Some(26_500));
    assert!(rate_limited.message.starts_with("You exceeded your current quota"));

    let daily = classify(
        429,
        json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "You exceeded your current quota.",
            "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                {"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}]}}),
    );
    assert_eq!((daily.kind, daily.retryable()), (ErrorKind::Quota, false));

    let bad_key = classify(
        400,
        json!({"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "API key not valid. Please pass a valid API key.",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                "domain": "googleapis.com"}]}}),
    );
    assert_eq!(
        (bad_key.kind, bad_key.code.as_deref()),
        (ErrorKind::Auth, Some("INVALID_ARGUMENT"))
    );

    for (status, code, kind) in [
        (400, "INVALID_ARGUMENT", ErrorKind::Validation),
        (400, "FAILED_PRECONDITION", ErrorKind::Validation),
        (404, "NOT_FOUND", ErrorKind::Validation),
        (401, "UNAUTHENTICATED", ErrorKind::Auth),
        (403, "PERMISSION_DENIED", ErrorKind::Auth),
        (500, "INTERNAL", ErrorKind::Server),
        (503, "UNAVAILABLE", ErrorKind::Server),
        (504, "DEADLINE_EXCEEDED", ErrorKind::Timeout),
    ] {
        let error = classify(
            status,
            json!({"error": {"code": status, "status": code, "message": "m"}}),
        );
        assert_eq!((error.kind, error.code.as_deref()), (kind, Some(code)), "{code}");
    }

    // Without `alt=sse`, or from some front ends, the same status comes wrapped in an array.
    let wrapped = classify(
        429,
        json!([{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Resource exhausted. Please try again later."}}]),
    );
    assert_eq!(
        (wrapped.kind, wrapped.message.as_str()),
        (ErrorKind::RateLimited, "Resource exhausted. Please try again later.")
    );
}

#[test]
fn requests_name_the_model_in_the_url_and_never_in_the_body() {
    let prompt = Prompt::user("Hi").with_system(Some("Be brief.".into()));
    let parameters = Parameters {
        max_output_tokens: Some(32),
        ..Parameters::default()
    };
    let mut gemini = Target::new("g", ProviderKind::Gemini, "gemini-2.5-flash");
    gemini.base_url = Some("http://127.0.0.1:9".into());
    let prepared = providers::prepare(&gemini, &prompt, &parameters).expect("prepare");
    assert_eq!(
        prepared.url,
        "http://127.0.0.1:9/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(
        prepared.body,
        json!({
            "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "generationConfig": {"maxOutputTokens": 32},
        })
    );
    assert!(prepared.unsupported.is_empty());

    let mut claude = Target::new("c", ProviderKind::Vertex, "claude-opus-4-7");
    claude.project = Some("acme".into());
    claude.location = Some("us-east5".into());
    claude.publisher = Some(Publisher::Anthropic);
    let prepared = providers::prepare(&claude, &prompt, &parameters).expect("prepare");
    assert_eq!(prepared.protocol, Protocol::AnthropicMessages);
    assert!(
        prepared
            .url
            .ends_with("/publishers/anthropic/models/claude-opus-4-7:streamRawPredict")
    );
    assert_eq!(prepared.body.get("model"), None);
    assert_eq!(prepared.body["anthropic_version"], "vertex-2023-10-16");
    assert_eq!(prepared.body["stream"], true);
    assert_eq!(prepared.body["max_tokens"], 32);
}

/// A service-account key file whose token endpoint is `token_uri`.
fn service_account_file(dir: &Path, token_uri: &str) -> String {
    let key = include_str!("google_throwaway_key.pem");
    let account = json!({
        "type": "service_account",
        "project_id": "acme-evals",
        "private_key_id": "0",
        "private_key": key,
        "client_email": "modelbench-test@acme-evals.iam.gserviceaccount.com",
        "client_id": "0",
        "token_uri": token_uri,
    });
    let path = dir.join("service-account.json");
    std::fs::write(&path, account.to_string()).expect("write key file");
    path.to_str().expect("utf8 path").to_owned()
}

const TOKEN: &str = "ya29.adc-test-token";
const VERTEX_PATH: &str = "/v1/projects/acme-evals/locations/global/publishers/google/models/gemini-3-flash-preview:streamGenerateContent?alt=sse";

/// The `modelbench` binary runs one Vertex target with only ADC to authenticate with; `grant`
/// decides whether the local token endpoint hands out a token. Returns the stored response and
/// every request the local Google received.
async fn run_with_adc(grant: bool) -> (modelbench_engine::ResponseRecord, Vec<Request>) {
    let vertex_body = recording("gemini_vertex_thinking.sse");
    let server = serve(move |request: &Request| match (request.path.as_str(), grant) {
        ("/token", true) => (
            200,
            "application/json",
            json!({"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"})
                .to_string()
                .into_bytes(),
        ),
        ("/token", false) => (
            400,
            "application/json",
            br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#.to_vec(),
        ),
        (VERTEX_PATH, _) if request.header("authorization") == Some(&format!("Bearer {TOKEN}")) => {
            (200, "text/event-stream", vertex_body.clone())
        }
        _ => (
            401,
            "application/json",
            br#"{"error":{"code":401,"status":"UNAUTHENTICATED","message":"no"}}"#.to_vec(),
        ),
    })
    .await;
    let data = tempfile::tempdir().expect("tempdir");
    let key_file = service_account_file(data.path(), &format!("{}/token", server.base_url));
    let mut target = Target::new("vertex-adc", ProviderKind::Vertex, "gemini-3-flash-preview");
    target.project = Some("acme-evals".into());
    target.location = Some("global".into());
    target.base_url = Some(server.base_url.clone());
    let targets = data.path().join("targets.toml");
    std::fs::write(&targets, modelbench_engine::target::targets_to_toml(&[target])).expect("write targets");
    let data_dir = data.path().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        modelbench(
            &data_dir,
            &["run", "--targets", targets.to_str().expect("utf8"), "--json", "Say OK"],
            &[("GOOGLE_APPLICATION_CREDENTIALS", &key_file)],
            None,
        )
    })
    .await
    .expect("cli task");
    assert!(
        output.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let document: Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    let run_id: modelbench_engine::RunId = document["run_id"].as_str().expect("id").parse().expect("uuid");
    let store = modelbench_engine::store::Store::open(&data.path().join("modelbench.db")).expect("store");
    let mut run = store.load_run(run_id).expect("load").expect("run");
    assert_eq!(run.responses.len(), 1);
    (run.responses.remove(0), server.requests())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vertex_gets_a_token_from_application_default_credentials() {
    let (response, requests) = run_with_adc(true).await;
    assert!(response.complete, "{:?}", response.error);
    assert_eq!(response.text, "OK");
    assert_eq!(response.reported_model.as_deref(), Some("gemini-3-flash-preview"));

    // One token request: a signed JWT asking for the cloud-platform scope.
    let token_requests: Vec<&Request> = requests.iter().filter(|request| request.path == "/token").collect();
    assert_eq!(token_requests.len(), 1, "{requests:?}");
    let form = String::from_utf8_lossy(&token_requests[0].body).into_owned();
    assert!(
        form.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"),
        "{form}"
    );
    let assertion = form
        .split('&')
        .find_map(|pair| pair.strip_prefix("assertion="))
        .expect("assertion");
    // The form encodes the JWT segments' base64 padding (`=` as `%3D`).
    let assertion = assertion.replace("%3D", "=");
    let claims = assertion.split('.').nth(1).expect("JWT claims");
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims.trim_end_matches('='))
        .expect("base64url");
    let claims: Value = serde_json::from_slice(&claims).expect("claims JSON");
    assert_eq!(claims["scope"], "https://www.googleapis.com/auth/cloud-platform");
    assert_eq!(claims["iss"], "modelbench-test@acme-evals.iam.gserviceaccount.com");

    // Then Vertex, with that token and nothing else to authenticate with.
    let vertex: Vec<&Request> = requests.iter().filter(|request| request.path == VERTEX_PATH).collect();
    assert_eq!(vertex.len(), 1, "{requests:?}");
    assert_eq!(vertex[0].header("authorization"), Some(&format!("Bearer {TOKEN}")));
    assert_eq!(vertex[0].header("x-goog-api-key"), None);
    let body: Value = serde_json::from_slice(&vertex[0].body).expect("JSON body");
    assert_eq!(
        body["contents"],
        json!([{"role": "user", "parts": [{"text": "Say OK"}]}])
    );
    assert_eq!(body.get("model"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_an_auth_error_that_says_how_to_sign_in() {
    let (response, requests) = run_with_adc(false).await;
    assert!(!response.complete);
    let error = response.error.expect("an error");
    assert_eq!(error.kind, ErrorKind::Auth);
    assert!(!error.retryable());
    assert_eq!(error.target, "vertex-adc");
    for expected in [
        "could not get a Google access token",
        "gcloud auth application-default login",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_OAUTH_ACCESS_TOKEN",
    ] {
        assert!(error.message.contains(expected), "{expected:?} in {}", error.message);
    }
    assert!(!error.message.contains("PRIVATE KEY"), "{}", error.message);
    // Vertex was never called without a token.
    assert!(requests.iter().all(|request| request.path == "/token"), "{requests:?}");
}

/// Just enough HTTP/1.1 for a local token endpoint and a local Vertex: one request per
/// connection, answered whole and closed.
mod local_http {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[derive(Clone, Debug)]
    pub struct Request {
        pub path: String,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl Request {
        pub fn header(&self, name: &str) -> Option<&String> {
            self.headers
                .iter()
                .find(|(header, _)| header.eq_ignore_ascii_case(name))
                .map(|(_, value)| value)
        }
    }

    pub struct Server {
        pub base_url: String,
        requests: Arc<Mutex<Vec<Request>>>,
    }

    impl Server {
        pub fn requests(&self) -> Vec<Request> {
            self.requests.lock().expect("requests").clone()
        }
    }

    type Answer = (u16, &'static str, Vec<u8>);

    pub async fn serve(answer: impl Fn(&Request) -> Answer + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        let answer = Arc::new(answer);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let log = Arc::clone(&log);
                let answer = Arc::clone(&answer);
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut stream).await else {
                        return;
                    };
                    let (status, content_type, body) = answer(&request);
                    log.lock().expect("requests").push(request);
                    let head = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(&body).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Server { base_url, requests }
    }

    async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Request> {
        let mut buffer = Vec::new();
        let head_end = loop {
            if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
                break end;
            }
            let mut chunk = [0_u8; 4096];
            let read = stream.read(&mut chunk).await.ok().filter(|read| *read > 0)?;
            buffer.extend_from_slice(&chunk[..read]);
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let path = lines.next()?.split(' ').nth(1)?.to_owned();
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(0);
        let mut body = buffer[head_end + 4..].to_vec();
        while body.len() < length {
            let mut chunk = [0_u8; 4096];
            let read = stream.read(&mut chunk).await.ok().filter(|read| *read > 0)?;
            body.extend_from_slice(&chunk[..read]);
        }
        Some(Request { path, headers, body })
    }
}
