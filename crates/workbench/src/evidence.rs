//! Evidence bundles: a session's record, sealed, for auditors who never open ModelBench.
//!
//! `export` writes one zip holding `session.sqlite` (exactly the session's rows: see
//! `Store::copy_session`), the reports (`report.html`, `report.pdf`, `report.json`), `METHOD.md`
//! and `manifest.json`: the SHA-256 and size of every other file, the row count and digest of
//! every table of the database, the ModelBench version and the export time. With a signing key
//! (`keygen` puts an Ed25519 key in the OS keychain) it adds `signature.json`, an Ed25519
//! signature of the manifest's exact bytes with the public key beside it.
//!
//! `verify` checks all of it and then does the one thing a hash cannot: it recomputes the
//! session's statistics from the bundled rows and compares every value with `report.json`. Each
//! problem is named (the file, the table, the JSON path of the number) and all are reported, not
//! only the first.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read, Write};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use modelbench_engine::credentials::StaticCredentials;
use modelbench_engine::keychain::{Keychain, KeychainError};
use modelbench_engine::record::{now_unix_ms, utc_date_time};
use modelbench_engine::secret::Secret;
use modelbench_engine::session::report::{Format, json_document};
use modelbench_engine::store::Store;
use modelbench_engine::store::evidence::{TableDigest, file_table_digests};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::Workbench;
use crate::error::{Error, Result};

/// The manifest's `format`.
pub const FORMAT: &str = "modelbench-evidence/1";
/// The keychain entry that holds the signing key (base64 PKCS#8) unless another is named;
/// listed by `keys list` like every key.
pub const SIGNING_KEY: &str = "modelbench-evidence-signing-key";

/// Where a signing key is kept: a keychain entry.
#[derive(Clone, Copy, Debug)]
pub struct KeyEntry<'a> {
    pub keychain: &'a Keychain,
    pub name: &'a str,
}

const DATABASE: &str = "session.sqlite";
const MANIFEST: &str = "manifest.json";
const SIGNATURE: &str = "signature.json";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub modelbench_version: String,
    pub session_id: String,
    pub exported_at_ms: i64,
    pub exported_at: String,
    pub files: Vec<FileEntry>,
    pub tables: Vec<TableDigest>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct SignatureFile {
    algorithm: String,
    public_key: String,
    signature: String,
}

/// A written bundle.
#[derive(Clone, Debug, Serialize)]
pub struct Exported {
    pub session_id: String,
    pub files: Vec<FileEntry>,
    /// The public key the manifest is signed with (base64), if signed.
    pub public_key: Option<String>,
    #[serde(skip)]
    pub zip: Vec<u8>,
}

/// What `verify` found.
#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    pub session_id: Option<String>,
    pub files_checked: usize,
    pub tables_checked: usize,
    pub values_compared: usize,
    /// `Some(key)` when the signature is good for that key (base64).
    pub signed_by: Option<String>,
    /// Whether the signing key is the one given to check against.
    pub key_matches: Option<bool>,
    pub problems: Vec<String>,
    pub notes: Vec<String>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A new Ed25519 signing key in the keychain; refused when there is one unless `replace`.
/// Returns the public key (base64), for the team to publish.
pub fn keygen(entry: KeyEntry<'_>, replace: bool) -> Result<String> {
    if !replace && entry.keychain.contains(entry.name).map_err(keychain_error)? {
        return Err(Error::Evidence(format!(
            "a signing key exists already (keychain entry {}); its public key: {}. Replace it only with --force: bundles signed with it then need the old public key to verify",
            entry.name,
            public_key(entry)?
        )));
    }
    let random = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&random)
        .map_err(|_| Error::Evidence("the system random generator failed".into()))?;
    entry
        .keychain
        .set(entry.name, &Secret::new(BASE64.encode(pkcs8.as_ref())))
        .map_err(keychain_error)?;
    public_key(entry)
}

/// The public key of the keychain's signing key (base64).
pub fn public_key(entry: KeyEntry<'_>) -> Result<String> {
    let pair = signing_key(entry)?;
    Ok(BASE64.encode(pair.public_key().as_ref()))
}

