//! `modelbench demo`: a keyless first run. Starts fakecloud in-process and compares several
//! simulated targets (clearly labelled), so a newcomer sees streaming, timings, a retried rate
//! limit, a failure with its partial answer kept, and storage, before adding any real key.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use fakecloud::{Config, Failure, FakeCloud, Scenario};
use modelbench_engine::credentials::{Secret, StaticCredentials};
use modelbench_engine::runner::{RunOptions, RunPlan};
use modelbench_engine::store::Store;
use modelbench_engine::target::{Api, Publisher};
use modelbench_engine::{Parameters, Prompt, ProviderKind, Target};

use crate::{ViewMode, execute};

const PROMPT: &str = "In two sentences: why would a team run the same model on more than one cloud?";

const GPT_ANSWER: &str = "Running the same model on several clouds lets a team pick the region, price and latency that suit each workload, and keeps a second provider ready when one has an outage or a quota limit.\nIt also turns procurement into a measured choice: the same prompts, the same model, and numbers that show where it answers fastest and cheapest.";
const CLAUDE_ANSWER: &str = "Hosting one model on multiple clouds gives a team resilience against a single provider's outages and rate limits, and lets data stay in the region where it must live.\nIt also creates real price and latency competition between the clouds, which only shows up when the same prompt is measured on each.";
const GEMINI_ANSWER: &str = "The same model can differ by cloud in latency, regional availability, quotas and price, so measuring it on each one shows where it serves a workload best.\nHaving it on two clouds also keeps the product running when one provider throttles or goes down.";
const LLAMA_ANSWER: &str = "Because each cloud offers different latency, pricing, regions and limits for the same model, and comparing them side by side shows which fits best.\nA second cloud is also a fallback when the first one is slow or down.";

struct DemoTarget {
    name: &'static str,
    provider: ProviderKind,
    api: Option<Api>,
    model: &'static str,
    azure_classic: bool,
    /// Bedrock's region or Vertex's location.
    region: Option<&'static str>,
    /// Vertex: Claude instead of Gemini.
    anthropic_on_vertex: bool,
    scenario: Scenario,
}

