//! A run's messages onto its `tauri::ipc::Channel`: the shell's [`RunSink`]. Starting, stopping
//! and the per-frame batching are the workbench's (`modelbench_workbench::run`).

use modelbench_workbench::{RunMessage, RunSink};
use tauri::ipc::Channel;

/// The sink that sends each message on `channel`. A closed channel (the window reloaded) is not
/// an error for the run: it goes on and is stored.
pub fn sink(channel: Channel<RunMessage>) -> impl RunSink {
    move |message| {
        if let Err(error) = channel.send(message) {
            eprintln!("modelbench-app: cannot send to the run channel: {error}");
        }
    }
}

#[cfg(test)]
mod bindings;
