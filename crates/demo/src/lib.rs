//! The simulated clouds: fakecloud started in-process with a scripted scenario per target, and
//! targets on all seven providers pointed at it, clearly labelled `simulated`.
//!
//! `modelbench demo` and the desktop app's first launch both use it, so a newcomer sees
//! streaming, timings, a retried rate limit and a failure with its partial answer kept before
//! adding any real key. Nothing here calls a real cloud; the timings and failures are scripted.
//! A small sample suite ([`SAMPLE_SUITE`]) comes with them, for a first evaluation session.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use fakecloud::{Config, Failure, FakeCloud, Scenario};
use modelbench_engine::credentials::{Credential, CredentialSource, Secret, StaticCredentials};
use modelbench_engine::store::Store;
use modelbench_engine::target::{Api, DeploymentType, Publisher};
use modelbench_engine::{ProviderKind, Target};

/// The label every simulated target carries, shown on its pane.
pub const LABEL: &str = "simulated";

/// The sample suite the simulated clouds bring (`assets/suites/sample.yaml`): the app offers it
/// in the Session view, so a first session needs no key.
pub const SAMPLE_SUITE: &str = include_str!("../../../assets/suites/sample.yaml");

/// The prompt the demo asks.
pub const PROMPT: &str = "In two sentences: why would a team run the same model on more than one cloud?";

const GPT_ANSWER: &str = "Running the same model on several clouds lets a team pick the region, price and latency that suit each workload, and keeps a second provider ready when one has an outage or a quota limit.\nIt also turns procurement into a measured choice: the same prompts, the same model, and numbers that show where it answers fastest and cheapest.";
const CLAUDE_ANSWER: &str = "Hosting one model on multiple clouds gives a team resilience against a single provider's outages and rate limits, and lets data stay in the region where it must live.\nIt also creates real price and latency competition between the clouds, which only shows up when the same prompt is measured on each.";
const GEMINI_ANSWER: &str = "The same model can differ by cloud in latency, regional availability, quotas and price, so measuring it on each one shows where it serves a workload best.\nHaving it on two clouds also keeps the product running when one provider throttles or goes down.";
const LLAMA_ANSWER: &str = "Because each cloud offers different latency, pricing, regions and limits for the same model, and comparing them side by side shows which fits best.\nA second cloud is also a fallback when the first one is slow or down.";

/// One scripted target: what it is, and how fakecloud answers it.
struct Script {
    name: &'static str,
    provider: ProviderKind,
    api: Option<Api>,
    model: &'static str,
    /// Azure's classic deployment URL (with `api-version`) instead of the v1 route.
    azure_classic: bool,
    /// Bedrock's region or Vertex's location.
    region: Option<&'static str>,
    /// Vertex: Claude instead of Gemini.
    anthropic_on_vertex: bool,
    /// Azure: the model the deployment runs, and how it is served.
    base_model: Option<&'static str>,
    deployment_type: Option<DeploymentType>,
    scenario: Scenario,
}

impl Script {
    fn new(name: &'static str, provider: ProviderKind, model: &'static str, scenario: Scenario) -> Self {
        Self {
            name,
            provider,
            api: None,
            model,
            azure_classic: false,
            region: None,
            anthropic_on_vertex: false,
            base_model: None,
            deployment_type: None,
            scenario,
        }
    }

    /// The target, pointed at the fakecloud serving `base`.
    fn target(&self, base: &str) -> Target {
        let mut target = Target::new(self.name, self.provider, self.model);
        target.api = self.api;
        target.label = Some(LABEL.to_owned());
        target.base_model = self.base_model.map(str::to_owned);
        target.deployment_type = self.deployment_type;
        target.base_url = Some(match self.provider {
            ProviderKind::OpenAi => format!("{base}/v1"),
            _ => base.to_owned(),
        });
        if self.azure_classic {
            target.deployment = Some(self.model.to_owned());
            target.api_version = Some("2024-10-21".to_owned());
        }
        match self.provider {
            ProviderKind::Bedrock => target.region = self.region.map(str::to_owned),
            ProviderKind::Vertex => {
                target.project = Some("modelbench-demo".to_owned());
                target.location = self.region.map(str::to_owned);
                target.publisher = self.anthropic_on_vertex.then_some(Publisher::Anthropic);
            }
            _ => {}
        }
        target
    }
}

