//! A synthetic history for the benchmark's history case (`modelbench bench --history N`): a
//! database of any number of runs, built in well under a minute per hundred thousand runs.
//!
//! The rows are written by the store's own functions (the writer's run, response and event
//! inserts, the schema's triggers for the search index), in one transaction per thousand runs,
//! so the tables, the index and the JSON are exactly what real runs leave. The text is what
//! makes search fast or slow, so it is shaped like the campaign's fake cloud's answers: words
//! drawn with Zipf weights from common English words (`the` ends up in most documents),
//! technical words and thousands of generated ones, and a ticket number in every prompt, so a
//! word can be found in exactly one document. Runs are spread over two years, started in order.
//!
//! Left out: the size of a real history's stream events (one event per token, 75 % of a real
//! database). Each response keeps a handful (start, text in a few pieces, usage, finish): the
//! history case times listing and searching, which never read events.

use serde_json::json;
use uuid::{NoContext, Timestamp, Uuid};

use super::{Store, writer};
use crate::model::error::{Error, Result};
use crate::model::event::{FinishReason, ResponseKey, ResponseMeta, StreamEvent, Usage};
use crate::model::record::{Metrics, ResponseRecord, RunId, RunRecord, now_unix_ms};
use crate::model::request::{Parameters, Prompt};
use crate::model::target::{ProviderKind, Target};

/// What [`fill`] wrote, and words to search it with.
#[derive(Clone, Debug)]
pub struct SyntheticHistory {
    pub runs: usize,
    pub responses: usize,
    pub events: usize,
    /// In most documents.
    pub common_word: &'static str,
    /// In exactly one document: the prompt of `rare_run`.
    pub rare_word: String,
    pub rare_run: RunId,
    /// In no document.
    pub missing_word: &'static str,
}

const COMMON_WORD: &str = "the";
const MISSING_WORD: &str = "zzzzqqq";

/// Runs per transaction.
const BATCH: usize = 1_000;
const TWO_YEARS_MS: i64 = 730 * 86_400 * 1_000;

const COMMON: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "is",
    "that",
    "it",
    "for",
    "on",
    "with",
    "as",
    "be",
    "this",
    "by",
    "are",
    "was",
    "from",
    "or",
    "an",
    "at",
    "can",
    "which",
    "not",
    "when",
    "you",
    "your",
    "we",
    "they",
    "more",
    "than",
    "each",
    "one",
    "two",
    "three",
    "first",
    "then",
    "also",
    "use",
    "will",
    "would",
    "should",
    "how",
    "what",
    "why",
    "where",
    "so",
    "but",
    "if",
    "all",
    "some",
    "most",
    "other",
    "into",
    "over",
    "between",
    "about",
    "only",
    "very",
    "time",
    "way",
    "these",
    "those",
    "many",
    "much",
    "new",
    "good",
    "same",
    "different",
    "because",
    "while",
    "after",
    "before",
    "here",
    "there",
    "both",
    "such",
    "every",
    "model",
    "results",
    "value",
];

const TECHNICAL: &[&str] = &[
    "latency",
    "throughput",
    "token",
    "stream",
    "region",
    "cache",
    "database",
    "index",
    "query",
    "schema",
    "kubernetes",
    "deployment",
    "container",
    "cluster",
    "replica",
    "shard",
    "partition",
    "consensus",
    "quorum",
    "encryption",
    "certificate",
    "gateway",
    "proxy",
    "endpoint",
    "payload",
    "serializer",
    "parser",
    "compiler",
    "allocator",
    "scheduler",
    "thread",
    "mutex",
    "semaphore",
    "channel",
    "buffer",
    "socket",
    "protocol",
    "header",
    "checksum",
    "compression",
    "decoder",
    "encoder",
    "embedding",
    "vector",
    "gradient",
    "tensor",
    "inference",
    "quantization",
    "benchmark",
    "regression",
    "rollback",
    "migration",
    "transaction",
    "isolation",
    "snapshot",
    "backup",
    "failover",
    "telemetry",
    "tracing",
    "logging",
    "metrics",
    "alerting",
    "dashboard",
    "pipeline",
    "artifact",
    "registry",
    "manifest",
    "dependency",
    "workspace",
    "lockfile",
    "sandbox",
    "firewall",
];

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ren", "tor", "vel", "sa", "qui", "dra", "pho", "nex", "ul", "bri", "os", "tan", "ge", "zu",
];

