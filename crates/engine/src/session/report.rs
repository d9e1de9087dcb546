//! The session report: the decision first (per base model, the parity verdicts and the cheapest,
//! fastest and most reliable of the equivalent targets), then the method, the per-target table,
//! the parity matrix, the latency distributions as inline SVG, errors by kind, the per-test table
//! and the failing answers. HTML (self-contained, every model text escaped), Markdown, JSON (the
//! `session show --json` document with the method) and CSV (one row per test and target); and
//! the plain text `session show` prints.

use std::fmt::Write as _;

use serde::Serialize;

use super::analysis::{Analysis, Distribution, Parity, ParityMetric, Rate, TargetFigures};
use crate::model::request::Parameters;
use crate::report::html::{STYLESHEET, escape};

/// How a session was run, as the report's method section says it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Method {
    pub suite_name: String,
    pub suite_hash: String,
    pub suite_path: Option<String>,
    pub tests: usize,
    pub cases: usize,
    pub targets: Vec<MethodTarget>,
    pub parameters: Parameters,
    pub repeat: u32,
    pub concurrency: usize,
    pub scheduling: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub budget_usd: Option<f64>,
    pub stop_reason: Option<String>,
    /// The check types the suite uses, and how many of each.
    pub checks: Vec<(String, usize)>,
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MethodTarget {
    pub name: String,
    pub provider: String,
    pub model: String,
    pub region: Option<String>,
    pub base_model: Option<String>,
    pub reported_models: Vec<String>,
    /// Where its price came from (catalog entry and date, or an override).
    pub price_source: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Html,
    Markdown,
    Json,
    Csv,
}

impl Format {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "html" => Some(Self::Html),
            "md" | "markdown" => Some(Self::Markdown),
            "json" => Some(Self::Json),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }
}

pub fn render(analysis: &Analysis, method: &Method, format: Format) -> String {
    match format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(&json_document(analysis, method)).unwrap_or_default();
            text.push('\n');
            text
        }
        Format::Csv => csv(analysis),
        Format::Markdown => markdown(analysis, method),
        Format::Html => html(analysis, method),
    }
}

/// The JSON report: the analysis with the method beside it (what `--format json` writes, and what
/// the PDF report typesets).
pub fn json_document(analysis: &Analysis, method: &Method) -> serde_json::Value {
    #[derive(Serialize)]
    struct Document<'a> {
        #[serde(flatten)]
        analysis: &'a Analysis,
        method: &'a Method,
    }
    serde_json::to_value(Document { analysis, method }).unwrap_or_default()
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |value| format!("{value:.0} ms"))
}

fn interval(values: Option<[f64; 2]>, unit: &str) -> String {
    values.map_or_else(String::new, |[low, high]| format!(" [{low:.0}–{high:.0}{unit}]"))
}

fn percent(rate: &Rate) -> String {
    match (rate.value, rate.low, rate.high) {
        (Some(value), Some(low), Some(high)) => format!(
            "{:.1}% [{:.1}–{:.1}] of {}",
            value * 100.0,
            low * 100.0,
            high * 100.0,
            rate.total
        ),
        _ => "—".to_owned(),
    }
}

fn usd(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |value| format!("${value:.4}"))
}

fn metric_value(metric: &ParityMetric, value: Option<f64>) -> String {
    let Some(value) = value else { return "—".to_owned() };
    match metric.metric {
        "ttft_p50" | "ttft_p95" => format!("{value:.0} ms"),
        "error_rate" | "pass_rate" => format!("{:.1}%", value * 100.0),
        "cost_per_test" => format!("${value:.5}"),
        _ => format!("{value:.3}"),
    }
}

fn difference(metric: &ParityMetric) -> String {
    let Some(value) = metric.difference else {
        return "—".to_owned();
    };
    let scale = |value: f64| match metric.metric {
        "output_drift" => format!("{value:+.3}"),
        _ if metric.metric.ends_with("_rate") => format!("{:+.1} pt", value * 100.0),
        _ => format!("{:+.1}%", value * 100.0),
    };
    match metric.ci {
        Some([low, high]) => format!("{} [{}, {}]", scale(value), scale(low), scale(high)),
        None => scale(value),
    }
}

fn verdict(metric: &ParityMetric) -> String {
    match (metric.verdict, metric.needed_samples) {
        ("too_few_samples", Some(needed)) => format!("too few samples (about {needed} needed)"),
        ("too_few_samples", None) => "too few samples".to_owned(),
        (verdict, _) => verdict.to_owned(),
    }
}

