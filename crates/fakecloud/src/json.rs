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
}
