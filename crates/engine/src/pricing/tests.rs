use std::collections::HashMap;

use serde_json::json;

use super::*;
use crate::model::target::{Api, DeploymentType, Publisher};

#[test]
fn sums_of_huge_counts_saturate_instead_of_overflowing() {
    let huge = Usage {
        input_tokens: Some(u64::MAX),
        output_tokens: Some(u64::MAX),
        reasoning_tokens: Some(u64::MAX),
        cached_input_tokens: Some(u64::MAX),
        cache_creation_input_tokens: Some(u64::MAX),
        total_tokens: Some(u64::MAX - 1),
        raw: serde_json::Value::Null,
    };
    let rates = Rates {
        input: 1.0,
        output: 2.0,
        cached_input: Some(0.5),
        cache_write: Some(1.5),
        reasoning: None,
    };
    for convention in [
        UsageConvention::OpenAi,
        UsageConvention::Anthropic,
        UsageConvention::Gemini,
        UsageConvention::Bedrock,
    ] {
        // No panic in a test build (overflow checks are on); the cost is finite.
        let (usd, _) = cost_of_usage(&huge, convention, &rates, None).expect("a cost");
        assert!(usd.is_finite(), "{convention:?}");
    }
}

fn target(provider: ProviderKind, model: &str) -> Target {
    Target::new("t", provider, model)
}

fn bedrock(model: &str, region: &str) -> Target {
    let mut target = target(ProviderKind::Bedrock, model);
    target.region = Some(region.to_owned());
    target
}

fn vertex(model: &str, location: &str, publisher: Publisher) -> Target {
    let mut target = target(ProviderKind::Vertex, model);
    target.project = Some("p".to_owned());
    target.location = Some(location.to_owned());
    target.publisher = Some(publisher);
    target
}

fn usage(input: u64, output: u64) -> Usage {
    Usage {
        input_tokens: Some(input),
        output_tokens: Some(output),
        ..Usage::default()
    }
}

/// The cost of `usage` for `target` with the shipped prices, and its source.
fn priced(target: &Target, usage: &Usage) -> (Option<f64>, String) {
    let cost = PriceBook::shipped().cost(target, None, Some(usage));
    (cost.usd, cost.source)
}

fn dollars(per_million_times_tokens: f64) -> f64 {
    ((per_million_times_tokens / 1e6) * 1e9).round() / 1e9
}

fn assert_close(got: Option<f64>, want: f64, context: &str) {
    let got = got.unwrap_or_else(|| panic!("{context}: no cost"));
    assert!((got - want).abs() < 1e-12, "{context}: {got} != {want}");
}

fn catalog_with(entries: serde_json::Value) -> Catalog {
    let text = json!({
        "format": CATALOG_FORMAT,
        "origin": "test prices",
        "as_of": "2026-11-01",
        "currency": "USD",
        "entries": entries,
    });
    Catalog::from_json(&text.to_string(), "test").expect("valid test catalog")
}

#[test]
fn the_shipped_catalog_loads_and_covers_every_cloud_with_a_source_and_date() {
    let catalog = Catalog::shipped().expect("the shipped catalog parses");
    assert!(catalog.origin.starts_with("litellm "), "{}", catalog.origin);
    let counts: HashMap<ProviderKind, usize> = catalog.count_by_provider().into_iter().collect();
    for provider in [
        ProviderKind::OpenAi,
        ProviderKind::Azure,
        ProviderKind::Anthropic,
        ProviderKind::Bedrock,
        ProviderKind::Gemini,
        ProviderKind::Vertex,
        ProviderKind::Oci,
    ] {
        assert!(
            counts.get(&provider).copied().unwrap_or(0) >= 10,
            "{provider}: {counts:?}"
        );
    }
    assert!(
        !counts.contains_key(&ProviderKind::Ollama),
        "local models are not in the catalog"
    );
    for entry in &catalog.entries {
        assert!(entry.source.starts_with("http"), "{entry:?}");
        assert_eq!(entry.as_of.len(), 10, "{entry:?}");
        assert!(entry.rates.input > 0.0 || entry.rates.output > 0.0, "{entry:?}");
    }
}

