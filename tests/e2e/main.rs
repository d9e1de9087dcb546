//! End-to-end tests across crates, in one binary: the engine and the `modelbench` CLI against
//! fakecloud on 127.0.0.1, with real SQLite files in temp dirs.

mod architecture;
mod bedrock;
mod cli;
mod clouds;
mod decoders;
mod desktop;
mod diff;
mod entra;
mod export;
mod google;
mod history;
mod hostile;
mod judge;
mod keychain;
mod mantle;
mod mutations;
mod oci;
mod oci_entra;
mod panels;
mod peers;
mod prices;
mod recordings;
mod reliability;
mod scenarios;
mod sessions;
mod signoff;
mod stream_ends;
mod timing;
