//! The Markdown export: the report as a readable document for a wiki, a ticket or a review.
//!
//! Everything a model or a user wrote (prompts, answers, errors) goes into fenced code blocks or
//! escaped table cells, so no answer can turn into Markdown or HTML in a reader's renderer.
//! Diffs use `git diff --word-diff=plain` notation: `[-deleted-]` and `{+inserted+}`.

use std::fmt::Write;

use super::{
    DiffKind, Outcome, Report, SpanKind, format_count, format_ms, format_number, format_target_cost, format_timing,
    format_usd, parameter_pairs,
};

/// The report as Markdown.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    // Writing to a `String` cannot fail.
    let _ = write_report(&mut out, report);
    out
}

fn write_report(out: &mut String, report: &Report) -> std::fmt::Result {
    let run = &report.run;
    writeln!(out, "# ModelBench report: run {}", run.id)?;
    writeln!(out)?;
    writeln!(out, "- Started: {} UTC", run.started_at)?;
    match &run.finished_at {
        Some(finished_at) => writeln!(out, "- Finished: {finished_at} UTC ({})", cell(&run.status))?,
        None => writeln!(out, "- Finished: not finished ({})", cell(&run.status))?,
    }
    writeln!(out, "- Responses: {}", run.responses_line())?;
    writeln!(out, "- Repeat: {}", run.repeat)?;
    writeln!(
        out,
        "- Generated: {} UTC by {} {}",
        report.generator.generated_at, report.generator.name, report.generator.version
    )?;
    writeln!(out)?;

    writeln!(out, "## Parameters")?;
    writeln!(out)?;
    let pairs = parameter_pairs(&run.parameters);
    if pairs.is_empty() {
        writeln!(out, "The clouds' defaults.")?;
    }
    for (name, value) in pairs {
        writeln!(out, "- {name}: {}", cell(&value))?;
    }
    writeln!(out)?;

    writeln!(out, "## Targets")?;
    writeln!(out)?;
    writeln!(
        out,
        "| Target | Provider | Model | API | Region / deployment | Reported model |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|")?;
    for target in &report.targets {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&target.name),
            cell(&target.provider),
            cell(&target.model),
            cell(&target.api),
            cell(&target.place()),
            cell(&target.reported_models.join(", ")),
        )?;
    }
    writeln!(out)?;
    writeln!(out, "### Per target")?;
    writeln!(out)?;
    if report.is_batch() {
        writeln!(out, "Medians over each target's responses; tokens and costs summed.")?;
        writeln!(out)?;
    }
    writeln!(
        out,
        "| Target | Responses | Failed | Partial | Refusals | TTFT | Total | Tokens/s | Output tokens | Cost |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    for target in &report.targets {
        let summary = &target.summary;
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&target.name),
            summary.responses,
            summary.failed,
            summary.partial,
            summary.refusals,
            format_ms(summary.median_time_to_first_token_ms),
            format_ms(summary.median_total_ms),
            format_number(summary.median_output_tokens_per_second, 1),
            format_count(summary.output_tokens),
            cell(&format_target_cost(summary)),
        )?;
    }
    writeln!(out)?;

    for prompt in &report.prompts {
        writeln!(out, "## Prompt {}", prompt.index + 1)?;
        writeln!(out)?;
        if let Some(system) = &prompt.system {
            writeln!(out, "System:")?;
            writeln!(out)?;
            fenced(out, "text", system)?;
        }
        for message in &prompt.messages {
            writeln!(out, "{}:", capitalised(message.role.as_str()))?;
            writeln!(out)?;
            fenced(out, "text", &message.content)?;
        }

        writeln!(out, "### Metrics")?;
        writeln!(out)?;
        writeln!(
            out,
            "| Response | Model reported | Outcome | TTFT | Total | Output tokens | Tokens/s | Cost | Price source |"
        )?;
        writeln!(out, "|---|---|---|---:|---:|---:|---:|---:|---|")?;
        for &position in &prompt.responses {
            let response = &report.responses[position];
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&report.response_label(position)),
                cell(response.reported_model.as_deref().unwrap_or("")),
                match response.outcome_note() {
                    Some(note) => format!(
                        "{} ({note})",
                        outcome_text(
                            response.outcome,
                            response.error.as_ref().map(|error| error.kind.as_str())
                        )
                    ),
                    None => outcome_text(
                        response.outcome,
                        response.error.as_ref().map(|error| error.kind.as_str())
                    ),
                },
                format_timing(response.metrics.time_to_first_token_ms, &response.metrics),
                format_timing(Some(response.metrics.total_ms), &response.metrics),
                cell(&response.usage.output_tokens_text()),
                format_number(response.metrics.output_tokens_per_second, 1),
                format_usd(response.cost.usd),
                cell(response.cost.source.as_deref().unwrap_or("")),
            )?;
        }
        writeln!(out)?;

        writeln!(out, "### Similarity")?;
        writeln!(out)?;
        match &prompt.similarity {
            None => writeln!(out, "Fewer than two answers with text to compare.")?,
            Some(similarity) => {
                let numbers: Vec<String> = (1..=similarity.responses.len())
                    .map(|number| number.to_string())
                    .collect();
                writeln!(out, "| # | Answer | {} |", numbers.join(" | "))?;
                writeln!(out, "|---:|---|{}", "---:|".repeat(numbers.len()))?;
                for ((number, &position), row) in numbers.iter().zip(&similarity.responses).zip(&similarity.ratios) {
                    let ratios: Vec<String> = row.iter().map(|ratio| format!("{ratio:.2}")).collect();
                    writeln!(
                        out,
                        "| {number} | {} | {} |",
                        cell(&report.response_label(position)),
                        ratios.join(" | ")
                    )?;
                }
                writeln!(out)?;
                writeln!(
                    out,
                    "Mean similarity {:.2} (diff mode: {}).",
                    similarity.mean,
                    cell(&similarity.mode)
                )?;
                if let Some(majority) = similarity.majority {
                    writeln!(out, "Majority answer: {}.", cell(&report.response_label(majority)))?;
                }
                if let Some(outlier) = similarity.outlier {
                    writeln!(out, "Outlier: {}.", cell(&report.response_label(outlier)))?;
                }
                if !similarity.same_as_majority.is_empty() {
                    let same: Vec<String> = similarity
                        .same_as_majority
                        .iter()
                        .map(|&position| cell(&report.response_label(position)))
                        .collect();
                    writeln!(out, "Same words as the majority: {}.", same.join(", "))?;
                }
            }
        }
        writeln!(out)?;

        if !prompt.diffs.is_empty() {
            writeln!(out, "### Diffs of interest")?;
            writeln!(out)?;
            for diff in &prompt.diffs {
                let kind = match diff.kind {
                    DiffKind::OutlierVsMajority => " (outlier)",
                    DiffKind::VersusMajority | DiffKind::Pair => "",
                };
                writeln!(
                    out,
                    "#### {} → {}{kind}, similarity {:.2}",
                    cell(&report.response_label(diff.base)),
                    cell(&report.response_label(diff.other)),
                    diff.ratio
                )?;
                writeln!(out)?;
                let mut text = String::new();
                for span in &diff.spans {
                    match span.kind {
                        SpanKind::Equal => text.push_str(&span.text),
                        SpanKind::Delete => write!(text, "[-{}-]", span.text)?,
                        SpanKind::Insert => write!(text, "{{+{}+}}", span.text)?,
                    }
                }
                fenced(out, "text", &text)?;
            }
        }

        writeln!(out, "### Answers")?;
        writeln!(out)?;
        for &position in &prompt.responses {
            let response = &report.responses[position];
            let mut notes = vec![cell(&response.provider), cell(&response.model)];
            if response.outcome != Outcome::Complete {
                notes.push(format!("**{}**", response.outcome.as_str()));
            }
            if response.is_majority {
                notes.push("majority".to_owned());
            }
            if response.is_outlier {
                notes.push("outlier".to_owned());
            }
            writeln!(
                out,
                "#### {} ({})",
                cell(&report.response_label(position)),
                notes.join(", ")
            )?;
            writeln!(out)?;
            if let Some(error) = &response.error {
                writeln!(out, "Error ({}):", cell(&error.kind))?;
                writeln!(out)?;
                fenced(out, "text", &error.describe())?;
            }
            if response.text.is_empty() {
                writeln!(out, "No text.")?;
                writeln!(out)?;
            } else {
                fenced(out, "text", &response.text)?;
            }
        }
    }

    writeln!(out, "## Method")?;
    writeln!(out)?;
    for note in &report.method {
        writeln!(out, "- **{}.** {}", note.topic, note.text)?;
    }
    Ok(())
}

