//! The ModelBench desktop shell: a thin Tauri layer over the engine.
//!
//! Each command is a one-line adapter onto an engine call; the only code of its own here is
//! plumbing: the app state (the store, the keychain, the runner, the cancellation tokens of the
//! runs in flight), turning engine errors into `{kind, message, retryable}` for the UI, and
//! forwarding a run's events onto a `tauri::ipc::Channel`, batched per animation frame. The
//! command contract is described in `ui/README.md`; its types are generated into `ui/src/lib/bindings/`.
//!
//! The simulated clouds (`start_demo`) run in this process: the `modelbench-demo` crate's
//! fakecloud, started on the first launch's request, and again at startup when simulated targets
//! are saved, so they keep working across launches.

mod commands;
mod error;
mod export;
mod run;
pub mod webview;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use modelbench_demo::{Demo, WithDemo};
use modelbench_engine::credentials::KeychainCredentials;
use modelbench_engine::keychain::Keychain;
use modelbench_engine::pricing::PriceBook;
use modelbench_engine::runner::Runner;
use modelbench_engine::{RunId, Store};
use tokio_util::sync::CancellationToken;

/// What every command reaches through `tauri::State`.
pub struct AppState {
    /// Shared with the commands' work on the blocking pool.
    store: Arc<Store>,
    keychain: Keychain,
    runner: Runner,
    /// Runs target tests, which are not history: the same credentials and prices, no store.
    tester: Runner,
    /// The runs in flight, so `stop_run` can cancel them.
    running: Mutex<HashMap<RunId, CancellationToken>>,
    /// The simulated clouds, once started; simulated targets get their fake keys from it.
    demo: Arc<OnceLock<Arc<Demo>>>,
    /// Held while the demo starts, so two requests start one fakecloud.
    demo_starting: tokio::sync::Mutex<()>,
}

impl AppState {
    /// Opens the database in `data_dir` (the CLI's own, so both see the same targets and runs).
    pub fn open(data_dir: &std::path::Path) -> modelbench_engine::Result<Self> {
        let store = Arc::new(Store::open(&data_dir.join(modelbench_engine::store::DATABASE_FILE))?);
        let demo = Arc::new(OnceLock::new());
        let credentials = Arc::new(WithDemo::new(KeychainCredentials::new(Keychain::os()), demo.clone()));
        let prices = PriceBook::for_store(&store)?;
        let runner = Runner::new(credentials.clone())
            .with_store(store.writer())
            .with_prices(prices.clone());
        let tester = Runner::new(credentials).with_prices(prices);
        Ok(Self {
            store,
            keychain: Keychain::os(),
            runner,
            tester,
            running: Mutex::new(HashMap::new()),
            demo,
            demo_starting: tokio::sync::Mutex::new(()),
        })
    }

    /// The simulated clouds, started on first use.
    pub async fn demo(&self) -> std::io::Result<Arc<Demo>> {
        let _starting = self.demo_starting.lock().await;
        if let Some(demo) = self.demo.get() {
            return Ok(demo.clone());
        }
        let demo = Arc::new(Demo::start().await?);
        Ok(self.demo.get_or_init(|| demo).clone())
    }

    /// Simulated targets saved by an earlier launch point at a fakecloud that is gone: start
    /// this process's and point them at it.
    async fn resume_demo(&self) -> Result<(), String> {
        if !modelbench_demo::has_saved_targets(&self.store).map_err(|error| error.to_string())? {
            return Ok(());
        }
        let demo = self
            .demo()
            .await
            .map_err(|error| format!("cannot start the simulated clouds: {error}"))?;
        demo.repoint_saved(&self.store).map_err(|error| error.to_string())?;
        Ok(())
    }
}

/// `MODELBENCH_DATA_DIR`, else the platform's data directory (as the CLI picks it).
fn data_dir() -> Result<PathBuf, String> {
    match std::env::var_os("MODELBENCH_DATA_DIR") {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => modelbench_engine::store::default_data_dir()
            .ok_or_else(|| "cannot find the platform data directory; set MODELBENCH_DATA_DIR".to_owned()),
    }
}

/// Starts the app. Failing to open the database ends the process with the reason: there is no
/// useful window to show without it.
pub fn run() {
    let state = match data_dir().and_then(|dir| AppState::open(&dir).map_err(|error| error.to_string())) {
        Ok(state) => state,
        Err(message) => {
            eprintln!("modelbench-app: {message}");
            std::process::exit(1);
        }
    };
    // Not fatal: the real targets work without it, and the simulated ones then say they cannot connect.
    if let Err(message) = tauri::async_runtime::block_on(state.resume_demo()) {
        eprintln!("modelbench-app: {message}");
    }
    let acceleration = webview::for_this_machine();
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .manage(state)
        .setup(move |app| Ok(webview::apply(app, acceleration)?))
        .invoke_handler(tauri::generate_handler![
            commands::list_targets,
            commands::save_target,
            commands::remove_target,
            commands::list_keys,
            commands::set_key,
            commands::test_target,
            commands::start_run,
            commands::stop_run,
            commands::list_runs,
            commands::load_run,
            commands::delete_run,
            commands::start_demo,
            commands::diff_texts,
            commands::similarity,
            commands::export_run,
        ])
        .run(tauri::generate_context!());
    if let Err(error) = result {
        eprintln!("modelbench-app: {error}");
        std::process::exit(1);
    }
}
