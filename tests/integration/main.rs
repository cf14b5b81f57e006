//! All integration tests, in one binary (one link step, one process).
//!
//! Where new tests go:
//! - `clock`: the engine's clock and cancelled timers, through Little's law.
//! - `connections`: the pool's physical connections: connect costs and who gets a returned one.
//! - `cli`: the command line as a user runs it: output, exit codes, errors.
//! - `determinism`: same seed, same bytes (every shipped model and experiment,
//!   at 1, 2 and 4 threads); different seeds differ.
//! - `distributed`: workers, balancers, versions and divergence, stampede mitigations.
//! - `queueing`: servers and pools against M/M/1, M/D/1, Erlang B and C.
//! - `event_loop`: the server process: its event loop and shared cores against M/D/1, M/G/1 and PS.
//! - `redis`: the shared Redis cache, its lock and outages.
//! - `plots`: a sweep's plots read from their SVG: lines per setting, legends,
//!   log axes, SLO rules, dashes, panels, the verdict heatmap.
//! - `report`: plots (titles, axis labels) and the HTML report, rendered in Chromium.
//! - `robustness`: hostile input, guards, fuzz entry points, property tests.
//! - `sizes`: counts and sizes a model gives, checked against their ranges at load.
//! - `cdn`: the CDN's PoPs, shield, collapsing, ETag 304s, its spread.
//! - `caching`: TTL caches, stampedes and rate limits against their formulas.
//! - `limits`: breaking points and spike recovery on models with closed forms.
//! - `sweep`: experiments: sweeps, resume, shards and merge, verdict files.
//! - `check`: `cachesim check`: expectations, baselines, fingerprints, JUnit.
//! - `fit`: `cachesim fit`: maximum-likelihood fits, KS p-values, the RON it prints.
//! - `trace`: `workload.arrivals: Trace(..)`: replayed arrivals against the Poisson model.
//! - `paths`: where commands write: name slugs, the directory marker, the
//!   one-writer lock, output paths checked before anything is written.
//! - `resources`: a server's memory (exact peaks, the OOM killer) and its link (M/D/1 each way).
//! - `serve`: `cachesim serve`: its API against `cachesim run`, refused input and
//!   paths, and the page in headless Chromium over WebDriver.
//! - `support`: shared helpers (building models, confidence intervals).

mod breakdown;
mod caching;
mod cdn;
mod check;
mod cli;
mod clock;
mod connections;
mod database;
mod determinism;
mod distributed;
mod event_loop;
mod fit;
mod limits;
mod mitigations;
mod paths;
mod plots;
mod queueing;
mod redis;
mod report;
mod resources;
mod robustness;
mod serve;
mod shared_refresh;
mod sizes;
mod support;
mod sweep;
mod trace;
