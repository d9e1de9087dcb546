//! Scenarios that vary per request over real HTTP: drawn latencies, random errors, answer
//! variants and echoed prompts, what the request log records of each draw, and that a fresh
//! server given the same requests draws the same.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use fakecloud::{Config, FakeCloud, parse_spec};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::support::*;

/// Sends `count` chat requests for `model` one after another; their statuses and texts.
async fn chat_replies(cloud: &FakeCloud, model: &str, count: usize) -> Vec<(u16, String)> {
    let mut replies = Vec::new();
    for _ in 0..count {
        let reply = post(cloud, "/v1/chat/completions", OPENAI, &chat_body(model)).await;
        let text = if reply.status == 200 {
            chat_text(&sse_events(reply.text()))
        } else {
            String::new()
        };
        replies.push((reply.status, text));
    }
    replies
}

/// The scenario each logged request drew, parsed back.
fn drawn_scenarios(cloud: &FakeCloud) -> Vec<fakecloud::Scenario> {
    cloud
        .requests()
        .iter()
        .map(|record| parse_spec(record.scenario.as_deref().expect("a drawn scenario")).expect("the log's spec parses"))
        .collect()
}

#[tokio::test]
async fn each_request_gets_a_variant_and_the_log_says_which() {
    let cloud = start().await;
    let replies = chat_replies(&cloud, "gpt-4o~variants=alpha one|beta|gamma%7Cthree", 60).await;
    let drawn = drawn_scenarios(&cloud);
    assert_eq!(drawn.len(), 60, "every request is logged");
    for ((status, text), scenario) in replies.iter().zip(&drawn) {
        assert_eq!(*status, 200);
        assert_eq!(Some(text.as_str()), scenario.text.as_deref());
    }
    let seen: HashSet<&str> = replies.iter().map(|(_, text)| text.as_str()).collect();
    assert_eq!(seen, HashSet::from(["alpha one", "beta", "gamma|three"]));
}

#[tokio::test]
async fn random_errors_fail_the_requests_the_log_names() {
    let cloud = start().await;
    let replies = chat_replies(&cloud, "gpt-4o~error_rate=0.3;tokens=2", 100).await;
    let records = cloud.requests();
    assert_eq!(records.len(), 100);
    let mut failed = 0;
    for ((status, text), record) in replies.iter().zip(&records) {
        assert_eq!(*status, record.status);
        let scenario = record.scenario.as_deref().expect("a drawn scenario");
        if *status == 503 {
            failed += 1;
            assert_eq!(scenario, "tokens=2;fail=503");
        } else {
            assert_eq!((*status, scenario), (200, "tokens=2"));
            assert_eq!(text, "Lorem ipsum");
        }
    }
    // Binomial(100, 0.3): mean 30, standard deviation 4.6.
    assert!((12..=48).contains(&failed), "{failed} of 100 failed");

    let midstream = post(
        &cloud,
        "/v1/messages",
        ANTHROPIC,
        &anthropic_body("claude~error_rate=1;error=midstream:2", 50),
    )
    .await;
    assert_eq!(midstream.status, 200);
    let events = sse_events(midstream.text());
    assert_eq!(events.last().and_then(|event| event.name.as_deref()), Some("error"));
}

#[tokio::test]
async fn drawn_latencies_are_the_ones_served() {
    let cloud = start().await;
    chat_replies(&cloud, "gpt-4o~ttft_ms=uniform:40:120;tokens=1", 8).await;
    let records = cloud.requests();
    let mut distinct = HashSet::new();
    for (record, scenario) in records.iter().zip(drawn_scenarios(&cloud)) {
        let drawn = scenario.time_to_first_token;
        assert!((Duration::from_millis(40)..Duration::from_millis(120)).contains(&drawn));
        let served = Duration::from_micros(record.server_time_to_first_token_us.expect("a first token"));
        // Deadlines never fire early; a loaded machine may be late.
        assert!(
            served >= drawn && served < drawn + Duration::from_millis(60),
            "drew {drawn:?}, served {served:?}"
        );
        distinct.insert(drawn);
    }
    assert!(distinct.len() >= 7, "the draws differ: {distinct:?}");
}

