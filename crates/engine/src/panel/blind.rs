//! The same answer looks the same whichever cloud sent it: before a rater (or a judge) sees an
//! answer, its line endings, trailing whitespace, blank-line runs and Markdown dialect are
//! normalised, so no formatting habit of one cloud's serving stack tells a rater where an answer
//! came from. The words are never changed; code blocks keep their content byte for byte (only
//! their fence is normalised).

/// `text` normalised for blind display: LF line endings, no trailing whitespace, no zero-width
/// characters or byte-order marks, non-breaking spaces as spaces, one blank line at most between
/// blocks, none at the ends; outside code blocks `*`/`+` bullets as `-`, `1)` as `1.`, setext
/// headings as `#`/`##`, closing `#`s dropped, `__bold__` as `**bold**`, thematic breaks as
/// `---`; code fences as three backticks.
pub fn normalise_answer(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<String> = text
        .split('\n')
        .map(|line| {
            line.chars()
                .filter(|c| !matches!(c, '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'))
                .map(|c| if c == '\u{00A0}' || c == '\u{202F}' { ' ' } else { c })
                .collect::<String>()
                .trim_end()
                .to_owned()
        })
        .collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut fence: Option<(char, usize)> = None;
    for line in lines {
        if let Some((mark, len)) = fence {
            if let Some((closing, closing_len, rest)) = fence_marker(&line)
                && closing == mark
                && closing_len >= len
                && rest.is_empty()
            {
                fence = None;
                out.push(indent_of(&line).to_owned() + "```");
            } else {
                out.push(line);
            }
            continue;
        }
        if let Some((mark, len, info)) = fence_marker(&line) {
            fence = Some((mark, len));
            out.push(format!("{}```{info}", indent_of(&line)));
            continue;
        }
        // A setext underline turns the line above into a heading.
        if let Some(level) = setext_level(&line)
            && let Some(previous) = out.last()
            && !previous.trim().is_empty()
            && !starts_block(previous)
        {
            let heading = out.pop().unwrap_or_default();
            out.push(format!("{} {}", "#".repeat(level), heading.trim()));
            continue;
        }
        if line.trim().is_empty() {
            if out.last().is_some_and(|last| !last.is_empty()) {
                out.push(String::new());
            }
            continue;
        }
        out.push(normalise_line(&line));
    }
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    let start = out.iter().position(|line| !line.is_empty()).unwrap_or(out.len());
    out[start..].join("\n")
}

