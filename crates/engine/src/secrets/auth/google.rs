//! Google OAuth access tokens from Application Default Credentials, for Vertex targets that have
//! no pasted token.
//!
//! `gcp_auth` finds the credentials (a service-account key named by
//! `GOOGLE_APPLICATION_CREDENTIALS`, then the gcloud user credentials written by
//! `gcloud auth application-default login`, then the metadata server, then the `gcloud` CLI) and
//! caches and refreshes the tokens; the provider it picks is built once per process and shared by
//! every target. Its discovery and its `gcloud` fallback run commands synchronously, so they run
//! on a blocking thread rather than stall the streams being measured on the runtime.
//!
//! Left out: impersonation, workload identity federation and user-credential files named by
//! `GOOGLE_APPLICATION_CREDENTIALS` (`gcp_auth` reads service-account keys only there).

use std::future::Future;
use std::sync::Arc;

use gcp_auth::TokenProvider;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use tokio::sync::OnceCell;

use crate::model::error::{ErrorKind, ProviderError};
use crate::model::target::Target;

/// The scope Vertex AI accepts.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

static PROVIDER: OnceCell<Arc<dyn TokenProvider>> = OnceCell::const_new();

/// Sets `Authorization: Bearer <token>` from Application Default Credentials.
pub async fn authorize(target: &Target, headers: &mut HeaderMap) -> Result<(), ProviderError> {
    // A failed discovery is not remembered: signing in while the app runs must fix the next run.
    let provider = PROVIDER
        .get_or_try_init(|| off_the_runtime(gcp_auth::provider()))
        .await
        .map_err(|error| adc_error(target, "no Google credentials were found", &error))?;
    authorize_with(Arc::clone(provider), target, headers).await
}

/// Sets the header from one token provider (the process-wide one, or a test's).
pub(crate) async fn authorize_with(
    provider: Arc<dyn TokenProvider>,
    target: &Target,
    headers: &mut HeaderMap,
) -> Result<(), ProviderError> {
    let token = off_the_runtime(async move { provider.token(&[CLOUD_PLATFORM_SCOPE]).await })
        .await
        .map_err(|error| adc_error(target, "could not get a Google access token", &error))?;
    headers.insert(AUTHORIZATION, bearer(target, token.as_str())?);
    Ok(())
}

fn bearer(target: &Target, token: &str) -> Result<HeaderValue, ProviderError> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
        ProviderError::new(
            ErrorKind::Auth,
            target.provider.as_str(),
            "the Google access token has characters not allowed in an HTTP header",
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Runs `future` on a blocking thread, for `gcp_auth` calls that may run `gcloud` synchronously.
async fn off_the_runtime<T: Send + 'static>(
    future: impl Future<Output = Result<T, gcp_auth::Error>> + Send + 'static,
) -> Result<T, gcp_auth::Error> {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || runtime.block_on(future))
        .await
        .unwrap_or_else(|error| Err(gcp_auth::Error::Other("the credential lookup stopped", Box::new(error))))
}

/// An auth failure that says what was tried and how to fix it. `gcp_auth`'s errors describe
/// files, commands and HTTP failures, never token values.
fn adc_error(target: &Target, what: &str, error: &gcp_auth::Error) -> ProviderError {
    let message = format!(
        "{what} for Vertex ({}). Sign in with `gcloud auth application-default login`, set \
         GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or paste an access token \
         (`gcloud auth print-access-token`) with `modelbench keys set NAME` and `key = \"NAME\"` \
         on the target, or in the GOOGLE_OAUTH_ACCESS_TOKEN environment variable",
        describe(error)
    );
    ProviderError::new(ErrorKind::Auth, target.provider.as_str(), message)
}

/// `gcp_auth`'s error with its causes; for "no method found", what each method said.
fn describe(error: &gcp_auth::Error) -> String {
    if let gcp_auth::Error::NoAuthMethod(gcloud, metadata, user) = error {
        return format!(
            "GOOGLE_APPLICATION_CREDENTIALS is not set; gcloud user credentials: {}; metadata \
             server: {}; gcloud CLI: {}",
            describe(user),
            describe(metadata),
            describe(gcloud)
        );
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Several gcp_auth variants already print their source in their own message.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::target::ProviderKind;

    fn vertex() -> Target {
        Target::new("vertex-gemini", ProviderKind::Vertex, "gemini-2.5-pro")
    }

    #[test]
    fn a_missing_credential_says_what_was_tried_and_every_way_to_fix_it() {
        let not_found = || {
            gcp_auth::Error::Io(
                "failed to open file",
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            )
        };
        let error = gcp_auth::Error::NoAuthMethod(
            Box::new(gcp_auth::Error::Str("running `gcloud` command failed")),
            Box::new(gcp_auth::Error::Str("token request failed")),
            Box::new(not_found()),
        );
        let error = adc_error(&vertex(), "no Google credentials were found", &error);
        assert_eq!(error.kind, ErrorKind::Auth);
        assert!(!error.retryable());
        assert_eq!(error.provider, "vertex");
        for expected in [
            "no Google credentials were found for Vertex",
            "gcloud user credentials: failed to open file: no such file",
            "metadata server: token request failed",
            "gcloud CLI: running `gcloud` command failed",
            "gcloud auth application-default login",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "modelbench keys set",
            "GOOGLE_OAUTH_ACCESS_TOKEN",
        ] {
            assert!(error.message.contains(expected), "{expected:?} in {}", error.message);
        }
        // Causes are not printed twice when gcp_auth already included them.
        assert_eq!(error.message.matches("no such file").count(), 1, "{}", error.message);
    }

    #[test]
    fn the_token_is_a_sensitive_bearer_header() {
        let value = bearer(&vertex(), "ya29.a-token").expect("header");
        assert_eq!(value, "Bearer ya29.a-token");
        assert!(value.is_sensitive());
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value);
        assert!(!format!("{headers:?}").contains("ya29"));
        let error = bearer(&vertex(), "line\nbreak").expect_err("not a header value");
        assert_eq!(error.kind, ErrorKind::Auth);
        assert!(!error.message.contains("line"), "{}", error.message);
    }
}