#[test]
fn exact_ids_are_priced_from_the_catalog_with_its_source() {
    let (usd, source) = priced(&target(ProviderKind::OpenAi, "gpt-5.4"), &usage(1_000, 100));
    assert_close(usd, dollars(1_000.0 * 2.5 + 100.0 * 15.0), "gpt-5.4");
    assert!(source.starts_with("catalog: litellm "), "{source}");
    assert!(
        source.contains(" as of 20") && source.ends_with("(openai/gpt-5.4)"),
        "{source}"
    );

    let (usd, source) = priced(&target(ProviderKind::Anthropic, "claude-opus-4-7"), &usage(1_000, 100));
    assert_close(usd, dollars(1_000.0 * 5.0 + 100.0 * 25.0), "claude");
    assert!(source.ends_with("(anthropic/claude-opus-4-7)"), "{source}");
}

#[test]
fn each_cloud_names_the_same_model_its_own_way_and_is_priced_by_it() {
    // A versioned Bedrock id is priced as its inference profile.
    let (usd, source) = priced(
        &bedrock("us.anthropic.claude-opus-4-7-v1:0", "us-east-1"),
        &usage(1_000, 100),
    );
    assert_close(usd, dollars(1_000.0 * 5.5 + 100.0 * 27.5), "versioned profile");
    assert!(source.ends_with("(bedrock/us.anthropic.claude-opus-4-7)"), "{source}");

    // Mantle from Mantle's own prices, never Bedrock Runtime's.
    let mut mantle = bedrock("openai.gpt-5.4", "us-west-2");
    mantle.api = Some(Api::MantleResponses);
    let (usd, source) = priced(&mantle, &usage(1_000, 100));
    assert_close(usd, dollars(1_000.0 * 2.75 + 100.0 * 16.5), "mantle");
    assert!(source.ends_with("(bedrock/mantle/openai.gpt-5.4)"), "{source}");
    mantle.region = Some("us-gov-west-1".into());
    let (usd, source) = priced(&mantle, &usage(1_000, 100));
    assert_close(usd, dollars(1_000.0 * 3.3 + 100.0 * 19.8), "mantle in GovCloud");
    assert!(
        source.ends_with("(bedrock/us-gov-west-1/mantle/openai.gpt-5.4)"),
        "{source}"
    );
    let mut unknown = bedrock("anthropic.claude-opus-4-7", "us-east-1");
    unknown.api = Some(Api::MantleMessages);
    let (usd, source) = priced(&unknown, &usage(1_000, 100));
    assert_eq!(usd, None, "Runtime's price for the model is not Mantle's");
    assert!(
        source.contains("no price for bedrock/us-east-1/mantle/anthropic.claude-opus-4-7"),
        "{source}"
    );

    // Azure: the deployment's model and deployment type, never a deployment name guess.
    let mut azure = target(ProviderKind::Azure, "gpt54-sweden");
    let (usd, _) = priced(&azure, &usage(1_000, 100));
    assert_eq!(usd, None, "a deployment name says nothing");
    azure.base_model = Some("gpt-5.4".into());
    let (usd, source) = priced(&azure, &usage(1_000, 100));
    assert_close(usd, dollars(1_000.0 * 2.5 + 100.0 * 15.0), "global");
    assert!(source.ends_with("(azure/gpt-5.4)"), "{source}");
    azure.deployment_type = Some(DeploymentType::DataZoneEu);
    let (usd, source) = priced(&azure, &usage(1_000, 100));
    assert_close(usd, dollars(1_000.0 * 2.75 + 100.0 * 16.5), "data zone");
    assert!(source.ends_with("(azure/data-zone-eu/gpt-5.4)"), "{source}");
    azure.deployment_type = Some(DeploymentType::Regional);
    let (usd, source) = priced(&azure, &usage(1_000, 100));
    assert_eq!(usd, None, "a regional deployment is not priced as a global one");
    assert!(source.contains("regional deployment is priced apart"), "{source}");
}

