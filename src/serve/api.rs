//! The JSON API (docs/serve.md). Every error is `{"error": "..."}` with a
//! status: 400 for bad input (in the CLI's words), 403 for a file the
//! server was not given, 404 for an unknown model or page, 409 for a
//! request superseded by a newer one, 413 for a body over [`MAX_BODY`],
//! 429 for too many simulations in flight for one client.
//!
//! [`MAX_BODY`]: super::MAX_BODY

// A handler's early answer is its error response, made once per request.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State as Axum};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::run::{self, Refused};
use super::{Lane, Served, State};
use crate::config::Dur;
use crate::experiment::Slo;

/// Simulations one client may have running at once, per kind.
const MAX_PER_CLIENT: usize = 3;
/// The most replications a request may ask for.
const MAX_REPLICATIONS: u32 = 20;
/// The most values in a knob sweep, and the most runs it may make.
const MAX_SWEEP_VALUES: usize = 15;
const MAX_SWEEP_RUNS: usize = 100;
/// The most overrides in one request.
const MAX_SETS: usize = 100;

type Shared = Arc<State>;

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// The SLO the page sets: p99 bound (seconds) and error-rate bound.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SloBody {
    p99_s: Option<f64>,
    error_rate: Option<f64>,
}

impl SloBody {
    fn slo(&self) -> Result<Slo, Response> {
        let mut slo = Slo::default();
        if let Some(p) = self.p99_s {
            if !(p.is_finite() && p > 0.0 && p < 1e6) {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    format!("slo.p99_s: {p} is not a positive number of seconds"),
                ));
            }
            slo.p99 = Some(Dur(crate::engine::SimDuration((p * 1e9).round() as u64)));
        }
        if let Some(e) = self.error_rate {
            if !(0.0..=1.0).contains(&e) {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    format!("slo.error_rate: {e} is not a share between 0 and 1"),
                ));
            }
            slo.error_rate = Some(e);
        }
        Ok(slo)
    }
}

