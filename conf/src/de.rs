//! A serde `Deserializer` over the positioned tree, so the `raw` structs can be derived with
//! `deny_unknown_fields` while every error still knows its YAML path.
//!
//! Owns scalar typing (YAML 1.2 core schema for plain scalars: null, booleans, integers,
//! floats; anything quoted is a string) and the wording of type errors ("expected a mapping,
//! found a list"). A string is accepted wherever a string is asked for, whatever the scalar
//! looks like, so `name: 123` is the name "123". It does not check values: that is `validate`.

use std::fmt;

use serde::de::{self, DeserializeSeed, Visitor};
use serde::forward_to_deserialize_any;

use crate::error::{Fault, Place};
use crate::hint;
use crate::path::YamlPath;
use crate::tree::{Entry, Node, NodeKind, Scalar};

/// Name of the newtype struct through which `raw::OctalText` asks for a scalar that must be
/// quoted: an unquoted `0600` is the decimal integer 600 in YAML, never what the user meant,
/// and only the deserializer still knows whether the scalar was quoted.
pub(crate) const OCTAL_TEXT: &str = "percore::OctalText";

/// Deserializes the document root into `T`.
pub(crate) fn from_root<'de, T: de::Deserialize<'de>>(root: &'de Node) -> Result<T, Fault> {
    let de = NodeDe {
        node: root,
        path: YamlPath::root(),
    };
    T::deserialize(de).map_err(|error| match error.at {
        Some((path, place)) => Fault {
            path,
            place,
            message: error.message,
        },
        None => Fault::value(&YamlPath::root(), error.message),
    })
}

/// A deserialization error: its message and, once a node has claimed it, where it happened.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct DeError {
    message: String,
    at: Option<(YamlPath, Place)>,
    /// Point at the key rather than the value (a missing field is about the whole mapping).
    at_key: bool,
}

impl DeError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            at: None,
            at_key: false,
        }
    }

    /// Claims an error for the node at `path` unless a deeper node already did.
    fn claim(mut self, path: &YamlPath, place: Place) -> Self {
        if self.at.is_none() {
            let place = if self.at_key { Place::Key } else { place };
            self.at = Some((path.clone(), place));
        }
        self
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self::new(message.to_string())
    }

    fn invalid_type(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Self::new(format!(
            "expected {expected}, found {}",
            describe_unexpected(&unexpected)
        ))
    }

    fn invalid_value(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Self::invalid_type(unexpected, expected)
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let message = match hint::closest(field, expected.iter().copied()) {
            Some(best) => format!("unknown field `{field}` (did you mean `{best}`?)"),
            None => format!(
                "unknown field `{field}`, expected one of {}",
                hint::list(expected)
            ),
        };
        Self::new(message)
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let message = match hint::closest(variant, expected.iter().copied()) {
            Some(best) => format!("unknown value `{variant}` (did you mean `{best}`?)"),
            None => format!(
                "unknown value `{variant}`, expected one of {}",
                hint::list(expected)
            ),
        };
        Self::new(message)
    }

    fn missing_field(field: &'static str) -> Self {
        let mut error = Self::new(format!("missing field `{field}`"));
        error.at_key = true;
        error
    }
}

/// Describes what serde found, in the same words as [`describe`].
fn describe_unexpected(unexpected: &de::Unexpected<'_>) -> String {
    match unexpected {
        de::Unexpected::Bool(b) => format!("boolean {b}"),
        de::Unexpected::Unsigned(n) => format!("integer {n}"),
        de::Unexpected::Signed(n) => format!("integer {n}"),
        de::Unexpected::Float(x) => format!("floating point {x}"),
        de::Unexpected::Str(s) => format!("string {}", quote(s)),
        de::Unexpected::Unit => "null".to_owned(),
        de::Unexpected::Seq => "a list".to_owned(),
        de::Unexpected::Map => "a mapping".to_owned(),
        other => other.to_string(),
    }
}

/// Describes a node for "found …" in type errors.
pub(crate) fn describe(node: &Node) -> String {
    match &node.kind {
        NodeKind::Sequence(_) => "a list".to_owned(),
        NodeKind::Mapping(_) => "a mapping".to_owned(),
        NodeKind::Scalar(scalar) => match resolve(scalar) {
            Resolved::Null => "null".to_owned(),
            Resolved::Bool(b) => format!("boolean {b}"),
            Resolved::Unsigned(_) | Resolved::Signed(_) | Resolved::IntOutOfRange => {
                format!("integer {}", scalar.text)
            }
            Resolved::Float(_) => format!("floating point {}", scalar.text),
            Resolved::Str => format!("string {}", quote(&scalar.text)),
        },
    }
}

/// Quotes a string for a message, cut to a readable length.
pub(crate) fn quote(text: &str) -> String {
    const SHOWN_CHARS_MAX: usize = 60;
    if text.chars().count() <= SHOWN_CHARS_MAX {
        return format!("{text:?}");
    }
    let shown: String = text.chars().take(SHOWN_CHARS_MAX).collect();
    format!("{shown:?}…")
}

