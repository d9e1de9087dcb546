//! Azure targets with `auth = "entra"` through the `modelbench` binary: the token comes from
//! Microsoft's own credentials (`azure_identity`), signing in as a service principal at
//! fakecloud's Entra token endpoint (`AZURE_AUTHORITY_HOST`, over HTTPS with fakecloud's test CA
//! in `SSL_CERT_FILE`), and fakecloud's Azure routes take only the tokens it issued. Without any
//! Entra login the target fails alone, naming every credential tried, and the other target of
//! the run completes. The client secret and the tokens reach no file, output, log or export.
//!
//! Managed identity is pointed at fakecloud (`IDENTITY_ENDPOINT`, App Service's variable, which
//! it does not serve) so no test sends anything to the instance metadata address, and `PATH`
//! holds no `az`, so a developer's own Azure CLI login is never used.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use fakecloud::{
    Config, Entra, FAKE_ENTRA_CLIENT_CERTIFICATE_PEM, FAKE_ENTRA_CLIENT_KEY_PEM, FAKE_OCI_PRIVATE_KEY_PEM, FakeCloud,
    Keys, RequestRecord, TEST_CA_PEM,
};
use modelbench_e2e::{contains, files_under, modelbench, modelbench_binary};
use modelbench_engine::store::Store;
use modelbench_engine::target::{AzureAuth, targets_to_toml};
use modelbench_engine::{ErrorKind, ProviderKind, ResponseRecord, Target};
use serde_json::Value;

const TENANT: &str = "modelbench-test-tenant";
const CLIENT_ID: &str = "modelbench-test-app";
/// What every token fakecloud issues starts with.
const TOKEN_PREFIX: &str = "eyFakeEntraToken";
/// What every client assertion starts with: `{"alg":"RS256",` in base64url.
const ASSERTION_PREFIX: &str = "eyJhbGciOiJSUzI1NiIs";

fn client_secret() -> String {
    format!("entra-e2e-secret~{}-never-stored", std::process::id())
}

async fn entra_cloud(expires_in: u64) -> FakeCloud {
    entra_cloud_with(expires_in, Some(FAKE_ENTRA_CLIENT_CERTIFICATE_PEM)).await
}

/// fakecloud's Entra with the service principal's certificate registered, or none.
async fn entra_cloud_with(expires_in: u64, certificate: Option<&str>) -> FakeCloud {
    FakeCloud::start(entra_config(expires_in, certificate))
        .await
        .expect("fakecloud starts")
}

/// fakecloud with Entra on (the Azure routes take only its tokens) and its HTTPS listener.
pub(crate) fn entra_config(expires_in: u64, certificate: Option<&str>) -> Config {
    Config {
        keys: Keys {
            entra: Some(Entra {
                tenant: TENANT.to_owned(),
                client_id: CLIENT_ID.to_owned(),
                client_secret: client_secret(),
                client_certificate_pem: certificate.map(str::to_owned),
                expires_in,
            }),
            ..Keys::default()
        },
        https: true,
        ..Config::default()
    }
}

/// The Azure target under test, and an OpenAI target beside it.
fn targets(base_url: &str) -> Vec<Target> {
    let mut azure = Target::new("azure-entra", ProviderKind::Azure, "gpt54~tokens=12;ttft_ms=5");
    azure.base_url = Some(base_url.to_owned());
    azure.auth = Some(AzureAuth::Entra);
    let mut openai = Target::new("openai-key", ProviderKind::OpenAi, "gpt-5.4~tokens=8");
    openai.base_url = Some(format!("{base_url}/v1"));
    vec![azure, openai]
}

/// One CLI run (`--repeat 2`, one request at a time) with `login` as the Entra environment.
/// Returns the stored responses by target and every process output, for the secret scan.
fn run(cloud: &FakeCloud, data_dir: &Path, login: &[(&str, &str)]) -> (Vec<ResponseRecord>, Vec<Output>) {
    let options = ["--repeat", "2", "--concurrency", "1"];
    run_cli(cloud, data_dir, &targets(&cloud.base_url()), &options, "Say OK", login)
}

