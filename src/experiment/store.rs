//! Results on disk, so that nothing computed is lost: `DIR/.cachesim/`
//! holds the plan (`plan.json`) and one file per finished run
//! (`runs/<point>-<rep>.json`), each written atomically as soon as the run
//! ends. A sweep interrupted at any moment resumes from these files; shards
//! write the same files and `merge` combines them.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::plan::{Plan, RunId};
use super::record::RunRecord;
use crate::config::ConfigError;
use crate::error::AppError;
use crate::fsutil::write_atomic;

/// The result store of one output directory.
pub struct Store {
    root: PathBuf,
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> AppError {
    move |e| AppError::Failed(format!("{context}: {e}"))
}

impl Store {
    /// Opens (creating if needed) the store in `out` for `plan`. A store
    /// that holds another experiment's results is refused, never mixed.
    pub fn open(out: &Path, plan: &Plan) -> Result<Store, AppError> {
        let root = out.join(".cachesim");
        fs::create_dir_all(root.join("runs")).map_err(io(format!("cannot create {}", root.display())))?;
        let store = Store { root };
        match store.read_plan() {
            Ok(existing) if existing.fingerprint != plan.fingerprint => {
                let what = if existing.build != plan.build
                    && serde_json::to_value(&existing.points).ok() == serde_json::to_value(&plan.points).ok()
                {
                    format!(
                        "this directory holds runs of `{}` made by another build of cachesim (build {}; this is build {}), which are not reused",
                        plan.spec.name,
                        if existing.build.is_empty() { "unknown" } else { &existing.build },
                        plan.build
                    )
                } else {
                    format!(
                        "this directory holds results of another experiment or model version ({} `{}`; this one is {} `{}`)",
                        existing.fingerprint, existing.spec.name, plan.fingerprint, plan.spec.name
                    )
                };
                return Err(AppError::Input(
                    ConfigError::new(out.display().to_string(), what)
                        .with_hint(Some("choose another --out directory, or delete this one to start over".into())),
                ));
            }
            // Same runs: keep the newest plan, whose SLO, names and
            // description later verdicts (and `merge`) use.
            Ok(_) => store.write_plan(plan)?,
            Err(_) if !store.plan_path().exists() => store.write_plan(plan)?,
            Err(e) => return Err(e),
        }
        Ok(store)
    }

    /// Opens an existing store (for `merge`), returning its plan.
    pub fn existing(out: &Path) -> Result<(Store, Plan), AppError> {
        let store = Store { root: out.join(".cachesim") };
        if !store.plan_path().exists() {
            return Err(AppError::Input(ConfigError::new(
                out.display().to_string(),
                "not a sweep output directory (no .cachesim/plan.json)",
            )));
        }
        let plan = store.read_plan()?;
        Ok((store, plan))
    }

    fn write_plan(&self, plan: &Plan) -> Result<(), AppError> {
        let json = serde_json::to_vec_pretty(plan).expect("plans serialize");
        write_atomic(&self.plan_path(), &json).map_err(io(format!("cannot write {}", self.plan_path().display())))
    }

    fn plan_path(&self) -> PathBuf {
        self.root.join("plan.json")
    }

    fn read_plan(&self) -> Result<Plan, AppError> {
        let path = self.plan_path();
        let text = fs::read_to_string(&path).map_err(io(format!("cannot read {}", path.display())))?;
        serde_json::from_str(&text).map_err(|e| {
            AppError::Input(ConfigError::new(path.display().to_string(), format!("corrupt sweep state: {e}")))
        })
    }

    fn run_path(&self, id: RunId) -> PathBuf {
        self.root.join("runs").join(format!("{}-{}.json", id.point, id.rep))
    }

    /// Saves one finished run, atomically.
    pub fn save(&self, record: &RunRecord) -> Result<(), AppError> {
        let path = self.run_path(record.id());
        let json = serde_json::to_vec(record).expect("records serialize");
        write_atomic(&path, &json).map_err(io(format!("cannot write {}", path.display())))
    }

    /// Every finished run on disk that this plan made, by id, and how many
    /// records were set aside because another plan or build made them or
    /// their contents were edited (they are computed again). Temporary files
    /// of runs cut short are ignored.
    pub fn completed(&self, plan_fingerprint: &str) -> Result<(BTreeMap<RunId, RunRecord>, usize), AppError> {
        use rayon::prelude::*;
        let dir = self.root.join("runs");
        let entries = fs::read_dir(&dir).map_err(io(format!("cannot read {}", dir.display())))?;
        let mut paths = Vec::new();
        for entry in entries {
            let path = entry.map_err(io(format!("cannot read {}", dir.display())))?.path();
            let is_record = path.extension().is_some_and(|e| e == "json")
                && !path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
            if is_record {
                paths.push(path);
            }
        }
        // Parsed in parallel (on the caller's thread pool): reading back a
        // large sweep's records was its longest serial step. Sorted, so that
        // the error reported for several bad files is always the same one.
        paths.sort();
        let parsed: Vec<Result<RunRecord, AppError>> = paths.par_iter().map(|path| read_record(path)).collect();
        let mut out = BTreeMap::new();
        let mut foreign = 0;
        for record in parsed {
            let record = record?;
            if record.is_sealed_for(plan_fingerprint) {
                out.insert(record.id(), record);
            } else {
                foreign += 1;
            }
        }
        Ok((out, foreign))
    }
}

/// One stored run record.
fn read_record(path: &Path) -> Result<RunRecord, AppError> {
    let text = fs::read_to_string(path).map_err(io(format!("cannot read {}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        AppError::Input(
            ConfigError::new(path.display().to_string(), format!("corrupt run record: {e}"))
                .with_hint(Some("delete this file and run the sweep again to recompute it".into())),
        )
    })
}
