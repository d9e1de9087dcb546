//! Response headers each cloud sends: request ids, region, rate-limit
//! counters and retry hints.
//!
//! The numbers are plausible constants; what matters to clients is that the
//! headers exist in each cloud's spelling and format.

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::clock::rfc3339_seconds;
use crate::server::Provider;

pub(crate) const EVENT_STREAM: &str = "text/event-stream; charset=utf-8";
pub(crate) const NDJSON: &str = "application/x-ndjson";
pub(crate) const JSON: &str = "application/json";
/// Ollama's Go server spells its JSON content type this way.
pub(crate) const OLLAMA_JSON: &str = "application/json; charset=utf-8";
/// Google's front end spells it this way.
pub(crate) const GOOGLE_JSON: &str = "application/json; charset=UTF-8";

pub(crate) const AZURE_REGION: &str = "swedencentral";

const REQUEST_LIMIT: u64 = 10_000;
const TOKEN_LIMIT: u64 = 30_000_000;

/// The provider's usual headers. `exhausted` marks a rate-limited answer:
/// remaining counts drop to zero.
pub(crate) fn provider_headers(provider: Provider, request_id: &str, exhausted: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let remaining_requests = if exhausted { 0 } else { REQUEST_LIMIT - 1 };
    let remaining_tokens = if exhausted { 0 } else { TOKEN_LIMIT - 1_000 };
    match provider {
        Provider::OpenAi => {
            insert(&mut headers, "x-request-id", request_id);
            insert(&mut headers, "openai-version", "2020-10-01");
            insert(&mut headers, "openai-organization", "org-fakecloud");
            insert(&mut headers, "openai-processing-ms", "1");
            insert(&mut headers, "x-ratelimit-limit-requests", REQUEST_LIMIT.to_string());
            insert(&mut headers, "x-ratelimit-limit-tokens", TOKEN_LIMIT.to_string());
            insert(
                &mut headers,
                "x-ratelimit-remaining-requests",
                remaining_requests.to_string(),
            );
            insert(
                &mut headers,
                "x-ratelimit-remaining-tokens",
                remaining_tokens.to_string(),
            );
            insert(&mut headers, "x-ratelimit-reset-requests", "6ms");
            insert(&mut headers, "x-ratelimit-reset-tokens", "0s");
        }
        Provider::Azure => {
            insert(&mut headers, "apim-request-id", request_id);
            insert(&mut headers, "x-request-id", request_id);
            insert(&mut headers, "x-ms-region", AZURE_REGION);
            insert(&mut headers, "x-ratelimit-limit-requests", REQUEST_LIMIT.to_string());
            insert(&mut headers, "x-ratelimit-limit-tokens", TOKEN_LIMIT.to_string());
            insert(
                &mut headers,
                "x-ratelimit-remaining-requests",
                remaining_requests.to_string(),
            );
            insert(
                &mut headers,
                "x-ratelimit-remaining-tokens",
                remaining_tokens.to_string(),
            );
            insert(&mut headers, "x-ratelimit-reset-requests", "1");
            insert(&mut headers, "x-ratelimit-reset-tokens", "1");
            insert(&mut headers, "x-ratelimit-renewalperiod-requests", "60");
            insert(&mut headers, "x-ratelimit-renewalperiod-tokens", "60");
            insert(&mut headers, "x-ratelimit-abusepenalty-active", "false");
        }
        Provider::Anthropic => {
            insert(&mut headers, "request-id", request_id);
            let reset = rfc3339_seconds(SystemTime::now() + Duration::from_secs(1));
            for (kind, limit) in [
                ("requests", 4_000),
                ("tokens", 2_000_000),
                ("input-tokens", 2_000_000),
                ("output-tokens", 400_000),
            ] {
                let remaining: u64 = if exhausted { 0 } else { limit - 1 };
                insert(
                    &mut headers,
                    &format!("anthropic-ratelimit-{kind}-limit"),
                    limit.to_string(),
                );
                insert(
                    &mut headers,
                    &format!("anthropic-ratelimit-{kind}-remaining"),
                    remaining.to_string(),
                );
                insert(&mut headers, &format!("anthropic-ratelimit-{kind}-reset"), &reset);
            }
        }
        // Local Ollama sends no request id or limits.
        Provider::Ollama => {}
        // AWS spells it `x-amzn-RequestId`; HTTP/1 header names are
        // case-insensitive and go out lower-cased.
        Provider::Bedrock => insert(&mut headers, "x-amzn-requestid", request_id),
        // Google's front end: no request id header (Gemini puts
        // `responseId` in the body) and no rate-limit headers.
        Provider::Gemini | Provider::Vertex => {
            insert(&mut headers, "vary", "Origin, X-Origin, Referer");
            insert(&mut headers, "server", "scaffolding on HTTPServer2");
            insert(&mut headers, "x-xss-protection", "0");
            insert(&mut headers, "x-frame-options", "SAMEORIGIN");
            insert(&mut headers, "x-content-type-options", "nosniff");
        }
        Provider::VertexAnthropic => {}
        Provider::Oci => insert(&mut headers, "opc-request-id", request_id),
    }
    headers
}

/// `retry-after` (whole seconds, rounded up) and `retry-after-ms`.
pub(crate) fn retry_after_headers(headers: &mut HeaderMap, delay: Duration) {
    let millis = delay.as_millis();
    let seconds = millis.div_ceil(1000);
    insert(headers, "retry-after", seconds.to_string());
    insert(headers, "retry-after-ms", millis.to_string());
}

pub(crate) fn insert(headers: &mut HeaderMap, name: &str, value: impl AsRef<str>) {
    // Every name and value here is ASCII we wrote ourselves; a bad one is
    // dropped rather than failing the response.
    if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value.as_ref())) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_seconds_up() {
        let mut headers = HeaderMap::new();
        retry_after_headers(&mut headers, Duration::from_millis(50));
        assert_eq!(headers["retry-after"], "1");
        assert_eq!(headers["retry-after-ms"], "50");
        retry_after_headers(&mut headers, Duration::from_secs(2));
        assert_eq!(headers["retry-after"], "2");
        assert_eq!(headers["retry-after-ms"], "2000");
    }
}