#[test]
fn compare_lists_every_cloud_for_a_base_model_cheapest_first() {
    let rows = PriceBook::shipped().compare("GPT-5.4", 1_000_000, 1_000_000);
    let keys: Vec<String> = rows
        .iter()
        .map(|row| price_key_text(row.provider, &row.model, row.region.as_deref()))
        .collect();
    for expected in [
        "openai/gpt-5.4",
        "azure/gpt-5.4",
        "azure/data-zone-us/gpt-5.4",
        "azure/data-zone-eu/gpt-5.4",
        "bedrock/us.openai.gpt-5.4",
        "bedrock/global.openai.gpt-5.4",
        "bedrock/mantle/openai.gpt-5.4",
    ] {
        assert!(keys.iter().any(|key| key == expected), "{expected} in {keys:?}");
    }
    assert!(!keys.iter().any(|key| key.contains("gpt-5.4-mini")), "{keys:?}");
    assert!(
        !keys.contains(&"openai/gpt-5.4-2026-03-05".to_owned()),
        "a snapshot priced as its model is listed once: {keys:?}"
    );
    assert!(rows.windows(2).all(|pair| pair[0].mix_cost_usd <= pair[1].mix_cost_usd));
    assert!(rows.iter().all(|row| row.mix_cost_usd.is_some()));
    let mantle = rows
        .iter()
        .find(|row| row.model == "mantle/openai.gpt-5.4" && row.region.is_none());
    assert_eq!(mantle.and_then(|row| row.surface.as_deref()), Some("mantle"));
    assert!((mantle.expect("mantle").mix_cost_usd.expect("per token") - (2.75 + 16.5)).abs() < 1e-9);
    assert!(
        rows.iter()
            .all(|row| row.source.starts_with("http") && row.as_of.len() == 10)
    );

    let overridden = PriceBook::shipped().with_overrides(vec![PriceOverride {
        provider: ProviderKind::OpenAi,
        model: "gpt-5.4".into(),
        region: None,
        currency: "USD".into(),
        rates: Rates {
            input: 1.0,
            output: 2.0,
            ..Rates::default()
        },
        note: Some("contract".into()),
        updated_at_ms: 0,
    }]);
    let rows = overridden.compare("gpt-5.4", 1_000_000, 1_000_000);
    assert!(rows[0].overridden && rows[0].model == "gpt-5.4", "{:?}", rows[0]);
    assert_eq!(
        rows.iter()
            .filter(|row| row.provider == ProviderKind::OpenAi && row.model == "gpt-5.4")
            .count(),
        1,
        "the override replaces the catalog's row"
    );
    assert!(PriceBook::shipped().compare("no-such-model", 1, 1).is_empty());
}

#[test]
fn a_missing_price_is_unknown_with_its_key_never_zero() {
    let cases = [
        (
            bedrock("openai.gpt-5.4", "us-east-1"),
            "no price for bedrock/us-east-1/openai.gpt-5.4",
        ),
        (
            target(ProviderKind::OpenAi, "gpt-imaginary"),
            "no price for openai/gpt-imaginary",
        ),
        // Azure deployment names are the user's own: no OpenAI price is borrowed for them.
        (
            target(ProviderKind::Azure, "gpt54-prod"),
            "no price for azure/gpt54-prod",
        ),
    ];
    for (target, reason) in cases {
        let (usd, source) = priced(&target, &usage(1_000, 100));
        assert_eq!(usd, None, "{reason}");
        assert!(source.starts_with(reason), "{source}");
    }
}

#[test]
fn azure_is_priced_by_the_reported_model_when_the_deployment_name_is_unknown() {
    let cost = PriceBook::shipped().cost(
        &target(ProviderKind::Azure, "gpt54-prod"),
        Some("gpt-5.4-2026-03-05"),
        Some(&usage(1_000, 100)),
    );
    assert_close(cost.usd, dollars(1_000.0 * 2.5 + 100.0 * 15.0), "azure");
    assert!(cost.source.contains("(azure/gpt-5.4-2026-03-05)"), "{}", cost.source);
    assert!(cost.source.ends_with("priced as the reported model"), "{}", cost.source);
}

