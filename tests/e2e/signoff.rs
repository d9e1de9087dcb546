//! Sign-off documents: a session's PDF report and its evidence bundle, through the CLI, on a
//! session run against fakecloud with a key only this test knows.
//!
//! The PDF is read back with `pdftotext` (poppler-utils, installed by `scripts/setup`): it must
//! hold the decision table's values, the method, the sign-off names, and a model's `<script>`
//! as plain text; two exports are byte-identical. The bundle verifies as exported, and fails,
//! naming what, when a byte of any file is flipped, a row is deleted, or a number of the JSON
//! report is edited (with its hash fixed up, so only the recomputation can see it). No byte of
//! it holds the key.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fakecloud::{Config, FakeCloud, Keys, parse_spec};
use modelbench_e2e::contains;
use modelbench_engine::ProviderKind;
use modelbench_engine::target::Target;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::cli::cli;

const SECRET: &str = "sk-signoff-e2e-7f3c9a1d5b";
const SCRIPT: &str = "<script>alert('pwned')</script>";

struct World {
    _cloud: FakeCloud,
    data: tempfile::TempDir,
    session: String,
}

impl World {
    async fn modelbench(&self, args: &[&str]) -> Output {
        cli(self.data.path(), args, &[("SIGNOFF_KEY", SECRET)], None).await
    }