/// What a scalar means under the YAML 1.2 core schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Resolved {
    Null,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    /// Integer syntax whose value does not fit 64 bits.
    IntOutOfRange,
    Float(f64),
    Str,
}

/// Types a scalar: quoted and block scalars are strings; plain ones follow the core schema.
pub(crate) fn resolve(scalar: &Scalar) -> Resolved {
    if !scalar.plain {
        return Resolved::Str;
    }
    let text = scalar.text.as_str();
    if scalar.is_null() {
        return Resolved::Null;
    }
    match text {
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    if let Some(resolved) = resolve_int(text) {
        return resolved;
    }
    if is_float(text) {
        if let Ok(x) = text.parse::<f64>() {
            return Resolved::Float(x);
        }
    }
    Resolved::Str
}

/// Core-schema integers: `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`.
fn resolve_int(text: &str) -> Option<Resolved> {
    let (radix, digits, negative) = if let Some(octal) = text.strip_prefix("0o") {
        (8, octal, false)
    } else if let Some(hex) = text.strip_prefix("0x") {
        (16, hex, false)
    } else if let Some(decimal) = text.strip_prefix('-') {
        (10, decimal, true)
    } else {
        (10, text.strip_prefix('+').unwrap_or(text), false)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let Ok(magnitude) = u64::from_str_radix(digits, radix) else {
        return Some(Resolved::IntOutOfRange);
    };
    if !negative {
        return Some(Resolved::Unsigned(magnitude));
    }
    match 0i64.checked_sub_unsigned(magnitude) {
        Some(value) => Some(Resolved::Signed(value)),
        None => Some(Resolved::IntOutOfRange),
    }
}

/// Core-schema floats: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_float(text: &str) -> bool {
    let text = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match fraction {
        Some(fraction) => {
            digits(whole) && digits(fraction) && !(whole.is_empty() && fraction.is_empty())
        }
        None => !whole.is_empty() && digits(whole),
    };
    let exponent_ok = match exponent {
        Some(exponent) => {
            let exponent = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
            !exponent.is_empty() && digits(exponent)
        }
        None => true,
    };
    mantissa_ok && exponent_ok
}

/// Deserializes one node; errors are claimed for its path.
struct NodeDe<'a> {
    node: &'a Node,
    path: YamlPath,
}

impl<'a> NodeDe<'a> {
    fn mismatch(&self, expected: &str) -> DeError {
        DeError::new(format!(
            "expected {expected}, found {}",
            describe(self.node)
        ))
    }

    /// Claims errors from `visit` that no deeper node claimed.
    fn claimed<T>(&self, result: Result<T, DeError>) -> Result<T, DeError> {
        result.map_err(|error| error.claim(&self.path, Place::Value))
    }

    fn scalar(&self) -> Option<&'a Scalar> {
        match &self.node.kind {
            NodeKind::Scalar(scalar) => Some(scalar),
            _ => None,
        }
    }
}

impl<'de> de::Deserializer<'de> for NodeDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match &self.node.kind {
            NodeKind::Sequence(items) => visitor.visit_seq(SeqDe {
                items: items.iter().enumerate(),
                path: &self.path,
            }),
            NodeKind::Mapping(entries) => visitor.visit_map(MapDe {
                entries: entries.iter(),
                value: None,
                path: &self.path,
            }),
            NodeKind::Scalar(scalar) => match resolve(scalar) {
                Resolved::Null => visitor.visit_unit(),
                Resolved::Bool(b) => visitor.visit_bool(b),
                Resolved::Unsigned(n) => visitor.visit_u64(n),
                Resolved::Signed(n) => visitor.visit_i64(n),
                Resolved::IntOutOfRange => Err(DeError::new(format!(
                    "integer {} is out of range",
                    scalar.text
                ))),
                Resolved::Float(x) => visitor.visit_f64(x),
                Resolved::Str => visitor.visit_str(&scalar.text),
            },
        };
        self.claimed(result)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match self.scalar().map(resolve) {
            Some(Resolved::Bool(b)) => visitor.visit_bool(b),
            _ => Err(self.mismatch("true or false")),
        };
        self.claimed(result)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match self.scalar() {
            Some(scalar) if !scalar.is_null() => visitor.visit_str(&scalar.text),
            _ => Err(self.mismatch("a string")),
        };
        self.claimed(result)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.node.is_null() {
            return self.claimed(visitor.visit_none());
        }
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = if self.node.is_null() {
            visitor.visit_unit()
        } else {
            Err(self.mismatch("null"))
        };
        self.claimed(result)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match &self.node.kind {
            NodeKind::Sequence(items) => visitor.visit_seq(SeqDe {
                items: items.iter().enumerate(),
                path: &self.path,
            }),
            _ => Err(self.mismatch("a list")),
        };
        self.claimed(result)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match &self.node.kind {
            NodeKind::Mapping(entries) => visitor.visit_map(MapDe {
                entries: entries.iter(),
                value: None,
                path: &self.path,
            }),
            _ => Err(self.mismatch("a mapping")),
        };
        self.claimed(result)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let result = match self.scalar() {
            Some(scalar) if !scalar.is_null() => {
                visitor.visit_enum(UnitVariant { name: &scalar.text })
            }
            _ => Err(self.mismatch(&format!("one of {}", hint::list(variants)))),
        };
        self.claimed(result)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == OCTAL_TEXT {
            let result = match self.scalar().map(|scalar| (scalar, resolve(scalar))) {
                Some((scalar, Resolved::Str)) => visitor.visit_str(&scalar.text),
                Some((
                    scalar,
                    Resolved::Unsigned(_) | Resolved::Signed(_) | Resolved::IntOutOfRange,
                )) => Err(DeError::new(format!(
                    "expected a quoted octal string such as \"0600\", found unquoted number {} \
                     (quote it: \"{}\")",
                    scalar.text, scalar.text
                ))),
                _ => Err(self.mismatch("a quoted octal string such as \"0600\"")),
            };
            return self.claimed(result);
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.claimed(visitor.visit_unit())
    }

    forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char
        bytes byte_buf unit_struct tuple tuple_struct
    }
}

