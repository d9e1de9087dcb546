//! ModelBench engine: send one prompt to many model targets and measure how each behaves.
//!
//! The engine knows providers, streaming, timings and storage. It knows nothing of terminals,
//! windows or Tauri: the CLI and the desktop shell are thin layers over it.

pub mod error;
pub mod event;
pub mod record;
pub mod request;
pub mod store;
pub mod target;

pub use error::{Error, ErrorKind, ProviderError, Result};
pub use event::{FinishReason, ResponseKey, ResponseMeta, StampedEvent, StreamEvent, Usage};
pub use record::{Metrics, ResponseRecord, RunId, RunRecord, ToolCall};
pub use request::{Message, Parameter, Parameters, Prompt, Role};
pub use store::{RunSummary, SearchHit, Store, StoreWriter, StoredEvent, StoredRun};
pub use target::{Api, ProviderKind, Target, Timeouts};
pub mod accumulate;
pub mod auth;
pub mod credentials;
pub mod diff;
pub mod eventstream;
pub mod http;
pub mod identity;
pub mod keychain;
pub mod ndjson;
pub mod pricing;
pub mod providers;
pub mod report;
pub mod runner;
pub mod sse;
pub mod stats;
