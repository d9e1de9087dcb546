//! Gemini `streamGenerateContent?alt=sse`, on AI Studio and Vertex.
//! (Skeleton: being filled in.)

use serde_json::{Value, json};

use super::{Capabilities, SseProtocol, protocol_error};
use crate::event::{ResponseMeta, StreamEvent};
use crate::request::{Parameters, Prompt};
use crate::sse::SseEvent;

pub const CAPABILITIES: Capabilities = Capabilities {
    system_prompt: true,
    temperature: true,
    top_p: true,
    max_output_tokens: true,
    stop_sequences: true,
    seed: true,
};

pub fn request_body(_prompt: &Prompt, _parameters: &Parameters) -> Value {
    json!({})
}

pub struct GeminiDecoder {
    provider: &'static str,
    _meta: ResponseMeta,
}

impl GeminiDecoder {
    pub fn new(provider: &'static str, meta: ResponseMeta) -> Self {
        Self { provider, _meta: meta }
    }
}

impl SseProtocol for GeminiDecoder {
    fn handle(&mut self, _event: &SseEvent, _out: &mut Vec<StreamEvent>) {}
    fn end_of_body(&mut self, out: &mut Vec<StreamEvent>) {
        out.push(protocol_error(self.provider, "gemini decoding is not built yet".into()));
    }
}
