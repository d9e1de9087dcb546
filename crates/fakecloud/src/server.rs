//! The HTTP side: routes, the checks every request goes through in the
//! order the real clouds apply them, scenario selection, and handing the
//! response to the stream driver.
//!
//! Order for a cloud route: auth → route and version checks → JSON parse →
//! scenario selection → body validation → the request's draws (latencies,
//! error, answer) → scheduled failure → stream (or replay). Each refusal is rendered by `rejection` in the cloud's own
//! envelope and logged.
//!
//! Bedrock, Gemini and Vertex name the model in the path, percent-encoded
//! (`us.amazon.nova-micro-v1%3A0`, `gemini-2.5-flash:streamGenerateContent`);
//! their handlers parse the raw path themselves, since a `:` inside a path
//! segment is not something a router pattern can split on.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use crate::scenario::percent_decode;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::scenario::{Answer, Failure, Scenario, parse_spec};
use crate::stream::generated::{Ending, GeneratedSource, Plan};
use crate::stream::replay::{FixtureKind, ReplaySource, edited, fixture_body, pieces};
use crate::stream::{BodyDriver, FrameSource, Hold};
use crate::wire::anthropic::AnthropicEncoder;
use crate::wire::bedrock::{ConverseEncoder, InvokeAnthropicEncoder, InvokeFamily, InvokeLlamaEncoder};
use crate::wire::gemini::{GeminiEncoder, GeminiFlavour};
use crate::wire::oci::OciEncoder;
use crate::wire::ollama::OllamaEncoder;
use crate::wire::openai_chat::{ChatEncoder, ChatFlavour};
use crate::wire::openai_responses::ResponsesEncoder;
use crate::wire::{EncoderContext, WireEncoder, event_stream};
use crate::{Config, Keys};

pub(crate) mod auth;
mod der;
pub(crate) mod entra;
pub(crate) mod headers;
pub(crate) mod oci_signature;
pub(crate) mod rejection;
pub(crate) mod request_log;
pub(crate) mod sigv4;
pub(crate) mod validate;

use auth::{AuthFailure, Presented, presented_key, query_value};
use rejection::{Rejection, RejectionContext};
use request_log::{RequestLog, RequestRecord};
use sigv4::SignatureFailure;
use validate::{Invalid, Validated};

/// Header that selects a scenario for one request, overriding everything.
pub(crate) const SCENARIO_HEADER: &str = "x-fakecloud-scenario";

/// The size of the writes OCI's native stream is cut into, so its events straddle reads.
const OCI_WRITE_BYTES: usize = 37;

/// Anthropic versions the real API accepts.
const ANTHROPIC_VERSIONS: &[&str] = &["2023-06-01", "2023-01-01"];

/// Whose auth, errors and headers a route uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Provider {
    OpenAi,
    Azure,
    Anthropic,
    Ollama,
    Bedrock,
    /// The Gemini API (AI Studio).
    Gemini,
    /// Gemini models on Vertex AI.
    Vertex,
    /// Claude on Vertex AI: Vertex's auth and quota errors, Anthropic's
    /// stream and body errors.
    VertexAnthropic,
    /// OCI Generative AI, both surfaces: OCI's auth and error envelope.
    Oci,
}

impl Provider {
    fn name(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Azure => "azure",
            Provider::Anthropic => "anthropic",
            Provider::Ollama => "ollama",
            Provider::Bedrock => "bedrock",
            Provider::Gemini => "gemini",
            Provider::Vertex | Provider::VertexAnthropic => "vertex",
            Provider::Oci => "oci",
        }
    }
}

/// One cloud route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    OpenAiChat,
    OpenAiResponses,
    AzureClassicChat,
    AzureV1Chat,
    AzureV1Responses,
    AnthropicMessages,
    OllamaChat,
    BedrockConverse,
    BedrockInvoke,
    GeminiGenerate,
    VertexGenerate,
    VertexAnthropic,
    /// Bedrock Mantle: OpenAI Chat Completions, OpenAI Responses and Anthropic Messages on
    /// `bedrock-mantle.{region}.api.aws`, with Bedrock's auth (an API key or SigV4).
    MantleChat,
    MantleResponses,
    MantleMessages,
    /// OCI Generative AI: its native chat, and its OpenAI-compatible Chat Completions and
    /// Responses (which share `/openai/v1/…` with Azure and Mantle).
    OciNative,
    OciChat,
    OciResponses,
}

