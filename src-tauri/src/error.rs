//! The UI edge of every error: `{kind, message, retryable}`, the message shown verbatim.

use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct CommandError {
    pub kind: &'static str,
    pub message: String,
    pub retryable: bool,
}

pub type CommandResult<T> = Result<T, CommandError>;

impl CommandError {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retryable: false,
        }
    }
}

impl CommandError {
    fn from_engine(error: &modelbench_engine::Error, message: String) -> Self {
        use modelbench_engine::Error;
        let kind = match error {
            Error::InvalidInput(_) | Error::TargetsFile { .. } | Error::Target { .. } => "validation",
            Error::MissingCredential { .. } | Error::Keychain { .. } => "auth",
            Error::Database(_) | Error::Storage(_) | Error::Io(_) => "storage",
        };
        Self::new(kind, message)
    }
}

impl From<modelbench_engine::Error> for CommandError {
    fn from(error: modelbench_engine::Error) -> Self {
        let message = error.to_string();
        Self::from_engine(&error, message)
    }
}

impl From<modelbench_engine::keychain::KeychainError> for CommandError {
    fn from(error: modelbench_engine::keychain::KeychainError) -> Self {
        use modelbench_engine::keychain::KeychainError;
        let kind = match &error {
            KeychainError::InvalidName(_) => "validation",
            KeychainError::NotFound(_) => "not_found",
            _ => "keychain",
        };
        Self::new(kind, error.to_string())
    }
}

/// Starting the simulated clouds failed (no free port on 127.0.0.1, say).
impl From<std::io::Error> for CommandError {
    fn from(error: std::io::Error) -> Self {
        Self::new("demo", format!("cannot start the simulated clouds: {error}"))
    }
}

impl From<modelbench_engine::diff::DiffError> for CommandError {
    fn from(error: modelbench_engine::diff::DiffError) -> Self {
        Self::new("diff", error.to_string())
    }
}

impl From<modelbench_workbench::Error> for CommandError {
    fn from(error: modelbench_workbench::Error) -> Self {
        use modelbench_workbench::Error;
        let kind = match &error {
            Error::Engine(engine) => return Self::from_engine(engine, error.to_string()),
            Error::Diff(_) => "diff",
            Error::RunNotFound(_) | Error::NoRunMatches(_) | Error::TargetNotFound(_) => "not_found",
            Error::UnknownFormat(_)
            | Error::NoSuchPrompt { .. }
            | Error::NoSuchRepeat { .. }
            | Error::NoSuchTarget { .. }
            | Error::NoAnswer { .. }
            | Error::TooFewAnswers { .. }
            | Error::StillRunning(_)
            | Error::Session(_) => "validation",
            Error::NoTestResponse(_) => "protocol",
            Error::Stopped(_) => "internal",
            Error::OpenDatabase { .. } | Error::NotADirectory(_) | Error::ImportedCatalog { .. } => "storage",
        };
        Self::new(kind, error.to_string())
    }
}
