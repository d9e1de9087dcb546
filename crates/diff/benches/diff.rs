//! The diff engine against its budget: every pair (28) of 8 answers of 10,000 words each in under
//! 100 ms, as the similarity matrix of a run.
//!
//! `cargo bench -p modelbench-diff --bench diff`. Plain `std::time` measurement (no harness):
//! each case runs a warm-up and then ITERATIONS times; it prints the median and the worst and
//! writes them to target/bench/diff.json.
//!
//! The answers are generated, deterministically, to look like a real run: one model on three
//! clouds (a few words apart), a second model on two clouds (the same content reworded), a third
//! model that says something else in part, and two unrelated answers, the case Myers' algorithm
//! alone handles worst (its cost grows with the number of differences).

use std::time::{Duration, Instant};

use modelbench_diff::{DiffMode, diff, similarity};

const WORDS: usize = 10_000;
const ITERATIONS: usize = 15;
const BUDGET_MS: f64 = 100.0;

/// xorshift64*: a fixed, dependency-free source of "randomness" so every run sees the same texts.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// A vocabulary whose words are drawn Zipf-like (a few very common words, a long tail), as in
/// prose. `flavour` shifts the spelling so two vocabularies overlap only in common words.
struct Vocabulary {
    words: Vec<String>,
}

impl Vocabulary {
    fn new(size: usize, flavour: u64) -> Self {
        const COMMON: [&str; 24] = [
            "the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "as", "with", "on", "be", "by", "this",
            "are", "or", "from", "at", "which", "can", "an", "not",
        ];
        let syllables = [
            "ka", "lo", "mi", "ren", "sta", "tor", "vi", "an", "el", "qu", "ish", "pre", "con", "dia", "ment", "ly",
        ];
        let mut random = Random(0x9e37_79b9_7f4a_7c15 ^ flavour);
        let mut words: Vec<String> = COMMON.iter().map(|word| (*word).to_owned()).collect();
        while words.len() < size {
            let length = 1 + random.below(4);
            let word: String = (0..length).map(|_| syllables[random.below(syllables.len())]).collect();
            words.push(word);
        }
        Self { words }
    }

    /// Rank r is drawn with probability ∝ 1/(r+1), by inverting the harmonic CDF approximately.
    fn word(&self, random: &mut Random) -> &str {
        let uniform = (random.next() >> 11) as f64 / (1u64 << 53) as f64;
        let rank = ((self.words.len() as f64 + 1.0).powf(uniform) - 1.0) as usize;
        &self.words[rank.min(self.words.len() - 1)]
    }
}

type Sentence = Vec<String>;

fn sentence(vocabulary: &Vocabulary, random: &mut Random) -> Sentence {
    let length = 8 + random.below(22);
    (0..length).map(|_| vocabulary.word(random).to_owned()).collect()
}

fn sentences(vocabulary: &Vocabulary, random: &mut Random, words: usize) -> Vec<Sentence> {
    let mut sentences = Vec::new();
    let mut total = 0;
    while total < words {
        let next = sentence(vocabulary, random);
        total += next.len();
        sentences.push(next);
    }
    sentences
}

/// Sentences as a Markdown answer: a heading every 40 sentences, paragraphs of 5, some bullets.
fn render(sentences: &[Sentence]) -> String {
    let mut text = String::new();
    for (index, words) in sentences.iter().enumerate() {
        if index % 40 == 0 {
            text.push_str(&format!("\n## Part {}\n\n", index / 40 + 1));
        } else if index % 5 == 0 {
            text.push_str("\n\n");
        }
        let bullet = index % 17 == 3;
        if bullet {
            text.push_str("\n- ");
        }
        for (position, word) in words.iter().enumerate() {
            if position == 0 {
                let mut characters = word.chars();
                text.extend(characters.next().map(|first| first.to_ascii_uppercase()));
                text.push_str(characters.as_str());
            } else {
                text.push(' ');
                text.push_str(word);
                if position % 9 == 0 && position + 1 < words.len() {
                    text.push(',');
                }
            }
        }
        text.push_str(if bullet { ".\n" } else { ". " });
    }
    text
}

/// `count` single-word substitutions, as the same model on another cloud might make.
fn substitute(sentences: &[Sentence], vocabulary: &Vocabulary, random: &mut Random, count: usize) -> Vec<Sentence> {
    let mut changed = sentences.to_vec();
    for _ in 0..count {
        let sentence = random.below(changed.len());
        let position = random.below(changed[sentence].len());
        changed[sentence][position] = vocabulary.word(random).to_owned();
    }
    changed
}

/// Another model on the same question: each sentence kept (`keep` %), reworded (a third of its
/// words replaced, `reword` %), or replaced by a new one; some sentences dropped.
fn paraphrase(
    sentences: &[Sentence],
    vocabulary: &Vocabulary,
    random: &mut Random,
    keep: usize,
    reword: usize,
) -> Vec<Sentence> {
    let mut result = Vec::new();
    for original in sentences {
        let roll = random.below(100);
        if roll < keep {
            result.push(original.clone());
        } else if roll < keep + reword {
            let mut reworded = original.clone();
            for word in &mut reworded {
                if random.chance(33) {
                    *word = vocabulary.word(random).to_owned();
                }
            }
            result.push(reworded);
        } else if random.chance(80) {
            result.push(sentence(vocabulary, random));
        }
    }
    result
}

