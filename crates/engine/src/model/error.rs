//! Errors of the engine, and the one place cloud rejections are classified.
//!
//! A [`ProviderError`] is data, not just a message: it travels inside the event stream, into the
//! database and out to the CLI and UI, so it carries the target, the HTTP status, the cloud's own
//! code and message and whether a retry could help. Classification (retryable or not) happens in
//! [`ErrorKind::from_status_and_code`] and nowhere else.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Engine-level errors: bad input and storage. Cloud failures are [`ProviderError`]s and live in
/// responses, because one failing target must never stop the others.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidInput(String),
    #[error("targets file {path}: {message}")]
    TargetsFile { path: String, message: String },
    #[error("target '{target}': {message}")]
    Target { target: String, message: String },
    #[error("missing credential for target '{target}': set the environment variable {variable}")]
    MissingCredential { target: String, variable: String },
    /// The target names a keychain key that could not be read (missing, or no keychain), and no
    /// environment variable stood in for it. `variable` is the one that was tried too.
    #[error("target '{target}': {reason}{}", also_tried(.variable.as_deref()))]
    Keychain {
        target: String,
        variable: Option<String>,
        reason: KeychainError,
    },
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("database: {0}")]
    Storage(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

fn also_tried(variable: Option<&str>) -> String {
    variable.map_or_else(String::new, |variable| {
        format!("; the environment variable {variable} is not set either")
    })
}

/// The longest key name the keychain accepts, in characters: [`crate::secrets::keychain::validate_name`]
/// enforces it and [`KeychainError::InvalidName`] says it.
pub const KEY_NAME_MAX_CHARS: usize = 64;

/// What the OS keychain refused ([`crate::secrets::keychain`]). Defined here rather than beside the
/// keychain because [`Error::Keychain`] carries it, and the engine's errors import nothing from
/// the layers above them.
#[derive(Debug, thiserror::Error)]
pub enum KeychainError {
    /// No keychain to talk to (no Secret Service on the session bus, a locked collection, no
    /// session bus at all). `detail` is the platform's own error text.
    #[error("{}", unavailable_message(.detail))]
    Unavailable { detail: String },
    #[error(
        "'{0}' is not a valid key name: use 1 to {KEY_NAME_MAX_CHARS} letters, digits, '.', '_', '-' or '@', starting with a letter or digit"
    )]
    InvalidName(String),
    #[error("no key '{0}' in the keychain (modelbench keys set {0})")]
    NotFound(String),
    #[error("the OS keychain failed: {0}")]
    Failed(String),
}

fn unavailable_message(detail: &str) -> String {
    let how_to_fix = if cfg!(target_os = "linux") {
        "no Secret Service is running (the OS keychain on Linux): start gnome-keyring or KeePassXC \
         with Secret Service enabled, or inside a headless session run `dbus-run-session` and \
         `gnome-keyring-daemon --unlock`; or use an environment variable instead (api_key_ref)"
    } else {
        "the OS keychain cannot be reached (is it locked?); unlock it, or use an environment \
         variable instead (api_key_ref)"
    };
    format!("{how_to_fix} [{detail}]")
}