    async fn ok(&self, args: &[&str]) -> Output {
        let output = self.modelbench(args).await;
        assert!(
            output.status.success(),
            "modelbench {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn path(&self, name: &str) -> PathBuf {
        self.data.path().join(name)
    }
}

/// Two clouds of one base model and a third model, a suite whose last test fails its check with
/// an answer that echoes a `<script>`.
async fn world() -> World {
    let cloud = FakeCloud::start(Config {
        keys: Keys {
            openai: SECRET.to_owned(),
            ..Keys::default()
        },
        default_scenario: parse_spec("ttft_ms=5;tokens=12;answer=echo").expect("spec"),
        ..Config::default()
    })
    .await
    .expect("fakecloud");
    let data = tempfile::tempdir().expect("tempdir");
    let base = cloud.base_url();
    let targets: Vec<Target> = [
        ("east", "gpt-5.4-east", "gpt-5.4"),
        ("west", "gpt-5.4-west", "gpt-5.4"),
        ("other", "claude-x", "claude-x"),
    ]
    .into_iter()
    .map(|(name, model, base_model)| {
        let mut target = Target::new(name, ProviderKind::OpenAi, model);
        target.base_url = Some(format!("{base}/v1"));
        target.base_model = Some(base_model.into());
        target.api_key_ref = Some("env:SIGNOFF_KEY".into());
        target
    })
    .collect();
    let targets_file = data.path().join("targets.toml");
    std::fs::write(&targets_file, modelbench_engine::target::targets_to_toml(&targets)).expect("targets");
    let mut suite = String::from("name: sign-off\nprompts:\n  - \"{{q}}\"\ntests:\n");
    for n in 1..=4 {
        suite.push_str(&format!(
            "  - id: t{n}\n    vars: {{q: \"Question {n}\"}}\n    checks:\n      - type: contains\n        value: \"Question {n}\"\n"
        ));
    }
    suite.push_str(&format!(
        "  - id: xss\n    vars: {{q: \"Say {SCRIPT}\"}}\n    checks:\n      - type: contains\n        value: \"never said\"\n"
    ));
    let suite_file = data.path().join("suite.yaml");
    std::fs::write(&suite_file, suite).expect("suite");
    let output = cli(
        data.path(),
        &[
            "session",
            "run",
            &suite_file.display().to_string(),
            "--targets",
            &targets_file.display().to_string(),
            "--repeat",
            "2",
            "--json",
        ],
        &[("SIGNOFF_KEY", SECRET)],
        None,
    )
    .await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let list = cli(data.path(), &["session", "list", "--json"], &[], None).await;
    let sessions: Value = serde_json::from_slice(&list.stdout).expect("session list json");
    let session = sessions[0]["id"].as_str().expect("a session id").to_owned();
    World {
        _cloud: cloud,
        data,
        session,
    }
}

fn pdftotext(path: &Path) -> String {
    let output = Command::new("pdftotext")
        .args(["-layout", &path.display().to_string(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) is installed by scripts/setup");
    assert!(
        output.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("text")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pdf_report_holds_the_decision_the_method_and_the_sign_off_and_is_deterministic() {
    let world = world().await;
    let (first, second) = (world.path("first.pdf"), world.path("second.pdf"));
    for path in [&first, &second] {
        world
            .ok(&[
                "session",
                "export",
                &world.session,
                "--format",
                "pdf",
                "-o",
                &path.display().to_string(),
                "--signoff",
                "Ana Ruiz, Head of Procurement",
                "--signoff",
                "Bo Chen, CTO",
            ])
            .await;
    }
    let bytes = std::fs::read(&first).expect("pdf");
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    assert_eq!(bytes, std::fs::read(&second).expect("pdf"), "two exports differ");

    let text = pdftotext(&first);
    let json = world
        .ok(&["session", "export", &world.session, "--format", "json"])
        .await;
    let report: Value = serde_json::from_slice(&json.stdout).expect("json report");
    let decision = &report["decisions"][0];
    assert_eq!(decision["base_model"], "gpt-5.4", "{decision}");
    // Every value of the decision row is in the document (cheapest stays empty: no price is known
    // for these models, and the PDF shows a dash).
    assert!(decision["fastest"].is_string(), "{decision}");
    for field in ["cheapest", "fastest", "most_reliable"] {
        if let Some(value) = decision[field].as_str() {
            assert!(text.contains(value), "{field} {value} is not in the PDF");
        }
    }
    for target in decision["equivalent"].as_array().expect("equivalent") {
        assert!(
            text.contains(target.as_str().expect("name")),
            "{target} is not in the PDF"
        );
    }
    for needle in [
        "Decision",
        "Method",
        "Contents",
        "sign-off",
        "gpt-5.4",
        "Ana Ruiz",
        "Head of Procurement",
        "Bo Chen",
        "CTO",
        "Signature",
        SCRIPT,
        "Page 1 of",
    ] {
        assert!(text.contains(needle), "{needle:?} is not in the PDF:\n{text}");
    }
    let suite_hash = report["method"]["suite_hash"].as_str().expect("hash");
    assert!(text.contains(suite_hash), "the method names the suite's hash");

    // A run's report too.
    let targets = world.path("targets.toml").display().to_string();
    world
        .ok(&["run", "--targets", &targets, &format!("Say {SCRIPT}")])
        .await;
    let runs = world.ok(&["runs", "list", "--json"]).await;
    let runs: Value = serde_json::from_slice(&runs.stdout).expect("runs");
    let id = runs[0]["id"].as_str().expect("a run id");
    let run_pdf = world.path("run.pdf");
    world
        .ok(&[
            "export",
            id,
            "--format",
            "pdf",
            "-o",
            &run_pdf.display().to_string(),
            "--signoff",
            "Ana Ruiz, Head of Procurement",
        ])
        .await;
    let run_text = pdftotext(&run_pdf);
    for needle in ["Run report", SCRIPT, "Ana Ruiz", "east", "west"] {
        assert!(
            run_text.contains(needle),
            "{needle:?} is not in the run PDF:\n{run_text}"
        );
    }
    assert!(!contains(&bytes, SECRET.as_bytes()));
}

fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("zip");
    (0..archive.len())
        .map(|index| {
            let mut file = archive.by_index(index).expect("entry");
            let mut contents = Vec::new();
            file.read_to_end(&mut contents).expect("read entry");
            (file.name().expect("entry name").into_owned(), contents)
        })
        .collect()
}

fn rezip(files: &BTreeMap<String, Vec<u8>>, path: &Path) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).expect("create"));
    for (name, bytes) in files {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("start");
        zip.write_all(bytes).expect("write");
    }
    zip.finish().expect("finish");
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Sets the manifest's entry for `name` to `bytes`' hash and size.
fn fix_manifest(files: &mut BTreeMap<String, Vec<u8>>, name: &str) {
    let mut manifest: Value = serde_json::from_slice(&files["manifest.json"]).expect("manifest");
    let bytes = files[name].clone();
    for entry in manifest["files"].as_array_mut().expect("files") {
        if entry["path"] == name {
            entry["sha256"] = sha256(&bytes).into();
            entry["bytes"] = bytes.len().into();
        }
    }
    files.insert(
        "manifest.json".into(),
        serde_json::to_vec_pretty(&manifest).expect("json"),
    );
}

impl World {
    async fn verify(&self, bundle: &Path) -> (bool, String) {
        let output = self
            .modelbench(&["evidence", "verify", &bundle.display().to_string()])
            .await;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_evidence_bundle_verifies_and_any_change_is_named() {
    let world = world().await;
    let bundle = world.path("evidence.zip");
    world
        .ok(&[
            "evidence",
            "export",
            &world.session,
            "-o",
            &bundle.display().to_string(),
        ])
        .await;
    let (ok, text) = world.verify(&bundle).await;
    assert!(ok, "a fresh bundle fails: {text}");
    assert!(text.contains("verified"), "{text}");

    let bytes = std::fs::read(&bundle).expect("bundle");
    let files = unzip(&bytes);
    for name in [
        "session.sqlite",
        "report.json",
        "report.html",
        "report.pdf",
        "METHOD.md",
        "manifest.json",
    ] {
        assert!(files.contains_key(name), "{name} is missing");
    }
    for (name, contents) in &files {
        assert!(!contains(contents, SECRET.as_bytes()), "{name} holds the key");
    }

    // One flipped byte in any file.
    for name in [
        "session.sqlite",
        "report.json",
        "report.html",
        "report.pdf",
        "METHOD.md",
    ] {
        let mut changed = files.clone();
        let contents = changed.get_mut(name).expect("file");
        let middle = contents.len() / 2;
        contents[middle] ^= 0x01;
        let path = world.path("flipped.zip");
        rezip(&changed, &path);
        let (ok, text) = world.verify(&path).await;
        assert!(!ok, "a flipped byte in {name} verified");
        assert!(text.contains(&format!("{name}: changed")), "{name}: {text}");
    }

    // One row deleted.
    let database = world.path("session.sqlite");
    std::fs::write(&database, &files["session.sqlite"]).expect("write db");
    {
        let connection = rusqlite::Connection::open(&database).expect("open");
        let deleted = connection
            .execute("DELETE FROM responses WHERE id = (SELECT max(id) FROM responses)", [])
            .expect("delete");
        assert_eq!(deleted, 1);
    }
    let mut changed = files.clone();
    changed.insert("session.sqlite".into(), std::fs::read(&database).expect("db"));
    fix_manifest(&mut changed, "session.sqlite");
    let path = world.path("deleted.zip");
    rezip(&changed, &path);
    let (ok, text) = world.verify(&path).await;
    assert!(!ok, "a deleted row verified");
    assert!(text.contains("table responses has"), "{text}");
    assert!(
        text.contains("report.json:"),
        "the statistics should differ too: {text}"
    );

    // One number of the JSON report edited, its hash fixed up.
    let mut report: Value = serde_json::from_slice(&files["report.json"]).expect("report");
    let p50 = report["targets"][0]["ttft_ms"]["p50"].as_f64().expect("p50");
    report["targets"][0]["ttft_ms"]["p50"] = (p50 + 1.0).into();
    let mut changed = files.clone();
    changed.insert("report.json".into(), serde_json::to_vec_pretty(&report).expect("json"));
    fix_manifest(&mut changed, "report.json");
    let path = world.path("edited.zip");
    rezip(&changed, &path);
    let (ok, text) = world.verify(&path).await;
    assert!(!ok, "an edited number verified");
    assert!(text.contains("targets[0].ttft_ms.p50"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_bundle_checks_against_the_published_key() {
    let keychain = modelbench_engine::keychain::Keychain::os();
    if let Err(error) = keychain.check_available() {
        assert!(
            std::env::var("MODELBENCH_REQUIRE_KEYCHAIN").as_deref() != Ok("1"),
            "MODELBENCH_REQUIRE_KEYCHAIN=1 but the OS keychain is unavailable: {error}"
        );
        eprintln!("skipped: the OS keychain is unavailable ({error})");
        return;
    }
    let name = format!("modelbench-e2e-evidence-{}", std::process::id());
    struct Remove<'a>(&'a modelbench_engine::keychain::Keychain, &'a str);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            let _ = self.0.delete(self.1);
        }
    }
    let _remove = Remove(&keychain, &name);
    let world = world().await;
    let keygen = world.ok(&["evidence", "keygen", "--key-name", &name]).await;
    let public = String::from_utf8(keygen.stdout).expect("utf-8").trim().to_owned();
    assert_eq!(public.len(), 44, "a base64 Ed25519 key: {public}");
    let refused = world.modelbench(&["evidence", "keygen", "--key-name", &name]).await;
    assert!(!refused.status.success(), "a second keygen replaced the key");

    let bundle = world.path("signed.zip");
    world
        .ok(&[
            "evidence",
            "export",
            &world.session,
            "-o",
            &bundle.display().to_string(),
            "--sign",
            "--key-name",
            &name,
        ])
        .await;
    let good = world
        .modelbench(&[
            "evidence",
            "verify",
            &bundle.display().to_string(),
            "--public-key",
            &public,
        ])
        .await;
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stdout));

    // Another team's key: refused.
    let other = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
    let wrong = world
        .modelbench(&[
            "evidence",
            "verify",
            &bundle.display().to_string(),
            "--public-key",
            other,
        ])
        .await;
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stdout).contains("not the public key given"));

    // A manifest edited after signing (its hashes rewritten to match a changed file): refused.
    let mut files = unzip(&std::fs::read(&bundle).expect("bundle"));
    files
        .get_mut("METHOD.md")
        .expect("method")
        .extend_from_slice(b"\nedited\n");
    fix_manifest(&mut files, "METHOD.md");
    let forged = world.path("forged.zip");
    rezip(&files, &forged);
    let output = world
        .modelbench(&[
            "evidence",
            "verify",
            &forged.display().to_string(),
            "--public-key",
            &public,
        ])
        .await;
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("the signature does not match manifest.json"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}
