//! Comparison reports: one stored run turned into a document people can read, archive and sign
//! without opening ModelBench.
//!
//! [`Report::from_run`] gathers everything once (prompts, parameters, targets, per-response
//! metrics and outputs, per-target summaries, per-prompt similarity and the diffs worth reading,
//! and the method), and each format only lays it out: [`markdown`], [`csv`], [`json`] and
//! [`html`]. The report computes nothing a format could disagree about.
//!
//! Left out on purpose: secrets and where they come from (a target's `key`, `api_key_ref`,
//! `profile`, headers and base URL never reach a report), the raw stream events, and the cloud's
//! verbatim usage object (the normalised token counts are kept).

mod compare;
pub mod csv;
pub mod html;
pub mod json;
pub mod markdown;

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::model::event::FinishReason;
use crate::model::record::{Metrics, ResponseRecord, ToolCall, utc_date_time};
use crate::model::request::{Message, Parameters};
use crate::model::target::{ProviderKind, Target};
use crate::store::StoredRun;

/// The version of the report's structure (the JSON export and the CSV columns). Raised when a
/// field is renamed, removed or changes meaning; adding a field keeps it.
pub const SCHEMA_VERSION: u32 = 1;

/// The most diffs shown per prompt: each answer against the majority, most different first.
/// Beyond a handful, a reader stops reading; the similarity matrix still covers every pair.
pub const MAX_DIFFS_PER_PROMPT: usize = 8;

/// A comparison report of one run. Serialised as is by the JSON format (see `docs/report-json.md`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub generator: Generator,
    pub run: RunSection,
    pub targets: Vec<TargetSection>,
    pub prompts: Vec<PromptSection>,
    /// Every response, ordered by prompt, target and repeat. Other sections refer to these by
    /// their position (`response` fields).
    pub responses: Vec<ResponseSection>,
    pub method: Vec<MethodNote>,
}

/// What made the report, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Generator {
    pub name: String,
    pub version: String,
    pub generated_at_ms: i64,
    /// `YYYY-MM-DD HH:MM:SS` UTC.
    pub generated_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSection {
    pub id: String,
    pub status: String,
    pub started_at_ms: i64,
    /// `YYYY-MM-DD HH:MM:SS` UTC.
    pub started_at: String,
    pub finished_at_ms: Option<i64>,
    pub finished_at: Option<String>,
    pub repeat: u32,
    pub parameters: Parameters,
    pub response_count: usize,
    pub failed_count: usize,
    pub partial_count: usize,
    /// Responses the run asked for (prompts × targets × repeat). More than `response_count`
    /// when the run was cancelled or its process stopped before it sent them all.
    pub planned_count: usize,
}

impl RunSection {
    /// The responses line of a report: `3 (1 failed, 1 partial)`, and the plan when part of it
    /// was never sent.
    pub fn responses_line(&self) -> String {
        let mut line = format!(
            "{} ({} failed, {} partial)",
            self.response_count, self.failed_count, self.partial_count
        );
        if self.planned_count > self.response_count {
            line.push_str(&format!(
                "; {} planned, {} never sent",
                self.planned_count,
                self.planned_count - self.response_count
            ));
        }
        line
    }
}

/// One target as run: where the prompt went. Never its credentials or endpoint.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetSection {
    pub index: usize,
    pub name: String,
    pub label: Option<String>,
    pub provider: String,
    pub model: String,
    pub api: String,
    /// The configured region or location (Bedrock region, Vertex location).
    pub region: Option<String>,
    /// The Azure deployment or resource the model was reached through.
    pub deployment: Option<String>,
    /// The model as its maker names it (`gpt-5.4`), the same on every cloud; `None` when nothing
    /// said it (an Azure deployment without `base_model` whose responses named no model).
    pub base_model: Option<String>,
    /// Azure: how the deployment is served (`global`, `data-zone-us`, …), which sets its price.
    pub deployment_type: Option<String>,
    /// Every model version the cloud reported for this target's responses, in order of first use.
    pub reported_models: Vec<String>,
    /// Every region the cloud reported serving from (Azure `x-ms-region`).
    pub reported_regions: Vec<String>,
    pub summary: TargetSummary,
}

