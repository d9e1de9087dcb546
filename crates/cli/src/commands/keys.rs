//! `modelbench keys`: store, list and delete keys in the OS keychain.
//!
//! Values go in through stdin (without echo on a terminal) and never come out: `list` shows
//! names and the saved targets that use them. Targets name a key with `key = "NAME"`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use modelbench_engine::credentials::Secret;
use modelbench_engine::keychain::{Keychain, validate_name};
use serde_json::json;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Store a key in the OS keychain, read from stdin (typed without echo on a terminal).
    Set { name: String },
    /// Key names and the saved targets that use them (never the values).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a key from the OS keychain.
    Delete { name: String },
}

pub fn run(data_dir: Option<&Path>, command: KeysCommand) -> Result<()> {
    let keychain = Keychain::os();
    let mut out = std::io::stdout().lock();
    match command {
        KeysCommand::Set { name } => {
            validate_name(&name)?;
            // Reach the keychain before asking for the secret, so nobody types a key in vain.
            let replacing = keychain.contains(&name)?;
            let secret = read_secret(&name)?;
            keychain.set(&name, &secret)?;
            let verb = if replacing { "replaced" } else { "stored" };
            writeln!(out, "{verb} key '{name}' in the OS keychain")?;
        }
        KeysCommand::List { json } => {
            let names = keychain.names()?;
            let usage = KeyUsage::new(&crate::database::open(data_dir)?.list_targets()?, &names);
            if json {
                serde_json::to_writer_pretty(&mut out, &usage.to_json())?;
                writeln!(out)?;
            } else {
                write!(out, "{}", usage.to_text())?;
            }
        }
        KeysCommand::Delete { name } => {
            validate_name(&name)?;
            keychain.delete(&name)?;
            writeln!(out, "deleted key '{name}' from the OS keychain")?;
            let users = users_of(&crate::database::open(data_dir)?.list_targets()?, &name);
            if !users.is_empty() {
                writeln!(
                    out,
                    "still named by target(s) {}: they fall back to their environment variable",
                    users.join(", ")
                )?;
            }
        }
    }
    Ok(())
}

/// The secret from stdin: a no-echo prompt on a terminal, else everything piped in, without the
/// trailing newline.
fn read_secret(name: &str) -> Result<Secret> {
    let text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("key '{name}' (input hidden): "))
            .context("cannot read the key from the terminal")?
    } else {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the key from stdin")?;
        text
    };
    parse_secret(text)
}

fn parse_secret(mut text: String) -> Result<Secret> {
    let kept = text.trim_end_matches(['\n', '\r']).len();
    text.truncate(kept);
    if text.trim().is_empty() {
        bail!(
            "the key is empty: pipe it in (`printf %s \"$KEY\" | modelbench keys set NAME`) or type it at the prompt"
        );
    }
    if text.contains(['\n', '\r']) {
        bail!("the key spans several lines: give one line");
    }
    Ok(Secret::new(text))
}

fn users_of(targets: &[modelbench_engine::Target], name: &str) -> Vec<String> {
    targets
        .iter()
        .filter(|target| target.key.as_deref() == Some(name))
        .map(|target| target.name.clone())
        .collect()
}

/// Which saved targets use which key, and which keys they name that the keychain lacks.
#[derive(Debug, PartialEq)]
struct KeyUsage {
    /// Every key in the keychain, with the targets naming it.
    stored: BTreeMap<String, Vec<String>>,
    /// Keys named by targets but absent from the keychain, with those targets.
    missing: BTreeMap<String, Vec<String>>,
}

impl KeyUsage {
    fn new(targets: &[modelbench_engine::Target], names: &[String]) -> Self {
        let stored_names: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        let mut stored: BTreeMap<String, Vec<String>> = names.iter().map(|name| (name.clone(), Vec::new())).collect();
        let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for target in targets {
            let Some(key) = &target.key else { continue };
            let slot = if stored_names.contains(key.as_str()) {
                stored.entry(key.clone()).or_default()
            } else {
                missing.entry(key.clone()).or_default()
            };
            slot.push(target.name.clone());
        }
        Self { stored, missing }
    }

    fn to_json(&self) -> serde_json::Value {
        let entries = |map: &BTreeMap<String, Vec<String>>| {
            map.iter()
                .map(|(name, targets)| json!({"name": name, "targets": targets}))
                .collect::<Vec<_>>()
        };
        json!({"keys": entries(&self.stored), "missing": entries(&self.missing)})
    }

    fn to_text(&self) -> String {
        let mut text = String::new();
        if self.stored.is_empty() {
            text.push_str("no keys in the OS keychain: `modelbench keys set NAME` stores one\n");
        } else {
            let width = self.stored.keys().map(String::len).max().unwrap_or(0).max(4);
            text.push_str(&format!("{:<width$}  TARGETS\n", "KEY"));
            for (name, targets) in &self.stored {
                let users = if targets.is_empty() {
                    "(none)".to_owned()
                } else {
                    targets.join(", ")
                };
                text.push_str(&format!("{name:<width$}  {users}\n"));
            }
        }
        for (name, targets) in &self.missing {
            text.push_str(&format!(
                "missing: key '{name}' is named by {} but is not in the keychain (modelbench keys set {name})\n",
                targets.join(", ")
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use modelbench_engine::{ProviderKind, Target};

    use super::*;

    fn target(name: &str, key: Option<&str>) -> Target {
        let mut target = Target::new(name, ProviderKind::OpenAi, "m");
        target.key = key.map(str::to_owned);
        target
    }

    #[test]
    fn secrets_lose_only_the_trailing_newline() {
        assert_eq!(parse_secret("sk-1\n".into()).expect("ok").expose(), "sk-1");
        assert_eq!(parse_secret("sk-1\r\n".into()).expect("ok").expose(), "sk-1");
        assert_eq!(parse_secret(" sk 1".into()).expect("ok").expose(), " sk 1");
        assert!(parse_secret("\n".into()).is_err());
        assert!(parse_secret("   \n".into()).is_err());
        assert!(parse_secret("a\nb\n".into()).is_err());
    }

    #[test]
    fn usage_maps_keys_to_targets_and_flags_missing_ones() {
        let targets = [
            target("gpt", Some("work")),
            target("gpt-mini", Some("work")),
            target("plain", None),
            target("claude", Some("gone")),
        ];
        let usage = KeyUsage::new(&targets, &["unused".to_owned(), "work".to_owned()]);
        assert_eq!(
            usage.to_json(),
            json!({
                "keys": [
                    {"name": "unused", "targets": []},
                    {"name": "work", "targets": ["gpt", "gpt-mini"]},
                ],
                "missing": [{"name": "gone", "targets": ["claude"]}],
            })
        );
        assert_eq!(
            usage.to_text(),
            "KEY     TARGETS\n\
             unused  (none)\n\
             work    gpt, gpt-mini\n\
             missing: key 'gone' is named by claude but is not in the keychain (modelbench keys set gone)\n"
        );
        assert_eq!(
            KeyUsage::new(&[], &[]).to_text(),
            "no keys in the OS keychain: `modelbench keys set NAME` stores one\n"
        );
    }
}
