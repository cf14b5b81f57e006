//! `--set PATH=VALUE`: change any field of a loaded model by dotted path.
//!
//! The model is turned into a JSON tree, the value is put at the path, and
//! the tree is read back through the same typed schema, so an override is
//! checked exactly like the file. Paths may skip an enum variant's name:
//! `backend.latency.p99=3s` reaches into `LogNormal(median: .., p99: ..)`.

use serde_json::{Map, Value};

use super::model::ModelSpec;
use super::ron_value;
use super::suggest::did_you_mean;

/// An override error: the message and an optional hint.
pub type SetError = (String, Option<String>);

/// Returns `spec` with the field at `path` set to `value` (written as in a
/// model file: `2m`, `500`, `SingleFlight`, `LogNormal(median: "1s", p99: "3s")`).
pub fn set(spec: &ModelSpec, path: &str, value: &str) -> Result<ModelSpec, SetError> {
    if path.is_empty() {
        return Err(("empty path; expected e.g. --set workload.rate=100".into(), None));
    }
    let tree = serde_json::to_value(spec).map_err(|e| (format!("internal: {e}"), None))?;
    let parts: Vec<&str> = path.split('.').collect();
    let current = navigate(&mut tree.clone(), &parts)?.clone();
    let parsed = parse_value(value, &current)?;
    let attempt = |v: Value| -> Result<ModelSpec, String> {
        let mut t = tree.clone();
        *navigate(&mut t, &parts).map_err(|e| e.0)? = v;
        serde_json::from_value(t).map_err(|e| clean(&e.to_string()))
    };
    match attempt(parsed.clone()) {
        Ok(spec) => Ok(spec),
        // `None` is a unit variant (`refresh=None`) or an absent optional
        // value (`blocking_timeout=None`): whichever was tried first, try
        // the other.
        Err(e) if value.trim() == "None" => {
            let other = if parsed.is_null() { Value::String("None".into()) } else { Value::Null };
            attempt(other).map_err(|_| (format!("{path}: {e}"), None))
        }
        Err(e) => Err((format!("{path}: {e}"), None)),
    }
}

/// The node at a dotted path.
fn navigate<'a>(tree: &'a mut Value, parts: &[&str]) -> Result<&'a mut Value, SetError> {
    let mut node = tree;
    let mut walked = String::new();
    for part in parts {
        node = step_into(node, part, &walked)?;
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(part);
    }
    Ok(node)
}

/// Descends one path part, passing through an enum variant's wrapper.
fn step_into<'a>(node: &'a mut Value, part: &str, walked: &str) -> Result<&'a mut Value, SetError> {
    let here = if walked.is_empty() { "the model".to_string() } else { format!("`{walked}`") };
    let Value::Object(map) = node else {
        return Err(if node.is_null() {
            (
                format!("{here} is not set in this model, so `{part}` cannot be set alone"),
                Some(format!("set the whole section, e.g. --set {walked}=(...)")),
            )
        } else {
            (format!("{here} has no fields, so `{part}` cannot be set"), None)
        });
    };
    if map.contains_key(part) {
        return Ok(map.get_mut(part).expect("checked"));
    }
    let through_variant = single_variant(map).filter(|v| map[v].as_object().is_some_and(|m| m.contains_key(part)));
    if let Some(variant) = through_variant {
        return Ok(map.get_mut(&variant).and_then(|inner| inner.get_mut(part)).expect("checked"));
    }
    let names: Vec<&str> = map.keys().map(String::as_str).collect();
    let hint = match did_you_mean(part, names.iter().copied()) {
        Some(best) => format!("did you mean `{best}`? (fields: {})", names.join(", ")),
        None => format!("fields here: {}", names.join(", ")),
    };
    Err((format!("unknown field `{part}` in {here}"), Some(hint)))
}

/// The variant name when `map` is an externally tagged enum value.
fn single_variant(map: &Map<String, Value>) -> Option<String> {
    let mut keys = map.keys();
    let only = keys.next()?;
    (keys.next().is_none() && only.starts_with(|c: char| c.is_ascii_uppercase())).then(|| only.clone())
}

/// Reads an override value written as in a model file. A value that does
/// not parse is taken as a plain string (the schema then says if it fits).
fn parse_value(text: &str, current: &Value) -> Result<Value, SetError> {
    Ok(match ron_value::parse(text) {
        // `None` is both "no section" and the refresh policy's name.
        Ok(Value::String(s)) if s == "None" && !current.is_string() => Value::Null,
        Ok(v) => v,
        Err(e) if e.contains("nests deeper") => return Err((e, None)),
        Err(_) => Value::String(text.into()),
    })
}

/// serde_json appends " at line 1 column N", which means nothing here.
/// Rust's type names are said in the model's terms.
fn clean(msg: &str) -> String {
    let msg = match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    super::error::plain_types(msg)
}