#[test]
fn bedrock_regional_prices_win_over_the_default_for_the_model() {
    let model = "meta.llama3-70b-instruct-v1:0";
    let (usd, source) = priced(&bedrock(model, "eu-west-1"), &usage(1_000_000, 0));
    assert_close(usd, 2.86, "eu-west-1");
    assert!(source.contains("(bedrock/eu-west-1/meta.llama3-70b"), "{source}");
    // No entry for us-west-2 itself: the model's every-region price.
    let (usd, source) = priced(&bedrock(model, "us-west-2"), &usage(1_000_000, 0));
    assert_close(usd, 2.65, "us-west-2");
    assert!(source.contains("(bedrock/meta.llama3-70b"), "{source}");
}

#[test]
fn bedrock_inference_profiles_and_arns_are_priced_as_themselves() {
    let one_million_in = usage(1_000_000, 0);
    for (model, want) in [
        ("anthropic.claude-sonnet-4-6", 3.0),
        ("us.anthropic.claude-sonnet-4-6", 3.3),
        ("global.anthropic.claude-sonnet-4-6", 3.0),
        ("eu.anthropic.claude-opus-4-7", 5.5),
        (
            "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-opus-4-7",
            5.5,
        ),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-opus-4-7",
            5.0,
        ),
    ] {
        let (usd, source) = priced(&bedrock(model, "eu-west-1"), &one_million_in);
        assert_close(usd, want, model);
        assert!(source.starts_with("catalog: "), "{source}");
    }

    let (usd, source) = priced(
        &bedrock(
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3",
            "us-east-1",
        ),
        &one_million_in,
    );
    assert_eq!(usd, None);
    assert!(source.contains("application inference profile"), "{source}");
}

#[test]
fn a_bedrock_profile_is_never_priced_as_its_bare_model() {
    // The EU profile of Llama 3.3 is not in the catalog; the bare id and the US profile are.
    // Cross-region profiles can cost more, so the bare price is not borrowed.
    let (usd, source) = priced(
        &bedrock("eu.meta.llama3-3-70b-instruct-v1:0", "eu-west-1"),
        &usage(1_000, 100),
    );
    assert_eq!(usd, None);
    assert!(
        source.starts_with("no price for bedrock/eu-west-1/eu.meta.llama3-3-70b-instruct-v1:0 (the catalog prices meta.llama3-3-70b-instruct-v1:0, us.meta.llama3-3-70b-instruct-v1:0;"),
        "{source}"
    );
}

#[test]
fn vertex_claude_costs_more_on_a_regional_endpoint_and_version_pins_are_understood() {
    let one_million_in = usage(1_000_000, 0);
    let (usd, source) = priced(
        &vertex("claude-opus-4-7", "global", Publisher::Anthropic),
        &one_million_in,
    );
    assert_close(usd, 5.0, "global");
    assert!(source.contains("(vertex/global/claude-opus-4-7)"), "{source}");
    let (usd, source) = priced(
        &vertex("claude-opus-4-7", "us-east5", Publisher::Anthropic),
        &one_million_in,
    );
    assert_close(usd, 5.5, "regional");
    assert!(source.contains("regional endpoint"), "{source}");
    // A version pin the catalog does not list is the model it pins.
    let (usd, _) = priced(
        &vertex("claude-opus-4-7@20990101", "global", Publisher::Anthropic),
        &one_million_in,
    );
    assert_close(usd, 5.0, "pinned");
    let (usd, source) = priced(
        &target(ProviderKind::Gemini, "models/gemini-2.5-pro"),
        &usage(100_000, 0),
    );
    assert_close(usd, 0.125, "models/ prefix");
    assert!(source.contains("(gemini/gemini-2.5-pro)"), "{source}");
}