impl Endpoint {
    fn provider(self) -> Provider {
        match self {
            Endpoint::OpenAiChat | Endpoint::OpenAiResponses => Provider::OpenAi,
            Endpoint::AzureClassicChat | Endpoint::AzureV1Chat | Endpoint::AzureV1Responses => Provider::Azure,
            Endpoint::AnthropicMessages => Provider::Anthropic,
            Endpoint::OllamaChat => Provider::Ollama,
            Endpoint::BedrockConverse
            | Endpoint::BedrockInvoke
            | Endpoint::MantleChat
            | Endpoint::MantleResponses
            | Endpoint::MantleMessages => Provider::Bedrock,
            Endpoint::GeminiGenerate => Provider::Gemini,
            Endpoint::VertexGenerate => Provider::Vertex,
            Endpoint::VertexAnthropic => Provider::VertexAnthropic,
            Endpoint::OciNative | Endpoint::OciChat | Endpoint::OciResponses => Provider::Oci,
        }
    }

    /// Clouds that report a blocked prompt inside a 200 stream (Gemini's
    /// `promptFeedback`, a Bedrock guardrail) rather than as an HTTP error.
    fn blocks_prompts_in_stream(self) -> bool {
        matches!(
            self,
            Endpoint::BedrockConverse | Endpoint::GeminiGenerate | Endpoint::VertexGenerate
        )
    }
}

/// Which endpoint a request reached, with what its path said.
struct Route {
    endpoint: Endpoint,
    /// The model (or Azure deployment) named in the path, percent-decoded.
    path_model: Option<String>,
    /// A path the cloud would not serve: refused after auth.
    refusal: Option<Rejection>,
}

impl Route {
    fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            path_model: None,
            refusal: None,
        }
    }

    fn with_model(endpoint: Endpoint, model: String) -> Self {
        Self {
            endpoint,
            path_model: Some(model),
            refusal: None,
        }
    }

    /// A path this endpoint's cloud answers with 404.
    fn not_found(endpoint: Endpoint, model: String) -> Self {
        Self {
            endpoint,
            path_model: Some(model),
            refusal: Some(Rejection::Status {
                status: 404,
                retry_after: None,
            }),
        }
    }
}

/// Everything the handlers share.
pub(crate) struct ServerState {
    keys: Keys,
    scenarios: HashMap<String, Scenario>,
    default_scenario: Scenario,
    fixtures_dir: Option<PathBuf>,
    pub(crate) log: RequestLog,
    /// Status failures served so far, per scenario key, for `fail=429x1`.
    failure_counts: Mutex<HashMap<String, u32>>,
    /// Requests drawn for so far, per scenario key, for scenarios that vary.
    draw_counts: Mutex<HashMap<String, u64>>,
    serial: AtomicU64,
    /// Random per server, so ids differ between fakecloud instances.
    instance_tag: String,
    shutdown: watch::Receiver<bool>,
    /// Entra tokens issued by `/{tenant}/oauth2/v2.0/token`.
    entra_tokens: entra::Tokens,
    /// [`crate::Config::clock_skew_seconds`].
    clock_skew_seconds: i64,
}

impl ServerState {
    pub(crate) fn new(config: Config, shutdown: watch::Receiver<bool>) -> Self {
        let fixtures_dir = crate::stream::replay::find_fixtures_dir(config.fixtures_dir.as_deref());
        // RandomState is seeded randomly per process and per instance.
        let random = RandomState::new().hash_one(std::process::id());
        Self {
            keys: config.keys,
            scenarios: config.scenarios,
            default_scenario: config.default_scenario,
            fixtures_dir,
            log: RequestLog::default(),
            failure_counts: Mutex::new(HashMap::new()),
            draw_counts: Mutex::new(HashMap::new()),
            serial: AtomicU64::new(0),
            instance_tag: format!("{:08x}", random & 0xffff_ffff),
            shutdown,
            entra_tokens: entra::Tokens::default(),
            clock_skew_seconds: config.clock_skew_seconds,
        }
    }

    /// fakecloud's own time: the machine's, skewed as configured.
    fn now(&self) -> SystemTime {
        let now = SystemTime::now();
        let skew = std::time::Duration::from_secs(self.clock_skew_seconds.unsigned_abs());
        if self.clock_skew_seconds >= 0 {
            now + skew
        } else {
            now.checked_sub(skew).unwrap_or(now)
        }
    }
}

type SharedState = Arc<ServerState>;

pub(crate) fn router(state: SharedState) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(openai_chat))
        .route("/v1/responses", post(openai_responses))
        .route(
            "/openai/deployments/{deployment}/chat/completions",
            post(azure_classic_chat),
        )
        .route("/openai/v1/chat/completions", post(azure_v1_chat))
        .route("/openai/v1/responses", post(azure_v1_responses))
        .route("/v1/messages", post(anthropic_messages))
        .route("/anthropic/v1/messages", post(mantle_messages))
        .route("/api/chat", post(ollama_chat))
        .route("/model/{model_id}/converse-stream", post(bedrock_converse))
        .route("/model/{model_id}/invoke-with-response-stream", post(bedrock_invoke))
        .route("/v1beta/models/{*model_and_method}", post(gemini))
        .route("/v1/models/{*model_and_method}", post(gemini))
        .route("/v1/projects/{*resource}", post(vertex))
        .route("/v1beta1/projects/{*resource}", post(vertex))
        .route("/{tenant}/oauth2/v2.0/token", post(entra::token))
        .route("/20231130/actions/chat", post(oci_native))
        .route("/_fakecloud/requests", get(list_requests))
        .route("/_fakecloud/health", get(health))
        .with_state(state)
}

