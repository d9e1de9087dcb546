//! AWS Signature Version 4 for Bedrock, over our own reqwest requests.
//!
//! Each attempt is signed just before it is sent (the signature covers the time, the host, the
//! content type and the body's hash) with `aws-sigv4`'s defaults: service `bedrock`, the target's
//! region, and the canonical URI double-encoded, as every AWS service but S3 expects (the model
//! id's `%3A` is signed as `%253A`). Session credentials add `x-amz-security-token`.
//!
//! Credentials are either given ([`AwsCredential::Static`]) or come from the standard AWS chain
//! (`aws-config`: environment, shared config and credentials files including SSO profiles, web
//! identity, ECS and IMDS). The chain is built once per profile per process and its credentials
//! are reused until shortly before they expire, so twenty Bedrock targets do not resolve it
//! twenty times: `aws-config`'s providers do not cache on their own (the SDK's clients do).
//! Bedrock API keys need none of this: they are a bearer header set by
//! [`crate::providers::endpoint::headers`]. Left out: SigV4a, presigned URLs, and signing
//! event-stream messages (Bedrock's response streams are not signed per message).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign as sigv4_sign};
use aws_sigv4::sign::v4;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::model::error::{ErrorKind, ProviderError};
use crate::model::target::Target;
use crate::secrets::credentials::AwsCredential;

/// The SigV4 service name of Bedrock Runtime.
pub const SERVICE: &str = "bedrock";
/// The region Bedrock targets default to (as in [`crate::providers::endpoint::resolve`]).
const DEFAULT_REGION: &str = "us-east-1";
/// Credentials this close to expiring are refreshed before signing.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// Signs a POST of `body` to `url` and adds the signature headers to `headers`.
pub async fn sign(
    credential: &AwsCredential,
    target: &Target,
    url: &str,
    headers: &mut HeaderMap,
    body: &[u8],
) -> Result<(), ProviderError> {
    let provider = target.provider.as_str();
    let region = target.region.as_deref().unwrap_or(DEFAULT_REGION);
    let credentials = match credential {
        AwsCredential::Static {
            access_key_id,
            secret_access_key,
            session_token,
        } => Credentials::new(
            access_key_id,
            secret_access_key.expose(),
            session_token.as_ref().map(|token| token.expose().to_owned()),
            None,
            "modelbench-static",
        ),
        AwsCredential::Chain { profile } => chain(profile.as_deref(), region).credentials(provider).await?,
    };
    sign_at(&credentials, region, url, headers, body, SystemTime::now())
        .map_err(|message| ProviderError::new(ErrorKind::Auth, provider, message))
}

/// The signing itself, at a given time (so tests can pin it). Errors never contain secrets.
pub(crate) fn sign_at(
    credentials: &Credentials,
    region: &str,
    url: &str,
    headers: &mut HeaderMap,
    body: &[u8],
    time: SystemTime,
) -> Result<(), String> {
    // aws-sigv4 panics on a URI without a host; refuse it here instead.
    let uri: http::Uri = url
        .parse()
        .map_err(|error| format!("cannot sign a request to '{url}': {error}"))?;
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("cannot sign a request to '{url}': the URL has no host"));
    }
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|error| format!("cannot sign: {error}"))?
        .into();
    // Every header goes into the signature (AWS requires it for `x-amz-*` ones); values that
    // are not visible ASCII cannot be canonicalised and are sent unsigned.
    let signable = headers
        .iter()
        .filter_map(|(name, value)| value.to_str().ok().map(|value| (name.as_str(), value)));
    let request = SignableRequest::new("POST", url, signable, SignableBody::Bytes(body))
        .map_err(|error| format!("cannot sign a request to '{url}': {error}"))?;
    let (instructions, _signature) = sigv4_sign(request, &params)
        .map_err(|error| format!("cannot sign: {error}"))?
        .into_parts();
    let (signature_headers, _query) = instructions.into_parts();
    for header in signature_headers {
        let name = HeaderName::from_static(header.name());
        let mut value = HeaderValue::from_str(header.value())
            .map_err(|_| format!("the signature header {name} is not a valid header value"))?;
        value.set_sensitive(header.sensitive() || matches!(header.name(), "authorization" | "x-amz-security-token"));
        headers.insert(name, value);
    }
    Ok(())
}

/// One profile's credential chain and the credentials it last gave.
struct Chain {
    profile: Option<String>,
    region: String,
    state: tokio::sync::Mutex<ChainState>,
}

#[derive(Default)]
struct ChainState {
    provider: Option<SharedCredentialsProvider>,
    credentials: Option<Credentials>,
}

/// The chain for `profile` (`None`: the default chain, which honours `AWS_PROFILE`), shared by
/// every target in the process that uses it.
fn chain(profile: Option<&str>, region: &str) -> Arc<Chain> {
    static CHAINS: OnceLock<Mutex<HashMap<Option<String>, Arc<Chain>>>> = OnceLock::new();
    let mut chains = CHAINS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    chains
        .entry(profile.map(str::to_owned))
        .or_insert_with(|| {
            Arc::new(Chain {
                profile: profile.map(str::to_owned),
                region: region.to_owned(),
                state: tokio::sync::Mutex::default(),
            })
        })
        .clone()
}

