//! The HTML export: one self-contained page to read offline, print or archive.
//!
//! The stylesheet (`assets/report/report.css`) is built in and inlined; the charts are SVG drawn
//! here. The page has no script and refers to nothing outside itself: no fonts, images, links
//! or `url()`.
//!
//! Every text a user or a model wrote is escaped, `:` included, so an answer holding a URL shows
//! as plain text, never a link, and the page's source never contains a `scheme://` address that
//! a mail filter or a link scanner could follow.

use std::fmt::Write;

use super::{
    DiffKind, Outcome, Report, ResponseSection, SpanKind, TargetSection, format_count, format_ms, format_number,
    format_target_cost, format_timing, format_usd, parameter_pairs,
};

pub(crate) const STYLESHEET: &str = include_str!("../../../../assets/report/report.css");

/// The report as one HTML page.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    // Writing to a `String` cannot fail.
    let _ = write_page(&mut out, report);
    out
}

fn write_page(out: &mut String, report: &Report) -> std::fmt::Result {
    let run = &report.run;
    writeln!(out, "<!DOCTYPE html>")?;
    writeln!(out, "<html lang=\"en\">")?;
    writeln!(out, "<head>")?;
    writeln!(out, "<meta charset=\"utf-8\">")?;
    writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(
        out,
        "<meta name=\"generator\" content=\"{}\">",
        escape(&generator(report))
    )?;
    writeln!(out, "<title>ModelBench report: run {}</title>", escape(&run.id))?;
    writeln!(out, "<style>\n{STYLESHEET}</style>")?;
    writeln!(out, "</head>")?;
    writeln!(out, "<body>")?;
    writeln!(out, "<header>")?;
    writeln!(out, "<h1>ModelBench report</h1>")?;
    writeln!(out, "<p class=\"subtitle mono\">run {}</p>", escape(&run.id))?;
    writeln!(out, "<dl class=\"facts\">")?;
    fact(out, "Started", &format!("{} UTC", run.started_at))?;
    let finished = match &run.finished_at {
        Some(finished_at) => format!("{finished_at} UTC ({})", run.status),
        None => format!("not finished ({})", run.status),
    };
    fact(out, "Finished", &finished)?;
    fact(out, "Responses", &run.responses_line())?;
    fact(out, "Repeat", &run.repeat.to_string())?;
    let parameters: Vec<String> = parameter_pairs(&run.parameters)
        .into_iter()
        .map(|(name, value)| format!("{name} = {value}"))
        .collect();
    fact(
        out,
        "Parameters",
        &if parameters.is_empty() {
            "the clouds' defaults".to_owned()
        } else {
            parameters.join("; ")
        },
    )?;
    fact(
        out,
        "Generated",
        &format!("{} UTC by {}", report.generator.generated_at, generator(report)),
    )?;
    writeln!(out, "</dl>")?;
    writeln!(out, "</header>")?;

    writeln!(out, "<main>")?;
    write_targets(out, report)?;
    write_charts(out, report)?;
    for prompt in &report.prompts {
        writeln!(out, "<section class=\"prompt\">")?;
        writeln!(out, "<h2>Prompt {}</h2>", prompt.index + 1)?;
        if let Some(system) = &prompt.system {
            writeln!(out, "<h4>System</h4>")?;
            writeln!(out, "<pre class=\"text\">{}</pre>", escape(system))?;
        }
        for message in &prompt.messages {
            let role = match message.role {
                crate::model::request::Role::User => "User",
                crate::model::request::Role::Assistant => "Assistant",
            };
            writeln!(out, "<h4>{role}</h4>")?;
            writeln!(out, "<pre class=\"text\">{}</pre>", escape(&message.content))?;
        }

        writeln!(out, "<h3>Metrics</h3>")?;
        writeln!(out, "<div class=\"table-scroll\"><table>")?;
        writeln!(
            out,
            "<thead><tr><th>Response</th><th>Model reported</th><th>Outcome</th><th class=\"number\">TTFT</th>\
             <th class=\"number\">Total</th><th class=\"number\">Output tokens</th><th class=\"number\">Tokens/s</th>\
             <th class=\"number\">Cost</th><th>Price source</th></tr></thead><tbody>"
        )?;
        for &position in &prompt.responses {
            let response = &report.responses[position];
            writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"number\">{}</td><td class=\"number\">{}</td>\
                 <td class=\"number\">{}</td><td class=\"number\">{}</td><td class=\"number\">{}</td><td class=\"meta\">{}</td></tr>",
                escape(&report.response_label(position)),
                escape(response.reported_model.as_deref().unwrap_or("")),
                outcome_badge(response),
                escape(&format_timing(
                    response.metrics.time_to_first_token_ms,
                    &response.metrics
                )),
                escape(&format_timing(Some(response.metrics.total_ms), &response.metrics)),
                escape(&response.usage.output_tokens_text()),
                format_number(response.metrics.output_tokens_per_second, 1),
                escape(&format_usd(response.cost.usd)),
                escape(response.cost.source.as_deref().unwrap_or("")),
            )?;
        }
        writeln!(out, "</tbody></table></div>")?;

        writeln!(out, "<h3>Similarity</h3>")?;
        match &prompt.similarity {
            None => writeln!(
                out,
                "<p class=\"meta\">Fewer than two answers with text to compare.</p>"
            )?,
            Some(similarity) => {
                writeln!(out, "<div class=\"table-scroll\"><table class=\"matrix\">")?;
                write!(out, "<thead><tr><th class=\"number\">#</th><th>Answer</th>")?;
                for number in 1..=similarity.responses.len() {
                    write!(out, "<th class=\"number\">{number}</th>")?;
                }
                writeln!(out, "</tr></thead><tbody>")?;
                for (row, &position) in similarity.responses.iter().enumerate() {
                    write!(
                        out,
                        "<tr><td class=\"number\">{}</td><th>{}</th>",
                        row + 1,
                        escape(&report.response_label(position))
                    )?;
                    for (column, ratio) in similarity.ratios[row].iter().enumerate() {
                        if row == column {
                            write!(out, "<td class=\"ratio diagonal\">{ratio:.2}</td>")?;
                        } else {
                            // Shade by similarity: the eye finds the odd one out before reading.
                            let alpha = (ratio.clamp(0.0, 1.0) * 0.5 * 100.0).round() / 100.0;
                            write!(
                                out,
                                "<td class=\"ratio\" style=\"background-color: rgba(47, 111, 176, {alpha})\">{ratio:.2}</td>"
                            )?;
                        }
                    }
                    writeln!(out, "</tr>")?;
                }
                writeln!(out, "</tbody></table></div>")?;
                let mut notes = vec![format!(
                    "Mean similarity {:.2} (diff mode: {}).",
                    similarity.mean, similarity.mode
                )];
                if let Some(majority) = similarity.majority {
                    notes.push(format!("Majority answer: {}.", report.response_label(majority)));
                }
                if let Some(outlier) = similarity.outlier {
                    notes.push(format!("Outlier: {}.", report.response_label(outlier)));
                }
                if !similarity.same_as_majority.is_empty() {
                    let same: Vec<String> = similarity
                        .same_as_majority
                        .iter()
                        .map(|&position| report.response_label(position))
                        .collect();
                    notes.push(format!("Same words as the majority: {}.", same.join(", ")));
                }
                writeln!(out, "<p class=\"meta\">{}</p>", escape(&notes.join(" ")))?;
            }
        }

        if !prompt.diffs.is_empty() {
            writeln!(out, "<h3>Diffs of interest</h3>")?;
            writeln!(
                out,
                "<p class=\"legend\">Only in the first answer (the majority): <del>like this</del>; \
                 only in the second: <ins>like this</ins>.</p>"
            )?;
            for diff in &prompt.diffs {
                let kind = match diff.kind {
                    DiffKind::OutlierVsMajority => " <span class=\"badge outlier\">outlier</span>",
                    DiffKind::VersusMajority | DiffKind::Pair => "",
                };
                writeln!(
                    out,
                    "<h4>{} → {}{kind} <span class=\"meta\">similarity {:.2}</span></h4>",
                    escape(&report.response_label(diff.base)),
                    escape(&report.response_label(diff.other)),
                    diff.ratio
                )?;
                write!(out, "<pre class=\"text diff\">")?;
                for span in &diff.spans {
                    match span.kind {
                        SpanKind::Equal => write!(out, "{}", escape(&span.text))?,
                        SpanKind::Insert => write!(out, "<ins>{}</ins>", escape(&span.text))?,
                        SpanKind::Delete => write!(out, "<del>{}</del>", escape(&span.text))?,
                    }
                }
                writeln!(out, "</pre>")?;
            }
        }

        writeln!(out, "<h3>Answers</h3>")?;
        for &position in &prompt.responses {
            write_answer(out, report, position)?;
        }
        writeln!(out, "</section>")?;
    }

    writeln!(out, "<section class=\"method\">")?;
    writeln!(out, "<h2>Method</h2>")?;
    writeln!(out, "<dl>")?;
    for note in &report.method {
        writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(&note.topic), escape(&note.text))?;
    }
    writeln!(out, "</dl>")?;
    writeln!(out, "</section>")?;
    writeln!(out, "</main>")?;
    writeln!(
        out,
        "<footer>Generated {} UTC by {}. Report schema {}.</footer>",
        escape(&report.generator.generated_at),
        escape(&generator(report)),
        report.schema_version
    )?;
    writeln!(out, "</body>")?;
    writeln!(out, "</html>")
}

