//! Microsoft Entra ID tokens for Azure targets with `auth = "entra"` (deployments whose key
//! access is disabled by policy).
//!
//! The credentials are Microsoft's own (`azure_identity`), tried in the order Azure's
//! `DefaultAzureCredential` uses, which that crate no longer assembles in its 1.x releases:
//! a service principal's client secret from the environment (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
//! `AZURE_CLIENT_SECRET`), or its client certificate (`AZURE_CLIENT_CERTIFICATE_PATH`, signed in
//! with a client assertion we sign: [`certificate`]), workload identity
//! (`AZURE_FEDERATED_TOKEN_FILE`), managed identity, then the Azure CLI's login. `AZURE_AUTHORITY_HOST` moves the token endpoint (sovereign clouds,
//! tests). The first that gives a token is remembered and asked first next time.
//!
//! Tokens are cached per scope in memory and fetched again five minutes before they expire (the
//! margin Azure's SDKs use); they are never stored, logged or shown. The chain is built once per
//! process, but a link that failed is tried again on the next request, so signing in while the
//! app runs fixes the next run.
//!
//! Managed identity on a machine outside Azure means waiting on an address nobody answers: its
//! first try is bounded by [`MANAGED_IDENTITY_PROBE`], and one that timed out is not tried again
//! in this process.
//!
//! Left out: PKCS#12 client certificates (see [`certificate`]); the Azure Developer CLI;
//! interactive browser sign-in.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use azure_core::credentials::{AccessToken, TokenCredential};
use azure_core::time::OffsetDateTime;
use azure_identity::{
    AzureCliCredential, ClientSecretCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential,
};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use tokio::sync::Mutex;

use crate::model::error::{ErrorKind, ProviderError};
use crate::model::target::Target;
use crate::secrets::auth::error_chain;

mod certificate;

/// The scope of Azure OpenAI and Foundry resource endpoints (`*.openai.azure.com`,
/// `*.services.ai.azure.com/openai/…`, `*.cognitiveservices.azure.com`).
pub const COGNITIVE_SERVICES_SCOPE: &str = "https://cognitiveservices.azure.com/.default";
/// The scope of Foundry project endpoints (`*.services.ai.azure.com/api/projects/{project}`).
pub const FOUNDRY_PROJECT_SCOPE: &str = "https://ai.azure.com/.default";

/// How long managed identity may take to answer the first time (Azure's SDKs probe for 1 s).
pub const MANAGED_IDENTITY_PROBE: Duration = Duration::from_secs(2);

/// A token closer than this to its expiry is fetched again before use.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// The scope a request to `url` needs: Foundry project endpoints take the Foundry audience,
/// everything else Azure AI services' one.
pub fn scope_for(url: &str) -> &'static str {
    let without_query = url.split(['?', '#']).next().unwrap_or_default();
    let path = without_query.split_once("://").map_or(without_query, |(_, rest)| {
        rest.find('/').map_or("", |start| &rest[start..])
    });
    if path.contains("/api/projects/") {
        FOUNDRY_PROJECT_SCOPE
    } else {
        COGNITIVE_SERVICES_SCOPE
    }
}

/// Sets `Authorization: Bearer <token>` for `target`'s request to `url`.
pub async fn authorize(target: &Target, url: &str, headers: &mut HeaderMap) -> Result<(), ProviderError> {
    static CHAIN: OnceLock<Chain> = OnceLock::new();
    CHAIN
        .get_or_init(Chain::from_environment)
        .authorize(target, url, headers)
        .await
}

/// One way to get a token, as the chain tries it.
struct Link {
    /// How the error names it: "environment", "managed identity"…
    name: &'static str,
    /// The credential, or why it is not configured here.
    credential: Result<Arc<dyn TokenCredential>, String>,
    /// Bounded by [`MANAGED_IDENTITY_PROBE`] until it has answered once.
    probe: bool,
    /// Set up by the user, so a credential that cannot be built is the cause to show (a
    /// certificate file that cannot be read), not merely absent.
    configured: bool,
}

impl Link {
    fn new(name: &'static str, credential: Result<Arc<dyn TokenCredential>, String>) -> Self {
        Self {
            name,
            credential,
            probe: false,
            configured: false,
        }
    }
}

/// The credentials in order, what they gave, and the secret values their errors must not show.
pub(crate) struct Chain {
    links: Vec<Link>,
    /// Tokens by scope; also serialises fetching, so concurrent requests share one token.
    tokens: Mutex<HashMap<&'static str, AccessToken>>,
    /// The link that gave the last token.
    chosen: Mutex<Option<usize>>,
    /// Managed identity answered once (no probe bound any more).
    probe_answered: AtomicBool,
    /// Managed identity timed out once (not tried again).
    probe_timed_out: AtomicBool,
    /// [`MANAGED_IDENTITY_PROBE`], shorter in tests.
    probe_limit: Duration,
    /// Removed from every message: the client secret, should a library ever echo it.
    secrets: Vec<String>,
}

