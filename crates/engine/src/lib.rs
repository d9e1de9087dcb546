//! ModelBench engine: send one prompt to many model targets and measure how each behaves.
//!
//! The engine knows providers, streaming, timings and storage. It knows nothing of terminals,
//! windows or Tauri: the CLI and the desktop shell are thin layers over it.
//!
//! Its modules are grouped in layers, one folder each; a layer imports only from the layers
//! below it (ARCHITECTURE.md draws them, `tests/e2e/architecture.rs` checks them). Each module is
//! also re-exported here under its own name (`modelbench_engine::target`): the paths the other
//! crates use.

mod framing;
mod model;
mod run;
mod secrets;

pub mod judge;
pub mod panel;
pub mod pricing;
pub mod providers;
pub mod report;
pub mod session;
pub mod stats;
pub mod store;
pub mod suite;

pub use framing::{eventstream, ndjson, sse};
pub use model::{accumulate, error, event, identity, record, request, target};
pub use providers::http;
pub use run::{adaptive, lag, runner};
pub use secrets::{auth, credentials, keychain, secret};

/// The diff engine is its own crate (it needs nothing of the engine); the report uses it, and the
/// other crates reach it here as `modelbench_engine::diff`.
pub use modelbench_diff as diff;

pub use error::{Error, ErrorKind, ProviderError, Result};
pub use event::{FinishReason, ResponseKey, ResponseMeta, StampedEvent, StreamEvent, Usage};
pub use record::{Metrics, ResponseRecord, RunId, RunRecord, ToolCall};
pub use request::{Message, Parameter, Parameters, Prompt, Role};
pub use store::{RunStatus, RunSummary, SearchHit, Store, StoreWriter, StoredEvent, StoredRun};
pub use target::{Api, ProviderKind, Target, Timeouts};
