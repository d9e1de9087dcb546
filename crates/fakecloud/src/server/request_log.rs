//! The log of every request fakecloud answered, for tests to inspect what
//! the engine sent and how each response went.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;

/// One request as fakecloud saw and answered it.
#[derive(Clone, Debug, Serialize)]
pub struct RequestRecord {
    /// The id sent back in the provider's request-id header.
    pub request_id: String,
    /// `openai`, `azure`, `anthropic`, `ollama`, `bedrock`, `gemini` or
    /// `vertex`.
    pub provider: String,
    /// The URL path, without the query.
    pub path: String,
    /// The model as requested (with any `~SPEC` suffix); for Azure classic
    /// the deployment name, for Bedrock, Gemini and Vertex the model from
    /// the path (percent-decoded).
    pub model: String,
    /// The request's credentials were accepted (always true where none are
    /// needed, as for a keyless Ollama).
    pub authenticated: bool,
    /// Which credential the request presented, never the secret itself: the
    /// header or query parameter a key came in (`x-api-key`, `?key=`), or
    /// for SigV4 `sigv4 ` and the credential scope
    /// (`AKID/20250101/us-east-1/bedrock/aws4_request`). `None` if none.
    pub credential: Option<String>,
    /// The HTTP status sent.
    pub status: u16,
    /// Handler entry to the moment the first content token's bytes were
    /// handed to the body stream; `None` until then (or if none were sent).
    pub server_time_to_first_token_us: Option<u64>,
    /// Handler entry to the moment the body's last byte was handed over, before any `hold_ms`
    /// (a server that keeps the connection open after its answer); `None` until then.
    pub server_body_sent_us: Option<u64>,
    /// The server handed over everything it meant to send (for scenarios
    /// that truncate or error mid-stream, up to that point). Stays false if
    /// the client went away first or the server shut down mid-stream.
    pub completed: bool,
    /// The scenario this request got, as a spec, with everything drawn for it written out
    /// (`ttft_ms=463.271;text=second answer;fail=503`); `None` if it was refused before a
    /// scenario was chosen (auth, a bad path or body).
    pub scenario: Option<String>,
    /// The request JSON as received; `Null` if it did not parse.
    pub body: serde_json::Value,
}

#[derive(Clone, Default)]
pub(crate) struct RequestLog {
    records: Arc<Mutex<Vec<RequestRecord>>>,
}

impl RequestLog {
    /// Appends a record; the handle updates it as the response streams.
    pub(crate) fn push(&self, record: RequestRecord) -> RecordHandle {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records.push(record);
        RecordHandle {
            log: self.clone(),
            index: records.len() - 1,
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<RequestRecord> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn update(&self, index: usize, change: impl FnOnce(&mut RequestRecord)) {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(record) = records.get_mut(index) {
            change(record);
        }
    }
}

/// Updates one record while its response streams.
pub(crate) struct RecordHandle {
    log: RequestLog,
    index: usize,
}

impl RecordHandle {
    pub(crate) fn first_content(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.log.update(self.index, |record| {
            record.server_time_to_first_token_us.get_or_insert(micros);
        });
    }

    pub(crate) fn body_sent(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.log.update(self.index, |record| {
            record.server_body_sent_us.get_or_insert(micros);
        });
    }

    pub(crate) fn complete(&self) {
        self.log.update(self.index, |record| record.completed = true);
    }
}