fn one() -> u64 {
    1
}
fn three() -> u32 {
    3
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SimBody {
    #[serde(default)]
    sets: Vec<String>,
    #[serde(default = "one")]
    seed: u64,
    #[serde(default = "three")]
    replications: u32,
    #[serde(default)]
    slo: SloBody,
    /// Who asks (the page's random id; default: the peer's address): a
    /// newer request of a client supersedes its older one.
    #[serde(default)]
    client: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SweepBody {
    #[serde(default)]
    sets: Vec<String>,
    #[serde(default = "one")]
    seed: u64,
    #[serde(default = "three")]
    replications: u32,
    #[serde(default)]
    slo: SloBody,
    #[serde(default)]
    client: Option<String>,
    /// The `--set` path of the knob swept.
    knob: String,
    values: Vec<f64>,
    #[serde(default = "p99_key")]
    metric: String,
}

fn p99_key() -> String {
    "latency_s.p99".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExportBody {
    #[serde(default)]
    sets: Vec<String>,
    #[serde(default = "one")]
    seed: u64,
}

/// The request's JSON object as `T` (an array or a scalar is refused, not
/// read as a struct's fields in order).
fn body<T: serde::de::DeserializeOwned>(b: Result<Json<Value>, JsonRejection>) -> Result<T, Response> {
    let Json(v) = b.map_err(|e| error(e.status(), e.body_text()))?;
    if !v.is_object() {
        return Err(error(StatusCode::BAD_REQUEST, "expected a JSON object"));
    }
    serde_json::from_value(v).map_err(|e| error(StatusCode::BAD_REQUEST, format!("bad request body: {e}")))
}

fn find(state: &State, id: &str) -> Result<Arc<Served>, Response> {
    state.models.iter().find(|m| m.id == id).cloned().ok_or_else(|| {
        let ids: Vec<&str> = state.models.iter().map(|m| m.id.as_str()).collect();
        error(
            StatusCode::NOT_FOUND,
            format!("no model `{id}` here: this server reads only the models it was started with ({})", ids.join(", ")),
        )
    })
}

/// Refuses overrides that would make the server read a file (a trace)
/// other than those it was given, and too many of them.
fn check_sets(sets: &[String]) -> Result<(), Response> {
    if sets.len() > MAX_SETS {
        return Err(error(StatusCode::BAD_REQUEST, format!("{} overrides; at most {MAX_SETS}", sets.len())));
    }
    for set in sets {
        let (path, value) = set.split_once('=').unwrap_or((set, ""));
        if path.trim().rsplit('.').next() == Some("file") || value.contains("Trace") {
            return Err(error(
                StatusCode::FORBIDDEN,
                format!(
                    "--set {set}: this server reads only the model files it was given, so an override may not name a trace file"
                ),
            ));
        }
    }
    Ok(())
}

/// A request's place in its client's lane: whether it is still the newest,
/// and whether its caller is still waiting.
struct Ticket {
    lane: Arc<Lane>,
    number: u64,
    gone: Arc<AtomicBool>,
}

impl Ticket {
    fn wanted(&self) -> impl Fn() -> bool + Sync + Send + 'static {
        let (lane, number, gone) = (self.lane.clone(), self.number, self.gone.clone());
        move || !gone.load(Ordering::Relaxed) && lane.newest.load(Ordering::Relaxed) == number
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // The caller stopped waiting (or got its answer): stop the work.
        self.gone.store(true, Ordering::Relaxed);
        self.lane.running.fetch_sub(1, Ordering::Relaxed);
    }
}

fn ticket(state: &State, who: String) -> Result<Ticket, Response> {
    let lane = {
        let mut lanes = state.lanes.lock().unwrap_or_else(|e| e.into_inner());
        if lanes.len() > 10_000 {
            lanes.retain(|_, l| l.running.load(Ordering::Relaxed) > 0);
        }
        lanes.entry(who).or_default().clone()
    };
    if lane.running.fetch_add(1, Ordering::Relaxed) >= MAX_PER_CLIENT {
        lane.running.fetch_sub(1, Ordering::Relaxed);
        return Err(error(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{MAX_PER_CLIENT} simulations of this client are already running; wait for one"),
        ));
    }
    let number = lane.newest.fetch_add(1, Ordering::Relaxed) + 1;
    Ok(Ticket { lane, number, gone: Arc::new(AtomicBool::new(false)) })
}

fn client_key(client: Option<String>, peer: SocketAddr, kind: &str) -> String {
    let who = client.filter(|c| !c.is_empty()).map(|c| c.chars().take(64).collect()).unwrap_or(peer.ip().to_string());
    format!("{kind}:{who}")
}

/// Runs `work` on the rayon pool and waits for it without blocking the
/// server's threads.
async fn on_rayon(work: impl FnOnce() -> Result<Value, Refused> + Send + 'static) -> Response {
    let (tx, rx) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        let _ = tx.send(result);
    });
    match rx.await {
        Ok(Ok(Ok(v))) => Json(v).into_response(),
        Ok(Ok(Err(Refused::Input(m)))) => error(StatusCode::BAD_REQUEST, m),
        Ok(Ok(Err(Refused::Superseded))) => error(StatusCode::CONFLICT, "superseded by a newer request"),
        _ => error(StatusCode::INTERNAL_SERVER_ERROR, "the simulation failed unexpectedly (a bug: please report it)"),
    }
}

fn check_replications(n: u32) -> Result<(), Response> {
    if (1..=MAX_REPLICATIONS).contains(&n) {
        Ok(())
    } else {
        Err(error(StatusCode::BAD_REQUEST, format!("replications: {n}; expected 1 to {MAX_REPLICATIONS}")))
    }
}

/// The shell command line that reproduces a view.
pub(super) fn command_line(m: &Served, seed: u64, sets: &[String]) -> String {
    let quote = |s: &str| {
        if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c)) {
            s.to_string()
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    };
    let mut line = format!("cachesim run {}", quote(&m.path.display().to_string()));
    if seed != 1 {
        line += &format!(" --seed {seed}");
    }
    for s in sets {
        line += &format!(" --set {}", quote(s));
    }
    line
}

pub(super) async fn list(Axum(state): Axum<Shared>) -> Response {
    let models: Vec<Value> = state
        .models
        .iter()
        .map(|m| json!({ "id": m.id, "name": m.spec.name, "description": m.spec.description, "file": m.path.display().to_string() }))
        .collect();
    Json(json!({ "models": models })).into_response()
}

pub(super) async fn model(Axum(state): Axum<Shared>, Path(id): Path<String>) -> Response {
    let m = match find(&state, &id) {
        Ok(m) => m,
        Err(r) => return r,
    };
    Json(json!({
        "id": m.id,
        "name": m.spec.name,
        "description": m.spec.description,
        "file": m.path.display().to_string(),
        "knobs": super::knobs::knobs(&m.spec),
        "slo": { "p99_s": 2.0, "error_rate": 0.01 },
    }))
    .into_response()
}

