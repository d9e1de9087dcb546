//! Scenarios: how one fake response behaves (timing, text, failures), and the
//! compact `key=value;…` spec language that selects one from a header or a
//! model name.
//!
//! A scenario says nothing about wire formats; every provider encoder reads
//! the same scenario, so one spec means the same thing on every route. What
//! varies from request to request (latency distributions, an error rate,
//! answer variants) is drawn in `variation`.

use std::fmt;
use std::time::Duration;

mod judge;
pub(crate) mod variation;

use variation::{DELAY_EXPECTED, format_milliseconds, parse_decimal, parse_milliseconds};
pub use variation::{Distribution, ECHO_PREFIX, ErrorRate, Variation};

/// How one response behaves. Defaults: no delays, 8 tokens of filler text,
/// success.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// Delay from request arrival to the first content token. Headers and the
    /// provider's preamble (role chunk, `response.created`, `message_start`)
    /// go out immediately, as the real clouds do. Ignored while
    /// [`Variation::time_to_first_token`] draws it.
    pub time_to_first_token: Duration,
    /// Number of filler tokens to stream; ignored when `text` is set.
    pub tokens: usize,
    /// Delay between consecutive content tokens. Ignored while
    /// [`Variation::inter_token_delay`] draws it.
    pub inter_token_delay: Duration,
    /// Exact text to stream instead of filler words (after the echo, with
    /// [`Answer::Echo`]).
    pub text: Option<String>,
    /// Whether the answer repeats the prompt.
    pub answer: Answer,
    /// How the response goes wrong, if it does.
    pub failure: Option<Failure>,
    /// Write the body in pieces of this many bytes, each its own body frame,
    /// so clients see UTF-8 characters and lines cut at awkward places.
    pub split: Option<usize>,
    /// After this many tokens, pause this long once (a slow chunk).
    pub stall: Option<(usize, Duration)>,
    /// Fixture file to serve verbatim after auth and body validation.
    pub replay: Option<String>,
    /// How the replayed fixture is altered before it is sent, as gateways and proxies alter
    /// bodies: other line endings, a BOM, the body twice, only its first bytes.
    pub edits: ReplayEdits,
    /// After the last byte, keep the connection open this long before ending the body: a server
    /// or proxy that sent the whole answer but does not close (HTTP/1.1 keep-alive).
    pub hold: Option<Duration>,
    /// While holding, send a keep-alive this often (`: ping` for SSE, a blank line for NDJSON;
    /// nothing for AWS event streams, which have no such thing).
    pub keep_alive: Option<Duration>,
    /// What is drawn anew for each request ([`Scenario::for_request`]).
    pub variation: Variation,
    /// This response comes from a redeployed backend: the chat formats report another
    /// `system_fingerprint` (set per request from [`Variation::redeploy_after`]).
    pub redeployed: bool,
}

/// Where a response's text comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Answer {
    /// The scenario's text, its drawn variant, or filler words (`answer=fixed`).
    #[default]
    Fixed,
    /// [`ECHO_PREFIX`] and the request's last user message, then a space and
    /// the text or drawn variant if there is one (`answer=echo`): different
    /// prompts get different answers, repeats of one prompt the same.
    Echo,
    /// A scripted LLM judge's verdict on the judge prompt in the last user message
    /// (`answer=judge`; see `scenario/judge.rs`): the longer of two answers wins.
    Judge,
}

/// Changes to a replayed fixture, applied in this order: line endings, `twice`, `bom`, `cut`
/// (so `cut` counts the bytes as sent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayEdits {
    /// Every line ending (`\n`, `\r\n` or a lone `\r`) rewritten to this one.
    pub line_ending: Option<LineEnding>,
    /// The body twice in a row, as a gateway that replays on retry sends it.
    pub twice: bool,
    /// A UTF-8 byte order mark before the body.
    pub bom: bool,
    /// Only the first N bytes, then a clean end of body.
    pub cut: Option<usize>,
}

impl ReplayEdits {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A line ending for [`ReplayEdits::line_ending`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineEnding {
    Lf,
    CrLf,
    Cr,
}

impl LineEnding {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lf => "lf",
            Self::CrLf => "crlf",
            Self::Cr => "cr",
        }
    }

    pub fn bytes(self) -> &'static [u8] {
        match self {
            Self::Lf => b"\n",
            Self::CrLf => b"\r\n",
            Self::Cr => b"\r",
        }
    }
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            time_to_first_token: Duration::ZERO,
            tokens: 8,
            inter_token_delay: Duration::ZERO,
            text: None,
            answer: Answer::Fixed,
            failure: None,
            split: None,
            stall: None,
            replay: None,
            edits: ReplayEdits::default(),
            hold: None,
            keep_alive: None,
            variation: Variation::default(),
            redeployed: false,
        }
    }
}

