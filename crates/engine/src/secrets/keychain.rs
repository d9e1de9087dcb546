//! Keys in the OS keychain: macOS Keychain, Windows Credential Manager, the Secret Service on
//! Linux (gnome-keyring, KeePassXC), through the `keyring` crate.
//!
//! Every key is one entry with service `modelbench` and the key's name as its user. This module
//! stores, reads and deletes them and keeps the list of names; it deliberately has no plaintext
//! fallback: when the OS keychain is unreachable the error says how to start one, or to use an
//! environment variable instead. Resolving a target's credential lives in
//! [`crate::secrets::credentials::KeychainCredentials`].

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use keyring::{CredentialBuilder, Entry};

// Re-exported: the keychain's error is defined with the engine's others, which wrap it.
use crate::model::error::KEY_NAME_MAX_CHARS;
pub use crate::model::error::KeychainError;
use crate::secrets::secret::Secret;

/// The keychain service every ModelBench key is stored under.
pub const SERVICE: &str = "modelbench";

/// The entry holding the list of key names (never values). keyring 3 has no way to enumerate a
/// service's entries on every platform (the Secret Service could search by attribute, macOS and
/// Windows expose nothing through the crate), so `keys list` reads this index instead. It lives
/// in the keychain rather than in the data dir so that it follows the keys themselves: one
/// keychain serves every data dir. Its user contains `:`, which no key name may, so it can never
/// collide with a key.
const INDEX_USER: &str = ":keychain-index";

/// Written and removed by [`Keychain::check_available`]; never indexed.
const PROBE_USER: &str = ":probe";

pub type Result<T, E = KeychainError> = std::result::Result<T, E>;

/// Maps keyring's errors to ours. `BadEncoding` carries the stored bytes, so it is never
/// formatted with `Debug` here or anywhere.
fn map_error(name: &str, error: keyring::Error) -> KeychainError {
    match error {
        keyring::Error::NoEntry => KeychainError::NotFound(name.to_owned()),
        keyring::Error::NoStorageAccess(detail) | keyring::Error::PlatformFailure(detail) => {
            KeychainError::Unavailable {
                detail: detail.to_string(),
            }
        }
        keyring::Error::BadEncoding(_) => KeychainError::Failed(format!("key '{name}' is not valid UTF-8")),
        keyring::Error::Ambiguous(items) => KeychainError::Failed(format!(
            "{} keychain entries match key '{name}'; remove the extra ones in your keychain manager",
            items.len()
        )),
        other => KeychainError::Failed(other.to_string()),
    }
}

/// Checks a key name before it reaches the keychain, so names stay portable across platforms
/// and readable in `keys list`.
pub fn validate_name(name: &str) -> Result<()> {
    let mut characters = name.chars();
    let valid = characters.next().is_some_and(|first| first.is_ascii_alphanumeric())
        && characters.all(|character| character.is_ascii_alphanumeric() || matches!(character, '.' | '_' | '-' | '@'))
        && name.chars().count() <= KEY_NAME_MAX_CHARS;
    if valid {
        Ok(())
    } else {
        Err(KeychainError::InvalidName(name.to_owned()))
    }
}

/// The OS keychain, or whatever store the caller injects (tests pass keyring's mock builder).
pub struct Keychain {
    /// `None`: the platform store keyring was built for.
    builder: Option<Box<CredentialBuilder>>,
    /// Entries are cached by user because a keyring mock credential keeps its value inside the
    /// entry object; for the platform stores an entry is only a handle, so caching changes nothing.
    entries: Mutex<HashMap<String, Arc<Entry>>>,
}

impl std::fmt::Debug for Keychain {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Keychain")
            .field("store", &if self.builder.is_some() { "injected" } else { "os" })
            .finish()
    }
}

