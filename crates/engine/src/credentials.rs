//! Where keys come from, behind one small interface.
//!
//! Targets only name a key (`env:VARIABLE`); a [`CredentialSource`] turns the name into a
//! [`Secret`] at request time. The OS keychain will be another source behind the same trait.
//! A `Secret` never prints its value, so it cannot leak through `Debug`, logs or errors.

use std::collections::HashMap;
use std::fmt;

use crate::error::{Error, Result};
use crate::target::{KeyRef, Target};

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

    /// Removes every occurrence of the secret from `text` (clouds sometimes echo keys in errors).
    pub fn redact(&self, text: &str) -> String {
        if self.0.len() < 4 {
            return text.to_owned();
        }
        text.replace(&self.0, "[redacted]")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Secret([redacted])")
    }
}

pub trait CredentialSource: Send + Sync {
    /// The key for `target`, `None` when the target needs none (local Ollama). A key that is
    /// named but missing is an error naming the variable to set.
    fn resolve(&self, target: &Target) -> Result<Option<Secret>>;
}

/// Reads keys from environment variables.
#[derive(Clone, Debug, Default)]
pub struct EnvCredentials;

impl CredentialSource for EnvCredentials {
    fn resolve(&self, target: &Target) -> Result<Option<Secret>> {
        match target.key_ref()? {
            KeyRef::None => Ok(None),
            KeyRef::Env(variable) => match std::env::var(&variable) {
                Ok(value) if !value.trim().is_empty() => Ok(Some(Secret::new(value.trim()))),
                _ => Err(Error::MissingCredential {
                    target: target.name.clone(),
                    variable,
                }),
            },
        }
    }
}

/// Keys given in memory by variable name, falling back to the environment. Used by the demo
/// (fakecloud's fake keys) and tests, so neither has to touch the process environment.
#[derive(Clone, Debug, Default)]
pub struct StaticCredentials {
    by_variable: HashMap<String, Secret>,
}

impl StaticCredentials {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, variable: impl Into<String>, secret: Secret) -> Self {
        self.by_variable.insert(variable.into(), secret);
        self
    }
}

impl CredentialSource for StaticCredentials {
    fn resolve(&self, target: &Target) -> Result<Option<Secret>> {
        if let KeyRef::Env(variable) = target.key_ref()?
            && let Some(secret) = self.by_variable.get(&variable)
        {
            return Ok(Some(secret.clone()));
        }
        EnvCredentials.resolve(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::ProviderKind;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("sk-very-secret");
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
        assert_eq!(secret.redact("bad key sk-very-secret!"), "bad key [redacted]!");
    }

    #[test]
    fn missing_key_names_the_variable() {
        let mut target = Target::new("t1", ProviderKind::OpenAi, "m");
        target.api_key_ref = Some("env:MODELBENCH_TEST_SURELY_UNSET_VARIABLE".into());
        let error = EnvCredentials.resolve(&target).expect_err("unset");
        let message = error.to_string();
        assert!(
            message.contains("MODELBENCH_TEST_SURELY_UNSET_VARIABLE") && message.contains("t1"),
            "{message}"
        );
    }

    #[test]
    fn ollama_needs_no_key_and_static_keys_win() {
        let target = Target::new("local", ProviderKind::Ollama, "llama3");
        assert_eq!(EnvCredentials.resolve(&target).expect("no key"), None);
        let target = Target::new("o", ProviderKind::OpenAi, "m");
        let source = StaticCredentials::new().with("OPENAI_API_KEY", Secret::new("fake-key"));
        assert_eq!(source.resolve(&target).expect("key"), Some(Secret::new("fake-key")));
    }
}
