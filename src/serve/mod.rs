//! `cachesim serve`: the what-if page, an HTTP front end over the library
//! beside the CLI. The engine, the simulation and the experiment code know
//! nothing of it: a request is turned into the same calls `cachesim run`
//! makes (`run.rs`), on the rayon pool.
//!
//! - `mod.rs`: the models served, the router and the listener;
//! - `api.rs`: the JSON handlers (see docs/serve.md);
//! - `run.rs`: simulations, statistics, verdicts and figures, without HTTP;
//! - `knobs.rs`: the controls the page shows; `ron_edit.rs`: the model
//!   file's text with changed values;
//! - `assets/`: the page (plain HTML, CSS and JavaScript, embedded).

mod api;
pub mod knobs;
pub mod ron_edit;
pub mod run;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::config::ModelSpec;

/// The largest request body accepted (larger: 413).
pub const MAX_BODY: usize = 64 * 1024;

/// One model the server was given.
#[derive(Debug, Clone)]
pub struct Served {
    /// The name in URLs: the file's stem, made unique.
    pub id: String,
    /// The path as given on the command line (for the `cachesim run` line).
    pub path: PathBuf,
    /// The file's text, as read at start.
    pub text: String,
    /// The model as loaded and checked.
    pub spec: ModelSpec,
}

/// A client's work in flight, by kind (simulate, sweep): the number of the
/// newest request (an older one still running stops at its next
/// replication) and how many run.
#[derive(Default)]
pub(crate) struct Lane {
    pub newest: std::sync::atomic::AtomicU64,
    pub running: std::sync::atomic::AtomicUsize,
}

pub(crate) struct State {
    pub models: Vec<Arc<Served>>,
    pub lanes: Mutex<HashMap<String, Arc<Lane>>>,
}

/// The router over `models` (for tests, and for [`serve`]).
pub fn router(models: Vec<Served>) -> Router {
    let models = models.into_iter().map(Arc::new).collect();
    let state = Arc::new(State { models, lanes: Mutex::new(HashMap::new()) });
    Router::new()
        .route("/", get(|| page("text/html; charset=utf-8", include_str!("assets/index.html"))))
        .route("/app.js", get(|| page("text/javascript; charset=utf-8", include_str!("assets/app.js"))))
        .route("/style.css", get(|| page("text/css; charset=utf-8", include_str!("assets/style.css"))))
        .route("/api/models", get(api::list))
        .route("/api/models/{id}", get(api::model))
        .route("/api/models/{id}/simulate", post(api::simulate))
        .route("/api/models/{id}/sweep", post(api::sweep))
        .route("/api/models/{id}/export", post(api::export))
        .fallback(api::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn page(kind: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, kind),
            // Nothing from anywhere else: the page works offline.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
}

/// Listens on `addr` and serves `models` until the process is stopped;
/// `bound` is told the address actually bound (port 0 picks one).
pub fn serve(models: Vec<Served>, addr: SocketAddr, bound: impl FnOnce(SocketAddr)) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the server: {e}"))?;
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        bound(local);
        let app = router(models).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| format!("the server stopped: {e}"))
    })
}
