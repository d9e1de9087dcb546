//! The `fakecloud` binary: serves the fake clouds on 127.0.0.1 until Ctrl-C
//! or SIGTERM, for demos and for end-to-end tests that drive the CLI.
//!
//! It prints exactly one line to stdout once bound, `fakecloud listening on
//! http://127.0.0.1:PORT`, so a parent process can wait for it and read the
//! port.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use fakecloud::{Config, FakeCloud, Keys, parse_spec};

/// Routes, for `--help`.
const ROUTES: &str = "Routes (POST):
  /v1/chat/completions, /v1/responses                      OpenAI
  /openai/deployments/{deployment}/chat/completions        Azure OpenAI (?api-version=)
  /openai/v1/chat/completions, /openai/v1/responses        Azure OpenAI v1
  /v1/messages                                             Anthropic
  /api/chat                                                Ollama
  /model/{modelId}/converse-stream                         Bedrock ConverseStream (SigV4 or API key)
  /model/{modelId}/invoke-with-response-stream             Bedrock InvokeModelWithResponseStream
  /v1beta/models/{model}:streamGenerateContent?alt=sse     Gemini API (x-goog-api-key or ?key=)
  /v1/projects/{p}/locations/{l}/publishers/google/models/{model}:streamGenerateContent?alt=sse
                                                           Vertex AI Gemini (Bearer token)
  /v1/projects/{p}/locations/{l}/publishers/anthropic/models/{model}:streamRawPredict
                                                           Vertex AI Claude (Bearer token)
  /openai/v1/{chat/completions,responses}, /v1/{chat/completions,responses},
  /anthropic/v1/messages                                   Bedrock Mantle (SigV4 or API key; a
                                                           Bearer request is Mantle's for a
                                                           vendor.model id such as openai.gpt-5.4)
  /20231130/actions/chat                                   OCI Generative AI native chat (OCI signature)
  /openai/v1/{chat/completions,responses}                  OCI Generative AI OpenAI-compatible (an OCI
                                                           signature, opc-compartment-id, or the OCI
                                                           API key fake-oci-genai-key)
GET /_fakecloud/requests (the request log), GET /_fakecloud/health.

Bedrock requests must be SigV4-signed (service bedrock, any region) with the
access key AKIDFAKECLOUDTEST001 and secret
fakecloud+Secret/Access/Key/0000000000000 unless --aws-access-key-id and
--aws-secret-access-key say otherwise. OCI requests must be signed with the
throwaway key in crates/fakecloud/keys (key id: fakecloud::FAKE_OCI_KEY_ID).";

#[derive(Debug, Parser)]
#[command(
    name = "fakecloud",
    about = "Local servers that speak the OpenAI, Azure OpenAI, Anthropic, Ollama, AWS Bedrock, Gemini and Vertex AI streaming wire formats",
    after_help = ROUTES
)]
struct Arguments {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// The API key every cloud accepts (Ollama, the Bedrock API key, the
    /// Gemini key and the Vertex token included). Default: "fake-key", and
    /// none for Ollama.
    #[arg(long)]
    key: Option<String>,
    /// The AWS access key id Bedrock requests must be signed with.
    #[arg(long, value_name = "ID")]
    aws_access_key_id: Option<String>,
    /// The AWS secret access key fakecloud checks Bedrock signatures with.
    #[arg(long, value_name = "SECRET")]
    aws_secret_access_key: Option<String>,
    /// Require this x-amz-security-token on Bedrock requests.
    #[arg(long, value_name = "TOKEN")]
    aws_session_token: Option<String>,
    /// Directory of recorded bodies for `replay=`.
    #[arg(long)]
    fixtures: Option<PathBuf>,
    /// A scenario for one model name, as MODEL=SPEC (repeatable).
    #[arg(long = "scenario", value_name = "MODEL=SPEC")]
    scenarios: Vec<String>,
    /// The scenario for every other model, as a SPEC.
    #[arg(long = "default", value_name = "SPEC")]
    default_spec: Option<String>,
    /// Run fakecloud's clock this many seconds ahead (negative: behind), to see how clients
    /// whose clocks are off fare with signed requests.
    #[arg(long, value_name = "SECONDS", default_value_t = 0, allow_hyphen_values = true)]
    clock_skew: i64,
}

fn config_from(arguments: Arguments) -> anyhow::Result<Config> {
    let mut keys = match arguments.key {
        Some(key) => Keys {
            openai: key.clone(),
            azure: key.clone(),
            anthropic: key.clone(),
            ollama: Some(key.clone()),
            bedrock_api_key: key.clone(),
            gemini: key.clone(),
            vertex: key,
            ..Keys::default()
        },
        None => Keys::default(),
    };
    if let Some(id) = arguments.aws_access_key_id {
        keys.aws_access_key_id = id;
    }
    if let Some(secret) = arguments.aws_secret_access_key {
        keys.aws_secret_access_key = secret;
    }
    keys.aws_session_token = arguments.aws_session_token;
    let mut scenarios = HashMap::new();
    for entry in arguments.scenarios {
        // The spec itself contains `=`, so only the first one separates.
        let Some((model, spec)) = entry.split_once('=') else {
            bail!("--scenario expects MODEL=SPEC, got `{entry}`");
        };
        let scenario = parse_spec(spec).with_context(|| format!("--scenario {entry}"))?;
        scenarios.insert(model.to_owned(), scenario);
    }
    let default_scenario = match arguments.default_spec {
        Some(spec) => parse_spec(&spec).with_context(|| format!("--default {spec}"))?,
        None => Default::default(),
    };
    Ok(Config {
        port: arguments.port,
        keys,
        fixtures_dir: arguments.fixtures,
        scenarios,
        default_scenario,
        https: false,
        clock_skew_seconds: arguments.clock_skew,
    })
}

async fn wait_for_stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C")?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = config_from(Arguments::parse())?;
    let cloud = FakeCloud::start(config).await.context("binding 127.0.0.1")?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "fakecloud listening on {}", cloud.base_url())?;
    stdout.flush()?;
    drop(stdout);
    wait_for_stop_signal().await?;
    cloud.shutdown().await;
    Ok(())
}
