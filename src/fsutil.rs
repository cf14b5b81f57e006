//! Writing files so that a failed or interrupted run never leaves a user's
//! file half-written: write a temporary file beside it, flush it to disk,
//! then rename it over the target (atomic on POSIX file systems).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The largest input file (model, experiment, baseline, limits) read: far
/// beyond any real one, and small enough that `/dev/zero` or a huge file
/// given by mistake is refused at once instead of filling memory.
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a regular file of at most [`MAX_INPUT_BYTES`] as UTF-8 text,
/// without a leading byte-order mark.
/// Devices, pipes and directories are refused (they may never end), and so
/// is a file that grows past the cap while it is read.
pub fn read_input(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let bad = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, m);
    let meta = fs::metadata(path)?;
    if !meta.is_file() {
        return Err(bad("not a regular file (a directory, device or pipe)".into()));
    }
    let too_big = || bad(format!("larger than the {} MiB an input file may be", MAX_INPUT_BYTES / (1024 * 1024)));
    if meta.len() > MAX_INPUT_BYTES {
        return Err(too_big());
    }
    let mut text = String::new();
    fs::File::open(path)?.take(MAX_INPUT_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_big());
    }
    // A byte-order mark, as Windows editors write, is not part of the text
    // (and positions count from after it, as an editor shows them).
    if let Some(rest) = text.strip_prefix('\u{feff}') {
        text = rest.to_string();
    }
    Ok(text)
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_all_atomic(&[(path.to_path_buf(), bytes)])
}

/// Writes several files so that they change together as far as a file
/// system allows: every temporary file is written and flushed first, then
/// all are renamed in a row. An interruption while writing leaves every old
/// file as it was; only the renames (microseconds) can be cut between.
pub fn write_all_atomic<B: AsRef<[u8]>>(files: &[(PathBuf, B)]) -> std::io::Result<()> {
    let mut staged = Vec::new();
    let result = (|| {
        for (path, bytes) in files {
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
            let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
            let mut f = fs::File::create(&tmp)?;
            staged.push((tmp, path.clone()));
            f.write_all(bytes.as_ref())?;
            f.sync_all()?;
        }
        for (tmp, path) in &staged {
            fs::rename(tmp, path)?;
        }
        Ok(())
    })();
    if result.is_err() {
        for (tmp, _) in &staged {
            let _ = fs::remove_file(tmp);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("cachesim-fsutil-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("a.csv");
        fs::write(&target, "old").unwrap();
        write_atomic(&target, b"new").unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        // A target in a directory that does not exist fails and keeps nothing.
        assert!(write_atomic(&dir.join("missing/b.csv"), b"x").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_set_of_files_changes_together_or_not_at_all() {
        let dir = std::env::temp_dir().join(format!("cachesim-fsutil-set-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a"), dir.join("b"));
        fs::write(&a, "old a").unwrap();
        fs::write(&b, "old b").unwrap();
        // The second file cannot be staged: nothing changes, nothing is left.
        let bad = vec![(a.clone(), b"new a".to_vec()), (dir.join("missing/c"), b"c".to_vec())];
        assert!(write_all_atomic(&bad).is_err());
        assert_eq!(fs::read_to_string(&a).unwrap(), "old a");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 2);
        write_all_atomic(&[(a.clone(), b"new a".to_vec()), (b.clone(), b"new b".to_vec())]).unwrap();
        assert_eq!(
            (fs::read_to_string(&a).unwrap(), fs::read_to_string(&b).unwrap()),
            ("new a".into(), "new b".into())
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