impl TargetSection {
    /// Where the target ran, as far as known: the configured region or deployment, then the
    /// regions the cloud reported.
    pub fn place(&self) -> String {
        let places: Vec<&str> = self
            .region
            .iter()
            .chain(&self.deployment)
            .chain(&self.reported_regions)
            .map(String::as_str)
            .collect();
        places.join(", ")
    }
}

/// A target's responses taken together: medians of the timings, the sum of the costs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetSummary {
    pub responses: usize,
    pub failed: usize,
    pub partial: usize,
    /// Responses in which the model declined (finish reason `refusal`, on every cloud).
    #[serde(default)]
    pub refusals: usize,
    pub median_time_to_first_token_ms: Option<f64>,
    pub median_total_ms: Option<f64>,
    pub median_output_tokens_per_second: Option<f64>,
    pub output_tokens: Option<u64>,
    /// The sum of the known costs.
    pub cost_usd: Option<f64>,
    /// False when some response's cost could not be known, so `cost_usd` is a lower bound.
    pub cost_complete: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PromptSection {
    pub index: usize,
    pub system: Option<String>,
    /// The conversation; the last user turn is what was asked.
    pub messages: Vec<Message>,
    /// Positions in [`Report::responses`] of this prompt's responses.
    pub responses: Vec<usize>,
    /// `None` when fewer than two responses have text to compare.
    pub similarity: Option<Similarity>,
    pub diffs: Vec<DiffOfInterest>,
}

/// How alike a prompt's answers are, pair by pair.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Similarity {
    /// How texts were compared (`words`).
    pub mode: String,
    /// Positions in [`Report::responses`] of the compared responses (those with any text), in
    /// matrix order.
    pub responses: Vec<usize>,
    /// `ratios[i][j]`: 0 (nothing in common) to 1 (identical), symmetric, 1 on the diagonal.
    pub ratios: Vec<Vec<f64>>,
    /// The mean over all distinct pairs.
    pub mean: f64,
    /// The response most like the others (the medoid), as a position in [`Report::responses`].
    /// `None` with fewer than three answers.
    pub majority: Option<usize>,
    /// The response least like the others, when exactly one is (`None` with fewer than three
    /// answers, or on a tie).
    pub outlier: Option<usize>,
    /// Responses whose ratio to the majority is 1 (the same words): no diff is shown for them.
    pub same_as_majority: Vec<usize>,
}

/// A diff a reader should look at: an answer against the prompt's majority answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DiffOfInterest {
    pub kind: DiffKind,
    /// The majority answer (or the first of two), a position in [`Report::responses`].
    pub base: usize,
    /// The compared answer (the right side).
    pub other: usize,
    pub ratio: f64,
    /// Deletions are in `base` only; insertions in `other` only.
    pub spans: Vec<DiffSpan>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffKind {
    /// The outlier against the majority.
    OutlierVsMajority,
    /// Another answer against the majority.
    VersusMajority,
    /// The only two answers, first against second (two answers have no majority).
    Pair,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DiffSpan {
    pub kind: SpanKind,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    Equal,
    Insert,
    Delete,
}

/// One response of the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResponseSection {
    pub prompt_index: u32,
    pub target_index: u32,
    pub repeat_index: u32,
    pub target: String,
    pub provider: String,
    pub model: String,
    pub reported_model: Option<String>,
    pub base_model: Option<String>,
    pub region: Option<String>,
    pub request_id: Option<String>,
    pub outcome: Outcome,
    pub finish_reason: Option<FinishReason>,
    pub raw_finish_reason: Option<String>,
    /// The engine's timings (milliseconds, rounded to the microsecond) and the cloud's own.
    pub metrics: Metrics,
    pub usage: ResponseUsage,
    pub cost: CostSection,
    pub error: Option<ErrorSection>,
    pub attempts: u32,
    pub unsupported_parameters: Vec<String>,
    /// This response's mean similarity to the prompt's other compared responses.
    pub mean_similarity: Option<f64>,
    pub is_majority: bool,
    pub is_outlier: bool,
    pub text: String,
    pub reasoning: String,
    pub tool_calls: Vec<ToolCall>,
}