/// A way for a response to go wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Answer with this HTTP status for the first `times` requests of the
    /// scenario key (`None` = always), then succeed.
    Status {
        status: u16,
        times: Option<u32>,
        retry_after: Option<Duration>,
    },
    /// Out of credit: OpenAI/Azure 429 `insufficient_quota`, Anthropic 400
    /// "credit balance is too low", Ollama 429.
    Quota,
    /// The prompt is blocked before streaming starts (HTTP 400).
    ContentFilter,
    /// After N tokens the provider's mid-stream error event, then the body ends.
    MidStreamError { after_tokens: usize },
    /// After N tokens the body simply ends cleanly: no terminal event, no
    /// usage, no `[DONE]`.
    Truncate { after_tokens: usize },
    /// After N tokens the connection is aborted at the transport level, so
    /// the client sees an I/O error rather than a clean end of body.
    Disconnect { after_tokens: usize },
    /// HTTP 200 that stops after N tokens because the output was filtered.
    FinishContentFilter { after_tokens: usize },
    /// HTTP 200 (event stream) whose body is this many MiB of `x` with no line end at all: a
    /// broken proxy or a runaway server. Clients must not buffer it whole.
    FloodNoNewline { mebibytes: usize },
    /// HTTP 500 whose body is this many MiB of `E`: clients need only its first bytes.
    FloodErrorBody { mebibytes: usize },
    /// HTTP 200 with the headers and the preamble, then nothing for an hour: the
    /// client's first-token timeout fires first.
    Timeout,
}

/// A spec string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("unknown fakecloud scenario key `{0}`")]
    UnknownKey(String),
    #[error("fakecloud scenario key `{0}` needs a value (`{0}=…`)")]
    MissingValue(String),
    #[error("invalid value `{value}` for fakecloud scenario key `{key}`: {reason}")]
    InvalidValue { key: String, value: String, reason: String },
    #[error("fakecloud scenario sets two failures: `{first}` and `{second}`")]
    ConflictingFailures { first: String, second: String },
    #[error("fakecloud scenario sets both `{first}` and `{second}`, which exclude each other")]
    ConflictingKeys { first: String, second: String },
    #[error("fakecloud scenario key `{0}` needs a status failure (`fail=429` and the like)")]
    RetryAfterWithoutStatus(String),
    #[error("fakecloud scenario key `{key}` needs `{needs}` too")]
    Requires { key: String, needs: &'static str },
}

/// Parses a spec such as `ttft_ms=200;tokens=50,fail=429x1` on top of
/// [`Scenario::default`].
pub fn parse_spec(spec: &str) -> Result<Scenario, SpecError> {
    apply_spec(Scenario::default(), spec)
}

