//! `{{ variable }}` substitution in prompt templates and check values.
//!
//! The subset of Nunjucks (promptfoo's template language) that suites need to be reproducible:
//! `{{ name }}` with any whitespace inside the braces (and `{{- name -}}` whitespace control),
//! and dotted or indexed access into object and list variables (`{{ user.name }}`,
//! `{{ items[0] }}`, `{{ items.0 }}`). A variable whose value is itself a template is rendered in
//! turn (promptfoo's "variable composition"), a few levels deep at most.
//!
//! Deliberately left out: filters (`{{ x | upper }}`), expressions, `{% %}` blocks, `{# #}`
//! comments and the `env` global. They are left in the text exactly as written and reported, so
//! a suite that uses them still loads and says what was not rendered, rather than failing or
//! guessing what a JavaScript engine would have produced.

use serde_json::{Map, Value};

/// How deep variables may refer to variables: enough for composition, finite for cycles.
const MAX_DEPTH: usize = 4;

/// A rendered text, the variables it needed and did not find, and what it left unrendered.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Rendered {
    pub text: String,
    /// Root variable names the template uses but `vars` lacks, each once, in order.
    pub missing: Vec<String>,
    /// Tags left as written (filters, blocks, `env`), each once, in order.
    pub unsupported: Vec<String>,
}

pub(crate) fn render(template: &str, vars: &Map<String, Value>) -> Rendered {
    let mut rendered = Rendered::default();
    rendered.text = render_into(template, vars, 0, &mut rendered);
    rendered
}

/// True when `text` has a `{{` or `{%` tag, so rendering it can change it.
pub(crate) fn has_tags(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

fn render_into(template: &str, vars: &Map<String, Value>, depth: usize, rendered: &mut Rendered) -> String {
    let mut output = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let tail = &rest[start..];
        let closing = if tail.starts_with("{{") {
            "}}"
        } else if tail.starts_with("{%") {
            "%}"
        } else if tail.starts_with("{#") {
            "#}"
        } else {
            output.push_str(&rest[..=start]);
            rest = &rest[start + 1..];
            continue;
        };
        let Some(length) = tail[2..].find(closing) else {
            // An unclosed tag is text.
            break;
        };
        output.push_str(&rest[..start]);
        let whole = &tail[..length + 4];
        let inner = tail[2..length + 2].trim();
        rest = &tail[length + 4..];
        if closing != "}}" {
            note_once(&mut rendered.unsupported, whole);
            output.push_str(whole);
            continue;
        }
        // Nunjucks whitespace control: `{{-` trims the whitespace before the tag, `-}}` after.
        let (trim_before, inner) = match inner.strip_prefix('-') {
            Some(stripped) => (true, stripped.trim_start()),
            None => (false, inner),
        };
        let (trim_after, inner) = match inner.strip_suffix('-') {
            Some(stripped) => (true, stripped.trim_end()),
            None => (false, inner),
        };
        match parse_path(inner) {
            Some(path) if path[0] != "env" => match lookup(vars, &path) {
                Some(value) => {
                    if trim_before {
                        output.truncate(output.trim_end().len());
                    }
                    if trim_after {
                        rest = rest.trim_start();
                    }
                    output.push_str(&value_text(value, vars, depth, rendered));
                }
                None if !vars.contains_key(&path[0]) => {
                    note_once(&mut rendered.missing, &path[0]);
                    output.push_str(whole);
                }
                // The root exists but the path into it does not: Nunjucks renders nothing.
                None => {}
            },
            _ => {
                note_once(&mut rendered.unsupported, whole);
                output.push_str(whole);
            }
        }
    }
    output.push_str(rest);
    output
}

fn value_text(value: &Value, vars: &Map<String, Value>, depth: usize, rendered: &mut Rendered) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) if depth < MAX_DEPTH && has_tags(text) => render_into(text, vars, depth + 1, rendered),
        Value::String(text) => text.clone(),
        Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_) => value.to_string(),
    }
}

fn note_once(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|existing| existing == item) {
        list.push(item.to_owned());
    }
}