/// What one link said when it gave no token.
struct Tried {
    name: &'static str,
    /// Configured here but refused or broken (as opposed to not configured at all).
    configured: bool,
    reason: String,
}

impl Chain {
    /// The chain from the process environment.
    fn from_environment() -> Self {
        let variable = |name: &str| std::env::var(name).ok().filter(|value| !value.trim().is_empty());
        let tenant = variable("AZURE_TENANT_ID");
        let client = variable("AZURE_CLIENT_ID");
        let secret = variable("AZURE_CLIENT_SECRET");
        let environment = match (&tenant, &client, &secret) {
            (Some(tenant), Some(client), Some(secret)) => {
                ClientSecretCredential::new(tenant, client.clone(), secret.clone().into(), None)
                    .map(|credential| credential as Arc<dyn TokenCredential>)
                    .map_err(|error| error_chain(&error))
            }
            _ => {
                let missing: Vec<&str> = [
                    ("AZURE_TENANT_ID", &tenant),
                    ("AZURE_CLIENT_ID", &client),
                    ("AZURE_CLIENT_SECRET", &secret),
                ]
                .into_iter()
                .filter(|(_, value)| value.is_none())
                .map(|(name, _)| name)
                .collect();
                Err(format!("{} not set", missing.join(", ")))
            }
        };
        let certificate_path = variable("AZURE_CLIENT_CERTIFICATE_PATH");
        let certificate = match (&tenant, &client, &certificate_path) {
            (Some(tenant), Some(client), Some(path)) => certificate::credential(
                tenant,
                client,
                &certificate::CertificateVariables {
                    path: path.clone(),
                    password: variable("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
                    send_chain: variable("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN"),
                    authority_host: variable("AZURE_AUTHORITY_HOST"),
                },
            ),
            _ => {
                let missing: Vec<&str> = [
                    ("AZURE_TENANT_ID", &tenant),
                    ("AZURE_CLIENT_ID", &client),
                    ("AZURE_CLIENT_CERTIFICATE_PATH", &certificate_path),
                ]
                .into_iter()
                .filter(|(_, value)| value.is_none())
                .map(|(name, _)| name)
                .collect();
                Err(format!("{} not set", missing.join(", ")))
            }
        };
        let workload = if variable("AZURE_FEDERATED_TOKEN_FILE").is_some() {
            WorkloadIdentityCredential::new(None)
                .map(|credential| credential as Arc<dyn TokenCredential>)
                .map_err(|error| error_chain(&error))
        } else {
            Err("AZURE_FEDERATED_TOKEN_FILE not set".to_owned())
        };
        // As DefaultAzureCredential does: a client id without a secret or certificate names a
        // user-assigned managed identity.
        let service_principal = secret.is_some() || certificate_path.is_some();
        let managed = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
            user_assigned_id: client.filter(|_| !service_principal).map(UserAssignedId::ClientId),
            ..Default::default()
        }))
        .map(|credential| credential as Arc<dyn TokenCredential>)
        .map_err(|error| error_chain(&error));
        let cli = AzureCliCredential::new(None)
            .map(|credential| credential as Arc<dyn TokenCredential>)
            .map_err(|error| error_chain(&error));
        let mut managed = Link::new("managed identity", managed);
        managed.probe = true;
        let mut certificate = Link::new("environment certificate", certificate);
        certificate.configured = certificate_path.is_some();
        Self::new(
            vec![
                Link::new("environment", environment),
                certificate,
                Link::new("workload identity", workload),
                managed,
                Link::new("Azure CLI", cli),
            ],
            secret.into_iter().collect(),
        )
    }

    fn new(links: Vec<Link>, secrets: Vec<String>) -> Self {
        Self {
            links,
            tokens: Mutex::new(HashMap::new()),
            chosen: Mutex::new(None),
            probe_answered: AtomicBool::new(false),
            probe_timed_out: AtomicBool::new(false),
            probe_limit: MANAGED_IDENTITY_PROBE,
            secrets,
        }
    }

    async fn authorize(&self, target: &Target, url: &str, headers: &mut HeaderMap) -> Result<(), ProviderError> {
        let token = self
            .token(scope_for(url))
            .await
            .map_err(|message| auth_error(target, message))?;
        let mut value = HeaderValue::from_str(&format!("Bearer {}", token.token.secret())).map_err(|_| {
            auth_error(
                target,
                "the Entra access token has characters not allowed in an HTTP header".to_owned(),
            )
        })?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
        Ok(())
    }

    /// A token for `scope`: the cached one while it is fresh, else the first link that gives one.
    async fn token(&self, scope: &'static str) -> Result<AccessToken, String> {
        let mut tokens = self.tokens.lock().await;
        if let Some(token) = tokens.get(scope)
            && token.expires_on - REFRESH_MARGIN > OffsetDateTime::now_utc()
        {
            return Ok(token.clone());
        }
        let mut chosen = self.chosen.lock().await;
        let order: Vec<usize> = chosen
            .iter()
            .copied()
            .chain((0..self.links.len()).filter(|index| Some(*index) != *chosen))
            .collect();
        let mut tried = Vec::new();
        for index in order {
            match self.try_link(&self.links[index], scope).await {
                Ok(token) => {
                    *chosen = Some(index);
                    tokens.insert(scope, token.clone());
                    return Ok(token);
                }
                Err(failure) => tried.push(failure),
            }
        }
        // Report in the chain's order, whichever was asked first.
        tried.sort_by_key(|failure| self.links.iter().position(|link| link.name == failure.name));
        Err(self.redact(no_credential(&tried)))
    }

    async fn try_link(&self, link: &Link, scope: &str) -> Result<AccessToken, Tried> {
        let failed = |configured, reason| Tried {
            name: link.name,
            configured,
            reason,
        };
        let credential = link
            .credential
            .as_ref()
            .map_err(|reason| failed(link.configured, reason.clone()))?;
        let bounded = link.probe && !self.probe_answered.load(Ordering::Relaxed);
        if bounded && self.probe_timed_out.load(Ordering::Relaxed) {
            return Err(failed(false, self.probe_timeout_reason()));
        }
        let scopes = [scope];
        let request = credential.get_token(&scopes, None);
        let answer = if bounded {
            match tokio::time::timeout(self.probe_limit, request).await {
                Ok(answer) => answer,
                Err(_) => {
                    self.probe_timed_out.store(true, Ordering::Relaxed);
                    return Err(failed(false, self.probe_timeout_reason()));
                }
            }
        } else {
            request.await
        };
        match answer {
            Ok(token) => {
                if link.probe {
                    self.probe_answered.store(true, Ordering::Relaxed);
                }
                Ok(token)
            }
            Err(error) => Err(failed(true, one_line(&error_chain(&error)))),
        }
    }

    fn probe_timeout_reason(&self) -> String {
        format!(
            "no managed identity endpoint answered within {} ms",
            self.probe_limit.as_millis()
        )
    }

    fn redact(&self, text: String) -> String {
        self.secrets.iter().fold(text, |text, secret| {
            text.replace(secret.as_str(), crate::secrets::secret::REDACTED)
        })
    }
}

