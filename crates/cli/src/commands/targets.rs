//! `modelbench targets`: the targets saved in the database, added from flags or imported from a
//! TOML file, listed (as importable TOML or JSON) and removed. `Target::validate` judges a
//! target; this only turns flags into one.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use modelbench_engine::store::Store;
use modelbench_engine::target::{Api, AzureAuth, DeploymentType, Publisher, load_targets_file, targets_to_toml};
use modelbench_engine::{ProviderKind, Target};
use serde_json::json;

use super::TimeoutArgs;
use crate::terminal;

#[derive(Subcommand)]
pub enum TargetsCommand {
    /// Save a target (replaces one with the same name).
    Add(Box<AddTargetArgs>),
    List {
        #[arg(long)]
        json: bool,
    },
    Remove {
        name: String,
    },
    /// Save every target of a TOML file, replacing same-named ones.
    Import {
        file: PathBuf,
    },
}

#[derive(Args)]
pub struct AddTargetArgs {
    #[arg(long)]
    name: String,
    /// openai | azure | anthropic | ollama | bedrock | gemini | vertex
    #[arg(long)]
    provider: String,
    #[arg(long)]
    model: String,
    /// chat | responses (openai, azure); converse | invoke | mantle-responses | mantle-chat |
    /// mantle-messages (bedrock)
    #[arg(long)]
    api: Option<String>,
    #[arg(long)]
    base_url: Option<String>,
    /// Azure: the resource name.
    #[arg(long)]
    resource: Option<String>,
    /// Azure classic path: the deployment (with --api-version).
    #[arg(long)]
    deployment: Option<String>,
    #[arg(long)]
    api_version: Option<String>,
    /// The name of a key in the OS keychain (`modelbench keys set NAME`), tried first.
    #[arg(long, value_name = "NAME")]
    key: Option<String>,
    /// Where the key comes from when the keychain has none: `env:VARIABLE`.
    #[arg(long)]
    api_key_ref: Option<String>,
    /// OpenAI: the organization header.
    #[arg(long)]
    organization: Option<String>,
    /// OpenAI and Bedrock Mantle: the OpenAI-Project header. Vertex: the Google Cloud project id.
    #[arg(long)]
    project: Option<String>,
    /// Bedrock: the AWS region.
    #[arg(long)]
    region: Option<String>,
    /// Bedrock: the AWS profile to take credentials from.
    #[arg(long)]
    profile: Option<String>,
    /// Vertex: the location (`us-east5`, `global`).
    #[arg(long)]
    location: Option<String>,
    /// Vertex: google | anthropic
    #[arg(long)]
    publisher: Option<String>,
    /// Anthropic: the `anthropic-version` header.
    #[arg(long)]
    anthropic_version: Option<String>,
    /// An extra non-secret header (repeatable).
    #[arg(long = "header", value_name = "NAME=VALUE")]
    headers: Vec<String>,
    /// A label shown next to the name.
    #[arg(long)]
    label: Option<String>,
    /// The model as its maker names it (`gpt-5.4`): the model an Azure deployment runs.
    #[arg(long)]
    base_model: Option<String>,
    /// Azure: global | data-zone-us | data-zone-eu | regional (default global); sets the price.
    #[arg(long)]
    deployment_type: Option<String>,
    /// Azure: key (default: an `api-key`) | entra (an Entra ID token from the Azure credential chain).
    #[arg(long)]
    auth: Option<String>,
    #[command(flatten)]
    timeouts: TimeoutArgs,
}

pub fn run(store: &Store, command: TargetsCommand) -> Result<()> {
    let mut out = terminal::stdout().lock();
    match command {
        TargetsCommand::Add(args) => {
            let target = target_from_args(*args)?;
            target.validate()?;
            store.save_target(&target)?;
            writeln!(out, "saved target '{}'", target.name)?;
        }
        TargetsCommand::List { json } => {
            let targets = store.list_targets()?;
            if json {
                // Each target as saved, plus the base model it resolves to (`null`: an Azure
                // deployment without `base_model`, resolved from its responses).
                let listed: Vec<serde_json::Value> = targets
                    .iter()
                    .map(|target| {
                        let mut value = serde_json::to_value(target)?;
                        if let Some(object) = value.as_object_mut() {
                            object.insert(
                                "base_model_resolved".to_owned(),
                                json!(modelbench_engine::identity::base_model(target, None)),
                            );
                        }
                        Ok(value)
                    })
                    .collect::<serde_json::Result<_>>()?;
                serde_json::to_writer_pretty(&mut out, &listed)?;
                writeln!(out)?;
            } else if targets.is_empty() {
                writeln!(
                    out,
                    "no saved targets: `modelbench targets import FILE` or `targets add`"
                )?;
            } else {
                // Each target as TOML (importable as is), under a comment with its base model.
                for target in &targets {
                    let base_model = modelbench_engine::identity::base_model(target, None).unwrap_or_else(|| {
                        "from the response (set base_model to name the deployment's model)".to_owned()
                    });
                    writeln!(out, "# base model: {base_model}")?;
                    writeln!(out, "{}", targets_to_toml(std::slice::from_ref(target)).trim_end())?;
                    writeln!(out)?;
                }
            }
        }
        TargetsCommand::Remove { name } => {
            if !store.remove_target(&name)? {
                bail!("no saved target named '{name}'");
            }
            writeln!(out, "removed target '{name}'")?;
        }
        TargetsCommand::Import { file } => {
            let targets = load_targets_file(&file)?;
            for target in &targets {
                store.save_target(target)?;
            }
            writeln!(out, "imported {} target(s) from {}", targets.len(), file.display())?;
        }
    }
    Ok(())
}