/// Bedrock Mantle shares `/v1/…` with OpenAI and `/openai/v1/…` with Azure: a request is
/// Mantle's when it is SigV4-signed, or when it presents a Bearer key (no Azure `api-key`) for a
/// vendor-prefixed model id (`openai.gpt-5.4`, `qwen.qwen3-32b`), which neither OpenAI nor an
/// Azure deployment name uses.
fn is_mantle(headers: &HeaderMap, body: &[u8]) -> bool {
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if authorization.starts_with("AWS4-HMAC-SHA256") {
        return true;
    }
    if headers.contains_key("api-key") || !authorization.to_ascii_lowercase().starts_with("bearer ") {
        return false;
    }
    let model = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|body| body.get("model").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    match model.split_once('.') {
        Some((vendor, rest)) => {
            !vendor.is_empty()
                && vendor
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
                && rest.bytes().next().is_some_and(|byte| byte.is_ascii_alphabetic())
        }
        None => false,
    }
}

/// `mantle` for a Bedrock Mantle request ([`is_mantle`]), else `other`.
fn mantle_or(mantle: Endpoint, other: Endpoint, headers: &HeaderMap, body: &[u8]) -> Endpoint {
    if is_mantle(headers, body) { mantle } else { other }
}

/// OCI shares `/openai/v1/…` too: a request is OCI's when it carries an OCI signature, an
/// `opc-compartment-id`, or fakecloud's OCI API key as its Bearer token (OCI and Mantle both
/// name models `vendor.model`, so the key tells them apart).
fn is_oci(keys: &Keys, headers: &HeaderMap) -> bool {
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    authorization.starts_with("Signature ")
        || headers.contains_key("opc-compartment-id")
        || authorization
            .split_once(' ')
            .is_some_and(|(scheme, key)| scheme.eq_ignore_ascii_case("bearer") && key.trim() == keys.oci_api_key)
}

async fn oci_native(State(state): State<SharedState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let model = serde_json::from_slice::<Value>(&body)
        .map(|body| validate::oci::model(&body))
        .unwrap_or_default();
    handle(state, Route::with_model(Endpoint::OciNative, model), uri, headers, body).await
}

async fn openai_chat(State(state): State<SharedState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let endpoint = mantle_or(Endpoint::MantleChat, Endpoint::OpenAiChat, &headers, &body);
    handle(state, Route::new(endpoint), uri, headers, body).await
}

async fn openai_responses(State(state): State<SharedState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let endpoint = mantle_or(Endpoint::MantleResponses, Endpoint::OpenAiResponses, &headers, &body);
    handle(state, Route::new(endpoint), uri, headers, body).await
}

async fn mantle_messages(State(state): State<SharedState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    handle(state, Route::new(Endpoint::MantleMessages), uri, headers, body).await
}

async fn azure_classic_chat(State(state): State<SharedState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    // `/openai/deployments/{deployment}/chat/completions`
    let deployment = uri.path().split('/').nth(3).unwrap_or_default();
    let route = Route::with_model(
        Endpoint::AzureClassicChat,
        percent_decode(deployment).unwrap_or_else(|| deployment.to_owned()),
    );
    handle(state, route, uri, headers, body).await
}

async fn azure_v1_chat(State(state): State<SharedState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let endpoint = if is_oci(&state.keys, &headers) {
        Endpoint::OciChat
    } else {
        mantle_or(Endpoint::MantleChat, Endpoint::AzureV1Chat, &headers, &body)
    };
    handle(state, Route::new(endpoint), uri, headers, body).await
}

async fn azure_v1_responses(State(state): State<SharedState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let endpoint = if is_oci(&state.keys, &headers) {
        Endpoint::OciResponses
    } else {
        mantle_or(Endpoint::MantleResponses, Endpoint::AzureV1Responses, &headers, &body)
    };
    handle(state, Route::new(endpoint), uri, headers, body).await
}

async fn anthropic_messages(State(state): State<SharedState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    handle(state, Route::new(Endpoint::AnthropicMessages), uri, headers, body).await
}

async fn ollama_chat(State(state): State<SharedState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    handle(state, Route::new(Endpoint::OllamaChat), uri, headers, body).await
}

