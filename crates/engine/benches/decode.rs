//! The CPU each protocol's decoder spends per streamed event: the bytes of a real recording, fed
//! to the decoder the runner uses ([`Protocol::decoder`]) in network-sized pieces, until the
//! decoder ends the response. The timing of runs under load needs this small (a few µs per event,
//! storage included), so it is measured on its own here.
//!
//! `cargo bench -p modelbench-engine --bench decode`. Plain `std::time` measurement (no harness),
//! like the other benches: each case decodes its recording REPEATS times per iteration, after a
//! warm-up, ITERATIONS times; it prints the median wall and thread-CPU time per event (an event is
//! one [`StreamEvent`] the decoder emits, the unit the runner stamps and stores) and writes them
//! to target/bench/decode.json.
//!
//! The recordings are the shared ones (`../shared/fixtures/streams`, as the engine's Bedrock tests
//! read them): the longest of each protocol that ends cleanly, so the figure is that of a normal
//! answer. Left out: the runner's own work per event (stamping, accumulating, storing).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use modelbench_engine::event::{ResponseMeta, StreamEvent};
use modelbench_engine::providers::Protocol;
use modelbench_engine::target::ProviderKind;

const ITERATIONS: usize = 15;
const REPEATS: usize = 200;
/// How many bytes each `feed` gets: a typical read from a TLS stream.
const PIECE_BYTES: usize = 1024;

/// One protocol, and the recording it decodes.
struct Case {
    name: &'static str,
    protocol: Protocol,
    provider: ProviderKind,
    model: &'static str,
    recording: &'static str,
}

const CASES: [Case; 8] = [
    Case {
        name: "openai chat (azure, 44 chunks)",
        protocol: Protocol::OpenAiChat,
        provider: ProviderKind::Azure,
        model: "gpt-4o",
        recording: "azure_chat_content_filter_2026_emoji.sse",
    },
    Case {
        name: "openai responses (86 events)",
        protocol: Protocol::OpenAiResponses,
        provider: ProviderKind::OpenAi,
        model: "gpt-4.1-nano",
        recording: "openai_responses_text_seq.sse",
    },
    Case {
        name: "anthropic messages (thinking)",
        protocol: Protocol::AnthropicMessages,
        provider: ProviderKind::Anthropic,
        model: "claude",
        recording: "anthropic_messages_thinking.sse",
    },
    Case {
        name: "anthropic messages (web search, 256 KB)",
        protocol: Protocol::AnthropicMessages,
        provider: ProviderKind::Anthropic,
        model: "claude",
        recording: "peers/ant_pause_turn_web_search.sse",
    },
    Case {
        name: "gemini (vertex, streamed arguments)",
        protocol: Protocol::GeminiGenerate,
        provider: ProviderKind::Vertex,
        model: "gemini",
        recording: "peers/vtx_gem_partial_args.sse",
    },
    Case {
        name: "ollama chat (ndjson)",
        protocol: Protocol::OllamaChat,
        provider: ProviderKind::Ollama,
        model: "llama3",
        recording: "ollama_api_chat.ndjson",
    },
    Case {
        name: "bedrock converse (llama)",
        protocol: Protocol::BedrockConverse,
        provider: ProviderKind::Bedrock,
        model: "meta.llama3",
        recording: "bedrock_converse_stream_llama.bin",
    },
    Case {
        name: "bedrock invoke (claude 3)",
        protocol: Protocol::BedrockInvoke,
        provider: ProviderKind::Bedrock,
        model: "anthropic.claude-3-haiku",
        recording: "bedrock_invoke_stream_claude3.bin",
    },
];

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/streams")
}

/// Decodes `body` once, as the runner would; the number of events emitted.
fn decode(case: &Case, body: &[u8], events: &mut Vec<StreamEvent>) -> usize {
    let mut decoder = case
        .protocol
        .decoder(case.provider, case.model, ResponseMeta::default());
    let mut emitted = 0;
    for piece in body.chunks(PIECE_BYTES) {
        decoder.feed(piece, events);
        emitted += events.len();
        std::hint::black_box(&events);
        events.clear();
        if decoder.is_done() {
            break;
        }
    }
    if !decoder.is_done() {
        decoder.finish(events);
    }
    emitted += events.len();
    std::hint::black_box(&events);
    events.clear();
    emitted
}

/// The calling thread's time on a CPU (Linux's schedstat, in ns), or `None` elsewhere: the
/// machines are shared, so wall time measures the neighbours too.
fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanoseconds: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanoseconds))
}

struct Measured {
    name: &'static str,
    recording: &'static str,
    events: usize,
    bytes: usize,
    wall_us_per_event: f64,
    cpu_us_per_event: f64,
}

fn measure(case: &Case) -> Measured {
    let path = fixtures_dir().join(case.recording);
    let body = std::fs::read(&path).unwrap_or_else(|error| {
        panic!(
            "{}: {error} (the shared recordings sit beside the workspace)",
            path.display()
        )
    });
    let mut events = Vec::new();
    let per_decode = decode(case, &body, &mut events);
    assert!(per_decode > 0, "{}: no events", case.recording);
    let mut walls = Vec::with_capacity(ITERATIONS);
    let mut cpus = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let (start, cpu_start) = (Instant::now(), thread_cpu_time());
        let mut emitted = 0;
        for _ in 0..REPEATS {
            emitted += decode(case, &body, &mut events);
        }
        walls.push(start.elapsed());
        if let (Some(before), Some(after)) = (cpu_start, thread_cpu_time()) {
            cpus.push(after.saturating_sub(before));
        }
        assert_eq!(
            emitted,
            per_decode * REPEATS,
            "{}: the same events every time",
            case.recording
        );
    }
    walls.sort();
    cpus.sort();
    let per_event = |total: Duration| total.as_secs_f64() * 1e6 / (per_decode * REPEATS) as f64;
    let measured = Measured {
        name: case.name,
        recording: case.recording,
        events: per_decode,
        bytes: body.len(),
        wall_us_per_event: per_event(walls[ITERATIONS / 2]),
        cpu_us_per_event: cpus.get(cpus.len() / 2).copied().map_or(f64::NAN, per_event),
    };
    println!(
        "{:<42} {:>5} events {:>7} B   wall {:6.2} µs/event   cpu {:6.2} µs/event",
        measured.name, measured.events, measured.bytes, measured.wall_us_per_event, measured.cpu_us_per_event
    );
    measured
}

fn main() {
    println!("{REPEATS} decodes per iteration, {ITERATIONS} iterations, {PIECE_BYTES}-byte pieces");
    let results: Vec<Measured> = CASES.iter().map(measure).collect();
    let document = serde_json::json!({
        "iterations": ITERATIONS,
        "repeats": REPEATS,
        "piece_bytes": PIECE_BYTES,
        "cases": results.iter().map(|result| serde_json::json!({
            "name": result.name,
            "recording": result.recording,
            "events": result.events,
            "bytes": result.bytes,
            "wall_us_per_event": result.wall_us_per_event,
            "cpu_us_per_event": result.cpu_us_per_event,
        })).collect::<Vec<_>>(),
    });
    let directory = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("bench");
    let path = directory.join("decode.json");
    let written = std::fs::create_dir_all(&directory).and_then(|()| std::fs::write(&path, format!("{document:#}\n")));
    match written {
        Ok(()) => println!("wrote {}", path.display()),
        Err(error) => eprintln!("cannot write {}: {error}", path.display()),
    }
}
