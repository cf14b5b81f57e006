//! Build identity: a hash of every source file that can change what a run
//! computes (`src/`, the manifest and the lock file). Stored runs carry it,
//! so runs made by another build are never reused as if this one had made
//! them, even without a version bump.

use std::fs;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let mut paths = Vec::new();
    files(Path::new("src"), &mut paths);
    paths.extend(["Cargo.toml", "Cargo.lock", "build.rs"].map(PathBuf::from));
    paths.sort();
    // FNV-1a over (path, length, contents) of each file, in sorted order.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for path in &paths {
        let contents = fs::read(path).unwrap_or_default();
        eat(path.to_string_lossy().as_bytes());
        eat(&(contents.len() as u64).to_le_bytes());
        eat(&contents);
    }
    println!("cargo:rustc-env=CACHESIM_BUILD_ID={hash:016x}");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-changed=build.rs");
}
