//! Request-time authentication for the clouds whose credentials are not a fixed header:
//! AWS SigV4 (signed per request, over the exact bytes sent) and Google OAuth tokens (fetched
//! and refreshed from Application Default Credentials). Keys and pasted tokens are plain headers
//! set by [`crate::providers::endpoint::headers`] and need nothing here.

pub mod aws;
pub mod google;

use reqwest::header::HeaderMap;

use crate::model::error::ProviderError;
use crate::model::target::Target;
use crate::secrets::credentials::Credential;

/// Adds the headers `credential` needs to a request that is about to be sent. Called before
/// every attempt: SigV4 signatures carry the time, and tokens expire.
pub async fn authorize(
    credential: &Credential,
    target: &Target,
    url: &str,
    headers: &mut HeaderMap,
    body: &[u8],
) -> Result<(), ProviderError> {
    match credential {
        Credential::Aws(aws) => aws::sign(aws, target, url, headers, body).await,
        Credential::GoogleAdc => google::authorize(target, headers).await,
        Credential::None | Credential::Key(_) => Ok(()),
    }
}

/// An error and its sources, one after another: credential libraries' top-level errors often
/// say only that something failed, their sources say why. A source already quoted by the
/// message before it is not repeated.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
