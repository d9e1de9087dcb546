//! A key, as the engine holds it: a [`Secret`] never prints its value, so it cannot leak through
//! `Debug`, logs or errors, and it redacts itself from whatever text a cloud echoes back.
//!
//! A leaf: it imports nothing from the rest of the crate, so the keychain, the credential
//! sources, the providers and the errors can all hold one without importing each other. Left out:
//! where a key comes from (`credentials`, `keychain`).

use std::fmt;

/// A key. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Removes every occurrence of the secret from `text` (clouds sometimes echo keys in errors),
    /// also as JSON writes it with escaped slashes.
    pub fn redact(&self, text: &str) -> String {
        if !self.redactable() {
            return text.to_owned();
        }
        let escaped = self.0.replace('/', "\\/");
        let mut text = text.replace(&self.0, REDACTED);
        if escaped != self.0 {
            text = text.replace(&escaped, REDACTED);
        }
        text
    }

    /// Like [`Self::redact`], on bytes that may have been cut short (an error body read up to a
    /// limit): a tail that is the start of the secret is redacted too, so a cut through the key
    /// cannot keep its first characters. Works on bytes, so a body that is not UTF-8 is covered.
    pub fn redact_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        if !self.redactable() {
            return bytes.to_vec();
        }
        let secret = self.0.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut index = 0;
        while index < bytes.len() {
            if bytes[index..].starts_with(secret) {
                out.extend_from_slice(REDACTED.as_bytes());
                index += secret.len();
            } else {
                out.push(bytes[index]);
                index += 1;
            }
        }
        // The longest tail (of at least 4 bytes) that the secret starts with.
        let longest = secret.len().saturating_sub(1).min(out.len());
        if let Some(length) = (MIN_REDACTED_TAIL..=longest)
            .rev()
            .find(|&length| secret.starts_with(&out[out.len() - length..]))
        {
            out.truncate(out.len() - length);
            out.extend_from_slice(REDACTED.as_bytes());
        }
        out
    }

    /// Secrets shorter than this are not redacted: replacing every "ab" in a text hides nothing.
    fn redactable(&self) -> bool {
        self.0.len() >= 4
    }
}

/// What a redacted secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// A cut-off tail shorter than this is not taken for the start of a key: "sk-" or "AIz" say
/// nothing secret, and a body ending in them is more likely ordinary text.
const MIN_REDACTED_TAIL: usize = 4;

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Secret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("sk-very-secret");
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
        assert_eq!(secret.redact("bad key sk-very-secret!"), "bad key [redacted]!");
    }

    #[test]
    fn a_key_cut_short_is_redacted_from_its_first_characters() {
        let secret = Secret::new("sk-OPENAIFAKEKEY-7f3a9c2e1b");
        let body = format!("{}sk-OPENAIFAKEKEY-7f3a9c2e1b tail", "P".repeat(490));
        let redacted = secret.redact_bytes(body.as_bytes());
        let cut: String = String::from_utf8_lossy(&redacted).chars().take(500).collect();
        assert!(cut.ends_with("P[redacted]"), "{cut}");
        for length in 4..27 {
            let cut = format!("xx {}", &secret.expose()[..length]);
            assert_eq!(
                String::from_utf8_lossy(&secret.redact_bytes(cut.as_bytes())),
                "xx [redacted]",
                "{length}"
            );
        }
        // Three characters of a key are not taken for one; ordinary text stays.
        assert_eq!(secret.redact_bytes(b"ask-"), b"ask-");
        assert_eq!(secret.redact_bytes(b"it said sk-"), b"it said sk-");
        assert_eq!(secret.redact_bytes(b"\xff\xfe plain"), b"\xff\xfe plain");
        let slashed = Secret::new("wJalr/K7MDENG/bPxRfi");
        assert_eq!(
            slashed.redact(r#"{"key":"wJalr\/K7MDENG\/bPxRfi"}"#),
            r#"{"key":"[redacted]"}"#
        );
    }
}
