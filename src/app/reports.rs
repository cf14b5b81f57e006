//! Pictures and pages: a run's time-series plots, a sweep's plots, and
//! `report.html`.

use std::path::Path;

use super::print;
use crate::cli::ReportArgs;
use crate::error::AppError;
use crate::experiment::{self, Plan, PointResult, Row};
use crate::fsutil::write_atomic;
use crate::metrics::Series;
use crate::report::{report_html, series_figures, sweep_figures, write_figures};

fn failed(e: String) -> AppError {
    AppError::Failed(e)
}

/// Writes a run's time-series plots, `series.csv` and `fills.csv` into `dir`.
pub(super) fn write_run_plots(dir: &Path, model: &str, series: &Series) -> Result<(), AppError> {
    write_figures(dir, series_figures(model, series)).map_err(failed)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "t_s",
        "arrived",
        "ok",
        "failed",
        "latency_mean_s",
        "latency_max_s",
        "backend_calls",
        "in_flight_max",
        "pool_in_use_max",
    ];
    w.write_record(header).map_err(|e| failed(e.to_string()))?;
    for (i, b) in series.buckets.iter().enumerate() {
        let row = [
            (i as f64 * series.bucket_secs()).to_string(),
            b.arrived.to_string(),
            b.ok.to_string(),
            b.failed.to_string(),
            b.mean_latency_s().map(|v| v.to_string()).unwrap_or_default(),
            (b.latency_max_ns as f64 / 1e9).to_string(),
            b.backend_calls.to_string(),
            b.in_flight_max.to_string(),
            b.pool_in_use_max.to_string(),
        ];
        w.write_record(row).map_err(|e| failed(e.to_string()))?;
    }
    let bytes = w.into_inner().map_err(|e| failed(e.to_string()))?;
    write_atomic(&dir.join("series.csv"), &bytes).map_err(|e| failed(format!("cannot write series.csv: {e}")))?;
    let mut fills = String::from("server,t_s\n");
    for (server, times) in series.server_fills.iter().enumerate() {
        for t in times {
            fills += &format!("{server},{}\n", *t as f64 / 1e9);
        }
    }
    write_atomic(&dir.join("fills.csv"), fills.as_bytes()).map_err(|e| failed(format!("cannot write fills.csv: {e}")))
}

/// Writes a sweep's plots into `dir/plots`, returning them for the report.
pub(super) fn write_sweep_plots(
    dir: &Path,
    plan: &Plan,
    results: &[PointResult],
    rows: &[Row],
) -> Result<Vec<(crate::report::Named, String)>, AppError> {
    write_figures(&dir.join("plots"), sweep_figures(plan, results, rows)).map_err(failed)
}

/// `cachesim report DIR`.
pub(super) fn report(args: ReportArgs) -> Result<(), AppError> {
    let (store, plan) = experiment::load_plan(&args.dir)?;
    let _claim = crate::outdir::OutputDir::claim(&args.dir, "report's directory")?;
    // Breaking points are shown only beside the sweep they were found for;
    // checked first, so that a refused report writes nothing.
    let limits = crate::report::read_limits(&args.dir, &plan)?;
    let (records, _) = store.completed(&plan.fingerprint)?;
    let (results, rows) = experiment::finish(&plan, &args.dir, &records)?;
    let figures = write_sweep_plots(&args.dir, &plan, &results, &rows)?;
    let html = report_html(&plan, &results, &rows, &figures, limits.as_deref());
    let path = args.dir.join("report.html");
    write_atomic(&path, html.as_bytes()).map_err(|e| failed(format!("cannot write {}: {e}", path.display())))?;
    print(&format!(
        "Wrote {} ({} plots inline; also as SVG and PNG in {})\n",
        path.display(),
        figures.len(),
        args.dir.join("plots").display()
    ))
}