/// The model id of `/model/{modelId}/…`, percent-decoded (`%3A` → `:`,
/// `%2F` → `/` in ARNs); a malformed escape is Bedrock's invalid model id.
fn bedrock_route(endpoint: Endpoint, uri: &Uri) -> Route {
    let raw = uri.path().split('/').nth(2).unwrap_or_default();
    match percent_decode(raw) {
        Some(model_id) => Route::with_model(endpoint, model_id),
        None => Route {
            endpoint,
            path_model: Some(raw.to_owned()),
            refusal: Some(Rejection::Invalid(Invalid::new(
                "The provided model identifier is invalid.",
            ))),
        },
    }
}

async fn bedrock_converse(State(state): State<SharedState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let route = bedrock_route(Endpoint::BedrockConverse, &uri);
    handle(state, route, uri, headers, body).await
}

async fn bedrock_invoke(State(state): State<SharedState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let route = bedrock_route(Endpoint::BedrockInvoke, &uri);
    handle(state, route, uri, headers, body).await
}

/// `{model}:{method}`, the model percent-decoded. The method follows the
/// last colon, so model names and specs may contain colons of their own.
fn model_and_method(tail: &str) -> (String, &str) {
    let (model, method) = tail.rsplit_once(':').unwrap_or((tail, ""));
    (percent_decode(model).unwrap_or_else(|| model.to_owned()), method)
}

/// `/v1beta/models/{model}:streamGenerateContent`.
async fn gemini(State(state): State<SharedState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let tail = uri.path().splitn(4, '/').nth(3).unwrap_or_default();
    let (model, method) = model_and_method(tail);
    let route = if method == "streamGenerateContent" && !model.contains('/') {
        Route::with_model(Endpoint::GeminiGenerate, model)
    } else {
        Route::not_found(Endpoint::GeminiGenerate, model)
    };
    handle(state, route, uri, headers, body).await
}

/// `/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}:{method}`:
/// Gemini by `google` with `streamGenerateContent`, Claude by `anthropic`
/// with `streamRawPredict`.
async fn vertex(State(state): State<SharedState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let resource = uri.path().splitn(4, '/').nth(3).unwrap_or_default();
    let segments: Vec<&str> = resource.split('/').collect();
    let route = match segments[..] {
        [
            _project,
            "locations",
            _location,
            "publishers",
            publisher,
            "models",
            tail,
        ] => {
            let (model, method) = model_and_method(tail);
            match (publisher, method) {
                ("google", "streamGenerateContent") => Route::with_model(Endpoint::VertexGenerate, model),
                ("anthropic", "streamRawPredict") => Route::with_model(Endpoint::VertexAnthropic, model),
                // Google's front end answers paths it does not serve.
                _ => Route::not_found(Endpoint::VertexGenerate, model),
            }
        }
        _ => Route::not_found(Endpoint::VertexGenerate, resource.to_owned()),
    };
    handle(state, route, uri, headers, body).await
}

async fn list_requests(State(state): State<SharedState>) -> Response {
    Json(state.log.snapshot()).into_response()
}

async fn health() -> &'static str {
    "ok"
}

/// Why a request was refused, with the scenario it drew if it got that far.
struct Refused {
    rejection: Rejection,
    scenario: Option<Scenario>,
}

impl From<Rejection> for Refused {
    fn from(rejection: Rejection) -> Self {
        Self {
            rejection,
            scenario: None,
        }
    }
}

/// What a request that passed every check streams.
struct Prepared {
    scenario: Scenario,
    validated: Validated,
    replay: Option<(Bytes, FixtureKind)>,
}

/// The request as parsed once, shared by the checks.
struct Incoming<'a> {
    endpoint: Endpoint,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    body: &'a Value,
    parse_error: Option<&'a serde_json::Error>,
    /// As requested, including any `~SPEC`.
    model: &'a str,
}

