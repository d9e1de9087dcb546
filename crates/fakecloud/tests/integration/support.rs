//! Shared helpers: start a server, send a request, read SSE or NDJSON with
//! minimal parsing of our own.

use std::time::{Duration, Instant};

use fakecloud::{Config, FakeCloud};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

pub const KEY: &str = "fake-key";
pub const OPENAI: &[(&str, &str)] = &[("authorization", "Bearer fake-key")];
pub const AZURE: &[(&str, &str)] = &[("api-key", "fake-key")];
pub const ANTHROPIC: &[(&str, &str)] = &[("x-api-key", "fake-key"), ("anthropic-version", "2023-06-01")];
pub const NO_HEADERS: &[(&str, &str)] = &[];

pub async fn start() -> FakeCloud {
    start_with(Config::default()).await
}

pub async fn start_with(config: Config) -> FakeCloud {
    FakeCloud::start(config).await.expect("fakecloud starts")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client builds")
}

/// A fully read response.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// Client-side time from sending to the last byte.
    pub elapsed: Duration,
}

impl Reply {
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("body is UTF-8")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("body is JSON")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("missing header {name}"))
            .to_str()
            .expect("ASCII header")
    }
}

/// A streaming chat request for `model` whose body the test reads itself (as it arrives, or
/// not at all), once the headers are in.
pub async fn chat_stream(cloud: &FakeCloud, model: &str) -> reqwest::Response {
    client()
        .post(format!("{}/v1/chat/completions", cloud.base_url()))
        .header("authorization", "Bearer fake-key")
        .json(&chat_body(model))
        .send()
        .await
        .expect("headers arrive")
}

pub async fn post(cloud: &FakeCloud, path: &str, headers: &[(&str, &str)], body: &Value) -> Reply {
    post_raw(cloud, path, headers, body.to_string().into_bytes()).await
}

pub async fn post_raw(cloud: &FakeCloud, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
    let started = Instant::now();
    let mut request = client()
        .post(format!("{}{path}", cloud.base_url()))
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request is answered");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("body arrives whole").to_vec();
    Reply {
        status,
        headers,
        body,
        elapsed: started.elapsed(),
    }
}

/// One server-sent event: its `event:` name and joined `data:` lines.
#[derive(Debug)]
pub struct Event {
    pub name: Option<String>,
    pub data: String,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|error| panic!("{error}: {}", self.data))
    }
}

/// A deliberately small SSE reader for `\n` framing, enough for our own
/// output.
pub fn sse_events(body: &str) -> Vec<Event> {
    body.split("\n\n")
        .filter(|block| !block.is_empty())
        .map(|block| {
            let mut name = None;
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event: ") {
                    name = Some(value.to_owned());
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data.push(value);
                }
            }
            Event {
                name,
                data: data.join("\n"),
            }
        })
        .collect()
}

pub fn ndjson_lines(body: &str) -> Vec<Value> {
    assert!(body.ends_with('\n'), "NDJSON ends with a newline");
    body.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect()
}

pub fn chat_body(model: &str) -> Value {
    json!({
        "model": model,
        "stream": true,
        "stream_options": {"include_usage": true},
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say something short"}
        ]
    })
}

pub fn responses_body(model: &str) -> Value {
    json!({"model": model, "stream": true, "input": "Say something short", "instructions": "Be terse."})
}

pub fn anthropic_body(model: &str, max_tokens: u64) -> Value {
    json!({
        "model": model,
        "max_tokens": max_tokens,
        "stream": true,
        "system": "Be terse.",
        "messages": [{"role": "user", "content": "Say something short"}]
    })
}

pub fn ollama_body(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Say something short"}]})
}

/// The names of an Anthropic Messages stream that sends `tokens` deltas
/// and finishes normally.
pub fn anthropic_event_names(tokens: usize) -> Vec<&'static str> {
    let mut names = vec!["message_start", "content_block_start", "ping"];
    names.extend(std::iter::repeat_n("content_block_delta", tokens));
    names.extend(["content_block_stop", "message_delta", "message_stop"]);
    names
}

/// Every event's `event:` name.
pub fn event_names(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event.name.as_deref().expect("named"))
        .collect()
}

/// The request log as `GET /_fakecloud/requests` serves it.
pub async fn listed_requests(cloud: &FakeCloud) -> Value {
    client()
        .get(format!("{}/_fakecloud/requests", cloud.base_url()))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("JSON")
}

/// The text streamed for a scenario spec, as the test computes it.
pub fn expected_text(spec: &str) -> String {
    fakecloud::tokens_for(&fakecloud::parse_spec(spec).expect("spec parses")).concat()
}

