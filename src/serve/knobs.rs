//! The model's main knobs as the page shows them, read from the model's
//! JSON tree by the same dotted paths `--set` takes; values written back as
//! `--set` and RON text.

use serde::Serialize;
use serde_json::Value;

use crate::config::ModelSpec;

/// What kind of control a knob is.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A number (`integer`: whole numbers only).
    Number,
    Integer,
    /// A duration such as `5m` or `300ms`.
    Duration,
    /// The cache's refresh policy.
    Refresh,
    /// A section present (on, `PATH=()`: its defaults) or absent (off,
    /// `PATH=None`).
    Toggle,
}

/// One control: its `--set` path, label, kind and current value (as
/// `--set` text; `None` where the model has no such field).
#[derive(Debug, Clone, Serialize)]
pub struct Knob {
    pub path: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    pub value: Option<String>,
}

const KNOBS: &[(&str, &str, Kind)] = &[
    ("workload.rate", "rate (req/s)", Kind::Number),
    ("workload.duration", "duration", Kind::Duration),
    ("cache.ttl", "cache TTL", Kind::Duration),
    ("cache.refresh", "refresh policy", Kind::Refresh),
    ("servers.count", "servers", Kind::Integer),
    ("servers.workers", "workers per server", Kind::Integer),
    ("servers.cores", "cores per server", Kind::Integer),
    ("backend.payload_bytes", "payload (bytes of JSON)", Kind::Integer),
    ("servers.link.bytes_per_s", "link (bytes/s each way)", Kind::Number),
    ("db.pool_size", "pool size", Kind::Integer),
    ("db.max_overflow", "pool overflow", Kind::Integer),
    ("db.pool_timeout", "pool timeout", Kind::Duration),
    ("backend.latency.median", "backend latency median", Kind::Duration),
    ("backend.latency.p99", "backend latency p99", Kind::Duration),
    ("backend.rate_limit.rate", "backend rate limit (tokens/s)", Kind::Number),
    ("redis", "Redis", Kind::Toggle),
    ("cdn", "CDN", Kind::Toggle),
];

/// The knobs of `spec`, with their current values.
pub fn knobs(spec: &ModelSpec) -> Vec<Knob> {
    let tree = serde_json::to_value(spec).unwrap_or(Value::Null);
    KNOBS
        .iter()
        .map(|&(path, label, kind)| {
            let node = lookup(&tree, path).filter(|v| !v.is_null());
            let value = match kind {
                Kind::Toggle => Some(if node.is_some() { "on" } else { "off" }.to_string()),
                _ => node.map(set_text),
            };
            Knob { path, label, kind, value }
        })
        .collect()
}

/// The node at a dotted path, passing through enum variants' wrappers as
/// `--set` does (`backend.latency.p99` reaches into `LogNormal(..)`).
pub fn lookup<'a>(tree: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = tree;
    for part in path.split('.') {
        let map = node.as_object()?;
        node = match map.get(part) {
            Some(v) => v,
            None => {
                let (k, inner) = map.iter().next().filter(|_| map.len() == 1)?;
                if !k.starts_with(|c: char| c.is_ascii_uppercase()) {
                    return None;
                }
                inner.as_object()?.get(part)?
            }
        };
    }
    Some(node)
}

/// A value as `--set` takes it: plain words and durations bare (`5m`,
/// `SingleFlight`), anything else as RON.
pub fn set_text(v: &Value) -> String {
    match v {
        Value::String(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') => {
            s.clone()
        }
        _ => ron_text(v),
    }
}

fn is_ident(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A JSON value of the model's tree as RON text: unit variants bare,
/// `{"Variant": {..}}` as `Variant(..)`, structs as `(k: v, ..)`.
pub fn ron_text(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Value::String(s) if is_ident(s) && s.starts_with(|c: char| c.is_ascii_uppercase()) => s.clone(),
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Array(items) => format!("[{}]", items.iter().map(ron_text).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => {
            if map.len() == 1 {
                let (k, inner) = map.iter().next().expect("one entry");
                if is_ident(k) && k.starts_with(|c: char| c.is_ascii_uppercase()) {
                    return match inner {
                        Value::Object(_) => format!("{k}{}", ron_text(inner)),
                        other => format!("{k}({})", ron_text(other)),
                    };
                }
            }
            if map.keys().all(|k| is_ident(k)) {
                let fields: Vec<String> = map.iter().map(|(k, v)| format!("{k}: {}", ron_text(v))).collect();
                format!("({})", fields.join(", "))
            } else {
                let entries: Vec<String> = map
                    .iter()
                    .map(|(k, v)| format!("{}: {}", serde_json::to_string(k).unwrap_or_default(), ron_text(v)))
                    .collect();
                format!("{{{}}}", entries.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_read_as_set_and_ron_text() {
        assert_eq!(set_text(&json!("5m")), "5m");
        assert_eq!(set_text(&json!(100.0)), "100");
        assert_eq!(set_text(&json!(2.5)), "2.5");
        assert_eq!(ron_text(&json!({"XFetch": {"beta": 1.0, "lock": false}})), "XFetch(beta: 1, lock: false)");
        assert_eq!(
            ron_text(&json!({"StaleWhileRevalidate": {"window": "10s"}})),
            "StaleWhileRevalidate(window: \"10s\")"
        );
        assert_eq!(ron_text(&json!("SingleFlight")), "SingleFlight");
        assert_eq!(ron_text(&Value::Null), "None");
    }

    #[test]
    fn lookup_passes_through_a_variant() {
        let t = json!({"backend": {"latency": {"LogNormal": {"median": "1s", "p99": "2s"}}}});
        assert_eq!(lookup(&t, "backend.latency.p99"), Some(&json!("2s")));
        assert_eq!(lookup(&t, "backend.nothing"), None);
    }
}