async fn handle(state: SharedState, route: Route, uri: Uri, headers: HeaderMap, raw_body: Bytes) -> Response {
    let entry = Instant::now();
    let Route {
        endpoint,
        path_model,
        refusal,
    } = route;
    let provider = endpoint.provider();
    let serial = state.serial.fetch_add(1, Ordering::Relaxed) + 1;
    let id_suffix = format!("{}{serial:06}", state.instance_tag);
    let request_id = match provider {
        // Azure's apim-request-id and Bedrock's x-amzn-RequestId are UUIDs.
        Provider::Azure | Provider::Bedrock => format!("{}-0000-4000-8000-{serial:012x}", state.instance_tag),
        // Google sends no request id; this is the body's `responseId`.
        Provider::Gemini | Provider::Vertex => format!("fAkE{id_suffix}"),
        _ => format!("req_fake_{id_suffix}"),
    };
    let (body, parse_error) = match serde_json::from_slice::<Value>(&raw_body) {
        Ok(body) => (body, None),
        Err(error) => (Value::Null, Some(error)),
    };
    let model = path_model.unwrap_or_else(|| body.get("model").and_then(Value::as_str).unwrap_or_default().to_owned());
    // The name the cloud reports back: the model without its spec suffix.
    let reported_model = model
        .split_once('~')
        .map_or(model.as_str(), |(name, _)| name)
        .to_owned();
    let incoming = Incoming {
        endpoint,
        uri: &uri,
        headers: &headers,
        body: &body,
        parse_error: parse_error.as_ref(),
        model: &model,
    };
    let presented = Presented {
        uri: &uri,
        headers: &headers,
        body: &raw_body,
    };
    let authenticated = if provider == Provider::Azure && state.keys.entra.is_some() {
        state.entra_tokens.check(&headers, state.now())
    } else {
        auth::check(provider, &state.keys, &presented, state.now())
    };
    let credential = auth::describe(provider, &presented);
    let prepared = match (authenticated.clone(), refusal) {
        (Err(failure), _) => Err(Refused::from(Rejection::Unauthorized(failure))),
        (Ok(()), Some(refusal)) => Err(Refused::from(refusal)),
        (Ok(()), None) => prepare(&state, &incoming).await,
    };
    let mut record = RequestRecord {
        request_id: request_id.clone(),
        provider: provider.name().to_owned(),
        path: uri.path().to_owned(),
        model: model.clone(),
        authenticated: authenticated.is_ok(),
        credential,
        status: 200,
        server_time_to_first_token_us: None,
        server_body_sent_us: None,
        completed: false,
        scenario: None,
        body: Value::Null,
    };
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err(Refused { rejection, scenario }) => {
            tracing::debug!(?rejection, %request_id, "fakecloud refused a request");
            record.scenario = scenario.map(|scenario| scenario.to_spec());
            record.status = rejection.status(provider);
            record.completed = true;
            record.body = body;
            state.log.push(record);
            let context = RejectionContext {
                request_id: &request_id,
                model: &reported_model,
            };
            return rejection.into_response(provider, &context);
        }
    };

    let Prepared {
        scenario,
        validated,
        replay,
    } = prepared;
    record.scenario = Some(scenario.to_spec());
    if let Some(response) = flood(&scenario) {
        record.body = body;
        record.completed = true;
        record.status = response.status().as_u16();
        state.log.push(record);
        return response;
    }
    let (source, content_type, split): (Box<dyn FrameSource>, &str, Option<usize>) = match replay {
        Some((fixture, kind)) => (
            Box::new(ReplaySource::new(
                pieces(&edited(fixture, kind, &scenario.edits), kind, scenario.split),
                &scenario,
                entry,
            )),
            kind.content_type(),
            // The replay pieces are already cut to size.
            None,
        ),
        None => {
            let plan = Plan::new(&scenario, validated.max_tokens);
            let context = EncoderContext {
                id_suffix,
                request_id: request_id.clone(),
                model: reported_model,
                input_tokens: validated.input_tokens,
                started: SystemTime::now(),
                redeployed: scenario.redeployed,
            };
            let (encoder, content_type) = encoder_for(endpoint, context, &validated, &plan);
            // OCI's native stream straddles reads: events cut across writes unless the
            // scenario cuts them itself.
            let split = match endpoint {
                Endpoint::OciNative => scenario.split.or(Some(OCI_WRITE_BYTES)),
                _ => scenario.split,
            };
            (
                Box::new(GeneratedSource::new(plan, encoder, entry)),
                content_type,
                split,
            )
        }
    };
    record.body = body;
    let handle = state.log.push(record);
    let hold = scenario.hold.map(|duration| Hold {
        duration,
        keep_alive: scenario
            .keep_alive
            .zip(keep_alive_bytes(content_type))
            .map(|(every, bytes)| (every, Bytes::from_static(bytes))),
    });
    let driver = BodyDriver::new(source, split, entry, handle, state.shutdown.clone(), hold);

    let mut response_headers = headers::provider_headers(provider, &request_id, false);
    headers::insert(&mut response_headers, "content-type", content_type);
    if content_type == headers::EVENT_STREAM && provider != Provider::Gemini && provider != Provider::Vertex {
        headers::insert(&mut response_headers, "cache-control", "no-cache");
    }
    match endpoint {
        Endpoint::BedrockInvoke => {
            headers::insert(&mut response_headers, "x-amzn-bedrock-content-type", "application/json");
        }
        // Google's front end reports its own time to the response headers.
        Endpoint::GeminiGenerate => {
            let millis = entry.elapsed().as_millis();
            headers::insert(&mut response_headers, "server-timing", format!("gfet4t7; dur={millis}"));
        }
        _ => {}
    }
    let mut response = Response::new(Body::from_stream(driver.into_stream()));
    *response.headers_mut() = response_headers;
    response
}

