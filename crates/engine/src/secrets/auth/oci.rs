//! OCI request signing (HTTP Signature v1, RSA PKCS#1 v1.5 over SHA-256), for OCI Generative AI
//! targets without an API key.
//!
//! Each attempt is signed just before it is sent: a POST signs `date (request-target) host
//! content-length content-type x-content-sha256` (the service refuses a POST that signs less),
//! `x-content-sha256` being the base64 SHA-256 of the exact body bytes. The key id is
//! `{tenancy}/{user}/{fingerprint}` for an API signing key, `ST${token}` for a session token
//! (`oci session authenticate`) or a resource principal.
//!
//! The credentials come the way OCI users have them, first found wins:
//! 1. a resource principal (`OCI_RESOURCE_PRINCIPAL_VERSION` 2.2: `OCI_RESOURCE_PRINCIPAL_RPST`
//!    and `OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM`, each the value or a file holding it);
//! 2. environment variables, all four set: `OCI_CLI_USER`, `OCI_CLI_TENANCY`,
//!    `OCI_CLI_FINGERPRINT`, `OCI_CLI_KEY_FILE` (the OCI CLI's names), or the same without `CLI_`
//!    (`OCI_USER`, …, as `reqsign-oracle` reads them);
//! 3. a profile of the OCI config file (`OCI_CONFIG_FILE` or `OCI_CLI_CONFIG_FILE`, else
//!    `~/.oci/config`): the target's `profile`, else `OCI_PROFILE`/`OCI_CLI_PROFILE`, else
//!    `DEFAULT` (whose keys the other profiles inherit), with `key_file` and, for session
//!    tokens, `security_token_file` (read at every signature: `oci session refresh` rewrites it).
//!
//! A target's `profile` skips 1 and 2. Why not `reqsign-oracle`: its 3.0.7 signs only `date
//! (request-target) host`, which OCI refuses for a POST with a body, and it reads PKCS#8 keys
//! only, while `oci setup config` writes PKCS#1 ones. The RSA itself is `ring`'s (already in the
//! tree under rustls, constant-time, and it reads both key forms); the PEM armour is base64.
//! Left out: passphrase-protected keys (a clear error says how to decrypt one), instance
//! principals (they need the instance metadata service and a certificate exchange).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use sha2::{Digest, Sha256};

use crate::model::error::{ErrorKind, ProviderError};
use crate::model::target::Target;
use crate::secrets::credentials::OciCredential;
use crate::secrets::secret::Secret;

/// The headers a POST signs, in order.
pub const SIGNED_HEADERS: &str = "date (request-target) host content-length content-type x-content-sha256";

/// A key ready to sign, and whose key id to name.
#[derive(Clone)]
pub struct Signer {
    key_id: KeyId,
    key: Arc<RsaKeyPair>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Signer").finish_non_exhaustive()
    }
}

/// Where the key id comes from: fixed, or a session token file read at every signature.
#[derive(Clone)]
enum KeyId {
    Fixed(Secret),
    TokenFile(PathBuf),
}

impl Signer {
    /// A signer for `key_id` (`tenancy/user/fingerprint` or `ST$token`) with a PEM private key
    /// (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`). Errors name the problem, never the key.
    pub fn new(key_id: Secret, private_key_pem: &Secret) -> Result<Self, String> {
        Ok(Self {
            key_id: KeyId::Fixed(key_id),
            key: Arc::new(parse_private_key(
                private_key_pem.expose(),
                "the private key",
                KEY_FILE_HINT,
            )?),
        })
    }

    fn key_id(&self) -> Result<Secret, String> {
        match &self.key_id {
            KeyId::Fixed(key_id) => Ok(key_id.clone()),
            KeyId::TokenFile(path) => {
                let token = std::fs::read_to_string(path)
                    .map_err(|error| format!("cannot read the session token file {}: {error}", path.display()))?;
                let token = token.trim();
                if token.is_empty() {
                    return Err(format!("the session token file {} is empty", path.display()));
                }
                Ok(Secret::new(format!("ST${token}")))
            }
        }
    }