impl Keychain {
    /// The platform's keychain.
    pub fn os() -> Self {
        Self {
            builder: None,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// A keychain backed by `builder`: `keyring::mock::default_credential_builder()` in tests.
    pub fn with_builder(builder: Box<CredentialBuilder>) -> Self {
        Self {
            builder: Some(builder),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entry(&self, user: &str) -> Result<Arc<Entry>> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = entries.get(user) {
            return Ok(Arc::clone(entry));
        }
        let entry = match &self.builder {
            Some(builder) => builder.build(None, SERVICE, user).map(Entry::new_with_credential),
            None => Entry::new(SERVICE, user),
        }
        .map_err(|error| map_error(user, error))?;
        let entry = Arc::new(entry);
        entries.insert(user.to_owned(), Arc::clone(&entry));
        Ok(entry)
    }

    /// Stores (or replaces) the key `name`.
    pub fn set(&self, name: &str, secret: &Secret) -> Result<()> {
        validate_name(name)?;
        if secret.expose().is_empty() {
            return Err(KeychainError::Failed("refusing to store an empty key".to_owned()));
        }
        self.entry(name)?
            .set_password(secret.expose())
            .map_err(|error| map_error(name, error))?;
        let mut names = self.index()?;
        if names.insert(name.to_owned()) {
            self.write_index(&names)?;
        }
        Ok(())
    }

    /// The key `name`; [`KeychainError::NotFound`] when there is none.
    pub fn get(&self, name: &str) -> Result<Secret> {
        validate_name(name)?;
        self.entry(name)?
            .get_password()
            .map(Secret::new)
            .map_err(|error| map_error(name, error))
    }

    /// Whether the key `name` exists, without handing its value out.
    pub fn contains(&self, name: &str) -> Result<bool> {
        match self.get(name) {
            Ok(_) => Ok(true),
            Err(KeychainError::NotFound(_) | KeychainError::InvalidName(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Removes the key `name`; [`KeychainError::NotFound`] when there is none.
    pub fn delete(&self, name: &str) -> Result<()> {
        validate_name(name)?;
        let removed = self
            .entry(name)?
            .delete_credential()
            .map_err(|error| map_error(name, error));
        // A name whose entry was already removed by another tool still leaves the index.
        let mut names = self.index()?;
        if names.remove(name) {
            self.write_index(&names)?;
        }
        removed
    }

    /// The names of the stored keys, sorted. Names whose entry has disappeared (removed with
    /// another tool) are left out; keys stored by other tools under the `modelbench` service
    /// cannot be seen (see [`INDEX_USER`]), though targets can still use them.
    pub fn names(&self) -> Result<Vec<String>> {
        let mut present = Vec::new();
        for name in self.index()? {
            if self.contains(&name)? {
                present.push(name);
            }
        }
        Ok(present)
    }

    /// Writes, reads back and removes a probe entry: `Ok` means keys can be stored here.
    pub fn check_available(&self) -> Result<()> {
        let entry = self.entry(PROBE_USER)?;
        let value = "modelbench keychain probe";
        entry
            .set_password(value)
            .map_err(|error| map_error(PROBE_USER, error))?;
        let read = entry.get_password().map_err(|error| map_error(PROBE_USER, error));
        let deleted = entry.delete_credential().map_err(|error| map_error(PROBE_USER, error));
        if read? != value {
            return Err(KeychainError::Failed(
                "the keychain returned a different value".to_owned(),
            ));
        }
        deleted
    }

    /// Concurrent `set`/`delete` from two processes can race on this read-modify-write; the
    /// worst case is a name missing from `keys list` until it is set again.
    fn index(&self) -> Result<BTreeSet<String>> {
        match self.entry(INDEX_USER)?.get_password() {
            Ok(text) => Ok(serde_json::from_str::<Vec<String>>(&text)
                .unwrap_or_default()
                .into_iter()
                .filter(|name| validate_name(name).is_ok())
                .collect()),
            Err(keyring::Error::NoEntry) => Ok(BTreeSet::new()),
            Err(error) => Err(map_error(INDEX_USER, error)),
        }
    }

    fn write_index(&self, names: &BTreeSet<String>) -> Result<()> {
        let entry = self.entry(INDEX_USER)?;
        let result = if names.is_empty() {
            match entry.delete_credential() {
                Err(keyring::Error::NoEntry) => Ok(()),
                other => other,
            }
        } else {
            let text = serde_json::to_string(names).map_err(|error| KeychainError::Failed(error.to_string()))?;
            entry.set_password(&text)
        };
        result.map_err(|error| map_error(INDEX_USER, error))
    }
}

/// Stores for the tests of this crate. The mock store never appears outside `cfg(test)`.
#[cfg(test)]
pub(crate) mod test_support {
    use std::any::Any;

    use keyring::credential::{Credential, CredentialApi, CredentialBuilderApi};

    use super::Keychain;

    /// keyring's in-memory mock store.
    pub(crate) fn mock() -> Keychain {
        Keychain::with_builder(keyring::mock::default_credential_builder())
    }

    /// A keychain that fails every call the way Linux without a Secret Service does.
    pub(crate) fn unreachable() -> Keychain {
        Keychain::with_builder(Box::new(UnreachableBuilder))
    }

    #[derive(Debug)]
    struct UnreachableBuilder;

    #[derive(Debug)]
    struct Unreachable;

    fn failure() -> keyring::Error {
        keyring::Error::PlatformFailure("org.freedesktop.DBus.Error.ServiceUnknown: no org.freedesktop.secrets".into())
    }

    impl CredentialApi for Unreachable {
        fn set_secret(&self, _: &[u8]) -> keyring::Result<()> {
            Err(failure())
        }

        fn get_secret(&self) -> keyring::Result<Vec<u8>> {
            Err(failure())
        }

        fn delete_credential(&self) -> keyring::Result<()> {
            Err(failure())
        }

        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    impl CredentialBuilderApi for UnreachableBuilder {
        fn build(&self, _: Option<&str>, _: &str, _: &str) -> keyring::Result<Box<Credential>> {
            Ok(Box::new(Unreachable))
        }

        fn as_any(&self) -> &dyn Any {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{mock, unreachable};
    use super::*;

    #[test]
    fn set_get_list_delete() {
        let keychain = mock();
        assert_eq!(keychain.names().expect("names"), Vec::<String>::new());
        keychain.set("work", &Secret::new("sk-work")).expect("set");
        keychain.set("home", &Secret::new("sk-home")).expect("set");
        keychain.set("work", &Secret::new("sk-work-2")).expect("replace");
        assert_eq!(keychain.get("work").expect("get"), Secret::new("sk-work-2"));
        assert_eq!(keychain.names().expect("names"), ["home", "work"]);
        keychain.delete("work").expect("delete");
        assert!(matches!(keychain.get("work"), Err(KeychainError::NotFound(name)) if name == "work"));
        assert_eq!(keychain.names().expect("names"), ["home"]);
        let error = keychain.delete("work").expect_err("already gone");
        assert_eq!(
            error.to_string(),
            "no key 'work' in the keychain (modelbench keys set work)"
        );
    }

    #[test]
    fn names_are_checked_and_the_index_is_not_a_key() {
        let keychain = mock();
        for bad in ["", ":keychain-index", "-dash", "has space", "a/b", &"x".repeat(65)] {
            assert!(
                matches!(keychain.set(bad, &Secret::new("v")), Err(KeychainError::InvalidName(_))),
                "{bad:?}"
            );
        }
        assert!(keychain.set("empty", &Secret::new("")).is_err());
        keychain.set("openai.work-1@team_a", &Secret::new("v")).expect("valid");
        assert!(!keychain.contains(":keychain-index").expect("contains"));
    }

    #[test]
    fn the_index_holds_names_never_values() {
        let keychain = mock();
        keychain.set("work", &Secret::new("sk-do-not-index")).expect("set");
        let index = keychain
            .entry(INDEX_USER)
            .expect("entry")
            .get_password()
            .expect("index");
        assert_eq!(index, r#"["work"]"#);
    }

    #[test]
    fn an_unreachable_store_says_how_to_fix_it() {
        let keychain = unreachable();
        for error in [
            keychain.get("work").expect_err("get"),
            keychain.set("work", &Secret::new("v")).expect_err("set"),
            keychain.names().expect_err("list"),
            keychain.check_available().expect_err("probe"),
        ] {
            assert!(matches!(error, KeychainError::Unavailable { .. }), "{error}");
            let message = error.to_string();
            assert!(message.contains("ServiceUnknown"), "{message}");
            assert!(message.contains("api_key_ref"), "{message}");
            if cfg!(target_os = "linux") {
                assert!(message.starts_with("no Secret Service is running"), "{message}");
                assert!(message.contains("gnome-keyring-daemon --unlock"), "{message}");
            }
        }
        // A busy store for one call (the mock's injected error) maps the same way.
        let keychain = mock();
        let entry = keychain.entry("work").expect("entry");
        let credential: &keyring::mock::MockCredential =
            entry.get_credential().downcast_ref().expect("mock credential");
        credential.set_error(keyring::Error::NoStorageAccess("collection is locked".into()));
        assert!(matches!(keychain.get("work"), Err(KeychainError::Unavailable { .. })));
        assert!(matches!(keychain.get("work"), Err(KeychainError::NotFound(_))));
    }

    #[test]
    fn the_probe_leaves_nothing_behind() {
        let keychain = mock();
        keychain.check_available().expect("available");
        assert!(matches!(
            keychain.entry(PROBE_USER).expect("entry").get_password(),
            Err(keyring::Error::NoEntry)
        ));
        assert_eq!(keychain.names().expect("names"), Vec::<String>::new());
    }
}
