//! Models compiled into the binary, so `cachesim` with no arguments (and the
//! benchmark) work from any directory.

use crate::config::{ConfigError, ModelSpec, parse_model};

/// The seed note's service without a cache lock.
pub const REFERENCE: &str = include_str!("../models/seed/reference.ron");
/// The same service with the asyncio.Lock (single flight).
pub const REFERENCE_LOCKED: &str = include_str!("../models/seed/reference_locked.ron");

/// Parses a built-in model.
pub fn load(source: &str, name: &str) -> Result<ModelSpec, ConfigError> {
    parse_model(source, &format!("<built-in {name}>"), name)
}

/// Both reference models, unlocked first.
pub fn reference_pair() -> Result<(ModelSpec, ModelSpec), ConfigError> {
    Ok((load(REFERENCE, "reference")?, load(REFERENCE_LOCKED, "reference_locked")?))
}
