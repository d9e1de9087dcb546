//! What is sent: the prompt (or a conversation) and the sampling parameters.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::target::FieldError;

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
    /// The characters of the system prompt and every message: what a cloud billing per
    /// character counts as the prompt.
    pub fn characters(&self) -> u64 {
        self.system
            .iter()
            .chain(self.messages.iter().map(|message| &message.content))
            .map(|text| text.chars().count() as u64)
            .sum()
    }

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

/// The values a numeric parameter accepts, owned here for every host (the CLI's flags, the
/// app's fields, a suite's defaults).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct ParameterRange {
    /// The field of [`Parameters`] it applies to.
    pub field: &'static str,
    pub low: f64,
    pub high: f64,
    /// Whole numbers only.
    pub integer: bool,
    /// What the field accepts, as an error message says it.
    pub accepts: &'static str,
}

/// Every numeric parameter's range. Temperature spans the widest range any cloud takes (OpenAI's
/// and Gemini's 0–2; Anthropic's 0–1 is narrower and is the cloud's to refuse); seeds stay within
/// what a JSON number holds exactly.
pub const PARAMETER_RANGES: [ParameterRange; 4] = [
    ParameterRange {
        field: "temperature",
        low: 0.0,
        high: 2.0,
        integer: false,
        accepts: "a number from 0 to 2",
    },
    ParameterRange {
        field: "top_p",
        low: 0.0,
        high: 1.0,
        integer: false,
        accepts: "a number from 0 to 1",
    },
    ParameterRange {
        field: "max_output_tokens",
        low: 1.0,
        high: u32::MAX as f64,
        integer: true,
        accepts: "a whole number from 1 to 4294967295",
    },
    ParameterRange {
        field: "seed",
        low: -9_007_199_254_740_991.0,
        high: 9_007_199_254_740_991.0,
        integer: true,
        accepts: "a whole number from -9007199254740991 to 9007199254740991",
    },
];

impl ParameterRange {
    pub fn contains(&self, value: f64) -> bool {
        value.is_finite() && value >= self.low && value <= self.high && (!self.integer || value.fract() == 0.0)
    }
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
    /// Every parameter outside its [`PARAMETER_RANGES`] entry, by field.
    pub fn field_errors(&self) -> Vec<FieldError> {
        let values = [
            ("temperature", self.temperature),
            ("top_p", self.top_p),
            ("max_output_tokens", self.max_output_tokens.map(f64::from)),
            ("seed", self.seed.map(|seed| seed as f64)),
        ];
        let mut errors = Vec::new();
        for (field, value) in values {
            let Some(value) = value else { continue };
            if let Some(range) = PARAMETER_RANGES.iter().find(|range| range.field == field)
                && !range.contains(value)
            {
                errors.push(FieldError {
                    field: field.to_owned(),
                    message: format!("{field} must be {}, not {value}", range.accepts),
                });
            }
        }
        errors
    }

    /// The first out-of-range parameter as an error, so no request goes out with it.
    pub fn validate(&self) -> crate::Result<()> {
        match self.field_errors().into_iter().next() {
            Some(error) => Err(crate::Error::InvalidInput(error.message)),
            None => Ok(()),
        }
    }

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
