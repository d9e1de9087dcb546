//! The secrets layer: where a target's key comes from and how a request is authenticated.
//!
//! A key's value ([`secret`], a leaf), the OS keychain, the credential sources that resolve a
//! target's key reference (keychain, environment, the clouds' own chains), and request-time
//! signing and tokens (AWS SigV4, Google OAuth).
//!
//! Left out on purpose: where requests go and what they carry (the providers' business), and
//! any storage of a secret in the database (targets hold key references only).

pub mod auth;
pub mod credentials;
pub mod keychain;
pub mod secret;