fn signing_key(entry: KeyEntry<'_>) -> Result<Ed25519KeyPair> {
    let name = entry.name;
    let stored = entry.keychain.get(name).map_err(|error| match error {
        KeychainError::NotFound(_) => Error::Evidence(format!(
            "no signing key in keychain entry {name}: create one with `modelbench evidence keygen` (it is kept in the OS keychain)"
        )),
        other => keychain_error(other),
    })?;
    let pkcs8 = BASE64
        .decode(stored.expose().trim())
        .map_err(|_| Error::Evidence(format!("the keychain entry {name} is not a signing key")))?;
    Ed25519KeyPair::from_pkcs8(&pkcs8)
        .map_err(|_| Error::Evidence(format!("the keychain entry {name} is not an Ed25519 key")))
}

fn keychain_error(error: KeychainError) -> Error {
    Error::Evidence(format!("keychain: {error}"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

fn io(context: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |error| Error::Evidence(format!("{context}: {error}"))
}

fn zip_error(error: zip::result::ZipError) -> Error {
    Error::Evidence(format!("the bundle is not a readable zip: {error}"))
}

impl Workbench {
    /// The evidence bundle of session `id` (or a unique prefix), signed with the key in `key`
    /// when one is given.
    pub fn export_evidence(&self, id: &str, key: Option<KeyEntry<'_>>) -> Result<Exported> {
        let signer = key.map(signing_key).transpose()?;
        let (session, analysis) = self.analyse_session(id)?;
        let method = crate::session::method(&session, &analysis);
        let session_id = session.row.id;

        let scratch = tempfile::tempdir().map_err(io("cannot make a temporary folder"))?;
        let database = scratch.path().join(DATABASE);
        let tables = self.store().copy_session(session_id, &database)?;
        let database = std::fs::read(&database).map_err(io("cannot read the session database copy"))?;

        let json = modelbench_engine::session::report::render(&analysis, &method, Format::Json);
        let html = modelbench_engine::session::report::render(&analysis, &method, Format::Html);
        let pdf = crate::pdf::session_pdf(&analysis, &method, &[])?;
        let files: Vec<(&str, Vec<u8>)> = vec![
            (DATABASE, database),
            ("report.json", json.into_bytes()),
            ("report.html", html.into_bytes()),
            ("report.pdf", pdf),
            ("METHOD.md", method_text(&session_id.to_string()).into_bytes()),
        ];
        let exported_at_ms = now_unix_ms();
        let manifest = Manifest {
            format: FORMAT.into(),
            modelbench_version: env!("CARGO_PKG_VERSION").into(),
            session_id: session_id.to_string(),
            exported_at_ms,
            exported_at: format!("{} UTC", utc_date_time(exported_at_ms)),
            files: files
                .iter()
                .map(|(path, bytes)| FileEntry {
                    path: (*path).to_owned(),
                    sha256: sha256_hex(bytes),
                    bytes: bytes.len() as u64,
                })
                .collect(),
            tables,
        };
        let mut manifest_bytes =
            serde_json::to_vec_pretty(&manifest).map_err(|error| Error::Evidence(error.to_string()))?;
        manifest_bytes.push(b'\n');
        let signature = signer.as_ref().map(|pair| SignatureFile {
            algorithm: "ed25519".into(),
            public_key: BASE64.encode(pair.public_key().as_ref()),
            signature: BASE64.encode(pair.sign(&manifest_bytes).as_ref()),
        });

        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        let mut add = |path: &str, bytes: &[u8]| -> Result<()> {
            zip.start_file(path, options).map_err(zip_error)?;
            zip.write_all(bytes).map_err(io("cannot write the bundle"))
        };
        for (path, bytes) in &files {
            add(path, bytes)?;
        }
        add(MANIFEST, &manifest_bytes)?;
        if let Some(signature) = &signature {
            let mut bytes = serde_json::to_vec_pretty(signature).map_err(|error| Error::Evidence(error.to_string()))?;
            bytes.push(b'\n');
            add(SIGNATURE, &bytes)?;
        }
        let zip = zip.finish().map_err(zip_error)?.into_inner();
        Ok(Exported {
            session_id: session_id.to_string(),
            files: manifest.files,
            public_key: signature.map(|signature| signature.public_key),
            zip,
        })
    }
}

/// Checks bundle `zip`; with `public_key` (base64), also that it is signed with that key.
pub async fn verify(zip: &[u8], public_key: Option<&str>) -> Result<Verification> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).map_err(zip_error)?;
    let mut contents = BTreeMap::new();
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).map_err(zip_error)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io("cannot read the bundle"))?;
        let name = file.name().map_err(zip_error)?.into_owned();
        contents.insert(name, bytes);
    }
    let mut verification = Verification {
        session_id: None,
        files_checked: 0,
        tables_checked: 0,
        values_compared: 0,
        signed_by: None,
        key_matches: None,
        problems: Vec::new(),
        notes: Vec::new(),
    };
    let Some(manifest_bytes) = contents.get(MANIFEST) else {
        verification
            .problems
            .push(format!("{MANIFEST} is missing: this is not an evidence bundle"));
        return Ok(verification);
    };
    let manifest: Manifest = match serde_json::from_slice(manifest_bytes) {
        Ok(manifest) => manifest,
        Err(error) => {
            verification
                .problems
                .push(format!("{MANIFEST} is not a manifest: {error}"));
            return Ok(verification);
        }
    };
    if manifest.format != FORMAT {
        verification
            .problems
            .push(format!("{MANIFEST}: format {} is not {FORMAT}", manifest.format));
    }
    verification.session_id = Some(manifest.session_id.clone());

    check_signature(&contents, manifest_bytes, public_key, &mut verification);
    check_files(&contents, &manifest, &mut verification);
    if let Some(database) = contents.get(DATABASE) {
        recompute(database, &manifest, contents.get("report.json"), &mut verification).await?;
    }
    Ok(verification)
}

