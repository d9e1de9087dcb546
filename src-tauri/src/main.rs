//! The `modelbench-app` binary: starts the desktop shell defined in the library.

// No console window beside the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    modelbench_app::run();
}
