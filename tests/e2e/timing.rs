//! Timings under a starved client: when ModelBench itself is late, it says so.
//!
//! The runner streams from fakecloud (on its own runtime, so the server stays punctual) on a
//! one-thread runtime that a hog task blocks again and again. Every response whose time to first
//! token or total time ended up more than the lag threshold past fakecloud's own send times must
//! be marked `client_saturated`; a stall that long must be seen at all.

use std::sync::Arc;
use std::time::Duration;

use fakecloud::{Config, FakeCloud};
use modelbench_engine::runner::{RunOptions, RunPlan, Runner};
use modelbench_engine::{Parameters, Prompt, ProviderKind, Target};
use tokio_util::sync::CancellationToken;

use crate::recordings::credentials;

/// Starts fakecloud on a runtime of its own, in its own thread, and returns its base URL and a
/// handle that reads its request log.
fn punctual_fakecloud() -> (
    String,
    std::sync::mpsc::Sender<()>,
    Arc<std::sync::Mutex<Option<FakeCloud>>>,
) {
    let (ready_sender, ready) = std::sync::mpsc::channel();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let slot = Arc::new(std::sync::Mutex::new(None));
    let shared = Arc::clone(&slot);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("fakecloud's runtime");
        runtime.block_on(async {
            let config = Config {
                default_scenario: fakecloud::parse_spec("ttft_ms=40;tokens=30;gap_ms=4").expect("spec"),
                ..Config::default()
            };
            let cloud = FakeCloud::start(config).await.expect("fakecloud");
            ready_sender.send(cloud.base_url()).expect("the test waits");
            *shared.lock().expect("the slot") = Some(cloud);
            // Serve until the test says stop (or goes away).
            let _ = tokio::task::spawn_blocking(move || stopped.recv()).await;
        });
    });
    let base = ready.recv().expect("fakecloud started");
    (base, stop, slot)
}

#[test]
fn every_timing_the_starved_client_got_wrong_is_marked_client_saturated() {
    let (base, stop, cloud) = punctual_fakecloud();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the client's runtime");
    let outcome = runtime.block_on(async {
        // Blocks the client's only thread for 12 ms at a time, over and over.
        let hog = tokio::spawn(async {
            loop {
                #[expect(clippy::disallowed_methods, reason = "the starvation under test")]
                std::thread::sleep(Duration::from_millis(12));
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        });
        let targets: Vec<Target> = (0..6)
            .map(|index| {
                let mut target = Target::new(format!("t{index}"), ProviderKind::OpenAi, "gpt-timing");
                target.base_url = Some(format!("{base}/v1"));
                target
            })
            .collect();
        let plan = RunPlan {
            targets,
            prompts: (0..4).map(|index| Prompt::user(format!("prompt {index}"))).collect(),
            parameters: Parameters::default(),
            options: RunOptions {
                concurrency: 24,
                ..RunOptions::default()
            },
        };
        let outcome = Runner::new(credentials())
            .start(plan, CancellationToken::new())
            .expect("start")
            .outcome()
            .await
            .expect("outcome");
        hog.abort();
        outcome
    });
    let records = cloud.lock().expect("the slot").as_ref().expect("fakecloud").requests();
    let _ = stop.send(());
    let threshold_ms = RunOptions::default().lag_threshold.as_secs_f64() * 1000.0;
    assert_eq!(outcome.responses.len(), 24);
    let mut marked = 0;
    for response in &outcome.responses {
        assert!(response.complete, "{}: {:?}", response.target, response.error);
        let record = records
            .iter()
            .find(|record| Some(&record.request_id) == response.request_id.as_ref())
            .expect("fakecloud logged the request");
        let server_ttft = record.server_time_to_first_token_us.expect("a first token") as f64 / 1000.0;
        let server_total = record.server_body_sent_us.expect("a whole body") as f64 / 1000.0;
        let ttft_error = response.metrics.time_to_first_token_ms.expect("a first token") - server_ttft;
        let total_error = response.metrics.total_ms - server_total;
        let metrics = &response.metrics;
        if metrics.client_saturated {
            marked += 1;
            let worst = metrics
                .client_lag_first_token_ms
                .unwrap_or(0.0)
                .max(metrics.client_lag_end_ms.unwrap_or(0.0));
            assert!(
                worst > threshold_ms,
                "{}: marked with a lag of {worst} ms",
                response.target
            );
        } else {
            assert!(
                ttft_error <= threshold_ms && total_error <= threshold_ms,
                "{} {:?}: TTFT {ttft_error:.2} ms and total {total_error:.2} ms past fakecloud's, yet not marked \
                 (client lag {:?} / {:?} ms)",
                response.target,
                response.key,
                metrics.client_lag_first_token_ms,
                metrics.client_lag_end_ms,
            );
        }
    }
    assert!(marked > 0, "a client blocked 12 ms in every 15 marked nothing");
    assert!(
        outcome.worst_client_lag_ms > threshold_ms,
        "worst lag {}",
        outcome.worst_client_lag_ms
    );
}