fn outcome_text(outcome: Outcome, error_kind: Option<&str>) -> String {
    match (outcome, error_kind) {
        (Outcome::Complete, _) => "complete".to_owned(),
        (outcome, Some(kind)) => format!("**{}** ({})", outcome.as_str(), cell(kind)),
        (outcome, None) => format!("**{}**", outcome.as_str()),
    }
}

fn capitalised(word: &str) -> String {
    let mut characters = word.chars();
    characters
        .next()
        .map(|first| first.to_uppercase().chain(characters).collect())
        .unwrap_or_default()
}

/// `text` in a fenced block whose fence is longer than any backtick run inside, so the text can
/// never close it.
fn fenced(out: &mut String, language: &str, text: &str) -> std::fmt::Result {
    let longest_run = text
        .split(|character| character != '`')
        .map(str::len)
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest_run.max(2) + 1);
    writeln!(out, "{fence}{language}")?;
    writeln!(out, "{}", text.strip_suffix('\n').unwrap_or(text))?;
    writeln!(out, "{fence}")?;
    writeln!(out)
}

/// Text for a table cell or a line of prose: one line, with Markdown and HTML punctuation
/// escaped so it shows as typed.
fn cell(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '\n' | '\r' => escaped.push(' '),
            '\\' | '|' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '&' => {
                escaped.push('\\');
                escaped.push(character);
            }
            _ => escaped.push(character),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_outgrow_the_text() {
        let mut out = String::new();
        fenced(&mut out, "text", "a ```` b").expect("write");
        assert_eq!(out, "`````text\na ```` b\n`````\n\n");
    }

    #[test]
    fn cells_stay_one_line_and_literal() {
        assert_eq!(cell("a|b\n<i>_x_</i>"), "a\\|b \\<i\\>\\_x\\_\\</i\\>");
    }
}