#[test]
fn openai_cached_tokens_are_part_of_the_input_and_priced_once_at_the_cached_rate() {
    let usage = Usage {
        input_tokens: Some(10_000),
        cached_input_tokens: Some(8_000),
        output_tokens: Some(500),
        reasoning_tokens: Some(300),
        total_tokens: Some(10_500),
        ..Usage::default()
    };
    let (usd, _) = priced(&target(ProviderKind::OpenAi, "gpt-5.4"), &usage);
    // 2,000 uncached at 2.50, 8,000 cached at 0.25, 500 output (reasoning included) at 15.
    assert_close(usd, dollars(2_000.0 * 2.5 + 8_000.0 * 0.25 + 500.0 * 15.0), "openai");
}

#[test]
fn anthropic_cache_reads_and_writes_are_billed_on_top_of_the_input() {
    let usage = Usage {
        input_tokens: Some(100),
        cached_input_tokens: Some(1_000),
        cache_creation_input_tokens: Some(200),
        output_tokens: Some(50),
        total_tokens: Some(1_350),
        ..Usage::default()
    };
    let want = dollars(100.0 * 5.0 + 1_000.0 * 0.5 + 200.0 * 6.25 + 50.0 * 25.0);
    let (usd, _) = priced(&target(ProviderKind::Anthropic, "claude-opus-4-7"), &usage);
    assert_close(usd, want, "anthropic");
    // Claude on Vertex reports the same way.
    let (usd, _) = priced(&vertex("claude-opus-4-7", "global", Publisher::Anthropic), &usage);
    assert_close(usd, want, "vertex claude");
}

#[test]
fn bedrock_converse_cache_reads_are_billed_on_top_of_the_input() {
    let usage = Usage {
        input_tokens: Some(100),
        cached_input_tokens: Some(1_000),
        output_tokens: Some(50),
        total_tokens: Some(1_150),
        ..Usage::default()
    };
    let (usd, _) = priced(&bedrock("global.anthropic.claude-opus-4-7", "us-east-1"), &usage);
    assert_close(usd, dollars(100.0 * 5.0 + 1_000.0 * 0.5 + 50.0 * 25.0), "bedrock");
}

#[test]
fn gemini_thoughts_are_billed_as_output_once_whichever_way_the_output_is_counted() {
    // gemini_aistudio_cumulative_usage.sse: 18 prompt, 80 candidates, 35 thoughts, 133 total.
    let target = target(ProviderKind::Gemini, "gemini-2.5-pro");
    let want = dollars(18.0 * 1.25 + (80.0 + 35.0) * 10.0);
    let normalised = Usage {
        input_tokens: Some(18),
        output_tokens: Some(115),
        reasoning_tokens: Some(35),
        total_tokens: Some(133),
        ..Usage::default()
    };
    assert_close(priced(&target, &normalised).0, want, "thoughts inside output");
    let as_on_the_wire = Usage {
        output_tokens: Some(80),
        ..normalised.clone()
    };
    assert_close(priced(&target, &as_on_the_wire).0, want, "thoughts beside output");
    let on_vertex = vertex("gemini-2.5-pro", "europe-west4", Publisher::Google);
    assert_close(priced(&on_vertex, &normalised).0, want, "vertex gemini");
}

#[test]
fn reasoning_tokens_use_their_own_rate_where_there_is_one() {
    let book = PriceBook::new(catalog_with(json!([
        {"provider": "openai", "model": "thinker", "input": 1.0, "output": 10.0, "reasoning": 20.0,
         "source": "https://example.com/prices", "as_of": "2026-11-01"}
    ])));
    let usage = Usage {
        input_tokens: Some(1_000),
        output_tokens: Some(500),
        reasoning_tokens: Some(300),
        ..Usage::default()
    };
    let cost = book.cost(&target(ProviderKind::OpenAi, "thinker"), None, Some(&usage));
    assert_close(cost.usd, dollars(1_000.0 + 200.0 * 10.0 + 300.0 * 20.0), "reasoning");
    assert_eq!(cost.source, "catalog: test prices as of 2026-11-01 (openai/thinker)");
}

