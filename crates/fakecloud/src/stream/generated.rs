//! Frames for a generated (not replayed) response: preamble, tokens on the
//! scenario's schedule, then the ending the scenario and the request's
//! max-token limit call for.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::scenario::{Failure, Scenario};
use crate::stream::{Frame, FrameSource, Step};
use crate::text::tokens_for;
use crate::wire::{FinishReason, WireEncoder};

/// How the stream ends once its tokens are out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    Finish(FinishReason),
    MidStreamError,
    Truncate,
    Disconnect,
    /// Nothing more for [`SILENCE`], then a clean end of body: a server that never answers.
    Silence,
}

/// How long `fail=timeout` keeps quiet: longer than any client's first-token timeout.
const SILENCE: Duration = Duration::from_secs(60 * 60);

/// Which tokens go out, when, and how the stream ends.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub tokens: Vec<String>,
    pub ending: Ending,
    pub time_to_first_token: Duration,
    pub inter_token_delay: Duration,
    pub stall: Option<(usize, Duration)>,
}

impl Plan {
    /// `max_tokens` is the request's own limit, if it set one.
    pub(crate) fn new(scenario: &Scenario, max_tokens: Option<u64>) -> Self {
        let mut tokens = tokens_for(scenario);
        let available = tokens.len();
        let limit = max_tokens.map(|limit| usize::try_from(limit).unwrap_or(usize::MAX));
        let failure_cut = match scenario.failure {
            Some(Failure::MidStreamError { after_tokens }) => Some((after_tokens, Ending::MidStreamError)),
            Some(Failure::Truncate { after_tokens }) => Some((after_tokens, Ending::Truncate)),
            Some(Failure::Disconnect { after_tokens }) => Some((after_tokens, Ending::Disconnect)),
            Some(Failure::FinishContentFilter { after_tokens }) => {
                Some((after_tokens, Ending::Finish(FinishReason::ContentFilter)))
            }
            // Only reaches a plan on routes whose cloud reports a blocked
            // prompt inside a 200 stream; the others refused already.
            Some(Failure::ContentFilter) => Some((0, Ending::Finish(FinishReason::PromptBlocked))),
            Some(Failure::Timeout) => Some((0, Ending::Silence)),
            _ => None,
        };
        // Whichever cut comes first wins; a failure set beyond the end of the
        // text still happens, right after the last token.
        let (count, ending) = match (limit, failure_cut) {
            (Some(limit), Some((after, _))) if limit < available && limit < after => {
                (limit, Ending::Finish(FinishReason::Length))
            }
            (_, Some((after, ending))) => (after.min(available), ending),
            (Some(limit), None) if limit < available => (limit, Ending::Finish(FinishReason::Length)),
            _ => (available, Ending::Finish(FinishReason::Stop)),
        };
        tokens.truncate(count);
        Self {
            tokens,
            ending,
            time_to_first_token: scenario.time_to_first_token,
            inter_token_delay: scenario.inter_token_delay,
            stall: scenario.stall,
        }
    }
}

enum Phase {
    Preamble,
    Token(usize),
    Ending,
    Done,
}

pub(crate) struct GeneratedSource {
    plan: Plan,
    encoder: Box<dyn WireEncoder>,
    entry: Instant,
    phase: Phase,
    /// Deadline of the previous content token.
    last_deadline: Option<Instant>,
}

impl GeneratedSource {
    pub(crate) fn new(plan: Plan, encoder: Box<dyn WireEncoder>, entry: Instant) -> Self {
        Self {
            plan,
            encoder,
            entry,
            phase: Phase::Preamble,
            last_deadline: None,
        }
    }

    /// The deadline for whatever follows `sent` tokens: the first token (or
    /// an ending with no tokens) waits for time to first token, later tokens
    /// one gap after the previous, an ending right after the last token. A
    /// stall adds its pause once, before the item that follows it.
    fn deadline_after(&self, sent: usize, is_token: bool) -> Instant {
        let base = match self.last_deadline {
            None => self.entry + self.plan.time_to_first_token,
            Some(previous) if is_token => previous + self.plan.inter_token_delay,
            Some(previous) => previous,
        };
        match self.plan.stall {
            Some((after, pause)) if after == sent => base + pause,
            _ => base,
        }
    }
}

fn frame(at: Option<Instant>, bytes: Vec<u8>, first_content: bool) -> Step {
    Step::Send(Frame {
        at,
        bytes: Bytes::from(bytes),
        first_content,
    })
}

impl FrameSource for GeneratedSource {
    fn next_step(&mut self) -> Step {
        loop {
            match self.phase {
                Phase::Preamble => {
                    self.phase = Phase::Token(0);
                    let preamble = self.encoder.preamble();
                    if !preamble.is_empty() {
                        return frame(None, preamble, false);
                    }
                }
                Phase::Token(index) if index < self.plan.tokens.len() => {
                    let at = self.deadline_after(index, true);
                    self.last_deadline = Some(at);
                    self.phase = Phase::Token(index + 1);
                    let bytes = self.encoder.content(index, &self.plan.tokens[index]);
                    return frame(Some(at), bytes, index == 0);
                }
                Phase::Token(_) => self.phase = Phase::Ending,
                Phase::Ending => {
                    let sent = self.plan.tokens.len();
                    let at = self.deadline_after(sent, false);
                    self.phase = Phase::Done;
                    match self.plan.ending {
                        Ending::Finish(reason) => {
                            return frame(Some(at), self.encoder.finish(reason, sent), false);
                        }
                        Ending::MidStreamError => {
                            return frame(Some(at), self.encoder.midstream_error(sent), false);
                        }
                        Ending::Truncate => return Step::Finish,
                        Ending::Disconnect => return Step::Abort,
                        // An empty frame sends nothing; the driver only waits for it.
                        Ending::Silence => return frame(Some(at + SILENCE), Vec::new(), false),
                    }
                }
                Phase::Done => return Step::Finish,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(spec: &str, max_tokens: Option<u64>) -> Plan {
        Plan::new(&crate::scenario::parse_spec(spec).expect("spec parses"), max_tokens)
    }

    #[test]
    fn plans_pick_the_earliest_cut() {
        let full = plan("tokens=8", None);
        assert_eq!(full.tokens.len(), 8);
        assert_eq!(full.ending, Ending::Finish(FinishReason::Stop));

        let limited = plan("tokens=8", Some(3));
        assert_eq!(limited.tokens.len(), 3);
        assert_eq!(limited.ending, Ending::Finish(FinishReason::Length));

        let roomy = plan("tokens=8", Some(8));
        assert_eq!(roomy.ending, Ending::Finish(FinishReason::Stop));

        let error = plan("tokens=8;midstream_error=5", Some(6));
        assert_eq!(error.tokens.len(), 5);
        assert_eq!(error.ending, Ending::MidStreamError);

        let limit_first = plan("tokens=8;truncate=5", Some(2));
        assert_eq!(limit_first.tokens.len(), 2);
        assert_eq!(limit_first.ending, Ending::Finish(FinishReason::Length));

        let late_failure = plan("tokens=3;finish_content_filter=10", None);
        assert_eq!(late_failure.tokens.len(), 3);
        assert_eq!(late_failure.ending, Ending::Finish(FinishReason::ContentFilter));

        let silent = plan("tokens=3;fail=timeout", Some(1));
        assert!(silent.tokens.is_empty());
        assert_eq!(silent.ending, Ending::Silence);

        let blocked = plan("tokens=3;fail=content_filter", Some(1));
        assert!(blocked.tokens.is_empty());
        assert_eq!(blocked.ending, Ending::Finish(FinishReason::PromptBlocked));
    }
}