impl DemoTarget {
    fn new(name: &'static str, provider: ProviderKind, model: &'static str, scenario: Scenario) -> Self {
        Self {
            name,
            provider,
            api: None,
            model,
            azure_classic: false,
            region: None,
            anthropic_on_vertex: false,
            scenario,
        }
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

fn demo_targets() -> Vec<DemoTarget> {
    vec![
        DemoTarget {
            name: "openai/gpt-5.4",
            provider: ProviderKind::OpenAi,
            api: None,
            model: "gpt-5.4",
            azure_classic: false,
            region: None,
            anthropic_on_vertex: false,
            scenario: scenario(380, 14, GPT_ANSWER, None),
        },
        DemoTarget {
            name: "openai/gpt-5.4 (responses)",
            provider: ProviderKind::OpenAi,
            api: Some(Api::Responses),
            model: "gpt-5.4-2026-03-05",
            azure_classic: false,
            region: None,
            anthropic_on_vertex: false,
            scenario: scenario(450, 12, GPT_ANSWER, None),
        },
        DemoTarget {
            name: "azure/gpt-5.4 swedencentral",
            provider: ProviderKind::Azure,
            api: None,
            model: "gpt54-swedencentral",
            azure_classic: true,
            region: None,
            anthropic_on_vertex: false,
            scenario: scenario(290, 19, GPT_ANSWER, None),
        },
        DemoTarget {
            name: "azure/gpt-5.4 eastus (throttled once)",
            provider: ProviderKind::Azure,
            api: None,
            model: "gpt54-eastus",
            azure_classic: false,
            region: None,
            anthropic_on_vertex: false,
            scenario: scenario(
                310,
                17,
                GPT_ANSWER,
                Some(Failure::Status {
                    status: 429,
                    times: Some(1),
                    retry_after: Some(Duration::from_millis(400)),
                }),
            ),
        },
        DemoTarget {
            name: "anthropic/claude-opus-4-7",
            provider: ProviderKind::Anthropic,
            api: None,
            model: "claude-opus-4-7",
            azure_classic: false,
            region: None,
            anthropic_on_vertex: false,
            scenario: scenario(620, 21, CLAUDE_ANSWER, None),
        },
        DemoTarget {
            name: "anthropic/claude-sonnet-4-6 (overloaded)",
            provider: ProviderKind::Anthropic,
            api: None,
            model: "claude-sonnet-4-6",
            azure_classic: false,
            region: None,
            anthropic_on_vertex: false,
            scenario: scenario(
                500,
                16,
                CLAUDE_ANSWER,
                Some(Failure::MidStreamError { after_tokens: 18 }),
            ),
        },
        DemoTarget {
            name: "ollama/llama3.3",
            provider: ProviderKind::Ollama,
            api: None,
            model: "llama3.3:70b",
            azure_classic: false,
            region: None,
            anthropic_on_vertex: false,
            scenario: scenario(150, 35, LLAMA_ANSWER, None),
        },
        DemoTarget {
            region: Some("us-east-1"),
            ..DemoTarget::new(
                "bedrock/claude-opus-4-7 us-east-1",
                ProviderKind::Bedrock,
                "us.anthropic.claude-opus-4-7-v1:0",
                scenario(540, 20, CLAUDE_ANSWER, None),
            )
        },
        DemoTarget {
            region: Some("eu-central-1"),
            ..DemoTarget::new(
                "bedrock/gpt-5.4 eu-central-1",
                ProviderKind::Bedrock,
                "openai.gpt-5.4-v1:0",
                scenario(420, 15, GPT_ANSWER, None),
            )
        },
        DemoTarget {
            api: Some(Api::Invoke),
            region: Some("us-west-2"),
            ..DemoTarget::new(
                "bedrock/llama3.3 invoke us-west-2",
                ProviderKind::Bedrock,
                "meta.llama3-3-70b-instruct-v1:0",
                scenario(260, 24, LLAMA_ANSWER, None),
            )
        },
        DemoTarget {
            region: Some("us-east5"),
            anthropic_on_vertex: true,
            ..DemoTarget::new(
                "vertex/claude-opus-4-7 us-east5",
                ProviderKind::Vertex,
                "claude-opus-4-7",
                scenario(580, 22, CLAUDE_ANSWER, None),
            )
        },
        DemoTarget {
            region: Some("global"),
            ..DemoTarget::new(
                "vertex/gemini-2.5-pro global",
                ProviderKind::Vertex,
                "gemini-2.5-pro",
                scenario(700, 11, GEMINI_ANSWER, None),
            )
        },
        DemoTarget::new(
            "gemini/gemini-2.5-flash",
            ProviderKind::Gemini,
            "gemini-2.5-flash",
            scenario(330, 9, GEMINI_ANSWER, None),
        ),
    ]
}

pub async fn run(store: &Store, json: bool) -> Result<ExitCode> {
    let demo = demo_targets();
    let config = Config {
        scenarios: demo
            .iter()
            .map(|target| (target.model.to_owned(), target.scenario.clone()))
            .collect::<HashMap<_, _>>(),
        ..Config::default()
    };
    let keys = config.keys.clone();
    let cloud = FakeCloud::start(config)
        .await
        .context("cannot start fakecloud on 127.0.0.1")?;
    let base = cloud.base_url();
    let targets: Vec<Target> = demo
        .iter()
        .map(|demo| {
            let mut target = Target::new(demo.name, demo.provider, demo.model);
            target.api = demo.api;
            target.label = Some("simulated".to_owned());
            target.base_url = Some(match demo.provider {
                ProviderKind::OpenAi => format!("{base}/v1"),
                _ => base.clone(),
            });
            if demo.azure_classic {
                target.deployment = Some(demo.model.to_owned());
                target.api_version = Some("2024-10-21".to_owned());
            }
            match demo.provider {
                ProviderKind::Bedrock => target.region = demo.region.map(str::to_owned),
                ProviderKind::Vertex => {
                    target.project = Some("modelbench-demo".to_owned());
                    target.location = demo.region.map(str::to_owned);
                    target.publisher = demo.anthropic_on_vertex.then_some(Publisher::Anthropic);
                }
                _ => {}
            }
            target
        })
        .collect();
    let credentials = StaticCredentials::new()
        .with("OPENAI_API_KEY", Secret::new(keys.openai))
        .with("AZURE_OPENAI_API_KEY", Secret::new(keys.azure))
        .with("ANTHROPIC_API_KEY", Secret::new(keys.anthropic))
        .with("GEMINI_API_KEY", Secret::new(keys.gemini))
        .with("GOOGLE_OAUTH_ACCESS_TOKEN", Secret::new(keys.vertex))
        // Bedrock is signed with SigV4, and fakecloud checks every signature.
        .with_aws(keys.aws_access_key_id, Secret::new(keys.aws_secret_access_key));
    if !json {
        println!(
            "ModelBench demo: {} SIMULATED targets served by fakecloud at {base}",
            targets.len()
        );
        println!("(no real cloud is called and no key is needed; the timings and failures are scripted)");
        println!("prompt: {PROMPT}\n");
    }
    let mut options = RunOptions::default();
    options.retry.base_delay = Duration::from_millis(200);
    let plan = RunPlan {
        targets,
        prompts: vec![Prompt::user(PROMPT)],
        parameters: Parameters {
            max_output_tokens: Some(400),
            ..Parameters::default()
        },
        options,
    };
    let outcome = execute(store, plan, Arc::new(credentials), ViewMode { json, events: false }).await?;
    cloud.shutdown().await;
    if !json {
        println!(
            "\nnext: `modelbench runs show {}`, `modelbench search cloud`, or add real targets (see README)",
            &outcome.run.id.to_string()[..13]
        );
    }
    Ok(ExitCode::SUCCESS)
}