/// `modelbench run` of `targets` with `options` and `prompt`, signing in to fakecloud's Entra
/// with `login` (and nothing else: no managed identity, no Azure CLI). Returns the stored
/// responses and the outputs of the run and of its export in every format.
pub(crate) fn run_cli(
    cloud: &FakeCloud,
    data_dir: &Path,
    targets: &[Target],
    options: &[&str],
    prompt: &str,
    login: &[(&str, &str)],
) -> (Vec<ResponseRecord>, Vec<Output>) {
    let targets_file = data_dir.join("targets.toml");
    std::fs::write(&targets_file, targets_to_toml(targets)).expect("write targets");
    let mut arguments = vec!["run", "--targets", targets_file.to_str().expect("utf8")];
    arguments.extend_from_slice(options);
    arguments.extend(["--json", prompt]);
    let output = modelbench_with_entra(cloud, data_dir, &arguments, login);
    let document: Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    let run_id = document["run_id"].as_str().expect("run id").to_owned();
    let store = Store::open(&data_dir.join("modelbench.db")).expect("store");
    let stored = store
        .load_run(run_id.parse().expect("uuid"))
        .expect("load")
        .expect("run");
    let mut outputs = vec![output];
    for format in ["json", "md", "html", "csv"] {
        let export = modelbench(data_dir, &["export", &run_id, "--format", format], &[], None);
        assert!(
            export.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&export.stderr)
        );
        outputs.push(export);
    }
    (stored.responses, outputs)
}

/// `modelbench` with `arguments`, which must succeed, signing in to fakecloud's Entra with
/// `login` only: its token endpoint over HTTPS (its test CA trusted), managed identity pointed
/// at fakecloud (which does not serve it), no Azure CLI on `PATH`.
pub(crate) fn modelbench_with_entra(
    cloud: &FakeCloud,
    data_dir: &Path,
    arguments: &[&str],
    login: &[(&str, &str)],
) -> Output {
    let https = cloud.https_base_url().expect("https listener");
    let certificate_file = data_dir.join("fakecloud-ca.pem");
    std::fs::create_dir_all(data_dir).expect("data dir");
    std::fs::write(&certificate_file, TEST_CA_PEM).expect("write CA");
    let managed_identity = format!("{}/msi/token", cloud.base_url());
    let mut env: Vec<(&str, &str)> = vec![
        ("OPENAI_API_KEY", "fake-key"),
        ("AZURE_AUTHORITY_HOST", &https),
        ("SSL_CERT_FILE", certificate_file.to_str().expect("utf8")),
        ("IDENTITY_ENDPOINT", &managed_identity),
        ("IDENTITY_HEADER", "fakecloud-identity-header"),
        ("PATH", "/nonexistent/modelbench-test/bin"),
        ("MODELBENCH_LOG", "debug"),
    ];
    env.extend_from_slice(login);
    let output = modelbench(data_dir, arguments, &env, None);
    assert!(
        output.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// [`run`] off the async runtime, in a fresh data dir (returned, with the cloud, for the checks).
async fn run_in_new_data_dir(
    cloud: FakeCloud,
    login: Vec<(&'static str, String)>,
) -> (FakeCloud, tempfile::TempDir, Vec<ResponseRecord>, Vec<Output>) {
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().to_owned();
    let (cloud, (responses, outputs)) = tokio::task::spawn_blocking(move || {
        let result = run(&cloud, &data_dir, &borrowed(&login));
        (cloud, result)
    })
    .await
    .expect("cli task");
    (cloud, data, responses, outputs)
}

fn service_principal(secret: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AZURE_TENANT_ID", TENANT.to_owned()),
        ("AZURE_CLIENT_ID", CLIENT_ID.to_owned()),
        ("AZURE_CLIENT_SECRET", secret.to_owned()),
    ]
}

/// The certificate variables alone, the PEM file (`key` then the test certificate) written in
/// `directory` (outside the data dir, whose every byte the secret scan reads).
pub(crate) fn certificate_login(directory: &Path, key: &str) -> Vec<(&'static str, String)> {
    let path = directory.join("client.pem");
    std::fs::write(&path, format!("{key}{FAKE_ENTRA_CLIENT_CERTIFICATE_PEM}")).expect("write certificate");
    vec![
        ("AZURE_TENANT_ID", TENANT.to_owned()),
        ("AZURE_CLIENT_ID", CLIENT_ID.to_owned()),
        ("AZURE_CLIENT_CERTIFICATE_PATH", path.to_str().expect("utf8").to_owned()),
    ]
}

pub(crate) fn borrowed<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    pairs.iter().map(|(name, value)| (*name, value.as_str())).collect()
}

pub(crate) fn by_target<'a>(responses: &'a [ResponseRecord], target: &str) -> Vec<&'a ResponseRecord> {
    responses.iter().filter(|response| response.target == target).collect()
}

fn token_requests(requests: &[RequestRecord]) -> Vec<&RequestRecord> {
    requests.iter().filter(|request| request.provider == "entra").collect()
}

/// Neither the client secret, the certificate's private key, a client assertion nor any token
/// fakecloud issued is in the data dir (database, logs, exports written there) or in any output
/// (run, its debug log, every export format).
pub(crate) fn assert_no_secret(data_dir: &Path, outputs: &[Output]) {
    assert_none_of(data_dir, outputs, &[]);
}