/// Parses a spec on top of an existing scenario; keys not named keep the
/// base's values.
pub fn apply_spec(base: Scenario, spec: &str) -> Result<Scenario, SpecError> {
    let mut scenario = base;
    // Remember which key set the failure so a conflict can name both.
    let mut failure_key: Option<String> = None;
    let mut retry_after: Option<(String, Duration)> = None;
    // `text` and `variants` replace each other across specs, but not within one.
    let mut answer_key: Option<String> = None;
    // Applied after the loop, so `error=` and `error_rate=` work in either order.
    let mut error_probability: Option<f64> = None;
    let mut error_failure: Option<(String, Failure)> = None;

    for pair in spec.split([';', ',']) {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let (key, value) = match pair.split_once('=') {
            Some((key, value)) => (key.trim(), value.trim()),
            None => (pair, ""),
        };
        let needs_value = |value: &str| {
            if value.is_empty() {
                Err(SpecError::MissingValue(key.to_owned()))
            } else {
                Ok(())
            }
        };
        let mut set_failure = |failure: Failure, scenario: &mut Scenario| {
            if let Some(first) = failure_key.replace(pair.to_owned()) {
                return Err(SpecError::ConflictingFailures {
                    first,
                    second: pair.to_owned(),
                });
            }
            scenario.failure = Some(failure);
            Ok(())
        };
        match key {
            "ttft_ms" => {
                needs_value(value)?;
                (scenario.time_to_first_token, scenario.variation.time_to_first_token) = parse_delay(key, value)?;
            }
            "tokens" => {
                needs_value(value)?;
                scenario.tokens = parse_number(key, value)?;
            }
            "gap_ms" => {
                needs_value(value)?;
                (scenario.inter_token_delay, scenario.variation.inter_token_delay) = parse_delay(key, value)?;
            }
            "split" => {
                needs_value(value)?;
                let size: usize = parse_number(key, value)?;
                if size == 0 {
                    return Err(invalid(key, value, "the piece size must be at least 1"));
                }
                scenario.split = Some(size);
            }
            "stall" => {
                needs_value(value)?;
                let (after, millis) = value
                    .split_once(':')
                    .ok_or_else(|| invalid(key, value, "expected TOKENS:MILLISECONDS"))?;
                scenario.stall = Some((
                    parse_number(key, after)?,
                    Duration::from_millis(parse_number(key, millis)?),
                ));
            }
            "text" => {
                exclusive(&mut answer_key, pair)?;
                scenario.text = Some(percent_decode(value).ok_or_else(|| invalid(key, value, BAD_ESCAPE))?);
                scenario.variation.variants.clear();
            }
            "variants" => {
                needs_value(value)?;
                exclusive(&mut answer_key, pair)?;
                scenario.variation.variants = value
                    .split('|')
                    .map(|variant| percent_decode(variant).ok_or_else(|| invalid(key, value, BAD_ESCAPE)))
                    .collect::<Result<_, _>>()?;
                scenario.text = None;
            }
            "answer" => {
                scenario.answer = match value {
                    "echo" => Answer::Echo,
                    "judge" => Answer::Judge,
                    "fixed" => Answer::Fixed,
                    _ => return Err(invalid(key, value, "expected echo, judge or fixed")),
                };
            }
            "seed" => {
                needs_value(value)?;
                scenario.variation.seed = parse_number(key, value)?;
            }
            "redeploy_after" => {
                needs_value(value)?;
                scenario.variation.redeploy_after = Some(parse_number(key, value)?);
            }
            "error_rate" => {
                needs_value(value)?;
                let probability = parse_decimal(key, value)?;
                if probability > 1.0 {
                    return Err(invalid(key, value, "expected a probability from 0 to 1"));
                }
                error_probability = Some(probability);
            }
            "error" => {
                needs_value(value)?;
                error_failure = Some((key.to_owned(), parse_error_kind(key, value)?));
            }
            "error_status" => {
                needs_value(value)?;
                error_failure = Some((key.to_owned(), parse_status_failure(key, value)?));
            }
            "replay" => {
                needs_value(value)?;
                if fixture_name_escapes(value) {
                    return Err(invalid(
                        key,
                        value,
                        "a fixture name is a file in the fixtures directory or a subfolder of it (no `\\`, `.` or `..`)",
                    ));
                }
                scenario.replay = Some(value.to_owned());
            }
            "endings" => {
                scenario.edits.line_ending = Some(match value {
                    "lf" => LineEnding::Lf,
                    "crlf" => LineEnding::CrLf,
                    "cr" => LineEnding::Cr,
                    _ => return Err(invalid(key, value, "expected lf, crlf or cr")),
                });
            }
            "twice" => scenario.edits.twice = true,
            "bom" => scenario.edits.bom = true,
            "cut" => {
                needs_value(value)?;
                scenario.edits.cut = Some(parse_number(key, value)?);
            }
            "hold_ms" => {
                needs_value(value)?;
                scenario.hold = Some(Duration::from_millis(parse_number(key, value)?));
            }
            "ping_ms" => {
                needs_value(value)?;
                let every: u64 = parse_number(key, value)?;
                if every == 0 {
                    return Err(invalid(key, value, "the keep-alive interval must be at least 1 ms"));
                }
                scenario.keep_alive = Some(Duration::from_millis(every));
            }
            "fail" => {
                needs_value(value)?;
                let failure = match value {
                    "quota" => Failure::Quota,
                    "content_filter" => Failure::ContentFilter,
                    "timeout" => Failure::Timeout,
                    _ => parse_status_failure(key, value)?,
                };
                set_failure(failure, &mut scenario)?;
            }
            "retry_after_ms" => {
                needs_value(value)?;
                retry_after = Some((key.to_owned(), Duration::from_millis(parse_number(key, value)?)));
            }
            "retry_after" => {
                needs_value(value)?;
                retry_after = Some((key.to_owned(), Duration::from_secs(parse_number(key, value)?)));
            }
            "midstream_error" => {
                needs_value(value)?;
                let after_tokens = parse_number(key, value)?;
                set_failure(Failure::MidStreamError { after_tokens }, &mut scenario)?;
            }
            "truncate" => {
                needs_value(value)?;
                let after_tokens = parse_number(key, value)?;
                set_failure(Failure::Truncate { after_tokens }, &mut scenario)?;
            }
            "disconnect" => {
                needs_value(value)?;
                let after_tokens = parse_number(key, value)?;
                set_failure(Failure::Disconnect { after_tokens }, &mut scenario)?;
            }
            "finish_content_filter" => {
                needs_value(value)?;
                let after_tokens = parse_number(key, value)?;
                set_failure(Failure::FinishContentFilter { after_tokens }, &mut scenario)?;
            }
            "flood_no_newline_mib" => {
                needs_value(value)?;
                let mebibytes = parse_number(key, value)?;
                set_failure(Failure::FloodNoNewline { mebibytes }, &mut scenario)?;
            }
            "flood_error_body_mib" => {
                needs_value(value)?;
                let mebibytes = parse_number(key, value)?;
                set_failure(Failure::FloodErrorBody { mebibytes }, &mut scenario)?;
            }
            unknown => return Err(SpecError::UnknownKey(unknown.to_owned())),
        }
    }

    // Applied last so `retry_after_ms=50;fail=429` works in either order.
    if let Some((key, delay)) = retry_after {
        match &mut scenario.failure {
            Some(Failure::Status { retry_after, .. }) => *retry_after = Some(delay),
            _ => return Err(SpecError::RetryAfterWithoutStatus(key)),
        }
    }
    match (error_probability, error_failure) {
        (Some(probability), failure) => {
            let failure = failure
                .map(|(_, failure)| failure)
                .or_else(|| scenario.variation.error.take().map(|error| error.failure))
                .unwrap_or_else(ErrorRate::default_failure);
            scenario.variation.error = Some(ErrorRate { probability, failure });
        }
        (None, Some((key, failure))) => match &mut scenario.variation.error {
            Some(error) => error.failure = failure,
            None => {
                return Err(SpecError::Requires {
                    key,
                    needs: "error_rate",
                });
            }
        },
        (None, None) => {}
    }
    if scenario.keep_alive.is_some() && scenario.hold.is_none() {
        return Err(SpecError::Requires {
            key: "ping_ms".to_owned(),
            needs: "hold_ms",
        });
    }
    if !scenario.edits.is_empty() && scenario.replay.is_none() {
        return Err(SpecError::Requires {
            key: "endings, twice, bom or cut".to_owned(),
            needs: "replay",
        });
    }
    Ok(scenario)
}