/// `azure_identity` messages span lines (a troubleshooting link on its own line).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What every link said, the first configured one's failure first: that is the one to fix.
fn no_credential(tried: &[Tried]) -> String {
    let names: Vec<&str> = tried.iter().map(|failure| failure.name).collect();
    let mut message = format!("no Entra credential: tried {}", names.join(", "));
    let first = tried.iter().position(|failure| failure.configured);
    if let Some(first) = first {
        message.push_str(&format!(". {} failed: {}", tried[first].name, tried[first].reason));
    }
    let others: Vec<String> = tried
        .iter()
        .enumerate()
        .filter(|(index, _)| Some(*index) != first)
        .map(|(_, failure)| format!("{}: {}", failure.name, failure.reason))
        .collect();
    if !others.is_empty() {
        message.push_str(&format!(" ({})", others.join("; ")));
    }
    message.push_str(
        ". Sign in with `az login`, set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or \
         AZURE_CLIENT_CERTIFICATE_PATH) for a service principal, or use `auth = \"key\"` with an API key",
    );
    message
}

fn auth_error(target: &Target, message: String) -> ProviderError {
    let mut error = ProviderError::new(ErrorKind::Auth, target.provider.as_str(), message);
    error.target.clone_from(&target.name);
    error
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use azure_core::credentials::TokenRequestOptions;

    use super::*;
    use crate::model::target::{AzureAuth, ProviderKind};

    /// A credential that answers from a script and counts what it was asked.
    #[derive(Debug)]
    struct Scripted {
        answer: Answer,
        calls: AtomicUsize,
        scopes: std::sync::Mutex<Vec<String>>,
    }

    #[derive(Debug)]
    enum Answer {
        /// A token `token-N` (N counting calls) living this long.
        Token(Duration),
        Fail(&'static str),
        /// Never answers.
        Hang,
    }

    impl Scripted {
        fn new(answer: Answer) -> Arc<Self> {
            Arc::new(Self {
                answer,
                calls: AtomicUsize::new(0),
                scopes: std::sync::Mutex::new(Vec::new()),
            })
        }

        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    #[async_trait::async_trait]
    impl TokenCredential for Scripted {
        async fn get_token(
            &self,
            scopes: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            self.scopes
                .lock()
                .expect("scopes")
                .extend(scopes.iter().map(|scope| (*scope).to_owned()));
            match self.answer {
                Answer::Token(lifetime) => Ok(AccessToken::new(
                    format!("token-{call}"),
                    OffsetDateTime::now_utc() + lifetime,
                )),
                Answer::Fail(message) => Err(azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Credential,
                    message,
                )),
                Answer::Hang => std::future::pending().await,
            }
        }
    }

    fn link(name: &'static str, credential: &Arc<Scripted>) -> Link {
        Link::new(name, Ok(Arc::clone(credential) as Arc<dyn TokenCredential>))
    }

    fn target() -> Target {
        let mut target = Target::new("gpt-azure-entra", ProviderKind::Azure, "gpt54");
        target.resource = Some("contoso".into());
        target.auth = Some(AzureAuth::Entra);
        target
    }

    const URL: &str = "https://contoso.openai.azure.com/openai/v1/chat/completions";

    async fn bearer(chain: &Chain, url: &str) -> Result<String, ProviderError> {
        let mut headers = HeaderMap::new();
        chain.authorize(&target(), url, &mut headers).await?;
        let value = &headers[AUTHORIZATION];
        assert!(value.is_sensitive());
        assert!(!format!("{headers:?}").contains("token-"));
        Ok(value.to_str().expect("ascii").to_owned())
    }

    #[test]
    fn foundry_project_endpoints_take_the_foundry_scope() {
        assert_eq!(scope_for(URL), COGNITIVE_SERVICES_SCOPE);
        assert_eq!(
            scope_for("https://contoso.services.ai.azure.com/openai/v1/responses"),
            COGNITIVE_SERVICES_SCOPE
        );
        assert_eq!(
            scope_for("https://contoso.services.ai.azure.com/api/projects/evals/openai/v1/chat/completions"),
            FOUNDRY_PROJECT_SCOPE
        );
        // Decided by the path, so a gateway or a local server in front of a project works too.
        assert_eq!(
            scope_for("http://127.0.0.1:9/api/projects/evals/openai/v1/responses"),
            FOUNDRY_PROJECT_SCOPE
        );
        assert_eq!(
            scope_for("http://127.0.0.1:9/openai/v1/responses?x=/api/projects/"),
            COGNITIVE_SERVICES_SCOPE
        );
    }

    #[tokio::test]
    async fn a_missing_login_names_every_credential_tried_and_the_first_real_cause() {
        let managed = Scripted::new(Answer::Fail(
            "ManagedIdentityCredential authentication failed. the endpoint said no\nTo troubleshoot, visit https://aka.ms/x",
        ));
        let cli = Scripted::new(Answer::Fail("Azure CLI not found on path"));
        let chain = Chain::new(
            vec![
                Link::new(
                    "environment",
                    Err("AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET not set".to_owned()),
                ),
                Link::new(
                    "environment certificate",
                    Err("AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_CERTIFICATE_PATH not set".to_owned()),
                ),
                Link::new(
                    "workload identity",
                    Err("AZURE_FEDERATED_TOKEN_FILE not set".to_owned()),
                ),
                link("managed identity", &managed),
                link("Azure CLI", &cli),
            ],
            Vec::new(),
        );
        let error = bearer(&chain, URL).await.expect_err("no credential");
        assert_eq!(error.kind, ErrorKind::Auth);
        assert!(!error.retryable());
        assert_eq!(error.target, "gpt-azure-entra");
        assert_eq!(error.provider, "azure");
        assert_eq!(
            error.message,
            "no Entra credential: tried environment, environment certificate, workload identity, managed \
             identity, Azure CLI. managed identity failed: ManagedIdentityCredential authentication failed. the \
             endpoint said no To troubleshoot, visit https://aka.ms/x (environment: AZURE_TENANT_ID, \
             AZURE_CLIENT_ID, AZURE_CLIENT_SECRET not set; environment certificate: AZURE_TENANT_ID, \
             AZURE_CLIENT_ID, AZURE_CLIENT_CERTIFICATE_PATH not set; workload identity: AZURE_FEDERATED_TOKEN_FILE not set; Azure CLI: \
             Azure CLI not found on path). Sign in with `az login`, set AZURE_TENANT_ID, AZURE_CLIENT_ID and \
             AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH) for a service principal, or use \
             `auth = \"key\"` with an API key"
        );
        assert_eq!((managed.calls(), cli.calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_configured_certificate_that_cannot_be_used_is_the_cause_shown() {
        let cli = Scripted::new(Answer::Fail("Azure CLI not found on path"));
        let mut certificate = Link::new(
            "environment certificate",
            Err("cannot read AZURE_CLIENT_CERTIFICATE_PATH /x.pem: No such file".to_owned()),
        );
        certificate.configured = true;
        let chain = Chain::new(
            vec![
                Link::new("environment", Err("AZURE_CLIENT_SECRET not set".to_owned())),
                certificate,
                link("Azure CLI", &cli),
            ],
            Vec::new(),
        );
        let error = bearer(&chain, URL).await.expect_err("no credential");
        assert!(
            error.message.starts_with(
                "no Entra credential: tried environment, environment certificate, Azure CLI. environment \
                 certificate failed: cannot read AZURE_CLIENT_CERTIFICATE_PATH /x.pem: No such file ("
            ),
            "{}",
            error.message
        );
    }

    #[tokio::test]
    async fn the_client_secret_never_reaches_the_message() {
        let echo = Scripted::new(Answer::Fail("invalid client secret 'hunter2-entra-secret' for app"));
        let chain = Chain::new(
            vec![link("environment", &echo)],
            vec!["hunter2-entra-secret".to_owned()],
        );
        let error = bearer(&chain, URL).await.expect_err("refused");
        assert!(!error.message.contains("hunter2"), "{}", error.message);
        assert!(
            error.message.contains("invalid client secret '[redacted]'"),
            "{}",
            error.message
        );
    }

    #[tokio::test]
    async fn tokens_are_cached_per_scope_and_fetched_again_before_they_expire() {
        let long_lived = Scripted::new(Answer::Token(Duration::from_secs(3600)));
        let chain = Chain::new(vec![link("environment", &long_lived)], Vec::new());
        assert_eq!(bearer(&chain, URL).await.expect("token"), "Bearer token-1");
        assert_eq!(bearer(&chain, URL).await.expect("cached"), "Bearer token-1");
        let project = "https://contoso.services.ai.azure.com/api/projects/evals/openai/v1/responses";
        assert_eq!(bearer(&chain, project).await.expect("other scope"), "Bearer token-2");
        assert_eq!(
            *long_lived.scopes.lock().expect("scopes"),
            [COGNITIVE_SERVICES_SCOPE, FOUNDRY_PROJECT_SCOPE]
        );

        // Inside the refresh margin, every request gets a new token before the old one expires.
        let short_lived = Scripted::new(Answer::Token(Duration::from_secs(240)));
        let chain = Chain::new(vec![link("environment", &short_lived)], Vec::new());
        assert_eq!(bearer(&chain, URL).await.expect("token"), "Bearer token-1");
        assert_eq!(bearer(&chain, URL).await.expect("refreshed"), "Bearer token-2");
    }

    #[tokio::test]
    async fn the_credential_that_worked_is_asked_first_next_time() {
        let failing = Scripted::new(Answer::Fail("no"));
        let working = Scripted::new(Answer::Token(Duration::from_secs(60)));
        let chain = Chain::new(
            vec![link("environment", &failing), link("Azure CLI", &working)],
            Vec::new(),
        );
        assert_eq!(bearer(&chain, URL).await.expect("second link"), "Bearer token-1");
        assert_eq!(bearer(&chain, URL).await.expect("refreshed"), "Bearer token-2");
        assert_eq!((failing.calls(), working.calls()), (1, 2));
    }

    #[tokio::test]
    async fn managed_identity_that_never_answers_fails_fast_and_is_not_waited_on_again() {
        let hanging = Scripted::new(Answer::Hang);
        let mut managed = link("managed identity", &hanging);
        managed.probe = true;
        let mut chain = Chain::new(vec![managed], Vec::new());
        chain.probe_limit = Duration::from_millis(50);
        let started = std::time::Instant::now();
        let error = bearer(&chain, URL).await.expect_err("no answer");
        assert!(
            error
                .message
                .contains("managed identity: no managed identity endpoint answered within 50 ms"),
            "{}",
            error.message
        );
        bearer(&chain, URL).await.expect_err("still none");
        assert_eq!(hanging.calls(), 1, "a timed-out probe is not repeated");
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }
}
