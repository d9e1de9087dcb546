//! Scenario selection, failures that clear after N requests, timing, text,
//! splits, truncation and concurrency.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fakecloud::{Config, FakeCloud, Scenario, parse_spec};
use futures_util::StreamExt;

use crate::support::*;

#[tokio::test]
async fn fail_429_once_then_success_with_retry_headers() {
    let cloud = start().await;
    let body = chat_body("gpt-4o~fail=429x1;retry_after_ms=50");
    let first = post(&cloud, "/v1/chat/completions", OPENAI, &body).await;
    assert_eq!(first.status, 429);
    assert_eq!(first.header("retry-after"), "1");
    assert_eq!(first.header("retry-after-ms"), "50");
    assert_eq!(first.header("x-ratelimit-remaining-requests"), "0");
    let error = &first.json()["error"];
    assert_eq!(error["code"], "rate_limit_exceeded");
    assert_eq!(error["type"], "requests");

    let second = post(&cloud, "/v1/chat/completions", OPENAI, &body).await;
    assert_eq!(second.status, 200);
    assert_eq!(chat_text(&sse_events(second.text())), expected_text(""));
}

#[tokio::test]
async fn failure_counters_are_per_scenario_key() {
    let cloud = start().await;
    let statuses = |cloud: &FakeCloud, header: &'static str| {
        let cloud_url = cloud.base_url();
        async move {
            let mut statuses = Vec::new();
            for _ in 0..3 {
                let response = client()
                    .post(format!("{cloud_url}/v1/chat/completions"))
                    .header("authorization", "Bearer fake-key")
                    .header(fakecloud::SCENARIO_HEADER, header)
                    .json(&chat_body("gpt-4o"))
                    .send()
                    .await
                    .expect("answered");
                statuses.push(response.status().as_u16());
                response.bytes().await.expect("body");
            }
            statuses
        }
    };
    assert_eq!(statuses(&cloud, "fail=503x2").await, [503, 503, 200]);
    // A different header spec is a different key with its own count.
    assert_eq!(statuses(&cloud, "fail=503x2;tokens=2").await, [503, 503, 200]);
    // The model spec counts separately from the header spec.
    let other = post(&cloud, "/v1/chat/completions", OPENAI, &chat_body("gpt-4o~fail=500x1")).await;
    assert_eq!(other.status, 500);
    let again = post(&cloud, "/v1/chat/completions", OPENAI, &chat_body("gpt-4o~fail=500x1")).await;
    assert_eq!(again.status, 200);
}

#[tokio::test]
async fn forced_401_regardless_of_key() {
    let cloud = start().await;
    let reply = post(
        &cloud,
        "/v1/messages",
        ANTHROPIC,
        &anthropic_body("claude~fail=401x1", 5),
    )
    .await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"]["type"], "authentication_error");
    let then = post(
        &cloud,
        "/v1/messages",
        ANTHROPIC,
        &anthropic_body("claude~fail=401x1", 5),
    )
    .await;
    assert_eq!(then.status, 200);
}

#[tokio::test]
async fn selection_precedence_header_model_registered_default() {
    let cloud = start_with(Config {
        scenarios: HashMap::from([("registered".to_owned(), parse_spec("tokens=2").expect("spec"))]),
        default_scenario: parse_spec("tokens=3").expect("spec"),
        ..Config::default()
    })
    .await;
    let count = |reply: &Reply| sse_events(reply.text()).len();
    // role + tokens + finish + usage + [DONE]
    let default = post(&cloud, "/v1/chat/completions", OPENAI, &chat_body("anything")).await;
    assert_eq!(count(&default), 3 + 4);
    let registered = post(&cloud, "/v1/chat/completions", OPENAI, &chat_body("registered")).await;
    assert_eq!(count(&registered), 2 + 4);
    let model_spec = post(
        &cloud,
        "/v1/chat/completions",
        OPENAI,
        &chat_body("registered~tokens=4"),
    )
    .await;
    assert_eq!(count(&model_spec), 4 + 4);
    let header = post(
        &cloud,
        "/v1/chat/completions",
        &[
            ("authorization", "Bearer fake-key"),
            ("x-fakecloud-scenario", "tokens=5"),
        ],
        &chat_body("registered~tokens=4"),
    )
    .await;
    assert_eq!(count(&header), 5 + 4);
    // The reported model drops the spec.
    assert_eq!(sse_events(model_spec.text())[0].json()["model"], "registered");
}