    /// Signs a POST of `body` to `url` at `time`, adding `date`, `x-content-sha256` and
    /// `authorization` to `headers` (which must hold the `content-type` to sign).
    pub fn sign_at(&self, url: &str, headers: &mut HeaderMap, body: &[u8], time: SystemTime) -> Result<(), String> {
        let url = reqwest::Url::parse(url).map_err(|error| format!("cannot sign a request to '{url}': {error}"))?;
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(format!("cannot sign a request to '{url}': the URL has no host")),
        };
        let target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let content_type = headers
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("application/json")
            .to_owned();
        let date = httpdate::fmt_http_date(time);
        let digest = BASE64.encode(Sha256::digest(body));
        let signing_string = signing_string(&date, &target, &host, body.len(), &content_type, &digest);
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_string.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "the private key could not sign the request".to_owned())?;
        let key_id = self.key_id()?;
        let authorization = format!(
            "Signature version=\"1\",keyId=\"{}\",algorithm=\"rsa-sha256\",headers=\"{SIGNED_HEADERS}\",signature=\"{}\"",
            key_id.expose(),
            BASE64.encode(signature)
        );
        let value = |text: &str, what: &str| {
            HeaderValue::from_str(text).map_err(|_| format!("the {what} has characters not allowed in an HTTP header"))
        };
        headers.insert(HeaderName::from_static("date"), value(&date, "date")?);
        headers.insert(
            HeaderName::from_static("x-content-sha256"),
            value(&digest, "body digest")?,
        );
        headers.insert("content-type", value(&content_type, "content type")?);
        let mut authorization = value(&authorization, "key id")?;
        authorization.set_sensitive(true);
        headers.insert(AUTHORIZATION, authorization);
        Ok(())
    }
}

/// Oracle's signing string: one `name: value` line per signed header, joined by `\n`.
pub fn signing_string(date: &str, target: &str, host: &str, length: usize, content_type: &str, digest: &str) -> String {
    format!(
        "date: {date}\n(request-target): post {target}\nhost: {host}\ncontent-length: {length}\ncontent-type: {content_type}\nx-content-sha256: {digest}"
    )
}

/// Where an OCI user points a decrypted key.
const KEY_FILE_HINT: &str = "point key_file at it";

/// A PEM private key, PKCS#1 or PKCS#8. `what` names it in errors (a file, never its content);
/// `decrypted_hint` says where to point a decrypted copy of an encrypted one.
pub(crate) fn parse_private_key(pem: &str, what: &str, decrypted_hint: &str) -> Result<RsaKeyPair, String> {
    if pem.contains("ENCRYPTED") {
        return Err(format!(
            "{what} is encrypted with a passphrase, which ModelBench does not read: write a decrypted copy with `openssl rsa -in KEY -out KEY.decrypted` and {decrypted_hint}"
        ));
    }
    let block = |label: &str| {
        let begin = format!("-----BEGIN {label}-----");
        let end = format!("-----END {label}-----");
        let start = pem.find(&begin)? + begin.len();
        let stop = pem[start..].find(&end)? + start;
        let base64: String = pem[start..stop].split_whitespace().collect();
        Some(BASE64.decode(base64))
    };
    let invalid = |error: &dyn std::fmt::Display| format!("{what} is not a valid RSA private key ({error})");
    if let Some(der) = block("RSA PRIVATE KEY") {
        let der = der.map_err(|error| invalid(&error))?;
        return RsaKeyPair::from_der(&der).map_err(|error| invalid(&error));
    }
    if let Some(der) = block("PRIVATE KEY") {
        let der = der.map_err(|error| invalid(&error))?;
        return RsaKeyPair::from_pkcs8(&der).map_err(|error| invalid(&error));
    }
    Err(format!(
        "{what} is no PEM RSA private key (expected -----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)"
    ))
}