/// What a server sends to keep an idle stream of this content type alive: an SSE comment, a
/// blank NDJSON line; AWS event streams have no keep-alive.
fn keep_alive_bytes(content_type: &str) -> Option<&'static [u8]> {
    match content_type {
        headers::EVENT_STREAM => Some(b": ping\n\n"),
        headers::NDJSON => Some(b"\n"),
        _ => None,
    }
}

/// The body of the flood failures: `mebibytes` MiB of one byte, sent as it is generated (never
/// held whole here either).
fn flood(scenario: &Scenario) -> Option<Response> {
    const PIECE: usize = 64 << 10;
    let (status, byte, content_type, mebibytes) = match scenario.failure {
        Some(Failure::FloodNoNewline { mebibytes }) => (200, b'x', headers::EVENT_STREAM, mebibytes),
        Some(Failure::FloodErrorBody { mebibytes }) => (500, b'E', "text/plain", mebibytes),
        _ => return None,
    };
    let piece = Bytes::from(vec![byte; PIECE]);
    let pieces = (mebibytes << 20) / PIECE;
    let body = futures_util::stream::iter((0..pieces).map(move |_| Ok::<_, std::io::Error>(piece.clone())));
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK);
    headers::insert(response.headers_mut(), "content-type", content_type);
    Some(response)
}

fn encoder_for(
    endpoint: Endpoint,
    context: EncoderContext,
    validated: &Validated,
    plan: &Plan,
) -> (Box<dyn WireEncoder>, &'static str) {
    let planned_tokens = plan.tokens.len();
    let ending = match plan.ending {
        Ending::Finish(reason) => Some(reason),
        _ => None,
    };
    match endpoint {
        Endpoint::OpenAiChat | Endpoint::MantleChat | Endpoint::OciChat => (
            Box::new(ChatEncoder::new(
                ChatFlavour::OpenAi,
                context,
                validated.include_usage,
                planned_tokens,
            )),
            headers::EVENT_STREAM,
        ),
        Endpoint::AzureClassicChat | Endpoint::AzureV1Chat => (
            Box::new(ChatEncoder::new(
                ChatFlavour::Azure,
                context,
                validated.include_usage,
                planned_tokens,
            )),
            headers::EVENT_STREAM,
        ),
        Endpoint::OpenAiResponses | Endpoint::AzureV1Responses | Endpoint::MantleResponses | Endpoint::OciResponses => {
            (
                Box::new(ResponsesEncoder::new(context, validated.echoed.clone())),
                headers::EVENT_STREAM,
            )
        }
        Endpoint::AnthropicMessages | Endpoint::MantleMessages => {
            (Box::new(AnthropicEncoder::new(context)), headers::EVENT_STREAM)
        }
        Endpoint::OllamaChat => (Box::new(OllamaEncoder::new(context)), headers::NDJSON),
        Endpoint::BedrockConverse => (Box::new(ConverseEncoder::new(context)), event_stream::CONTENT_TYPE),
        Endpoint::BedrockInvoke => match validated.invoke_family {
            Some(InvokeFamily::Llama) => (Box::new(InvokeLlamaEncoder::new(context)), event_stream::CONTENT_TYPE),
            Some(InvokeFamily::Anthropic) | None => (
                Box::new(InvokeAnthropicEncoder::new(context)),
                event_stream::CONTENT_TYPE,
            ),
        },
        Endpoint::GeminiGenerate => (
            Box::new(GeminiEncoder::new(
                GeminiFlavour::AiStudio,
                context,
                planned_tokens,
                ending,
            )),
            headers::EVENT_STREAM,
        ),
        Endpoint::VertexGenerate => (
            Box::new(GeminiEncoder::new(
                GeminiFlavour::Vertex,
                context,
                planned_tokens,
                ending,
            )),
            headers::EVENT_STREAM,
        ),
        Endpoint::VertexAnthropic => (
            Box::new(AnthropicEncoder::with_message_id_prefix(context, "msg_vrtx_")),
            headers::EVENT_STREAM,
        ),
        Endpoint::OciNative => (
            Box::new(OciEncoder::new(
                validated.oci_format.unwrap_or(crate::wire::oci::OciFormat::Generic),
                context,
                validated.include_usage,
                validated.prompt.clone(),
            )),
            headers::EVENT_STREAM,
        ),
    }
}

