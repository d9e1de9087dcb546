//! Prompt templates from a suite: inline text, chat lists, `{id, label, raw}` objects,
//! promptfoo's older `{template: label}` map, and prompt files (`---`-separated text, JSON chat
//! arrays, YAML message lists, CSV with a `prompt` column), globs included.
//!
//! Left out: prompt functions and scripts (`.js`, `.py`, `exec:`) and prompt registries; they are
//! skipped with a note.

use std::sync::Arc;

use serde_json::Value;

use super::super::node::{Location, Node, NodeValue};
use super::super::{PromptTemplate, TemplateBody, TemplateMessage, resolve};
use super::{Reader, SCRIPT_EXTENSIONS, extension_of, split_function};

/// A template found: its body, label, given id and where it was written.
pub(super) type Found = (TemplateBody, Option<String>, Option<String>, Location);

impl Reader {
    pub(super) fn prompt_templates(&mut self, node: &Node) -> Vec<PromptTemplate> {
        let mut found: Vec<Found> = Vec::new();
        match &node.value {
            NodeValue::String(text) => found.extend(self.prompt_source(text, node, None, None)),
            NodeValue::Sequence(items) => {
                for item in items {
                    match &item.value {
                        NodeValue::String(text) => found.extend(self.prompt_source(text, item, None, None)),
                        NodeValue::Mapping(_) => found.extend(self.prompt_object(item)),
                        _ => self.error(item.error(format!(
                            "a prompt must be text or a mapping, found {}",
                            item.kind_name()
                        ))),
                    }
                }
            }
            NodeValue::Mapping(entries) => {
                let is_object = ["template", "raw", "text", "messages", "id", "label"]
                    .iter()
                    .any(|key| node.get(key).is_some());
                if is_object {
                    found.extend(self.prompt_object(node));
                } else {
                    // promptfoo's older form: `{path or template: label}`.
                    for (key, label) in entries {
                        let key_node = Node::string(key.clone(), label.location.clone());
                        found.extend(self.prompt_source(key, &key_node, label.scalar_text(), None));
                    }
                }
            }
            NodeValue::Null => {}
            _ => self.error(node.error(format!("`prompts` must be a list, found {}", node.kind_name()))),
        }
        found
            .into_iter()
            .map(|(body, label, id, location)| PromptTemplate {
                id: id.unwrap_or_default(),
                label,
                body,
                file: location.file.as_deref().map(str::to_owned),
                line: location.line,
            })
            .collect()
    }

    fn prompt_object(&mut self, node: &Node) -> Vec<Found> {
        let label = self.string_field(node, "label");
        let id = self.string_field(node, "id");
        if let Some(config) = node.get("config") {
            self.note(
                &config.location,
                "a prompt's `config` is ignored: parameters come from the session",
            );
        }
        let system = self.string_field(node, "system");
        let own_id = id.clone().filter(|id| !id.starts_with("file://"));
        let mut found = Vec::new();
        if let Some(messages) = node.get("messages") {
            if let Some(messages) = self.messages(messages) {
                found.push((
                    TemplateBody::Chat(messages),
                    label.clone(),
                    own_id.clone(),
                    node.location.clone(),
                ));
            }
        } else if let Some(source) = ["template", "raw", "text", "prompt"]
            .iter()
            .find_map(|key| node.get(key))
        {
            match source.scalar_text() {
                Some(text) => found.extend(self.prompt_source(&text, source, label.clone(), own_id.clone())),
                None => self.error(source.error(format!("a prompt must be text, found {}", source.kind_name()))),
            }
        } else if let Some(path) = id.as_deref().filter(|id| id.starts_with("file://")) {
            found.extend(self.prompt_source(path, node, label.clone(), None));
        } else {
            self.error(node.error("a prompt needs `template` (or `raw`), `messages`, or an `id: file://…`"));
        }
        if let Some(system) = system {
            for (body, _, _, _) in &mut found {
                let message = TemplateMessage {
                    role: "system".to_owned(),
                    content: system.clone(),
                };
                *body = match std::mem::replace(body, TemplateBody::Chat(Vec::new())) {
                    TemplateBody::Text(text) => TemplateBody::Chat(vec![
                        message,
                        TemplateMessage {
                            role: "user".to_owned(),
                            content: text,
                        },
                    ]),
                    TemplateBody::Chat(mut messages) => {
                        messages.insert(0, message);
                        TemplateBody::Chat(messages)
                    }
                };
            }
        }
        found
    }