fn generator(report: &Report) -> String {
    format!("{} {}", report.generator.name, report.generator.version)
}

fn fact(out: &mut String, name: &str, value: &str) -> std::fmt::Result {
    writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(name), escape(value))
}

fn write_targets(out: &mut String, report: &Report) -> std::fmt::Result {
    writeln!(out, "<section>")?;
    writeln!(out, "<h2>Targets</h2>")?;
    writeln!(out, "<div class=\"table-scroll\"><table>")?;
    writeln!(
        out,
        "<thead><tr><th>Target</th><th>Provider</th><th>Model</th><th>API</th><th>Region / deployment</th>\
         <th>Reported model</th></tr></thead><tbody>"
    )?;
    for target in &report.targets {
        let label = target
            .label
            .as_deref()
            .map(|label| format!(" <span class=\"meta\">{}</span>", escape(label)))
            .unwrap_or_default();
        writeln!(
            out,
            "<tr><td>{}{label}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
            escape(&target.name),
            escape(&target.provider),
            escape(&target.model),
            escape(&target.api),
            escape(&target.place()),
            escape(&target.reported_models.join(", ")),
        )?;
    }
    writeln!(out, "</tbody></table></div>")?;
    writeln!(out, "<h3>Per target</h3>")?;
    if report.is_batch() {
        writeln!(
            out,
            "<p class=\"meta\">Medians over each target's responses; tokens and costs summed.</p>"
        )?;
    }
    writeln!(out, "<div class=\"table-scroll\"><table>")?;
    writeln!(
        out,
        "<thead><tr><th>Target</th><th class=\"number\">Responses</th><th class=\"number\">Failed</th>\
         <th class=\"number\">Partial</th><th class=\"number\">Refusals</th><th class=\"number\">TTFT</th><th class=\"number\">Total</th>\
         <th class=\"number\">Tokens/s</th><th class=\"number\">Output tokens</th><th class=\"number\">Cost</th></tr></thead><tbody>"
    )?;
    for target in &report.targets {
        let summary = &target.summary;
        writeln!(
            out,
            "<tr><td>{}</td><td class=\"number\">{}</td><td class=\"number\">{}</td><td class=\"number\">{}</td>\
             <td class=\"number\">{}</td><td class=\"number\">{}</td><td class=\"number\">{}</td><td class=\"number\">{}</td>\
             <td class=\"number\">{}</td><td class=\"number\">{}</td></tr>",
            escape(&target.name),
            summary.responses,
            summary.failed,
            summary.partial,
            summary.refusals,
            escape(&format_ms(summary.median_time_to_first_token_ms)),
            escape(&format_ms(summary.median_total_ms)),
            format_number(summary.median_output_tokens_per_second, 1),
            format_count(summary.output_tokens),
            escape(&format_target_cost(summary)),
        )?;
    }
    writeln!(out, "</tbody></table></div>")?;
    writeln!(out, "</section>")
}