/// Signs one request for `target` with `credential`.
pub async fn sign(
    credential: &OciCredential,
    target: &Target,
    url: &str,
    headers: &mut HeaderMap,
    body: &[u8],
) -> Result<(), ProviderError> {
    let provider = target.provider.as_str();
    let auth_error = |message: String| ProviderError::new(ErrorKind::Auth, provider, message);
    let signer = match credential {
        OciCredential::Static {
            key_id,
            private_key_pem,
        } => Signer::new(key_id.clone(), private_key_pem).map_err(auth_error)?,
        OciCredential::Chain { profile } => {
            let profile = profile.clone();
            tokio::task::spawn_blocking(move || cached_signer(profile.as_deref(), &Environment::process()))
                .await
                .map_err(|error| auth_error(format!("the OCI credential lookup stopped: {error}")))?
                .map_err(auth_error)?
        }
    };
    signer
        .sign_at(url, headers, body, SystemTime::now())
        .map_err(auth_error)
}

/// The signer for `profile`, loaded once per process (the key file is parsed once; a session
/// token file is still read at every signature). A failure is not remembered.
fn cached_signer(profile: Option<&str>, environment: &Environment) -> Result<Signer, String> {
    static SIGNERS: Mutex<Option<HashMap<Option<String>, Signer>>> = Mutex::new(None);
    let key = profile.map(str::to_owned);
    if let Some(signer) = SIGNERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashMap::new)
        .get(&key)
    {
        return Ok(signer.clone());
    }
    let signer = load(profile, environment)?;
    SIGNERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashMap::new)
        .insert(key, signer.clone());
    Ok(signer)
}

/// Looks an environment variable up by name.
type Variables = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What the lookup reads: environment variables and the home directory (the process's, or a
/// test's).
pub(crate) struct Environment {
    variables: Variables,
    home: Option<PathBuf>,
}

impl Environment {
    pub(crate) fn process() -> Self {
        Self {
            variables: Box::new(|name| std::env::var(name).ok().filter(|value| !value.trim().is_empty())),
            home: directories::BaseDirs::new().map(|directories| directories.home_dir().to_owned()),
        }
    }

    #[cfg(test)]
    fn fixed(variables: &[(&str, &str)], home: &Path) -> Self {
        let variables: HashMap<String, String> = variables
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        Self {
            variables: Box::new(move |name| variables.get(name).cloned()),
            home: Some(home.to_owned()),
        }
    }

    fn get(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|name| (self.variables)(name))
    }

    fn expand(&self, path: &str, relative_to: Option<&Path>) -> PathBuf {
        let path = path.trim();
        if let (Some(rest), Some(home)) = (path.strip_prefix("~/"), &self.home) {
            return home.join(rest);
        }
        let path = PathBuf::from(path);
        match relative_to {
            Some(directory) if path.is_relative() => directory.join(path),
            _ => path,
        }
    }
}

/// Finds the credentials (see the module comment for the order) and loads the key.
fn load(profile: Option<&str>, environment: &Environment) -> Result<Signer, String> {
    if profile.is_none() {
        if let Some(version) = environment.get(&["OCI_RESOURCE_PRINCIPAL_VERSION"]) {
            return resource_principal(&version, environment);
        }
        let names = |name: &str| [format!("OCI_CLI_{name}"), format!("OCI_{name}")];
        let find = |name: &str| {
            let [cli, plain] = names(name);
            environment.get(&[&cli, &plain])
        };
        if let (Some(user), Some(tenancy), Some(fingerprint), Some(key_file)) =
            (find("USER"), find("TENANCY"), find("FINGERPRINT"), find("KEY_FILE"))
        {
            let path = environment.expand(&key_file, None);
            return Ok(Signer {
                key_id: KeyId::Fixed(Secret::new(format!("{tenancy}/{user}/{fingerprint}"))),
                key: Arc::new(read_key(&path)?),
            });
        }
    }
    let path = match environment.get(&["OCI_CONFIG_FILE", "OCI_CLI_CONFIG_FILE"]) {
        Some(path) => environment.expand(&path, None),
        None => match &environment.home {
            Some(home) => home.join(".oci").join("config"),
            None => return Err(no_credentials("no home directory to find ~/.oci/config in")),
        },
    };
    let profile = profile
        .map(str::to_owned)
        .or_else(|| environment.get(&["OCI_PROFILE", "OCI_CLI_PROFILE"]))
        .unwrap_or_else(|| "DEFAULT".to_owned());
    let text = std::fs::read_to_string(&path)
        .map_err(|error| no_credentials(&format!("cannot read the OCI config file {}: {error}", path.display())))?;
    let config = profile_of(&text, &profile).ok_or_else(|| {
        no_credentials(&format!(
            "the OCI config file {} has no profile [{profile}]",
            path.display()
        ))
    })?;
    let directory = path.parent();
    let field = |name: &str| {
        config.get(name).cloned().ok_or_else(|| {
            format!(
                "the OCI config file {} has no `{name}` in profile [{profile}]",
                path.display()
            )
        })
    };
    let key = read_key(&environment.expand(&field("key_file")?, directory))?;
    let key_id = match config.get("security_token_file") {
        Some(token_file) => KeyId::TokenFile(environment.expand(token_file, directory)),
        None => KeyId::Fixed(Secret::new(format!(
            "{}/{}/{}",
            field("tenancy")?,
            field("user")?,
            field("fingerprint")?
        ))),
    };
    Ok(Signer {
        key_id,
        key: Arc::new(key),
    })
}