const PROMPTS: &[&str] = &[
    "Explain {a} and {b} in a few sentences.",
    "What is the difference between {a} and {b}?",
    "Summarise the history of {a} for a new engineer.",
    "Write a short story about {a}, {b} and a lost {c}.",
    "List the risks of {a} in {b} projects.",
    "How does {a} affect {b} when {c} is high?",
    "Give three examples of {a} used in {b}.",
    "Compare {a}, {b} and {c} as options for a small team.",
    "Why would a {a} engineer care about {b}?",
];

const TARGETS: [(&str, ProviderKind, &str); 4] = [
    ("gpt", ProviderKind::OpenAi, "gpt-5.4"),
    ("claude", ProviderKind::Anthropic, "claude-sonnet-4-5"),
    ("gemini", ProviderKind::Gemini, "gemini-2.5-flash"),
    ("llama", ProviderKind::Ollama, "llama3.3"),
];

/// Writes `runs` runs into `store` (best on a new, empty database); `seed` fixes the text.
pub fn fill(store: &Store, runs: usize, seed: u64) -> Result<SyntheticHistory> {
    let mut words = Words::new(seed);
    let targets: Vec<Target> = TARGETS
        .iter()
        .map(|(name, provider, model)| Target::new(*name, *provider, *model))
        .collect();
    let now = now_unix_ms();
    let first_start = now - TWO_YEARS_MS;
    let step = (TWO_YEARS_MS / i64::try_from(runs.max(1)).unwrap_or(i64::MAX)).max(1);
    let rare_index = runs / 2;
    let mut history = SyntheticHistory {
        runs: 0,
        responses: 0,
        events: 0,
        common_word: COMMON_WORD,
        rare_word: String::new(),
        rare_run: RunId::new(),
        missing_word: MISSING_WORD,
    };
    let mut connection = store.connection();
    // A scratch database being filled: losing it to a power cut costs nothing.
    connection.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;")?;
    for batch_start in (0..runs).step_by(BATCH) {
        let transaction = connection.transaction()?;
        for index in batch_start..(batch_start + BATCH).min(runs) {
            let started_at_ms = first_start + i64::try_from(index).unwrap_or(i64::MAX) * step;
            let ticket = ticket(index);
            let run = words.run(started_at_ms, &ticket, &targets);
            if index == rare_index {
                history.rare_word = ticket;
                history.rare_run = run.id;
            }
            writer::insert_run(&transaction, &run)?;
            for (prompt_index, _) in run.prompts.iter().enumerate() {
                for (target_index, target) in targets.iter().enumerate() {
                    let key = ResponseKey {
                        prompt_index: u32::try_from(prompt_index).unwrap_or(u32::MAX),
                        target_index: u32::try_from(target_index).unwrap_or(u32::MAX),
                        repeat_index: 0,
                    };
                    // Half of the runs have a word of their own in their first answer.
                    let own_word =
                        (prompt_index == 0 && target_index == 0 && index % 2 == 0).then(|| words.own_word(index));
                    let (response, events) = words.response(&run, key, target, own_word.as_deref());
                    writer::upsert_response(&transaction, &response)?;
                    let response_id = transaction.last_insert_rowid();
                    for (sequence, (elapsed_us, event)) in (0_u64..).zip(&events) {
                        writer::insert_event(&transaction, response_id, sequence, 1, *elapsed_us, event)?;
                    }
                    history.responses += 1;
                    history.events += events.len();
                }
            }
            transaction
                .prepare_cached("UPDATE runs SET finished_at_ms = ?1, status = ?2 WHERE id = ?3")?
                .execute(rusqlite::params![
                    started_at_ms + 9_000,
                    super::RunStatus::Completed,
                    run.id.to_string()
                ])?;
            history.runs += 1;
        }
        transaction.commit()?;
    }
    connection.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA cache_size = -2000;")?;
    drop(connection);
    store.checkpoint();
    Ok(history)
}

