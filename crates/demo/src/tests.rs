use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use modelbench_engine::credentials::{Credential, CredentialSource, Secret, StaticCredentials};
use modelbench_engine::runner::{RunPlan, Runner};
use modelbench_engine::store::Store;
use modelbench_engine::{ProviderKind, Target};
use tokio_util::sync::CancellationToken;

use super::{Demo, LABEL, WithDemo, has_saved_targets};

fn key(credential: Credential) -> String {
    match credential {
        Credential::Key(secret) => secret.expose().to_owned(),
        other => panic!("expected a key, got {other:?}"),
    }
}

#[tokio::test]
async fn every_provider_is_simulated_and_points_at_the_running_cloud() {
    let demo = Demo::start().await.expect("start");
    let base = demo.base_url();
    let providers: BTreeSet<&str> = demo.targets().iter().map(|target| target.provider.as_str()).collect();
    assert_eq!(providers.len(), 7, "all seven providers: {providers:?}");
    for target in demo.targets() {
        assert_eq!(target.label.as_deref(), Some(LABEL), "{}", target.name);
        assert!(
            demo.serves(target),
            "{} at {:?}, cloud at {base}",
            target.name,
            target.base_url
        );
        target
            .validate()
            .unwrap_or_else(|error| panic!("{}: {error}", target.name));
    }
    demo.shutdown().await;
}

#[tokio::test]
async fn only_the_demo_targets_get_the_fake_keys() {
    let slot = Arc::new(OnceLock::new());
    let credentials = WithDemo::new(
        StaticCredentials::new().with("OPENAI_API_KEY", Secret::new("real-key")),
        slot.clone(),
    );
    let demo = Arc::new(Demo::start().await.expect("start"));
    let simulated = demo
        .targets()
        .iter()
        .find(|target| target.provider == ProviderKind::OpenAi)
        .expect("an OpenAI target")
        .clone();
    // Before the demo starts, nothing is routed to it.
    assert_eq!(key(credentials.resolve(&simulated).expect("resolve")), "real-key");
    slot.set(demo.clone()).ok().expect("set once");
    assert_eq!(key(credentials.resolve(&simulated).expect("resolve")), "fake-key");

    let real = Target::new("openai/real", ProviderKind::OpenAi, "gpt-5.4");
    assert_eq!(key(credentials.resolve(&real).expect("resolve")), "real-key");
    // A target that calls itself simulated but points elsewhere never gets the fake keys.
    let mut elsewhere = simulated.clone();
    elsewhere.base_url = Some("https://api.openai.com/v1".to_owned());
    assert_eq!(key(credentials.resolve(&elsewhere).expect("resolve")), "real-key");
}

#[tokio::test]
async fn saved_targets_follow_the_cloud_of_a_later_process_and_removed_ones_stay_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("modelbench.db")).expect("store");
    let real = Target::new("openai/real", ProviderKind::OpenAi, "gpt-5.4");
    store.save_target(&real).expect("save");
    assert!(!has_saved_targets(&store).expect("list"));

    let first = Demo::start().await.expect("first");
    let installed = first.install(&store).expect("install");
    assert_eq!(installed.len(), first.targets().len());
    assert!(has_saved_targets(&store).expect("list"));
    let removed = installed[0].name.clone();
    assert!(store.remove_target(&removed).expect("remove"));
    first.shutdown().await;

    let second = Demo::start().await.expect("second");
    let updated = second.repoint_saved(&store).expect("repoint");
    assert_eq!(updated, installed.len() - 1);
    let saved = store.list_targets().expect("list");
    assert!(saved.iter().all(|target| target.name != removed), "stays removed");
    for target in saved.iter().filter(|target| target.label.as_deref() == Some(LABEL)) {
        assert!(second.serves(target), "{} still at {:?}", target.name, target.base_url);
    }
    assert_eq!(
        store.get_target("openai/real").expect("get"),
        Some(real),
        "real targets are untouched"
    );
    assert_eq!(second.repoint_saved(&store).expect("again"), 0, "idempotent");
}

