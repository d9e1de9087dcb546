//! What the HTTP client refuses: redirects, and successful answers that are not a stream.
//!
//! An LLM API never needs a redirect, and following one sends the request, prompt included, to
//! wherever a gateway, proxy or man in the middle points; reqwest strips only `Authorization`
//! across origins, so Azure's `api-key`, Anthropic's `x-api-key` and Gemini's `x-goog-api-key`
//! would go along. So the client follows none ([`redirect_policy`]) and a 3xx becomes an error
//! naming the origin it pointed to ([`redirect_error`]), never its full location.
//!
//! A 200 that is a web page (a proxy's login) or a compressed body is named as such
//! ([`unexpected_body_error`]) instead of failing later as a stream that "ended early". Bodies
//! are never decompressed: ModelBench sends no `Accept-Encoding`, so a cloud never compresses
//! its stream, and decoding what a proxy compressed anyway would time the compressor's
//! buffering as the model's first token.
//!
//! Left out: retrying with the redirect's target (the user decides by fixing `base_url`).

use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, LOCATION};

use crate::model::error::{ErrorKind, ProviderError};

/// The client's redirect policy: none are followed.
pub fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::none()
}

/// How many bytes of an unexpected body are read to show its start.
pub const PREVIEW_BYTES: usize = 4096;

/// How many characters of that start are shown.
const PREVIEW_CHARS: usize = 160;

/// A 3xx answer as an error: the status and the origin (scheme, host, port) the `Location`
/// points to. `None` for any other status.
pub fn redirect_error(provider: &str, status: u16, headers: &HeaderMap) -> Option<ProviderError> {
    if !(300..400).contains(&status) {
        return None;
    }
    let location = headers.get(LOCATION).and_then(|value| value.to_str().ok());
    let destination = match location.map(reqwest::Url::parse) {
        None => "without a Location".to_owned(),
        Some(Ok(url)) if url.has_host() => format!("to {}", url.origin().ascii_serialization()),
        Some(Ok(url)) => format!("to a {} URL", url.scheme()),
        Some(Err(_)) => "to another path of the same host".to_owned(),
    };
    let message = format!(
        "redirect {destination} refused: ModelBench follows no redirects, so the key and the prompt never \
         go to another address; set base_url to the address that answers"
    );
    let mut error = ProviderError::new(ErrorKind::Validation, provider, message);
    error.status = Some(status);
    Some(error)
}

/// Whether a successful answer is plainly not a stream: a web page, or a compressed body.
pub fn is_unexpected_body(headers: &HeaderMap) -> bool {
    content_encoding(headers).is_some() || is_web_page(headers)
}

/// The error for an answer [`is_unexpected_body`] flags, showing its content type or encoding
/// and, for a page, the start of its text (`preview`: the first bytes of the body).
pub fn unexpected_body_error(provider: &str, status: u16, headers: &HeaderMap, preview: &[u8]) -> ProviderError {
    let content_type = header_text(headers, CONTENT_TYPE).unwrap_or_else(|| "none".to_owned());
    let message = match content_encoding(headers) {
        Some(encoding) => format!(
            "the body is compressed (content-encoding: {encoding}, content-type: {content_type}) although \
             ModelBench asks for no compression; it does not decompress streams, so timings stay the \
             model's own (a proxy in between may be compressing)"
        ),
        None => {
            let start = preview_text(preview);
            format!(
                "the answer is a web page (content-type: {content_type}), not a stream: a proxy or login page? \
                 It starts: \"{start}\""
            )
        }
    };
    let mut error = ProviderError::new(ErrorKind::Protocol, provider, message);
    error.status = Some(status);
    error
}

/// Reads up to [`PREVIEW_BYTES`] of a body; whatever arrived before an error or the end.
pub async fn read_preview(mut response: reqwest::Response) -> Vec<u8> {
    let mut preview = Vec::new();
    while preview.len() < PREVIEW_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => preview.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    preview.truncate(PREVIEW_BYTES);
    preview
}

