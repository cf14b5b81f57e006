//! cachesim: a deterministic discrete-event simulator of web-service cache
//! architectures.
//!
//! ```text
//! RON file --config--> ModelSpec --sim--> World on engine --metrics--> RunReport --report/app--> text, JSON
//! ```
//!
//! - [`engine`]: integer time, the event queue, random streams, the run loop.
//!   Knows nothing of caches, RON or the command line.
//! - [`config`]: the model file schema, defaults, checks and `--set`.
//! - [`sim`]: the architecture's components and the request lifecycle.
//! - [`metrics`]: what a run records and reports.
//! - [`report`]: text summaries; [`app`] and [`cli`]: the command line.

pub mod app;
pub mod builtin;
pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod metrics;
pub mod report;
pub mod sim;
