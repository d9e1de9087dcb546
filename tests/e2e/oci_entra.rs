//! The "done when" in one `modelbench run`: OCI targets on both surfaces (native GENERIC
//! and COHERE, OpenAI-compatible Chat and Responses) beside an Azure target with
//! `auth = "entra"` signing in with a client certificate, all against one fakecloud whose clock
//! is off. Four minutes off, every signed request (OCI signatures, the Entra client assertion)
//! is accepted; six minutes off, the OCI-signed targets fail as auth errors naming the target,
//! while the OCI API-key target and the Entra Azure target complete (an assertion is valid for
//! ten minutes, and Entra allows five of skew).
//!
//! A session with OCI's `openai.gpt-5.5` and an Azure `gpt-5.5` deployment compares the two in
//! one parity group.
//!
//! The helpers are those of `oci.rs` (targets, the expected answers and costs, the OCI config
//! file) and `entra.rs` (fakecloud's Entra, the CLI run, the secret scan).

use std::path::Path;
use std::process::Output;

use fakecloud::{
    Config, FAKE_ENTRA_CLIENT_CERTIFICATE_PEM, FAKE_ENTRA_CLIENT_KEY_PEM, FAKE_OCI_API_KEY, FakeCloud, tokens_for,
};
use modelbench_engine::target::{AzureAuth, targets_to_toml};
use modelbench_engine::{ErrorKind, ProviderKind, ResponseRecord, Target};

use crate::entra::{
    assert_none_of, borrowed, by_target, certificate_login, entra_config, modelbench_with_entra, run_cli,
};
use crate::oci::{PROMPT, SPEC, check_oci_answers, credentials_presented, oci_targets, secrets, write_oci_config};

const AZURE: &str = "azure-entra gpt-5.5";

/// The OCI targets and an Azure deployment of the same base model, signing in with Entra.
fn targets(base_url: &str) -> Vec<Target> {
    let mut azure = Target::new(AZURE, ProviderKind::Azure, "gpt-5.5");
    azure.base_url = Some(base_url.to_owned());
    azure.auth = Some(AzureAuth::Entra);
    let mut targets = oci_targets(base_url);
    targets.push(azure);
    targets
}

/// The environment both clouds sign in with, its files written in `keys` (outside the data
/// dir, whose every byte the secret scan reads): OCI's config file and API key, the Entra
/// client certificate.
fn login(keys: &Path) -> Vec<(&'static str, String)> {
    let mut login = certificate_login(keys, FAKE_ENTRA_CLIENT_KEY_PEM);
    login.push(("OCI_CONFIG_FILE", write_oci_config(keys).display().to_string()));
    login.push(("OCI_GENAI_API_KEY", FAKE_OCI_API_KEY.to_owned()));
    login
}

/// fakecloud with Entra on, the client certificate registered, its clock `skew` seconds ahead
/// of ours, answering every model with `spec`.
async fn cloud(skew: i64, spec: &str) -> FakeCloud {
    FakeCloud::start(Config {
        clock_skew_seconds: skew,
        default_scenario: fakecloud::parse_spec(spec).expect("spec"),
        ..entra_config(3600, Some(FAKE_ENTRA_CLIENT_CERTIFICATE_PEM))
    })
    .await
    .expect("fakecloud")
}

/// One run of [`targets`] against fakecloud with its clock `skew` seconds ahead of ours: OCI
/// signs with its config file (or the API key), Azure with the client certificate.
async fn run_with_skew(skew: i64) -> (FakeCloud, Vec<ResponseRecord>) {
    let cloud = cloud(skew, SPEC).await;
    let keys = tempfile::tempdir().expect("tempdir");
    let data = tempfile::tempdir().expect("tempdir");
    let login = login(keys.path());
    let data_dir = data.path().to_owned();
    let (cloud, (responses, outputs)) = tokio::task::spawn_blocking(move || {
        let targets = targets(&cloud.base_url());
        let result = run_cli(&cloud, &data_dir, &targets, &[], PROMPT, &borrowed(&login));
        (cloud, result)
    })
    .await
    .expect("cli task");
    assert_eq!(responses.len(), 5, "{responses:?}");
    check_azure(&responses);
    assert_no_secret_anywhere(data.path(), &outputs);
    (cloud, responses)
}

/// The Azure target completed on an Entra token: the scripted answer, fakecloud's usage, a cost
/// or the reason there is none, and the base model the OCI gpt-5.5 target has too.
fn check_azure(responses: &[ResponseRecord]) {
    let azure = by_target(responses, AZURE);
    let [azure] = azure[..] else {
        panic!("one Azure response: {azure:?}")
    };
    assert!(azure.complete, "{:?}", azure.error);
    assert_eq!(
        azure.text,
        tokens_for(&fakecloud::parse_spec(SPEC).expect("spec")).concat()
    );
    assert_eq!(
        (azure.usage.input_tokens, azure.usage.output_tokens),
        (Some(5), Some(24))
    );
    assert!(
        azure.cost_usd.is_some() || azure.cost_source.as_deref().is_some_and(|reason| !reason.is_empty()),
        "a cost or the reason there is none: {azure:?}"
    );
    assert_eq!(azure.base_model.as_deref(), Some("gpt-5.5"));
}

