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