fn check_signature(
    contents: &BTreeMap<String, Vec<u8>>,
    manifest: &[u8],
    public_key: Option<&str>,
    verification: &mut Verification,
) {
    let Some(bytes) = contents.get(SIGNATURE) else {
        if public_key.is_some() {
            verification.problems.push(format!(
                "the bundle is not signed ({SIGNATURE} is missing), so it cannot be checked against the public key"
            ));
        } else {
            verification.notes.push("the bundle is not signed".into());
        }
        return;
    };
    let signature: SignatureFile = match serde_json::from_slice(bytes) {
        Ok(signature) => signature,
        Err(error) => {
            verification
                .problems
                .push(format!("{SIGNATURE} is unreadable: {error}"));
            return;
        }
    };
    let decoded = (
        BASE64.decode(signature.public_key.trim()),
        BASE64.decode(signature.signature.trim()),
    );
    let (Ok(key), Ok(sig)) = decoded else {
        verification
            .problems
            .push(format!("{SIGNATURE}: the key or signature is not base64"));
        return;
    };
    if signature.algorithm != "ed25519" {
        verification
            .problems
            .push(format!("{SIGNATURE}: algorithm {} is not ed25519", signature.algorithm));
        return;
    }
    if UnparsedPublicKey::new(&ED25519, &key).verify(manifest, &sig).is_err() {
        verification.problems.push(format!(
            "the signature does not match {MANIFEST}: the manifest was changed after signing"
        ));
    } else {
        verification.signed_by = Some(signature.public_key.clone());
    }
    match public_key {
        Some(expected) => {
            let matches = BASE64.decode(expected.trim()).is_ok_and(|expected| expected == key);
            verification.key_matches = Some(matches);
            if !matches {
                verification.problems.push(format!(
                    "signed with key {}, not the public key given",
                    signature.public_key
                ));
            }
        }
        None => verification.notes.push(format!(
            "signed with key {}; pass --public-key with the key your team published to check whose it is",
            signature.public_key
        )),
    }
}

fn check_files(contents: &BTreeMap<String, Vec<u8>>, manifest: &Manifest, verification: &mut Verification) {
    let mut listed = BTreeSet::new();
    for entry in &manifest.files {
        listed.insert(entry.path.as_str());
        match contents.get(&entry.path) {
            None => verification
                .problems
                .push(format!("{}: missing from the bundle", entry.path)),
            Some(bytes) => {
                verification.files_checked += 1;
                let digest = sha256_hex(bytes);
                if digest != entry.sha256 || bytes.len() as u64 != entry.bytes {
                    verification.problems.push(format!(
                        "{}: changed (SHA-256 {digest}, {} bytes; the manifest says {}, {} bytes)",
                        entry.path,
                        bytes.len(),
                        entry.sha256,
                        entry.bytes
                    ));
                }
            }
        }
    }
    for path in contents.keys() {
        if !listed.contains(path.as_str()) && path != MANIFEST && path != SIGNATURE {
            verification
                .problems
                .push(format!("{path}: in the bundle but not in the manifest"));
        }
    }
}