#[test]
fn long_prompts_are_priced_at_the_long_context_rates() {
    let usage = usage(300_000, 1_000);
    let (usd, source) = priced(&target(ProviderKind::OpenAi, "gpt-5.4"), &usage);
    assert_close(usd, dollars(300_000.0 * 5.0 + 1_000.0 * 22.5), "long context");
    assert!(
        source.ends_with("long-context rates above 272000 input tokens"),
        "{source}"
    );
}

#[test]
fn incomplete_usage_makes_the_cost_unknown_with_the_reason() {
    let book = PriceBook::shipped();
    let gpt = target(ProviderKind::OpenAi, "gpt-5.4");
    let cases = [
        (None, "no usage reported"),
        (Some(Usage::default()), "no usage reported"),
        (
            Some(Usage {
                input_tokens: Some(10),
                ..Usage::default()
            }),
            "usage lacks output tokens",
        ),
        (
            Some(Usage {
                output_tokens: Some(10),
                ..Usage::default()
            }),
            "usage lacks input tokens",
        ),
    ];
    for (usage, reason) in cases {
        assert_eq!(
            book.cost(&gpt, None, usage.as_ref()),
            Cost {
                usd: None,
                source: reason.to_owned()
            }
        );
    }
    // Cached tokens with no cached price: not guessed at the input rate.
    let (usd, source) = priced(
        &target(ProviderKind::OpenAi, "gpt-5-pro"),
        &Usage {
            cached_input_tokens: Some(5),
            ..usage(10, 10)
        },
    );
    assert_eq!(usd, None);
    assert_eq!(source, "the price has no cached-input rate for 5 cached tokens");
}

fn override_for(model: &str, region: Option<&str>, input: f64, note: Option<&str>) -> PriceOverride {
    PriceOverride {
        provider: ProviderKind::Bedrock,
        model: model.to_owned(),
        region: region.map(str::to_owned),
        currency: "USD".to_owned(),
        rates: Rates {
            input,
            output: 1.0,
            ..Rates::default()
        },
        note: note.map(str::to_owned),
        // 2026-11-18 11:06:40 UTC
        updated_at_ms: 1_795_000_000_000,
    }
}

#[test]
fn an_override_wins_over_the_catalog_and_says_so() {
    let model = "meta.llama3-70b-instruct-v1:0";
    let book = PriceBook::shipped().with_overrides(vec![
        override_for(model, None, 2.0, Some("contract -25%")),
        override_for(model, Some("eu-west-1"), 1.5, None),
    ]);
    let one_million = usage(1_000_000, 0);
    // The every-region override beats even the catalog's regional price.
    let cost = book.cost(&bedrock(model, "eu-west-2"), None, Some(&one_million));
    assert_close(cost.usd, 2.0, "every-region override");
    assert_eq!(cost.source, "override: contract -25% (set 2026-11-18)");
    let cost = book.cost(&bedrock(model, "eu-west-1"), None, Some(&one_million));
    assert_close(cost.usd, 1.5, "regional override");
    assert_eq!(cost.source, "override (set 2026-11-18)");
    // An override prices what the catalog does not know.
    let book = PriceBook::shipped().with_overrides(vec![override_for("openai.gpt-5.4", None, 2.0, None)]);
    let cost = book.cost(&bedrock("openai.gpt-5.4", "us-east-1"), None, Some(&one_million));
    assert_close(cost.usd, 2.0, "unlisted model");
}

#[test]
fn an_override_in_another_currency_leaves_the_dollar_cost_unknown() {
    let mut price = override_for("meta.llama3-70b-instruct-v1:0", None, 2.0, None);
    price.currency = "EUR".to_owned();
    let cost = PriceBook::shipped().with_overrides(vec![price]).cost(
        &bedrock("meta.llama3-70b-instruct-v1:0", "eu-west-1"),
        None,
        Some(&usage(1, 1)),
    );
    assert_eq!(cost.usd, None);
    assert!(cost.source.contains("is in EUR"), "{}", cost.source);
}

