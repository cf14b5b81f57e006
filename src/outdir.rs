//! Where commands write, and whether they may: the default directory an
//! experiment's name gives (a slug, always under `results/`), the marker
//! that says cachesim made a directory, the lock one writer holds on it for
//! a whole command, and the checks on a file path before anything is
//! written.
//!
//! Every output directory holds `.cachesim/`: `marker` (written when
//! cachesim makes the directory, or takes over an empty one), `lock` (the
//! advisory lock, holding the writer's process id while it runs), and for a
//! sweep `plan.json` and `runs/` (see `experiment::store`). A directory that
//! already holds files is written into only if it carries the marker, or a
//! cachesim `plan.json` (directories made before the marker existed).

use std::fs;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::config::ConfigError;
use crate::error::AppError;

/// The directory of cachesim's own state inside an output directory.
pub const STATE_DIR: &str = ".cachesim";
/// The marker file, in [`STATE_DIR`].
pub const MARKER: &str = "marker";
/// The lock file, in [`STATE_DIR`].
pub const LOCK: &str = "lock";
/// The longest slug an experiment's name gives.
pub const MAX_SLUG: usize = 64;

const MARKER_TEXT: &str = "This directory was made by cachesim for its output; cachesim writes into a directory that holds files only if this marker is here.\n";

/// The directory name an experiment's name gives: ASCII letters (lowercased),
/// digits, `-`, `_` and `.` (not leading) kept, every other character `-`,
/// at most [`MAX_SLUG`] characters; "experiment" if the name is empty. It
/// holds no path separator and is never `.` or `..`, so it names one
/// directory under `results/`, whatever the name.
pub fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .take(MAX_SLUG)
        .enumerate()
        .map(|(i, c)| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-' | '_') => c,
            '.' if i > 0 => '.',
            _ => '-',
        })
        .collect();
    if s.is_empty() { "experiment".into() } else { s }
}

/// `results/<slug of name>`: where a sweep of the experiment `name` writes
/// without `--out`.
pub fn default_dir(name: &str) -> PathBuf {
    Path::new("results").join(slug(name))
}

fn refused(path: &Path, message: String, hint: String) -> AppError {
    AppError::Input(ConfigError::new(path.display().to_string(), message).with_hint(Some(hint)))
}