fn p_value(metric: &ParityMetric) -> String {
    match (metric.p_value, metric.p_value_adjusted) {
        (Some(raw), Some(adjusted)) => format!("{raw:.3} (Holm {adjusted:.3})"),
        (Some(raw), None) => format!("{raw:.3}"),
        _ => "—".to_owned(),
    }
}

/// One cell of a report table: its text, and for HTML a class (a verdict's colour).
struct Cell {
    text: String,
    class: Option<String>,
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Self { text, class: None }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Self::from(text.to_owned())
    }
}

/// A table of the report, its cells computed once and drawn as HTML and as Markdown, so the two
/// formats cannot disagree on a figure.
struct Table {
    headers: &'static [&'static str],
    rows: Vec<Vec<Cell>>,
}

impl Table {
    fn html(&self) -> String {
        let mut out = String::from("<table><thead><tr>");
        for header in self.headers {
            let _ = write!(out, "<th>{}</th>", escape(header));
        }
        out.push_str("</tr></thead><tbody>\n");
        for row in &self.rows {
            out.push_str("<tr>");
            for cell in row {
                match &cell.class {
                    Some(class) => {
                        let _ = write!(out, "<td class=\"{}\">{}</td>", escape(class), escape(&cell.text));
                    }
                    None => {
                        let _ = write!(out, "<td>{}</td>", escape(&cell.text));
                    }
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table>\n");
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!("| {} |\n|", self.headers.join(" | "));
        out.push_str(&"---|".repeat(self.headers.len()));
        out.push('\n');
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|cell| markdown_escape(&cell.text)).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out.push('\n');
        out
    }
}

fn decision_table(analysis: &Analysis) -> Table {
    Table {
        headers: &["Base model", "At parity", "Cheapest", "Fastest", "Most reliable"],
        rows: analysis
            .decisions
            .iter()
            .map(|decision| {
                let or_dash = |name: &Option<String>| Cell::from(name.as_deref().unwrap_or("—"));
                vec![
                    Cell::from(decision.base_model.as_str()),
                    Cell::from(decision.equivalent.join(", ")),
                    or_dash(&decision.cheapest),
                    or_dash(&decision.fastest),
                    or_dash(&decision.most_reliable),
                ]
            })
            .collect(),
    }
}

fn parity_table(comparison: &Parity) -> Table {
    Table {
        headers: &["Metric", "a", "b", "Difference [95% CI]", "p (Holm)", "Verdict"],
        rows: comparison
            .metrics
            .iter()
            .map(|metric| {
                vec![
                    Cell::from(metric.metric),
                    Cell::from(metric_value(metric, metric.a)),
                    Cell::from(metric_value(metric, metric.b)),
                    Cell::from(difference(metric)),
                    Cell::from(p_value(metric)),
                    Cell {
                        text: verdict(metric),
                        class: Some(format!("verdict {}", metric.verdict)),
                    },
                ]
            })
            .collect(),
    }
}

/// What a reader should know before trusting a pair's comparison: the clouds did not report
/// running the same thing.
fn parity_warnings(comparison: &Parity) -> Vec<&'static str> {
    let mut warnings = Vec::new();
    if comparison.versions_differ {
        warnings.push("The two clouds report different model versions.");
    }
    if comparison.service_tiers_differ {
        warnings.push("The two clouds report different service tiers.");
    }
    warnings
}

fn target_table(analysis: &Analysis) -> Table {
    Table {
        headers: &[
            "Target",
            "Done",
            "Error rate",
            "Pass rate",
            "TTFT p50",
            "TTFT p95",
            "Total p50",
            "Tokens/s p50",
            "Cost / 1,000 tests",
        ],
        rows: analysis
            .targets
            .iter()
            .map(|target| {
                vec![
                    Cell::from(target.target.as_str()),
                    Cell::from(format!("{}/{}", target.completed, target.planned)),
                    Cell::from(percent(&target.error_rate)),
                    Cell::from(percent(&target.pass_rate)),
                    Cell::from(format!(
                        "{}{}",
                        ms(target.ttft_ms.p50),
                        interval(target.ttft_ms.p50_ci, "")
                    )),
                    Cell::from(format!(
                        "{}{}",
                        ms(target.ttft_ms.p95),
                        interval(target.ttft_ms.p95_ci, "")
                    )),
                    Cell::from(ms(target.total_ms.p50)),
                    Cell::from(
                        target
                            .output_tokens_per_second
                            .p50
                            .map_or_else(|| "—".to_owned(), |value| format!("{value:.1}")),
                    ),
                    Cell::from(usd(target.cost_usd.per_1000_tests)),
                ]
            })
            .collect(),
    }
}

fn error_table(analysis: &Analysis) -> Table {
    Table {
        headers: &["Target", "Kind", "Count", "Rate [95% CI]"],
        rows: analysis
            .targets
            .iter()
            .flat_map(|target| {
                target.error_rates.iter().map(|(kind, rate)| {
                    vec![
                        Cell::from(target.target.as_str()),
                        Cell::from(kind.as_str()),
                        Cell::from(rate.count.to_string()),
                        Cell::from(percent(rate)),
                    ]
                })
            })
            .collect(),
    }
}

fn leaderboard_table(analysis: &Analysis) -> Table {
    Table {
        headers: &[
            "#",
            "Base model",
            "Pass rate [95% CI]",
            "TTFT p50",
            "Cost / 1,000 tests",
        ],
        rows: analysis
            .leaderboard
            .iter()
            .map(|leader| {
                vec![
                    Cell::from(leader.rank.to_string()),
                    Cell::from(leader.base_model.as_str()),
                    Cell::from(format!(
                        "{:.1}% [{:.1}–{:.1}]",
                        leader.pass_rate * 100.0,
                        leader.low * 100.0,
                        leader.high * 100.0
                    )),
                    Cell::from(ms(leader.ttft_p50_ms)),
                    Cell::from(usd(leader.cost_per_1000_tests)),
                ]
            })
            .collect(),
    }
}

/// What a target's cloud reported about its deployment, for the method section: each list in
/// the order the calls started, marked where it changed during the session.
fn deployment(target: &TargetFigures) -> String {
    let list = |name: &str, values: &[String], changed: bool| {
        if values.is_empty() {
            format!("{name} not reported")
        } else if changed {
            format!("{name} {} (changed during the session)", values.join(" → "))
        } else {
            format!("{name} {}", values.join(", "))
        }
    };
    [
        list("model", &target.reported_models, target.model_changed),
        list("region", &target.reported_regions, target.reported_regions.len() > 1),
        list(
            "system fingerprint",
            &target.system_fingerprints,
            target.fingerprint_changed,
        ),
        list("service tier", &target.service_tiers, target.service_tier_changed),
    ]
    .join("; ")
}

/// What `session show` prints.
pub fn text(analysis: &Analysis) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "session {}  {}", analysis.session_id, analysis.status);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<24} {:>9} {:>8}  {:<28} {:<28} {:<26} {:<26} {:>12}",
        "target", "done", "errors", "error rate", "pass rate", "ttft p50", "ttft p95", "$/1000"
    );
    for target in &analysis.targets {
        let _ = writeln!(
            out,
            "{:<24} {:>9} {:>8}  {:<28} {:<28} {:<26} {:<26} {:>12}",
            target.target,
            format!("{}/{}", target.completed, target.planned),
            target.error_rate.count,
            percent(&target.error_rate),
            percent(&target.pass_rate),
            format!("{}{}", ms(target.ttft_ms.p50), interval(target.ttft_ms.p50_ci, "")),
            format!("{}{}", ms(target.ttft_ms.p95), interval(target.ttft_ms.p95_ci, "")),
            usd(target.cost_usd.per_1000_tests),
        );
        if !target.errors.is_empty() {
            let kinds: Vec<String> = target
                .errors
                .iter()
                .map(|(kind, count)| format!("{kind} {count}"))
                .collect();
            let _ = writeln!(out, "{:<24}   errors: {}", "", kinds.join(", "));
        }
        let changes = [
            ("model", target.model_changed, &target.reported_models),
            (
                "system fingerprint",
                target.fingerprint_changed,
                &target.system_fingerprints,
            ),
            ("service tier", target.service_tier_changed, &target.service_tiers),
        ];
        for (what, changed, values) in changes {
            if changed {
                let _ = writeln!(
                    out,
                    "{:<24}   ! the reported {what} changed during the session: {}",
                    "",
                    values.join(" → ")
                );
            }
        }
    }
    for comparison in &analysis.parity {
        let _ = writeln!(
            out,
            "\nparity {}: {} vs {}",
            comparison.base_model, comparison.a, comparison.b
        );
        for warning in parity_warnings(comparison) {
            let _ = writeln!(out, "  ! {warning}");
        }
        for metric in &comparison.metrics {
            let _ = writeln!(
                out,
                "  {:<14} a {:>10}  b {:>10}  diff {:<30} p {:<22} {}",
                metric.metric,
                metric_value(metric, metric.a),
                metric_value(metric, metric.b),
                difference(metric),
                p_value(metric),
                verdict(metric)
            );
        }
    }
    for decision in &analysis.decisions {
        let _ = writeln!(
            out,
            "\n{}: at parity {}; cheapest {}, fastest {}, most reliable {}",
            decision.base_model,
            decision.equivalent.join(", "),
            decision.cheapest.as_deref().unwrap_or("—"),
            decision.fastest.as_deref().unwrap_or("—"),
            decision.most_reliable.as_deref().unwrap_or("—"),
        );
    }
    if analysis.leaderboard.len() > 1 {
        let _ = writeln!(out, "\nleaderboard (pass rate):");
        for leader in &analysis.leaderboard {
            let _ = writeln!(
                out,
                "  {}. {:<24} {:.1}% [{:.1}–{:.1}]{}",
                leader.rank,
                leader.base_model,
                leader.pass_rate * 100.0,
                leader.low * 100.0,
                leader.high * 100.0,
                if leader.tied_with_leader && leader.rank > 1 {
                    "  (not told apart from the first)"
                } else {
                    ""
                }
            );
        }
    }
    for note in &analysis.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn csv(analysis: &Analysis) -> String {
    let mut out = String::from("case_id,test_id,target,passed,failed,errors,pass_share,self_similarity\n");
    for test in &analysis.tests {
        for target in &test.targets {
            let number = |value: Option<f64>| value.map_or_else(String::new, |value| format!("{value:.4}"));
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{}",
                csv_field(&test.case_id),
                csv_field(&test.test_id),
                csv_field(&target.target),
                target.passed,
                target.failed,
                target.errors,
                number(target.pass_share),
                number(target.self_similarity)
            );
        }
    }
    out
}