#[tokio::test]
async fn a_fresh_server_given_the_same_requests_draws_the_same() {
    // Registered for a bare model name, so the scenario key stays `gpt-4o` whatever the seed
    // (a `~SPEC` or header spec is part of the key, and so of the draws).
    let spec = "ttft_ms=lognormal:2:0.5;gap_ms=uniform:0:1;error_rate=0.3;variants=a|b|c";
    let run = |seed: &'static str| async move {
        let scenario = parse_spec(&format!("{spec}{seed}")).expect("spec parses");
        let cloud = start_with(Config {
            scenarios: HashMap::from([("gpt-4o".to_owned(), scenario)]),
            ..Config::default()
        })
        .await;
        let replies = chat_replies(&cloud, "gpt-4o", 30).await;
        let logged: Vec<Option<String>> = cloud.requests().into_iter().map(|record| record.scenario).collect();
        (replies, logged)
    };
    let first = run("").await;
    assert_eq!(first, run("").await);
    assert_eq!(first, run(";seed=0").await, "the default seed is 0");
    assert_ne!(first, run(";seed=1").await);
    let statuses: HashSet<u16> = first.0.iter().map(|(status, _)| *status).collect();
    assert_eq!(statuses, HashSet::from([200, 503]));
}

#[tokio::test]
async fn draws_count_per_scenario_key() {
    let cloud = start().await;
    // Interleaving another key's requests does not move this key's draws.
    let alone = chat_replies(&start().await, "m~variants=a|b|c|d|e|f", 12).await;
    let mut interleaved = Vec::new();
    for _ in 0..12 {
        interleaved.extend(chat_replies(&cloud, "m~variants=a|b|c|d|e|f", 1).await);
        chat_replies(&cloud, "other~variants=a|b|c|d|e|f", 1).await;
    }
    assert_eq!(alone, interleaved);
}

