//! Per-request variation: latency distributions, a random error rate and answer variants, and
//! how one request's fixed scenario is drawn from them ([`Scenario::for_request`]).
//!
//! Every draw comes from a generator seeded by the scenario's `seed`, the scenario key (the
//! model as requested plus any header spec), the request's number for that key and what is
//! being drawn, so the same requests against a fresh server get the same draws, and adding an
//! error rate does not change the latencies drawn.
//!
//! The generator (SplitMix64) and the samplers (Box-Muller for the normal) are written out here
//! instead of taken from `rand` and `rand_distr`: those crates document that their outputs may
//! change between versions, and a test's recorded expectations must not move with a dependency
//! update. Left out: a gap drawn per token (a response draws one gap, so its tokens arrive
//! evenly), and any correlation between a request's latency and its error.

use std::fmt;
use std::time::Duration;

use super::{Answer, Failure, Scenario, SpecError, invalid};

/// The longest delay a draw may produce: a lognormal tail with a large sigma would otherwise
/// overflow a `Duration`.
const LONGEST_DRAW: Duration = Duration::from_secs(24 * 60 * 60);

/// What an echoed answer starts with (`answer=echo`): `Answer to: <last user message>`.
pub const ECHO_PREFIX: &str = "Answer to: ";

/// A latency distribution, in milliseconds in a spec (`lognormal:450:0.25`).
#[derive(Clone, Copy, Debug)]
pub enum Distribution {
    /// `lognormal:MEDIAN:SIGMA`: `median · e^(sigma · z)` for a standard normal `z`, skewed
    /// to the right as real latencies are; `sigma` is the standard deviation of the log.
    LogNormal { median: Duration, sigma: f64 },
    /// `uniform:LOW:HIGH`: every delay between the two equally likely.
    Uniform { low: Duration, high: Duration },
    /// `normal:MEAN:STANDARD_DEVIATION`, draws below zero clamped to zero.
    Normal {
        mean: Duration,
        standard_deviation: Duration,
    },
}

// By bits, so that equality is total: the spec parser refuses NaN, and a scenario compares
// equal to the one its spec parses back into.
impl PartialEq for Distribution {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                Self::LogNormal { median, sigma },
                Self::LogNormal {
                    median: other_median,
                    sigma: other_sigma,
                },
            ) => median == other_median && sigma.to_bits() == other_sigma.to_bits(),
            (
                Self::Uniform { low, high },
                Self::Uniform {
                    low: other_low,
                    high: other_high,
                },
            ) => low == other_low && high == other_high,
            (
                Self::Normal {
                    mean,
                    standard_deviation,
                },
                Self::Normal {
                    mean: other_mean,
                    standard_deviation: other_deviation,
                },
            ) => mean == other_mean && standard_deviation == other_deviation,
            _ => false,
        }
    }
}

impl Eq for Distribution {}

impl Distribution {
    /// The delay half the draws fall under.
    pub fn median(&self) -> Duration {
        match *self {
            Self::LogNormal { median, .. } => median,
            Self::Uniform { low, high } => (low + high) / 2,
            Self::Normal { mean, .. } => mean,
        }
    }

    pub(crate) fn sample(&self, generator: &mut Generator) -> Duration {
        let milliseconds = match *self {
            Self::LogNormal { median, sigma } => as_milliseconds(median) * (sigma * generator.standard_normal()).exp(),
            Self::Uniform { low, high } => {
                as_milliseconds(low) + (as_milliseconds(high) - as_milliseconds(low)) * generator.unit()
            }
            Self::Normal {
                mean,
                standard_deviation,
            } => as_milliseconds(mean) + as_milliseconds(standard_deviation) * generator.standard_normal(),
        };
        // Whole microseconds, so the drawn scenario's spec (which writes milliseconds with
        // three decimals) parses back to the same delay.
        let micros = (milliseconds * 1000.0).round();
        if micros.is_nan() || micros <= 0.0 {
            Duration::ZERO
        } else if micros >= as_milliseconds(LONGEST_DRAW) * 1000.0 {
            LONGEST_DRAW
        } else {
            // In range by the checks above, so the cast neither wraps nor truncates.
            Duration::from_micros(micros as u64)
        }
    }