/// Everything after auth; see the module comment for the order.
async fn prepare(state: &ServerState, incoming: &Incoming<'_>) -> Result<Prepared, Refused> {
    let provider = incoming.endpoint.provider();
    check_version(incoming)?;
    if let Some(error) = incoming.parse_error {
        return Err(Refused::from(Rejection::Invalid(match provider {
            Provider::OpenAi | Provider::Azure => validate::openai::malformed(),
            Provider::Anthropic | Provider::VertexAnthropic => validate::anthropic::malformed(error),
            Provider::Ollama => validate::ollama::malformed(error),
            Provider::Bedrock => validate::bedrock::malformed_json(),
            Provider::Gemini | Provider::Vertex => validate::gemini::malformed(error),
            Provider::Oci => validate::oci::malformed(error),
        })));
    }
    let (scenario, scenario_key) = select_scenario(state, incoming)?;
    let validated = match incoming.endpoint {
        Endpoint::OpenAiChat | Endpoint::AzureV1Chat | Endpoint::MantleChat | Endpoint::OciChat => {
            validate::openai::chat_completions(incoming.body, true)
        }
        Endpoint::AzureClassicChat => validate::openai::chat_completions(incoming.body, false),
        Endpoint::OpenAiResponses | Endpoint::AzureV1Responses | Endpoint::MantleResponses | Endpoint::OciResponses => {
            validate::openai::responses(incoming.body)
        }
        Endpoint::OciNative => validate::oci::chat(incoming.body).map(|(mut validated, format)| {
            validated.oci_format = Some(format);
            validated
        }),
        Endpoint::AnthropicMessages | Endpoint::MantleMessages => validate::anthropic::messages(incoming.body),
        Endpoint::OllamaChat => validate::ollama::chat(incoming.body),
        Endpoint::BedrockConverse => validate::bedrock::converse(incoming.body),
        Endpoint::BedrockInvoke => validate::bedrock::invoke(incoming.body, incoming.model),
        Endpoint::GeminiGenerate | Endpoint::VertexGenerate => validate::gemini::generate(incoming.body),
        Endpoint::VertexAnthropic => validate::anthropic::vertex_messages(incoming.body),
    }
    .map_err(Rejection::Invalid)?;
    let scenario = draw(state, scenario, &scenario_key, &validated.prompt);
    if let Some(rejection) = scheduled_failure(state, &scenario, &scenario_key, incoming) {
        return Err(Refused {
            rejection,
            scenario: Some(scenario),
        });
    }
    let replay = match &scenario.replay {
        Some(name) => match read_fixture(state, name).await {
            Ok(fixture) => Some(fixture),
            Err(rejection) => {
                return Err(Refused {
                    rejection,
                    scenario: Some(scenario),
                });
            }
        },
        None => None,
    };
    Ok(Prepared {
        scenario,
        validated,
        replay,
    })
}

/// Azure classic needs `?api-version=`; Anthropic needs `anthropic-version`;
/// Gemini streams only as SSE (`?alt=sse`).
fn check_version(incoming: &Incoming<'_>) -> Result<(), Rejection> {
    match incoming.endpoint {
        Endpoint::GeminiGenerate | Endpoint::VertexGenerate => {
            if query_value(incoming.uri, "alt") == Some("sse") {
                Ok(())
            } else {
                Err(Rejection::Invalid(Invalid::new(
                    "fakecloud streams :streamGenerateContent as Server-Sent Events only: add ?alt=sse (without it Google streams one JSON array).",
                )))
            }
        }
        Endpoint::AzureClassicChat => {
            let has_version = incoming.uri.query().is_some_and(|query| {
                query.split('&').any(|pair| {
                    pair.split_once('=')
                        .is_some_and(|(key, value)| key == "api-version" && !value.is_empty())
                })
            });
            if has_version {
                Ok(())
            } else {
                Err(Rejection::MissingApiVersion)
            }
        }
        Endpoint::AnthropicMessages => match incoming.headers.get("anthropic-version") {
            None => Err(Rejection::MissingApiVersion),
            Some(value) => {
                let version = value.to_str().unwrap_or_default().trim();
                if ANTHROPIC_VERSIONS.contains(&version) {
                    Ok(())
                } else {
                    Err(Rejection::Invalid(Invalid::new(format!(
                        "anthropic-version: \"{version}\" is not a valid version"
                    ))))
                }
            }
        },
        _ => Ok(()),
    }
}