#[tokio::test]
async fn unknown_spec_keys_are_400_naming_the_key() {
    let cloud = start().await;
    let header = post(
        &cloud,
        "/v1/chat/completions",
        &[
            ("authorization", "Bearer fake-key"),
            ("x-fakecloud-scenario", "tokens=2;wobble=1"),
        ],
        &chat_body("gpt-4o"),
    )
    .await;
    assert_eq!(header.status, 400);
    assert!(header.text().contains("wobble"));
    let model = post(&cloud, "/api/chat", NO_HEADERS, &ollama_body("llama3~wobble=1")).await;
    assert_eq!(model.status, 400);
    assert!(model.json()["error"].as_str().expect("error").contains("wobble"));
}

#[tokio::test]
async fn explicit_text_streams_exactly_even_split_into_single_bytes() {
    let text = "naïve 😄 ’quotes’\nand a second line ";
    let scenario = Scenario {
        text: Some(text.to_owned()),
        split: Some(1),
        ..Scenario::default()
    };
    let cloud = start_with(Config {
        scenarios: HashMap::from([("text-model".to_owned(), scenario)]),
        ..Config::default()
    })
    .await;
    let chat = post(&cloud, "/v1/chat/completions", OPENAI, &chat_body("text-model")).await;
    assert_eq!(chat_text(&sse_events(chat.text())), text);

    let ollama = post(&cloud, "/api/chat", NO_HEADERS, &ollama_body("text-model")).await;
    let streamed: String = ndjson_lines(ollama.text())
        .iter()
        .map(|line| line["message"]["content"].as_str().expect("content").to_owned())
        .collect();
    assert_eq!(streamed, text);
}

#[tokio::test]
async fn split_bodies_arrive_in_small_pieces() {
    let cloud = start().await;
    let response = client()
        .post(format!("{}/v1/messages", cloud.base_url()))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .header(fakecloud::SCENARIO_HEADER, "split=7;tokens=3;gap_ms=5")
        .json(&anthropic_body("claude", 50))
        .send()
        .await
        .expect("answered");
    let mut stream = response.bytes_stream();
    let mut body = Vec::new();
    let mut largest = 0;
    while let Some(piece) = stream.next().await {
        let piece = piece.expect("piece");
        largest = largest.max(piece.len());
        body.extend_from_slice(&piece);
    }
    let text = String::from_utf8(body).expect("UTF-8 overall");
    assert!(text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"    }\n\n"));
    // Pieces sent back to back may coalesce on the socket, but the token
    // frames 5 ms apart cannot all merge into one read.
    assert!(largest < text.len(), "body came in more than one piece");
}

#[tokio::test]
async fn time_to_first_token_gap_and_stall_are_honoured() {
    let cloud = start().await;
    let started = Instant::now();
    let response = chat_stream(&cloud, "gpt-4o~ttft_ms=150;tokens=4;gap_ms=20;stall=2:100").await;
    let headers_after = started.elapsed();
    assert!(
        headers_after < Duration::from_millis(120),
        "headers came at once: {headers_after:?}"
    );

    let mut stream = response.bytes_stream();
    let mut seen = String::new();
    let mut first_token_after = None;
    while let Some(piece) = stream.next().await {
        seen.push_str(std::str::from_utf8(&piece.expect("piece")).expect("UTF-8"));
        if first_token_after.is_none() && seen.contains("Lorem") {
            first_token_after = Some(started.elapsed());
        }
    }
    let total = started.elapsed();
    let first_token_after = first_token_after.expect("first token");
    assert!(first_token_after >= Duration::from_millis(150), "{first_token_after:?}");
    assert!(first_token_after < Duration::from_millis(400), "{first_token_after:?}");
    // 150 ttft + 3 gaps of 20 + a 100 stall.
    assert!(total >= Duration::from_millis(310), "{total:?}");

    let record = &cloud.requests()[0];
    let server_ttft = record.server_time_to_first_token_us.expect("ttft recorded");
    assert!((150_000..300_000).contains(&server_ttft), "{server_ttft}");
    assert!(record.completed);
}