fn markdown_escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ").replace('<', "&lt;")
}

fn markdown(analysis: &Analysis, method: &Method) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Evaluation session: {}\n", markdown_escape(&method.suite_name));
    let _ = writeln!(out, "Session `{}`, {}.\n", analysis.session_id, analysis.status);
    let _ = writeln!(out, "## Decision\n");
    if analysis.decisions.is_empty() {
        let _ = writeln!(out, "{NO_DECISION}\n");
    } else {
        out.push_str(&decision_table(analysis).markdown());
    }
    let _ = writeln!(out, "## Parity\n");
    for comparison in &analysis.parity {
        let _ = writeln!(
            out,
            "### {}: {} vs {}\n",
            markdown_escape(&comparison.base_model),
            markdown_escape(&comparison.a),
            markdown_escape(&comparison.b)
        );
        for warning in parity_warnings(comparison) {
            let _ = writeln!(out, "> **{warning}**\n");
        }
        out.push_str(&parity_table(comparison).markdown());
    }
    let _ = writeln!(out, "## Method\n");
    for (name, value) in method_facts(method, analysis) {
        let _ = writeln!(out, "- **{name}**: {}", markdown_escape(&value));
    }
    let _ = writeln!(out, "\n## Targets\n");
    out.push_str(&target_table(analysis).markdown());
    let errors = error_table(analysis);
    if !errors.rows.is_empty() {
        let _ = writeln!(out, "### Errors by kind\n");
        out.push_str(&errors.markdown());
    }
    if analysis.leaderboard.len() > 1 {
        let _ = writeln!(out, "## Leaderboard\n");
        out.push_str(&leaderboard_table(analysis).markdown());
    }
    let _ = writeln!(out, "## Failing answers ({} in all)\n", analysis.failure_count);
    for failure in &analysis.failures {
        let _ = writeln!(
            out,
            "- `{}` on {} (repeat {}): {} — {}\n\n  > {}\n",
            markdown_escape(&failure.case_id),
            markdown_escape(&failure.target),
            failure.repeat + 1,
            failure.outcome,
            markdown_escape(&failure.reason),
            markdown_escape(&failure.answer)
        );
    }
    out
}