impl Scenario {
    /// The spec that reproduces this scenario from [`Scenario::default`]:
    /// only keys that differ from the default are written.
    pub fn to_spec(&self) -> String {
        let default = Scenario::default();
        let mut pairs: Vec<String> = Vec::new();
        let delay = |key: &str, fixed: Duration, drawn: &Option<Distribution>| match drawn {
            Some(distribution) => Some(format!("{key}={distribution}")),
            None if !fixed.is_zero() => Some(format!("{key}={}", format_milliseconds(fixed))),
            None => None,
        };
        pairs.extend(delay(
            "ttft_ms",
            self.time_to_first_token,
            &self.variation.time_to_first_token,
        ));
        if self.tokens != default.tokens {
            pairs.push(format!("tokens={}", self.tokens));
        }
        pairs.extend(delay(
            "gap_ms",
            self.inter_token_delay,
            &self.variation.inter_token_delay,
        ));
        // Drawn variants replace the text, so the text is not written beside them.
        if let Some(text) = &self.text
            && self.variation.variants.is_empty()
        {
            pairs.push(format!("text={}", percent_encode(text)));
        }
        if let Some(size) = self.split {
            pairs.push(format!("split={size}"));
        }
        if let Some((after, pause)) = self.stall {
            pairs.push(format!("stall={after}:{}", pause.as_millis()));
        }
        if let Some(name) = &self.replay {
            pairs.push(format!("replay={name}"));
        }
        if let Some(ending) = self.edits.line_ending {
            pairs.push(format!("endings={}", ending.as_str()));
        }
        if self.edits.twice {
            pairs.push("twice".to_owned());
        }
        if self.edits.bom {
            pairs.push("bom".to_owned());
        }
        if let Some(bytes) = self.edits.cut {
            pairs.push(format!("cut={bytes}"));
        }
        if let Some(hold) = self.hold {
            pairs.push(format!("hold_ms={}", hold.as_millis()));
        }
        if let Some(every) = self.keep_alive {
            pairs.push(format!("ping_ms={}", every.as_millis()));
        }
        match &self.failure {
            None => {}
            Some(Failure::Status {
                status,
                times,
                retry_after,
            }) => {
                match times {
                    Some(times) => pairs.push(format!("fail={status}x{times}")),
                    None => pairs.push(format!("fail={status}")),
                }
                if let Some(delay) = retry_after {
                    pairs.push(format!("retry_after_ms={}", delay.as_millis()));
                }
            }
            Some(Failure::Quota) => pairs.push("fail=quota".to_owned()),
            Some(Failure::ContentFilter) => pairs.push("fail=content_filter".to_owned()),
            Some(Failure::Timeout) => pairs.push("fail=timeout".to_owned()),
            Some(Failure::MidStreamError { after_tokens }) => {
                pairs.push(format!("midstream_error={after_tokens}"));
            }
            Some(Failure::Truncate { after_tokens }) => {
                pairs.push(format!("truncate={after_tokens}"));
            }
            Some(Failure::Disconnect { after_tokens }) => {
                pairs.push(format!("disconnect={after_tokens}"));
            }
            Some(Failure::FinishContentFilter { after_tokens }) => {
                pairs.push(format!("finish_content_filter={after_tokens}"));
            }
            Some(Failure::FloodNoNewline { mebibytes }) => {
                pairs.push(format!("flood_no_newline_mib={mebibytes}"));
            }
            Some(Failure::FloodErrorBody { mebibytes }) => {
                pairs.push(format!("flood_error_body_mib={mebibytes}"));
            }
        }
        let variation = &self.variation;
        if variation.seed != default.variation.seed {
            pairs.push(format!("seed={}", variation.seed));
        }
        if let Some(error) = &variation.error {
            pairs.push(format!("error_rate={}", error.probability));
            if error.failure != ErrorRate::default_failure() {
                pairs.push(format!("error={}", error_kind_spec(&error.failure)));
            }
        }
        if !variation.variants.is_empty() {
            let variants: Vec<String> = variation
                .variants
                .iter()
                .map(|variant| percent_encode(variant))
                .collect();
            pairs.push(format!("variants={}", variants.join("|")));
        }
        if let Some(after) = variation.redeploy_after {
            pairs.push(format!("redeploy_after={after}"));
        }
        match self.answer {
            Answer::Echo => pairs.push("answer=echo".to_owned()),
            Answer::Judge => pairs.push("answer=judge".to_owned()),
            Answer::Fixed => {}
        }
        pairs.join(";")
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_spec())
    }
}