#[test]
fn only_a_local_ollama_is_free() {
    let book = PriceBook::shipped();
    let mut local = target(ProviderKind::Ollama, "llama3.3:70b");
    for base_url in [
        None,
        Some("http://127.0.0.1:11434"),
        Some("http://localhost:11434"),
        Some("http://[::1]:1"),
    ] {
        local.base_url = base_url.map(str::to_owned);
        let cost = book.cost(&local, None, Some(&usage(10, 10)));
        assert_eq!(cost.usd, Some(0.0), "{base_url:?}");
        assert_eq!(cost.source, LOCAL_MODEL_SOURCE);
    }
    let mut remote = local.clone();
    remote.base_url = Some("https://ollama.example.com".to_owned());
    let cost = book.cost(&remote, None, Some(&usage(10, 10)));
    assert_eq!(cost.usd, None);
    assert_eq!(cost.source, "no price for ollama/llama3.3:70b");
    let cloud_model = target(ProviderKind::Ollama, "gpt-oss:120b-cloud");
    assert_eq!(book.cost(&cloud_model, None, Some(&usage(10, 10))).usd, None);
}

#[test]
fn catalogs_that_would_hide_unknown_prices_are_refused() {
    let entry = |input: f64, output: f64| {
        json!({"format": CATALOG_FORMAT, "origin": "x", "as_of": "2026-11-01", "currency": "USD",
               "entries": [{"provider": "openai", "model": "m", "input": input, "output": output,
                            "source": "https://example.com", "as_of": "2026-11-01"}]})
        .to_string()
    };
    let refused = [
        (entry(0.0, 0.0), "priced at 0"),
        (entry(-1.0, 1.0), "not negative"),
        (
            json!({"sample_spec": {}, "gpt-5.4": {}}).to_string(),
            "LiteLLM's own price map",
        ),
        (json!({"entries": []}).to_string(), "not a ModelBench price catalog"),
    ];
    for (text, message) in refused {
        let error = Catalog::from_json(&text, "f.json").expect_err(message).to_string();
        assert!(error.contains(message), "{error}");
    }
    assert!(Catalog::from_json(&entry(1.0, 2.0), "f.json").is_ok());
}

#[test]
fn the_usage_convention_follows_the_provider_and_publisher() {
    assert_eq!(
        UsageConvention::of(&target(ProviderKind::Azure, "m")),
        UsageConvention::OpenAi
    );
    let mut responses = target(ProviderKind::OpenAi, "m");
    responses.api = Some(Api::Responses);
    assert_eq!(UsageConvention::of(&responses), UsageConvention::OpenAi);
    assert_eq!(
        UsageConvention::of(&vertex("m", "global", Publisher::Anthropic)),
        UsageConvention::Anthropic
    );
    assert_eq!(
        UsageConvention::of(&vertex("m", "global", Publisher::Google)),
        UsageConvention::Gemini
    );
}

fn oci(model: &str) -> Target {
    let mut target = target(ProviderKind::Oci, model);
    target.region = Some("us-chicago-1".into());
    target
}

