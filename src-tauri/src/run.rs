//! A run's messages, and a session's progress, onto their `tauri::ipc::Channel`s: the shell's
//! [`RunSink`] and [`SessionSink`]. Starting, stopping
//! and the per-frame batching are the workbench's (`modelbench_workbench::run`).

use modelbench_workbench::session::live::{SessionMessage, SessionSink};
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

/// The sink of a session's progress on `channel`; a closed channel is not an error either.
pub fn session_sink(channel: Channel<SessionMessage>) -> impl SessionSink {
    move |message| {
        if let Err(error) = channel.send(message) {
            eprintln!("modelbench-app: cannot send to the session channel: {error}");
        }
    }
}

#[cfg(test)]
mod bindings;
