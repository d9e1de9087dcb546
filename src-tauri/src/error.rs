//! The UI edge of every error: `{kind, message, retryable}`, the message shown verbatim.

use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct CommandError {
    pub kind: CommandErrorKind,
    pub message: String,
    pub retryable: bool,
}

/// What kind of failure a command met, for the page to tell apart without reading the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum CommandErrorKind {
    /// The request was refused as it stands: a bad target, a run still going, no such answer.
    Validation,
    /// A key is missing or the keychain refused it.
    Auth,
    /// The OS keychain failed for another reason (locked, unreachable).
    Keychain,
    /// The database or a file could not be read or written.
    Storage,
    /// No target, run or key by that name.
    NotFound,
    /// The simulated clouds could not start.
    Demo,
    /// The diff engine refused the texts.
    Diff,
    /// A target test ended without a response (never expected: a bug).
    Protocol,
    /// Work on the blocking pool stopped (it panicked, or the app is shutting down).
    Internal,
}

pub type CommandResult<T> = Result<T, CommandError>;

impl CommandError {
    pub fn new(kind: CommandErrorKind, message: impl Into<String>) -> Self {
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
            Error::InvalidInput(_) | Error::TargetsFile { .. } | Error::Target { .. } => CommandErrorKind::Validation,
            Error::MissingCredential { .. } | Error::Keychain { .. } => CommandErrorKind::Auth,
            Error::Database(_) | Error::Storage(_) | Error::Io(_) => CommandErrorKind::Storage,
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
            KeychainError::InvalidName(_) => CommandErrorKind::Validation,
            KeychainError::NotFound(_) => CommandErrorKind::NotFound,
            _ => CommandErrorKind::Keychain,
        };
        Self::new(kind, error.to_string())
    }
}

/// Starting the simulated clouds failed (no free port on 127.0.0.1, say).
impl From<std::io::Error> for CommandError {
    fn from(error: std::io::Error) -> Self {
        Self::new(
            CommandErrorKind::Demo,
            format!("cannot start the simulated clouds: {error}"),
        )
    }
}

impl From<modelbench_engine::diff::DiffError> for CommandError {
    fn from(error: modelbench_engine::diff::DiffError) -> Self {
        Self::new(CommandErrorKind::Diff, error.to_string())
    }
}

impl From<modelbench_workbench::Error> for CommandError {
    fn from(error: modelbench_workbench::Error) -> Self {
        use modelbench_workbench::Error;
        let kind = match &error {
            Error::Engine(engine) => return Self::from_engine(engine, error.to_string()),
            Error::Diff(_) => CommandErrorKind::Diff,
            Error::RunNotFound(_) | Error::NoRunMatches(_) | Error::TargetNotFound(_) => CommandErrorKind::NotFound,
            Error::NoSuchPrompt { .. }
            | Error::NoSuchRepeat { .. }
            | Error::NoSuchTarget { .. }
            | Error::NoAnswer { .. }
            | Error::TooFewAnswers { .. }
            | Error::StillRunning(_)
            | Error::Session(_)
            | Error::Panel(_)
            | Error::Judge(_)
            | Error::Report(_)
            | Error::Evidence(_) => CommandErrorKind::Validation,
            Error::NoTestResponse(_) => CommandErrorKind::Protocol,
            Error::Stopped(_) => CommandErrorKind::Internal,
            Error::OpenDatabase { .. } | Error::NotADirectory(_) | Error::ImportedCatalog { .. } => {
                CommandErrorKind::Storage
            }
        };
        Self::new(kind, error.to_string())
    }
}