/// Highest precedence first: the scenario header, a `NAME~SPEC` model, a
/// scenario registered for the exact model name, the default. Returns the
/// scenario and its key for failure counting (the model as requested plus
/// the header spec).
fn select_scenario(state: &ServerState, incoming: &Incoming<'_>) -> Result<(Scenario, String), Rejection> {
    let header_spec = match incoming.headers.get(SCENARIO_HEADER) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| Rejection::Invalid(Invalid::new(format!("{SCENARIO_HEADER} must be ASCII"))))?,
        ),
    };
    let model_spec = incoming.model.split_once('~').map(|(_, spec)| spec);
    let spec_error = |source: &str, error: crate::scenario::SpecError| {
        Rejection::Invalid(Invalid {
            message: format!("{error} (from {source})"),
            param: Some(source.to_owned()),
            code: Some("invalid_value"),
        })
    };
    let scenario = if let Some(spec) = header_spec {
        parse_spec(spec).map_err(|error| spec_error(SCENARIO_HEADER, error))?
    } else if let Some(spec) = model_spec {
        parse_spec(spec).map_err(|error| spec_error("model", error))?
    } else if let Some(scenario) = state.scenarios.get(incoming.model) {
        scenario.clone()
    } else {
        state.default_scenario.clone()
    };
    let key = format!("{}\u{0}{}", incoming.model, header_spec.unwrap_or_default());
    Ok((scenario, key))
}

/// The fixed scenario this request gets ([`Scenario::for_request`]): scenarios that vary
/// number their requests per key, so a fresh server given the same requests draws the same.
fn draw(state: &ServerState, scenario: Scenario, key: &str, prompt: &str) -> Scenario {
    let varies = !scenario.variation.is_empty();
    if !varies && scenario.answer == Answer::Fixed {
        return scenario;
    }
    let request = if varies {
        let mut counts = state.draw_counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(key.to_owned()).or_insert(0);
        *count += 1;
        *count - 1
    } else {
        0
    };
    scenario.for_request(key, request, prompt)
}

/// The pre-stream failure the scenario calls for on this request, if any.
/// Counted failures (`fail=429x1`) tick per scenario key.
fn scheduled_failure(
    state: &ServerState,
    scenario: &Scenario,
    key: &str,
    incoming: &Incoming<'_>,
) -> Option<Rejection> {
    let provider = incoming.endpoint.provider();
    match scenario.failure.as_ref()? {
        Failure::Status {
            status,
            times,
            retry_after,
        } => {
            if let Some(times) = times {
                let mut counts = state.failure_counts.lock().unwrap_or_else(PoisonError::into_inner);
                let served = counts.entry(key.to_owned()).or_insert(0);
                if *served >= *times {
                    return None;
                }
                *served += 1;
            }
            let retry_after = *retry_after;
            let presented = Presented {
                uri: incoming.uri,
                headers: incoming.headers,
                body: &[],
            };
            Some(match (status, provider) {
                (401, Provider::Oci) => Rejection::Unauthorized(AuthFailure::Missing),
                // AWS has no 401: an unknown credential is a 403.
                (401, Provider::Bedrock) => {
                    Rejection::Unauthorized(AuthFailure::Signature(SignatureFailure::UnrecognizedClient))
                }
                // Google's 401 is UNAUTHENTICATED, whatever the key.
                (401, Provider::Gemini | Provider::Vertex | Provider::VertexAnthropic) => Rejection::Status {
                    status: 401,
                    retry_after,
                },
                (401, _) => Rejection::Unauthorized(
                    presented_key(provider, &presented).map_or(AuthFailure::Missing, AuthFailure::Wrong),
                ),
                (429, _) => Rejection::RateLimited { retry_after },
                (400, _) => Rejection::Invalid(Invalid::new("fakecloud scenario: simulated bad request")),
                (status, _) => Rejection::Status {
                    status: *status,
                    retry_after,
                },
            })
        }
        Failure::Quota => Some(Rejection::Quota),
        // These clouds report the block inside the stream (see `Plan`).
        Failure::ContentFilter if incoming.endpoint.blocks_prompts_in_stream() => None,
        Failure::ContentFilter => Some(Rejection::ContentFilter),
        _ => None,
    }
}

async fn read_fixture(state: &ServerState, name: &str) -> Result<(Bytes, FixtureKind), Rejection> {
    let missing = |detail: String| Rejection::Invalid(Invalid::new(format!("fakecloud replay: {detail}")));
    // parse_spec already refuses these; a registered Scenario may not have.
    if crate::scenario::fixture_name_escapes(name) {
        return Err(missing(format!(
            "fixture name `{name}` is not a file in the fixtures directory or a subfolder of it"
        )));
    }
    let Some(directory) = &state.fixtures_dir else {
        return Err(missing(
            "no fixtures directory (set Config.fixtures_dir or FAKECLOUD_FIXTURES)".to_owned(),
        ));
    };
    let path = directory.join(name);
    let display = path.display().to_string();
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
        .await
        .map_err(|error| missing(format!("reading `{display}` failed: {error}")))?
        .map_err(|error| missing(format!("cannot read `{display}`: {error}")))?;
    let bytes = fixture_body(name, bytes).map_err(missing)?;
    Ok((Bytes::from(bytes), FixtureKind::from_name(name)))
}
