//! Lenient leaf types for the protocols' typed wire structs.
//!
//! The decoders read each event into serde structs that borrow from the event's text (no
//! `serde_json::Value` tree, no copy of a string without escapes) and skip unknown fields without
//! building them. A cloud's stream is tolerated as a `Value` walk tolerated it: a field of an
//! unexpected JSON type reads as absent instead of failing the event, so one odd field never
//! costs an answer. [`Text`], [`Count`], [`Flag`], [`Object`] and [`List`] are those fields; a struct
//! whose fields are all of them (or `Option`s of them with `#[serde(default)]`) decodes from any
//! JSON object. [`Str`] is the strict string of the protocols whose structs were always strict
//! (Chat Completions): there a field of another type still fails the chunk, as it did.
//!
//! [`read`] parses one event: typed, and through a `Value` only when that fails, so an event
//! with a duplicate key (which a derived struct refuses and a `Value` keeps the last of) and an
//! event that is no JSON read exactly as they did.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Reads one event's JSON text as `T` (`None` when it is no JSON object). A text the typed parse
/// refuses is read as a `Value` first: its error, if any, is the one reported (as before the
/// typed structs), and a `Value` it does hold (one with a duplicate key) reads as `T`.
pub(crate) fn read<'a, T: Deserialize<'a>>(text: &'a str) -> serde_json::Result<Option<T>> {
    match serde_json::from_str::<Object<T>>(text) {
        Ok(object) => Ok(object.0),
        Err(_) => {
            let value: serde_json::Value = serde_json::from_str(text)?;
            // Every field is lenient and a `Value` has no duplicate keys, so this cannot fail.
            Ok(Object::<T>::deserialize(value).map_or(None, |object| object.0))
        }
    }
}

/// Implements the visits of a lenient type for the JSON types it does not take: each reads as
/// the type's default (absent), its contents skipped unread.
macro_rules! absent {
    (bool) => {
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
    };
    (i64) => {
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
    };
    (u64) => {
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
    };
    (f64) => {
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
    };
    (str) => {
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
    };
    (null) => {
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
    };
    (seq) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Self::Value::default())
        }
    };
    (map) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Self::Value::default())
        }
    };
    ($($kind:ident),+) => {
        $(absent!($kind);)+
    };
}

/// A string, or `None` when the field holds anything else (`Value::as_str`). Borrowed from the
/// event's text unless the string has escapes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Text<'a>(pub Option<Cow<'a, str>>);

impl<'a> Text<'a> {
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The text, owned (the one copy an event's content needs).
    pub fn into_owned(self) -> Option<String> {
        self.0.map(Cow::into_owned)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Borrowed(text))))
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(text.to_owned()))))
            }
            fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(text))))
            }
            fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
                Text::deserialize(deserializer)
            }
            absent!(bool, i64, u64, f64, null, seq, map);
        }
        deserializer.deserialize_any(TextVisitor(PhantomData))
    }
}

/// A string that must be one: anything else fails the event, as a `String` field did (the same
/// "expected a string" message). Borrowed unless the string has escapes; serde borrows a `Cow`
/// only when it is the field's whole type, not inside an `Option`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Str<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for StrVisitor<'a> {
            type Value = Str<'a>;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(text)))
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(StrVisitor(PhantomData))
    }
}

/// A non-negative integer, or `None` for anything else (`Value::as_u64`: `1.0`, `-1` and
/// `"1"` are none).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Count(pub Option<u64>);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl<'de> Visitor<'de> for CountVisitor {
            type Value = Count;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("any JSON value")
            }
            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Self::Value, E> {
                Ok(Count(Some(value)))
            }
            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Self::Value, E> {
                Ok(Count(u64::try_from(value).ok()))
            }
            fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
                Count::deserialize(deserializer)
            }
            absent!(f64, bool, str, null, seq, map);
        }
        deserializer.deserialize_any(CountVisitor)
    }
}

/// A boolean, or `None` for anything else (`Value::as_bool`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flag(pub Option<bool>);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FlagVisitor;
        impl<'de> Visitor<'de> for FlagVisitor {
            type Value = Flag;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("any JSON value")
            }
            fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<Self::Value, E> {
                Ok(Flag(Some(value)))
            }
            fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
                Flag::deserialize(deserializer)
            }
            absent!(i64, u64, f64, str, null, seq, map);
        }
        deserializer.deserialize_any(FlagVisitor)
    }
}

/// A JSON object read as `T`, or `None` when the field holds anything else (`null`, a string, an
/// array), as a `Value` walk found no fields in it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Object<T>(pub Option<T>);

impl<T> Default for Object<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<T> Object<T> {
    pub fn as_ref(&self) -> Option<&T> {
        self.0.as_ref()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(|value| Object(Some(value)))
            }
            fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
                Object::deserialize(deserializer)
            }
            absent!(bool, i64, u64, f64, str, null, seq);
        }
        deserializer.deserialize_any(ObjectVisitor(PhantomData))
    }
}

