//! Client rate limiting as slowapi (the `limits` library) does it: a limit
//! per user key, e.g. "10/minute", checked before the endpoint runs.

use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};

use super::duration::Dur;

/// `@limiter.limit("10/minute")` with a key per user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientLimit {
    /// Requests allowed per window (the 10 of "10/minute"; required, 1 to
    /// 4,294,967,295).
    pub limit: NonZeroU32,
    /// The window (the minute of "10/minute").
    pub per: Dur,
    /// `FixedWindow` (slowapi's default: the window starts at a key's first
    /// hit, so up to 2·limit can pass within moments across its end) or
    /// `MovingWindow` (at most `limit` in any trailing window).
    #[serde(default)]
    pub strategy: LimitStrategy,
    /// `PerProcess` (slowapi's default `memory://`: each worker counts on its
    /// own, so W workers allow up to W·limit) or `Shared` (one store, as
    /// Redis; its round trip is not modelled).
    #[serde(default)]
    pub storage: LimitStorage,
    /// Users sending the requests (each request's user is drawn by Zipf
    /// activity over them; default 100; 1 to 10,000,000).
    #[serde(default = "default_users")]
    pub users: NonZeroU32,
    /// Zipf exponent of user activity (default 0: all equally active).
    #[serde(default)]
    pub zipf: f64,
    /// What the limit counts by (default `RemoteAddress`, slowapi's
    /// `get_remote_address`).
    #[serde(default)]
    pub key: LimitKey,
}

/// The limiter's `key_func`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum LimitKey {
    /// The TCP peer's address. Clients reaching the servers directly are
    /// told apart; behind a CDN the peer is the PoP (or the shield), so
    /// every client of a PoP shares one counter.
    #[default]
    RemoteAddress,
    /// The user's own identity (an API key, or a trusted X-Forwarded-For),
    /// even behind a CDN.
    User,
}

fn default_users() -> NonZeroU32 {
    NonZeroU32::new(100).expect("non-zero")
}

/// The `limits` library's strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum LimitStrategy {
    #[default]
    FixedWindow,
    MovingWindow,
}

/// Where the counters live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum LimitStorage {
    #[default]
    PerProcess,
    Shared,
}
