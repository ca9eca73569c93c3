//! Strict JSON, shared by every JSON reader of brokerflow (markets, bids, offers, MCA
//! scenarios, deviations): a record is read from a JSON object only, and no object
//! names a key twice.
//!
//! serde's derive also reads a struct from an array of its fields in order (`["u1",
//! 10, 1, 20]` as a user) and `serde_json` keeps the last of two equal keys of a map
//! (`{"u1": 3, "u1": 100}` is `{"u1": 100}`): both let a typo or a hostile file mean
//! something other than what it shows. [`object_only!`](crate::object_only) gives a
//! record type a reader that accepts objects only; [`unique_keys`] checks a whole text
//! for repeated keys, at any depth (maps, records and free-form `meta` alike);
//! [`read`] is the one reader every file format calls, with its [`ParseError`].

use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
};
use thiserror::Error;

/// Why a JSON text is not one record of its reader's shape: the input, the JSON path
/// of the offending value, and what is wrong, shown on one line (control characters of
/// ids or file names escaped).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", one_line(&format!("{}: {}: {}", .origin, if .path.is_empty() || .path == "." { "(top level)" } else { .path.as_str() }, .message)))]
pub struct ParseError {
    /// The input's name (usually the file name).
    pub origin: String,
    /// JSON path of the offending value, e.g. `users[0].demand` (empty at the top).
    pub path: String,
    /// The parser's description, with line and column where it has them.
    pub message: String,
}

/// Reads one `T` from the JSON `text` and nothing after it: the shared reader of the
/// market, fault, offers and scenario files.
///
/// A leading byte-order mark is skipped (editors write one); a text of white space
/// only is refused with `empty`; a text that ends inside the record says so ("the
/// text ends before the `record` is complete"); text after it is refused
/// ("unexpected text after the `record` object"), and so is a key named twice
/// ([`unique_keys`]). Errors carry `origin` and the JSON path of the offending value.
///
/// # Arguments
/// - `text`: the file's text.
/// - `origin`: names the input in errors.
/// - `record`: what the file holds, for messages (`"market"`, `"fault file"`).
/// - `empty`: the whole message for an empty file (what the file should hold).
///
/// # Returns
/// The record, or the first [`ParseError`].
///
/// # Complexity
/// O(length of `text`): one typed pass and one pass for repeated keys.
///
/// # Example
/// ```
/// use brokerflow_graphs::json::read;
/// let v: Vec<u32> = read("\u{feff}[1, 2]", "x.json", "list", "empty").unwrap();
/// assert_eq!(v, [1, 2]);
/// let e = read::<Vec<u32>>("[1] [2]", "x.json", "list", "empty").unwrap_err();
/// assert!(e.to_string().starts_with("x.json: (top level): unexpected text after the list object"));
/// ```
pub fn read<T: DeserializeOwned>(
    text: &str,
    origin: &str,
    record: &str,
    empty: &str,
) -> Result<T, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let error = |path: String, message: String| ParseError {
        origin: origin.to_string(),
        path,
        message,
    };
    if text.trim().is_empty() {
        return Err(error(String::new(), empty.to_string()));
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let inner = e.inner();
        let message = if inner.is_eof() {
            format!("the text ends before the {record} is complete (a truncated file?): {inner}")
        } else {
            inner.to_string()
        };
        // Where the text ends inside a key the path reader answers "?": name the
        // enclosing value rather than that.
        let path = e.path().to_string();
        let path = path.trim_end_matches('?').trim_end_matches('.').to_string();
        error(path, message)
    })?;
    // Trailing text after the object is an error too, not silently ignored.
    de.end().map_err(|e| {
        error(
            String::new(),
            format!("unexpected text after the {record} object: {e}"),
        )
    })?;
    unique_keys(text).map_err(|e| error(e.path, e.message))?;
    Ok(value)
}

/// Keeps a message on one line whatever the input held: ids, keys and file names may
/// contain line breaks or other control characters, which are shown escaped (`\n`).
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// A record read from a JSON object only (never from serde's positional array form).
/// Implemented by [`object_only!`](crate::object_only), which also gives the type its
/// `Deserialize`.
pub trait ObjectOnly: Sized {
    /// What the record is, for messages: "a user", "the market".
    const WHAT: &'static str;
    /// The derived reader of the record's fields (`#[serde(remote = "Self")]`).
    fn from_fields<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

/// Reads a `T` from a JSON object; an array (or anything else) is refused with
/// "invalid type: sequence, expected <T::WHAT> as a JSON object".
pub fn deserialize_object<'de, D: Deserializer<'de>, T: ObjectOnly>(d: D) -> Result<T, D::Error> {
    d.deserialize_map(ObjectVisitor::<T>(PhantomData))
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: ObjectOnly> Visitor<'de> for ObjectVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} as a JSON object {{\"field\": value, …}} (fields by name, not a positional array)",
            T::WHAT
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::from_fields(de::value::MapAccessDeserializer::new(map))
    }
}

/// Gives a record type (deriving `Deserialize`, and `Serialize` with `, serialize`,
/// under `#[serde(remote = "Self")]`) serde impls that read it from a JSON object
/// only and write it as its derive would.
///
/// ```ignore
/// #[derive(Serialize, Deserialize)]
/// #[serde(remote = "Self", deny_unknown_fields)]
/// pub struct User { pub id: String }
/// brokerflow_graphs::object_only!(User, "a user", serialize);
/// ```
#[macro_export]
macro_rules! object_only {
    ($t:ty, $what:literal) => {
        impl $crate::json::ObjectOnly for $t {
            const WHAT: &'static str = $what;
            fn from_fields<'de, D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <$t>::deserialize(d)
            }
        }
        impl<'de> ::serde::Deserialize<'de> for $t {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::json::deserialize_object(d)
            }
        }
    };
    ($t:ty, $what:literal, serialize) => {
        $crate::object_only!($t, $what);
        impl ::serde::Serialize for $t {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                <$t>::serialize(self, s)
            }
        }
    };
}

/// A key that an object of the text names twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    /// JSON path of the object, e.g. `prices.broker.b` (empty at the top level).
    pub path: String,
    /// What `serde_json` says, with the key, line and column.
    pub message: String,
}

impl fmt::Display for DuplicateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() || self.path == "." {
            "(top level)"
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.message)
    }
}

/// Checks that no object in the JSON `text` names a key twice, at any depth. Run it
/// after the typed read succeeded (so the text is JSON); an error of any other kind
/// (which that read would have reported first) is returned the same way.
pub fn unique_keys(text: &str) -> Result<(), DuplicateKey> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize::<_, Unique>(&mut *de)
        .map(|_| ())
        .map_err(|e| DuplicateKey {
            path: e.path().to_string(),
            message: e.inner().to_string(),
        })
}

/// Any JSON value, read only to find repeated keys.
struct Unique;

impl<'de> de::Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_none<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Unique, D::Error> {
        de::Deserialize::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if seen.contains(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate key '{}' (each key may appear once in an object; a repeated key would silently replace the first)",
                    key.escape_debug()
                )));
            }
            map.next_value::<Unique>()?;
            seen.insert(key);
        }
        Ok(Unique)
    }
}

/// Reads an object key as a string.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        <String as de::Deserialize>::deserialize(d)
    }
}