/// `name`, `name.key`, `name[0]`, `name.0.key` as path parts; `None` for anything else.
fn parse_path(expression: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut characters = expression.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '.' => {
                if current.is_empty() {
                    return None;
                }
                parts.push(std::mem::take(&mut current));
            }
            '[' => {
                if !current.is_empty() {
                    parts.push(std::mem::take(&mut current));
                }
                let mut index = String::new();
                loop {
                    match characters.next()? {
                        ']' => break,
                        digit if digit.is_ascii_digit() => index.push(digit),
                        _ => return None,
                    }
                }
                if index.is_empty() || parts.is_empty() {
                    return None;
                }
                parts.push(index);
                if characters.peek() == Some(&'.') {
                    characters.next();
                }
            }
            character if character.is_alphanumeric() || character == '_' || character == '-' && !current.is_empty() => {
                current.push(character);
            }
            _ => return None,
        }
    }
    if !current.is_empty() {
        parts.push(current);
    }
    let first = parts.first()?;
    let starts_well = first
        .chars()
        .next()
        .is_some_and(|character| character.is_alphabetic() || character == '_');
    starts_well.then_some(parts)
}

fn lookup<'a>(vars: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let mut value = vars.get(&path[0])?;
    for part in &path[1..] {
        value = match value {
            Value::Object(entries) => entries.get(part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            // Nunjucks does not parse a JSON text held in a string either (promptfoo needs the
            // `load` filter for that), so a path into a string finds nothing.
            _ => return None,
        };
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn vars(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(entries) => entries,
            _ => Map::new(),
        }
    }

    #[test]
    fn substitutes_with_any_whitespace_and_dotted_access() {
        let vars = vars(json!({
            "name": "Ada",
            "user": {"city": "London", "tags": ["a", "b"]},
            "count": 3,
            "nothing": null
        }));
        let rendered = render(
            "Hi {{name}}, {{ user.city }} {{user.tags[1]}} {{ user.tags.0 }} {{count}}{{ nothing }}!",
            &vars,
        );
        assert_eq!(rendered.text, "Hi Ada, London b a 3!");
        assert!(rendered.missing.is_empty() && rendered.unsupported.is_empty());
    }

    #[test]
    fn objects_render_as_json_and_variables_compose() {
        let vars = vars(json!({"item": "tweet about {{topic}}", "topic": "bananas", "config": {"a": 1}}));
        assert_eq!(
            render("Write a {{item}} {{config}}", &vars).text,
            "Write a tweet about bananas {\"a\":1}"
        );
    }

    #[test]
    fn missing_variables_are_reported_once_and_left_in_place() {
        let rendered = render("{{ a }} {{a}} {{b.c}}", &Map::new());
        assert_eq!(rendered.missing, vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(rendered.text, "{{ a }} {{a}} {{b.c}}");
    }

    #[test]
    fn filters_blocks_and_env_are_left_literally() {
        let vars = vars(json!({"name": "Ada", "premium": true}));
        let template = "{% if premium %}VIP {% endif %}{{ name | upper }} {{ env.HOME }} {# note #}{{name}}";
        let rendered = render(template, &vars);
        assert_eq!(
            rendered.text,
            "{% if premium %}VIP {% endif %}{{ name | upper }} {{ env.HOME }} {# note #}Ada"
        );
        assert_eq!(
            rendered.unsupported,
            vec![
                "{% if premium %}",
                "{% endif %}",
                "{{ name | upper }}",
                "{{ env.HOME }}",
                "{# note #}"
            ]
        );
        assert!(rendered.missing.is_empty());
    }

    #[test]
    fn whitespace_control_trims_around_the_tag() {
        let vars = vars(json!({"x": "1"}));
        assert_eq!(render("a  {{- x -}}  b {{x}}", &vars).text, "a1b 1");
    }

    #[test]
    fn lone_braces_and_unclosed_tags_are_text() {
        let vars = vars(json!({"x": "1"}));
        assert_eq!(render("{\"a\": {{x}}} {{ open", &vars).text, "{\"a\": 1} {{ open");
    }

    #[test]
    fn a_self_referencing_variable_stops() {
        let vars = vars(json!({"loop": "again {{loop}}"}));
        let text = render("{{loop}}", &vars).text;
        assert!(text.starts_with("again again"), "{text}");
    }
}
