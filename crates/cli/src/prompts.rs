//! Reading prompts: a single prompt argument (or stdin) and batch files.
//!
//! A batch file is JSONL (`{"prompt": ..., "system": ...}` or `{"messages": [...]}` per line) or
//! plain text with one prompt per line. The format is decided per file from its first
//! non-blank line, so a plain prompt that happens to start with `{` later is not misread.
//! A UTF-8 byte-order mark (Windows editors write one) is not part of the first line.

use anyhow::{Context, Result, bail};
use modelbench_engine::{Message, Prompt};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptLine {
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    messages: Option<Vec<Message>>,
}

/// Parses a prompts file. `default_system` applies to prompts that set none.
pub fn parse_prompts_file(text: &str, origin: &str, default_system: Option<&str>) -> Result<Vec<Prompt>> {
    let text = without_byte_order_mark(text);
    let is_jsonl = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .is_some_and(|line| line.starts_with('{'));
    let mut prompts = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let number = number + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let prompt = if is_jsonl {
            let parsed: PromptLine = serde_json::from_str(line)
                .with_context(|| format!("{origin}: line {number} is not a valid prompt object"))?;
            let messages = match (parsed.prompt, parsed.messages) {
                (Some(prompt), None) => vec![Message {
                    role: modelbench_engine::Role::User,
                    content: prompt,
                }],
                (None, Some(messages)) if !messages.is_empty() => messages,
                (Some(_), Some(_)) => bail!("{origin}: line {number} has both `prompt` and `messages`; use one"),
                _ => bail!("{origin}: line {number} needs `prompt` or a non-empty `messages`"),
            };
            if messages.last().map(|message| message.role) != Some(modelbench_engine::Role::User) {
                bail!("{origin}: line {number}: the conversation must end with a user message");
            }
            if messages.last().is_some_and(|message| message.content.trim().is_empty()) {
                bail!("{origin}: line {number}: the prompt is empty");
            }
            Prompt {
                system: parsed.system.or_else(|| default_system.map(str::to_owned)),
                messages,
            }
        } else {
            Prompt::user(line).with_system(default_system.map(str::to_owned))
        };
        prompts.push(prompt);
    }
    if prompts.is_empty() {
        bail!("{origin}: no prompts in the file");
    }
    Ok(prompts)
}

/// `text` without a leading UTF-8 byte-order mark.
pub fn without_byte_order_mark(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_does_not_change_the_format() {
        let prompts = parse_prompts_file("\u{feff}{\"prompt\":\"with bom\"}\r\n", "p.jsonl", None).expect("jsonl");
        assert_eq!(prompts[0].last_user_text(), "with bom");
        let prompts = parse_prompts_file("\u{feff}plain\n", "p.txt", None).expect("plain");
        assert_eq!(prompts[0].last_user_text(), "plain");
    }

    #[test]
    fn an_empty_prompt_is_named_by_its_line() {
        for text in [
            "{\"prompt\":\"a\"}\n{\"prompt\":\"  \"}\n",
            "{\"prompt\":\"a\"}\n{\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}\n",
        ] {
            let error = parse_prompts_file(text, "p.jsonl", None).expect_err("empty");
            assert_eq!(format!("{error:#}"), "p.jsonl: line 2: the prompt is empty");
        }
    }

    #[test]
    fn reads_jsonl_with_system_and_messages() {
        let text = "{\"prompt\":\"a\",\"system\":\"s\"}\n\n{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"yo\"},{\"role\":\"user\",\"content\":\"b\"}]}\n";
        let prompts = parse_prompts_file(text, "p.jsonl", Some("default")).expect("parse");
        assert_eq!(prompts.len(), 2);
        assert_eq!(prompts[0].system.as_deref(), Some("s"));
        assert_eq!(prompts[1].system.as_deref(), Some("default"));
        assert_eq!(prompts[1].last_user_text(), "b");
    }

    #[test]
    fn reads_plain_lines_and_names_bad_lines() {
        let prompts = parse_prompts_file("one\r\ntwo {x}\n", "p.txt", None).expect("parse");
        assert_eq!(
            prompts.iter().map(Prompt::last_user_text).collect::<Vec<_>>(),
            ["one", "two {x}"]
        );
        let error = parse_prompts_file("{\"prompt\":\"a\"}\n{\"nope\":1}\n", "p.jsonl", None).expect_err("bad");
        assert!(format!("{error:#}").contains("line 2"), "{error:#}");
    }
}
