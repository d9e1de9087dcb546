//! The store writer under a thousand interleaved streams: what one stored event costs.
//!
//! `cargo bench -p modelbench-engine --bench writer [-- RESPONSES EVENTS]` opens a real SQLite
//! file, starts RESPONSES responses at once (1,000 by default) and sends EVENTS text deltas for
//! each (200 by default), interleaved one event per response at a time as concurrent streams
//! deliver them, paced like streams 5 ms apart (RESPONSES events per 5 ms), then finishes them
//! and waits for the commit. Prints the writer thread's CPU per event (from /proc), the wall
//! time and the database size. The runner's own cost per event is in `modelbench bench`.

use std::time::{Duration, Instant};

use modelbench_engine::event::{ResponseKey, StampedEvent, StreamEvent};
use modelbench_engine::record::{Metrics, ResponseRecord, RunId, RunRecord};
use modelbench_engine::store::Store;
use modelbench_engine::{Parameters, Prompt, ProviderKind, Target, Usage};

fn main() {
    let arguments: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|argument| argument.parse().ok())
        .collect();
    let responses = arguments.first().copied().unwrap_or(1000);
    let events = arguments.get(1).copied().unwrap_or(200);
    let directory = tempfile::tempdir().expect("a temporary folder");
    let store = Store::open(&directory.path().join("modelbench.db")).expect("a store");
    let writer = store.writer();
    let run = RunRecord {
        id: RunId::new(),
        started_at_ms: 1_790_000_000_000,
        parameters: Parameters::default(),
        prompts: (0..responses)
            .map(|index| Prompt::user(format!("prompt {index}")))
            .collect(),
        targets: vec![Target::new("bench", ProviderKind::OpenAi, "bench-model")],
        repeat: 1,
    };
    writer.run_started(&run);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(writer.flush()).expect("the run is stored");
    let keys: Vec<ResponseKey> = (0..responses)
        .map(|index| ResponseKey {
            prompt_index: index as u32,
            target_index: 0,
            repeat_index: 0,
        })
        .collect();
    for key in &keys {
        writer.response_started(run.id, *key, "bench", "openai", "bench-model", 1_790_000_000_000);
    }
    let cpu_before = writer_cpu_seconds();
    let started = Instant::now();
    let mut next_wave = Instant::now();
    for sequence in 0..events as u64 {
        // Like streams 5 ms apart: a wave of one event per response, then the rest of the 5 ms.
        next_wave += Duration::from_millis(5);
        for key in &keys {
            let event = StampedEvent {
                response_key: *key,
                target: "bench".to_owned(),
                attempt: 0,
                sequence,
                elapsed_us: 200_000 + sequence * 5_000,
                event: StreamEvent::TextDelta {
                    text: format!(" word{sequence}"),
                },
            };
            writer.event(run.id, &event);
        }
        if let Some(left) = next_wave.checked_duration_since(Instant::now()) {
            #[expect(
                clippy::disallowed_methods,
                reason = "a plain thread paces the waves; no runtime runs here"
            )]
            std::thread::sleep(left);
        }
    }
    for key in &keys {
        writer.response_finished(&ResponseRecord {
            run_id: run.id,
            key: *key,
            target: "bench".to_owned(),
            provider: "openai".to_owned(),
            model: "bench-model".to_owned(),
            request_id: None,
            reported_model: None,
            base_model: None,
            region: None,
            system_fingerprint: None,
            service_tier: None,
            text: "words ".repeat(events),
            reasoning: String::new(),
            tool_calls: Vec::new(),
            finish_reason: None,
            raw_finish_reason: None,
            usage: Usage::default(),
            billed_input_tokens: None,
            billed_output_tokens: None,
            refusal: false,
            metrics: Metrics::default(),
            cost_usd: None,
            cost_source: None,
            complete: true,
            error: None,
            attempts: 1,
            unsupported_parameters: Vec::new(),
            started_at_ms: 1_790_000_000_000,
            finished_at_ms: 1_790_000_001_000,
        });
    }
    runtime.block_on(writer.flush()).expect("everything is stored");
    let wall = started.elapsed();
    let cpu = writer_cpu_seconds() - cpu_before;
    let stored = responses * events;
    let size: u64 = std::fs::read_dir(directory.path())
        .expect("the folder")
        .filter_map(|entry| entry.ok()?.metadata().ok())
        .map(|metadata| metadata.len())
        .sum();
    println!(
        "{responses} responses × {events} events = {stored} events: writer CPU {cpu:.2} s ({:.2} µs per event), wall {:.2} s (paced ideal {:.2} s), files {:.1} MB",
        cpu * 1e6 / stored as f64,
        wall.as_secs_f64(),
        events as f64 * 0.005,
        size as f64 / 1e6
    );
}

/// CPU seconds of the store's writer thread, from /proc (Linux clock ticks of 1/100 s).
fn writer_cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !name.starts_with("modelbench-stor") {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<f64> = rest.split_whitespace().filter_map(|field| field.parse().ok()).collect();
        // After the state letter (not a number): utime and stime are the 11th and 12th numbers.
        return (fields.get(10).copied().unwrap_or(0.0) + fields.get(11).copied().unwrap_or(0.0)) / 100.0;
    }
    f64::NAN
}