const NO_DECISION: &str = "No base model ran on two or more targets: no parity to decide.";

fn method_facts(method: &Method, analysis: &Analysis) -> Vec<(&'static str, String)> {
    let mut facts = vec![
        (
            "Suite",
            format!("{} (SHA-256 {})", method.suite_name, method.suite_hash),
        ),
        ("Tests", format!("{} test(s), {} case(s)", method.tests, method.cases)),
        ("Repeats", method.repeat.to_string()),
        ("Scheduling", method.scheduling.clone()),
        (
            "Dates",
            format!(
                "{} – {}",
                method.started_at,
                method.finished_at.clone().unwrap_or_else(|| "not finished".to_owned())
            ),
        ),
        (
            "Parameters",
            serde_json::to_string(&method.parameters).unwrap_or_default(),
        ),
        (
            "Margins",
            format!(
                "latency ±{}%, pass rate ±{} points, error rate ±{} points",
                analysis.margins.latency_percent, analysis.margins.pass_rate_points, analysis.margins.error_rate_points
            ),
        ),
        (
            "Statistics",
            format!(
                "Wilson 95% intervals for rates; seeded bootstrap (seed {}) 95% intervals for quantiles, paired by (test, repeat); Wilcoxon signed-rank for latency, exact McNemar for pass and error rates, a permutation test of output similarity against the noise floor (similarity between repeats); Holm correction across the session's comparisons (docs/statistics.md)",
                analysis.seed
            ),
        ),
    ];
    for target in &method.targets {
        facts.push((
            "Target",
            format!(
                "{}: {} {}{}{}; reported: {}; price {}",
                target.name,
                target.provider,
                target.model,
                target
                    .region
                    .as_ref()
                    .map(|region| format!(" in {region}"))
                    .unwrap_or_default(),
                target
                    .base_model
                    .as_ref()
                    .map(|base| format!(" (base model {base})"))
                    .unwrap_or_default(),
                analysis
                    .targets
                    .iter()
                    .find(|figures| figures.target == target.name)
                    .map_or_else(|| "model not reported".to_owned(), deployment),
                target.price_source.clone().unwrap_or_else(|| "unknown".to_owned()),
            ),
        ));
    }
    if let Some(budget) = method.budget_usd {
        facts.push(("Budget", format!("${budget:.2} hard cap")));
    }
    if let Some(reason) = &method.stop_reason {
        facts.push(("Stopped", reason.clone()));
    }
    if !method.checks.is_empty() {
        let checks: Vec<String> = method
            .checks
            .iter()
            .map(|(kind, count)| format!("{kind} ×{count}"))
            .collect();
        facts.push(("Checks", checks.join(", ")));
    }
    for note in method.notes.iter().chain(&analysis.notes) {
        facts.push(("Note", note.clone()));
    }
    facts
}