/// As [`assert_no_secret`], and none of `others` either.
pub(crate) fn assert_none_of(data_dir: &Path, outputs: &[Output], others: &[String]) {
    let secret = client_secret();
    let key_line = FAKE_ENTRA_CLIENT_KEY_PEM.lines().nth(1).expect("a line of the key");
    let oci_key_line = FAKE_OCI_PRIVATE_KEY_PEM.lines().nth(1).expect("a line of the key");
    let needles = [secret.as_str(), TOKEN_PREFIX, ASSERTION_PREFIX, key_line, oci_key_line]
        .into_iter()
        .chain(others.iter().map(String::as_str));
    for needle in needles {
        for path in files_under(data_dir) {
            // SQLite removes its -wal and -shm files when the last connection closes; what they
            // held is in the database file by then.
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => panic!("{}: {error}", path.display()),
            };
            assert!(
                !contains(&bytes, needle.as_bytes()),
                "{needle} is in {}",
                path.display()
            );
        }
        for output in outputs {
            for bytes in [&output.stdout, &output.stderr] {
                assert!(
                    !contains(bytes, needle.as_bytes()),
                    "{needle} is in an output: {}",
                    String::from_utf8_lossy(bytes)
                );
            }
        }
    }
}

/// A service principal signs in with its secret; both answers stream; the Azure routes saw only
/// bearer tokens. Returns how many tokens were fetched for the two Azure requests.
async fn signs_in_and_streams(expires_in: u64) -> usize {
    signs_in_with_and_streams(expires_in, service_principal(&client_secret()), "client_secret").await
}

