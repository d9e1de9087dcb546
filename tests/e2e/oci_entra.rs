//! The "done when" in one `modelbench run`: OCI targets on both surfaces (native GENERIC
//! and COHERE, OpenAI-compatible Chat and Responses) beside an Azure target with
//! `auth = "entra"` signing in with a client certificate, all against one fakecloud whose clock
//! is off. Four minutes off, every signed request (OCI signatures, the Entra client assertion)
//! is accepted; six minutes off, the OCI-signed targets fail as auth errors naming the target,
//! while the OCI API-key target and the Entra Azure target complete (an assertion is valid for
//! ten minutes, and Entra allows five of skew).
//!
//! The helpers are those of `oci.rs` (targets, the expected answers and costs, the OCI config
//! file) and `entra.rs` (fakecloud's Entra, the CLI run, the secret scan).

use std::path::Path;
use std::process::Output;

use fakecloud::{Config, FAKE_ENTRA_CLIENT_KEY_PEM, FAKE_OCI_API_KEY, FakeCloud, tokens_for};
use modelbench_engine::target::AzureAuth;
use modelbench_engine::{ErrorKind, ProviderKind, ResponseRecord, Target};

use crate::entra::{assert_none_of, borrowed, by_target, certificate_login, entra_config, run_cli};
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

/// One run of [`targets`] against fakecloud with its clock `skew` seconds ahead of ours: OCI
/// signs with its config file (or the API key), Azure with the client certificate.
async fn run_with_skew(skew: i64) -> (FakeCloud, Vec<ResponseRecord>) {
    let cloud = FakeCloud::start(Config {
        clock_skew_seconds: skew,
        default_scenario: fakecloud::parse_spec(SPEC).expect("spec"),
        ..entra_config(3600, Some(fakecloud::FAKE_ENTRA_CLIENT_CERTIFICATE_PEM))
    })
    .await
    .expect("fakecloud");
    // Keys live outside the data dir, whose every byte the secret scan reads.
    let keys = tempfile::tempdir().expect("tempdir");
    let data = tempfile::tempdir().expect("tempdir");
    let mut login = certificate_login(keys.path(), FAKE_ENTRA_CLIENT_KEY_PEM);
    login.push(("OCI_CONFIG_FILE", write_oci_config(keys.path()).display().to_string()));
    login.push(("OCI_GENAI_API_KEY", FAKE_OCI_API_KEY.to_owned()));
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