#[tokio::test]
async fn echo_answers_the_last_user_message_on_every_wire_format() {
    let cloud = start().await;
    let echo: &[(&str, &str)] = &[("x-fakecloud-scenario", "answer=echo")];
    let with = |headers: &[(&'static str, &'static str)]| [headers, echo].concat();
    let expected = "Answer to: Say something short";

    let conversation = json!({
        "model": "gpt-4o", "stream": true,
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": [{"type": "text", "text": "second"}, {"type": "text", "text": "question"}]}
        ]
    });
    let chat = post(&cloud, "/v1/chat/completions", &with(OPENAI), &conversation).await;
    assert_eq!(chat_text(&sse_events(chat.text())), "Answer to: second\nquestion");

    let responses = post(&cloud, "/v1/responses", &with(OPENAI), &responses_body("gpt-4o")).await;
    let deltas: String = sse_events(responses.text())
        .iter()
        .filter(|event| event.name.as_deref() == Some("response.output_text.delta"))
        .map(|event| event.json()["delta"].as_str().expect("a delta").to_owned())
        .collect();
    assert_eq!(deltas, expected);

    let anthropic = post(&cloud, "/v1/messages", &with(ANTHROPIC), &anthropic_body("claude", 100)).await;
    let text: String = sse_events(anthropic.text())
        .iter()
        .filter(|event| event.name.as_deref() == Some("content_block_delta"))
        .map(|event| event.json()["delta"]["text"].as_str().expect("text").to_owned())
        .collect();
    assert_eq!(text, expected);

    let ollama = post(&cloud, "/api/chat", echo, &ollama_body("llama3")).await;
    let text: String = ndjson_lines(ollama.text())
        .iter()
        .filter_map(|line| line["message"]["content"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, expected);

    let gemini = post(
        &cloud,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        &with(GEMINI),
        &gemini_body("Say something short"),
    )
    .await;
    let text: String = google_events(gemini.text())
        .iter()
        .filter_map(|event| {
            event["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, expected);

    let converse = post_bedrock(
        &cloud,
        "/model/us.amazon.nova-micro-v1%3A0~answer%3Decho/converse-stream",
        &converse_body(),
    )
    .await;
    let text: String = aws_frames(&converse.body)
        .iter()
        .filter(|frame| frame.kind() == "contentBlockDelta")
        .map(|frame| frame.json()["delta"]["text"].as_str().expect("text").to_owned())
        .collect();
    assert_eq!(text, expected);
}

#[tokio::test]
async fn echo_with_variants_differs_per_prompt_and_per_repeat() {
    let cloud = start().await;
    let mut answers: HashMap<&str, HashSet<String>> = HashMap::new();
    for prompt in ["What is 2+2?", "Name a colour"] {
        for _ in 0..16 {
            let body = json!({
                "model": "gpt-4o~answer=echo;variants=(a)|(b)", "stream": true,
                "messages": [{"role": "user", "content": prompt}]
            });
            let reply = post(&cloud, "/v1/chat/completions", OPENAI, &body).await;
            answers
                .entry(prompt)
                .or_default()
                .insert(chat_text(&sse_events(reply.text())));
        }
    }
    assert_eq!(
        answers["What is 2+2?"],
        HashSet::from([
            "Answer to: What is 2+2? (a)".to_owned(),
            "Answer to: What is 2+2? (b)".to_owned()
        ])
    );
    assert_eq!(
        answers["Name a colour"],
        HashSet::from([
            "Answer to: Name a colour (a)".to_owned(),
            "Answer to: Name a colour (b)".to_owned()
        ])
    );
}

#[tokio::test]
async fn timeout_sends_the_preamble_then_nothing() {
    let cloud = start().await;
    let response = chat_stream(&cloud, "gpt-4o~fail=timeout").await;
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let preamble = body.next().await.expect("a first piece").expect("bytes");
    let role: Value = serde_json::from_str(
        std::str::from_utf8(&preamble)
            .expect("UTF-8")
            .trim()
            .strip_prefix("data: ")
            .expect("an SSE event"),
    )
    .expect("JSON");
    assert_eq!(role["choices"][0]["delta"]["role"], "assistant");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), body.next())
            .await
            .is_err(),
        "nothing follows the preamble"
    );
    drop(body);
    let record = &cloud.requests()[0];
    assert_eq!(record.scenario.as_deref(), Some("fail=timeout"));
    assert_eq!(record.server_time_to_first_token_us, None);
    assert!(!record.completed);
}

#[tokio::test]
async fn the_log_has_the_scenario_of_every_request_that_got_one() {
    let cloud = start().await;
    post(&cloud, "/v1/chat/completions", OPENAI, &chat_body("gpt-4o~tokens=2")).await;
    post(&cloud, "/v1/chat/completions", OPENAI, &chat_body("gpt-4o")).await;
    post(
        &cloud,
        "/v1/chat/completions",
        &[("authorization", "Bearer wrong")],
        &chat_body("gpt-4o~tokens=2"),
    )
    .await;
    post(&cloud, "/v1/chat/completions", OPENAI, &chat_body("gpt-4o~fail=429")).await;
    let scenarios: Vec<Option<String>> = cloud.requests().into_iter().map(|record| record.scenario).collect();
    assert_eq!(
        scenarios,
        [
            Some("tokens=2".to_owned()),
            Some(String::new()),
            None,
            Some("fail=429".to_owned())
        ]
    );
    let listed = listed_requests(&cloud).await;
    assert_eq!(listed[0]["scenario"], "tokens=2");
    assert_eq!(listed[2]["scenario"], Value::Null);
}
