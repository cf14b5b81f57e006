//! Errors in model files and overrides: where (file, line, column), what was
//! expected, and a hint when one helps.

use std::fmt;

use super::suggest::did_you_mean;

/// A model that could not be read: always reported with exit code 2.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The file's path, or the `--set` argument at fault.
    pub origin: String,
    /// 1-based (line, column), when the error has a place in a file.
    pub position: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
    /// A suggestion, e.g. "did you mean `ttl`?".
    pub hint: Option<String>,
    /// The offending source line, shown under the message.
    pub source_line: Option<String>,
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// An error without a position (a file that cannot be read, a bad `--set`).
    pub fn new(origin: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError { origin: origin.into(), position: None, message: message.into(), hint: None, source_line: None }
    }

    /// An error at (line, column) of `source`.
    pub fn at(origin: &str, source: &str, line: usize, col: usize, message: impl Into<String>) -> ConfigError {
        ConfigError {
            origin: origin.to_string(),
            position: Some((line, col)),
            message: message.into(),
            hint: None,
            source_line: source.lines().nth(line.saturating_sub(1)).map(str::to_string),
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: Option<String>) -> ConfigError {
        self.hint = hint;
        self
    }

    /// Translates a RON parse error, adding "did you mean" hints for misspelt
    /// field and variant names.
    pub fn from_ron(origin: &str, source: &str, e: &ron::de::SpannedError) -> ConfigError {
        use ron::Error as R;
        let (message, hint) = match &e.code {
            R::NoSuchStructField { expected, found, outer } => {
                (format!("unknown field `{found}`{}", in_outer(outer)), Some(suggestion(found, expected, "fields")))
            }
            R::NoSuchEnumVariant { expected, found, outer } => {
                (format!("unknown variant `{found}`{}", in_outer(outer)), Some(suggestion(found, expected, "variants")))
            }
            R::MissingStructField { field, outer } => (
                format!("missing field `{field}`{}", in_outer(outer)),
                Some(format!("add `{field}: ...`; docs/models.md lists every field with its unit")),
            ),
            R::DuplicateStructField { field, outer } => {
                (format!("field `{field}` is given twice{}", in_outer(outer)), None)
            }
            // A count past what its type holds (u32: 4,294,967,295), or negative.
            R::IntegerOutOfBounds => (
                "this whole number is out of range for its field".to_string(),
                Some(
                    "counts are whole numbers from 0 to at most 4,294,967,295; docs/models.md gives each field's range"
                        .into(),
                ),
            ),
            // serde's "Expected a nonzero u32": say it in the field's terms.
            R::InvalidValueForType { expected, found } if expected.contains("nonzero") => (
                format!("this count must be a whole number of at least 1, not {found}"),
                Some("docs/models.md gives each field's range".into()),
            ),
            R::Message(m) if m.contains("untagged enum RawHandler") => (
                super::HANDLER_FORMS.to_string(),
                Some("check the spelling of the fields and distributions (docs/models.md, servers.handler)".into()),
            ),
            other => (other.to_string(), None),
        };
        ConfigError::at(origin, source, e.span.start.line, e.span.start.col, message).with_hint(hint)
    }
}

fn in_outer(outer: &Option<String>) -> String {
    outer.as_ref().map(|o| format!(" in `{o}`")).unwrap_or_default()
}

fn suggestion(found: &str, expected: &[&str], what: &str) -> String {
    let list = expected.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ");
    match did_you_mean(found, expected.iter().copied()) {
        Some(best) => format!("did you mean `{best}`? (expected one of the {what} {list})"),
        None => format!("expected one of the {what} {list}"),
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, col)) => write!(f, "{}:{line}:{col}: {}", self.origin, self.message)?,
            None => write!(f, "{}: {}", self.origin, self.message)?,
        }
        if let (Some((line, col)), Some(text)) = (self.position, &self.source_line) {
            // Show the whole line, or for a very long one, 60 characters
            // either side of the column.
            let chars: Vec<char> = text.chars().collect();
            let (from, to) = if chars.len() <= 120 {
                (0, chars.len())
            } else {
                (col.saturating_sub(61), (col + 60).min(chars.len()))
            };
            let shown: String = chars[from.min(to)..to].iter().collect();
            let (pre, post) = (if from > 0 { "…" } else { "" }, if to < chars.len() { "…" } else { "" });
            let caret = col - from + pre.chars().count();
            let gutter = line.to_string().len();
            write!(f, "\n{:gutter$} |\n{line} | {pre}{shown}{post}\n{:gutter$} | {:>caret$}", "", "", "^")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}
