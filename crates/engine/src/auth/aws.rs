//! AWS SigV4 for Bedrock. (Skeleton: being filled in.)

use reqwest::header::HeaderMap;

use crate::credentials::AwsCredential;
use crate::error::{ErrorKind, ProviderError};
use crate::target::Target;

pub async fn sign(
    _credential: &AwsCredential,
    target: &Target,
    _url: &str,
    _headers: &mut HeaderMap,
    _body: &[u8],
) -> Result<(), ProviderError> {
    Err(ProviderError::new(
        ErrorKind::Auth,
        target.provider.as_str(),
        "SigV4 signing is not built yet",
    ))
}