pub(super) async fn simulate(
    Axum(state): Axum<Shared>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    b: Result<Json<Value>, JsonRejection>,
) -> Response {
    let prepared = (|| {
        let m = find(&state, &id)?;
        let b: SimBody = body(b)?;
        check_sets(&b.sets)?;
        check_replications(b.replications)?;
        let slo = b.slo.slo()?;
        let t = ticket(&state, client_key(b.client, peer, "simulate"))?;
        Ok::<_, Response>((m, b.sets, b.seed, b.replications, slo, t))
    })();
    let (m, sets, seed, reps, slo, t) = match prepared {
        Ok(p) => p,
        Err(r) => return r,
    };
    let wanted = t.wanted();
    let command = command_line(&m, seed, &sets);
    let response = on_rayon(move || {
        let spec = run::prepare(&m.spec, &sets, &m.path.display().to_string())?;
        let mut v = run::simulate(&spec, seed, reps, &slo, &wanted)?;
        v["command"] = command.into();
        v["sets"] = json!(sets);
        Ok(v)
    })
    .await;
    drop(t);
    response
}

pub(super) async fn sweep(
    Axum(state): Axum<Shared>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    b: Result<Json<Value>, JsonRejection>,
) -> Response {
    let prepared = (|| {
        let m = find(&state, &id)?;
        let b: SweepBody = body(b)?;
        check_sets(&b.sets)?;
        check_sets(std::slice::from_ref(&format!("{}=", b.knob)))?;
        check_replications(b.replications)?;
        if b.values.is_empty() || b.values.len() > MAX_SWEEP_VALUES || b.values.iter().any(|v| !v.is_finite()) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("values: expected 1 to {MAX_SWEEP_VALUES} finite numbers"),
            ));
        }
        if b.values.len() * b.replications as usize > MAX_SWEEP_RUNS {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("{} values × {} replications; at most {MAX_SWEEP_RUNS} runs", b.values.len(), b.replications),
            ));
        }
        let slo = b.slo.slo()?;
        let t = ticket(&state, client_key(b.client.clone(), peer, "sweep"))?;
        Ok::<_, Response>((m, b, slo, t))
    })();
    let (m, b, slo, t) = match prepared {
        Ok(p) => p,
        Err(r) => return r,
    };
    let wanted = t.wanted();
    let response = on_rayon(move || {
        let origin = m.path.display().to_string();
        run::sweep(&m.spec, &origin, &b.sets, &b.knob, &b.values, &b.metric, b.seed, b.replications, &slo, &wanted)
    })
    .await;
    drop(t);
    response
}

/// The command line and the edited model file for a set of overrides.
pub(super) async fn export(
    Axum(state): Axum<Shared>,
    Path(id): Path<String>,
    b: Result<Json<Value>, JsonRejection>,
) -> Response {
    let (m, b): (Arc<Served>, ExportBody) = match find(&state, &id).and_then(|m| Ok((m, body(b)?))) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = check_sets(&b.sets) {
        return r;
    }
    let origin = m.path.display().to_string();
    let spec = match crate::config::apply_overrides(m.spec.clone(), &b.sets) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let tree = serde_json::to_value(&spec).unwrap_or(Value::Null);
    let paths: Vec<&str> = b.sets.iter().filter_map(|s| s.split_once('=').map(|(p, _)| p.trim())).collect();
    let edited = super::ron_edit::edit(&m.text, &paths, &tree).map(|text| {
        if b.sets.is_empty() {
            return text;
        }
        let changes: Vec<String> = b.sets.iter().map(|s| format!("//   --set {s}")).collect();
        format!("// Edited by cachesim serve from {origin}:\n{}\n{text}", changes.join("\n"))
    });
    // The edited text must load as the same model the overrides give.
    let dir = m.path.parent().unwrap_or(std::path::Path::new(""));
    let same = edited.as_ref().is_some_and(|text| {
        crate::config::parse_model_in(text, &origin, &m.id, dir)
            .is_ok_and(|s| crate::sim::model_fingerprint(&s) == crate::sim::model_fingerprint(&spec))
    });
    let file = format!("{}.ron", m.id);
    Json(json!({
        "command": command_line(&m, b.seed, &b.sets),
        "file": file,
        "ron": if same { edited.map(Value::String).unwrap_or(Value::Null) } else { Value::Null },
        "ron_error": if same { Value::Null } else { "these changes could not be written into the file's text; use the command line".into() },
    }))
    .into_response()
}

pub(super) async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such page: this server serves /, its assets and /api/models")
}