fn invalid(key: &str, value: &str, reason: &str) -> SpecError {
    SpecError::InvalidValue {
        key: key.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

const BAD_ESCAPE: &str = "bad percent escape (use %XX with two hex digits)";

/// Refuses the second of two keys that exclude each other in one spec.
fn exclusive(seen: &mut Option<String>, pair: &str) -> Result<(), SpecError> {
    match seen.replace(pair.to_owned()) {
        Some(first) => Err(SpecError::ConflictingKeys {
            first,
            second: pair.to_owned(),
        }),
        None => Ok(()),
    }
}

/// A fixed delay (`450`, `12.5`) or a distribution (`lognormal:450:0.25`), for `ttft_ms` and
/// `gap_ms`; a distribution zeroes the fixed delay it replaces, so equal specs give equal
/// scenarios.
fn parse_delay(key: &str, value: &str) -> Result<(Duration, Option<Distribution>), SpecError> {
    if value.contains(':') {
        Ok((Duration::ZERO, Some(Distribution::parse(key, value)?)))
    } else {
        let fixed = parse_milliseconds(key, value).map_err(|_| invalid(key, value, DELAY_EXPECTED))?;
        Ok((fixed, None))
    }
}

const ERROR_KINDS: &str = "expected an HTTP status (503), timeout, quota, content_filter, midstream[:N], truncate[:N], disconnect[:N], finish_content_filter[:N], flood_no_newline_mib:N or flood_error_body_mib:N";

/// The failure of a drawn error (`error=`): the failure keys' kinds in one value, a token
/// count after a colon where they take one (1 when left out).
fn parse_error_kind(key: &str, value: &str) -> Result<Failure, SpecError> {
    let (name, count) = match value.split_once(':') {
        Some((name, count)) => (name, Some(parse_number::<usize>(key, count)?)),
        None => (value, None),
    };
    let after_tokens = count.unwrap_or(1);
    let failure = match (name, count) {
        ("timeout", None) => Failure::Timeout,
        ("quota", None) => Failure::Quota,
        ("content_filter", None) => Failure::ContentFilter,
        ("midstream", _) => Failure::MidStreamError { after_tokens },
        ("truncate", _) => Failure::Truncate { after_tokens },
        ("disconnect", _) => Failure::Disconnect { after_tokens },
        ("finish_content_filter", _) => Failure::FinishContentFilter { after_tokens },
        ("flood_no_newline_mib", Some(mebibytes)) => Failure::FloodNoNewline { mebibytes },
        ("flood_error_body_mib", Some(mebibytes)) => Failure::FloodErrorBody { mebibytes },
        (_, None) => parse_status_failure(key, value).map_err(|_| invalid(key, value, ERROR_KINDS))?,
        (_, Some(_)) => return Err(invalid(key, value, ERROR_KINDS)),
    };
    Ok(failure)
}

/// The inverse of [`parse_error_kind`]. A status failure's `retry_after` has no place in it.
fn error_kind_spec(failure: &Failure) -> String {
    match failure {
        Failure::Status {
            status,
            times: Some(times),
            ..
        } => format!("{status}x{times}"),
        Failure::Status {
            status, times: None, ..
        } => status.to_string(),
        Failure::Quota => "quota".to_owned(),
        Failure::ContentFilter => "content_filter".to_owned(),
        Failure::Timeout => "timeout".to_owned(),
        Failure::MidStreamError { after_tokens } => format!("midstream:{after_tokens}"),
        Failure::Truncate { after_tokens } => format!("truncate:{after_tokens}"),
        Failure::Disconnect { after_tokens } => format!("disconnect:{after_tokens}"),
        Failure::FinishContentFilter { after_tokens } => format!("finish_content_filter:{after_tokens}"),
        Failure::FloodNoNewline { mebibytes } => format!("flood_no_newline_mib:{mebibytes}"),
        Failure::FloodErrorBody { mebibytes } => format!("flood_error_body_mib:{mebibytes}"),
    }
}

fn parse_number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, SpecError> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(key, value, "expected a non-negative whole number"))
}

