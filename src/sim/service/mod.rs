//! What a server does with a request at its caches: the in-memory cache and
//! its refresh policies, refreshes no client waits for, the response cache,
//! and the expiry spans that attribute fetches to an expiry. (The server
//! process itself, its CPU, memory and link, is in `process/`.)

pub mod background;
pub mod cache;
pub mod expiry;
pub mod refresh;
pub mod responses;
