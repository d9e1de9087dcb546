//! The ModelBench desktop shell: a thin Tauri layer over the workbench (`modelbench-workbench`,
//! the application layer it shares with the CLI) and the engine.
//!
//! Each command is a one-line adapter onto a workbench or engine call; the only code of its own
//! here is plumbing: the app state (the workbench, the keychain, the simulated clouds), turning
//! errors into `{kind, message, retryable}` for the UI, the run channel as the workbench's sink,
//! and the native save dialog. The command contract is described in `ui/README.md`; its types
//! are generated into `ui/src/lib/bindings/`.
//!
//! The simulated clouds (`start_demo`) run in this process: the `modelbench-demo` crate's
//! fakecloud, started on the first launch's request, and again at startup when simulated targets
//! are saved, so they keep working across launches.

/// The shell's commands, declared once: this list registers them with Tauri
/// (`command_handler!`) and names them for the UI (`COMMAND_NAMES`, generated into
/// `ui/src/lib/bindings/commands.ts` with the other bindings).
macro_rules! declare_commands {
    ($($name:ident),* $(,)?) => {
        /// Every command name, as the UI invokes it.
        pub const COMMAND_NAMES: &[&str] = &[$(stringify!($name)),*];

        macro_rules! command_handler {
            () => {
                tauri::generate_handler![$(commands::$name),*]
            };
        }
    };
}

declare_commands![
    list_targets,
    save_target,
    remove_target,
    validate_target,
    list_keys,
    set_key,
    test_target,
    start_run,
    stop_run,
    list_runs,
    load_run,
    delete_run,
    start_demo,
    diff_texts,
    similarity,
    export_run,
    list_suites,
    load_suite,
    import_suite,
    estimate_session,
    start_session,
    cancel_session,
    resume_session,
    list_sessions,
    session_analysis,
    export_session,
    open_suite_draft,
    check_suite_document,
    check_suite_text,
    save_suite_draft,
    export_suite_draft,
    dry_check_suite,
    pause_session,
    session_answers,
    list_panels,
    create_rating_panel,
    join_panel,
    rating_item,
    rate_item,
    session_leaderboard,
];

mod commands;
mod error;
mod export;
mod run;
pub mod webview;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use modelbench_demo::{Demo, WithDemo};
use modelbench_engine::credentials::KeychainCredentials;
use modelbench_engine::keychain::Keychain;
use modelbench_workbench::Workbench;

/// What every command reaches through `tauri::State`.
pub struct AppState {
    /// The store, the runners and the runs in flight.
    workbench: Workbench,
    keychain: Keychain,
    /// The simulated clouds, once started; simulated targets get their fake keys from it.
    demo: Arc<OnceLock<Arc<Demo>>>,
    /// Held while the demo starts, so two requests start one fakecloud.
    demo_starting: tokio::sync::Mutex<()>,
}

impl AppState {
    /// Opens the database in `data_dir` (the CLI's own, so both see the same targets and runs).
    pub fn open(data_dir: &std::path::Path) -> modelbench_workbench::Result<Self> {
        let store = Arc::new(modelbench_workbench::data_dir::open_store(data_dir)?);
        let demo = Arc::new(OnceLock::new());
        let credentials = Arc::new(WithDemo::new(KeychainCredentials::new(Keychain::os()), demo.clone()));
        Ok(Self {
            workbench: Workbench::new(store, credentials)?,
            keychain: Keychain::os(),
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
        let store = self.workbench.store();
        if !modelbench_demo::has_saved_targets(store).map_err(|error| error.to_string())? {
            return Ok(());
        }
        let demo = self
            .demo()
            .await
            .map_err(|error| format!("cannot start the simulated clouds: {error}"))?;
        demo.repoint_saved(store).map_err(|error| error.to_string())?;
        Ok(())
    }
}

/// `MODELBENCH_DATA_DIR`, else the platform's data directory (as the CLI picks it).
fn data_dir() -> Result<PathBuf, String> {
    modelbench_workbench::data_dir::resolve(None)
        .ok_or_else(|| "cannot find the platform data directory; set MODELBENCH_DATA_DIR".to_owned())
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
        .invoke_handler(command_handler!())
        .run(tauri::generate_context!());
    if let Err(error) = result {
        eprintln!("modelbench-app: {error}");
        std::process::exit(1);
    }
}
