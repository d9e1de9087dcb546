use super::*;
use crate::suite::node::Location;

fn check(yaml: &str) -> Check {
    let node = Node::parse_yaml(yaml, None).expect("yaml");
    compile(&node, false).expect("compiles")
}

fn compile_error(yaml: &str) -> Diagnostic {
    let node = Node::parse_yaml(yaml, None).expect("yaml");
    compile(&node, false).expect_err("fails to compile")
}

fn passes(yaml: &str, text: &str) -> Option<bool> {
    check(yaml).evaluate(&CheckSubject::text(text)).passed
}

fn on(yaml: &str, subject: &CheckSubject<'_>) -> CheckOutcome {
    check(yaml).evaluate(subject)
}

#[test]
fn contains_and_icontains() {
    assert_eq!(passes("{type: contains, value: Paris}", "It is Paris."), Some(true));
    assert_eq!(passes("{type: contains, value: Paris}", "It is paris."), Some(false));
    assert_eq!(passes("{type: icontains, value: PARIS}", "It is paris."), Some(true));
    assert_eq!(passes("{type: icontains, value: Rome}", "It is paris."), Some(false));
    assert_eq!(passes("{type: contains, value: 42}", "The answer is 42"), Some(true));
}

#[test]
fn not_prefix_inverts_any_type() {
    assert_eq!(passes("{type: not-contains, value: error}", "all good"), Some(true));
    assert_eq!(passes("{type: not-contains, value: error}", "an error"), Some(false));
    assert_eq!(passes("{type: not-icontains, value: ERROR}", "an error"), Some(false));
    assert_eq!(passes("{type: not-equals, value: a}", "b"), Some(true));
    assert_eq!(passes("{type: not-regex, value: '\\d'}", "no digits"), Some(true));
    assert_eq!(passes("{type: not-is-json}", "{\"a\": 1}"), Some(false));
    assert!(check("{type: not-starts-with, value: x}").negated);
}

#[test]
fn contains_any_and_all() {
    assert_eq!(passes("{type: contains-any, value: [cat, dog]}", "a dog"), Some(true));
    assert_eq!(passes("{type: contains-any, value: [cat, dog]}", "a bird"), Some(false));
    assert_eq!(passes("{type: icontains-any, value: [CAT, DOG]}", "a Dog"), Some(true));
    assert_eq!(
        passes("{type: contains-all, value: [cat, dog]}", "cat and dog"),
        Some(true)
    );
    assert_eq!(
        passes("{type: contains-all, value: [cat, dog]}", "cat only"),
        Some(false)
    );
    assert_eq!(
        passes("{type: icontains-all, value: [CAT, dog]}", "Cat and DOG"),
        Some(true)
    );
    assert_eq!(
        passes("{type: icontains-all, value: [cat, emu]}", "Cat and DOG"),
        Some(false)
    );
    // promptfoo also takes one comma-separated text.
    assert_eq!(passes("{type: contains-any, value: 'cat, dog'}", "hot dog"), Some(true));
    let outcome = on(
        "{type: contains-all, value: [cat, emu, dog]}",
        &CheckSubject::text("a dog"),
    );
    assert_eq!(outcome.reason, "output lacks \"cat\", \"emu\"");
}

#[test]
fn equals_text_and_json() {
    assert_eq!(passes("{type: equals, value: '4'}", "4"), Some(true));
    assert_eq!(passes("{type: equals, value: 4}", "4"), Some(true));
    assert_eq!(passes("{type: equals, value: '4'}", "4 "), Some(false));
    assert_eq!(
        passes("{type: equals, value: {a: 1, b: [1, 2]}}", "{\"b\": [1, 2], \"a\": 1}"),
        Some(true)
    );
    assert_eq!(passes("{type: equals, value: {a: 1}}", "{\"a\": 2}"), Some(false));
    assert_eq!(passes("{type: equals, value: {a: 1}}", "a is 1"), Some(false));
}

#[test]
fn starts_and_ends_with() {
    assert_eq!(passes("{type: starts-with, value: 'Yes'}", "Yes, indeed"), Some(true));
    assert_eq!(passes("{type: starts-with, value: 'Yes'}", "No"), Some(false));
    assert_eq!(passes("{type: ends-with, value: '.'}", "Done."), Some(true));
    assert_eq!(passes("{type: ends-with, value: '.'}", "Done!"), Some(false));
}