#[test]
fn oci_models_billed_per_character_are_priced_by_characters_never_by_tokens() {
    let book = PriceBook::shipped();
    let cohere = oci("cohere.command-a-03-2025");
    // 12,000 characters of prompt and answer at $0.0156 per 10,000.
    let cost = book.cost_with_characters(&cohere, None, Some(&usage(3_000, 1_000)), Some(12_000));
    assert_close(cost.usd, 1.2 * 0.0156, "cohere per character");
    assert!(
        cost.source.contains("billed per character: 12000 characters"),
        "{}",
        cost.source
    );
    assert!(cost.source.contains("oci/cohere.command-a-03-2025"), "{}", cost.source);
    // Without the characters, unknown with the reason: never a token price.
    let unknown = book.cost(&cohere, None, Some(&usage(3_000, 1_000)));
    assert_eq!(unknown.usd, None);
    assert!(unknown.source.contains("billed per character"), "{}", unknown.source);
    // OCI's token-billed models are priced by tokens whatever the characters.
    let grok = book.cost_with_characters(&oci("xai.grok-4"), None, Some(&usage(1_000_000, 100_000)), Some(7));
    assert_close(grok.usd, 3.0 + 1.5, "grok per token");
    // A model the catalog does not know stays unknown, with its key.
    let unpriced = book.cost_with_characters(&oci("xai.grok-99"), None, Some(&usage(10, 10)), Some(10));
    assert_eq!(unpriced.usd, None);
    assert!(
        unpriced.source.starts_with("no price for oci/us-chicago-1/xai.grok-99"),
        "{}",
        unpriced.source
    );
}

#[test]
fn a_price_per_character_is_one_price_and_compares_without_a_token_mix() {
    let bad = json!({
        "format": CATALOG_FORMAT, "origin": "t", "as_of": "2026-11-01", "currency": "USD",
        "entries": [{"provider": "oci", "model": "cohere.x", "input": 0.01, "output": 0.02, "unit": "characters",
                     "source": "https://example.com", "as_of": "2026-11-01"}],
    });
    let error = Catalog::from_json(&bad.to_string(), "t").expect_err("two prices per character");
    assert!(error.to_string().contains("input = output"), "{error}");
    let book = PriceBook::shipped();
    let rows = book.compare("command-a-03-2025", 1_000, 1_000);
    let row = rows
        .iter()
        .find(|row| row.provider == ProviderKind::Oci)
        .expect("oci lists it");
    assert_eq!((row.unit, row.mix_cost_usd), (PriceUnit::Characters, None));
    let gpt = book.compare("gpt-5", 1_000_000, 1_000_000);
    let oci_row = gpt
        .iter()
        .find(|row| row.provider == ProviderKind::Oci)
        .expect("oci sells gpt-5");
    assert_eq!(
        (oci_row.unit, oci_row.model.as_str()),
        (PriceUnit::Tokens, "openai.gpt-5")
    );
    assert!(gpt.iter().any(|row| row.provider == ProviderKind::OpenAi));
}

#[test]
fn clouds_that_price_other_models_of_the_line_but_not_this_one_are_named() {
    let price = |provider: &str, model: &str| {
        json!({"provider": provider, "model": model, "input": 1.0, "output": 2.0,
               "source": "https://example.com/prices", "as_of": "2026-11-01"})
    };
    let book = PriceBook::new(catalog_with(json!([
        price("openai", "gpt-5.5"),
        price("azure", "gpt-5.5"),
        price("oci", "openai.gpt-5"),
        price("bedrock", "openai.gpt-oss-120b-1:0"),
        price("bedrock", "openai.gpt-5.5"),
        price("vertex", "gemini-2.5-pro"),
    ])));
    assert_eq!(book.clouds_without_price("GPT-5.5"), [ProviderKind::Oci]);
    // Another model of the line: the clouds without it, sorted.
    assert_eq!(
        book.clouds_without_price("gpt-5"),
        [ProviderKind::Azure, ProviderKind::Bedrock, ProviderKind::OpenAi]
    );
    assert!(book.clouds_without_price("gemini-2.5-pro").is_empty());
    assert!(book.clouds_without_price("no-such-model").is_empty());
    assert!(book.clouds_without_price("").is_empty());
    // An override prices it.
    let overridden = book.with_overrides(vec![PriceOverride {
        provider: ProviderKind::Oci,
        ..override_for("openai.gpt-5.5", None, 1.0, None)
    }]);
    assert!(overridden.clouds_without_price("gpt-5.5").is_empty());
    // The shipped catalog has OCI's gpt-5 but not its gpt-5.5.
    assert!(
        PriceBook::shipped()
            .clouds_without_price("gpt-5.5")
            .contains(&ProviderKind::Oci)
    );
}
