//! Google Application Default Credentials for Vertex. (Skeleton: being filled in.)

use reqwest::header::HeaderMap;

use crate::error::{ErrorKind, ProviderError};
use crate::target::Target;

pub async fn authorize(target: &Target, _headers: &mut HeaderMap) -> Result<(), ProviderError> {
    Err(ProviderError::new(
        ErrorKind::Auth,
        target.provider.as_str(),
        "Google ADC is not built yet",
    ))
}