#[test]
fn regex_with_flags_and_lookarounds() {
    assert_eq!(passes("{type: regex, value: '\\d{4}'}", "in 1999"), Some(true));
    assert_eq!(passes("{type: regex, value: '\\d{4}'}", "in 99"), Some(false));
    assert_eq!(
        passes("{type: regex, value: '^hello', flags: i}", "HELLO there"),
        Some(true)
    );
    assert_eq!(passes("{type: regex, value: '(?i)^hello'}", "HELLO there"), Some(true));
    // JavaScript lookaheads, which the regex crate lacks, still work.
    assert_eq!(passes("{type: regex, value: 'foo(?!bar)'}", "foobaz"), Some(true));
    assert_eq!(passes("{type: regex, value: 'foo(?!bar)'}", "foobar"), Some(false));
}

#[test]
fn bad_regex_names_its_line() {
    let error = compile_error("type: regex\nvalue: '(unclosed'\n");
    assert_eq!(error.line, Some(2));
    assert!(error.message.starts_with("bad regex"), "{}", error.message);
}

#[test]
fn is_json_with_and_without_schema() {
    assert_eq!(passes("{type: is-json}", " {\"a\": 1} "), Some(true));
    assert_eq!(passes("{type: is-json}", "Here: {\"a\": 1}"), Some(false));
    let schema = "type: is-json\nvalue:\n  type: object\n  required: [latitude]\n  properties:\n    latitude: {type: number, minimum: -90, maximum: 90}\n";
    assert_eq!(passes(schema, "{\"latitude\": 45}"), Some(true));
    assert_eq!(passes(schema, "{\"latitude\": 145}"), Some(false));
    assert_eq!(passes(schema, "{\"longitude\": 1}"), Some(false));
}

#[test]
fn contains_json_finds_embedded_values() {
    assert_eq!(
        passes("{type: contains-json}", "Sure:\n```json\n{\"a\": [1, 2]}\n```"),
        Some(true)
    );
    assert_eq!(passes("{type: contains-json}", "no json {here"), Some(false));
    let schema = "type: contains-json\nvalue: {type: object, required: [name]}\n";
    assert_eq!(passes(schema, "first {\"x\": 1} then {\"name\": \"Ada\"}"), Some(true));
    assert_eq!(passes(schema, "only {\"x\": 1}"), Some(false));
}

#[test]
fn json_schema_checks_the_answer_json() {
    let yaml =
        "type: json-schema\nvalue:\n  type: object\n  properties:\n    age: {type: integer}\n  required: [age]\n";
    assert_eq!(passes(yaml, "{\"age\": 3}"), Some(true));
    assert_eq!(passes(yaml, "Result: {\"age\": 3}"), Some(true));
    let outcome = on(yaml, &CheckSubject::text("{\"age\": \"three\"}"));
    assert_eq!(outcome.passed, Some(false));
    assert!(
        outcome.reason.contains("not valid against the schema"),
        "{}",
        outcome.reason
    );
    assert_eq!(passes(yaml, "no json"), Some(false));
}

#[test]
fn invalid_json_schema_names_its_line() {
    let error = compile_error("type: json-schema\nvalue:\n  type: 12\n");
    assert_eq!(error.line, Some(3));
    assert!(error.message.starts_with("invalid JSON Schema"), "{}", error.message);
    let error = compile_error("type: json-schema\n");
    assert!(error.message.contains("needs the schema"));
}

#[test]
fn max_latency_total_and_time_to_first_token() {
    let subject = CheckSubject {
        text: "hi",
        time_to_first_token_ms: Some(300.0),
        total_ms: Some(1200.0),
        ..CheckSubject::default()
    };
    assert_eq!(on("{type: max-latency, value: 1500}", &subject).passed, Some(true));
    assert_eq!(on("{type: max-latency, value: 1000}", &subject).passed, Some(false));
    assert_eq!(
        on("{type: max-latency, value: 500, measure: ttft}", &subject).passed,
        Some(true)
    );
    assert_eq!(
        on("{type: max-latency, value: 200, measure: ttft}", &subject).passed,
        Some(false)
    );
    // promptfoo's `latency` is total time, its limit in `threshold`.
    assert_eq!(on("{type: latency, threshold: 1000}", &subject).passed, Some(false));
    let unknown = on(
        "{type: max-latency, value: 500, measure: ttft}",
        &CheckSubject::text("hi"),
    );
    assert_eq!(unknown.passed, Some(false));
    assert_eq!(unknown.reason, "time to first token unknown");
    assert!(compile_error("{type: latency}").message.contains("needs a `threshold`"));
}