fn answers() -> Vec<(&'static str, String)> {
    let vocabulary = Vocabulary::new(6_000, 1);
    let other_vocabulary = Vocabulary::new(6_000, 2);
    let mut random = Random(42);
    let model_x = sentences(&vocabulary, &mut random, WORDS);
    let model_y = paraphrase(&model_x, &vocabulary, &mut random, 30, 50);
    let model_z = paraphrase(&model_x, &vocabulary, &mut random, 10, 30);
    let unrelated = sentences(&vocabulary, &mut random, WORDS);
    let unrelated_other = sentences(&other_vocabulary, &mut random, WORDS);
    vec![
        ("x on cloud 1", render(&model_x)),
        (
            "x on cloud 2 (5 words changed)",
            render(&substitute(&model_x, &vocabulary, &mut random, 5)),
        ),
        (
            "x on cloud 3 (40 words changed)",
            render(&substitute(&model_x, &vocabulary, &mut random, 40)),
        ),
        ("y on cloud 1 (x reworded)", render(&model_y)),
        (
            "y on cloud 2 (8 words changed)",
            render(&substitute(&model_y, &vocabulary, &mut random, 8)),
        ),
        ("z (mostly different)", render(&model_z)),
        ("unrelated, same vocabulary", render(&unrelated)),
        ("unrelated, other vocabulary", render(&unrelated_other)),
    ]
}

struct Figures {
    name: String,
    median_ms: f64,
    worst_ms: f64,
}

fn measure(name: &str, mut work: impl FnMut()) -> Figures {
    work();
    let mut times: Vec<Duration> = (0..ITERATIONS)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed()
        })
        .collect();
    times.sort();
    let milliseconds = |duration: Duration| duration.as_secs_f64() * 1000.0;
    let figures = Figures {
        name: name.to_owned(),
        median_ms: milliseconds(times[times.len() / 2]),
        worst_ms: milliseconds(times[times.len() - 1]),
    };
    println!(
        "{:<58} median {:>8.2} ms   worst {:>8.2} ms",
        figures.name, figures.median_ms, figures.worst_ms
    );
    figures
}

fn main() {
    let answers = answers();
    let texts: Vec<&str> = answers.iter().map(|(_, text)| text.as_str()).collect();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "{} answers of ~{WORDS} words ({} pairs), {cores} cores, {ITERATIONS} iterations after a warm-up",
        texts.len(),
        texts.len() * (texts.len() - 1) / 2
    );
    let matrix = similarity(&texts, DiffMode::Words).expect("words mode cannot fail");
    for ((name, text), (row, mean)) in answers.iter().zip(matrix.ratios.iter().zip(&matrix.mean)) {
        let cells: Vec<String> = row.iter().map(|ratio| format!("{ratio:.2}")).collect();
        let words = text.split_whitespace().count();
        println!("  {name:<32} {words:>6} words  mean {mean:.2}  [{}]", cells.join(" "));
    }
    println!("  outlier {:?}, majority {:?}\n", matrix.outlier, matrix.majority);

    let mut results = vec![
        measure("similarity matrix, words (28 pairs)", || {
            std::hint::black_box(similarity(&texts, DiffMode::Words).expect("words"));
        }),
        measure("similarity matrix, normalized (28 pairs)", || {
            std::hint::black_box(similarity(&texts, DiffMode::Normalized).expect("normalized"));
        }),
        measure("similarity matrix, lines (28 pairs)", || {
            std::hint::black_box(similarity(&texts, DiffMode::Lines).expect("lines"));
        }),
        measure("diff with spans, words, all 28 pairs one by one", || {
            for row in 0..texts.len() {
                for column in row + 1..texts.len() {
                    std::hint::black_box(diff(texts[row], texts[column], DiffMode::Words).expect("words"));
                }
            }
        }),
    ];
    for (name, a, b) in [
        ("diff with spans, words, near-identical pair", 0, 1),
        ("diff with spans, words, unrelated pair", 0, 7),
        ("diff with spans, lines, reworded pair", 0, 3),
    ] {
        let mode = if name.contains("lines") {
            DiffMode::Lines
        } else {
            DiffMode::Words
        };
        results.push(measure(name, || {
            std::hint::black_box(diff(texts[a], texts[b], mode).expect("text modes"));
        }));
    }

    let budget = &results[0];
    let verdict = if budget.worst_ms < BUDGET_MS { "within" } else { "OVER" };
    println!(
        "\nbudget: all pairs of 8 × 10k words under {BUDGET_MS} ms: median {:.2} ms, worst {:.2} ms ({verdict})",
        budget.median_ms, budget.worst_ms
    );

    let document = serde_json::json!({
        "answers": texts.len(),
        "words_each": WORDS,
        "pairs": texts.len() * (texts.len() - 1) / 2,
        "cores": cores,
        "iterations": ITERATIONS,
        "budget_ms": BUDGET_MS,
        "within_budget": budget.worst_ms < BUDGET_MS,
        "cases": results.iter().map(|figures| serde_json::json!({
            "name": figures.name,
            "median_ms": figures.median_ms,
            "worst_ms": figures.worst_ms,
        })).collect::<Vec<_>>(),
    });
    let directory = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("bench");
    let path = directory.join("diff.json");
    let written = std::fs::create_dir_all(&directory).and_then(|()| std::fs::write(&path, format!("{document:#}\n")));
    match written {
        Ok(()) => println!("wrote {}", path.display()),
        Err(error) => eprintln!("cannot write {}: {error}", path.display()),
    }
}