/// Deserializes a mapping key; its errors point at the key.
struct KeyDe<'a> {
    key: &'a str,
    path: YamlPath,
}

impl<'de> de::Deserializer<'de> for KeyDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor
            .visit_str(self.key)
            .map_err(|error: DeError| error.claim(&self.path, Place::Key))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct SeqDe<'a, I> {
    items: I,
    path: &'a YamlPath,
}

impl<'de, I> de::SeqAccess<'de> for SeqDe<'_, I>
where
    I: Iterator<Item = (usize, &'de Node)>,
{
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some((index, node)) => seed
                .deserialize(NodeDe {
                    node,
                    path: self.path.index(index),
                })
                .map(Some),
            None => Ok(None),
        }
    }
}

struct MapDe<'p, 'de, I> {
    entries: I,
    /// The entry whose key was just handed out.
    value: Option<&'de Entry>,
    path: &'p YamlPath,
}

impl<'de, I> de::MapAccess<'de> for MapDe<'_, 'de, I>
where
    I: Iterator<Item = &'de Entry>,
{
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(entry);
        seed.deserialize(KeyDe {
            key: &entry.key,
            path: self.path.key(&entry.key),
        })
        .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some(entry) = self.value.take() else {
            return Err(DeError::new("internal error: value asked before key"));
        };
        seed.deserialize(NodeDe {
            node: &entry.value,
            path: self.path.key(&entry.key),
        })
    }
}

/// A scalar read as an enum: only unit variants (`level: admin`) exist in the schema.
struct UnitVariant<'a> {
    name: &'a str,
}

impl<'de> de::EnumAccess<'de> for UnitVariant<'de> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), DeError> {
        let deserializer = de::value::BorrowedStrDeserializer::<DeError>::new(self.name);
        let value = seed.deserialize(deserializer)?;
        Ok((value, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariant<'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value, DeError> {
        Err(DeError::new(format!("`{}` needs a value", self.name)))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value, DeError> {
        Err(DeError::new(format!("`{}` needs a value", self.name)))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, DeError> {
        Err(DeError::new(format!("`{}` needs a value", self.name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> Resolved {
        resolve(&Scalar {
            text: text.into(),
            plain: true,
        })
    }

    #[test]
    fn resolves_core_schema() {
        assert_eq!(plain(""), Resolved::Null);
        assert_eq!(plain("~"), Resolved::Null);
        assert_eq!(plain("True"), Resolved::Bool(true));
        assert_eq!(plain("yes"), Resolved::Str);
        assert_eq!(plain("0600"), Resolved::Unsigned(600));
        assert_eq!(plain("0o600"), Resolved::Unsigned(0o600));
        assert_eq!(plain("0x1F"), Resolved::Unsigned(31));
        assert_eq!(plain("-3"), Resolved::Signed(-3));
        assert_eq!(plain("-9223372036854775808"), Resolved::Signed(i64::MIN));
        assert_eq!(plain("-9223372036854775809"), Resolved::IntOutOfRange);
        assert_eq!(plain("99999999999999999999"), Resolved::IntOutOfRange);
        assert_eq!(plain("1.5"), Resolved::Float(1.5));
        assert_eq!(plain("1e3"), Resolved::Float(1000.0));
        assert_eq!(plain(".5"), Resolved::Float(0.5));
        assert_eq!(plain("."), Resolved::Str);
        assert_eq!(plain("inf"), Resolved::Str);
        assert_eq!(plain("1e"), Resolved::Str);
        assert_eq!(plain("10s"), Resolved::Str);
        assert_eq!(plain("127.0.0.1:80"), Resolved::Str);
        assert_eq!(plain("+"), Resolved::Str);
        let quoted = Scalar {
            text: "12".into(),
            plain: false,
        };
        assert_eq!(resolve(&quoted), Resolved::Str);
    }
}