/// What went wrong, in the terms that decide what to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ErrorKind {
    /// Wrong or missing key, or no permission (401/403).
    Auth,
    /// Out of credit or quota (`insufficient_quota`): waiting will not help.
    Quota,
    /// Rate limited (429 `rate_limit_exceeded`): retry after the hinted delay.
    RateLimited,
    /// The cloud is overloaded (Anthropic 529 / `overloaded_error`).
    Overloaded,
    /// 5xx or a server-side error inside the stream.
    Server,
    /// The request was rejected as invalid (400/404/413/422 and the like).
    Validation,
    /// The prompt or output was blocked by a content filter.
    ContentFilter,
    /// Could not connect.
    Connect,
    /// A timeout: connect, first token, idle between chunks or total.
    Timeout,
    /// The connection broke or the stream ended without its terminal event.
    Network,
    /// The bytes could not be decoded as the cloud's wire format.
    Protocol,
    /// The run was cancelled.
    Cancelled,
    /// The process running the run stopped (killed, crashed, lost power) or could not store the
    /// response's end: what had arrived is kept, the rest never will.
    Interrupted,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Quota => "quota",
            Self::RateLimited => "rate_limited",
            Self::Overloaded => "overloaded",
            Self::Server => "server",
            Self::Validation => "validation",
            Self::ContentFilter => "content_filter",
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Network => "network",
            Self::Protocol => "protocol",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Auth,
            Self::Quota,
            Self::RateLimited,
            Self::Overloaded,
            Self::Server,
            Self::Validation,
            Self::ContentFilter,
            Self::Connect,
            Self::Timeout,
            Self::Network,
            Self::Protocol,
            Self::Cancelled,
            Self::Interrupted,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == value)
    }

    /// Infrastructure failures may be retried; anything the caller must fix may not.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::RateLimited | Self::Overloaded | Self::Server | Self::Connect
        )
    }

    /// Classifies a cloud rejection from its HTTP status (if any) and its error code or type.
    /// Codes win over statuses because clouds reuse statuses (429 is both rate limit and quota).
    pub fn from_status_and_code(status: Option<u16>, code: Option<&str>) -> Self {
        if let Some(code) = code {
            let code = code.to_ascii_lowercase();
            match code.as_str() {
                // AWS exception names (Bedrock's `x-amzn-ErrorType` and its in-stream exceptions,
                // which come without an HTTP status).
                "throttlingexception" => return Self::RateLimited,
                "servicequotaexceededexception" => return Self::Quota,
                "accessdeniedexception"
                | "unrecognizedclientexception"
                | "invalidsignatureexception"
                | "incompletesignatureexception"
                | "expiredtokenexception"
                | "missingauthenticationtokenexception" => return Self::Auth,
                "validationexception" | "resourcenotfoundexception" => return Self::Validation,
                "modeltimeoutexception" => return Self::Timeout,
                "internalserverexception"
                | "serviceunavailableexception"
                | "modelstreamerrorexception"
                | "modelerrorexception"
                | "modelnotreadyexception" => return Self::Server,
                "insufficient_quota" | "billing_hard_limit_reached" | "quota_exceeded" => {
                    return Self::Quota;
                }
                "content_filter" | "responsibleaipolicyviolation" | "content_policy_violation" => {
                    return Self::ContentFilter;
                }
                "overloaded_error" | "overloaded" => return Self::Overloaded,
                "rate_limit_exceeded" | "rate_limit_error" | "ratelimitreached" | "too_many_requests" => {
                    return Self::RateLimited;
                }
                "invalid_api_key" | "authentication_error" | "permission_error" | "unauthorized" => {
                    return Self::Auth;
                }
                "server_error" | "api_error" | "internal_error" | "service_unavailable" => {
                    return Self::Server;
                }
                // google.rpc.Code names (Gemini, Vertex): the status string of their errors.
                // A spent RESOURCE_EXHAUSTED quota is told apart from its details, by the provider.
                "resource_exhausted" => return Self::RateLimited,
                "unauthenticated" | "permission_denied" => return Self::Auth,
                "invalid_argument" | "not_found" | "failed_precondition" | "out_of_range" => {
                    return Self::Validation;
                }
                "unavailable" | "internal" | "unknown" | "data_loss" => return Self::Server,
                "deadline_exceeded" => return Self::Timeout,
                // OCI's error codes (`{"code": "NotAuthenticated", "message": …}`).
                "notauthenticated" | "notauthorized" | "signatureexpired" => return Self::Auth,
                "toomanyrequests" => return Self::RateLimited,
                "notauthorizedornotfound" | "invalidparameter" | "missingparameter" => return Self::Validation,
                "internalservererror" | "serviceunavailable" => return Self::Server,
                _ => {}
            }
        }
        match status {
            Some(401 | 403) => Self::Auth,
            Some(429) => Self::RateLimited,
            Some(529) => Self::Overloaded,
            Some(408 | 504) => Self::Timeout,
            Some(status) if status >= 500 => Self::Server,
            Some(400..=499) => Self::Validation,
            _ => Self::Server,
        }
    }
}

/// A failure of one target's request, before or during its stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ProviderError {
    /// Change it with [`ProviderError::reclassify`], which keeps `retryable` in step.
    pub kind: ErrorKind,
    /// The target's name; filled in by the runner (wire decoders do not know it).
    #[serde(default)]
    pub target: String,
    pub provider: String,
    pub status: Option<u16>,
    /// The cloud's own error code or type (`invalid_api_key`, `overloaded_error`, ...).
    pub code: Option<String>,
    pub message: String,
    /// Whether a retry could help: always `kind.is_retryable()`, so it is private and changes
    /// only with the kind ([`ProviderError::reclassify`]). Whether the runner does retry is its
    /// own policy on top (never once content arrived, never past its budget).
    retryable: bool,
    /// The cloud's hint for when to retry (`retry-after-ms` / `retry-after`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub retry_after_ms: Option<u64>,
}

