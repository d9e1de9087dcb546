//! The run layer: a run plan driven to its end, every response streamed, measured, priced and
//! stored.
//!
//! Left out on purpose: how a run is shown (the workbench and the hosts), and everything below it
//! that it only calls: the wire formats (providers), the keys (secrets), prices and the store.

pub mod adaptive;
pub mod lag;
pub mod runner;