    /// `lognormal:450:0.25`, `uniform:300:600` or `normal:450:40`.
    pub(super) fn parse(key: &str, value: &str) -> Result<Self, SpecError> {
        let parts: Vec<&str> = value.split(':').collect();
        let [name, first, second] = parts[..] else {
            return Err(invalid(key, value, DELAY_EXPECTED));
        };
        let distribution = match name {
            "lognormal" => {
                let median = parse_milliseconds(key, first)?;
                let sigma = parse_decimal(key, second)?;
                if median.is_zero() {
                    return Err(invalid(key, value, "a lognormal median must be above 0"));
                }
                Self::LogNormal { median, sigma }
            }
            "uniform" => {
                let (low, high) = (parse_milliseconds(key, first)?, parse_milliseconds(key, second)?);
                if low > high {
                    return Err(invalid(key, value, "the low end must not be above the high end"));
                }
                Self::Uniform { low, high }
            }
            "normal" => Self::Normal {
                mean: parse_milliseconds(key, first)?,
                standard_deviation: parse_milliseconds(key, second)?,
            },
            _ => return Err(invalid(key, value, DELAY_EXPECTED)),
        };
        Ok(distribution)
    }
}

/// The spec value: `lognormal:450:0.25`.
impl fmt::Display for Distribution {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::LogNormal { median, sigma } => {
                write!(formatter, "lognormal:{}:{sigma}", format_milliseconds(median))
            }
            Self::Uniform { low, high } => write!(
                formatter,
                "uniform:{}:{}",
                format_milliseconds(low),
                format_milliseconds(high)
            ),
            Self::Normal {
                mean,
                standard_deviation,
            } => write!(
                formatter,
                "normal:{}:{}",
                format_milliseconds(mean),
                format_milliseconds(standard_deviation)
            ),
        }
    }
}

pub(super) const DELAY_EXPECTED: &str = "expected milliseconds (450 or 12.5) or a distribution: lognormal:MEDIAN:SIGMA, uniform:LOW:HIGH or normal:MEAN:STANDARD_DEVIATION";

/// A random failure: each request independently fails this way with this probability.
#[derive(Clone, Debug)]
pub struct ErrorRate {
    /// From 0 (never) to 1 (always).
    pub probability: f64,
    /// How a request that the draw hits fails (by default an HTTP 503).
    pub failure: Failure,
}

impl ErrorRate {
    /// `error=` when the spec names none.
    pub fn default_failure() -> Failure {
        Failure::Status {
            status: 503,
            times: None,
            retry_after: None,
        }
    }
}

// By bits, as for `Distribution`.
impl PartialEq for ErrorRate {
    fn eq(&self, other: &Self) -> bool {
        self.probability.to_bits() == other.probability.to_bits() && self.failure == other.failure
    }
}

impl Eq for ErrorRate {}

/// The parts of a scenario drawn anew for each request; all empty by default, so every request
/// of a scenario behaves the same.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Variation {
    /// Seeds every draw, with the scenario key and the request's number for that key (`seed=N`,
    /// default 0).
    pub seed: u64,
    /// Replaces [`Scenario::time_to_first_token`] with a draw.
    pub time_to_first_token: Option<Distribution>,
    /// Replaces [`Scenario::inter_token_delay`] with one draw per response.
    pub inter_token_delay: Option<Distribution>,
    /// Replaces [`Scenario::failure`] on the requests the draw hits.
    pub error: Option<ErrorRate>,
    /// One answer picked uniformly per request, instead of [`Scenario::text`].
    pub variants: Vec<String>,
    /// From this request of the key on (counted from 0), the backend is a new deployment and
    /// reports another `system_fingerprint`, as OpenAI's does after an update
    /// (`redeploy_after=N`).
    pub redeploy_after: Option<u64>,
}

impl Variation {
    /// Whether nothing is drawn (the seed alone changes nothing).
    pub fn is_empty(&self) -> bool {
        self.time_to_first_token.is_none()
            && self.inter_token_delay.is_none()
            && self.error.is_none()
            && self.variants.is_empty()
            && self.redeploy_after.is_none()
    }
}

