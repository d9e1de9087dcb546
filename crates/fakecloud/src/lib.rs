//! fakecloud: local servers that speak the streaming wire formats of OpenAI
//! (Chat Completions and Responses), Azure OpenAI (classic deployments and
//! v1 paths), Anthropic Messages, Ollama `/api/chat`, AWS Bedrock Runtime
//! (ConverseStream and InvokeModelWithResponseStream, as AWS event-stream
//! frames), the Gemini API, Vertex AI (Gemini and Claude) and OCI Generative
//! AI (native GENERIC and COHERE streams, and its OpenAI-compatible surface),
//! for tests, benches and demos.
//!
//! It checks auth and body shape like each real service (Bedrock requests
//! must carry a valid SigV4 signature for [`FAKE_AWS_ACCESS_KEY_ID`], or a
//! Bedrock API key; OCI requests an OCI HTTP signature for
//! [`FAKE_OCI_KEY_ID`] or an OCI API key), then streams text on a scripted schedule
//! ([`Scenario`]): delays, slow chunks, byte-level splits, rate limits,
//! mid-stream errors, cut connections, or a recorded body replayed verbatim.
//! A scenario may vary per request from a seeded generator ([`Variation`]:
//! latency distributions, an error rate, answer variants) or echo the prompt
//! ([`Answer::Echo`]). Every request is logged ([`RequestRecord`]), with the
//! scenario it drew.
//!
//! fakecloud only *encodes*. It shares no code with the engine's decoders on
//! purpose: a bug shared by both would pass every test.
//!
//! Routes (all `POST` unless noted): `/v1/chat/completions`, `/v1/responses`,
//! `/openai/deployments/{deployment}/chat/completions?api-version=…`,
//! `/openai/v1/chat/completions`, `/openai/v1/responses`, `/v1/messages`,
//! `/api/chat`, `/model/{modelId}/converse-stream`,
//! `/model/{modelId}/invoke-with-response-stream`,
//! `/v1beta/models/{model}:streamGenerateContent?alt=sse` (also `/v1/models/…`),
//! `/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:streamGenerateContent?alt=sse`,
//! `/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:streamRawPredict`
//! (Vertex also under `/v1beta1/`), `/20231130/actions/chat` (OCI Generative AI's native chat;
//! its OpenAI-compatible surface shares `/openai/v1/…`), Entra ID's `/{tenant}/oauth2/v2.0/token`
//! (see [`Entra`]), `GET /_fakecloud/requests`, `GET /_fakecloud/health`.
//!
//! With [`Config::https`] the same routes are also served over TLS on a second
//! port, with a test certificate for 127.0.0.1 issued by [`TEST_CA_PEM`]:
//! for clients that accept only `https` (Microsoft's Entra libraries refuse
//! an `http` authority host).

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

mod tls;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

mod clock;
mod json;
mod scenario;
mod server;
mod stream;
mod text;
mod wire;

pub use scenario::{
    Answer, Distribution, ECHO_PREFIX, ErrorRate, Failure, LineEnding, ReplayEdits, Scenario, SpecError, Variation,
    apply_spec, parse_spec,
};
pub use server::request_log::RequestRecord;
pub use text::tokens_for;

/// The header that selects a scenario for one request.
pub const SCENARIO_HEADER: &str = server::SCENARIO_HEADER;

/// The AWS access key id fakecloud's Bedrock routes accept by default.
pub const FAKE_AWS_ACCESS_KEY_ID: &str = "AKIDFAKECLOUDTEST001";
/// The secret that default key signs with. Not a real credential.
pub const FAKE_AWS_SECRET_ACCESS_KEY: &str = "fakecloud+Secret/Access/Key/0000000000000";

/// The certificate authority that issued fakecloud's HTTPS certificate, in PEM. Trusted
/// nowhere but in tests that point a client at it (`SSL_CERT_FILE`).
pub const TEST_CA_PEM: &str = include_str!("../tls/ca.pem");
/// The OCI Generative AI API key fakecloud accepts by default. It differs from the other
/// fake keys: OCI shares `/openai/v1/…` with Azure and Bedrock Mantle, and a Bearer request is
/// OCI's when it carries this key.
pub const FAKE_OCI_API_KEY: &str = "fake-oci-genai-key";

