//! The spend guard: a hard cap in US dollars on what a session may cost.
//!
//! Before each call the runner asks [`Budget::admit`]; the call goes out only if what was spent,
//! plus the worst case of every call in flight, plus this call's worst case stays within the cap.
//! The first call that could break the cap stops the scheduling for good (calls in flight finish;
//! the rest are recorded as never sent, for `session resume` with a larger budget). A finished
//! call's reservation becomes its real cost; a call whose cost is unknown counts at its worst case.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::model::event::ResponseKey;
use crate::model::record::ResponseRecord;
use crate::model::target::Target;
use crate::run::runner::Admission;

/// The worst case of each call: `worst_case[target_index][prompt_index]` in USD.
#[derive(Debug)]
pub struct Budget {
    cap_usd: f64,
    worst_case: Vec<Vec<f64>>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    spent_usd: f64,
    in_flight: HashMap<ResponseKey, f64>,
    stopped: bool,
}

impl Budget {
    /// A cap of `cap_usd`, of which `already_spent_usd` is gone (a resumed session's earlier calls).
    pub fn new(cap_usd: f64, already_spent_usd: f64, worst_case: Vec<Vec<f64>>) -> Self {
        Self {
            cap_usd,
            worst_case,
            state: Mutex::new(State {
                spent_usd: already_spent_usd,
                ..State::default()
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether scheduling stopped because the next call could have broken the cap.
    pub fn stopped(&self) -> bool {
        self.state().stopped
    }

    /// Spent so far, by the finished calls' costs (worst cases where unknown).
    pub fn spent_usd(&self) -> f64 {
        self.state().spent_usd
    }

    pub fn cap_usd(&self) -> f64 {
        self.cap_usd
    }

    fn worst_case_of(&self, key: ResponseKey) -> f64 {
        self.worst_case
            .get(key.target_index as usize)
            .and_then(|per_prompt| per_prompt.get(key.prompt_index as usize))
            .copied()
            .unwrap_or(f64::INFINITY)
    }
}

impl Admission for Budget {
    fn admit(&self, _target: &Target, key: ResponseKey) -> bool {
        let worst = self.worst_case_of(key);
        let mut state = self.state();
        if state.stopped {
            return false;
        }
        let committed = state.spent_usd + state.in_flight.values().sum::<f64>();
        if committed + worst > self.cap_usd {
            state.stopped = true;
            return false;
        }
        state.in_flight.insert(key, worst);
        true
    }

    fn settle(&self, record: &ResponseRecord) {
        let mut state = self.state();
        if let Some(reserved) = state.in_flight.remove(&record.key) {
            state.spent_usd += record.cost_usd.unwrap_or(reserved);
        }
    }
}