#[test]
fn max_cost_and_unknown_cost() {
    let cheap = CheckSubject {
        text: "hi",
        cost_usd: Some(0.0004),
        ..CheckSubject::default()
    };
    assert_eq!(on("{type: max-cost, value: 0.001}", &cheap).passed, Some(true));
    assert_eq!(on("{type: cost, threshold: 0.0001}", &cheap).passed, Some(false));
    let unknown = on("{type: max-cost, value: 0.001}", &CheckSubject::text("hi"));
    assert_eq!(
        unknown,
        CheckOutcome {
            passed: Some(false),
            reason: "cost unknown".to_owned()
        }
    );
    // Unknown never passes, even negated.
    assert_eq!(
        on("{type: not-max-cost, value: 0.001}", &CheckSubject::text("hi")).passed,
        Some(false)
    );
    // promptfoo's metric-only form records without a verdict.
    assert_eq!(on("{type: cost, metric: spend, weight: 0}", &cheap).passed, None);
}

#[test]
fn similar_uses_the_diff_ratio() {
    let yaml = "{type: similar, value: 'The capital of France is Paris.', threshold: 0.8}";
    assert_eq!(passes(yaml, "The capital of France is Paris."), Some(true));
    assert_eq!(passes(yaml, "the capital of **France** is Paris."), Some(true));
    assert_eq!(passes(yaml, "Bananas are yellow and grow in bunches."), Some(false));
    let outcome = on(yaml, &CheckSubject::text("The capital of Italy is Rome."));
    assert!(outcome.reason.starts_with("similarity 0."), "{}", outcome.reason);
    // Any of several references; promptfoo's default threshold is 0.75.
    assert_eq!(
        passes("{type: similar, value: [nope, 'hello world']}", "hello world"),
        Some(true)
    );
    assert_eq!(check("{type: similar, value: x}").kind_threshold(), Some(0.75));
    assert!(
        compile_error("{type: similar, value: x, threshold: 2}")
            .message
            .contains("ratio")
    );
}

impl Check {
    fn kind_threshold(&self) -> Option<f64> {
        match &self.kind {
            CheckKind::Similar { threshold, .. } => Some(*threshold),
            _ => None,
        }
    }
}

#[test]
fn refusal_from_flag_finish_or_text() {
    let flagged = CheckSubject {
        text: "Here you go",
        refusal: true,
        ..CheckSubject::default()
    };
    let filtered = CheckSubject {
        text: "",
        finish_reason: Some(FinishReason::ContentFilter),
        ..CheckSubject::default()
    };
    let plain = CheckSubject::text("Paris is the capital of France.");
    let worded = CheckSubject::text("I'm sorry, but I can't help with that.");
    for yaml in ["{type: refusal}", "{type: is-refusal}"] {
        assert_eq!(on(yaml, &flagged).passed, Some(true));
        assert_eq!(on(yaml, &filtered).passed, Some(true));
        assert_eq!(on(yaml, &worded).passed, Some(true));
        assert_eq!(on(yaml, &plain).passed, Some(false));
    }
    for yaml in ["{type: not-refusal}", "{type: not-is-refusal}"] {
        assert_eq!(on(yaml, &plain).passed, Some(true));
        assert_eq!(on(yaml, &worded).passed, Some(false));
    }
    assert_eq!(
        on("{type: refusal}", &flagged).reason,
        "the cloud marked the answer as a refusal"
    );
}

#[test]
fn finish_reason_and_word_count() {
    let stopped = CheckSubject {
        text: "one two three",
        finish_reason: Some(FinishReason::Stop),
        ..CheckSubject::default()
    };
    assert_eq!(on("{type: finish-reason, value: stop}", &stopped).passed, Some(true));
    assert_eq!(on("{type: finish-reason, value: LENGTH}", &stopped).passed, Some(false));
    assert!(
        compile_error("{type: finish-reason, value: sleepy}")
            .message
            .contains("unknown finish reason")
    );
    assert_eq!(on("{type: word-count, value: 3}", &stopped).passed, Some(true));
    assert_eq!(on("{type: word-count, value: {min: 4}}", &stopped).passed, Some(false));
    assert_eq!(
        on("{type: word-count, value: {min: 1, max: 3}}", &stopped).passed,
        Some(true)
    );
}

#[test]
fn unevaluated_types_are_kept_with_a_note() {
    for (yaml, fragment) in [
        ("{type: llm-rubric, value: is polite}", "judge"),
        ("{type: javascript, value: 'output.length > 3'}", "runs code"),
        ("{type: python, value: file://check.py}", "runs code"),
        ("{type: model-graded-closedqa, value: ok}", "judge"),
        ("{type: factuality, value: x}", "judge"),
        ("{type: answer-relevance}", "judge"),
        ("{type: webhook, value: 'https://example.com'}", "runs code"),
        ("{type: moderation}", "judge"),
        ("{type: rouge-n, value: x}", "not computed"),
        ("{type: contains, value: x, transform: 'output.trim()'}", "transforms"),
    ] {
        let check = check(yaml);
        assert!(!check.is_evaluated(), "{yaml}");
        let outcome = check.evaluate(&CheckSubject::text("anything"));
        assert_eq!(outcome.passed, None, "{yaml}");
        assert!(outcome.reason.contains(fragment), "{yaml}: {}", outcome.reason);
    }
}