impl Scenario {
    /// The fixed scenario one request gets: each distribution drawn, the error decided, a
    /// variant picked, the echoed answer written out (from `prompt`, the last user message).
    /// `key` names the scenario's requests (fakecloud uses the model as requested and the
    /// header spec) and `request` counts them from 0; the same arguments always give the same
    /// scenario.
    pub fn for_request(&self, key: &str, request: u64, prompt: &str) -> Scenario {
        let variation = &self.variation;
        let generator = |purpose: &str| Generator::new(variation.seed, purpose, key, request);
        let mut drawn = Scenario {
            variation: Variation::default(),
            answer: Answer::Fixed,
            ..self.clone()
        };
        if let Some(distribution) = &variation.time_to_first_token {
            drawn.time_to_first_token = distribution.sample(&mut generator("time_to_first_token"));
        }
        if let Some(distribution) = &variation.inter_token_delay {
            drawn.inter_token_delay = distribution.sample(&mut generator("inter_token_delay"));
        }
        if let Some(error) = &variation.error
            && generator("error").unit() < error.probability
        {
            drawn.failure = Some(error.failure.clone());
        }
        if !variation.variants.is_empty() {
            let count = variation.variants.len();
            // `unit()` is below 1, so the index is below `count`; `min` guards the rounding.
            let index = ((generator("variant").unit() * count as f64) as usize).min(count - 1);
            drawn.text = Some(variation.variants[index].clone());
        }
        drawn.redeployed = variation.redeploy_after.is_some_and(|after| request >= after);
        if self.answer == Answer::Judge {
            drawn.text = Some(super::judge::verdict(prompt));
        }
        if self.answer == Answer::Echo {
            drawn.text = Some(match &drawn.text {
                Some(suffix) => format!("{ECHO_PREFIX}{prompt} {suffix}"),
                None => format!("{ECHO_PREFIX}{prompt}"),
            });
        }
        drawn
    }
}

/// SplitMix64 (Steele, Lea and Flood, 2014): one 64-bit state, a fixed output function, and
/// well mixed even from seeds that differ in one bit.
pub(crate) struct Generator {
    state: u64,
}

impl Generator {
    pub(crate) fn new(seed: u64, purpose: &str, key: &str, request: u64) -> Self {
        // FNV-1a over the parts; 0xff never occurs in UTF-8, so it separates the strings.
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let parts: [&[u8]; 6] = [
            &seed.to_le_bytes(),
            purpose.as_bytes(),
            &[0xff],
            key.as_bytes(),
            &[0xff],
            &request.to_le_bytes(),
        ];
        let state = parts
            .iter()
            .flat_map(|part| part.iter())
            .fold(OFFSET, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(PRIME));
        Self { state }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^ (mixed >> 31)
    }

    /// Uniform in [0, 1), from the top 53 bits (a double's precision).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal, by Box-Muller.
    pub(crate) fn standard_normal(&mut self) -> f64 {
        // 1 - unit() is in (0, 1], so the logarithm is finite.
        let radius = (-2.0 * (1.0 - self.unit()).ln()).sqrt();
        radius * (std::f64::consts::TAU * self.unit()).cos()
    }
}

fn as_milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Milliseconds: a whole number as before (`450`), or with up to three decimals (`12.5`),
/// rounded to the microsecond.
pub(super) fn parse_milliseconds(key: &str, value: &str) -> Result<Duration, SpecError> {
    let value = value.trim();
    if let Ok(whole) = value.parse::<u64>() {
        return Ok(Duration::from_millis(whole));
    }
    let milliseconds = parse_decimal(key, value)?;
    let micros = (milliseconds * 1000.0).round();
    if micros > as_milliseconds(LONGEST_DRAW) * 1000.0 {
        return Err(invalid(key, value, "at most a day (86400000 ms) with decimals"));
    }
    // Non-negative, finite and at most a day, so the cast is exact.
    Ok(Duration::from_micros(micros as u64))
}

/// The inverse of [`parse_milliseconds`]: `450`, `12.5`, `463.271`.
pub(super) fn format_milliseconds(duration: Duration) -> String {
    let micros = duration.as_micros();
    let (whole, fraction) = (micros / 1000, micros % 1000);
    if fraction == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{fraction:03}").trim_end_matches('0').to_owned()
    }
}