    fn prompt_source(&mut self, text: &str, node: &Node, label: Option<String>, id: Option<String>) -> Vec<Found> {
        let path = match text.strip_prefix("file://") {
            Some(path) => Some(path.trim().to_owned()),
            None if looks_like_prompt_file(text)
                && match &self.stored {
                    Some(stored) => stored.iter().any(|file| file.path == text.trim()),
                    None => resolve(&self.base_dir, text).is_some_and(|full| full.is_file()),
                } =>
            {
                Some(text.trim().to_owned())
            }
            None => None,
        };
        if text.starts_with("exec:")
            || ["langfuse://", "portkey://", "helicone://"]
                .iter()
                .any(|scheme| text.starts_with(scheme))
        {
            self.note(
                &node.location,
                format!("prompt `{text}` comes from a script or a registry; skipped"),
            );
            return Vec::new();
        }
        let Some(path) = path else {
            return vec![(body_of_text(text), label, id, node.location.clone())];
        };
        let (path_only, function) = split_function(&path);
        if SCRIPT_EXTENSIONS.contains(&extension_of(path_only).as_str()) || function.is_some() {
            self.note(
                &node.location,
                format!("prompt `{text}` is a script; ModelBench does not run prompt code; skipped"),
            );
            return Vec::new();
        }
        let mut found = Vec::new();
        for path in self.expand_paths(path_only, node) {
            let Some((body, file)) = self.read_file(&path, node) else {
                continue;
            };
            let location = Location::new(Some(file.clone()), 1);
            let bodies: Vec<TemplateBody> = match extension_of(&path).as_str() {
                "json" => vec![body_of_text(&body)],
                "yaml" | "yml" => self.yaml_prompt(&body, file),
                "csv" => self.csv_prompts(&body, &location),
                _ => split_prompts(&body).into_iter().map(TemplateBody::Text).collect(),
            };
            let several = bodies.len() > 1;
            for body in bodies {
                // Prompts split from one file get their own ids; a given id names only one.
                let id = if several { None } else { id.clone() };
                found.push((body, label.clone(), id, location.clone()));
            }
        }
        found
    }

    fn yaml_prompt(&mut self, text: &str, file: Arc<str>) -> Vec<TemplateBody> {
        let Some(document) = self.parse_structured(text, file) else {
            return Vec::new();
        };
        match &document.value {
            NodeValue::String(text) => vec![TemplateBody::Text(text.clone())],
            NodeValue::Sequence(items) if items.iter().all(|item| item.get("role").is_some()) => {
                self.messages(&document).map(TemplateBody::Chat).into_iter().collect()
            }
            NodeValue::Sequence(items) => items
                .iter()
                .filter_map(|item| item.scalar_text().map(|text| body_of_text(&text)))
                .collect(),
            _ => {
                self.error(document.error("a YAML prompt file must hold text, a list of texts, or a list of messages"));
                Vec::new()
            }
        }
    }

    fn csv_prompts(&mut self, text: &str, location: &Location) -> Vec<TemplateBody> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
        let column = reader
            .headers()
            .ok()
            .and_then(|headers| headers.iter().position(|name| name.trim() == "prompt"))
            .unwrap_or(0);
        let mut bodies = Vec::new();
        for record in reader.records() {
            match record {
                Ok(record) => bodies.extend(record.get(column).map(body_of_text)),
                Err(error) => self.error(location.error(format!("bad CSV row: {error}"))),
            }
        }
        bodies
    }
}

/// A template that is a JSON list of `{role, content}` is a conversation; anything else is text.
pub(super) fn body_of_text(text: &str) -> TemplateBody {
    let trimmed = text.trim();
    if trimmed.starts_with('[')
        && let Ok(Value::Array(items)) = serde_json::from_str::<Value>(trimmed)
        && !items.is_empty()
    {
        let messages: Option<Vec<TemplateMessage>> = items
            .iter()
            .map(|item| {
                let role = item.get("role")?.as_str()?;
                let role = match role {
                    "system" | "developer" => "system",
                    "assistant" => "assistant",
                    "user" => "user",
                    _ => return None,
                };
                let content = match item.get("content")? {
                    Value::String(text) => text.clone(),
                    Value::Array(parts) => parts
                        .iter()
                        .filter_map(|part| part.get("text").and_then(Value::as_str))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    _ => return None,
                };
                Some(TemplateMessage {
                    role: role.to_owned(),
                    content,
                })
            })
            .collect();
        if let Some(messages) = messages {
            return TemplateBody::Chat(messages);
        }
    }
    TemplateBody::Text(text.to_owned())
}

/// promptfoo's prompt files hold several prompts separated by lines of `---`.
fn split_prompts(text: &str) -> Vec<String> {
    let mut prompts = Vec::new();
    let mut current = Vec::new();
    for line in text.lines() {
        if line.trim_end() == "---" {
            prompts.push(current.join("\n"));
            current.clear();
        } else {
            current.push(line);
        }
    }
    prompts.push(current.join("\n"));
    prompts
        .into_iter()
        .map(|prompt| prompt.trim().to_owned())
        .filter(|prompt| !prompt.is_empty())
        .collect()
}

fn looks_like_prompt_file(text: &str) -> bool {
    let text = text.trim();
    !text.contains(char::is_whitespace)
        && !text.contains("{{")
        && ["txt", "md", "j2", "njk", "json", "yaml", "yml", "csv"].contains(&extension_of(text).as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_files_split_on_dashes() {
        assert_eq!(split_prompts("one {{a}}\n---\ntwo\n---\n"), vec!["one {{a}}", "two"]);
    }

    #[test]
    fn a_json_list_of_messages_is_a_conversation() {
        let body = body_of_text(r#"[{"role": "system", "content": "S"}, {"role": "user", "content": "U {{x}}"}]"#);
        assert!(
            matches!(body, TemplateBody::Chat(messages) if messages.len() == 2 && messages[1].content == "U {{x}}")
        );
        assert!(matches!(body_of_text("[not json"), TemplateBody::Text(_)));
    }
}