impl Chain {
    /// Credentials that are good for a while yet. Concurrent callers wait for one resolution.
    async fn credentials(&self, provider_name: &str) -> Result<Credentials, ProviderError> {
        let mut state = self.state.lock().await;
        if let Some(credentials) = state.credentials.as_ref().filter(|credentials| fresh(credentials)) {
            return Ok(credentials.clone());
        }
        let provider = match &state.provider {
            Some(provider) => provider.clone(),
            None => {
                let provider = self.load().await.ok_or_else(|| {
                    self.no_credentials(provider_name, "the AWS configuration has no credentials provider")
                })?;
                state.provider = Some(provider.clone());
                provider
            }
        };
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|error| self.no_credentials(provider_name, &super::error_chain(&error)))?;
        state.credentials = Some(credentials.clone());
        Ok(credentials)
    }

    async fn load(&self) -> Option<SharedCredentialsProvider> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(self.region.clone()));
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        loader.load().await.credentials_provider()
    }

    /// What went wrong and what to set. `cause` comes from `aws-config`, which never puts key
    /// material in its errors.
    fn no_credentials(&self, provider_name: &str, cause: &str) -> ProviderError {
        let which = match &self.profile {
            Some(profile) => format!("profile '{profile}'"),
            None => "the default AWS credential chain".to_owned(),
        };
        ProviderError::new(
            ErrorKind::Auth,
            provider_name,
            format!(
                "no AWS credentials from {which} ({cause}). Set AWS_PROFILE or the target's \
                 `profile` field to a configured profile, run `aws sso login` if it uses SSO, \
                 set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use a Bedrock API key in \
                 AWS_BEARER_TOKEN_BEDROCK"
            ),
        )
    }
}

