use serde_json::json;

use super::*;

const SAMPLE: &str = include_str!("../../../../../assets/suites/sample.yaml");

fn sample() -> SuiteDocument {
    SuiteDocument::from_text(SAMPLE, SuiteFormat::Yaml).expect("the sample reads")
}

fn paths(problems: &[SuiteFieldError]) -> Vec<Option<&str>> {
    problems.iter().map(|problem| problem.path.as_deref()).collect()
}

#[test]
fn the_sample_reads_into_fields_and_round_trips_through_yaml() {
    let document = sample();
    assert_eq!(document.name, "Sample: why run one model on several clouds");
    assert_eq!(document.system.as_deref(), Some("Answer in two sentences."));
    assert_eq!(document.parameters[0].key, "max_output_tokens");
    assert_eq!(document.prompts, vec![json!("{{question}}")]);
    assert_eq!(document.tests.len(), 8);
    let outages = &document.tests[1];
    assert_eq!(outages.id, "outages");
    assert_eq!(outages.vars[0].key, "question");
    assert_eq!(outages.checks[0].type_name, "regex");
    assert_eq!(outages.checks[0].value, Some(json!("(?i)outage|down")));
    let latency = &document.tests[5].checks[0];
    assert_eq!(
        latency.other,
        vec![DocumentEntry {
            key: "measure".to_owned(),
            value: json!("ttft")
        }]
    );

    let yaml = document.to_yaml();
    let again = SuiteDocument::from_text(&yaml, SuiteFormat::Yaml).expect("its YAML reads");
    assert_eq!(again, document, "{yaml}");
    assert!(document.problems().is_empty(), "{:?}", document.problems());
    // The YAML written loads to the same suite as the sample.
    let written = Suite::parse(&yaml, SuiteFormat::Yaml, None).expect("loads");
    let original = Suite::parse(SAMPLE, SuiteFormat::Yaml, None).expect("loads");
    let prompts = |suite: &Suite| suite.suite_prompts();
    assert_eq!(prompts(&written.suite), prompts(&original.suite));
}

impl Suite {
    fn suite_prompts(&self) -> Vec<(String, crate::Prompt, usize)> {
        self.cases()
            .iter()
            .map(|case| (case.case_id.clone(), case.prompt.clone(), case.checks.len()))
            .collect()
    }
}

#[test]
fn text_that_needs_quoting_or_spans_lines_survives() {
    let mut document = sample();
    document.tests[0].prompt = Some("line one\nline two: {{question}}\n".to_owned());
    document.tests[0].vars[0].value = json!("yes");
    document.tests[0].checks[0].value = Some(json!("- not a list #"));
    document.tests[0].checks[0].threshold = Some(0.5);
    let again = SuiteDocument::from_text(&document.to_yaml(), SuiteFormat::Yaml).expect("reads");
    assert_eq!(again, document);
}

#[test]
fn the_loader_s_errors_come_back_at_their_fields() {
    let mut document = sample();
    document.tests[1].checks[0].value = Some(json!("(unclosed"));
    document.tests[2].checks[0].type_name = "icontain".to_owned();
    document.tests[3].id = "latency".to_owned();
    document.tests[4].id = " ".to_owned();
    document.tests[6].vars.clear();
    document.tests.push(DocumentTest {
        id: "similar".to_owned(),
        description: None,
        vars: vec![DocumentEntry {
            key: "question".to_owned(),
            value: json!("hi"),
        }],
        prompt: None,
        messages: None,
        checks: vec![DocumentCheck {
            type_name: "similar".to_owned(),
            value: Some(json!("hello")),
            threshold: Some(1.5),
            other: Vec::new(),
        }],
        other: Vec::new(),
    });
    let problems = document.problems();
    let found = paths(&problems);
    assert!(found.contains(&Some("tests[1].checks[0].value")), "{problems:#?}");
    assert!(found.contains(&Some("tests[2].checks[0].type")), "{problems:#?}");
    assert!(found.contains(&Some("tests[3].id")), "{problems:#?}");
    assert!(found.contains(&Some("tests[4].id")), "{problems:#?}");
    // The template's variable is missing: the error is the test's.
    assert!(found.contains(&Some("tests[6]")), "{problems:#?}");
    assert!(found.contains(&Some("tests[8].checks[0]")), "{problems:#?}");
    let regex = problems
        .iter()
        .find(|problem| problem.path.as_deref() == Some("tests[1].checks[0].value"))
        .expect("regex");
    assert!(regex.message.starts_with("bad regex"), "{}", regex.message);
    let type_problem = problems
        .iter()
        .find(|problem| problem.path.as_deref() == Some("tests[2].checks[0].type"))
        .expect("type");
    assert!(
        type_problem.message.contains("did you mean `icontains`"),
        "{}",
        type_problem.message
    );
}

#[test]
fn a_bad_json_schema_is_an_error_at_its_value() {
    let mut document = sample();
    document.tests[0].checks[0] = DocumentCheck {
        type_name: "json-schema".to_owned(),
        value: Some(json!({"type": "no-such-type"})),
        threshold: None,
        other: Vec::new(),
    };
    let problems = document.problems();
    assert_eq!(
        paths(&problems),
        vec![Some("tests[0].checks[0].value")],
        "{problems:#?}"
    );
}

#[test]
fn broken_yaml_names_its_line_and_other_shapes_are_refused() {
    let errors = SuiteDocument::from_text("name: x\ntests: [\n  {id: a\n", SuiteFormat::Yaml).expect_err("broken");
    assert!(errors[0].line.is_some_and(|line| line >= 2), "{errors:?}");
    assert!(errors[0].message.starts_with("not valid YAML"));
    let errors = SuiteDocument::from_text("tests: file://tests.csv\n", SuiteFormat::Yaml).expect_err("a file");
    assert_eq!(errors[0].path.as_deref(), Some("tests"));
}

#[test]
fn promptfoo_tests_and_tables_become_fields() {
    let promptfoo = "prompts: ['Say {{x}}']\ndefaultTest:\n  assert: [{type: is-json}]\ntests:\n  - vars: {x: hi}\n    assert:\n      - 'contains:hi'\n      - 'icontains-any:a,b'\n";
    let document = SuiteDocument::from_text(promptfoo, SuiteFormat::Yaml).expect("reads");
    assert_eq!(document.tests[0].id, "t001");
    assert_eq!(document.tests[0].checks[1].type_name, "icontains-any");
    assert_eq!(document.tests[0].checks[1].value, Some(json!(["a", "b"])));
    assert_eq!(document.other[0].key, "defaultTest");
    let again = SuiteDocument::from_text(&document.to_yaml(), SuiteFormat::Yaml).expect("reads");
    assert_eq!(again, document);

    let csv = "question,__expected\nWhy?,contains:because\n";
    let document = SuiteDocument::from_text(csv, SuiteFormat::Csv).expect("reads");
    assert_eq!(
        document.tests[0].vars[0],
        DocumentEntry {
            key: "question".to_owned(),
            value: json!("Why?")
        }
    );
    assert_eq!(document.tests[0].checks[0].type_name, "contains");
}