fn scenario(first_token_ms: u64, gap_ms: u64, text: &str, failure: Option<Failure>) -> Scenario {
    Scenario {
        time_to_first_token: Duration::from_millis(first_token_ms),
        inter_token_delay: Duration::from_millis(gap_ms),
        text: Some(text.to_owned()),
        failure,
        ..Scenario::default()
    }
}

fn scripts() -> Vec<Script> {
    vec![
        Script::new(
            "openai/gpt-5.4",
            ProviderKind::OpenAi,
            "gpt-5.4",
            scenario(380, 14, GPT_ANSWER, None),
        ),
        Script {
            api: Some(Api::Responses),
            ..Script::new(
                "openai/gpt-5.4 (responses)",
                ProviderKind::OpenAi,
                "gpt-5.4-2026-03-05",
                scenario(450, 12, GPT_ANSWER, None),
            )
        },
        Script {
            azure_classic: true,
            base_model: Some("gpt-5.4"),
            deployment_type: Some(DeploymentType::DataZoneEu),
            ..Script::new(
                "azure/gpt-5.4 swedencentral",
                ProviderKind::Azure,
                "gpt54-swedencentral",
                scenario(290, 19, GPT_ANSWER, None),
            )
        },
        Script {
            base_model: Some("gpt-5.4"),
            ..Script::new(
                "azure/gpt-5.4 eastus (throttled once)",
                ProviderKind::Azure,
                "gpt54-eastus",
                scenario(
                    310,
                    17,
                    GPT_ANSWER,
                    Some(Failure::Status {
                        status: 429,
                        times: Some(1),
                        retry_after: Some(Duration::from_millis(400)),
                    }),
                ),
            )
        },
        Script::new(
            "anthropic/claude-opus-4-7",
            ProviderKind::Anthropic,
            "claude-opus-4-7",
            scenario(620, 21, CLAUDE_ANSWER, None),
        ),
        Script::new(
            "anthropic/claude-sonnet-4-6 (overloaded)",
            ProviderKind::Anthropic,
            "claude-sonnet-4-6",
            scenario(
                500,
                16,
                CLAUDE_ANSWER,
                Some(Failure::MidStreamError { after_tokens: 18 }),
            ),
        ),
        Script::new(
            "ollama/llama3.3",
            ProviderKind::Ollama,
            "llama3.3:70b",
            scenario(150, 35, LLAMA_ANSWER, None),
        ),
        Script {
            region: Some("us-east-1"),
            ..Script::new(
                "bedrock/claude-opus-4-7 us-east-1",
                ProviderKind::Bedrock,
                "us.anthropic.claude-opus-4-7-v1:0",
                scenario(540, 20, CLAUDE_ANSWER, None),
            )
        },
        // GPT-5.x on Bedrock is served by Bedrock Mantle, OpenAI's Responses API on AWS.
        Script {
            api: Some(Api::MantleResponses),
            region: Some("eu-central-1"),
            ..Script::new(
                "bedrock/gpt-5.4 eu-central-1",
                ProviderKind::Bedrock,
                "openai.gpt-5.4",
                scenario(420, 15, GPT_ANSWER, None),
            )
        },
        Script {
            api: Some(Api::Invoke),
            region: Some("us-west-2"),
            ..Script::new(
                "bedrock/llama3.3 invoke us-west-2",
                ProviderKind::Bedrock,
                "meta.llama3-3-70b-instruct-v1:0",
                scenario(260, 24, LLAMA_ANSWER, None),
            )
        },
        Script {
            region: Some("us-east5"),
            anthropic_on_vertex: true,
            ..Script::new(
                "vertex/claude-opus-4-7 us-east5",
                ProviderKind::Vertex,
                "claude-opus-4-7",
                scenario(580, 22, CLAUDE_ANSWER, None),
            )
        },
        Script {
            region: Some("global"),
            ..Script::new(
                "vertex/gemini-2.5-pro global",
                ProviderKind::Vertex,
                "gemini-2.5-pro",
                scenario(700, 11, GEMINI_ANSWER, None),
            )
        },
        Script::new(
            "gemini/gemini-2.5-flash",
            ProviderKind::Gemini,
            "gemini-2.5-flash",
            scenario(330, 9, GEMINI_ANSWER, None),
        ),
    ]
}

/// fakecloud serving the scripted targets on 127.0.0.1, with the fake keys it accepts.
pub struct Demo {
    cloud: FakeCloud,
    targets: Vec<Target>,
    credentials: StaticCredentials,
}