fn read_key(path: &Path) -> Result<RsaKeyPair, String> {
    let pem = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read the OCI private key {}: {error}", path.display()))?;
    parse_private_key(&pem, &format!("the OCI private key {}", path.display()), KEY_FILE_HINT)
}

/// A resource principal (version 2.2): a session token and its private key, each given as the
/// value itself or as the path of a file holding it.
fn resource_principal(version: &str, environment: &Environment) -> Result<Signer, String> {
    if version.trim() != "2.2" {
        return Err(format!(
            "OCI_RESOURCE_PRINCIPAL_VERSION {version} is not supported (only 2.2, with OCI_RESOURCE_PRINCIPAL_RPST and OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM)"
        ));
    }
    let value_or_file = |name: &str| -> Result<String, String> {
        let value = environment
            .get(&[name])
            .ok_or_else(|| format!("a resource principal needs {name}"))?;
        if value.trim_start().starts_with("-----BEGIN") || !Path::new(value.trim()).is_absolute() {
            return Ok(value);
        }
        std::fs::read_to_string(value.trim()).map_err(|error| format!("cannot read {name} ({}): {error}", value.trim()))
    };
    let token = value_or_file("OCI_RESOURCE_PRINCIPAL_RPST")?;
    let pem = value_or_file("OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM")?;
    Ok(Signer {
        key_id: KeyId::Fixed(Secret::new(format!("ST${}", token.trim()))),
        key: Arc::new(parse_private_key(
            &pem,
            "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM",
            KEY_FILE_HINT,
        )?),
    })
}

fn no_credentials(cause: &str) -> String {
    format!(
        "no OCI credentials ({cause}). Run `oci setup config` (or `oci session authenticate` and set the target's `profile`), set OCI_CONFIG_FILE and OCI_PROFILE, set OCI_CLI_USER, OCI_CLI_TENANCY, OCI_CLI_FINGERPRINT and OCI_CLI_KEY_FILE, or use an OCI Generative AI API key in OCI_GENAI_API_KEY (openai-chat and openai-responses only)"
    )
}