/// What [`fill`] wrote into `store` earlier when asked for `runs` runs (to measure a kept
/// database again without building it again).
pub fn describe(store: &Store, runs: usize) -> Result<SyntheticHistory> {
    let rare_word = ticket(runs / 2);
    let rare_run = store
        .search(&rare_word, 1)?
        .first()
        .map(|hit| hit.run_id)
        .ok_or_else(|| {
            Error::Storage(format!(
                "{} holds no synthetic history of {runs} runs",
                store.path().display()
            ))
        })?;
    let connection = store.connection();
    let count = |table: &str| -> Result<usize> {
        let count: i64 = connection.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get(0))?;
        Ok(usize::try_from(count).unwrap_or(0))
    };
    Ok(SyntheticHistory {
        runs: count("runs")?,
        responses: count("responses")?,
        events: count("response_events")?,
        common_word: COMMON_WORD,
        rare_word,
        rare_run,
        missing_word: MISSING_WORD,
    })
}

/// The ticket number in the prompts of the run written `index`-th: a word of that run only.
fn ticket(index: usize) -> String {
    format!("T{index:07}")
}

/// Seeded text: a splitmix64 generator and Zipf-weighted word lists.
struct Words {
    state: u64,
    common: Zipf,
    technical: Zipf,
    generated: Vec<String>,
    generated_weights: Zipf,
}