fn write_charts(out: &mut String, report: &Report) -> std::fmt::Result {
    if report.targets.is_empty() {
        return Ok(());
    }
    writeln!(out, "<section>")?;
    writeln!(out, "<h2>Latency and cost</h2>")?;
    let over = if report.is_batch() {
        " (medians over each target's responses)"
    } else {
        ""
    };
    writeln!(out, "<div class=\"charts\">")?;
    writeln!(out, "<figure>")?;
    writeln!(out, "<figcaption>Latency per target{over}</figcaption>")?;
    write!(out, "{}", latency_chart(&report.targets))?;
    writeln!(
        out,
        "<p class=\"legend\"><span class=\"swatch ttft\"></span>time to first token\
         <span class=\"swatch total\"></span>total time</p>"
    )?;
    writeln!(out, "</figure>")?;
    writeln!(out, "<figure>")?;
    let summed = if report.is_batch() {
        " (sum over each target's responses)"
    } else {
        ""
    };
    writeln!(out, "<figcaption>Cost per target{summed}</figcaption>")?;
    write!(out, "{}", cost_chart(&report.targets))?;
    writeln!(out, "</figure>")?;
    writeln!(out, "</div>")?;
    writeln!(out, "</section>")
}

fn write_answer(out: &mut String, report: &Report, position: usize) -> std::fmt::Result {
    let response = &report.responses[position];
    writeln!(out, "<article class=\"answer\">")?;
    let mut badges = String::new();
    if response.outcome != Outcome::Complete {
        badges.push(' ');
        badges.push_str(&outcome_badge(response));
    }
    if response.is_majority {
        badges.push_str(" <span class=\"badge majority\">majority</span>");
    }
    if response.is_outlier {
        badges.push_str(" <span class=\"badge outlier\">outlier</span>");
    }
    writeln!(
        out,
        "<h4>{}{badges} <span class=\"meta\">{} · {}</span></h4>",
        escape(&report.response_label(position)),
        escape(&response.provider),
        escape(response.reported_model.as_deref().unwrap_or(&response.model)),
    )?;
    if let Some(error) = &response.error {
        writeln!(
            out,
            "<p class=\"error\"><strong>{}</strong>: {}</p>",
            escape(&error.kind),
            escape(&error.describe())
        )?;
    }
    if response.outcome == Outcome::Partial {
        writeln!(
            out,
            "<p class=\"meta\">The answer was cut short; what arrived is kept below.</p>"
        )?;
    }
    if response.text.is_empty() {
        writeln!(out, "<p class=\"meta\">No text.</p>")?;
    } else {
        writeln!(out, "<pre class=\"text\">{}</pre>", escape(&response.text))?;
    }
    writeln!(out, "</article>")
}

