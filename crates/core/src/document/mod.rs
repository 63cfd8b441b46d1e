//! Apps arrive as Cloud Deploy documents (JSON from its API, or YAML written by hand).
//! They are read through a generic value tree rather than derived structs so that every
//! error can name the exact field (`modules[1].build_pack`) and say what was wrong.

mod export;
mod fields;
mod import;

pub use export::app_to_document;
pub use import::{DocumentFormat, parse_app_documents};

/// A document that could not be read as apps.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// The text is not valid JSON or YAML.
    #[error("not valid {format} at line {line}, column {column}: {message}")]
    Syntax {
        /// JSON or YAML.
        format: DocumentFormat,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A field is missing or wrong.
    #[error("field {field}: {problem}")]
    Field {
        /// The path of the field, e.g. `modules[1].path`.
        field: String,
        /// What is wrong and what is expected.
        problem: String,
    },
    /// The document holds no app.
    #[error("the document holds no app: expected an app object or a list of them")]
    Empty,
}

#[cfg(test)]
mod tests;
