//! The model file's own text with changed values: each `--set` path is
//! found in the RON source and its value replaced (or, where the file leaves
//! the field to its default, the field is added to its section), so that
//! comments and layout elsewhere are kept.

use serde_json::Value;

use super::knobs::{lookup, ron_text};

/// A `key: value` written in the source: its dotted path (variants passed
/// through, as `--set` does) and the value's byte range.
struct Entry {
    path: String,
    start: usize,
    end: usize,
}

/// A `( ... )` section: its dotted path, the byte just after `(` and the
/// indentation of the line it opens on.
struct Group {
    path: String,
    open: usize,
    indent: usize,
}

struct Scan<'a> {
    s: &'a [u8],
    i: usize,
    entries: Vec<Entry>,
    groups: Vec<Group>,
    depth: usize,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_blank(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() {
                self.i += 1;
            } else if c == b'/' && self.s.get(self.i + 1) == Some(&b'/') {
                while self.peek().is_some_and(|c| c != b'\n') {
                    self.i += 1;
                }
            } else if c == b'/' && self.s.get(self.i + 1) == Some(&b'*') {
                self.i += 2;
                while self.i < self.s.len() && !(self.s[self.i] == b'*' && self.s.get(self.i + 1) == Some(&b'/')) {
                    self.i += 1;
                }
                self.i = (self.i + 2).min(self.s.len());
            } else {
                break;
            }
        }
    }

    fn ident(&mut self) -> Option<(usize, usize)> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
            self.i += 1;
        }
        (self.i > start).then_some((start, self.i))
    }

    fn string(&mut self) -> Option<()> {
        self.i += 1;
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'\\' => self.i += 1,
                b'"' => return Some(()),
                _ => {}
            }
        }
        None
    }

    fn indent_at(&self, at: usize) -> usize {
        let line_start = self.s[..at].iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
        self.s[line_start..].iter().take_while(|&&c| c == b' ' || c == b'\t').count()
    }

    /// Reads one value at `path`.
    fn value(&mut self, path: &str) -> Option<()> {
        self.depth += 1;
        if self.depth > 64 {
            return None;
        }
        self.skip_blank();
        match self.peek()? {
            b'"' => self.string()?,
            b'(' => self.group(path, b')')?,
            b'[' => self.group("\0", b']')?,
            b'{' => self.group("\0", b'}')?,
            c if c.is_ascii_alphabetic() || c == b'_' => {
                self.ident()?;
                self.skip_blank();
                if self.peek() == Some(b'(') {
                    // A variant or a named struct: its fields keep the path.
                    self.group(path, b')')?;
                }
            }
            _ => {
                while self.peek().is_some_and(|c| !c.is_ascii_whitespace() && !b",)]}/".contains(&c)) {
                    self.i += 1;
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// Reads a bracketed list of entries or values, recording `key: value`
    /// entries of a `( ... )` section under `path` (`"\0"`: not recorded).
    fn group(&mut self, path: &str, close: u8) -> Option<()> {
        let open_at = self.i;
        self.i += 1;
        if path != "\0" {
            self.groups.push(Group { path: path.to_string(), open: self.i, indent: self.indent_at(open_at) });
        }
        loop {
            self.skip_blank();
            match self.peek()? {
                c if c == close => {
                    self.i += 1;
                    return Some(());
                }
                b',' => self.i += 1,
                _ => {
                    let before = self.i;
                    let key = if close == b')' { self.key() } else { None };
                    match key {
                        Some(k) => {
                            let child = if path == "\0" { "\0".to_string() } else { join(path, &k) };
                            self.skip_blank();
                            let start = self.i;
                            self.value(&child)?;
                            if path != "\0" {
                                self.entries.push(Entry { path: child, start, end: self.i });
                            }
                        }
                        None => {
                            self.i = before;
                            // Map keys (`"k": v`) and plain values.
                            self.value("\0")?;
                            self.skip_blank();
                            if self.peek() == Some(b':') {
                                self.i += 1;
                                self.value("\0")?;
                            }
                        }
                    }
                    if self.i == before {
                        return None;
                    }
                }
            }
        }
    }

    /// `ident :` at the cursor (consumed), or nothing (cursor unchanged).
    fn key(&mut self) -> Option<String> {
        let at = self.i;
        let (a, b) = self.ident()?;
        self.skip_blank();
        if self.peek() == Some(b':') {
            self.i += 1;
            return Some(String::from_utf8_lossy(&self.s[a..b]).into_owned());
        }
        self.i = at;
        None
    }
}

fn scan(text: &str) -> Option<(Vec<Entry>, Vec<Group>)> {
    let mut s = Scan { s: text.as_bytes(), i: 0, entries: Vec::new(), groups: Vec::new(), depth: 0 };
    s.value("")?;
    Some((s.entries, s.groups))
}

/// `text` with the value at each of `paths` replaced by its value in
/// `tree` (the model with every override applied), in order. `None` if
/// the text cannot be read or a path cannot be placed.
pub fn edit(text: &str, paths: &[&str], tree: &Value) -> Option<String> {
    let mut text = text.to_string();
    for path in paths {
        let value = lookup(tree, path).map_or_else(|| "None".to_string(), ron_text);
        let (entries, groups) = scan(&text)?;
        if let Some(e) = entries.iter().find(|e| e.path == *path) {
            text.replace_range(e.start..e.end, &value);
            continue;
        }
        // Absent from the file: add the field (with its whole value) to the
        // deepest section that is written.
        let parts: Vec<&str> = path.split('.').collect();
        let (at, key) = (0..parts.len()).rev().find_map(|n| {
            let prefix = parts[..n].join(".");
            groups.iter().find(|g| g.path == prefix).map(|g| (g, parts[..=n].join(".")))
        })?;
        let field = key.rsplit('.').next()?;
        let whole = lookup(tree, &key).map_or_else(|| "None".to_string(), ron_text);
        let insert = format!("\n{}{field}: {whole},", " ".repeat(at.indent + 4));
        text.insert_str(at.open, &insert);
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TEXT: &str = "// a model\nModel(\n    name: \"m\", // kept\n    cache: (\n        ttl: \"5m\",   // the TTL\n    ),\n    backend: (latency: LogNormal(median: \"1s\", p99: \"2s\")),\n)\n";

    #[test]
    fn values_are_replaced_in_place_and_comments_kept() {
        let tree =
            json!({"cache": {"ttl": "2m"}, "backend": {"latency": {"LogNormal": {"median": "1s", "p99": "3s"}}}});
        let out = edit(TEXT, &["cache.ttl", "backend.latency.p99"], &tree).unwrap();
        assert!(out.contains("ttl: \"2m\",   // the TTL"), "{out}");
        assert!(out.contains("p99: \"3s\")"), "{out}");
        assert!(out.starts_with("// a model\n") && out.contains("// kept"), "{out}");
    }

    #[test]
    fn absent_fields_are_added_to_their_section() {
        let tree = json!({"cache": {"ttl": "5m", "refresh": "SingleFlight"}, "redis": {"ttl": "1m"}});
        let out = edit(TEXT, &["cache.refresh", "redis"], &tree).unwrap();
        assert!(out.contains("cache: (\n        refresh: SingleFlight,"), "{out}");
        assert!(out.contains("Model(\n    redis: (ttl: \"1m\"),"), "{out}");
    }
}
