//! Lenient, borrowing readers for JSON the gateway does not control (upstream answers): a field of the wrong
//! type reads as absent — as `value.get(key).and_then(Value::as_str)` would — instead of failing the whole
//! document, and strings borrow from the body when they hold no escapes. With these, typed structures read an
//! answer in one pass without building a `serde_json::Value` tree: unknown members are skipped, nothing is
//! allocated for what the converter does not use.
//!
//! [`Lax<T>`] wraps anything that implements [`Pick`]: strings ([`Cow<str>`]), non-negative integers (`u64`),
//! objects (structs declared with [`lax_object!`](crate::lax_object)) and arrays ([`First`], [`Items`]).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A value of the expected JSON type, or `None` for any other type, `null` or a missing member (with
/// `#[serde(default)]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lax<T>(pub Option<T>);

impl<T> Default for Lax<T> {
    fn default() -> Self {
        Lax(None)
    }
}

impl<T> Lax<T> {
    /// The value, if it had the expected type.
    pub fn get(&self) -> Option<&T> {
        self.0.as_ref()
    }
}

impl<'de> Lax<Cow<'de, str>> {
    /// The string, if the member was one.
    pub fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// What a JSON type reads into; every method not overridden skips the value and reads as `None`.
pub trait Pick<'de>: Sized {
    /// A JSON string (borrowed when it has no escapes).
    fn string(_s: Cow<'de, str>) -> Option<Self> {
        None
    }
    /// A non-negative JSON integer.
    fn unsigned(_n: u64) -> Option<Self> {
        None
    }
    /// A JSON array.
    fn array<A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    /// A JSON object.
    fn object<A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

impl<'de: 'a, 'a> Pick<'de> for Cow<'a, str> {
    fn string(s: Cow<'de, str>) -> Option<Self> {
        Some(s)
    }
}

impl Pick<'_> for u64 {
    fn unsigned(n: u64) -> Option<Self> {
        Some(n)
    }
}

/// Declares how structs (with `#[derive(Deserialize)]`, written `Name<'a>` when they borrow) are picked from a
/// JSON object: their members by name, others skipped.
#[macro_export]
macro_rules! lax_object {
    ($($name:ident $(<$lt:lifetime>)?),+ $(,)?) => {$(
        impl<'de: 'a, 'a> $crate::convert::lax::Pick<'de> for $name $(<$lt>)? {
            fn object<A: serde::de::MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
                serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
            }
        }
    )+};
}

/// The first element of an array (the rest is skipped): OpenAI's `choices[0]`.
#[derive(Debug)]
pub struct First<T>(pub Option<T>);

impl<'de, T: Pick<'de>> Pick<'de> for First<T> {
    fn array<A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
        let first = seq.next_element::<Lax<T>>()?.and_then(|lax| lax.0);
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Some(First(first)))
    }
}

/// The elements of an array that have the expected type (others are dropped, as a reader that skips them
/// would).
#[derive(Debug)]
pub struct Items<T>(pub Vec<T>);

impl<'de, T: Pick<'de>> Pick<'de> for Items<T> {
    fn array<A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element::<Lax<T>>()? {
            items.extend(item.0);
        }
        Ok(Some(Items(items)))
    }
}

impl<'de, T: Pick<'de>> Deserialize<'de> for Lax<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LaxVisitor(PhantomData)).map(Lax)
    }
}

struct LaxVisitor<T>(PhantomData<T>);

impl<'de, T: Pick<'de>> Visitor<'de> for LaxVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(n).ok().and_then(T::unsigned))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(T::unsigned(n))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(T::string(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(T::string(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(T::string(Cow::Owned(s)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        Lax::<T>::deserialize(deserializer).map(|lax| lax.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        T::array(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::{json, Value};

    #[derive(Deserialize, Debug, Default)]
    #[serde(default)]
    struct Sample<'a> {
        #[serde(borrow)]
        name: Lax<Cow<'a, str>>,
        count: Lax<u64>,
        #[serde(borrow)]
        tags: Lax<Items<Cow<'a, str>>>,
        #[serde(borrow)]
        inner: Lax<First<Inner<'a>>>,
    }

    #[derive(Deserialize, Debug, Default)]
    #[serde(default)]
    struct Inner<'a> {
        #[serde(borrow)]
        name: Lax<Cow<'a, str>>,
    }
    lax_object!(Sample<'a>, Inner<'a>);

    fn read(text: &str) -> Option<Sample<'_>> {
        serde_json::from_str::<Lax<Sample>>(text).unwrap().0
    }

    #[test]
    fn members_of_the_wrong_type_read_as_absent() {
        let s = read(r#"{"name":5,"count":"7","tags":{"a":[1]},"inner":"x","other":[{"deep":true}]}"#).unwrap();
        assert_eq!((s.name.0, s.count.0, s.tags.0.is_none(), s.inner.0.is_none()), (None, None, true, true));
        let s = read(r#"{"name":null,"count":-3}"#).unwrap();
        assert_eq!((s.name.0, s.count.0), (None, None));
        assert!(read("[1,2]").is_none() && read("\"text\"").is_none() && read("null").is_none());
    }

    #[test]
    fn strings_borrow_unless_escaped_and_arrays_keep_their_typed_items() {
        let text = r#"{"name":"plain","count":7,"tags":["a\"b",1,"c",null],"inner":[{"name":"n"},{"name":"m"}]}"#;
        let s = read(text).unwrap();
        assert!(matches!(s.name.0, Some(Cow::Borrowed("plain"))));
        assert_eq!(s.count.0, Some(7));
        assert_eq!(s.tags.0.unwrap().0, vec![Cow::Owned::<str>("a\"b".into()), Cow::Borrowed("c")]);
        assert_eq!(s.inner.0.unwrap().0.unwrap().name.as_str(), Some("n"));
        let empty = read(r#"{"inner":[7]}"#).unwrap();
        assert!(empty.inner.0.unwrap().0.is_none());
    }

    #[test]
    fn reads_from_a_value_tree_too() {
        let value = json!({"name": "v", "count": 3});
        let s = Lax::<Sample>::deserialize(&value).unwrap().0.unwrap();
        assert_eq!((s.name.as_str(), s.count.0), (Some("v"), Some(3)));
        assert!(Lax::<Sample>::deserialize(&Value::Null).unwrap().0.is_none());
    }
}