/// A running demo, and a runner whose credentials route the demo's targets to it.
async fn demo_and_runner() -> (Arc<Demo>, Runner) {
    let demo = Arc::new(Demo::start().await.expect("start"));
    let slot = Arc::new(OnceLock::new());
    slot.set(demo.clone()).ok().expect("set once");
    let runner = Runner::new(Arc::new(WithDemo::new(StaticCredentials::new(), slot)));
    (demo, runner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_bedrock_target_and_the_overloaded_one_run_through_the_demo_credentials() {
    let (demo, runner) = demo_and_runner().await;
    let pick = |name: &str| {
        demo.targets()
            .iter()
            .find(|target| target.name.contains(name))
            .unwrap_or_else(|| panic!("no demo target {name}"))
            .clone()
    };
    let mut plan = RunPlan::connection_test(pick("bedrock/claude"));
    plan.targets.push(pick("overloaded"));
    plan.parameters.max_output_tokens = Some(400);
    let outcome = runner
        .start(plan, CancellationToken::new())
        .expect("start")
        .outcome()
        .await
        .expect("outcome");
    let [bedrock, overloaded] = &outcome.responses[..] else {
        panic!("two responses: {:?}", outcome.responses);
    };
    assert!(bedrock.error.is_none(), "signed and accepted: {:?}", bedrock.error);
    assert!(bedrock.text.starts_with("Hosting one model"), "{}", bedrock.text);
    let error = overloaded.error.as_ref().expect("the scripted mid-stream failure");
    assert!(!overloaded.text.is_empty(), "the partial answer is kept: {error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_demo_answer_is_priced_and_carries_its_base_model() {
    let (demo, runner) = demo_and_runner().await;
    let mut plan = RunPlan::connection_test(demo.targets()[0].clone());
    plan.targets = demo.targets().to_vec();
    plan.parameters.max_output_tokens = Some(400);
    // The throttled Azure deployment answers on its retry.
    plan.options.retry.max_retries = 2;
    plan.options.concurrency = plan.targets.len();
    let outcome = runner
        .start(plan, CancellationToken::new())
        .expect("start")
        .outcome()
        .await
        .expect("outcome");
    assert_eq!(outcome.responses.len(), demo.targets().len());
    for response in &outcome.responses {
        if response.target.contains("overloaded") {
            assert_eq!(response.cost_usd, None, "{}", response.target);
            continue;
        }
        assert!(response.error.is_none(), "{}: {:?}", response.target, response.error);
        assert!(
            response.cost_usd.is_some_and(|usd| usd > 0.0) || response.provider == "ollama",
            "{} is priced: {:?}",
            response.target,
            response.cost_source
        );
        let expected = if response.target.contains("gpt-5.4") {
            Some("gpt-5.4")
        } else if response.target.contains("claude-opus-4-7") {
            Some("claude-opus-4-7")
        } else {
            None
        };
        if let Some(expected) = expected {
            assert_eq!(response.base_model.as_deref(), Some(expected), "{}", response.target);
        }
    }
    let priced = |name: &str| {
        outcome
            .responses
            .iter()
            .find(|response| response.target.contains(name))
            .and_then(|response| response.cost_source.clone())
            .unwrap_or_default()
    };
    // Each cloud's own price: a data-zone deployment, a versioned profile, Mantle.
    assert!(
        priced("swedencentral").contains("azure/data-zone-eu/gpt-5.4"),
        "{}",
        priced("swedencentral")
    );
    assert!(priced("eastus").contains("azure/gpt-5.4"), "{}", priced("eastus"));
    assert!(
        priced("bedrock/claude").contains("us.anthropic.claude-opus-4-7"),
        "{}",
        priced("bedrock/claude")
    );
    assert!(
        priced("bedrock/gpt-5.4").contains("mantle/openai.gpt-5.4"),
        "{}",
        priced("bedrock/gpt-5.4")
    );
}

#[test]
fn the_sample_suite_loads_with_a_check_on_every_test_and_a_bound_for_a_budget() {
    let loaded =
        modelbench_engine::suite::Suite::parse(super::SAMPLE_SUITE, modelbench_engine::suite::SuiteFormat::Yaml, None)
            .unwrap_or_else(|errors| panic!("the sample suite has errors:\n{errors}"));
    let suite = &loaded.suite;
    assert!((5..=10).contains(&suite.tests.len()), "{} tests", suite.tests.len());
    for case in suite.cases() {
        assert!(!case.checks.is_empty(), "test {} has no check", case.case_id);
    }
    assert!(
        suite.defaults.parameters.max_output_tokens.is_some(),
        "a budget needs a bound on every answer"
    );
    assert!(loaded.notes.is_empty(), "{:?}", loaded.notes);
}