/// Whether `dir` carries cachesim's marker, or (made by an earlier version)
/// a cachesim `plan.json`, or holds only the `check-<fingerprint>`
/// directories of earlier `cachesim check` runs.
pub fn is_marked(dir: &Path) -> bool {
    let state = dir.join(STATE_DIR);
    if state.join(MARKER).is_file() {
        return true;
    }
    let plan = crate::fsutil::read_input(&state.join("plan.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
    if plan.is_some_and(|p| p.get("fingerprint").is_some_and(|f| f.is_string()) && p.get("spec").is_some()) {
        return true;
    }
    let Ok(entries) = fs::read_dir(dir) else { return false };
    let mut any = false;
    for entry in entries {
        let Ok(entry) = entry else { return false };
        let name = entry.file_name();
        let is_check = name.to_str().is_some_and(|n| n.starts_with("check-"));
        if !is_check || !entry.path().is_dir() || !is_marked(&entry.path()) {
            return false;
        }
        any = true;
    }
    any
}

/// Makes `dir` (which does not exist) with its marker in place, so that no
/// other process ever sees it unmarked: the directory is built under a
/// temporary name beside it and renamed into place. If another process made
/// it meanwhile, that one is kept.
fn create_marked(dir: &Path) -> std::io::Result<()> {
    let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
        return fs::create_dir(dir);
    };
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let staged = parent.join(format!(".{name}.new-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staged);
    let made = (|| {
        fs::create_dir(&staged)?;
        fs::create_dir(staged.join(STATE_DIR))?;
        fs::write(staged.join(STATE_DIR).join(MARKER), MARKER_TEXT)?;
        fs::rename(&staged, dir)
    })();
    if made.is_err() {
        let _ = fs::remove_dir_all(&staged);
        if dir.is_dir() {
            return Ok(());
        }
    }
    made
}

/// An output directory this process may write into, locked for as long as
/// it lives: another cachesim command that claims it meanwhile is refused.
#[derive(Debug)]
pub struct OutputDir {
    path: PathBuf,
    lock: Option<fs::File>,
}

impl OutputDir {
    /// Claims `path` for writing, before anything is written into it. `flag`
    /// names where the path came from, for messages (`--out`, `--plot`).
    ///
    /// A missing directory is made (its missing parents too, each marked).
    /// An existing one must be a directory, and either empty or marked
    /// ([`is_marked`]); then its marker is written if missing, and its lock
    /// taken. Each refusal is bad input (exit 2) naming the directory and
    /// why.
    pub fn claim(path: &Path, flag: &str) -> Result<OutputDir, AppError> {
        match fs::metadata(path) {
            Ok(meta) if !meta.is_dir() => {
                return Err(refused(
                    path,
                    format!("{flag} expects a directory, but this is a file"),
                    format!("give {flag} a directory (cachesim makes it if it is missing)"),
                ));
            }
            Ok(_) => {
                let empty = fs::read_dir(path).map(|mut d| d.next().is_none()).map_err(|e| {
                    refused(
                        path,
                        format!("cannot read this directory: {e}"),
                        format!("choose another {flag} directory"),
                    )
                })?;
                if !empty && !is_marked(path) {
                    return Err(refused(
                        path,
                        format!(
                            "will not write into this directory: it holds files, and cachesim did not make it (it has no {STATE_DIR}/{MARKER}), so they could be overwritten"
                        ),
                        format!(
                            "give {flag} a new or empty directory (cachesim makes it), or empty this one if its files may go"
                        ),
                    ));
                }
            }
            Err(_) => {
                let mut missing: Vec<&Path> = path.ancestors().filter(|p| !p.as_os_str().is_empty()).collect();
                missing.reverse();
                for dir in missing {
                    if dir.is_dir() {
                        continue;
                    }
                    create_marked(dir).map_err(|e| {
                        refused(
                            path,
                            format!("cannot make this directory ({} failed: {e})", dir.display()),
                            format!("check that its parent exists and is writable, or choose another {flag} directory"),
                        )
                    })?;
                }
            }
        }
        let state = path.join(STATE_DIR);
        let cannot = |what: &str, e: std::io::Error| {
            refused(path, format!("cannot write {what}: {e}"), format!("choose a writable {flag} directory"))
        };
        fs::create_dir_all(&state).map_err(|e| cannot(&state.display().to_string(), e))?;
        if !state.join(MARKER).is_file() {
            crate::fsutil::write_atomic(&state.join(MARKER), MARKER_TEXT.as_bytes())
                .map_err(|e| cannot("its marker", e))?;
        }
        let lock = lock(path, &state.join(LOCK), flag)?;
        Ok(OutputDir { path: path.to_path_buf(), lock })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        // The lock file is left empty (no stale process id); closing the
        // file releases the lock.
        if let Some(f) = &self.lock {
            let _ = f.set_len(0);
        }
    }
}

/// Takes the advisory lock on `file` and writes this process's id into it.
/// A file system without locks (some network mounts) is written without
/// one.
fn lock(dir: &Path, file: &Path, flag: &str) -> Result<Option<fs::File>, AppError> {
    let mut f = fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(file).map_err(|e| {
        refused(dir, format!("cannot open its lock file: {e}"), format!("choose a writable {flag} directory"))
    })?;
    // The holder writes its id just after taking the lock, and empties the
    // file just before releasing it: an empty file is read again a moment
    // later, and the lock tried again.
    let mut holder = String::new();
    for _ in 0..50 {
        match f.try_lock() {
            Ok(()) => {
                let written = f.set_len(0).and_then(|()| f.rewind()).and_then(|()| {
                    f.write_all(format!("{}\n", std::process::id()).as_bytes())?;
                    f.flush()
                });
                written.map_err(|e| {
                    refused(
                        dir,
                        format!("cannot write its lock file: {e}"),
                        format!("choose a writable {flag} directory"),
                    )
                })?;
                return Ok(Some(f));
            }
            Err(fs::TryLockError::WouldBlock) => {
                holder.clear();
                let _ = f.rewind().and_then(|()| f.read_to_string(&mut holder));
                if !holder.trim().is_empty() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(fs::TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => return Ok(None),
            Err(fs::TryLockError::Error(e)) => {
                return Err(refused(
                    dir,
                    format!("cannot lock this directory: {e}"),
                    format!("choose another {flag} directory"),
                ));
            }
        }
    }
    let who = match holder.trim().parse::<u32>() {
        Ok(pid) => format!("process {pid}"),
        Err(_) => "another process".to_string(),
    };
    Err(refused(
        dir,
        format!(
            "this output directory is in use by {who} (another cachesim command is writing into it; lock {})",
            file.display()
        ),
        format!("wait for that command to finish, or choose another {flag} directory"),
    ))
}

/// Checks, before anything is written, that a file can be written at `path`
/// (given by `flag`): it is not a directory, and its directory exists and is
/// writable (a file is made there and removed at once). Bad input (exit 2)
/// otherwise, saying what was expected.
pub fn check_file_target(path: &Path, flag: &str) -> Result<(), AppError> {
    if path.is_dir() {
        return Err(refused(
            path,
            format!("{flag} expects a file, but this is a directory"),
            format!("give {flag} a file's path, e.g. {}", path.join("out").display()),
        ));
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        let what = if parent.exists() { "is not a directory" } else { "does not exist" };
        return Err(refused(
            path,
            format!("cannot write {flag} here: its directory {} {what}", parent.display()),
            format!("make the directory first, or give {flag} a path in an existing directory"),
        ));
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let probe = parent.join(format!(".{name}.probe-{}", std::process::id()));
    match fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(refused(
            path,
            format!("cannot write {flag} here: its directory {} is not writable ({e})", parent.display()),
            format!("give {flag} a path in a writable directory"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slug_is_one_safe_directory_name() {
        assert_eq!(slug("seed_matrix"), "seed_matrix");
        assert_eq!(slug("Seed Matrix v1.2"), "seed-matrix-v1.2");
        assert_eq!(slug("../../x"), "-.-..-x");
        assert_eq!(slug("/etc/passwd"), "-etc-passwd");
        assert_eq!(slug("."), "-");
        assert_eq!(slug(".."), "-.");
        assert_eq!(slug(".hidden"), "-hidden");
        assert_eq!(slug("café"), "caf-");
        assert_eq!(slug(""), "experiment");
        assert_eq!(slug(&"a".repeat(500)).len(), MAX_SLUG);
        assert_eq!(slug(&"é".repeat(500)), "-".repeat(MAX_SLUG));
        for name in ["../../x", "/abs", "a/b\\c", "..", ".", "x\0y", "C:\\w"] {
            let dir = default_dir(name);
            let parts: Vec<_> = dir.components().collect();
            assert_eq!(parts.len(), 2, "{name}: {dir:?}");
            assert!(matches!(parts[1], std::path::Component::Normal(_)), "{name}: {dir:?}");
        }
    }

    #[test]
    fn claims_new_empty_and_marked_directories_and_refuses_others() {
        let tmp = std::env::temp_dir().join(format!("cachesim-outdir-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).unwrap();
        // New, with a missing parent: both made and marked.
        let new = tmp.join("a/b");
        drop(OutputDir::claim(&new, "--out").unwrap());
        assert!(is_marked(&tmp.join("a")) && is_marked(&new));
        assert_eq!(fs::read_to_string(new.join(".cachesim/lock")).unwrap(), "", "no stale id after release");
        // Claimed again: marked.
        drop(OutputDir::claim(&new, "--out").unwrap());
        // Empty: taken over and marked.
        let empty = tmp.join("empty");
        fs::create_dir(&empty).unwrap();
        drop(OutputDir::claim(&empty, "--out").unwrap());
        assert!(is_marked(&empty));
        // Someone else's: refused, untouched.
        let theirs = tmp.join("theirs");
        fs::create_dir(&theirs).unwrap();
        fs::write(theirs.join("summary.json"), "mine").unwrap();
        let e = OutputDir::claim(&theirs, "--out").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("did not make it"), "{e}");
        assert_eq!(fs::read_dir(&theirs).unwrap().count(), 1);
        // A file: refused.
        let e = OutputDir::claim(&theirs.join("summary.json"), "--out").unwrap_err();
        assert!(e.to_string().contains("expects a directory"), "{e}");
        // Held: a second claim in the same process is refused too (the
        // lock belongs to the open file), naming this process.
        let held = OutputDir::claim(&new, "--out").unwrap();
        let e = OutputDir::claim(&new, "--out").unwrap_err();
        assert!(e.to_string().contains(&format!("in use by process {}", std::process::id())), "{e}");
        drop(held);
        fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn a_file_target_needs_an_existing_writable_directory() {
        let tmp = std::env::temp_dir().join(format!("cachesim-outdir-file-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).unwrap();
        check_file_target(&tmp.join("j.xml"), "--junit").unwrap();
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0, "the probe is removed");
        let e = check_file_target(&tmp.join("nodir/j.xml"), "--junit").unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        let e = check_file_target(&tmp, "--junit").unwrap_err();
        assert!(e.to_string().contains("expects a file"), "{e}");
        fs::remove_dir_all(&tmp).unwrap();
    }
}
