//! fakecloud's integration tests, one binary: each cloud's happy path and
//! refusals over real HTTP, scenarios, replay, the request log and the
//! binary. Outputs are checked with plain string and JSON handling (and AWS
//! event-stream frames with aws-smithy-eventstream's reader), never with the
//! engine's decoders.

mod support;

mod anthropic;
mod azure;
mod bedrock;
mod binary;
mod gemini;
mod log;
mod ollama;
mod openai;
mod replay;
mod scenarios;
mod variation;
mod vertex;