fn outcome_badge(response: &ResponseSection) -> String {
    let kind = response.outcome.as_str();
    if let Some(note) = response.outcome_note() {
        return format!(
            "<span class=\"badge {kind}\">{kind}</span> <span class=\"meta\">{}</span>",
            escape(note)
        );
    }
    match &response.error {
        Some(error) if response.outcome != Outcome::Complete => format!(
            "<span class=\"badge {kind}\">{kind}</span> <span class=\"meta\">{}</span>",
            escape(&error.kind)
        ),
        _ => format!("<span class=\"badge {kind}\">{kind}</span>"),
    }
}

/// Chart geometry, in SVG user units (the chart scales to its box).
const CHART_WIDTH: f64 = 640.0;
const LABEL_WIDTH: f64 = 170.0;
const VALUE_WIDTH: f64 = 90.0;
const CHART_TOP: f64 = 8.0;
/// Longest target name drawn in full; longer ones are cut with an ellipsis (the table has them).
const LABEL_CHARACTERS: usize = 24;

/// Two bars per target: time to first token over total time, on one scale.
fn latency_chart(targets: &[TargetSection]) -> String {
    let row_height = 34.0;
    let bar_height = 12.0;
    let height = CHART_TOP * 2.0 + row_height * targets.len() as f64;
    let scale = targets
        .iter()
        .filter_map(|target| target.summary.median_total_ms)
        .chain(
            targets
                .iter()
                .filter_map(|target| target.summary.median_time_to_first_token_ms),
        )
        .fold(0.0_f64, f64::max);
    let mut svg = chart_open(height, "Latency per target: time to first token and total time");
    for (row, target) in targets.iter().enumerate() {
        let top = CHART_TOP + row_height * row as f64;
        push_label(&mut svg, &target.name, top + row_height / 2.0);
        let bars = [
            (
                "bar-ttft",
                "time to first token",
                target.summary.median_time_to_first_token_ms,
                top + 4.0,
            ),
            (
                "bar-total",
                "total",
                target.summary.median_total_ms,
                top + 4.0 + bar_height + 2.0,
            ),
        ];
        for (class, what, value, bar_top) in bars {
            push_bar(
                &mut svg,
                class,
                what,
                &target.name,
                value,
                scale,
                bar_top,
                bar_height,
                &format_ms(value),
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// One bar per target: what its responses cost. Targets without a known cost get a note.
fn cost_chart(targets: &[TargetSection]) -> String {
    let row_height = 26.0;
    let bar_height = 16.0;
    let height = CHART_TOP * 2.0 + row_height * targets.len() as f64;
    let scale = targets
        .iter()
        .filter_map(|target| target.summary.cost_usd)
        .fold(0.0_f64, f64::max);
    let mut svg = chart_open(height, "Cost per target in US dollars");
    for (row, target) in targets.iter().enumerate() {
        let top = CHART_TOP + row_height * row as f64;
        push_label(&mut svg, &target.name, top + row_height / 2.0);
        let value_text = match target.summary.cost_usd {
            Some(_) => format_target_cost(&target.summary),
            None => "no cost known".to_owned(),
        };
        push_bar(
            &mut svg,
            "bar-cost",
            "cost",
            &target.name,
            target.summary.cost_usd,
            scale,
            top + (row_height - bar_height) / 2.0,
            bar_height,
            &value_text,
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn chart_open(height: f64, title: &str) -> String {
    // Inline SVG in HTML needs no namespace declaration, which keeps the page free of URLs.
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {CHART_WIDTH} {height}\" role=\"img\" aria-label=\"{}\">\n<title>{}</title>\n",
        escape(title),
        escape(title)
    );
    let _ = writeln!(
        svg,
        "<line class=\"axis\" x1=\"{LABEL_WIDTH}\" y1=\"0\" x2=\"{LABEL_WIDTH}\" y2=\"{height}\"/>"
    );
    svg
}

fn push_label(svg: &mut String, name: &str, middle: f64) {
    let shown: String = if name.chars().count() > LABEL_CHARACTERS {
        name.chars()
            .take(LABEL_CHARACTERS - 1)
            .chain(std::iter::once('…'))
            .collect()
    } else {
        name.to_owned()
    };
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"{middle:.1}\" text-anchor=\"end\" dominant-baseline=\"middle\">{}</text>",
        LABEL_WIDTH - 8.0,
        escape(&shown)
    );
}

#[expect(
    clippy::too_many_arguments,
    reason = "one bar's geometry and texts, drawn in one place"
)]
fn push_bar(
    svg: &mut String,
    class: &str,
    what: &str,
    name: &str,
    value: Option<f64>,
    scale: f64,
    top: f64,
    height: f64,
    value_text: &str,
) {
    let room = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH;
    let width = match value {
        Some(value) if scale > 0.0 => (value / scale * room).max(1.0),
        _ => 0.0,
    };
    if value.is_some() {
        let _ = writeln!(
            svg,
            "<rect class=\"{class}\" x=\"{LABEL_WIDTH}\" y=\"{top:.1}\" width=\"{width:.1}\" height=\"{height}\"><title>{}</title></rect>",
            escape(&format!("{name}: {what} {value_text}"))
        );
    }
    let _ = writeln!(
        svg,
        "<text class=\"value\" x=\"{:.1}\" y=\"{:.1}\" dominant-baseline=\"middle\">{}</text>",
        LABEL_WIDTH + width + 6.0,
        top + height / 2.0,
        escape(value_text)
    );
}

/// Text made safe anywhere in the page: element content and quoted attributes. `:` is escaped
/// too, so no text from a model or a user can put a `scheme://` address into the page's source.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + text.len() / 8);
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            ':' => escaped.push_str("&#58;"),
            // Control characters other than tab and line breaks are not allowed in HTML text.
            character if character.is_control() && !matches!(character, '\n' | '\r' | '\t') => {
                escaped.push('\u{fffd}');
            }
            character => escaped.push(character),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup_and_no_address() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"https://evil.example\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;https&#58;//evil.example&quot;"
        );
        assert_eq!(escape("a\u{0}b\tc"), "a\u{fffd}b\tc");
    }
}