fn indent_of(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// A code fence: its character, length and info string.
fn fence_marker(line: &str) -> Option<(char, usize, &str)> {
    let trimmed = line.trim_start();
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let mark = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = trimmed.chars().take_while(|c| *c == mark).count();
    if len < 3 {
        return None;
    }
    let info = trimmed[len..].trim();
    if mark == '`' && info.contains('`') {
        return None;
    }
    Some((mark, len, info))
}

/// `=== ` under a line is a level-1 heading, `---` a level-2 one.
fn setext_level(line: &str) -> Option<usize> {
    let trimmed = line.trim();
    if line.len() - line.trim_start().len() > 3 || trimmed.is_empty() {
        return None;
    }
    if trimmed.chars().all(|c| c == '=') {
        Some(1)
    } else if trimmed.chars().all(|c| c == '-') {
        Some(2)
    } else {
        None
    }
}

/// Lines that cannot be a setext heading's text (a list item, a heading, a quote, a table).
fn starts_block(line: &str) -> bool {
    let trimmed = line.trim_start();
    trimmed.starts_with('#')
        || trimmed.starts_with('>')
        || trimmed.starts_with('|')
        || trimmed.starts_with("- ")
        || ordered_marker(trimmed).is_some()
}

/// The digits of an ordered-list marker (`12.` or `12)` followed by a space).
fn ordered_marker(trimmed: &str) -> Option<usize> {
    let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 || digits > 9 {
        return None;
    }
    let rest = &trimmed[digits..];
    (rest.starts_with(". ") || rest.starts_with(") ")).then_some(digits)
}

fn normalise_line(line: &str) -> String {
    let indent = indent_of(line);
    let trimmed = line.trim_start();
    if is_thematic_break(trimmed) {
        return format!("{indent}---");
    }
    let body = if let Some(rest) = trimmed.strip_prefix("* ").or_else(|| trimmed.strip_prefix("+ ")) {
        format!("- {rest}")
    } else if let Some(digits) = ordered_marker(trimmed) {
        format!("{}. {}", &trimmed[..digits], &trimmed[digits + 2..])
    } else if trimmed.starts_with('#') {
        closing_hashes_dropped(trimmed)
    } else {
        trimmed.to_owned()
    };
    format!("{indent}{}", strong_underscores(&body))
}

fn is_thematic_break(trimmed: &str) -> bool {
    let Some(mark) = trimmed.chars().next().filter(|c| matches!(c, '*' | '_' | '-')) else {
        return false;
    };
    trimmed.chars().all(|c| c == mark || c == ' ') && trimmed.chars().filter(|c| *c == mark).count() >= 3
}

/// `## Title ##` as `## Title`.
fn closing_hashes_dropped(heading: &str) -> String {
    let hashes = heading.chars().take_while(|c| *c == '#').count();
    if hashes > 6 || !heading[hashes..].starts_with(' ') {
        return heading.to_owned();
    }
    let text = heading[hashes..].trim();
    let without = text.trim_end_matches('#');
    let text = if without.len() < text.len() && (without.is_empty() || without.ends_with(' ')) {
        without.trim_end()
    } else {
        text
    };
    format!("{} {text}", &heading[..hashes])
}

/// `__bold__` as `**bold**`, outside inline code. Underscores inside words (`snake_case__x`)
/// stay: only a `__` run that opens at a word start and closes at a word end is emphasis.
fn strong_underscores(line: &str) -> String {
    if !line.contains("__") {
        return line.to_owned();
    }
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut index = 0;
    let mut in_code = false;
    while index < chars.len() {
        let c = chars[index];
        if c == '`' {
            in_code = !in_code;
        }
        let opens = !in_code
            && c == '_'
            && chars.get(index + 1) == Some(&'_')
            && index
                .checked_sub(1)
                .is_none_or(|before| !chars[before].is_alphanumeric() && chars[before] != '_')
            && chars
                .get(index + 2)
                .is_some_and(|after| !after.is_whitespace() && *after != '_');
        if opens && let Some(close) = closing_underscores(&chars, index + 2) {
            out.push_str("**");
            out.extend(&chars[index + 2..close]);
            out.push_str("**");
            index = close + 2;
            continue;
        }
        out.push(c);
        index += 1;
    }
    out
}

fn closing_underscores(chars: &[char], from: usize) -> Option<usize> {
    (from + 1..chars.len().saturating_sub(1)).find(|&at| {
        chars[at] == '_'
            && chars[at + 1] == '_'
            && !chars[at - 1].is_whitespace()
            && chars
                .get(at + 2)
                .is_none_or(|after| !after.is_alphanumeric() && *after != '_')
    })
}

#[cfg(test)]
mod tests {
    use super::normalise_answer;

    #[test]
    fn the_same_answer_in_two_clouds_dialects_comes_out_identical() {
        let one_cloud = "Title\n=====\n\n* first point  \n* second\n\n\n\n1) step one\n2) step __two__\n\n***\n```python\nprint('x')   \n```\n";
        let another = "\u{FEFF}# Title #\r\n\r\n- first point\r\n+ second\r\n\r\n1. step one\r\n2. step **two**\r\n\r\n---\r\n~~~python\r\nprint('x')\r\n~~~\r\n\r\n";
        let expected =
            "# Title\n\n- first point\n- second\n\n1. step one\n2. step **two**\n\n---\n```python\nprint('x')\n```";
        assert_eq!(normalise_answer(one_cloud), expected);
        assert_eq!(normalise_answer(another), expected);
    }

    #[test]
    fn words_and_code_are_never_changed() {
        let text = "use snake__case and __init__ here\n\n```\n* not a bullet\n__dunder__   \n```\n`a__b__c`";
        let normalised = normalise_answer(text);
        assert!(normalised.contains("snake__case and **init** here"), "{normalised}");
        assert!(normalised.contains("* not a bullet\n__dunder__\n```"), "{normalised}");
        assert!(normalised.ends_with("`a__b__c`"), "{normalised}");
    }

    #[test]
    fn a_dash_line_under_a_list_item_is_a_break_not_a_heading() {
        assert_eq!(normalise_answer("- item\n---\ntext"), "- item\n---\ntext");
        assert_eq!(normalise_answer("Heading\n---\ntext"), "## Heading\ntext");
    }

    #[test]
    fn whitespace_only_and_empty_answers_normalise_to_empty() {
        assert_eq!(normalise_answer(""), "");
        assert_eq!(normalise_answer(" \r\n\u{00A0}\n\t\n"), "");
        assert_eq!(normalise_answer("a\u{00A0}b\u{200B}c"), "a bc");
    }
}
