//! Request-time authentication for the clouds whose credentials are not a fixed header:
//! AWS SigV4 (signed per request, over the exact bytes sent) and Google OAuth tokens (fetched
//! and refreshed from Application Default Credentials). Keys and pasted tokens are plain headers
//! set by [`crate::providers::endpoint::headers`] and need nothing here.

pub mod aws;
pub mod google;

use reqwest::header::HeaderMap;

use crate::credentials::Credential;
use crate::error::ProviderError;
use crate::target::Target;

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