/// The database's tables against the manifest, then the statistics from its rows against
/// `report.json`.
async fn recompute(
    database: &[u8],
    manifest: &Manifest,
    report: Option<&Vec<u8>>,
    verification: &mut Verification,
) -> Result<()> {
    let scratch = tempfile::tempdir().map_err(io("cannot make a temporary folder"))?;
    let path = scratch.path().join(DATABASE);
    std::fs::write(&path, database).map_err(io("cannot unpack the database"))?;
    let tables = match file_table_digests(&path) {
        Ok(tables) => tables,
        Err(error) => {
            verification
                .problems
                .push(format!("{DATABASE}: not a readable session database: {error}"));
            return Ok(());
        }
    };
    for expected in &manifest.tables {
        verification.tables_checked += 1;
        match tables.iter().find(|table| table.table == expected.table) {
            None => verification
                .problems
                .push(format!("{DATABASE}: table {} is missing", expected.table)),
            Some(actual) if actual.rows != expected.rows => verification.problems.push(format!(
                "{DATABASE}: table {} has {} row(s); the manifest says {}",
                expected.table, actual.rows, expected.rows
            )),
            Some(actual) if actual.sha256 != expected.sha256 => verification.problems.push(format!(
                "{DATABASE}: a row of table {} was changed (its digest differs from the manifest's)",
                expected.table
            )),
            Some(_) => {}
        }
    }
    let Some(report) = report else { return Ok(()) };
    let bundled: Value = match serde_json::from_slice(report) {
        Ok(value) => value,
        Err(error) => {
            verification.problems.push(format!("report.json: not JSON: {error}"));
            return Ok(());
        }
    };
    let store = match Store::open(&path) {
        Ok(store) => Arc::new(store),
        Err(error) => {
            verification
                .problems
                .push(format!("{DATABASE}: cannot be opened: {error}"));
            return Ok(());
        }
    };
    let workbench = Workbench::new(store, Arc::new(StaticCredentials::default()))?;
    let session_id = manifest.session_id.clone();
    let recomputed = tokio::task::spawn_blocking(move || {
        let (session, analysis) = workbench.analyse_session(&session_id)?;
        let method = crate::session::method(&session, &analysis);
        Ok::<_, Error>(json_document(&analysis, &method))
    })
    .await
    .map_err(|error| Error::Stopped(error.to_string()))?;
    match recomputed {
        Ok(recomputed) => {
            let mut differences = Vec::new();
            verification.values_compared = compare(&bundled, &recomputed, String::new(), &mut differences);
            const SHOWN: usize = 20;
            let count = differences.len();
            verification.problems.extend(
                differences
                    .into_iter()
                    .take(SHOWN)
                    .map(|difference| format!("report.json: {difference}")),
            );
            if count > SHOWN {
                verification
                    .problems
                    .push(format!("report.json: {} more value(s) differ", count - SHOWN));
            }
        }
        Err(error) => verification
            .problems
            .push(format!("the statistics cannot be recomputed from {DATABASE}: {error}")),
    }
    Ok(())
}

/// Compares the bundled report with the recomputed one, value by value; returns how many leaf
/// values were compared.
fn compare(bundled: &Value, recomputed: &Value, path: String, differences: &mut Vec<String>) -> usize {
    let name = |path: &str| {
        if path.is_empty() {
            "the document".to_owned()
        } else {
            path.to_owned()
        }
    };
    match (bundled, recomputed) {
        (Value::Object(left), Value::Object(right)) => {
            let keys: BTreeSet<&String> = left.keys().chain(right.keys()).collect();
            keys.into_iter()
                .map(|key| {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    match (left.get(key), right.get(key)) {
                        (Some(left), Some(right)) => compare(left, right, child, differences),
                        (Some(_), None) => {
                            differences.push(format!("{child} is in the bundle but not in the recomputed report"));
                            1
                        }
                        (None, _) => {
                            differences.push(format!("{child} is missing from the bundle"));
                            1
                        }
                    }
                })
                .sum()
        }
        (Value::Array(left), Value::Array(right)) => {
            if left.len() != right.len() {
                differences.push(format!(
                    "{} has {} item(s); recomputed from the rows it has {}",
                    name(&path),
                    left.len(),
                    right.len()
                ));
                return 1;
            }
            left.iter()
                .zip(right)
                .enumerate()
                .map(|(index, (left, right))| compare(left, right, format!("{path}[{index}]"), differences))
                .sum()
        }
        (Value::Number(left), Value::Number(right)) => {
            let same = match (left.as_f64(), right.as_f64()) {
                (Some(a), Some(b)) => a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()),
                _ => left == right,
            };
            if !same {
                differences.push(format!(
                    "{} is {left} in the bundle; recomputed from the rows it is {right}",
                    name(&path)
                ));
            }
            1
        }
        (left, right) => {
            if left != right {
                differences.push(format!(
                    "{} is {left} in the bundle; recomputed from the rows it is {right}",
                    name(&path)
                ));
            }
            1
        }
    }
}