/// Chat Completions content deltas joined.
pub fn chat_text(events: &[Event]) -> String {
    events
        .iter()
        .filter(|event| event.data != "[DONE]")
        .filter_map(|event| {
            event.json()["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

/// The finish reason of a Chat Completions stream.
pub fn chat_finish_reason(events: &[Event]) -> Option<String> {
    events
        .iter()
        .filter(|event| event.data != "[DONE]")
        .find_map(|event| event.json()["choices"][0]["finish_reason"].as_str().map(str::to_owned))
}

pub const GEMINI: &[(&str, &str)] = &[("x-goog-api-key", "fake-key")];
pub const VERTEX: &[(&str, &str)] = &[("authorization", "Bearer fake-key")];

/// Google's SSE: `data: {json}\r\n\r\n` per event, no names, no `[DONE]`.
pub fn google_events(body: &str) -> Vec<Value> {
    assert!(body.ends_with("\r\n\r\n"), "events end with CRLF CRLF: {body:?}");
    body.split("\r\n\r\n")
        .filter(|block| !block.is_empty())
        .map(|block| {
            let data = block
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("a data line: {block:?}"));
            assert!(!data.contains('\n'), "one line per event");
            serde_json::from_str(data).unwrap_or_else(|error| panic!("{error}: {data}"))
        })
        .collect()
}

pub fn gemini_body(text: &str) -> Value {
    json!({
        "contents": [{"role": "user", "parts": [{"text": text}]}],
        "systemInstruction": {"parts": [{"text": "Be terse."}]}
    })
}

/// One AWS event-stream frame as decoded by aws-smithy-eventstream's reader,
/// which checks both CRCs.
#[derive(Debug)]
pub struct AwsFrame {
    pub headers: std::collections::BTreeMap<String, String>,
    pub payload: Vec<u8>,
}

impl AwsFrame {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no header {name} in {:?}", self.headers))
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.payload).expect("payload is JSON")
    }

    /// `:event-type` of an event, `:exception-type` of an exception.
    pub fn kind(&self) -> &str {
        match self.header(":message-type") {
            "event" => self.header(":event-type"),
            _ => self.header(":exception-type"),
        }
    }
}

pub fn aws_frames(body: &[u8]) -> Vec<AwsFrame> {
    use aws_smithy_eventstream::frame::read_message_from;
    use bytes::Buf;
    let mut buffer = bytes::Bytes::copy_from_slice(body);
    let mut frames = Vec::new();
    while buffer.has_remaining() {
        let message = read_message_from(&mut buffer).expect("a whole frame with valid CRCs");
        let headers = message
            .headers()
            .iter()
            .map(|header| {
                let value = header.value().as_string().expect("string header").as_str().to_owned();
                (header.name().as_str().to_owned(), value)
            })
            .collect();
        frames.push(AwsFrame {
            headers,
            payload: message.payload().to_vec(),
        });
    }
    frames
}

/// Credentials and settings for signing a Bedrock request in a test, the
/// way an AWS SDK would (aws-sigv4's defaults).
pub struct AwsSigner {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub region: &'static str,
    pub time: std::time::SystemTime,
}

impl Default for AwsSigner {
    fn default() -> Self {
        Self {
            access_key_id: fakecloud::FAKE_AWS_ACCESS_KEY_ID.to_owned(),
            secret_access_key: fakecloud::FAKE_AWS_SECRET_ACCESS_KEY.to_owned(),
            session_token: None,
            region: "us-east-1",
            time: std::time::SystemTime::now(),
        }
    }
}

impl AwsSigner {
    /// The headers that sign a JSON POST of `body` to `url`.
    pub fn headers(&self, url: &str, body: &[u8]) -> Vec<(String, String)> {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let credentials = aws_credential_types::Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.clone(),
            self.session_token.clone(),
            None,
            "test",
        );
        let identity = credentials.into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(self.region)
            .name("bedrock")
            .time(self.time)
            .settings(SigningSettings::default())
            .build()
            .expect("signing params")
            .into();
        let content_type = [("content-type", "application/json")];
        let request = SignableRequest::new("POST", url, content_type.into_iter(), SignableBody::Bytes(body))
            .expect("signable request");
        let (instructions, _signature) = sign(request, &params).expect("signed").into_parts();
        instructions
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }
}

/// A Bedrock POST signed by `signer` for `signed_body`, sending `body`.
pub async fn post_bedrock_signed(
    cloud: &FakeCloud,
    path: &str,
    signer: &AwsSigner,
    signed_body: &[u8],
    body: Vec<u8>,
) -> Reply {
    let url = format!("{}{path}", cloud.base_url());
    let signed = signer.headers(&url, signed_body);
    let headers: Vec<(&str, &str)> = signed
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    post_raw(cloud, path, &headers, body).await
}

/// A Bedrock POST signed with the fake credentials.
pub async fn post_bedrock(cloud: &FakeCloud, path: &str, body: &Value) -> Reply {
    let bytes = body.to_string().into_bytes();
    post_bedrock_signed(cloud, path, &AwsSigner::default(), &bytes, bytes.clone()).await
}

pub fn converse_body() -> Value {
    json!({
        "system": [{"text": "Be terse."}],
        "messages": [{"role": "user", "content": [{"text": "Say something short"}]}]
    })
}

pub fn bedrock_anthropic_body(max_tokens: u64) -> Value {
    json!({
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": max_tokens,
        "system": "Be terse.",
        "messages": [{"role": "user", "content": "Say something short"}]
    })
}
