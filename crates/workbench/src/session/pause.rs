//! Pausing a session: the gate its runner asks before each call, and the sessions of this
//! process that can be paused.
//!
//! A pause is not a cancel. The gate refuses every call not yet sent, so the runner records them
//! as never sent (an infrastructure outcome that `resume` sends again), while the calls in
//! flight finish and keep their answers. The session is then stored as `paused`, which resumes
//! like a session stopped by its budget; a cancelled one never does. The gate wraps the spend
//! guard when there is one, so both speak through the runner's one `Admission`.
//! Left out: pausing a session another process runs (the CLI can cancel those, not pause them).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use modelbench_engine::runner::Admission;
use modelbench_engine::session::Budget;
use modelbench_engine::{ResponseKey, ResponseRecord, RunId, Target};

/// The admission of a session's calls: refused once paused, else the budget's answer.
#[derive(Debug, Default)]
pub struct PauseGate {
    paused: AtomicBool,
    /// Whether the pause kept a call from going out: a session paused after its last call
    /// went out has nothing to resume and is completed.
    held_back: AtomicBool,
    budget: Option<Arc<Budget>>,
}

impl PauseGate {
    pub fn new(budget: Option<Arc<Budget>>) -> Self {
        Self {
            paused: AtomicBool::new(false),
            held_back: AtomicBool::new(false),
            budget,
        }
    }

    /// Sends no further call; those in flight finish.
    pub fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    pub fn paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// Whether the pause refused a call, so the session has calls left to resume.
    pub fn held_back(&self) -> bool {
        self.held_back.load(Ordering::SeqCst)
    }
}

impl Admission for PauseGate {
    fn admit(&self, target: &Target, key: ResponseKey) -> bool {
        if self.paused() {
            self.held_back.store(true, Ordering::SeqCst);
            return false;
        }
        self.budget.as_ref().is_none_or(|budget| budget.admit(target, key))
    }

    fn settle(&self, record: &ResponseRecord) {
        if let Some(budget) = &self.budget {
            budget.settle(record);
        }
    }

    fn refusal(&self) -> &'static str {
        match &self.budget {
            _ if self.paused() => "not sent: the session was paused",
            Some(budget) => budget.refusal(),
            None => "not sent",
        }
    }
}

/// The gates of the sessions this process started or resumed, by session id.
#[derive(Clone, Debug, Default)]
pub struct Pauses(Arc<Mutex<HashMap<RunId, Arc<PauseGate>>>>);

impl Pauses {
    pub(crate) fn register(&self, session_id: RunId, gate: Arc<PauseGate>) {
        self.lock().insert(session_id, gate);
    }

    pub(crate) fn remove(&self, session_id: RunId) {
        self.lock().remove(&session_id);
    }

    /// Pauses `session_id`; `false` when this process does not run it.
    pub(crate) fn pause(&self, session_id: RunId) -> bool {
        match self.lock().get(&session_id) {
            Some(gate) => {
                gate.pause();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RunId, Arc<PauseGate>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(prompt_index: u32) -> ResponseKey {
        ResponseKey {
            prompt_index,
            target_index: 0,
            repeat_index: 0,
        }
    }

    fn target() -> Target {
        Target::new("a", modelbench_engine::ProviderKind::OpenAi, "gpt-test")
    }

    #[test]
    fn a_paused_gate_refuses_and_says_why() {
        let gate = PauseGate::new(None);
        assert!(gate.admit(&target(), key(0)));
        gate.pause();
        assert!(!gate.held_back(), "nothing was refused yet");
        assert!(!gate.admit(&target(), key(1)));
        assert!(gate.held_back());
        assert_eq!(gate.refusal(), "not sent: the session was paused");
    }

    #[test]
    fn an_open_gate_defers_to_the_budget() {
        let budget = Arc::new(Budget::new(1.0, 0.0, vec![vec![0.6, 0.6]]));
        let gate = PauseGate::new(Some(budget));
        assert!(gate.admit(&target(), key(0)));
        assert!(!gate.admit(&target(), key(1)), "0.6 + 0.6 is over the 1.0 cap");
        assert!(!gate.held_back());
        assert!(gate.refusal().contains("budget"));
    }

    #[test]
    fn pausing_a_session_this_process_does_not_run_says_so() {
        let pauses = Pauses::default();
        let id = RunId::new();
        assert!(!pauses.pause(id));
        let gate = Arc::new(PauseGate::default());
        pauses.register(id, gate.clone());
        assert!(pauses.pause(id));
        assert!(gate.paused());
        pauses.remove(id);
        assert!(!pauses.pause(id));
    }
}