/// A strip per target: a line from the minimum to the maximum, a box from p50 to p95, ticks at
/// p90 and p99, on one shared millisecond axis.
fn latency_svg(title: &str, rows: &[(&str, &Distribution)]) -> String {
    let maximum = rows
        .iter()
        .filter_map(|(_, distribution)| distribution.max)
        .fold(0.0_f64, f64::max);
    if maximum <= 0.0 {
        return String::new();
    }
    let (left, width, row_height) = (180.0, 520.0, 28.0);
    let height = rows.len() as f64 * row_height + 40.0;
    let x = |value: f64| left + value / maximum * width;
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {} {height}\" width=\"100%\" class=\"chart\">",
        escape(title),
        left + width + 20.0
    );
    for (index, (name, distribution)) in rows.iter().enumerate() {
        let middle = 20.0 + index as f64 * row_height + row_height / 2.0;
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"label\">{}</text>",
            left - 8.0,
            middle + 4.0,
            escape(name)
        );
        let (Some(minimum), Some(p50), Some(p95), Some(maximum)) =
            (distribution.min, distribution.p50, distribution.p95, distribution.max)
        else {
            continue;
        };
        let _ = write!(
            svg,
            "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{middle:.1}\" y2=\"{middle:.1}\" class=\"whisker\" stroke=\"currentColor\"/>",
            x(minimum),
            x(maximum)
        );
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"12\" class=\"box\" fill=\"#4c78a8\" fill-opacity=\"0.6\"><title>p50 {p50:.0} ms, p95 {p95:.0} ms</title></rect>",
            x(p50),
            middle - 6.0,
            (x(p95) - x(p50)).max(1.0)
        );
        for value in [distribution.p90, distribution.p99].into_iter().flatten() {
            let _ = write!(
                svg,
                "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1:.1}\" y2=\"{2:.1}\" stroke=\"currentColor\"/>",
                x(value),
                middle - 8.0,
                middle + 8.0
            );
        }
    }
    let _ = write!(
        svg,
        "<text x=\"{left}\" y=\"{:.1}\" class=\"label\">0</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"label\">{maximum:.0} ms</text></svg>",
        height - 6.0,
        left + width,
        height - 6.0
    );
    svg
}