/// A JSON array of `T`, or `None` when the field holds anything else (`Value::as_array`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct List<T>(pub Option<Vec<T>>);

impl<T> Default for List<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = List<T>;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(List(Some(items)))
            }
            fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
                List::deserialize(deserializer)
            }
            absent!(bool, i64, u64, f64, str, null, map);
        }
        deserializer.deserialize_any(ListVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Probe<'a> {
        #[serde(borrow)]
        text: Text<'a>,
        count: Count,
        flag: Flag,
        #[serde(borrow)]
        inner: Object<Inner<'a>>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Inner<'a> {
        #[serde(borrow)]
        name: Text<'a>,
    }

    fn probe(json: &str) -> Probe<'_> {
        serde_json::from_str(json).expect("any JSON object decodes")
    }

    #[test]
    fn fields_of_another_type_read_as_absent_as_a_value_walk_found_them() {
        let all = probe(r#"{"text":"hi","count":3,"flag":true,"inner":{"name":"n","extra":[1,{"a":2}]},"other":{}}"#);
        assert_eq!(all.text.as_deref(), Some("hi"));
        assert!(matches!(all.text.0, Some(Cow::Borrowed(_))), "no copy without escapes");
        assert_eq!((all.count.0, all.flag.0), (Some(3), Some(true)));
        assert_eq!(all.inner.as_ref().and_then(|inner| inner.name.as_deref()), Some("n"));
        for odd in [
            "null",
            "1",
            "-1",
            "1.5",
            "1e300",
            "true",
            "\"x\"",
            "[1,[2]]",
            "{\"a\":{\"b\":[]}}",
        ] {
            let json = format!(r#"{{"text":{odd},"count":{odd},"flag":{odd},"inner":{odd}}}"#);
            let read = probe(&json);
            if odd != "\"x\"" {
                assert_eq!(read.text.0, None, "{odd}");
            }
            if odd != "1" {
                assert_eq!(read.count.0, None, "{odd}");
            }
            assert_eq!(read.flag.0, (odd == "true").then_some(true), "{odd}");
            if !odd.starts_with('{') {
                assert!(read.inner.0.is_none(), "{odd}");
            }
        }
        assert_eq!(probe(r#"{"text":"a\nb"}"#).text.as_deref(), Some("a\nb"));
        assert_eq!(probe(r#"{"count":1}"#).count.0, Some(1));
    }

    #[test]
    fn a_strict_string_fails_as_a_string_field_did() {
        #[derive(Debug, Deserialize)]
        struct Strict<'a> {
            #[serde(default, borrow)]
            text: Option<Str<'a>>,
        }
        #[derive(Debug, Deserialize)]
        struct Owned {
            #[serde(default)]
            #[expect(dead_code, reason = "only its error is compared")]
            text: Option<String>,
        }
        let read: Strict<'_> = serde_json::from_str(r#"{"text":"hi"}"#).expect("a string");
        assert!(matches!(read.text, Some(Str(Cow::Borrowed("hi")))));
        let escaped: Strict<'_> = serde_json::from_str(r#"{"text":"a\"b"}"#).expect("a string");
        assert_eq!(escaped.text.map(|text| text.0.into_owned()).as_deref(), Some("a\"b"));
        for odd in ["1", "1.5", "true", "{}", "[]"] {
            let json = format!(r#"{{"text":{odd}}}"#);
            let strict = serde_json::from_str::<Strict<'_>>(&json).expect_err(odd).to_string();
            let owned = serde_json::from_str::<Owned>(&json).expect_err(odd).to_string();
            assert_eq!(strict, owned);
        }
        assert!(
            serde_json::from_str::<Strict<'_>>(r#"{"text":null}"#)
                .expect("null")
                .text
                .is_none()
        );
    }

    #[test]
    fn a_duplicate_key_keeps_the_last_as_a_value_did_and_no_json_is_an_error() {
        let duplicated: Option<Probe<'_>> =
            read(r#"{"text":"first","text":"last","count":1}"#).expect("a Value holds it");
        let duplicated = duplicated.expect("an object");
        assert_eq!(
            (duplicated.text.as_deref(), duplicated.count.0),
            (Some("last"), Some(1))
        );
        assert!(read::<Probe<'_>>("[1]").expect("JSON").is_none());
        let error = read::<Probe<'_>>(r#"{"text":"#).expect_err("cut");
        let value_error = serde_json::from_str::<serde_json::Value>(r#"{"text":"#).expect_err("cut");
        assert_eq!(error.to_string(), value_error.to_string());
    }

    #[test]
    fn values_decode_the_same_way() {
        let value = serde_json::json!({"text": "hi", "count": 2, "inner": {"name": "n"}});
        let read = Probe::deserialize(&value).expect("from a Value");
        assert_eq!(read.text.as_deref(), Some("hi"));
        assert_eq!(read.count.0, Some(2));
        assert_eq!(read.inner.as_ref().and_then(|inner| inner.name.as_deref()), Some("n"));
    }
}
