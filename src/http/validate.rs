//! Field-by-field validation of JSON bodies that reports every problem, FastAPI-style.

use crate::error::{FieldError, Loc};
use serde_json::{Map, Value};

/// Text may not contain U+0000: no database stores it in text, and no client means it.
pub const NUL_MESSAGE: &str = "Value error, text must not contain the NUL character (U+0000)";

/// Whether any key or string inside `value` contains U+0000.
fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// The length of an object's compact JSON text, measured without building the text.
fn json_size(obj: &Map<String, Value>) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, obj).map_or(usize::MAX, |()| count.0)
}

/// Collects the problems found in one body.
#[derive(Default)]
pub struct Problems(pub Vec<FieldError>);

/// Appends `key` to a location.
pub fn at(loc: &[Loc], key: impl Into<Loc>) -> Vec<Loc> {
    let mut out = loc.to_vec();
    out.push(key.into());
    out
}

impl Problems {
    /// Records one problem.
    pub fn push(&mut self, loc: Vec<Loc>, kind: &str, msg: impl Into<String>) {
        self.0.push(FieldError::new(loc, kind, msg));
    }

    /// Whether nothing was found wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Reports every key of `obj` not in `allowed`.
    pub fn unknown_keys(&mut self, obj: &Map<String, Value>, allowed: &[&str], loc: &[Loc]) {
        for key in obj.keys().filter(|k| !allowed.contains(&k.as_str())) {
            self.push(at(loc, key.as_str()), "extra_forbidden", "Extra inputs are not permitted");
        }
    }

    /// A present, non-null field, or `missing` when `required`.
    pub fn field<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        key: &str,
        loc: &[Loc],
        required: bool,
    ) -> Option<&'v Value> {
        match obj.get(key) {
            Some(Value::Null) | None => {
                if required {
                    self.push(at(loc, key), "missing", "Field required");
                }
                None
            }
            Some(v) => Some(v),
        }
    }

    /// A string of `min..=max` characters.
    pub fn string(&mut self, value: &Value, loc: Vec<Loc>, min: usize, max: usize) -> Option<String> {
        let Value::String(s) = value else {
            self.push(loc, "string_type", "Input should be a valid string");
            return None;
        };
        let len = s.chars().count();
        if s.contains('\0') {
            self.push(loc, "string_pattern_mismatch", NUL_MESSAGE);
            None
        } else if len < min {
            let unit = if min == 1 { "character" } else { "characters" };
            self.push(loc, "string_too_short", format!("String should have at least {min} {unit}"));
            None
        } else if len > max {
            self.push(loc, "string_too_long", format!("String should have at most {max} characters"));
            None
        } else {
            Some(s.clone())
        }
    }

    /// An integer (an integral float is accepted) within `min..=max`.
    pub fn int(&mut self, value: &Value, loc: Vec<Loc>, min: i64, max: i64) -> Option<i64> {
        let n = match value {
            // integers beyond i64 are simply too large
            Value::Number(n) if n.is_u64() && n.as_i64().is_none() => Some(i64::MAX),
            Value::Number(n) => {
                n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9e15).map(|f| f as i64))
            }
            _ => None,
        };
        let Some(n) = n else {
            let kind = if value.is_number() { "int_from_float" } else { "int_type" };
            let msg = if value.is_number() {
                "Input should be a valid integer, got a number with a fractional part"
            } else {
                "Input should be a valid integer"
            };
            self.push(loc, kind, msg);
            return None;
        };
        if n < min {
            self.push(loc, "greater_than_equal", format!("Input should be greater than or equal to {min}"));
            None
        } else if n > max {
            self.push(loc, "less_than_equal", format!("Input should be less than or equal to {max}"));
            None
        } else {
            Some(n)
        }
    }

    /// A boolean.
    pub fn boolean(&mut self, value: &Value, loc: Vec<Loc>) -> Option<bool> {
        let b = value.as_bool();
        if b.is_none() {
            self.push(loc, "bool_type", "Input should be a valid boolean");
        }
        b
    }

    /// An object.
    pub fn object<'v>(&mut self, value: &'v Value, loc: Vec<Loc>) -> Option<&'v Map<String, Value>> {
        let o = value.as_object();
        if o.is_none() {
            self.push(loc, "dict_type", "Input should be a valid dictionary");
        }
        o
    }

    /// An object whose JSON text is at most `max_bytes` long.
    pub fn bounded_object(&mut self, value: &Value, loc: Vec<Loc>, max_bytes: usize) -> Option<Map<String, Value>> {
        self.object(value, loc.clone())?;
        self.bounded_object_owned(value.clone(), loc, max_bytes)
    }

    /// [`Problems::bounded_object`], taking the value.
    pub fn bounded_object_owned(
        &mut self,
        value: Value,
        loc: Vec<Loc>,
        max_bytes: usize,
    ) -> Option<Map<String, Value>> {
        let Value::Object(obj) = value else {
            self.push(loc, "dict_type", "Input should be a valid dictionary");
            return None;
        };
        if obj.values().any(has_nul) || obj.keys().any(|k| k.contains('\0')) {
            self.push(loc, "string_pattern_mismatch", NUL_MESSAGE);
            return None;
        }
        let size = json_size(&obj);
        if size > max_bytes {
            self.push(
                loc,
                "value_error",
                format!("Value error, object must be at most {max_bytes} bytes of JSON, got {size}"),
            );
            return None;
        }
        Some(obj)
    }

    /// An RFC 3339 instant that carries `Z` or an offset.
    pub fn instant(&mut self, value: &Value, loc: Vec<Loc>) -> Option<chrono::DateTime<chrono::Utc>> {
        let parsed = value.as_str().and_then(crate::domain::time::parse_instant);
        if parsed.is_none() {
            self.push(loc, "datetime_parsing", "Input should be an RFC 3339 datetime with Z or an offset");
        }
        parsed
    }

    /// A value from a fixed set of spellings.
    pub fn one_of<T>(
        &mut self,
        value: &Value,
        loc: Vec<Loc>,
        parse: impl Fn(&str) -> Option<T>,
        expected: &str,
    ) -> Option<T> {
        let parsed = value.as_str().and_then(parse);
        if parsed.is_none() {
            self.push(loc, "enum", format!("Input should be {expected}"));
        }
        parsed
    }

    /// An array of `min..=max` items.
    pub fn array<'v>(&mut self, value: &'v Value, loc: Vec<Loc>, min: usize, max: usize) -> Option<&'v [Value]> {
        let Value::Array(items) = value else {
            self.push(loc, "list_type", "Input should be a valid list");
            return None;
        };
        if items.len() < min {
            let unit = if min == 1 { "item" } else { "items" };
            self.push(
                loc,
                "too_short",
                format!("List should have at least {min} {unit} after validation, not {}", items.len()),
            );
            None
        } else if items.len() > max {
            self.push(
                loc,
                "too_long",
                format!("List should have at most {max} items after validation, not {}", items.len()),
            );
            None
        } else {
            Some(items)
        }
    }
}