fn html(analysis: &Analysis, method: &Method) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>ModelBench session {}</title>\n<style>\n{}</style>\n</head>\n<body>",
        escape(&analysis.session_id),
        STYLESHEET
    );
    let _ = writeln!(
        out,
        "<header><h1>Evaluation session: {}</h1><p class=\"subtitle mono\">session {} · {}</p></header>",
        escape(&method.suite_name),
        escape(&analysis.session_id),
        escape(&analysis.status)
    );
    let _ = writeln!(out, "<section><h2>Decision</h2>");
    if analysis.decisions.is_empty() {
        let _ = writeln!(out, "<p>{NO_DECISION}</p>");
    } else {
        out.push_str(&decision_table(analysis).html());
    }
    for comparison in &analysis.parity {
        let _ = writeln!(
            out,
            "<h3>{}: {} vs {}</h3>",
            escape(&comparison.base_model),
            escape(&comparison.a),
            escape(&comparison.b),
        );
        for warning in parity_warnings(comparison) {
            let _ = writeln!(out, "<p class=\"warning\">{warning}</p>");
        }
        out.push_str(&parity_table(comparison).html());
    }
    let _ = writeln!(out, "</section>\n<section><h2>Method</h2><dl class=\"facts\">");
    for (name, value) in method_facts(method, analysis) {
        let _ = writeln!(out, "<dt>{name}</dt><dd>{}</dd>", escape(&value));
    }
    let _ = writeln!(out, "</dl></section>\n<section><h2>Targets</h2>");
    out.push_str(&target_table(analysis).html());
    let ttft: Vec<(&str, &Distribution)> = analysis
        .targets
        .iter()
        .map(|target| (target.target.as_str(), &target.ttft_ms))
        .collect();
    let total: Vec<(&str, &Distribution)> = analysis
        .targets
        .iter()
        .map(|target| (target.target.as_str(), &target.total_ms))
        .collect();
    let _ = writeln!(
        out,
        "<h3>Time to first token</h3><p class=\"hint\">line: min–max; box: p50–p95; ticks: p90, p99</p>{}<h3>Total time</h3>{}",
        latency_svg("time to first token per target", &ttft),
        latency_svg("total time per target", &total)
    );
    let _ = writeln!(out, "<h3>Errors by kind</h3>{}</section>", error_table(analysis).html());
    if analysis.leaderboard.len() > 1 {
        let _ = writeln!(
            out,
            "<section><h2>Leaderboard</h2>{}</section>",
            leaderboard_table(analysis).html()
        );
    }
    let _ = writeln!(out, "<section><h2>Tests</h2><table><thead><tr><th>Test</th>");
    for target in &analysis.targets {
        let _ = write!(out, "<th>{}</th>", escape(&target.target));
    }
    let _ = writeln!(out, "</tr></thead><tbody>");
    for test in &analysis.tests {
        let _ = write!(out, "<tr><td class=\"mono\">{}</td>", escape(&test.case_id));
        for target in &test.targets {
            let _ = write!(
                out,
                "<td>{} pass / {} fail{}{}</td>",
                target.passed,
                target.failed,
                if target.errors > 0 {
                    format!(" / {} error", target.errors)
                } else {
                    String::new()
                },
                target
                    .self_similarity
                    .map(|similarity| format!(" · similarity {similarity:.2}"))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(out, "</tr>");
    }
    let _ = writeln!(
        out,
        "</tbody></table></section>\n<section><h2>Failing answers ({} in all)</h2>",
        analysis.failure_count
    );
    for failure in &analysis.failures {
        let _ = writeln!(
            out,
            "<details><summary><span class=\"mono\">{}</span> on {} (repeat {}): {} — {}</summary><pre>{}</pre></details>",
            escape(&failure.case_id),
            escape(&failure.target),
            failure.repeat + 1,
            escape(&failure.outcome),
            escape(&failure.reason),
            escape(&failure.answer)
        );
    }
    let _ = writeln!(out, "</section>\n</body>\n</html>");
    out
}
