//! A tiny JSON object writer that keeps keys in the order written.
//!
//! The real clouds each have their own key order (OpenAI by field, Azure
//! alphabetical, Anthropic with padding before the closing brace), and
//! `serde_json::Value` sorts or preserves keys depending on a crate feature
//! some other workspace member may switch on. Writing objects by hand keeps
//! our bytes identical whatever the feature set.

use serde_json::Value;

/// An object being written; `finish` closes it.
pub(crate) struct JsonObject {
    buffer: String,
    empty: bool,
}

impl JsonObject {
    pub(crate) fn new() -> Self {
        Self {
            buffer: String::from("{"),
            empty: true,
        }
    }

    /// A field whose value is any JSON scalar (or `Option` of one).
    pub(crate) fn value(self, key: &str, value: impl Into<Value>) -> Self {
        // `Value`'s Display writes compact JSON and cannot fail.
        let encoded = value.into().to_string();
        self.raw(key, &encoded)
    }

    /// A field whose value is already-encoded JSON.
    pub(crate) fn raw(mut self, key: &str, encoded: &str) -> Self {
        if !self.empty {
            self.buffer.push(',');
        }
        self.empty = false;
        self.buffer.push_str(&Value::from(key).to_string());
        self.buffer.push(':');
        self.buffer.push_str(encoded);
        self
    }

    pub(crate) fn object(self, key: &str, object: JsonObject) -> Self {
        self.raw(key, &object.finish())
    }

    pub(crate) fn null(self, key: &str) -> Self {
        self.raw(key, "null")
    }

    pub(crate) fn finish(mut self) -> String {
        self.buffer.push('}');
        self.buffer
    }

    /// Closes the object with spaces before the brace, as Anthropic's
    /// payloads do.
    pub(crate) fn finish_padded(mut self, spaces: usize) -> String {
        self.buffer.extend(std::iter::repeat_n(' ', spaces));
        self.finish()
    }
}

/// An array of already-encoded JSON items.
pub(crate) fn array<I>(items: I) -> String
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut buffer = String::from("[");
    for (index, item) in items.into_iter().enumerate() {
        if index > 0 {
            buffer.push(',');
        }
        buffer.push_str(item.as_ref());
    }
    buffer.push(']');
    buffer
}

/// Google's compact style, as its SSE chunks are written: a space after
/// each colon, none after commas (`{"text": "a","role": "model"}`).
pub(crate) fn google_compact(compact: &str) -> String {
    reformat(compact, false)
}

/// Google's error bodies: two-space indentation, `"key": value`, and a
/// final newline.
pub(crate) fn google_pretty(compact: &str) -> String {
    let mut text = reformat(compact, true);
    text.push('\n');
    text
}

/// Re-spaces compact JSON (as [`JsonObject`] writes it) without touching
/// string contents.
fn reformat(compact: &str, indent: bool) -> String {
    let mut output = String::with_capacity(compact.len() + compact.len() / 4);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut characters = compact.chars().peekable();
    let newline = |output: &mut String, depth: usize| {
        output.push('\n');
        output.extend(std::iter::repeat_n("  ", depth));
    };
    while let Some(character) = characters.next() {
        if in_string {
            output.push(character);
            match character {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match character {
            '"' => {
                in_string = true;
                output.push(character);
            }
            ':' => output.push_str(": "),
            ',' => {
                output.push(',');
                if indent {
                    newline(&mut output, depth);
                }
            }
            '{' | '[' => {
                output.push(character);
                let closing = if character == '{' { '}' } else { ']' };
                if characters.peek() == Some(&closing) {
                    // Empty containers stay on one line.
                    characters.next();
                    output.push(closing);
                } else {
                    depth += 1;
                    if indent {
                        newline(&mut output, depth);
                    }
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                if indent {
                    newline(&mut output, depth);
                }
                output.push(character);
            }
            _ => output.push(character),
        }
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_order_and_strings_are_escaped() {
        let inner = JsonObject::new().value("b", 1).value("a", true);
        let text = JsonObject::new()
            .value("z", "quote \" naïve 😄\n")
            .object("inner", inner)
            .null("n")
            .value("maybe", None::<u64>)
            .raw("list", &array(["1", "2"]))
            .value("float", 1.0)
            .finish();
        assert_eq!(
            text,
            r#"{"z":"quote \" naïve 😄\n","inner":{"b":1,"a":true},"n":null,"maybe":null,"list":[1,2],"float":1.0}"#
        );
        let parsed: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(parsed["z"], "quote \" naïve 😄\n");
    }

    #[test]
    fn padded_objects_stay_valid_json() {
        let text = JsonObject::new().value("type", "ping").finish_padded(4);
        assert_eq!(text, r#"{"type":"ping"    }"#);
        assert!(serde_json::from_str::<Value>(&text).is_ok());
        assert_eq!(JsonObject::new().finish(), "{}");
        assert_eq!(array(Vec::<String>::new()), "[]");
    }

    #[test]
    fn google_styles_space_only_outside_strings() {
        let compact = JsonObject::new()
            .value("text", "a:b,{c}[d] \"q\\\"")
            .raw("parts", "[{},[]]")
            .object("inner", JsonObject::new().value("n", 1).value("m", 2))
            .finish();
        assert_eq!(
            google_compact(&compact),
            r#"{"text": "a:b,{c}[d] \"q\\\"","parts": [{},[]],"inner": {"n": 1,"m": 2}}"#
        );
        let pretty = google_pretty(&compact);
        assert_eq!(
            pretty,
            "{\n  \"text\": \"a:b,{c}[d] \\\"q\\\\\\\"\",\n  \"parts\": [\n    {},\n    []\n  ],\n  \"inner\": {\n    \"n\": 1,\n    \"m\": 2\n  }\n}\n"
        );
        let reparsed: Value = serde_json::from_str(&pretty).expect("valid JSON");
        assert_eq!(reparsed, serde_json::from_str::<Value>(&compact).expect("valid JSON"));
    }
}
