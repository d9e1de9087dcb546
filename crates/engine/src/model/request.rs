//! What is sent: the prompt (or a conversation) and the sampling parameters.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Role {
    User,
    Assistant,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// One prompt of a run: a system prompt and a conversation ending in a user turn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Prompt {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub system: Option<String>,
    pub messages: Vec<Message>,
}

impl Prompt {
    pub fn user(text: impl Into<String>) -> Self {
        Self {
            system: None,
            messages: vec![Message {
                role: Role::User,
                content: text.into(),
            }],
        }
    }

    pub fn with_system(mut self, system: Option<String>) -> Self {
        self.system = system;
        self
    }

    /// The last user turn, which is what lists and search show as "the prompt".
    pub fn last_user_text(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|message| message.role == Role::User)
            .map_or("", |message| message.content.as_str())
    }
}

/// Sampling parameters shared by every target of a run. `None` means "the cloud's default".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Parameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub max_output_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub seed: Option<i64>,
}

/// A parameter the request asked for, named the way ModelBench names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Parameter {
    SystemPrompt,
    Temperature,
    TopP,
    MaxOutputTokens,
    StopSequences,
    Seed,
}

impl Parameter {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SystemPrompt => "system_prompt",
            Self::Temperature => "temperature",
            Self::TopP => "top_p",
            Self::MaxOutputTokens => "max_output_tokens",
            Self::StopSequences => "stop_sequences",
            Self::Seed => "seed",
        }
    }
}

impl Parameters {
    /// The parameters this request sets, so unsupported ones can be reported.
    pub fn requested(&self, prompt: &Prompt) -> Vec<Parameter> {
        let mut requested = Vec::new();
        if prompt.system.is_some() {
            requested.push(Parameter::SystemPrompt);
        }
        if self.temperature.is_some() {
            requested.push(Parameter::Temperature);
        }
        if self.top_p.is_some() {
            requested.push(Parameter::TopP);
        }
        if self.max_output_tokens.is_some() {
            requested.push(Parameter::MaxOutputTokens);
        }
        if !self.stop_sequences.is_empty() {
            requested.push(Parameter::StopSequences);
        }
        if self.seed.is_some() {
            requested.push(Parameter::Seed);
        }
        requested
    }
}