/// The key id OCI requests are signed with by default: `tenancy/user/fingerprint`, the
/// fingerprint being the MD5 of [`FAKE_OCI_PUBLIC_KEY_PEM`]'s DER, as OCI computes it.
pub const FAKE_OCI_KEY_ID: &str =
    "ocid1.tenancy.oc1..fakecloudtenancy/ocid1.user.oc1..fakeclouduser/50:3d:6a:8e:2c:95:b5:36:89:5b:25:96:f7:ab:81:53";
/// A throwaway RSA private key (PKCS#1, as `oci setup config` writes them) that signs for
/// [`FAKE_OCI_KEY_ID`]. Not a real credential.
pub const FAKE_OCI_PRIVATE_KEY_PEM: &str = include_str!("../keys/oci_throwaway_key.pem");
/// The same key as PKCS#8 (`BEGIN PRIVATE KEY`, as the OCI console's download is).
pub const FAKE_OCI_PRIVATE_KEY_PKCS8_PEM: &str = include_str!("../keys/oci_throwaway_key.pkcs8.pem");
/// Its public half, which fakecloud verifies OCI signatures with by default.
pub const FAKE_OCI_PUBLIC_KEY_PEM: &str = include_str!("../keys/oci_throwaway_key.pub.pem");

/// A throwaway client certificate for Entra ID's client-assertion sign-in: the certificate
/// [`Entra::client_certificate_pem`] takes. Not a real credential.
pub const FAKE_ENTRA_CLIENT_CERTIFICATE_PEM: &str = include_str!("../keys/entra_throwaway_client.crt");
/// Its private key (PKCS#8), which signs the assertions. Not a real credential.
pub const FAKE_ENTRA_CLIENT_KEY_PEM: &str = include_str!("../keys/entra_throwaway_client.key");

/// How a [`FakeCloud`] is set up.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    pub keys: Keys,
    /// Where `replay=` fixtures live. When `None`: `$FAKECLOUD_FIXTURES`,
    /// else the first `shared/fixtures/streams` found walking up from the
    /// current directory, then from this crate's directory.
    pub fixtures_dir: Option<PathBuf>,
    /// Scenarios for exact model (or Azure deployment) names.
    pub scenarios: HashMap<String, Scenario>,
    /// The scenario for requests nothing else selects.
    pub default_scenario: Scenario,
    /// Also serve every route over HTTPS on another free port
    /// ([`FakeCloud::https_base_url`]).
    pub https: bool,
    /// How many seconds fakecloud's clock runs ahead of the machine's (negative: behind), for
    /// the clouds that check a signature's date: a client whose clock is off, seen from here.
    pub clock_skew_seconds: i64,
}

/// The credentials each cloud accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    /// `Authorization: Bearer` on the OpenAI routes.
    pub openai: String,
    /// `api-key` or `Authorization: Bearer` on the Azure routes.
    pub azure: String,
    /// `x-api-key` on `/v1/messages`.
    pub anthropic: String,
    /// `None`: Ollama needs no key, as a local Ollama does.
    pub ollama: Option<String>,
    /// The access key id Bedrock requests must be SigV4-signed with.
    pub aws_access_key_id: String,
    /// The secret fakecloud recomputes each Bedrock signature with.
    pub aws_secret_access_key: String,
    /// When set, Bedrock requests must carry this `x-amz-security-token`
    /// (temporary credentials); when `None`, they must carry none.
    pub aws_session_token: Option<String>,
    /// A Bedrock API key, accepted as `Authorization: Bearer` instead of a
    /// signature.
    pub bedrock_api_key: String,
    /// `x-goog-api-key` (or `?key=`) on the Gemini API routes.
    pub gemini: String,
    /// The OAuth access token (`Authorization: Bearer`) on the Vertex routes.
    pub vertex: String,
    /// When set, the Azure routes take only Entra ID tokens this server
    /// issued (an `api-key` is refused), and its token endpoint grants them.
    pub entra: Option<Entra>,
    /// An OCI Generative AI API key (`Authorization: Bearer`), accepted on OCI's
    /// OpenAI-compatible routes instead of a signature.
    pub oci_api_key: String,
    /// The `keyId` OCI signatures must name (`tenancy/user/fingerprint`, or `ST$token`).
    pub oci_key_id: String,
    /// The public key (a `BEGIN PUBLIC KEY` PEM) fakecloud verifies OCI signatures with.
    pub oci_public_key_pem: String,
}

