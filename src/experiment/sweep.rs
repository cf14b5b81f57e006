//! Running a plan: the runs not yet on disk, in parallel (rayon), each saved
//! the moment it ends; then the aggregated files. Results do not depend on
//! the thread count: every run is independent, and aggregation goes in plan
//! order.

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;

use super::analysis::{PointResult, Row, analyze, rows};
use super::output::write_all;
use super::plan::{Plan, RunId};
use super::record::RunRecord;
use super::store::Store;
use crate::config::ConfigError;
use crate::error::AppError;
use crate::sim::{RunOptions, simulate_detailed};

/// A deterministic slice of the runs: the K-th of N (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("expected K/N with 1 ≤ K ≤ N, e.g. 2/4, not {s:?}");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) =
            (k.trim().parse::<usize>().map_err(|_| bad())?, n.trim().parse::<usize>().map_err(|_| bad())?);
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether run number `i` (in plan order) belongs to this shard. Runs are
    /// dealt round-robin, so every shard gets a similar mix of points.
    pub fn owns(&self, i: usize) -> bool {
        i % self.count == self.index - 1
    }
}

/// How to run.
#[derive(Debug, Clone, Copy, Default)]
pub struct SweepOptions {
    /// Worker threads (default: all cores).
    pub threads: Option<usize>,
    /// Run only this slice, and write only run records.
    pub shard: Option<Shard>,
    pub run: RunOptions,
}

/// What a sweep did.
pub struct SweepOutcome {
    /// Runs computed now.
    pub computed: usize,
    /// Runs found on disk from before.
    pub reused: usize,
    /// Records on disk that were edited or made for another plan: computed
    /// again, never reused.
    pub set_aside: usize,
    /// Judged points, when the whole plan is done (not for a shard).
    pub results: Option<(Vec<PointResult>, Vec<Row>)>,
}

/// Runs what is missing of `plan` into `out`. `progress(done, total)` counts
/// this shard's runs, those found on disk included: once before the first
/// run, then after each run, from worker threads (so a report can arrive
/// after a later one).
pub fn sweep(
    plan: &Plan,
    out: &Path,
    opts: SweepOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<SweepOutcome, AppError> {
    let store = Store::open(out, plan)?;
    let (done, set_aside) = store.completed(&plan.fingerprint)?;
    let mine: Vec<RunId> = plan
        .runs()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| opts.shard.is_none_or(|s| s.owns(*i)))
        .map(|(_, id)| id)
        .collect();
    let mut todo: Vec<RunId> = mine.iter().filter(|id| !done.contains_key(id)).copied().collect();
    // Longest first, so that no long run is left for the end while the
    // other threads idle (the cost estimate is the requests a run expects;
    // ties keep plan order). Results do not depend on the order.
    let cost: Vec<f64> = plan.points.iter().map(|p| crate::sim::guard::expected_requests(&p.spec)).collect();
    todo.sort_by(|a, b| cost[b.point].total_cmp(&cost[a.point]));
    let reused = mine.len() - todo.len();
    let total = todo.len();
    let counter = std::sync::atomic::AtomicUsize::new(reused);
    progress(reused, mine.len());
    let run_one = |id: &RunId| -> Result<(), AppError> {
        let point = &plan.points[id.point];
        let (report, hist) = simulate_detailed(&point.spec, plan.spec.seed, u64::from(id.rep), opts.run);
        store.save(&RunRecord::new(*id, &report, &hist).sealed(&plan.fingerprint))?;
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress(n, mine.len());
        Ok(())
    };
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(t) = opts.threads {
        builder = builder.num_threads(t);
    }
    let pool = builder.build().map_err(|e| AppError::Failed(format!("cannot start worker threads: {e}")))?;
    // Each thread takes the next run in `todo` when it is free (list
    // scheduling, longest first); a failed run stops the others taking more.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let worker = |_| -> Result<(), AppError> {
        use std::sync::atomic::Ordering::Relaxed;
        while let Some(id) = todo.get(next.fetch_add(1, Relaxed)) {
            if let Err(e) = run_one(id) {
                next.fetch_max(todo.len(), Relaxed);
                return Err(e);
            }
        }
        Ok(())
    };
    pool.install(|| (0..pool.current_num_threads()).into_par_iter().try_for_each(worker))?;
    if opts.shard.is_some() {
        return Ok(SweepOutcome { computed: total, reused, set_aside, results: None });
    }
    let (records, _) = pool.install(|| store.completed(&plan.fingerprint))?;
    let results = finish(plan, out, &records)?;
    Ok(SweepOutcome { computed: total, reused, set_aside, results: Some(results) })
}

/// Aggregates complete records and writes the output files.
pub fn finish(
    plan: &Plan,
    out: &Path,
    records: &BTreeMap<RunId, RunRecord>,
) -> Result<(Vec<PointResult>, Vec<Row>), AppError> {
    let expected = plan.runs().len();
    let present = plan.runs().iter().filter(|id| records.contains_key(id)).count();
    if present < expected {
        return Err(AppError::Failed(format!(
            "{} of {expected} runs are missing from {}; run the remaining shards (or the sweep) into it first",
            expected - present,
            out.display()
        )));
    }
    let results = analyze(plan, records);
    let rows = rows(plan, &results);
    write_all(out, plan, records, &results, &rows)?;
    Ok((results, rows))
}

/// The plan stored in a sweep directory.
pub fn load_plan(dir: &Path) -> Result<(Store, Plan), AppError> {
    Store::existing(dir)
}

/// Combines the run records of shard directories into `out` and writes the
/// files one whole sweep would have written.
pub fn merge(dirs: &[&Path], out: &Path) -> Result<(Vec<PointResult>, Vec<Row>), AppError> {
    let (_, plan) =
        Store::existing(dirs.first().ok_or_else(|| AppError::Failed("merge needs at least one directory".into()))?)?;
    let target = Store::open(out, &plan)?;
    let (mut records, _) = target.completed(&plan.fingerprint)?;
    for dir in dirs {
        let (store, other) = Store::existing(dir)?;
        if other.fingerprint != plan.fingerprint {
            return Err(AppError::Input(ConfigError::new(
                dir.display().to_string(),
                format!(
                    "holds another experiment (fingerprint {}; the first directory's is {})",
                    other.fingerprint, plan.fingerprint
                ),
            )));
        }
        for (id, record) in store.completed(&plan.fingerprint)?.0 {
            match records.get(&id) {
                Some(existing) if *existing != record => {
                    return Err(AppError::Failed(format!(
                        "run {}-{} differs between directories: the shards were not made by the same cachesim",
                        id.point, id.rep
                    )));
                }
                Some(_) => {}
                None => {
                    target.save(&record)?;
                    records.insert(id, record);
                }
            }
        }
    }
    finish(&plan, out, &records)
}
