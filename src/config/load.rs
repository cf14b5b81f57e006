//! Reading a model: RON text -> typed, validated [`ModelSpec`]. The only place
//! that knows the RON syntax.

use std::path::Path;

use super::error::ConfigError;
use super::locate::locate;
use super::model::ModelSpec;
use super::overrides;
use super::trace;
use super::validate::validate;

/// Parses and validates a model from RON text. `origin` names the source in
/// errors (usually the path); `default_name` is used when the file gives none.
/// A trace file the model names is read relative to the current directory.
pub fn parse_model(source: &str, origin: &str, default_name: &str) -> Result<ModelSpec, ConfigError> {
    parse_model_in(source, origin, default_name, Path::new(""))
}

/// [`parse_model`], reading a trace file relative to `dir` (the model
/// file's directory).
pub fn parse_model_in(source: &str, origin: &str, default_name: &str, dir: &Path) -> Result<ModelSpec, ConfigError> {
    if source.trim().is_empty() {
        return Err(ConfigError::new(origin, "the model file is empty").with_hint(Some(
            "a model starts with `Model(` and needs at least `workload` and `backend`; see models/seed/reference.ron"
                .into(),
        )));
    }
    if only_comments(source) {
        return Err(ConfigError::new(origin, "the model file holds only comments").with_hint(Some(
            "a model starts with `Model(` and needs at least `workload` and `backend`; see models/seed/reference.ron"
                .into(),
        )));
    }
    let options = ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let mut spec: ModelSpec = options.from_str(source).map_err(|e| ConfigError::from_ron(origin, source, &e))?;
    if spec.name.is_empty() {
        spec.name = default_name.to_string();
    }
    validate(&spec).map_err(|bad| match locate(source, &bad.path) {
        Some((line, col)) => ConfigError::at(origin, source, line, col, format!("{}: {}", bad.path, bad.message)),
        None => ConfigError::new(origin, format!("{}: {}", bad.path, bad.message)),
    })?;
    trace::load(&mut spec, dir).map_err(|e| match e {
        trace::TraceError::File(e) => e,
        // "workload.arrivals.file: ..." or "workload.arrivals.loaded: ...".
        trace::TraceError::Field(message) => {
            let path = message.split(':').next().unwrap_or_default();
            match locate(source, path) {
                Some((line, col)) => ConfigError::at(origin, source, line, col, message),
                None => ConfigError::new(origin, message),
            }
        }
    })?;
    Ok(spec)
}

/// Parses RON text into `T` (optional fields may omit `Some`), with
/// positioned errors.
pub fn parse_ron<T: serde::de::DeserializeOwned>(source: &str, origin: &str) -> Result<T, ConfigError> {
    if only_comments(source) {
        return Err(ConfigError::new(origin, "the file holds only comments, nothing to read"));
    }
    let options = ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    options.from_str(source).map_err(|e| ConfigError::from_ron(origin, source, &e))
}

/// Reads a text file, or says why it cannot be read.
pub fn read_text(path: &Path, what: &str) -> Result<String, ConfigError> {
    crate::fsutil::read_input(path)
        .map_err(|e| ConfigError::new(path.display().to_string(), format!("cannot read the {what} file: {e}")))
}

/// Reads, parses and validates the model file at `path`.
pub fn load_model(path: &Path) -> Result<ModelSpec, ConfigError> {
    let origin = path.display().to_string();
    let source = crate::fsutil::read_input(path)
        .map_err(|e| ConfigError::new(&origin, format!("cannot read the model file: {e}")))?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
    parse_model_in(&source, &origin, stem, path.parent().unwrap_or(Path::new("")))
}

/// Applies `--set PATH=VALUE` overrides in order, then validates the result.
pub fn apply_overrides(mut spec: ModelSpec, sets: &[String]) -> Result<ModelSpec, ConfigError> {
    for set in sets {
        let origin = set_origin(set);
        let (path, value) = set
            .split_once('=')
            .ok_or_else(|| ConfigError::new(&origin, "expected PATH=VALUE, e.g. --set cache.ttl=2m"))?;
        let mut changed = overrides::set(&spec, path.trim(), value.trim())
            .map_err(|(message, hint)| ConfigError::new(&origin, message).with_hint(hint))?;
        trace::carry_over(&spec, &mut changed).map_err(|e| match e {
            trace::TraceError::File(e) => e,
            trace::TraceError::Field(message) => ConfigError::new(&origin, message),
        })?;
        spec = changed;
    }
    if !sets.is_empty() {
        validate(&spec).map_err(|bad| {
            let message = format!("{}: {}", bad.path, bad.message);
            match culprit(sets, &bad.path, &bad.involves) {
                Some(set) => ConfigError::new(set_origin(set), message),
                None => ConfigError::new("--set", format!("after the overrides, {message}")),
            }
        })?;
    }
    Ok(spec)
}

/// Names an override, shortened if someone passed a novel.
fn set_origin(set: &str) -> String {
    let shown: String = set.chars().take(80).collect();
    if shown.len() < set.len() { format!("--set {shown}…") } else { format!("--set {set}") }
}

/// The last override that set the field a broken rule names (`path`, or
/// failing that one of the fields it `involves`), or a section holding it
/// (`--set db=(...)`) or a field inside it.
fn culprit<'a>(sets: &'a [String], path: &str, involves: &[String]) -> Option<&'a String> {
    let overlaps = |set: &str, field: &str| {
        let set = set.split_once('=').map_or(set, |(p, _)| p).trim();
        let within = |outer: &str, inner: &str| {
            inner == outer || inner.strip_prefix(outer).is_some_and(|rest| rest.starts_with(['.', '[']))
        };
        !set.is_empty() && (within(set, field) || within(field, set))
    };
    std::iter::once(path)
        .chain(involves.iter().map(String::as_str))
        .find_map(|field| sets.iter().rev().find(|set| overlaps(set, field)))
}

/// Whether `source` holds nothing but whitespace and comments (`//` to the
/// end of the line, `/* ... */`) and is not empty.
pub fn only_comments(source: &str) -> bool {
    let mut rest = source.trim_start();
    if rest.is_empty() {
        return false;
    }
    loop {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = rest.strip_prefix("/*") {
            match after.split_once("*/") {
                Some((_, r)) => rest = r,
                None => return true,
            }
        } else {
            return rest.is_empty();
        }
        rest = rest.trim_start();
    }
}