/// `METHOD.md`: what the bundle holds and how to check it by hand.
fn method_text(session_id: &str) -> String {
    format!(
        "# Evidence bundle of session {session_id}\n\n\
This bundle is the record of one ModelBench evaluation session, sealed when it was exported.\n\n\
## What it holds\n\n\
- `session.sqlite`: a SQLite database with ModelBench's schema and exactly this session's rows: \
the suite's full text and its SHA-256, the session and its options, the run with its targets as \
run (key references only: no key, token or password is ever stored), every prompt, every response \
(text, timings, token usage, cost and the price source it was computed with) and every raw \
stream event the clouds sent, the LLM judges' runs, and the blind panels with their items and \
ratings (the packets' signing tokens are blanked).\n\
- `report.json`, `report.html`, `report.pdf`: the session report, computed from those rows. The \
method section of the report says how every number is made.\n\
- `manifest.json`: the SHA-256 and size of every other file, the row count and SHA-256 of every \
table of `session.sqlite` (each row's values in key order), the ModelBench version and the \
export time.\n\
- `signature.json` (when signed): an Ed25519 signature of the exact bytes of `manifest.json`, \
with the public key. Compare the key with the one your team published.\n\n\
## How to check it\n\n\
`modelbench evidence verify BUNDLE.zip --public-key KEY` checks every hash and the signature, \
then recomputes the session's statistics from `session.sqlite` and compares every value with \
`report.json`. Without ModelBench: check each file's SHA-256 against `manifest.json` \
(`sha256sum`), and the signature with any Ed25519 implementation (the message is \
`manifest.json` as stored, the key and signature are base64).\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_changed_number_is_named_by_its_path() {
        let bundled = json!({"targets": [{"ttft_ms": {"p50": 42.0, "count": 3}}], "status": "completed"});
        let recomputed = json!({"targets": [{"ttft_ms": {"p50": 41.5, "count": 3}}], "status": "completed"});
        let mut differences = Vec::new();
        assert_eq!(compare(&bundled, &recomputed, String::new(), &mut differences), 3);
        assert_eq!(
            differences,
            vec!["targets[0].ttft_ms.p50 is 42.0 in the bundle; recomputed from the rows it is 41.5"]
        );
        let mut none = Vec::new();
        compare(&bundled, &bundled, String::new(), &mut none);
        assert!(none.is_empty(), "{none:?}");
    }

    #[test]
    fn a_missing_row_shows_as_a_shorter_list() {
        let mut differences = Vec::new();
        compare(
            &json!({"failures": [1, 2]}),
            &json!({"failures": [1]}),
            String::new(),
            &mut differences,
        );
        assert_eq!(
            differences,
            vec!["failures has 2 item(s); recomputed from the rows it has 1"]
        );
    }

    #[test]
    fn the_keychain_key_signs_and_is_kept() {
        let keychain = Keychain::with_builder(keyring::mock::default_credential_builder());
        let entry = KeyEntry {
            keychain: &keychain,
            name: SIGNING_KEY,
        };
        let error = public_key(entry).expect_err("no key yet");
        assert!(error.to_string().contains("evidence keygen"), "{error}");
        let public = keygen(entry, false).expect("keygen");
        assert_eq!(public_key(entry).expect("public key"), public);
        let refused = keygen(entry, false).expect_err("one exists");
        assert!(refused.to_string().contains(&public), "{refused}");
        let replaced = keygen(entry, true).expect("replace");
        assert_ne!(replaced, public);
    }
}