/// `429`, `503x2`: a status code with an optional number of times.
fn parse_status_failure(key: &str, value: &str) -> Result<Failure, SpecError> {
    let (status, times) = match value.split_once(['x', 'X']) {
        Some((status, times)) => (status, Some(parse_number::<u32>(key, times)?)),
        None => (value, None),
    };
    let status: u16 = status.parse().map_err(|_| {
        invalid(
            key,
            value,
            "expected quota, content_filter or an HTTP status such as 429 or 503x2",
        )
    })?;
    if !(400..=599).contains(&status) {
        return Err(invalid(key, value, "the status must be between 400 and 599"));
    }
    Ok(Failure::Status {
        status,
        times,
        retry_after: None,
    })
}

/// Characters that would end a pair, a spec or a variant, so `text=` and `variants=` must
/// escape them.
const RESERVED: &[char] = &['%', ';', ',', '=', '~', '|'];

fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for character in text.chars() {
        if RESERVED.contains(&character) || character.is_control() {
            let mut buffer = [0u8; 4];
            for byte in character.encode_utf8(&mut buffer).bytes() {
                encoded.push_str(&format!("%{byte:02X}"));
            }
        } else {
            encoded.push(character);
        }
    }
    encoded
}

pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// Whether a `replay=` name could reach outside the fixtures directory: it must be a file in
/// it or in a subfolder of it (`peers/x.sse`), never absolute, never through `.`, `..` or `\\`.
pub(crate) fn fixture_name_escapes(name: &str) -> bool {
    name.starts_with('/')
        || name.contains('\\')
        || name
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_spec_is_the_default() {
        assert_eq!(parse_spec("").expect("spec parses"), Scenario::default());
    }

    #[test]
    fn every_key_parses() {
        let scenario = parse_spec("ttft_ms=200; tokens=50,gap_ms=5;split=7;stall=10:500;replay=openai_chat_usage.sse")
            .expect("spec parses");
        assert_eq!(scenario.time_to_first_token, Duration::from_millis(200));
        assert_eq!(scenario.tokens, 50);
        assert_eq!(scenario.inter_token_delay, Duration::from_millis(5));
        assert_eq!(scenario.split, Some(7));
        assert_eq!(scenario.stall, Some((10, Duration::from_millis(500))));
        assert_eq!(scenario.replay.as_deref(), Some("openai_chat_usage.sse"));
    }

    #[test]
    fn failures_parse() {
        let cases = [
            (
                "fail=401",
                Failure::Status {
                    status: 401,
                    times: None,
                    retry_after: None,
                },
            ),
            (
                "fail=429x1;retry_after_ms=50",
                Failure::Status {
                    status: 429,
                    times: Some(1),
                    retry_after: Some(Duration::from_millis(50)),
                },
            ),
            (
                "retry_after=2,fail=503x2",
                Failure::Status {
                    status: 503,
                    times: Some(2),
                    retry_after: Some(Duration::from_secs(2)),
                },
            ),
            ("fail=quota", Failure::Quota),
            ("fail=content_filter", Failure::ContentFilter),
            ("midstream_error=5", Failure::MidStreamError { after_tokens: 5 }),
            ("truncate=5", Failure::Truncate { after_tokens: 5 }),
            ("disconnect=2", Failure::Disconnect { after_tokens: 2 }),
            (
                "finish_content_filter=3",
                Failure::FinishContentFilter { after_tokens: 3 },
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(parse_spec(spec).expect("spec parses").failure, Some(expected), "{spec}");
        }
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(
            parse_spec("tokens=3;bogus=1").expect_err("spec is rejected"),
            SpecError::UnknownKey("bogus".to_owned())
        );
        assert!(
            parse_spec("bogus=1")
                .expect_err("spec is rejected")
                .to_string()
                .contains("bogus")
        );
        assert!(matches!(
            parse_spec("tokens=many").expect_err("spec is rejected"),
            SpecError::InvalidValue { key, .. } if key == "tokens"
        ));
        assert_eq!(
            parse_spec("tokens").expect_err("spec is rejected"),
            SpecError::MissingValue("tokens".to_owned())
        );
        assert!(matches!(
            parse_spec("fail=429;truncate=2").expect_err("spec is rejected"),
            SpecError::ConflictingFailures { .. }
        ));
        assert!(matches!(
            parse_spec("fail=200").expect_err("spec is rejected"),
            SpecError::InvalidValue { .. }
        ));
        assert!(matches!(
            parse_spec("replay=../secret.sse").expect_err("spec is rejected"),
            SpecError::InvalidValue { .. }
        ));
        for escaping in [
            "replay=/etc/passwd",
            "replay=peers/../../x.sse",
            "replay=a//b.sse",
            "replay=a\\b.sse",
        ] {
            assert!(
                matches!(
                    parse_spec(escaping).expect_err("spec is rejected"),
                    SpecError::InvalidValue { .. }
                ),
                "{escaping}"
            );
        }
        assert_eq!(
            parse_spec("replay=peers/oai_chat_refusal_gpt4o.sse")
                .expect("a subfolder of the fixtures is allowed")
                .replay
                .as_deref(),
            Some("peers/oai_chat_refusal_gpt4o.sse")
        );
        assert_eq!(
            parse_spec("retry_after_ms=5").expect_err("spec is rejected"),
            SpecError::RetryAfterWithoutStatus("retry_after_ms".to_owned())
        );
        assert!(matches!(
            parse_spec("split=0").expect_err("spec is rejected"),
            SpecError::InvalidValue { .. }
        ));
        for (spec, needs) in [
            ("ping_ms=5", "hold_ms"),
            ("bom", "replay"),
            ("cut=4;tokens=3", "replay"),
        ] {
            assert!(
                matches!(parse_spec(spec), Err(SpecError::Requires { needs: needed, .. }) if needed == needs),
                "{spec}"
            );
        }
        assert!(matches!(
            parse_spec("replay=a.sse;endings=dos").expect_err("spec is rejected"),
            SpecError::InvalidValue { .. }
        ));
    }

    #[test]
    fn apply_spec_keeps_unnamed_keys() {
        let base = Scenario {
            tokens: 3,
            inter_token_delay: Duration::from_millis(9),
            ..Scenario::default()
        };
        let scenario = apply_spec(base, "tokens=5").expect("spec parses");
        assert_eq!(scenario.tokens, 5);
        assert_eq!(scenario.inter_token_delay, Duration::from_millis(9));
    }

    #[test]
    fn to_spec_round_trips() {
        let scenarios = [
            Scenario::default(),
            parse_spec("ttft_ms=200;tokens=50;gap_ms=5;split=7;stall=10:500").expect("spec parses"),
            parse_spec("fail=429x1;retry_after_ms=1500").expect("spec parses"),
            parse_spec("fail=500;replay=ollama_api_chat.ndjson").expect("spec parses"),
            parse_spec("finish_content_filter=3").expect("spec parses"),
            parse_spec("replay=a.sse;endings=cr;twice;bom;cut=100;hold_ms=30000;ping_ms=2000").expect("spec parses"),
            parse_spec("ttft_ms=12.5;gap_ms=0.001;fail=timeout").expect("spec parses"),
            parse_spec("ttft_ms=lognormal:450.5:0.25;gap_ms=normal:5:1.5;seed=9;error_rate=0.125;variants=a|b%7Cc|;answer=echo")
                .expect("spec parses"),
            parse_spec("ttft_ms=uniform:300:600;error_rate=0.5;error=midstream:3;text=after").expect("spec parses"),
            parse_spec("error_rate=0.01;error=429x2;fail=500").expect("spec parses"),
            Scenario {
                text: Some("a;b,c=d~e%f naïve 😄\n".to_owned()),
                ..Scenario::default()
            },
        ];
        for scenario in scenarios {
            let spec = scenario.to_spec();
            assert_eq!(parse_spec(&spec).expect("spec parses"), scenario, "{spec}");
            assert_eq!(scenario.to_string(), spec);
        }
        assert_eq!(Scenario::default().to_spec(), "");
    }

    #[test]
    fn variation_keys_parse() {
        let scenario = parse_spec(
            "ttft_ms=lognormal:450:0.25;gap_ms=uniform:3:7;seed=42;error_rate=0.1;error=timeout;variants=one|two%7C2|;answer=echo;redeploy_after=5",
        )
        .expect("spec parses");
        assert_eq!(scenario.time_to_first_token, Duration::ZERO);
        assert_eq!(
            scenario.variation,
            Variation {
                seed: 42,
                time_to_first_token: Some(Distribution::LogNormal {
                    median: Duration::from_millis(450),
                    sigma: 0.25
                }),
                inter_token_delay: Some(Distribution::Uniform {
                    low: Duration::from_millis(3),
                    high: Duration::from_millis(7)
                }),
                error: Some(ErrorRate {
                    probability: 0.1,
                    failure: Failure::Timeout
                }),
                variants: vec!["one".to_owned(), "two|2".to_owned(), String::new()],
                redeploy_after: Some(5),
            }
        );
        // The deployment changes at the key's fifth request, and stays changed.
        let redeployed: Vec<bool> = (0..8)
            .map(|request| scenario.for_request("model", request, "prompt").redeployed)
            .collect();
        assert_eq!(redeployed, [false, false, false, false, false, true, true, true]);
        assert_eq!(
            parse_spec(&scenario.to_spec()).expect("spec parses").variation,
            scenario.variation
        );
        assert_eq!(scenario.answer, Answer::Echo);
        assert_eq!(
            parse_spec("ttft_ms=normal:450:40")
                .expect("spec parses")
                .variation
                .time_to_first_token,
            Some(Distribution::Normal {
                mean: Duration::from_millis(450),
                standard_deviation: Duration::from_millis(40)
            })
        );
        // The error kind defaults to a 503 and may come before the rate.
        assert_eq!(
            parse_spec("error_rate=0.2").expect("spec parses").variation.error,
            Some(ErrorRate {
                probability: 0.2,
                failure: ErrorRate::default_failure()
            })
        );
        assert_eq!(
            parse_spec("error_status=429;error_rate=0.2")
                .expect("spec parses")
                .variation
                .error,
            Some(ErrorRate {
                probability: 0.2,
                failure: Failure::Status {
                    status: 429,
                    times: None,
                    retry_after: None
                }
            })
        );
        assert_eq!(
            parse_spec("fail=timeout").expect("spec parses").failure,
            Some(Failure::Timeout)
        );
    }

    #[test]
    fn variation_errors_name_the_problem() {
        for spec in [
            "ttft_ms=lognormal:0:0.25",
            "ttft_ms=lognormal:450",
            "ttft_ms=uniform:600:300",
            "gap_ms=gamma:1:2",
            "gap_ms=normal:5:-1",
            "ttft_ms=fast",
            "error_rate=1.5",
            "error_rate=-0.1",
            "error_rate=0.1;error=teapot",
            "error_rate=0.1;error=503:2",
            "error_rate=0.1;error_status=timeout",
            "answer=maybe",
            "seed=-1",
            "variants=a|%G1",
        ] {
            assert!(
                matches!(parse_spec(spec), Err(SpecError::InvalidValue { .. })),
                "{spec}: {:?}",
                parse_spec(spec)
            );
        }
        assert!(matches!(
            parse_spec("error=timeout"),
            Err(SpecError::Requires {
                needs: "error_rate",
                ..
            })
        ));
        assert!(matches!(
            parse_spec("text=a;variants=b|c"),
            Err(SpecError::ConflictingKeys { .. })
        ));
        assert_eq!(
            parse_spec("variants=").expect_err("spec is rejected"),
            SpecError::MissingValue("variants".to_owned())
        );
    }

    #[test]
    fn apply_spec_replaces_what_varies() {
        let base = parse_spec("ttft_ms=lognormal:450:0.25;variants=a|b;error_rate=0.1").expect("spec parses");
        let fixed = apply_spec(base.clone(), "ttft_ms=200;text=only").expect("spec parses");
        assert_eq!(fixed.time_to_first_token, Duration::from_millis(200));
        assert_eq!(fixed.variation.time_to_first_token, None);
        assert_eq!(fixed.text.as_deref(), Some("only"));
        assert!(fixed.variation.variants.is_empty());
        let other_error = apply_spec(base.clone(), "error=429").expect("an error kind needs the base's rate");
        assert_eq!(
            other_error
                .variation
                .error
                .map(|error| (error.probability, error.failure)),
            Some((
                0.1,
                Failure::Status {
                    status: 429,
                    times: None,
                    retry_after: None
                }
            ))
        );
        let other_rate = apply_spec(
            parse_spec("error_rate=0.1;error=timeout").expect("spec parses"),
            "error_rate=0.3",
        )
        .expect("spec parses");
        assert_eq!(
            other_rate.variation.error,
            Some(ErrorRate {
                probability: 0.3,
                failure: Failure::Timeout
            })
        );
        let variants = apply_spec(
            Scenario {
                text: Some("fixed".to_owned()),
                ..Scenario::default()
            },
            "variants=x|y",
        )
        .expect("spec parses");
        assert_eq!(variants.text, None);
    }

    #[test]
    fn text_is_percent_decoded() {
        let scenario = parse_spec("text=Hello%2C world%3B ’").expect("spec parses");
        assert_eq!(scenario.text.as_deref(), Some("Hello, world; ’"));
        assert!(parse_spec("text=%G1").is_err());
    }
}
