//! `modelbench evidence`: a session's sealed record for auditors. `export` writes the bundle (the
//! session's rows, its reports, `METHOD.md` and a manifest of SHA-256 sums, signed with the
//! keychain's Ed25519 key when `--sign` is given), `verify` checks one and recomputes its
//! statistics, `keygen` makes the signing key and prints the public key to publish.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use modelbench_engine::keychain::Keychain;
use modelbench_workbench::evidence::{self, KeyEntry};

use super::export::write_report;
use super::session::workbench;
use crate::database;
use crate::terminal;

#[derive(Subcommand)]
pub enum EvidenceCommand {
    /// Write a session's evidence bundle (a zip): its database rows, reports, METHOD.md and a
    /// manifest with the SHA-256 of every file.
    Export {
        /// A session id or a unique prefix of one.
        session: String,
        #[arg(short, long, value_name = "FILE.zip")]
        output: PathBuf,
        /// Sign the manifest with the keychain's key (`evidence keygen`).
        #[arg(long)]
        sign: bool,
        #[command(flatten)]
        key: KeyName,
        /// Replace FILE.zip if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Check a bundle: every hash, the signature, and the statistics recomputed from its rows
    /// against its JSON report. Exits 1 when anything differs, naming it.
    Verify {
        bundle: PathBuf,
        /// The public key the bundle must be signed with (base64, as `evidence keygen` printed it).
        #[arg(long, value_name = "KEY")]
        public_key: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Make the Ed25519 signing key (kept in the OS keychain) and print its public key.
    Keygen {
        /// Replace an existing key (bundles signed with it then verify only with its old public key).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        key: KeyName,
    },
    /// Print the public key of the keychain's signing key.
    PublicKey {
        #[command(flatten)]
        key: KeyName,
    },
}

/// Which keychain entry holds the signing key.
#[derive(Args)]
pub struct KeyName {
    /// The keychain entry of the signing key (a team may keep several).
    #[arg(long = "key-name", value_name = "NAME", default_value = evidence::SIGNING_KEY)]
    name: String,
}

pub async fn run(data_dir: Option<&std::path::Path>, command: EvidenceCommand) -> Result<ExitCode> {
    match command {
        EvidenceCommand::Export {
            session,
            output,
            sign,
            force,
            key,
        } => {
            let store = Arc::new(database::open(data_dir)?);
            let keychain = Keychain::os();
            let workbench = workbench(&store)?;
            let exported = tokio::task::spawn_blocking(move || {
                let entry = sign.then_some(KeyEntry {
                    keychain: &keychain,
                    name: &key.name,
                });
                workbench.export_evidence(&session, entry)
            })
            .await
            .context("the export stopped")??;
            write_report(&output, &exported.zip, force, store.path())
                .with_context(|| format!("cannot write the bundle to {}", output.display()))?;
            let mut out = terminal::stdout().lock();
            writeln!(
                out,
                "wrote the evidence bundle of session {} to {} ({} files{})",
                exported.session_id,
                output.display(),
                exported.files.len() + 1,
                exported
                    .public_key
                    .as_ref()
                    .map(|key| format!(", signed with key {key}"))
                    .unwrap_or_else(|| ", unsigned".to_owned())
            )?;
            Ok(ExitCode::SUCCESS)
        }
        EvidenceCommand::Verify {
            bundle,
            public_key,
            json,
        } => {
            let bytes = std::fs::read(&bundle).with_context(|| format!("cannot read {}", bundle.display()))?;
            let verification = evidence::verify(&bytes, public_key.as_deref()).await?;
            let mut out = terminal::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &verification)?;
                writeln!(out)?;
            } else {
                for problem in &verification.problems {
                    writeln!(out, "FAIL {problem}")?;
                }
                for note in &verification.notes {
                    writeln!(out, "note: {note}")?;
                }
                writeln!(
                    out,
                    "{}: {} file(s), {} table(s) and {} report value(s) checked{}",
                    if verification.ok() { "verified" } else { "NOT VERIFIED" },
                    verification.files_checked,
                    verification.tables_checked,
                    verification.values_compared,
                    match (&verification.signed_by, verification.key_matches) {
                        (Some(_), Some(true)) => "; signed with the public key given",
                        (Some(_), _) => "; signature good",
                        (None, _) => "",
                    }
                )?;
            }
            Ok(if verification.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        EvidenceCommand::Keygen { force, key } => {
            let keychain = Keychain::os();
            let public = evidence::keygen(
                KeyEntry {
                    keychain: &keychain,
                    name: &key.name,
                },
                force,
            )?;
            writeln!(terminal::stdout().lock(), "{public}")?;
            eprintln!(
                "the signing key is in the OS keychain (entry {}); publish the public key above so others can check your bundles",
                key.name
            );
            Ok(ExitCode::SUCCESS)
        }
        EvidenceCommand::PublicKey { key } => {
            let keychain = Keychain::os();
            let entry = KeyEntry {
                keychain: &keychain,
                name: &key.name,
            };
            writeln!(terminal::stdout().lock(), "{}", evidence::public_key(entry)?)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
