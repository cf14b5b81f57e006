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

    /// An error about a field of the file at `origin`, which is read again
    /// to place it: at the first of `fields` (dotted paths) the file
    /// writes, else without a position.
    pub fn in_file(origin: &str, fields: &[&str], message: impl Into<String>) -> ConfigError {
        let source = crate::fsutil::read_input(std::path::Path::new(origin)).unwrap_or_default();
        match fields.iter().find_map(|f| super::locate(&source, f)) {
            Some((line, col)) => ConfigError::at(origin, &source, line, col, message),
            None => ConfigError::new(origin, message),
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
                format!(
                    "{}this whole number is out of range: counts are whole numbers from 0 to 4,294,967,295, e.g. 10",
                    field_before(source, e.span.start.line, e.span.start.col)
                        .map(|f| format!("`{f}`: "))
                        .unwrap_or_default()
                ),
                Some("docs/models.md gives each field's range".into()),
            ),
            // serde's "Expected a nonzero u32": say it in the field's terms.
            R::InvalidValueForType { expected, found } if expected.contains("nonzero") => (
                format!(
                    "{}this count is a whole number from 1 to 4,294,967,295, e.g. 1, not {}",
                    field_before(source, e.span.start.line, e.span.start.col)
                        .map(|f| format!("`{f}`: "))
                        .unwrap_or_default(),
                    found.to_string().trim_start_matches("the unsigned integer ").trim_matches('`')
                ),
                Some("docs/models.md gives each field's range".into()),
            ),
            R::Message(m) if m.contains("untagged enum RawHandler") => (
                super::HANDLER_FORMS.to_string(),
                Some("check the spelling of the fields and distributions (docs/models.md, servers.handler)".into()),
            ),
            other => (plain_types(&other.to_string()), None),
        };
        let (line, col) = (e.span.start.line, e.span.start.col);
        if let Some((l, c, ch)) = odd_space_before(source, line, col) {
            return ConfigError::at(
                origin,
                source,
                l,
                c,
                format!("{} (U+{:04X}), which RON does not read as a space", space_name(ch), ch as u32),
            )
            .with_hint(Some("replace it with a plain space (editors and word processors insert these)".into()));
        }
        ConfigError::at(origin, source, line, col, message).with_hint(hint)
    }
}

/// The field whose value starts at (line, col): the identifier before the
/// last `:` ahead of it on that line.
fn field_before(source: &str, line: usize, col: usize) -> Option<String> {
    let text: String = source.lines().nth(line.checked_sub(1)?)?.chars().take(col.saturating_sub(1)).collect();
    let before = text.trim_end().trim_end_matches(['-', '+']).trim_end().strip_suffix(':')?.trim_end();
    let start = before.rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
    let name = &before[start..];
    (!name.is_empty()).then(|| name.to_string())
}

/// serde's words for Rust types ("expected u32", "expected a nonzero u32")
/// in a model's terms: what is allowed, and an example.
pub fn plain_types(message: &str) -> String {
    const WORDS: [(&str, &str); 12] = [
        ("a nonzero u32", "a whole number from 1 to 4,294,967,295, e.g. 1"),
        ("a nonzero u64", "a whole number from 1 to 18,446,744,073,709,551,615, e.g. 1"),
        ("a nonzero usize", "a whole number from 1 to 18,446,744,073,709,551,615, e.g. 1"),
        ("u8", "a whole number from 0 to 255, e.g. 10"),
        ("u16", "a whole number from 0 to 65,535, e.g. 10"),
        ("u32", "a whole number from 0 to 4,294,967,295, e.g. 10"),
        ("u64", "a whole number from 0 to 18,446,744,073,709,551,615, e.g. 10"),
        ("usize", "a whole number from 0 to 18,446,744,073,709,551,615, e.g. 10"),
        ("i32", "a whole number, e.g. 10"),
        ("i64", "a whole number, e.g. 10"),
        ("f32", "a number, e.g. 2.5"),
        ("f64", "a number, e.g. 2.5"),
    ];
    let mut out = message.replace("invalid value: integer ", "").replace("invalid type: integer ", "");
    for (ty, words) in WORDS {
        for (from, to) in [
            (format!(", expected {ty}"), format!(": expected {words}")),
            (format!("expected {ty}"), format!("expected {words}")),
        ] {
            if let Some(i) = out.find(&from) {
                let end = i + from.len();
                if !out[end..].starts_with(|c: char| c.is_alphanumeric()) {
                    out.replace_range(i..end, &to);
                }
            }
        }
    }
    out
}

/// Spaces that look like a plain one but are not, to RON.
fn space_name(c: char) -> &'static str {
    match c {
        '\u{a0}' => "a no-break space",
        '\u{202f}' => "a narrow no-break space",
        '\u{200b}' => "a zero-width space",
        '\u{feff}' => "a byte-order mark",
        '\u{3000}' => "an ideographic space",
        _ => "a Unicode space",
    }
}

/// The first odd space (line, column, char) outside strings at or before
/// (line, col), 1-based: the likely cause of an error there.
fn odd_space_before(source: &str, line: usize, col: usize) -> Option<(usize, usize, char)> {
    let odd = |c: char| {
        c != ' ' && c != '\t' && c != '\n' && c != '\r' && (c.is_whitespace() || matches!(c, '\u{200b}' | '\u{feff}'))
    };
    let mut in_string = false;
    for (i, text) in source.lines().enumerate().take(line) {
        let mut prev = '\0';
        for (j, c) in text.chars().enumerate() {
            if i + 1 == line && j + 1 > col {
                break;
            }
            if c == '"' && prev != '\\' {
                in_string = !in_string;
            }
            if !in_string && odd(c) {
                return Some((i + 1, j + 1, c));
            }
            prev = c;
        }
    }
    None
}

/// The most characters of one word of the input an error echoes.
pub const MAX_ECHO: usize = 80;

/// `text` cut to [`MAX_ECHO`] characters, ending in "…" when cut.
pub fn cut(text: &str) -> String {
    if text.chars().count() <= MAX_ECHO {
        return text.to_string();
    }
    text.chars().take(MAX_ECHO - 1).chain(std::iter::once('…')).collect()
}

/// `text` with every word longer than [`MAX_ECHO`] characters cut, and in
/// all at most 20 words' worth: an echoed megabyte identifier or string
/// never fills the terminal.
fn cut_words(text: &str) -> String {
    let mut out = String::new();
    for word in text.split_inclusive(char::is_whitespace) {
        let body = word.trim_end_matches(char::is_whitespace);
        out += &cut(body);
        out += &word[body.len()..];
        if out.chars().count() > 20 * MAX_ECHO {
            out = out.chars().take(20 * MAX_ECHO - 1).collect::<String>() + "…";
            break;
        }
    }
    out
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
        let message = cut_words(&self.message);
        match self.position {
            Some((line, col)) => write!(f, "{}:{line}:{col}: {message}", self.origin)?,
            None => write!(f, "{}: {message}", self.origin)?,
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
            write!(f, "\n  hint: {}", cut_words(hint))?;
        }
        Ok(())
    }
}