/// A service principal Entra ID knows: `POST /{tenant}/oauth2/v2.0/token`
/// grants it tokens for the Azure AI services scopes
/// (`https://cognitiveservices.azure.com/.default`,
/// `https://ai.azure.com/.default`) with the client-credentials grant,
/// proven by its client secret or by a client assertion (a JWT) signed with
/// its certificate's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entra {
    pub tenant: String,
    pub client_id: String,
    pub client_secret: String,
    /// The certificate (PEM) registered for the client: an assertion must
    /// name it by thumbprint (`x5t`) and verify with its public key. `None`:
    /// assertions are refused.
    pub client_certificate_pem: Option<String>,
    /// The `expires_in` of each token, in seconds; the Azure routes refuse
    /// a token after that.
    pub expires_in: u64,
}

impl Default for Keys {
    fn default() -> Self {
        Self {
            openai: "fake-key".to_owned(),
            azure: "fake-key".to_owned(),
            anthropic: "fake-key".to_owned(),
            ollama: None,
            aws_access_key_id: FAKE_AWS_ACCESS_KEY_ID.to_owned(),
            aws_secret_access_key: FAKE_AWS_SECRET_ACCESS_KEY.to_owned(),
            aws_session_token: None,
            bedrock_api_key: "fake-key".to_owned(),
            gemini: "fake-key".to_owned(),
            vertex: "fake-key".to_owned(),
            entra: None,
            oci_api_key: FAKE_OCI_API_KEY.to_owned(),
            oci_key_id: FAKE_OCI_KEY_ID.to_owned(),
            oci_public_key_pem: FAKE_OCI_PUBLIC_KEY_PEM.to_owned(),
        }
    }
}

/// How long [`FakeCloud::shutdown`] lets in-flight streams run before it
/// cuts them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// A running fake cloud on 127.0.0.1. Dropping it stops the server and cuts
/// any streams still running, so tests never leak servers.
pub struct FakeCloud {
    address: SocketAddr,
    https_address: Option<SocketAddr>,
    state: Arc<server::ServerState>,
    graceful: Option<oneshot::Sender<()>>,
    abort_streams: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl FakeCloud {
    /// Binds 127.0.0.1 on `config.port` and starts serving in the background.
    pub async fn start(config: Config) -> io::Result<FakeCloud> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port)).await?;
        let address = listener.local_addr()?;
        let https_listener = match config.https {
            true => Some(TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?),
            false => None,
        };
        let https_address = https_listener.as_ref().map(TcpListener::local_addr).transpose()?;
        let (abort_streams, abort_receiver) = watch::channel(false);
        let state = Arc::new(server::ServerState::new(config, abort_receiver.clone()));
        let router = server::router(Arc::clone(&state));
        if let Some(https_listener) = https_listener {
            tokio::spawn(tls::serve(https_listener, router.clone(), abort_receiver)?);
        }
        let (graceful, graceful_receiver) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                // A dropped sender also means "stop".
                let _ = graceful_receiver.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!(%error, "fakecloud server stopped with an error");
            }
        });
        tracing::debug!(%address, "fakecloud listening");
        Ok(FakeCloud {
            address,
            https_address,
            state,
            graceful: Some(graceful),
            abort_streams,
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.address
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// `https://127.0.0.1:PORT` when [`Config::https`] is set: the same routes over TLS, with a
    /// certificate [`TEST_CA_PEM`] issued.
    pub fn https_base_url(&self) -> Option<String> {
        self.https_address.map(|address| format!("https://{address}"))
    }

    /// A snapshot of every request answered so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.log.snapshot()
    }

    /// Stops accepting connections, lets in-flight streams finish for up to
    /// a second, then cuts whatever is left.
    pub async fn shutdown(mut self) {
        if let Some(graceful) = self.graceful.take() {
            let _ = graceful.send(());
        }
        let Some(mut task) = self.task.take() else {
            return;
        };
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_ok() {
            return;
        }
        let _ = self.abort_streams.send(true);
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_err() {
            task.abort();
        }
    }
}

impl Drop for FakeCloud {
    fn drop(&mut self) {
        if let Some(graceful) = self.graceful.take() {
            let _ = graceful.send(());
        }
        let _ = self.abort_streams.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl std::fmt::Debug for FakeCloud {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("FakeCloud")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}
