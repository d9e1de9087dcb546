//! The model layer: the engine's vocabulary, which every other layer speaks.
//!
//! Targets (where a prompt goes), requests (what is sent), the one stream-event enum every cloud
//! is mapped into, the records a run leaves behind, the base model a target runs, the engine's
//! errors, and the fold of a response's events into its metrics (pure, so the runner, the
//! store's replays and the decoders' tests share it).
//!
//! Left out on purpose: anything that does I/O or knows a cloud's wire format. This layer imports
//! nothing from the rest of the crate, so every other layer may depend on it.

pub mod accumulate;
pub mod error;
pub mod event;
pub mod identity;
pub mod record;
pub mod request;
pub mod target;