/// As [`signs_in_and_streams`], with `login` as the environment, proven to the token endpoint
/// with `proof` (`client_secret` or `client_assertion`).
async fn signs_in_with_and_streams(expires_in: u64, login: Vec<(&'static str, String)>, proof: &str) -> usize {
    let (cloud, data, responses, outputs) = run_in_new_data_dir(entra_cloud(expires_in).await, login).await;
    let azure = by_target(&responses, "azure-entra");
    assert_eq!(azure.len(), 2);
    for response in &azure {
        assert!(response.complete, "{:?}", response.error);
        assert!(!response.text.is_empty());
        assert_eq!(response.usage.output_tokens, Some(12));
    }
    for response in by_target(&responses, "openai-key") {
        assert!(response.complete, "{:?}", response.error);
    }
    let requests = cloud.requests();
    let azure_requests: Vec<&RequestRecord> = requests.iter().filter(|request| request.provider == "azure").collect();
    assert_eq!(azure_requests.len(), 2, "{requests:?}");
    for request in &azure_requests {
        assert!(request.authenticated, "{request:?}");
        assert_eq!(request.credential.as_deref(), Some("bearer"), "no api-key was sent");
    }
    let tokens = token_requests(&requests);
    for request in &tokens {
        assert_eq!(request.status, 200, "{request:?}");
        assert_eq!(request.path, format!("/{TENANT}/oauth2/v2.0/token"));
        assert_eq!(request.body["grant_type"], "client_credentials");
        assert_eq!(request.body["client_id"], CLIENT_ID);
        assert_eq!(request.body["scope"], "https://cognitiveservices.azure.com/.default");
        assert_eq!(request.credential.as_deref(), Some(proof));
    }
    assert_no_secret(data.path(), &outputs);
    tokens.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entra_target_streams_with_a_token_from_a_service_principal_cached_while_fresh() {
    // An hour-long token serves both requests.
    assert_eq!(signs_in_and_streams(3600).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_near_its_expiry_is_replaced_before_the_next_request() {
    // Four minutes is inside the five-minute refresh margin: each request gets a fresh token,
    // and fakecloud accepted each one (it refuses expired or unknown tokens).
    assert_eq!(signs_in_and_streams(240).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_entra_login_the_target_fails_alone_naming_what_was_tried() {
    let cloud = entra_cloud(3600).await;
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().to_owned();
    // Built first, so the clock below times the run, not the build.
    tokio::task::spawn_blocking(modelbench_binary).await.expect("binary");
    let started = Instant::now();
    let (cloud, (responses, outputs)) = tokio::task::spawn_blocking(move || {
        let result = run(&cloud, &data_dir, &[]);
        (cloud, result)
    })
    .await
    .expect("cli task");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "a missing login fails fast: {:?}",
        started.elapsed()
    );
    for response in by_target(&responses, "azure-entra") {
        let error = no_entra_credential(response);
        for cause in [
            "AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET not set",
            "AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_CERTIFICATE_PATH not set",
            "AZURE_FEDERATED_TOKEN_FILE not set",
            "az login",
        ] {
            assert!(error.message.contains(cause), "{cause:?} in {}", error.message);
        }
    }
    assert_eq!(by_target(&responses, "azure-entra").len(), 2);
    let openai = by_target(&responses, "openai-key");
    assert_eq!(openai.len(), 2);
    assert!(openai.iter().all(|response| response.complete), "{openai:?}");
    let requests = cloud.requests();
    assert!(
        requests.iter().all(|request| request.provider != "azure"),
        "nothing was sent to Azure without a token: {requests:?}"
    );
    assert!(token_requests(&requests).is_empty());
    assert_no_secret(data.path(), &outputs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_client_secret_is_the_cause_shown_and_never_the_secret() {
    let wrong = format!("{}-but-wrong", client_secret());
    let (cloud, data, responses, outputs) =
        run_in_new_data_dir(entra_cloud(3600).await, service_principal(&wrong)).await;
    for response in by_target(&responses, "azure-entra") {
        let error = response.error.as_ref().expect("an error");
        assert_eq!(error.kind, ErrorKind::Auth);
        assert!(
            error.message.contains("environment failed:") && error.message.contains("AADSTS7000215"),
            "{}",
            error.message
        );
        assert!(!error.message.contains("-but-wrong"), "{}", error.message);
    }
    assert!(
        token_requests(&cloud.requests())
            .iter()
            .all(|request| request.status == 401)
    );
    // The wrong secret extends the right one, so this scan covers both.
    assert_no_secret(data.path(), &outputs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entra_target_streams_with_a_client_certificate_alone() {
    let certificate = tempfile::tempdir().expect("tempdir");
    let login = certificate_login(certificate.path(), FAKE_ENTRA_CLIENT_KEY_PEM);
    // fakecloud granted the token only for an assertion signed with the certificate's key, for
    // its own URL, issued by the client; one token serves both requests.
    assert_eq!(signs_in_with_and_streams(3600, login, "client_assertion").await, 1);
}

/// The Azure target's failure: an auth error naming it and every credential tried.
fn no_entra_credential(response: &ResponseRecord) -> &modelbench_engine::error::ProviderError {
    assert!(!response.complete);
    let error = response.error.as_ref().expect("an error");
    assert_eq!(error.kind, ErrorKind::Auth);
    assert_eq!(error.target, "azure-entra");
    assert!(
        error.message.starts_with(
            "no Entra credential: tried environment, environment certificate, workload identity, managed \
             identity, Azure CLI"
        ),
        "{}",
        error.message
    );
    error
}

/// One run with the certificate variables for a key that is not the registered certificate's:
/// the Azure target fails alone with an auth error naming it and the cause, and no secret shows.
async fn a_certificate_refused(cloud: FakeCloud, key: &'static str) -> (Vec<ResponseRecord>, Vec<RequestRecord>) {
    let certificate = tempfile::tempdir().expect("tempdir");
    let login = certificate_login(certificate.path(), key);
    let (cloud, data, responses, outputs) = run_in_new_data_dir(cloud, login).await;
    let azure = by_target(&responses, "azure-entra");
    assert_eq!(azure.len(), 2);
    for response in &azure {
        let error = no_entra_credential(response);
        assert!(
            error.message.contains("Azure CLI. environment certificate failed: "),
            "{}",
            error.message
        );
    }
    assert!(
        by_target(&responses, "openai-key")
            .iter()
            .all(|response| response.complete)
    );
    assert!(cloud.requests().iter().all(|request| request.provider != "azure"));
    assert_no_secret(data.path(), &outputs);
    (responses, cloud.requests())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_whose_key_does_not_match_is_refused_naming_the_file() {
    let cloud = entra_cloud(3600).await;
    let (responses, requests) = a_certificate_refused(cloud, FAKE_OCI_PRIVATE_KEY_PEM).await;
    for response in by_target(&responses, "azure-entra") {
        let message = &response.error.as_ref().expect("an error").message;
        assert!(
            message.contains("the private key in AZURE_CLIENT_CERTIFICATE_PATH ")
                && message.contains("client.pem does not match its certificate"),
            "{message}"
        );
    }
    assert!(token_requests(&requests).is_empty(), "refused before any request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_the_app_does_not_have_is_refused_by_entra() {
    // Entra knows no certificate for the app: the assertion is well signed, but refused.
    let cloud = entra_cloud_with(3600, None).await;
    let (responses, requests) = a_certificate_refused(cloud, FAKE_ENTRA_CLIENT_KEY_PEM).await;
    for response in by_target(&responses, "azure-entra") {
        let message = &response.error.as_ref().expect("an error").message;
        assert!(message.contains("AADSTS700027"), "{message}");
    }
    let tokens = token_requests(&requests);
    assert!(!tokens.is_empty());
    for request in tokens {
        assert_eq!(request.status, 401);
        assert_eq!(request.credential.as_deref(), Some("client_assertion"));
    }
}