impl Words {
    fn new(seed: u64) -> Self {
        let generated: Vec<String> = (0..6_000)
            .map(|number: usize| {
                // Base 17 with at least three digits: every number a different word.
                let mut rest = number + SYLLABLES.len() * SYLLABLES.len();
                let mut word = String::new();
                while rest > 0 {
                    word.insert_str(0, SYLLABLES[rest % SYLLABLES.len()]);
                    rest /= SYLLABLES.len();
                }
                word
            })
            .collect();
        Self {
            state: seed,
            common: Zipf::new(COMMON.len()),
            technical: Zipf::new(TECHNICAL.len()),
            generated_weights: Zipf::new(generated.len()),
            generated,
        }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// A number in `0..bound`.
    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(bound.max(1)).unwrap_or(1)).unwrap_or(0)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1_u64 << 53) as f64
    }

    fn word(&mut self) -> &str {
        let roll = self.unit();
        if roll < 0.55 {
            let unit = self.unit();
            let index = self.common.pick(unit);
            COMMON[index]
        } else if roll < 0.75 {
            let unit = self.unit();
            let index = self.technical.pick(unit);
            TECHNICAL[index]
        } else {
            let unit = self.unit();
            let index = self.generated_weights.pick(unit);
            &self.generated[index]
        }
    }

    /// A topic word for a prompt: technical or generated.
    fn topic(&mut self) -> String {
        if self.unit() < 0.4 {
            TECHNICAL[self.below(TECHNICAL.len())].to_owned()
        } else {
            let index = self.below(3_000);
            self.generated[index].clone()
        }
    }

    /// A word no other run has.
    fn own_word(&mut self, index: usize) -> String {
        let mut word = "q".to_owned();
        for _ in 0..3 {
            word.push_str(SYLLABLES[self.below(SYLLABLES.len())]);
        }
        word.push_str(&format!("{index:x}"));
        word
    }

    /// `count` words as sentences.
    fn sentences(&mut self, count: usize) -> String {
        let mut text = String::with_capacity(count * 7);
        let mut sentence_length = 0;
        for position in 0..count {
            let word = self.word().to_owned();
            if sentence_length == 0 {
                let mut letters = word.chars();
                if let Some(first) = letters.next() {
                    text.extend(first.to_uppercase());
                    text.push_str(letters.as_str());
                }
            } else {
                text.push_str(&word);
            }
            sentence_length += 1;
            if position + 1 == count || (sentence_length > 6 && self.unit() < 0.12) {
                text.push_str(". ");
                sentence_length = 0;
            } else {
                text.push(' ');
            }
        }
        text.truncate(text.trim_end().len());
        text
    }

    fn run(&mut self, started_at_ms: i64, ticket: &str, targets: &[Target]) -> RunRecord {
        let timestamp = Timestamp::from_unix(
            NoContext,
            u64::try_from(started_at_ms.div_euclid(1_000)).unwrap_or(0),
            u32::try_from(started_at_ms.rem_euclid(1_000)).unwrap_or(0) * 1_000_000,
        );
        // Most runs are one prompt; one in fifty is a batch of 3 to 20.
        let prompt_count = if self.below(50) == 0 { 3 + self.below(18) } else { 1 };
        let prompts = (0..prompt_count)
            .map(|_| {
                let template = PROMPTS[self.below(PROMPTS.len())];
                let text = template
                    .replace("{a}", &self.topic())
                    .replace("{b}", &self.topic())
                    .replace("{c}", &self.topic());
                let system = (self.below(10) == 0)
                    .then(|| format!("You are a concise assistant for {} questions.", self.topic()));
                Prompt::user(format!("{text} ticket {ticket}")).with_system(system)
            })
            .collect();
        RunRecord {
            id: RunId(Uuid::new_v7(timestamp)),
            started_at_ms,
            parameters: Parameters {
                temperature: Some(0.2),
                max_output_tokens: Some(512),
                ..Parameters::default()
            },
            prompts,
            targets: targets.to_vec(),
            repeat: 1,
        }
    }

    /// A complete answer of 40 to 160 words and the events it streamed as.
    fn response(
        &mut self,
        run: &RunRecord,
        key: ResponseKey,
        target: &Target,
        own_word: Option<&str>,
    ) -> (ResponseRecord, Vec<(u64, StreamEvent)>) {
        let word_count = 40 + self.below(121);
        let mut text = self.sentences(word_count);
        if let Some(own_word) = own_word {
            text.push_str(&format!(" See {own_word}."));
        }
        let input_tokens = 20 + self.below(40) as u64;
        let output_tokens = (word_count as u64 * 4).div_ceil(3);
        let time_to_first_token_ms = 200.0 + self.below(600) as f64;
        let total_ms = time_to_first_token_ms + output_tokens as f64 * 12.0;
        let started_at_ms = run.started_at_ms + 5;
        let raw = json!({"prompt_tokens": input_tokens, "completion_tokens": output_tokens,
                         "total_tokens": input_tokens + output_tokens});
        let usage = Usage {
            input_tokens: Some(input_tokens),
            output_tokens: Some(output_tokens),
            total_tokens: Some(input_tokens + output_tokens),
            raw,
            ..Usage::default()
        };
        let request_id = format!("req_{}_{}_{}", run.id.0.simple(), key.prompt_index, key.target_index);
        let mut events = vec![(
            100_000,
            StreamEvent::Started(ResponseMeta {
                request_id: Some(request_id.clone()),
                reported_model: Some(target.model.clone()),
                region: None,
                ..ResponseMeta::default()
            }),
        )];
        let pieces: Vec<String> = text.split_inclusive(". ").map(str::to_owned).collect();
        let first_token_us = (time_to_first_token_ms * 1_000.0) as u64;
        let piece_us = ((total_ms - time_to_first_token_ms) * 1_000.0) as u64 / pieces.len().max(1) as u64;
        for (position, piece) in (0_u64..).zip(&pieces) {
            events.push((
                first_token_us + position * piece_us,
                StreamEvent::TextDelta { text: piece.clone() },
            ));
        }
        let end_us = (total_ms * 1_000.0) as u64;
        events.push((end_us, StreamEvent::Usage(usage.clone())));
        events.push((
            end_us,
            StreamEvent::Finished {
                reason: FinishReason::Stop,
                raw_reason: Some("stop".to_owned()),
            },
        ));
        let record = ResponseRecord {
            run_id: run.id,
            key,
            target: target.name.clone(),
            provider: target.provider.as_str().to_owned(),
            model: target.model.clone(),
            request_id: Some(request_id),
            reported_model: Some(target.model.clone()),
            base_model: crate::model::identity::base_model(target, None),
            region: None,
            system_fingerprint: None,
            service_tier: None,
            text,
            reasoning: String::new(),
            tool_calls: Vec::new(),
            finish_reason: Some(FinishReason::Stop),
            raw_finish_reason: Some("stop".to_owned()),
            billed_input_tokens: None,
            billed_output_tokens: None,
            refusal: false,
            usage,
            metrics: Metrics {
                time_to_first_token_ms: Some(time_to_first_token_ms),
                total_ms,
                output_tokens_per_second: Some(output_tokens as f64 / ((total_ms - time_to_first_token_ms) / 1_000.0)),
                content_chunks: pieces.len() as u64,
                ..Metrics::default()
            },
            cost_usd: Some((input_tokens * 3 + output_tokens * 15) as f64 / 1_000_000.0),
            cost_source: Some("catalog".to_owned()),
            complete: true,
            error: None,
            attempts: 1,
            unsupported_parameters: Vec::new(),
            started_at_ms,
            finished_at_ms: started_at_ms + total_ms as i64,
        };
        (record, events)
    }
}