/// A finite, non-negative decimal (`0.25`, `1`).
pub(super) fn parse_decimal(key: &str, value: &str) -> Result<f64, SpecError> {
    match value.trim().parse::<f64>() {
        Ok(number) if number.is_finite() && number >= 0.0 => Ok(number),
        _ => Err(invalid(key, value, "expected a non-negative number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_spec;

    fn draws(distribution: &Distribution, count: u64) -> Vec<f64> {
        let mut values: Vec<f64> = (0..count)
            .map(|request| as_milliseconds(distribution.sample(&mut Generator::new(0, "test", "model", request))))
            .collect();
        values.sort_by(f64::total_cmp);
        values
    }

    fn median_of(sorted: &[f64]) -> f64 {
        (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2.0
    }

    #[test]
    fn empirical_medians_match_the_configured_ones() {
        // 2,000 draws: the sample median's standard error is about 1.25·σ/√n of the
        // underlying normal, under 1 % here, so 3 % is far outside chance.
        for spec in ["lognormal:450:0.25", "uniform:300:600", "normal:450:40"] {
            let distribution = Distribution::parse("ttft_ms", spec).expect("distribution parses");
            let sorted = draws(&distribution, 2000);
            let expected = as_milliseconds(distribution.median());
            let median = median_of(&sorted);
            assert!(
                (median - expected).abs() / expected < 0.03,
                "{spec}: median {median} ms, expected {expected} ms"
            );
        }
    }

    #[test]
    fn draws_have_the_configured_spread() {
        let lognormal = draws(
            &Distribution::parse("ttft_ms", "lognormal:450:0.25").expect("parses"),
            2000,
        );
        // The 95th percentile of a lognormal is median · e^(1.645 sigma) = 679 ms.
        let p95 = lognormal[1899];
        assert!((p95 - 679.0).abs() / 679.0 < 0.05, "p95 {p95}");
        let uniform = draws(&Distribution::parse("gap_ms", "uniform:300:600").expect("parses"), 2000);
        assert!(uniform[0] >= 300.0 && uniform[1999] < 600.0);
        assert!(uniform[0] < 310.0 && uniform[1999] > 590.0, "the draws fill the range");
        let normal = draws(&Distribution::parse("gap_ms", "normal:450:40").expect("parses"), 2000);
        let mean = normal.iter().sum::<f64>() / 2000.0;
        let deviation = (normal.iter().map(|value| (value - mean).powi(2)).sum::<f64>() / 1999.0).sqrt();
        assert!(
            (mean - 450.0).abs() < 4.0 && (deviation - 40.0).abs() < 3.0,
            "{mean} ± {deviation}"
        );
    }

    #[test]
    fn normal_draws_are_clamped_at_zero() {
        let sorted = draws(&Distribution::parse("ttft_ms", "normal:10:100").expect("parses"), 500);
        assert_eq!(sorted[0], 0.0);
        assert!(sorted.iter().filter(|value| **value == 0.0).count() > 100);
    }

    #[test]
    fn draws_depend_on_seed_key_request_and_purpose_only() {
        let sample = |seed, purpose, key, request| Generator::new(seed, purpose, key, request).next_u64();
        assert_eq!(sample(7, "variant", "model", 3), sample(7, "variant", "model", 3));
        let base = sample(7, "variant", "model", 3);
        for other in [
            sample(8, "variant", "model", 3),
            sample(7, "error", "model", 3),
            sample(7, "variant", "model2", 3),
            sample(7, "variant", "model", 4),
            // The separator keeps the boundary between purpose and key.
            sample(7, "varian", "tmodel", 3),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn same_seed_same_sequence_other_seed_other_sequence() {
        let sequence = |spec: &str| {
            let scenario = parse_spec(spec).expect("spec parses");
            (0..50)
                .map(|request| scenario.for_request("model", request, "prompt").to_spec())
                .collect::<Vec<_>>()
        };
        let spec = "ttft_ms=lognormal:450:0.25;gap_ms=uniform:5:15;error_rate=0.2;variants=a|b|c";
        let first = sequence(&format!("{spec};seed=11"));
        assert_eq!(first, sequence(&format!("{spec};seed=11")));
        assert_ne!(first, sequence(&format!("{spec};seed=12")));
        assert_ne!(first, sequence(spec));
        // Each request's draws vary.
        assert!(first.iter().collect::<std::collections::HashSet<_>>().len() > 45);
    }

    #[test]
    fn error_rates_stay_within_a_binomial_bound() {
        for (rate, failure) in [
            (0.1_f64, "error_rate=0.1"),
            (0.5, "error_rate=0.5;error=timeout"),
            (0.02, "error=midstream:2;error_rate=0.02"),
        ] {
            let scenario = parse_spec(failure).expect("spec parses");
            let failed = (0..2000)
                .filter(|request| scenario.for_request("model", *request, "").failure.is_some())
                .count();
            // Four standard deviations of a binomial(2000, rate): a false alarm once in 15,000 runs,
            // and the draws are fixed anyway.
            let expected = 2000.0 * rate;
            let bound = 4.0 * (2000.0 * rate * (1.0 - rate)).sqrt();
            assert!(
                (failed as f64 - expected).abs() <= bound,
                "{failure}: {failed} of 2000 failed, expected {expected} ± {bound}"
            );
        }
        let never = parse_spec("error_rate=0").expect("spec parses");
        let always = parse_spec("error_rate=1").expect("spec parses");
        assert!((0..200).all(|request| never.for_request("m", request, "").failure.is_none()));
        assert!((0..200).all(|request| always.for_request("m", request, "").failure.is_some()));
    }

    #[test]
    fn drawn_errors_use_the_failure_kinds() {
        let drawn = |spec: &str| {
            parse_spec(&format!("error_rate=1;{spec}"))
                .expect("spec parses")
                .for_request("model", 0, "")
                .failure
        };
        assert_eq!(drawn(""), Some(ErrorRate::default_failure()));
        assert_eq!(
            drawn("error=429"),
            Some(Failure::Status {
                status: 429,
                times: None,
                retry_after: None
            })
        );
        assert_eq!(
            drawn("error_status=500"),
            Some(Failure::Status {
                status: 500,
                times: None,
                retry_after: None
            })
        );
        assert_eq!(drawn("error=timeout"), Some(Failure::Timeout));
        assert_eq!(
            drawn("error=midstream"),
            Some(Failure::MidStreamError { after_tokens: 1 })
        );
        assert_eq!(
            drawn("error=midstream:4"),
            Some(Failure::MidStreamError { after_tokens: 4 })
        );
        assert_eq!(
            drawn("error=disconnect:2"),
            Some(Failure::Disconnect { after_tokens: 2 })
        );
        // A request the draw misses keeps the scenario's own failure.
        let counted = parse_spec("fail=429x1;error_rate=0").expect("spec parses");
        assert_eq!(counted.for_request("m", 0, "").failure, counted.failure);
    }

    #[test]
    fn every_variant_appears_about_equally() {
        let scenario = parse_spec("variants=first answer|second answer|third").expect("spec parses");
        let mut counts = std::collections::HashMap::new();
        for request in 0..3000 {
            let text = scenario.for_request("model", request, "").text.expect("a variant");
            *counts.entry(text).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 3);
        for variant in ["first answer", "second answer", "third"] {
            let count = counts[variant];
            // Binomial(3000, 1/3): standard deviation 26.
            assert!((count - 1000_i32).abs() < 110, "{variant}: {count}");
        }
    }

    #[test]
    fn echo_answers_the_prompt_with_the_variant_or_text_after_it() {
        let echo = parse_spec("answer=echo").expect("spec parses");
        let answer = |scenario: &Scenario, request| scenario.for_request("m", request, "What is 2+2?").text;
        assert_eq!(answer(&echo, 0).as_deref(), Some("Answer to: What is 2+2?"));
        assert_eq!(answer(&echo, 0), answer(&echo, 1), "repeats are identical");
        let with_text = parse_spec("answer=echo;text=(v2)").expect("spec parses");
        assert_eq!(answer(&with_text, 0).as_deref(), Some("Answer to: What is 2+2? (v2)"));
        let with_variants = parse_spec("answer=echo;variants=A|B").expect("spec parses");
        let answers: std::collections::HashSet<_> = (0..40)
            .map(|request| answer(&with_variants, request).expect("an answer"))
            .collect();
        assert_eq!(
            answers,
            ["Answer to: What is 2+2? A", "Answer to: What is 2+2? B"]
                .map(str::to_owned)
                .into()
        );
    }

    #[test]
    fn a_drawn_scenario_is_fixed_and_round_trips() {
        let scenario =
            parse_spec("ttft_ms=lognormal:450:0.25;gap_ms=normal:5:1;variants=x|y;answer=echo;error_rate=0.5")
                .expect("spec parses");
        for request in 0..20 {
            let drawn = scenario.for_request("model", request, "a;b,c=d");
            assert!(drawn.variation.is_empty());
            assert_eq!(drawn.answer, Answer::Fixed);
            assert_eq!(parse_spec(&drawn.to_spec()).expect("drawn spec parses"), drawn);
        }
    }

    #[test]
    fn milliseconds_format_and_parse_back() {
        for (text, micros) in [("450", 450_000), ("12.5", 12_500), ("463.271", 463_271), ("0.001", 1)] {
            let duration = parse_milliseconds("ttft_ms", text).expect("parses");
            assert_eq!(duration, Duration::from_micros(micros));
            assert_eq!(format_milliseconds(duration), text);
        }
        for bad in ["-1", "NaN", "inf", "1e20", "abc"] {
            assert!(parse_milliseconds("ttft_ms", bad).is_err(), "{bad}");
        }
    }
}