#[tokio::test]
async fn truncate_ends_the_body_cleanly_without_a_terminal_event() {
    let cloud = start().await;
    let reply = post(&cloud, "/v1/chat/completions", OPENAI, &chat_body("gpt-4o~truncate=3")).await;
    assert_eq!(reply.status, 200);
    let events = sse_events(reply.text());
    assert_eq!(chat_text(&events), expected_text("tokens=3"));
    assert_eq!(chat_finish_reason(&events), None);
    assert!(!reply.text().contains("[DONE]"));
    assert!(!reply.text().contains("\"usage\":{"));

    let responses = post(&cloud, "/v1/responses", OPENAI, &responses_body("gpt-4o~truncate=2")).await;
    assert!(!responses.text().contains("response.completed"));
    assert!(responses.text().ends_with("\n\n"));
}

#[tokio::test]
async fn disconnect_cuts_the_connection() {
    let cloud = start().await;
    let response = chat_stream(&cloud, "gpt-4o~disconnect=2").await;
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let mut seen = Vec::new();
    let mut failed = false;
    while let Some(piece) = stream.next().await {
        match piece {
            Ok(piece) => seen.extend_from_slice(&piece),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the client sees a transport error");
    let seen = String::from_utf8(seen).expect("UTF-8");
    assert!(seen.contains(" ipsum"), "tokens before the cut arrive: {seen}");
    assert!(!seen.contains("[DONE]"));
}

#[tokio::test]
async fn fifty_concurrent_streams_keep_their_timing() {
    let cloud = start().await;
    let url = format!("{}/v1/chat/completions", cloud.base_url());
    let client = client();
    let started = Instant::now();
    let tasks: Vec<_> = (0..60)
        .map(|index| {
            let client = client.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let tokens = 5 + index % 5;
                let spec = format!("ttft_ms=100;tokens={tokens};gap_ms=20");
                let response = client
                    .post(&url)
                    .header("authorization", "Bearer fake-key")
                    .json(&chat_body(&format!("m{index}~{spec}")))
                    .send()
                    .await
                    .expect("answered");
                let body = response.text().await.expect("body");
                (chat_text(&sse_events(&body)), expected_text(&spec))
            })
        })
        .collect();
    for task in tasks {
        let (streamed, expected) = task.await.expect("task");
        assert_eq!(streamed, expected);
    }
    let elapsed = started.elapsed();
    // The longest is 100 + 8 × 20 = 260 ms; serially it would be seconds.
    assert!(elapsed >= Duration::from_millis(260), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    let records = cloud.requests();
    assert_eq!(records.len(), 60);
    for record in records {
        let ttft = record.server_time_to_first_token_us.expect("ttft");
        assert!((100_000..400_000).contains(&ttft), "{ttft}");
        assert!(record.completed);
    }
}

#[tokio::test]
async fn shutdown_cuts_streams_still_running() {
    let cloud = start().await;
    let response = chat_stream(&cloud, "gpt-4o~tokens=100;gap_ms=100").await;
    let reader = tokio::spawn(async move { response.bytes().await.is_err() });
    let started = Instant::now();
    cloud.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(reader.await.expect("reader"), "the cut stream is an error");
}