impl Demo {
    /// Starts fakecloud on a free port of 127.0.0.1, inside the current tokio runtime.
    pub async fn start() -> io::Result<Self> {
        let scripts = scripts();
        let config = Config {
            scenarios: scripts
                .iter()
                .map(|script| (script.model.to_owned(), script.scenario.clone()))
                .collect::<HashMap<_, _>>(),
            ..Config::default()
        };
        let keys = config.keys.clone();
        let cloud = FakeCloud::start(config).await?;
        let base = cloud.base_url();
        let targets = scripts.iter().map(|script| script.target(&base)).collect();
        let credentials = StaticCredentials::new()
            .with("OPENAI_API_KEY", Secret::new(keys.openai))
            .with("AZURE_OPENAI_API_KEY", Secret::new(keys.azure))
            .with("ANTHROPIC_API_KEY", Secret::new(keys.anthropic))
            .with("GEMINI_API_KEY", Secret::new(keys.gemini))
            .with("GOOGLE_OAUTH_ACCESS_TOKEN", Secret::new(keys.vertex))
            // Bedrock is signed with SigV4, and fakecloud checks every signature.
            .with_aws(keys.aws_access_key_id, Secret::new(keys.aws_secret_access_key));
        Ok(Self {
            cloud,
            targets,
            credentials,
        })
    }

    /// Where fakecloud listens, e.g. `http://127.0.0.1:38211`.
    pub fn base_url(&self) -> String {
        self.cloud.base_url()
    }

    /// The simulated targets, each labelled [`LABEL`] and pointed at this fakecloud.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// The fake keys fakecloud accepts (none of them is a real credential).
    pub fn credentials(&self) -> StaticCredentials {
        self.credentials.clone()
    }

    /// Whether `target` is one of the simulated targets this fakecloud serves (by label and
    /// address, so a real target is never sent the fake keys, nor a simulated one the real ones).
    pub fn serves(&self, target: &Target) -> bool {
        target.label.as_deref() == Some(LABEL)
            && target
                .base_url
                .as_deref()
                .is_some_and(|url| url.starts_with(&self.cloud.base_url()))
    }

    /// Saves every simulated target in `store` (replacing saved ones of the same name) and
    /// returns them.
    pub fn install(&self, store: &Store) -> modelbench_engine::Result<Vec<Target>> {
        for target in &self.targets {
            store.save_target(target)?;
        }
        Ok(self.targets.clone())
    }

    /// Points the simulated targets saved by an earlier process (whose fakecloud is gone) at this
    /// one. Targets the user removed stay removed. Returns how many were updated.
    pub fn repoint_saved(&self, store: &Store) -> modelbench_engine::Result<usize> {
        let mut updated = 0;
        for saved in store.list_targets()? {
            if saved.label.as_deref() != Some(LABEL) || self.serves(&saved) {
                continue;
            }
            if let Some(current) = self.targets.iter().find(|target| target.name == saved.name) {
                store.save_target(current)?;
                updated += 1;
            }
        }
        Ok(updated)
    }

    /// Stops fakecloud, letting streams in flight end first (up to a second).
    pub async fn shutdown(self) {
        self.cloud.shutdown().await;
    }
}

/// Whether `store` holds simulated targets (a process that finds some starts the demo again).
pub fn has_saved_targets(store: &Store) -> modelbench_engine::Result<bool> {
    Ok(store
        .list_targets()?
        .iter()
        .any(|target| target.label.as_deref() == Some(LABEL)))
}

/// Credentials for a process that may start the demo later: targets the running [`Demo`] serves
/// get its fake keys; every other target goes to `inner` (the keychain, the environment, the
/// cloud chains) exactly as without the demo.
pub struct WithDemo<C> {
    inner: C,
    demo: Arc<OnceLock<Arc<Demo>>>,
}

impl<C> WithDemo<C> {
    /// `demo` is filled in when the demo starts.
    pub fn new(inner: C, demo: Arc<OnceLock<Arc<Demo>>>) -> Self {
        Self { inner, demo }
    }
}

impl<C: CredentialSource> CredentialSource for WithDemo<C> {
    fn resolve(&self, target: &Target) -> modelbench_engine::Result<Credential> {
        match self.demo.get() {
            Some(demo) if demo.serves(target) => demo.credentials.resolve(target),
            _ => self.inner.resolve(target),
        }
    }
}

#[cfg(test)]
mod tests;
