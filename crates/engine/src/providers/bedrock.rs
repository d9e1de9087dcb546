//! AWS Bedrock Runtime: ConverseStream and InvokeModelWithResponseStream.
//! (Skeleton: being filled in.)

use serde_json::{Value, json};

use super::{Capabilities, WireDecoder, protocol_error};
use crate::event::{ResponseMeta, StreamEvent};
use crate::request::{Parameters, Prompt};

pub const CONVERSE_CAPABILITIES: Capabilities = Capabilities {
    system_prompt: true,
    temperature: true,
    top_p: true,
    max_output_tokens: true,
    stop_sequences: true,
    seed: false,
};

pub const INVOKE_CAPABILITIES: Capabilities = CONVERSE_CAPABILITIES;

pub fn converse_request_body(_prompt: &Prompt, _parameters: &Parameters) -> Value {
    json!({})
}

pub fn invoke_request_body(_model: &str, _prompt: &Prompt, _parameters: &Parameters) -> Value {
    json!({})
}

pub fn converse_decoder(provider: &'static str, meta: ResponseMeta) -> Box<dyn WireDecoder> {
    Box::new(Unfinished { provider, _meta: meta })
}

pub fn invoke_decoder(provider: &'static str, _model: &str, meta: ResponseMeta) -> Box<dyn WireDecoder> {
    Box::new(Unfinished { provider, _meta: meta })
}

struct Unfinished {
    provider: &'static str,
    _meta: ResponseMeta,
}

impl WireDecoder for Unfinished {
    fn feed(&mut self, _bytes: &[u8], _out: &mut Vec<StreamEvent>) {}
    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        out.push(protocol_error(
            self.provider,
            "bedrock decoding is not built yet".into(),
        ));
    }
}
