//! A reader over a JSON value tree that remembers where it is, so that every error
//! names its field.

use serde_json::{Map, Value};

use super::DocumentError;

/// An object at a known path.
pub(super) struct Fields<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// Reads `value` as an object found at `path` (empty for the root).
    pub(super) fn new(path: String, value: &'a Value) -> Result<Self, DocumentError> {
        match value {
            Value::Object(map) => Ok(Self { path, map }),
            other => Err(DocumentError::Field {
                field: display_path(&path),
                problem: format!("expected an object, found {}", kind(other)),
            }),
        }
    }

    /// The path of a child field.
    pub(super) fn child(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// An error about `key`.
    pub(super) fn error(&self, key: &str, problem: impl Into<String>) -> DocumentError {
        DocumentError::Field {
            field: self.child(key),
            problem: problem.into(),
        }
    }

    /// A present, non-null value.
    pub(super) fn value(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|value| !value.is_null())
    }

    /// A string that must be present and non-empty.
    pub(super) fn required_str(&self, key: &str) -> Result<&'a str, DocumentError> {
        match self.optional_str(key)? {
            Some(text) => Ok(text),
            None => Err(self.error(key, "is required and must be a non-empty string")),
        }
    }

    /// A string that may be absent, null or empty (all three mean "not set").
    pub(super) fn optional_str(&self, key: &str) -> Result<Option<&'a str>, DocumentError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::String(text)) if text.is_empty() => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => {
                Err(self.error(key, format!("expected a string, found {}", kind(other))))
            }
        }
    }

    /// A string that may also be given as a number (versions are often written `1.2`).
    pub(super) fn optional_scalar(&self, key: &str) -> Result<Option<String>, DocumentError> {
        match self.value(key) {
            Some(Value::Number(number)) => Ok(Some(number.to_string())),
            _ => Ok(self.optional_str(key)?.map(str::to_owned)),
        }
    }

    /// An optional nested object.
    pub(super) fn optional_object(&self, key: &str) -> Result<Option<Fields<'a>>, DocumentError> {
        self.value(key)
            .map(|value| Fields::new(self.child(key), value))
            .transpose()
    }

    /// An optional list, as objects with their paths.
    pub(super) fn optional_list(&self, key: &str) -> Result<Vec<Fields<'a>>, DocumentError> {
        match self.value(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| Fields::new(format!("{}[{index}]", self.child(key)), item))
                .collect(),
            Some(other) => Err(self.error(key, format!("expected a list, found {}", kind(other)))),
        }
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        "(document root)".to_owned()
    } else {
        path.to_owned()
    }
}

/// What a value is, for messages.
pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
