//! A small reader for `--set` values written as in a model file, keeping
//! enum variant names (which `ron::Value` drops), into the JSON shape serde
//! gives our types: `Variant` -> `"Variant"`, `Variant(x)` -> `{"Variant": x}`,
//! `Variant(a: 1)` -> `{"Variant": {"a": 1}}`, `(a: 1)` -> `{"a": 1}`,
//! `Some(x)` -> `x`, `None` -> `null`. Bare tokens such as `2m` or `300ms`
//! become strings, so durations need no quotes on the command line.

use serde_json::{Map, Number, Value};

/// Deepest nesting of brackets a value may have (a guard against inputs
/// that would overflow the stack).
pub const MAX_DEPTH: usize = 64;

struct Reader<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

/// Parses `text`; `Err` says what was expected where.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut r = Reader { s: text.as_bytes(), i: 0, depth: 0 };
    let v = r.value()?;
    r.skip_ws();
    if r.i < r.s.len() {
        return Err(format!("unexpected `{}` at column {}", &text[r.i..], r.i + 1));
    }
    Ok(v)
}

impl Reader<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected `{}` at column {}", c as char, self.i + 1))
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("the value nests deeper than {MAX_DEPTH} levels"));
        }
        let v = self.value_inner();
        self.depth -= 1;
        v
    }

    fn value_inner(&mut self) -> Result<Value, String> {
        match self.peek() {
            None => Err("expected a value".into()),
            Some(b'"') => self.string().map(Value::String),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                while self.peek() != Some(b']') {
                    items.push(self.value()?);
                    if self.peek() == Some(b',') {
                        self.i += 1;
                    } else {
                        break;
                    }
                }
                self.expect(b']')?;
                Ok(Value::Array(items))
            }
            Some(b'(') => self.parenthesized(),
            Some(_) => {
                let token = self.token();
                if token.is_empty() {
                    return Err(format!("unexpected `{}` at column {}", self.s[self.i] as char, self.i + 1));
                }
                let is_ident = token.starts_with(|c: char| c.is_ascii_alphabetic())
                    && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if is_ident && self.peek() == Some(b'(') {
                    // `Name()` and `Some(())` are a struct with every field
                    // left to its default.
                    let inner = match self.parenthesized()? {
                        Value::Null => Value::Object(Map::new()),
                        inner => inner,
                    };
                    return Ok(match token.as_str() {
                        "Some" => inner,
                        _ => Value::Object(Map::from_iter([(token, inner)])),
                    });
                }
                Ok(scalar(token))
            }
        }
    }

    /// `( ... )`: named fields make an object; one positional value is that
    /// value; several make an array; `()` is null.
    fn parenthesized(&mut self) -> Result<Value, String> {
        self.expect(b'(')?;
        let mut named = Map::new();
        let mut positional = Vec::new();
        while self.peek() != Some(b')') {
            let save = self.i;
            let key = self.token();
            if !key.is_empty() && self.peek() == Some(b':') {
                self.i += 1;
                named.insert(key, self.value()?);
            } else {
                self.i = save;
                positional.push(self.value()?);
            }
            if self.peek() == Some(b',') {
                self.i += 1;
            } else {
                break;
            }
        }
        self.expect(b')')?;
        Ok(match (named.is_empty(), positional.len()) {
            (false, 0) => Value::Object(named),
            (true, 0) => Value::Null,
            (true, 1) => positional.pop().expect("one"),
            (true, _) => Value::Array(positional),
            (false, _) => return Err("a value mixes named and unnamed fields".into()),
        })
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out = String::new();
        let start = self.i;
        while let Some(&c) = self.s.get(self.i) {
            self.i += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let e = self.s.get(self.i).copied().ok_or("unterminated string")?;
                    self.i += 1;
                    out.push(match e {
                        b'n' => '\n',
                        b't' => '\t',
                        other => other as char,
                    });
                }
                _ => {
                    // Copy whole UTF-8 sequences.
                    let len = utf8_len(c);
                    let end = (self.i - 1 + len).min(self.s.len());
                    out.push_str(std::str::from_utf8(&self.s[self.i - 1..end]).map_err(|_| "invalid UTF-8")?);
                    self.i = end;
                }
            }
        }
        Err(format!("unterminated string starting at column {start}"))
    }

    /// A bare word: identifier, number or duration (`2m`, `1.5s`, `-3`).
    fn token(&mut self) -> String {
        self.skip_ws();
        let start = self.i;
        while let Some(&c) = self.s.get(self.i) {
            if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'+') || c >= 0x80 {
                self.i += 1;
            } else {
                break;
            }
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// A bare token: a boolean, a number, `None`, or else a string.
fn scalar(token: String) -> Value {
    match token.as_str() {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(u) = token.parse::<u64>() {
        return Value::Number(u.into());
    }
    if let Ok(i) = token.parse::<i64>() {
        return Value::Number(i.into());
    }
    if token.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.')
        && let Ok(f) = token.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_variant_names_at_any_depth() {
        assert_eq!(parse(r#"Constant("1s")"#).unwrap(), json!({"Constant": "1s"}));
        assert_eq!(
            parse(r#"[Step(at: "1m", rate: 50), Ramp(from: 2m, to: 3m, rate: 5.5)]"#).unwrap(),
            json!([{"Step": {"at": "1m", "rate": 50}}, {"Ramp": {"from": "2m", "to": "3m", "rate": 5.5}}])
        );
        assert_eq!(
            parse(r#"(query: Exponential(mean: "1ms"), pool_size: 3)"#).unwrap(),
            json!({"query": {"Exponential": {"mean": "1ms"}}, "pool_size": 3})
        );
        assert_eq!(parse("Some((ttl: 5m))").unwrap(), json!({"ttl": "5m"}));
    }

    #[test]
    fn scalars() {
        assert_eq!(parse("500").unwrap(), json!(500));
        assert_eq!(parse("-5").unwrap(), json!(-5));
        assert_eq!(parse("2.5").unwrap(), json!(2.5));
        assert_eq!(parse("1e400").unwrap(), json!("1e400"));
        assert_eq!(parse("2m").unwrap(), json!("2m"));
        assert_eq!(parse("SingleFlight").unwrap(), json!("SingleFlight"));
        assert_eq!(parse(r#""a \"q\" é""#).unwrap(), json!("a \"q\" é"));
        assert!(parse("(a: 1").is_err());
        assert!(parse("Constant(1s) extra").is_err());
        assert!(parse(&"[".repeat(100_000)).unwrap_err().contains("nests deeper"));
        assert!(parse(&format!("{}1{}", "[".repeat(60), "]".repeat(60))).is_ok());
    }
}