/// The visible text at the start of a body: markup and control characters dropped, whitespace
/// collapsed, cut to [`PREVIEW_CHARS`] characters.
pub fn preview_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut visible = String::new();
    let mut in_tag = false;
    for character in text.chars() {
        match character {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                visible.push(' ');
            }
            _ if in_tag => {}
            character if character.is_control() || ('\u{80}'..='\u{9f}').contains(&character) => visible.push(' '),
            character => visible.push(character),
        }
    }
    let words: Vec<&str> = visible.split_whitespace().collect();
    let collapsed = words.join(" ");
    if collapsed.chars().count() > PREVIEW_CHARS {
        let cut: String = collapsed.chars().take(PREVIEW_CHARS).collect();
        format!("{cut}…")
    } else {
        collapsed
    }
}

fn header_text(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

fn content_encoding(headers: &HeaderMap) -> Option<String> {
    header_text(headers, CONTENT_ENCODING).filter(|encoding| !encoding.eq_ignore_ascii_case("identity"))
}

fn is_web_page(headers: &HeaderMap) -> bool {
    header_text(headers, CONTENT_TYPE).is_some_and(|content_type| {
        let media_type = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        matches!(media_type.as_str(), "text/html" | "application/xhtml+xml")
    })
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_str(value).expect("header value"));
        }
        headers
    }

    #[test]
    fn a_redirect_names_its_status_and_origin_only() {
        let error = redirect_error(
            "azure",
            307,
            &headers(&[("location", "http://127.0.0.1:18002/openai/deployments/x?api-key=secret")]),
        )
        .expect("a redirect");
        let text = error.to_string();
        assert!(
            text.contains("HTTP 307") && text.contains("to http://127.0.0.1:18002 refused"),
            "{text}"
        );
        assert!(!text.contains("secret") && !text.contains("deployments"), "{text}");
        assert_eq!(error.kind, ErrorKind::Validation);
        assert!(!error.retryable());
        let relative = redirect_error("openai", 302, &headers(&[("location", "/v2/chat")])).expect("a redirect");
        assert!(relative.message.contains("same host"), "{}", relative.message);
        let missing = redirect_error("openai", 301, &HeaderMap::new()).expect("a redirect");
        assert!(missing.message.contains("without a Location"), "{}", missing.message);
        assert!(redirect_error("openai", 200, &HeaderMap::new()).is_none());
        assert!(redirect_error("openai", 404, &HeaderMap::new()).is_none());
    }

    #[test]
    fn pages_and_compressed_bodies_are_named() {
        let page = headers(&[("content-type", "text/html; charset=utf-8")]);
        assert!(is_unexpected_body(&page));
        let error = unexpected_body_error(
            "openai",
            200,
            &page,
            b"<html><head><title>Sign in</title></head>\n<body>Please \x1b[2Jlog in</body></html>",
        );
        assert!(
            error.message.contains("content-type: text/html; charset=utf-8")
                && error.message.contains("It starts: \"Sign in Please [2Jlog in\""),
            "{}",
            error.message
        );
        let gzip = headers(&[("content-type", "text/event-stream"), ("content-encoding", "gzip")]);
        assert!(is_unexpected_body(&gzip));
        let error = unexpected_body_error("openai", 200, &gzip, &[0x1f, 0x8b]);
        assert!(error.message.contains("content-encoding: gzip"), "{}", error.message);
        assert_eq!((error.kind, error.retryable()), (ErrorKind::Protocol, false));
        for fine in [
            headers(&[("content-type", "text/event-stream")]),
            headers(&[
                ("content-type", "application/x-ndjson"),
                ("content-encoding", "identity"),
            ]),
            HeaderMap::new(),
        ] {
            assert!(!is_unexpected_body(&fine));
        }
    }

    #[test]
    fn previews_are_short() {
        let long = "word ".repeat(100);
        let preview = preview_text(long.as_bytes());
        assert_eq!(preview.chars().count(), PREVIEW_CHARS + 1);
        assert!(preview.ends_with('…'));
    }
}