/// A target from `targets add` flags; `Target::validate` judges the combination.
fn target_from_args(args: AddTargetArgs) -> Result<Target> {
    let provider = one_of(
        &args.provider,
        "provider",
        ProviderKind::parse,
        &ProviderKind::ALL,
        ProviderKind::as_str,
    )?;
    let mut target = Target::new(args.name, provider, args.model);
    target.api = args
        .api
        .map(|api| one_of(&api, "api", Api::parse, &Api::ALL, Api::as_str))
        .transpose()?;
    target.deployment_type = args
        .deployment_type
        .map(|kind| {
            one_of(
                &kind,
                "deployment type",
                DeploymentType::parse,
                &DeploymentType::ALL,
                DeploymentType::as_str,
            )
        })
        .transpose()?;
    target.auth = args
        .auth
        .map(|auth| one_of(&auth, "auth", AzureAuth::parse, &AzureAuth::ALL, AzureAuth::as_str))
        .transpose()?;
    target.base_model = args.base_model;
    target.publisher = match args.publisher.as_deref() {
        None => None,
        Some("google") => Some(Publisher::Google),
        Some("anthropic") => Some(Publisher::Anthropic),
        Some(other) => bail!("unknown publisher '{other}' (google, anthropic)"),
    };
    for header in &args.headers {
        let (name, value) = header
            .split_once('=')
            .with_context(|| format!("--header '{header}' must be NAME=VALUE"))?;
        target.headers.insert(name.trim().to_owned(), value.trim().to_owned());
    }
    target.base_url = args.base_url;
    target.resource = args.resource;
    target.deployment = args.deployment;
    target.api_version = args.api_version;
    target.key = args.key;
    target.api_key_ref = args.api_key_ref;
    target.organization = args.organization;
    target.project = args.project;
    target.region = args.region;
    target.profile = args.profile;
    target.location = args.location;
    target.anthropic_version = args.anthropic_version;
    target.label = args.label;
    target.timeouts = args.timeouts.overrides();
    Ok(target)
}

/// `text` parsed as a `what` (`provider`, `api`), or an error that lists the known names.
fn one_of<T: Copy>(
    text: &str,
    what: &str,
    parse: fn(&str) -> Option<T>,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<T> {
    parse(text).with_context(|| {
        let known: Vec<&str> = all.iter().map(|value| name(*value)).collect();
        format!("unknown {what} '{text}' ({})", known.join(", "))
    })
}

#[cfg(test)]
mod tests {
    /// `targets add` with `arguments` (split on whitespace), validated as the command does.
    fn added(arguments: &str) -> anyhow::Result<super::Target> {
        use clap::Parser;
        let words = ["modelbench", "targets", "add"]
            .into_iter()
            .chain(arguments.split_whitespace());
        let cli = crate::Cli::try_parse_from(words)?;
        let crate::Command::Targets(super::TargetsCommand::Add(args)) = cli.command else {
            unreachable!("parsed as targets add");
        };
        let target = super::target_from_args(*args)?;
        target.validate()?;
        Ok(target)
    }

    #[test]
    fn targets_add_sets_every_cloud_field() {
        let bedrock = added(
            "--name b --provider bedrock --model anthropic.claude --region eu-west-1 --profile prod \
             --api invoke --key aws-work --first-token-timeout-ms 5000",
        )
        .expect("bedrock");
        assert_eq!(bedrock.region.as_deref(), Some("eu-west-1"));
        assert_eq!(bedrock.profile.as_deref(), Some("prod"));
        assert_eq!(bedrock.api, Some(super::Api::Invoke));
        assert_eq!(bedrock.key.as_deref(), Some("aws-work"));
        assert_eq!(bedrock.timeouts.first_token_ms, Some(5000));
        let vertex = added(
            "--name v --provider vertex --model claude --project p-1 --location us-east5 \
             --publisher anthropic --header x-route=eu",
        )
        .expect("vertex");
        assert_eq!(vertex.publisher, Some(super::Publisher::Anthropic));
        assert_eq!(vertex.headers.get("x-route").map(String::as_str), Some("eu"));
        let gemini = added("--name g --provider gemini --model gemini-2.5-flash").expect("gemini");
        assert_eq!(gemini.provider, super::ProviderKind::Gemini);
    }

    #[test]
    fn targets_add_reports_what_validation_rejects() {
        let message = |arguments: &str| format!("{:#}", added(arguments).expect_err("rejected"));
        let error = message("--name b --provider bedrock --model m");
        assert!(error.contains("target 'b'") && error.contains("region"), "{error}");
        let error = message("--name o --provider openai --model m --api converse");
        assert!(error.contains("does not apply to openai"), "{error}");
        let error = message("--name o --provider openai --model m --api nope");
        assert!(error.contains("unknown api 'nope' (chat, responses,"), "{error}");
        let error = message("--name o --provider nope --model m");
        assert!(error.contains("unknown provider 'nope' (openai, "), "{error}");
        let error = message("--name a --provider azure --model m --deployment-type nope");
        assert!(error.contains("unknown deployment type 'nope' (global, "), "{error}");
        let error = message("--name o --provider openai --model m --region us-east-1");
        assert!(error.contains("`region` applies only to bedrock"), "{error}");
    }
}