fn assert_no_secret_anywhere(data_dir: &Path, outputs: &[Output]) {
    let mut others = secrets();
    others.extend(
        fakecloud::FAKE_OCI_PRIVATE_KEY_PKCS8_PEM
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .map(str::to_owned),
    );
    assert_none_of(data_dir, outputs, &others);
}

fn token_grants(cloud: &FakeCloud) -> Vec<(u16, Option<String>)> {
    cloud
        .requests()
        .into_iter()
        .filter(|request| request.provider == "entra")
        .map(|request| (request.status, request.credential))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_on_both_surfaces_and_azure_with_entra_complete_with_the_clock_four_minutes_off() {
    // fakecloud four minutes behind: the signatures' dates and the assertion's nbf look four
    // minutes early.
    let (cloud, responses) = run_with_skew(-4 * 60).await;
    check_oci_answers(&responses);
    assert_eq!(credentials_presented(&cloud), (3, 1), "three signed, one API key");
    let requests = cloud.requests();
    assert!(requests.iter().all(|request| request.authenticated), "{requests:?}");
    assert_eq!(token_grants(&cloud), [(200, Some("client_assertion".to_owned()))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_minutes_off_fails_only_the_oci_signed_targets_naming_each() {
    let (cloud, responses) = run_with_skew(6 * 60).await;
    for response in &responses {
        if response.target == "oci-responses key" || response.target == AZURE {
            // An API key carries no date; the Entra assertion is valid for ten minutes.
            assert!(response.complete, "{}: {:?}", response.target, response.error);
            continue;
        }
        assert!(!response.complete, "{}", response.target);
        let error = response.error.as_ref().expect("refused");
        assert_eq!((error.kind, error.status), (ErrorKind::Auth, Some(401)), "{error}");
        assert_eq!(error.target, response.target);
        let message = error.to_string();
        assert!(message.contains(&response.target), "{message}");
        assert!(message.contains("more than 5 minutes"), "{message}");
    }
    assert_eq!(token_grants(&cloud), [(200, Some("client_assertion".to_owned()))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_compares_oci_and_azure_gpt_5_5_in_one_parity_group() {
    let cloud = cloud(0, "answer=echo").await;
    let keys = tempfile::tempdir().expect("tempdir");
    let data = tempfile::tempdir().expect("tempdir");
    let login = login(keys.path());
    let pair = ["oci-chat signed", AZURE];
    let chosen: Vec<Target> = targets(&cloud.base_url())
        .into_iter()
        .filter(|target| pair.contains(&target.name.as_str()))
        .collect();
    let targets_file = data.path().join("targets.toml");
    std::fs::write(&targets_file, targets_to_toml(&chosen)).expect("write targets");
    let suite = crate::sessions::write_suite(data.path(), 2, None);
    let data_dir = data.path().to_owned();
    let (cloud, shown) = tokio::task::spawn_blocking(move || {
        let login = borrowed(&login);
        let targets_file = targets_file.to_str().expect("utf8");
        let run = modelbench_with_entra(
            &cloud,
            &data_dir,
            &["session", "run", &suite, "--targets", targets_file, "--json"],
            &login,
        );
        let document: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON");
        let id = document["session_id"].as_str().expect("session id").to_owned();
        let shown = modelbench_with_entra(&cloud, &data_dir, &["session", "show", &id, "--json"], &login);
        (
            cloud,
            serde_json::from_slice::<serde_json::Value>(&shown.stdout).expect("JSON"),
        )
    })
    .await
    .expect("cli task");
    assert_eq!(shown["status"], "completed", "{shown}");
    let decision = shown["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .find(|decision| decision["base_model"] == "gpt-5.5")
        .unwrap_or_else(|| panic!("no gpt-5.5 group: {}", shown["decisions"]));
    assert_eq!(decision["targets"], serde_json::json!(pair), "{decision}");
    let parity = shown["parity"].as_array().expect("parity");
    assert_eq!(parity.len(), 1, "{parity:?}");
    assert_eq!(
        (&parity[0]["base_model"], &parity[0]["a"], &parity[0]["b"]),
        (&"gpt-5.5".into(), &pair[0].into(), &pair[1].into()),
        "{}",
        parity[0]
    );
    // Both clouds answered every call, signed and with an Entra token.
    let requests = cloud.requests();
    assert!(requests.iter().all(|request| request.authenticated), "{requests:?}");
    assert!(requests.iter().any(|request| request.provider == "azure"));
    assert!(requests.iter().any(|request| request.provider == "oci"));
}
