//! Finds where a dotted field path (`workload.warmup`) is written in a RON
//! source, so that checks made after parsing can still point at a line.

/// A `name:` written in the source, with its 1-based position.
struct Key<'a> {
    name: &'a str,
    line: usize,
    col: usize,
}

/// Every `identifier :` in the source, in order, skipping strings and comments.
fn keys(source: &str) -> Vec<Key<'_>> {
    let bytes = source.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line, mut line_start) = (0usize, 1usize, 0usize);
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\n' {
            line += 1;
            line_start = i + 1;
            i += 1;
        } else if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            i += 2;
            while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                if bytes[i] == b'\n' {
                    line += 1;
                    line_start = i + 1;
                }
                i += 1;
            }
            i += 2;
        } else if c == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let mut j = i;
            while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t') {
                j += 1;
            }
            if bytes.get(j) == Some(&b':') {
                let col = source[line_start..start].chars().count() + 1;
                out.push(Key { name: &source[start..i], line, col });
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The (line, column) of the deepest part of `path` found in `source`,
/// searching each part after the previous one. `None` if not even the first
/// part is written (the whole section took its defaults).
pub fn locate(source: &str, path: &str) -> Option<(usize, usize)> {
    let keys = keys(source);
    let mut from = 0;
    let mut found = None;
    for part in path.split('.') {
        let name = part.split('[').next().unwrap_or(part);
        match keys[from..].iter().position(|k| k.name == name) {
            Some(offset) => {
                let k = &keys[from + offset];
                found = Some((k.line, k.col));
                from += offset + 1;
            }
            None => break,
        }
    }
    found
}

/// The (line, column) of the `n`-th (0-based) `key:` written after the
/// first `section:`, e.g. the 3rd expectation's `model:` in `expect: [...]`.
pub fn locate_nth_after(source: &str, section: &str, key: &str, n: usize) -> Option<(usize, usize)> {
    let keys = keys(source);
    let start = keys.iter().position(|k| k.name == section)?;
    keys[start + 1..].iter().filter(|k| k.name == key).nth(n).map(|k| (k.line, k.col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_fields_and_skips_comments_and_strings() {
        let src = "// warmup: not this\n(\n  name: \"warmup: nor this\",\n  workload: (\n    rate: 5,\n    warmup: \"9m\",\n  ),\n)\n";
        assert_eq!(locate(src, "workload.warmup"), Some((6, 5)));
        assert_eq!(locate(src, "workload.duration"), Some((4, 3)));
        assert_eq!(locate(src, "db.pool_size"), None);
        let exp = "(models: [], expect: [\n (model: \"a\"),\n (model: \"a\"),\n])";
        assert_eq!(locate_nth_after(exp, "expect", "model", 1), Some((3, 3)));
        assert_eq!(locate_nth_after(exp, "expect", "model", 2), None);
    }
}