#[test]
fn unknown_types_are_errors_with_a_suggestion() {
    let error = compile_error("type: contans\nvalue: x\n");
    assert_eq!(error.line, Some(1));
    assert_eq!(error.message, "unknown check type `contans` (did you mean `contains`?)");
    assert!(
        compile_error("{type: frobnicate}")
            .message
            .starts_with("unknown check type `frobnicate`")
    );
    assert!(compile_error("{value: x}").message.contains("needs a `type`"));
    assert!(compile_error("{type: contains}").message.contains("needs a `value`"));
    assert!(
        compile_error("{type: contains, value: x, weight: abc}")
            .message
            .contains("must be a number")
    );
}

#[test]
fn assert_set_with_threshold() {
    let yaml = "type: assert-set\nthreshold: 0.5\nassert:\n  - {type: contains, value: a}\n  - {type: contains, value: b}\n  - {type: llm-rubric, value: nice}\n";
    assert_eq!(passes(yaml, "only a"), Some(true));
    assert_eq!(passes(yaml, "neither"), Some(false));
    let all = "type: assert-set\nassert:\n  - {type: contains, value: a}\n  - {type: contains, value: b}\n";
    assert_eq!(passes(all, "a and b"), Some(true));
    assert_eq!(passes(all, "only a"), Some(false));
}

#[test]
fn grade_needs_every_evaluated_check_or_the_threshold() {
    let checks = vec![
        check("{type: contains, value: a}"),
        check("{type: contains, value: b, weight: 2}"),
        check("{type: llm-rubric, value: nice}"),
        check("{type: contains, value: z, weight: 0}"),
    ];
    let outcomes: Vec<CheckOutcome> = checks
        .iter()
        .map(|check| check.evaluate(&CheckSubject::text("a b")))
        .collect();
    let passing = grade(&checks, &outcomes, None);
    assert_eq!(passing.passed, Some(true), "{}", passing.reason);
    assert_eq!(passing.score, Some(1.0));

    let outcomes: Vec<CheckOutcome> = checks
        .iter()
        .map(|check| check.evaluate(&CheckSubject::text("a")))
        .collect();
    let failing = grade(&checks, &outcomes, None);
    assert_eq!(failing.passed, Some(false));
    assert!((failing.score.unwrap_or_default() - 1.0 / 3.0).abs() < 1e-9);
    assert!(
        failing.reason.contains("contains: output does not contain \"b\""),
        "{}",
        failing.reason
    );
    assert_eq!(grade(&checks, &outcomes, Some(0.3)).passed, Some(true));
    assert_eq!(grade(&checks, &outcomes, Some(0.5)).passed, Some(false));

    let judged = vec![check("{type: llm-rubric, value: nice}")];
    let outcomes = vec![judged[0].evaluate(&CheckSubject::text("x"))];
    assert_eq!(grade(&judged, &outcomes, None).passed, None);
}

#[test]
fn subject_from_a_response_record() {
    let record: ResponseRecord = serde_json::from_value(serde_json::json!({
        "run_id": "0190b6d0-0000-7000-8000-000000000000",
        "key": {"prompt_index": 0, "target_index": 0, "repeat_index": 0},
        "target": "t", "provider": "openai", "model": "m",
        "request_id": null, "reported_model": null, "region": null,
        "text": "I cannot help with that.", "reasoning": "", "tool_calls": [],
        "finish_reason": "stop", "raw_finish_reason": null,
        "usage": {}, "refusal": false,
        "metrics": {"time_to_first_token_ms": 120.0, "total_ms": 900.0, "output_tokens_per_second": null,
                    "content_chunks": 3, "gap_p50_ms": null, "gap_p95_ms": null, "gap_max_ms": null},
        "cost_usd": 0.002, "cost_source": null, "complete": true, "error": null, "attempts": 1,
        "unsupported_parameters": [], "started_at_ms": 0, "finished_at_ms": 900
    }))
    .expect("record");
    let subject = CheckSubject::from(&record);
    assert_eq!(subject.total_ms, Some(900.0));
    assert_eq!(subject.time_to_first_token_ms, Some(120.0));
    assert_eq!(subject.cost_usd, Some(0.002));
    assert!(subject.is_refusal());
    let _ = Location::default();
}