/// Picks indexes `0..n` with weight 1/(index + 1).
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Self {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|index| {
                total += 1.0 / (index as f64 + 1.0);
                total
            })
            .collect::<Vec<_>>();
        Self {
            cumulative: cumulative.iter().map(|value| value / total).collect(),
        }
    }

    /// The index for `unit` in `0..1`.
    fn pick(&self, unit: f64) -> usize {
        self.cumulative
            .partition_point(|bound| *bound < unit)
            .min(self.cumulative.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{TestResult, open_store};

    #[test]
    fn the_history_reads_back_like_real_runs() -> TestResult {
        let (_directory, store) = open_store()?;
        let history = fill(&store, 60, 7)?;
        assert_eq!(history.runs, 60);
        let runs = store.list_runs(100)?;
        assert_eq!(runs.len(), 60);
        assert!(
            runs.windows(2)
                .all(|pair| pair[0].started_at_ms > pair[1].started_at_ms)
        );
        assert!(runs.iter().all(|run| run.complete_count == run.response_count));
        assert_eq!(
            history.responses,
            runs.iter().map(|run| run.response_count as usize).sum::<usize>()
        );

        let hits = store.search(&history.rare_word, 10)?;
        assert_eq!(
            (hits.len(), hits[0].run_id, hits[0].kind.as_str()),
            (1, history.rare_run, "prompt")
        );
        assert_eq!(store.search_runs(history.common_word, 200)?.len(), 60);
        assert!(store.search(history.missing_word, 10)?.is_empty());

        // The stored events add up to the stored answer, as a real stream's do.
        let run = store.load_run(history.rare_run)?.ok_or("the run is missing")?;
        for response in &run.responses {
            let text: String = store
                .load_events(run.record.id, response.key)?
                .into_iter()
                .filter_map(|stored| match stored.event {
                    StreamEvent::TextDelta { text } => Some(text),
                    _ => None,
                })
                .collect();
            assert_eq!(text, response.text);
            assert!(response.text.split_whitespace().count() >= 40);
        }
        Ok(())
    }
}