/// The profile `name` of an OCI config file (INI), with `DEFAULT`'s keys as its defaults.
fn profile_of(text: &str, name: &str) -> Option<HashMap<String, String>> {
    let mut sections: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
            let section = section.trim().to_owned();
            sections.entry(section.clone()).or_default();
            current = Some(section);
        } else if let (Some(section), Some((key, value))) = (&current, line.split_once('=')) {
            sections
                .entry(section.clone())
                .or_default()
                .insert(key.trim().to_owned(), value.trim().to_owned());
        }
    }
    let mut profile = sections.get("DEFAULT").cloned().unwrap_or_default();
    profile.extend(sections.get(name)?.clone());
    Some(profile)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const KEY_PKCS1: &str = include_str!("../../../../fakecloud/keys/oci_throwaway_key.pem");
    const KEY_PKCS8: &str = include_str!("../../../../fakecloud/keys/oci_throwaway_key.pkcs8.pem");
    const KEY_ID: &str = "ocid1.tenancy.oc1..aaaa/ocid1.user.oc1..bbbb/50:3d:6a:8e:2c:95:b5:36:89:5b:25:96:f7:ab:81:53";
    const URL: &str = "https://inference.generativeai.us-chicago-1.oci.oraclecloud.com/20231130/actions/chat";
    const BODY: &[u8] = br#"{"compartmentId":"ocid1.compartment.oc1..cccc","servingMode":{"servingType":"ON_DEMAND","modelId":"meta.llama-3.3-70b-instruct"}}"#;

    /// 2024-01-02T03:04:05Z.
    fn fixed_time() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_164_645)
    }

    /// The expected values were computed once outside this code, following Oracle's published
    /// procedure: `x-content-sha256` with `openssl dgst -sha256 -binary | base64`, and the
    /// signature with `openssl dgst -sha256 -sign oci_throwaway_key.pem | base64 -w0` over
    /// this signing string:
    ///
    /// ```text
    /// date: Tue, 02 Jan 2024 03:04:05 GMT
    /// (request-target): post /20231130/actions/chat
    /// host: inference.generativeai.us-chicago-1.oci.oraclecloud.com
    /// content-length: 129
    /// content-type: application/json
    /// x-content-sha256: <DIGEST>
    /// ```
    const DIGEST: &str = "4A1MRPCQaxRhAD7JhZDDMDTlHzFJW0cAs6gFYzSk5Wo=";
    const SIGNATURE: &str = "Ft+Tr6k9QACR4yrKi+3Gwh82pnQXekQKyYQl5KhbMfqBI53pWuPhzufkfFYmYn71OqPLIpMSA6cRGBLKWj8MZkOt2bzBq8ssRZd3bZtsV79bUnK5Ksko5dJfatYgdYhuLWt55h6bXkMEdRVunwf2LhMdxycWE4rLP2fR1RmTZ4evxLlnbkCm6g+ettn1blnz+HIQS/QsA9FQ6G2ksNTy6HDxJsfQ22EJ7LoxD4vzkbGxdT987GwZqZMH+xqbYUNGXwou/BsmAze/w2PfoiVv1qfCgGAKPvjArQEO+7wfb07QYcUfNDNhpfm7azpDivvT80UFjaAqTiAJZz3DtvHnpA==";

    fn signed(pem: &str) -> HeaderMap {
        let signer = Signer::new(Secret::new(KEY_ID), &Secret::new(pem)).expect("a valid key");
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        signer.sign_at(URL, &mut headers, BODY, fixed_time()).expect("signed");
        headers
    }

    #[test]
    fn signs_like_oracles_published_procedure_with_either_key_form() {
        for pem in [KEY_PKCS1, KEY_PKCS8] {
            let headers = signed(pem);
            assert_eq!(headers["date"], "Tue, 02 Jan 2024 03:04:05 GMT");
            assert_eq!(headers["x-content-sha256"], DIGEST);
            let authorization = headers["authorization"].to_str().expect("ascii");
            assert_eq!(
                authorization,
                format!(
                    "Signature version=\"1\",keyId=\"{KEY_ID}\",algorithm=\"rsa-sha256\",headers=\"{SIGNED_HEADERS}\",signature=\"{SIGNATURE}\""
                )
            );
            assert!(headers["authorization"].is_sensitive());
        }
    }

    #[test]
    fn bad_keys_are_refused_without_showing_them() {
        let garbage = Secret::new("-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n");
        let error = Signer::new(Secret::new(KEY_ID), &garbage).expect_err("not a key");
        assert!(error.contains("not a valid RSA private key"), "{error}");
        assert!(!error.contains("bm90IGEga2V5"), "{error}");
        let encrypted = Secret::new("-----BEGIN ENCRYPTED PRIVATE KEY-----\nxx\n-----END ENCRYPTED PRIVATE KEY-----");
        let error = Signer::new(Secret::new(KEY_ID), &encrypted).expect_err("encrypted");
        assert!(error.contains("passphrase"), "{error}");
        let error = Signer::new(Secret::new(KEY_ID), &Secret::new("hello")).expect_err("no pem");
        assert!(error.contains("no PEM RSA private key"), "{error}");
    }

    fn write(directory: &Path, name: &str, text: &str) -> PathBuf {
        let path = directory.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    fn key_id_of(signer: &Signer) -> String {
        signer.key_id().expect("key id").expose().to_owned()
    }

    #[test]
    fn credentials_come_from_the_config_file_the_environment_or_a_resource_principal() {
        let home = tempfile::tempdir().expect("tempdir");
        let oci = home.path().join(".oci");
        std::fs::create_dir(&oci).expect("mkdir");
        write(&oci, "key.pem", KEY_PKCS1);
        write(&oci, "token", "SESSIONTOKEN123\n");
        write(
            &oci,
            "config",
            "# comment\n[DEFAULT]\nuser=ocid1.user.oc1..u\nfingerprint=aa:bb\ntenancy=ocid1.tenancy.oc1..t\nregion=us-chicago-1\nkey_file=~/.oci/key.pem\n\n[SESSION]\nkey_file = key.pem\nsecurity_token_file = token\n",
        );
        let environment = Environment::fixed(&[], home.path());
        let default = load(None, &environment).expect("DEFAULT");
        assert_eq!(key_id_of(&default), "ocid1.tenancy.oc1..t/ocid1.user.oc1..u/aa:bb");
        let session = load(Some("SESSION"), &environment).expect("SESSION");
        assert_eq!(key_id_of(&session), "ST$SESSIONTOKEN123");
        let named = Environment::fixed(&[("OCI_PROFILE", "SESSION")], home.path());
        assert_eq!(
            key_id_of(&load(None, &named).expect("OCI_PROFILE")),
            "ST$SESSIONTOKEN123"
        );
        let error = load(Some("NOPE"), &environment).expect_err("no such profile");
        assert!(
            error.contains("no profile [NOPE]") && error.contains("oci setup config"),
            "{error}"
        );

        let key_file = oci.join("key.pem");
        let variables = Environment::fixed(
            &[
                ("OCI_CLI_USER", "ocid1.user.oc1..env"),
                ("OCI_CLI_TENANCY", "ocid1.tenancy.oc1..env"),
                ("OCI_FINGERPRINT", "cc:dd"),
                ("OCI_KEY_FILE", key_file.to_str().expect("utf-8")),
            ],
            home.path(),
        );
        assert_eq!(
            key_id_of(&load(None, &variables).expect("environment")),
            "ocid1.tenancy.oc1..env/ocid1.user.oc1..env/cc:dd"
        );
        // A target's profile means the config file, whatever the environment says.
        assert_eq!(
            key_id_of(&load(Some("DEFAULT"), &variables).expect("profile")),
            "ocid1.tenancy.oc1..t/ocid1.user.oc1..u/aa:bb"
        );

        let principal = Environment::fixed(
            &[
                ("OCI_RESOURCE_PRINCIPAL_VERSION", "2.2"),
                ("OCI_RESOURCE_PRINCIPAL_RPST", "RPSTTOKEN"),
                ("OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM", key_file.to_str().expect("utf-8")),
            ],
            home.path(),
        );
        assert_eq!(
            key_id_of(&load(None, &principal).expect("resource principal")),
            "ST$RPSTTOKEN"
        );

        let empty = tempfile::tempdir().expect("tempdir");
        let error = load(None, &Environment::fixed(&[], empty.path())).expect_err("nothing");
        assert!(
            error.starts_with("no OCI credentials (cannot read the OCI config file"),
            "{error}"
        );
        assert!(error.contains("OCI_GENAI_API_KEY"), "{error}");
    }
}