impl ResponseSection {
    /// What the outcome alone does not say: a refusal, or a turn the server paused.
    pub fn outcome_note(&self) -> Option<&'static str> {
        match self.finish_reason {
            Some(FinishReason::Refusal) => Some("refusal"),
            Some(FinishReason::PauseTurn) => Some("paused by the server (pause_turn)"),
            _ => None,
        }
    }
}

/// How a response ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The cloud ended the stream normally.
    Complete,
    /// Cut short (error, timeout, cancellation) after some output, which is kept.
    Partial,
    /// Ended without any output.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Partial => "partial",
            Self::Failed => "failed",
        }
    }
}

/// Token counts as the cloud reported them; `None` when it did not say.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResponseUsage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
    pub cached_input_tokens: Option<u64>,
    pub total_tokens: Option<u64>,
    /// What the cloud bills where it meters apart from the model's count (Bedrock's invocation
    /// metrics); the cost is computed from these.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billed_input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billed_output_tokens: Option<u64>,
}

impl ResponseUsage {
    /// The output tokens, with the billed count beside them when the cloud bills another.
    pub fn output_tokens_text(&self) -> String {
        let reported = format_count(self.output_tokens);
        match self.billed_output_tokens {
            Some(billed) if Some(billed) != self.output_tokens => format!("{reported} (billed {billed})"),
            _ => reported,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CostSection {
    /// `None` when it cannot be known (never a silent 0).
    pub usd: Option<f64>,
    /// The price's source and date, or why there is no cost.
    pub source: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErrorSection {
    pub kind: String,
    pub status: Option<u16>,
    pub code: Option<String>,
    pub message: String,
    pub retryable: bool,
}

impl ErrorSection {
    /// `HTTP 429 [code] message`, the parts the cloud gave.
    pub fn describe(&self) -> String {
        let status = self.status.map(|status| format!("HTTP {status} ")).unwrap_or_default();
        let code = self
            .code
            .as_deref()
            .map(|code| format!("[{code}] "))
            .unwrap_or_default();
        format!("{status}{code}{}", self.message)
    }
}

/// One paragraph of the method section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MethodNote {
    pub topic: String,
    pub text: String,
}

/// The export formats. On the wire (the app's Export) each is its `as_str` name; the UI knows
/// the type as `ReportFormat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export, rename = "ReportFormat")]
pub enum Format {
    #[serde(rename = "md")]
    Markdown,
    Csv,
    Json,
    Html,
}

impl Format {
    pub const ALL: [Self; 4] = [Self::Markdown, Self::Csv, Self::Json, Self::Html];

    /// The name on the command line, which is also the file extension.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Markdown => "md",
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Html => "html",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "markdown" => Some(Self::Markdown),
            value => Self::ALL.into_iter().find(|format| format.as_str() == value),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl Report {
    /// The report of `run`, made by ModelBench `version` at `generated_at_ms` (Unix milliseconds).
    pub fn from_run(run: &StoredRun, version: &str, generated_at_ms: i64) -> Self {
        let mut responses: Vec<ResponseSection> = run.responses.iter().map(response_section).collect();
        let prompts: Vec<PromptSection> = run
            .record
            .prompts
            .iter()
            .enumerate()
            .map(|(index, prompt)| {
                let positions: Vec<usize> = responses
                    .iter()
                    .enumerate()
                    .filter(|(_, response)| response.prompt_index as usize == index)
                    .map(|(position, _)| position)
                    .collect();
                let texts: Vec<(usize, &str)> = positions
                    .iter()
                    .map(|&position| (position, responses[position].text.as_str()))
                    .filter(|(_, text)| !text.trim().is_empty())
                    .collect();
                let (similarity, diffs) = compare_prompt(&texts);
                PromptSection {
                    index,
                    system: prompt.system.clone(),
                    messages: prompt.messages.clone(),
                    responses: positions,
                    similarity,
                    diffs,
                }
            })
            .collect();
        for similarity in prompts.iter().filter_map(|prompt| prompt.similarity.as_ref()) {
            for (row, &position) in similarity.responses.iter().enumerate() {
                let others: Vec<f64> = similarity.ratios[row]
                    .iter()
                    .enumerate()
                    .filter(|(column, _)| *column != row)
                    .map(|(_, ratio)| *ratio)
                    .collect();
                let response = &mut responses[position];
                response.mean_similarity = mean(&others).map(round_ratio);
                response.is_majority = similarity.majority == Some(position);
                response.is_outlier = similarity.outlier == Some(position);
            }
        }
        let targets = run
            .record
            .targets
            .iter()
            .enumerate()
            .map(|(index, target)| target_section(index, target, &responses))
            .collect();
        let count = |outcome: Outcome| responses.iter().filter(|response| response.outcome == outcome).count();
        Report {
            schema_version: SCHEMA_VERSION,
            generator: Generator {
                name: "ModelBench".to_owned(),
                version: version.to_owned(),
                generated_at_ms,
                generated_at: utc_date_time(generated_at_ms),
            },
            run: RunSection {
                id: run.record.id.to_string(),
                status: run.status.to_string(),
                started_at_ms: run.record.started_at_ms,
                started_at: utc_date_time(run.record.started_at_ms),
                finished_at_ms: run.finished_at_ms,
                finished_at: run.finished_at_ms.map(utc_date_time),
                repeat: run.record.repeat,
                parameters: run.record.parameters.clone(),
                response_count: responses.len(),
                failed_count: count(Outcome::Failed),
                partial_count: count(Outcome::Partial),
                planned_count: (run.planned_count as usize).max(responses.len()),
            },
            targets,
            prompts,
            responses,
            method: method_notes(),
        }
    }

    /// The report in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Markdown => markdown::render(self),
            Format::Csv => csv::render(self),
            Format::Json => json::render(self),
            Format::Html => html::render(self),
        }
    }

    /// Whether the run has more than one response per target (prompts or repeats), so labels
    /// need the prompt and repeat numbers.
    pub fn is_batch(&self) -> bool {
        self.prompts.len() > 1 || self.run.repeat > 1
    }

    /// A short human name for response `position`: its target, with `#prompt.repeat` (1-based)
    /// when the run has several.
    pub fn response_label(&self, position: usize) -> String {
        let Some(response) = self.responses.get(position) else {
            return format!("response {position}");
        };
        if self.prompts.len() > 1 {
            format!(
                "{} #{}.{}",
                response.target,
                response.prompt_index + 1,
                response.repeat_index + 1
            )
        } else if self.run.repeat > 1 {
            format!("{} #{}", response.target, response.repeat_index + 1)
        } else {
            response.target.clone()
        }
    }
}

fn response_section(response: &ResponseRecord) -> ResponseSection {
    let has_output = !response.text.is_empty() || !response.reasoning.is_empty() || !response.tool_calls.is_empty();
    let outcome = if response.complete {
        Outcome::Complete
    } else if has_output {
        Outcome::Partial
    } else {
        Outcome::Failed
    };
    let metrics = &response.metrics;
    let usage = &response.usage;
    ResponseSection {
        prompt_index: response.key.prompt_index,
        target_index: response.key.target_index,
        repeat_index: response.key.repeat_index,
        target: response.target.clone(),
        provider: response.provider.clone(),
        model: response.model.clone(),
        reported_model: response.reported_model.clone(),
        base_model: response.base_model.clone(),
        region: response.region.clone(),
        request_id: response.request_id.clone(),
        outcome,
        finish_reason: response.finish_reason,
        raw_finish_reason: response.raw_finish_reason.clone(),
        metrics: Metrics {
            time_to_first_token_ms: metrics.time_to_first_token_ms.map(round_ms),
            total_ms: round_ms(metrics.total_ms),
            output_tokens_per_second: metrics.output_tokens_per_second.map(round_ms),
            content_chunks: metrics.content_chunks,
            gap_p50_ms: metrics.gap_p50_ms.map(round_ms),
            gap_p95_ms: metrics.gap_p95_ms.map(round_ms),
            gap_max_ms: metrics.gap_max_ms.map(round_ms),
            server_latency_ms: metrics.server_latency_ms,
            server_first_byte_ms: metrics.server_first_byte_ms,
            client_lag_first_token_ms: metrics.client_lag_first_token_ms.map(round_ms),
            client_lag_end_ms: metrics.client_lag_end_ms.map(round_ms),
            client_saturated: metrics.client_saturated,
        },
        usage: ResponseUsage {
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            reasoning_tokens: usage.reasoning_tokens,
            cached_input_tokens: usage.cached_input_tokens,
            total_tokens: usage.total_tokens,
            billed_input_tokens: response.billed_input_tokens,
            billed_output_tokens: response.billed_output_tokens,
        },
        cost: CostSection {
            usd: response.cost_usd,
            source: response.cost_source.clone(),
        },
        error: response.error.as_ref().map(|error| ErrorSection {
            kind: error.kind.as_str().to_owned(),
            status: error.status,
            code: error.code.clone(),
            message: error.message.clone(),
            retryable: error.retryable(),
        }),
        attempts: response.attempts,
        unsupported_parameters: response.unsupported_parameters.clone(),
        mean_similarity: None,
        is_majority: false,
        is_outlier: false,
        text: response.text.clone(),
        reasoning: response.reasoning.clone(),
        tool_calls: response.tool_calls.clone(),
    }
}

fn target_section(index: usize, target: &Target, responses: &[ResponseSection]) -> TargetSection {
    let own: Vec<&ResponseSection> = responses
        .iter()
        .filter(|response| response.target_index as usize == index)
        .collect();
    let distinct = |values: Vec<&String>| -> Vec<String> {
        let mut seen = BTreeSet::new();
        values
            .into_iter()
            .filter(|value| seen.insert(value.as_str()))
            .cloned()
            .collect()
    };
    let reported_models = distinct(
        own.iter()
            .filter_map(|response| response.reported_model.as_ref())
            .collect(),
    );
    let reported_regions = distinct(own.iter().filter_map(|response| response.region.as_ref()).collect());
    let (region, deployment) = match target.provider {
        ProviderKind::Bedrock => (target.region.clone(), None),
        ProviderKind::Vertex => (target.location.clone(), None),
        ProviderKind::Azure => (None, target.deployment.clone().or_else(|| target.resource.clone())),
        _ => (None, None),
    };
    let costs: Vec<Option<f64>> = own.iter().map(|response| response.cost.usd).collect();
    let known_costs: Vec<f64> = costs.iter().flatten().copied().collect();
    let output_tokens: Vec<u64> = own.iter().filter_map(|response| response.usage.output_tokens).collect();
    TargetSection {
        index,
        name: target.name.clone(),
        label: target.label.clone(),
        provider: target.provider.as_str().to_owned(),
        model: target.model.clone(),
        api: target.api().as_str().to_owned(),
        region,
        deployment,
        // The responses' own (Azure's comes from what the cloud reported), else the target's.
        base_model: own
            .iter()
            .find_map(|response| response.base_model.clone())
            .or_else(|| crate::model::identity::base_model(target, None)),
        deployment_type: (target.provider == ProviderKind::Azure).then(|| target.deployment_type().as_str().to_owned()),
        reported_models,
        reported_regions,
        summary: TargetSummary {
            responses: own.len(),
            failed: own
                .iter()
                .filter(|response| response.outcome == Outcome::Failed)
                .count(),
            partial: own
                .iter()
                .filter(|response| response.outcome == Outcome::Partial)
                .count(),
            refusals: own
                .iter()
                .filter(|response| response.finish_reason == Some(FinishReason::Refusal))
                .count(),
            median_time_to_first_token_ms: median(
                own.iter()
                    .filter_map(|response| response.metrics.time_to_first_token_ms)
                    .collect(),
            ),
            // A response that failed before any output measures the failure, not the model.
            median_total_ms: median(
                own.iter()
                    .filter(|response| response.outcome != Outcome::Failed)
                    .map(|response| response.metrics.total_ms)
                    .collect(),
            ),
            median_output_tokens_per_second: median(
                own.iter()
                    .filter_map(|response| response.metrics.output_tokens_per_second)
                    .collect(),
            ),
            // Saturating: the counts come from the network.
            output_tokens: (!output_tokens.is_empty()).then(|| {
                output_tokens
                    .iter()
                    .fold(0_u64, |sum, count| sum.saturating_add(*count))
            }),
            cost_usd: (!known_costs.is_empty()).then(|| known_costs.iter().sum()),
            cost_complete: costs.iter().all(Option::is_some),
        },
    }
}

/// The similarity matrix of one prompt's answers, and the diffs of interest: with three answers
/// or more, each against the majority (the medoid), the outlier first, then the least similar,
/// at most [`MAX_DIFFS_PER_PROMPT`]; with two, the one diff between them.
fn compare_prompt(texts: &[(usize, &str)]) -> (Option<Similarity>, Vec<DiffOfInterest>) {
    if texts.len() < 2 {
        return (None, Vec::new());
    }
    let plain: Vec<&str> = texts.iter().map(|(_, text)| *text).collect();
    let Some(matrix) = compare::similarity(&plain) else {
        return (None, Vec::new());
    };
    let position = |row: usize| texts[row].0;
    let pair_ratios: Vec<f64> = (0..texts.len())
        .flat_map(|row| (row + 1..texts.len()).map(move |column| (row, column)))
        .map(|(row, column)| matrix.ratios[row][column])
        .collect();
    let similarity = Similarity {
        mode: compare::mode().to_owned(),
        responses: texts.iter().map(|(position, _)| *position).collect(),
        ratios: matrix
            .ratios
            .iter()
            .map(|row| row.iter().copied().map(round_ratio).collect())
            .collect(),
        mean: round_ratio(mean(&pair_ratios).unwrap_or(1.0)),
        majority: matrix.majority.map(position),
        outlier: matrix.outlier.map(position),
        same_as_majority: matrix.majority.map_or_else(Vec::new, |majority| {
            (0..texts.len())
                .filter(|&row| row != majority && matrix.ratios[majority][row] >= 1.0)
                .map(position)
                .collect()
        }),
    };
    let (base, others) = match matrix.majority {
        Some(majority) => {
            // An answer the same as the majority has no diff worth showing.
            let mut others: Vec<usize> = (0..texts.len())
                .filter(|&row| row != majority && matrix.ratios[majority][row] < 1.0)
                .collect();
            let is_outlier = |row: usize| matrix.outlier == Some(row);
            others.sort_by(|&left, &right| {
                is_outlier(right)
                    .cmp(&is_outlier(left))
                    .then(matrix.ratios[majority][left].total_cmp(&matrix.ratios[majority][right]))
                    .then(left.cmp(&right))
            });
            (majority, others)
        }
        // Two answers have no majority: their one diff is the one of interest.
        None if texts.len() == 2 => (0, vec![1]),
        None => return (Some(similarity), Vec::new()),
    };
    let diffs = others
        .into_iter()
        .take(MAX_DIFFS_PER_PROMPT)
        .filter_map(|row| {
            let (ratio, spans) = compare::diff(texts[base].1, texts[row].1)?;
            Some(DiffOfInterest {
                kind: if matrix.majority.is_none() {
                    DiffKind::Pair
                } else if matrix.outlier == Some(row) {
                    DiffKind::OutlierVsMajority
                } else {
                    DiffKind::VersusMajority
                },
                base: position(base),
                other: position(row),
                ratio: round_ratio(ratio),
                spans,
            })
        })
        .collect();
    (Some(similarity), diffs)
}

fn method_notes() -> Vec<MethodNote> {
    let note = |topic: &str, text: &str| MethodNote {
        topic: topic.to_owned(),
        text: text.to_owned(),
    };
    vec![
        note(
            "Requests",
            "Every target was sent the same prompt and parameters through the same HTTP stack \
             (one Rust client, streaming), from the same machine, in the same run.",
        ),
        note(
            "Time to first token",
            "Measured in the ModelBench engine on a monotonic clock, from the moment the request \
             was sent (its first attempt, so retries count against the cloud) to the first content \
             delta: text, reasoning or a tool call.",
        ),
        note(
            "Total time",
            "From the request being sent to the end of the stream (or the failure), on the same clock.",
        ),
        note(
            "Tokens per second",
            "Output tokens (the cloud's count where it reports one) divided by the time from the \
             first token to the end of the stream.",
        ),
        note(
            "Cost",
            "The token usage the cloud reported, multiplied by the price in force: the shipped \
             price catalog or the user's own override, whose source and date are given beside each \
             cost. No usage or no price means no cost, never zero.",
        ),
        note(
            "Similarity",
            "Per prompt, every pair of answers with text is diffed word by word (Unicode word \
             boundaries; punctuation counts, whitespace does not). The ratio is 2 × matching words \
             ÷ the words of both answers: 0 = nothing in common, 1 = identical. The majority answer \
             is the one with the highest mean ratio to the others (three answers or more); the \
             outlier is the one with the lowest, when exactly one has it. The diffs shown are each \
             answer against the majority, the outlier first, then the least similar, at most eight \
             per prompt (with two answers, the one diff between them). Failed answers without text \
             are left out; partial ones are compared as they are.",
        ),
        note(
            "Summaries",
            "Per-target figures are medians over that target's responses (failed responses left out \
             of the total time), tokens and costs are sums. A cost marked as a lower bound misses \
             responses whose cost is unknown.",
        ),
    ]
}

/// The median of `values`, `None` when there are none.
fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    let value = if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    };
    Some(round_ms(value))
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Milliseconds to the microsecond: finer than any network timing means anything.
fn round_ms(value: f64) -> f64 {
    (value * 1_000.0).round() / 1_000.0
}

fn round_ratio(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

/// Milliseconds for people: `850 ms`, `12.4 s`.
/// A response's time as shown in a report, marked when the client was saturated around it (its
/// own lateness could have moved the figure past the run's threshold).
pub(crate) fn format_timing(value: Option<f64>, metrics: &Metrics) -> String {
    if metrics.client_saturated && value.is_some() {
        format!("{} (client saturated)", format_ms(value))
    } else {
        format_ms(value)
    }
}

pub(crate) fn format_ms(value: Option<f64>) -> String {
    match value {
        Some(ms) if ms >= 10_000.0 => format!("{:.1} s", ms / 1_000.0),
        Some(ms) if ms >= 1_000.0 => format!("{ms:.0} ms"),
        Some(ms) => format!("{ms:.1} ms"),
        None => "–".to_owned(),
    }
}

/// Dollars for people, with enough digits for fractions of a cent.
pub(crate) fn format_usd(value: Option<f64>) -> String {
    match value {
        Some(usd) if usd >= 1.0 => format!("${usd:.2}"),
        Some(usd) if usd >= 0.01 => format!("${usd:.4}"),
        Some(usd) => format!("${usd:.6}"),
        None => "–".to_owned(),
    }
}

pub(crate) fn format_number(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "–".to_owned(), |value| format!("{value:.decimals$}"))
}

pub(crate) fn format_count(value: Option<u64>) -> String {
    value.map_or_else(|| "–".to_owned(), |value| value.to_string())
}

/// A target's cost for people: a lower bound is marked `≥`.
pub(crate) fn format_target_cost(summary: &TargetSummary) -> String {
    match (summary.cost_usd, summary.cost_complete) {
        (None, _) => "–".to_owned(),
        (Some(usd), true) => format_usd(Some(usd)),
        (Some(usd), false) => format!("≥ {}", format_usd(Some(usd))),
    }
}

/// The parameters as `name = value` pairs, the cloud's defaults left out.
pub(crate) fn parameter_pairs(parameters: &Parameters) -> Vec<(&'static str, String)> {
    let mut pairs = Vec::new();
    if let Some(temperature) = parameters.temperature {
        pairs.push(("temperature", temperature.to_string()));
    }
    if let Some(top_p) = parameters.top_p {
        pairs.push(("top_p", top_p.to_string()));
    }
    if let Some(max_output_tokens) = parameters.max_output_tokens {
        pairs.push(("max_output_tokens", max_output_tokens.to_string()));
    }
    if !parameters.stop_sequences.is_empty() {
        let quoted: Vec<String> = parameters
            .stop_sequences
            .iter()
            .map(|stop| format!("{stop:?}"))
            .collect();
        pairs.push(("stop_sequences", quoted.join(", ")));
    }
    if let Some(seed) = parameters.seed {
        pairs.push(("seed", seed.to_string()));
    }
    pairs
}

#[cfg(test)]
pub(crate) mod tests;