impl ProviderError {
    pub fn new(kind: ErrorKind, provider: &str, message: impl Into<String>) -> Self {
        Self {
            kind,
            target: String::new(),
            provider: provider.to_owned(),
            status: None,
            code: None,
            message: message.into(),
            retryable: kind.is_retryable(),
            retry_after_ms: None,
        }
    }

    /// A rejection reported by the cloud (HTTP error body or error payload inside a stream).
    pub fn from_cloud(provider: &str, status: Option<u16>, code: Option<String>, message: impl Into<String>) -> Self {
        let kind = ErrorKind::from_status_and_code(status, code.as_deref());
        Self {
            status,
            code,
            ..Self::new(kind, provider, message)
        }
    }

    /// Whether a retry could help, as the kind says ([`ErrorKind::is_retryable`]).
    pub fn retryable(&self) -> bool {
        self.retryable
    }

    /// Gives the error another kind, once more is known about it (a status inside a stream's
    /// error payload, Google's error details, a broken connection after the response began);
    /// its retryability follows.
    pub fn reclassify(&mut self, kind: ErrorKind) {
        self.kind = kind;
        self.retryable = kind.is_retryable();
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after_ms.map(Duration::from_millis)
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.target.is_empty() {
            write!(formatter, "{}: ", self.provider)?;
        } else {
            write!(formatter, "target '{}' ({}): ", self.target, self.provider)?;
        }
        if let Some(status) = self.status {
            write!(formatter, "HTTP {status} ")?;
        }
        if let Some(code) = &self.code {
            write!(formatter, "[{code}] ")?;
        }
        write!(formatter, "{}", self.message)
    }
}

impl std::error::Error for ProviderError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The errors that used to set `retryable` by hand after construction, each with the kind
    /// it has now and the retryability that kind gives.
    #[test]
    fn retryability_is_the_kind_s_at_construction_and_after_reclassifying() {
        for (what, kind, retryable) in [
            ("a refused redirect", ErrorKind::Validation, false),
            (
                "a web page or compressed body instead of a stream",
                ErrorKind::Protocol,
                false,
            ),
            ("a stream over a size cap", ErrorKind::Protocol, false),
            ("a connection that could not be made", ErrorKind::Connect, true),
            ("a first-token, idle or total timeout", ErrorKind::Timeout, false),
            ("a stream that broke after it began", ErrorKind::Network, false),
        ] {
            let error = ProviderError::new(kind, "openai", what);
            assert_eq!(error.retryable(), retryable, "{what}");
        }
        // Reclassified once more is known: the kind's retryability comes along, either way.
        for (from, to) in [
            // A stream's error payload with a code no table knows, and a status 400 inside it.
            (ErrorKind::Server, ErrorKind::Validation),
            // Google's RESOURCE_EXHAUSTED whose details name a spent daily quota.
            (ErrorKind::RateLimited, ErrorKind::Quota),
            // An invalid API key in Google's details, under a 400.
            (ErrorKind::Validation, ErrorKind::Auth),
            // The runner's transport error (a connect error) once the stream had begun.
            (ErrorKind::Connect, ErrorKind::Network),
            // A stream payload's status 429 under a code that said nothing.
            (ErrorKind::Validation, ErrorKind::RateLimited),
        ] {
            let mut error = ProviderError::from_cloud("gemini", None, None, "m");
            error.reclassify(from);
            assert_eq!(error.retryable(), from.is_retryable());
            error.reclassify(to);
            assert_eq!(
                (error.kind, error.retryable()),
                (to, to.is_retryable()),
                "{from:?} to {to:?}"
            );
        }
    }

    #[test]
    fn a_stored_error_keeps_its_retryability() {
        let error = ProviderError::from_cloud("anthropic", Some(529), None, "overloaded");
        let json = serde_json::to_value(&error).expect("serialises");
        assert_eq!(json["retryable"], true);
        let back: ProviderError = serde_json::from_value(json).expect("deserialises");
        assert_eq!(back, error);
        assert!(back.retryable());
    }
}
