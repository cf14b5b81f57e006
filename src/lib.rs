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
//! - [`fit`]: latency distributions fitted to measured durations.
//! - [`report`]: text summaries; [`app`] and [`cli`]: the command line;
//!   [`serve`]: the what-if page, an HTTP front end beside the CLI;
//!   [`outdir`]: where commands write, and whether they may.
//!
//! # Example
//!
//! ```
//! use cachesim::config::parse_model;
//! use cachesim::sim::{RunOptions, simulate};
//!
//! let spec = parse_model(
//!     r#"Model(
//!         workload: (rate: 20, duration: "10m"),
//!         cache: (ttl: "5m", refresh: SingleFlight),
//!         backend: (latency: LogNormal(median: "1s", p99: "2s")),
//!     )"#,
//!     "example.ron",
//!     "example",
//! )
//! .expect("a valid model");
//! let report = simulate(&spec, 42, 0, RunOptions::default());
//! // Single flight: one fetch per expiry (the cold start and two expiries).
//! assert_eq!(report.backend.largest_burst, 1);
//! assert!(report.cache.hit_ratio > 0.99);
//! // The same seed gives the same report.
//! assert_eq!(report, simulate(&spec, 42, 0, RunOptions::default()));
//! ```

pub mod app;
pub mod builtin;
pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod experiment;
pub mod fit;
pub mod fsutil;
pub mod fuzzing;
pub mod metrics;
pub mod outdir;
pub mod report;
pub mod serve;
pub mod sim;

/// This build's identity: a hash of the sources it was built from (see
/// `build.rs`). Stored sweep runs carry it, so that a run made by another
/// build is computed again rather than reused.
pub const BUILD_ID: &str = env!("CACHESIM_BUILD_ID");