fn fresh(credentials: &Credentials) -> bool {
    credentials
        .expiry()
        .is_none_or(|expiry| expiry > SystemTime::now() + REFRESH_BEFORE_EXPIRY)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_credential_types::provider::error::CredentialsError;
    use aws_credential_types::provider::future;

    use super::*;
    use crate::model::target::ProviderKind;
    use crate::secrets::secret::Secret;

    const URL: &str = "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-sonnet-20240229-v1%3A0/converse-stream";
    const BODY: &[u8] = br#"{"messages":[{"role":"user","content":[{"text":"Hello"}]}]}"#;
    const ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
    const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    /// 2024-01-02T03:04:05Z.
    fn fixed_time() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_164_645)
    }

    fn json_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers
    }

    /// The expected signature was computed independently (Python's hmac/hashlib, following the
    /// SigV4 specification) from this canonical request, whose path is double-encoded:
    ///
    /// ```text
    /// POST
    /// /model/anthropic.claude-3-sonnet-20240229-v1%253A0/converse-stream
    ///
    /// content-type:application/json
    /// host:bedrock-runtime.us-east-1.amazonaws.com
    /// x-amz-date:20240102T030405Z
    ///
    /// content-type;host;x-amz-date
    /// <sha256 of BODY>
    /// ```
    #[test]
    fn signs_like_the_sigv4_specification() {
        let credentials = Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "test");
        let mut headers = json_headers();
        sign_at(&credentials, "us-east-1", URL, &mut headers, BODY, fixed_time()).expect("signs");
        assert_eq!(headers["x-amz-date"], "20240102T030405Z");
        assert_eq!(
            headers["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/bedrock/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=cd0b785213a7154f556ebea8f22441cc167184dd7fd1777a698ea34700db0df4"
        );
        assert!(headers["authorization"].is_sensitive());
        assert!(!headers.contains_key("x-amz-security-token"));
        assert!(!format!("{headers:?}").contains(SECRET_ACCESS_KEY));
    }

    #[test]
    fn session_credentials_send_and_sign_their_token() {
        let credentials = Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            Some("session-token-example".to_owned()),
            None,
            "test",
        );
        let mut headers = json_headers();
        sign_at(&credentials, "eu-west-3", URL, &mut headers, BODY, fixed_time()).expect("signs");
        assert_eq!(headers["x-amz-security-token"], "session-token-example");
        assert!(headers["x-amz-security-token"].is_sensitive());
        let authorization = headers["authorization"].to_str().expect("ascii");
        assert!(
            authorization
                .starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/eu-west-3/bedrock/aws4_request, "),
            "{authorization}"
        );
        assert!(
            authorization.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "),
            "{authorization}"
        );
        assert_eq!(
            authorization
                .rsplit_once("Signature=")
                .map(|(_, signature)| signature.len()),
            Some(64)
        );
    }

    #[test]
    fn the_signature_covers_body_host_and_path() {
        let credentials = Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "test");
        let signature = |url: &str, body: &[u8]| {
            let mut headers = json_headers();
            sign_at(&credentials, "us-east-1", url, &mut headers, body, fixed_time()).expect("signs");
            headers["authorization"].to_str().expect("ascii").to_owned()
        };
        let base = signature(URL, BODY);
        assert_ne!(base, signature(URL, b"{}"));
        assert_ne!(base, signature(&URL.replace("%3A", ":"), BODY));
        assert_ne!(base, signature("http://127.0.0.1:4010/model/m/converse-stream", BODY));
        assert_eq!(base, signature(URL, BODY), "deterministic at a fixed time");
    }

    #[test]
    fn a_url_without_a_host_is_an_error_not_a_panic() {
        let credentials = Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "test");
        let error = sign_at(
            &credentials,
            "us-east-1",
            "/model/m/converse-stream",
            &mut HeaderMap::new(),
            b"",
            fixed_time(),
        )
        .expect_err("no host");
        assert!(error.contains("no host"), "{error}");
    }

    #[tokio::test]
    async fn static_credentials_sign_through_the_public_entry_point() {
        let mut target = Target::new("b", ProviderKind::Bedrock, "anthropic.claude-3-sonnet-20240229-v1:0");
        target.region = Some("us-west-2".into());
        let credential = AwsCredential::Static {
            access_key_id: ACCESS_KEY_ID.into(),
            secret_access_key: Secret::new(SECRET_ACCESS_KEY),
            session_token: Some(Secret::new("token-123")),
        };
        let mut headers = json_headers();
        sign(&credential, &target, URL, &mut headers, BODY)
            .await
            .expect("signs");
        let authorization = headers["authorization"].to_str().expect("ascii");
        assert!(
            authorization.contains("/us-west-2/bedrock/aws4_request"),
            "{authorization}"
        );
        assert_eq!(headers["x-amz-security-token"], "token-123");
    }

    /// A provider that counts its calls and hands out `credentials`, or fails.
    #[derive(Debug)]
    struct Counting {
        calls: AtomicUsize,
        credentials: Option<Credentials>,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.calls.fetch_add(1, Ordering::SeqCst);
            future::ProvideCredentials::ready(
                self.credentials
                    .clone()
                    .ok_or_else(|| CredentialsError::not_loaded("no providers in chain provided credentials")),
            )
        }
    }

    fn chain_with(provider: Arc<Counting>, profile: Option<&str>) -> Chain {
        Chain {
            profile: profile.map(str::to_owned),
            region: "us-east-1".to_owned(),
            state: tokio::sync::Mutex::new(ChainState {
                provider: Some(SharedCredentialsProvider::new(ArcProvider(provider))),
                credentials: None,
            }),
        }
    }

    #[derive(Debug)]
    struct ArcProvider(Arc<Counting>);

    impl ProvideCredentials for ArcProvider {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.0.provide_credentials()
        }
    }

    #[tokio::test]
    async fn chain_credentials_are_reused_until_they_near_expiry() {
        let lasting = Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            Some("t".into()),
            Some(SystemTime::now() + Duration::from_secs(3600)),
            "test",
        );
        let counting = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            credentials: Some(lasting),
        });
        let chain = chain_with(counting.clone(), Some("prod"));
        for _ in 0..20 {
            chain.credentials("bedrock").await.expect("credentials");
        }
        assert_eq!(counting.calls.load(Ordering::SeqCst), 1);

        let expiring = Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            Some(SystemTime::now() + Duration::from_secs(60)),
            "test",
        );
        let counting = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            credentials: Some(expiring),
        });
        let chain = chain_with(counting.clone(), None);
        chain.credentials("bedrock").await.expect("credentials");
        chain.credentials("bedrock").await.expect("credentials");
        assert_eq!(
            counting.calls.load(Ordering::SeqCst),
            2,
            "refreshed when about to expire"
        );
    }

    #[tokio::test]
    async fn an_empty_chain_is_an_auth_error_that_says_what_to_set() {
        let counting = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            credentials: None,
        });
        let error = chain_with(counting, Some("prod"))
            .credentials("bedrock")
            .await
            .expect_err("no credentials");
        assert_eq!(error.kind, ErrorKind::Auth);
        assert!(!error.retryable());
        for needle in [
            "profile 'prod'",
            "no providers in chain provided credentials",
            "AWS_PROFILE",
            "`profile`",
            "aws sso login",
            "AWS_BEARER_TOKEN_BEDROCK",
        ] {
            assert!(error.message.contains(needle), "{needle}: {}", error.message);
        }
    }

    #[test]
    fn one_chain_per_profile_per_process() {
        let first = chain(Some("modelbench-test-profile"), "us-east-1");
        let again = chain(Some("modelbench-test-profile"), "eu-west-1");
        let other = chain(Some("modelbench-other-test-profile"), "us-east-1");
        assert!(Arc::ptr_eq(&first, &again));
        assert!(!Arc::ptr_eq(&first, &other));
    }
}
