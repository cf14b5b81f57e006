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
/// Overrides that take the server process out of a seed model: no CPU on
/// its event loop (no parsing; a payload of 0 bytes, so no JSON), no memory
/// or link. `cachesim bench` times the models with and without them, and
/// tests of the cache, the pool or Redis use them at loads one seed process
/// could not serve (it saturates at about 72 req/s, docs/models.md).
pub const PROCESS_OFF: [&str; 4] =
    [r#"servers.parse=Constant("0s")"#, "backend.payload_bytes=0", "servers.memory=None", "servers.link=None"];

pub fn reference_pair() -> Result<(ModelSpec, ModelSpec), ConfigError> {
    Ok((load(REFERENCE, "reference")?, load(REFERENCE_LOCKED, "reference_locked")?))
}
