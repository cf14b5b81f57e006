//! `cachesim serve`: loads the models named on the command line (files, or
//! the model files of directories) and runs the what-if page's server
//! (`crate::serve`) until stopped.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use super::print;
use crate::cli::ServeArgs;
use crate::config::{ConfigError, parse_model_in, read_text};
use crate::error::AppError;
use crate::serve::Served;

/// Loads one model file as `run` does, keeping its text.
fn load(path: &Path) -> Result<(String, crate::config::ModelSpec), ConfigError> {
    let text = read_text(path, "model")?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
    let spec = parse_model_in(&text, &path.display().to_string(), stem, path.parent().unwrap_or(Path::new("")))?;
    Ok((text, spec))
}

/// The models of the arguments: each file (an error if it does not load),
/// and each directory's `*.ron` files that are models (others are skipped
/// with a note on stderr), in name order.
fn models(args: &[PathBuf]) -> Result<Vec<Served>, AppError> {
    let mut out: Vec<Served> = Vec::new();
    let mut add = |path: PathBuf, text: String, spec| {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("model").to_string();
        let mut id = stem.clone();
        let mut n = 2;
        while out.iter().any(|m| m.id == id) {
            id = format!("{stem}-{n}");
            n += 1;
        }
        out.push(Served { id, path, text, spec });
    };
    for arg in args {
        if arg.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(arg)
                .map_err(|e| ConfigError::new(arg.display().to_string(), format!("cannot read the directory: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "ron") && p.is_file())
                .collect();
            files.sort();
            for f in files {
                match load(&f) {
                    Ok((text, spec)) => add(f, text, spec),
                    Err(e) => {
                        let first = e.to_string().lines().next().unwrap_or_default().to_string();
                        eprintln!("cachesim serve: skipping {} (not a model that loads: {first})", f.display());
                    }
                }
            }
        } else {
            let (text, spec) = load(arg)?;
            add(arg.clone(), text, spec);
        }
    }
    if out.is_empty() {
        return Err(AppError::Input(ConfigError::new("cachesim serve", "no model files to serve in the paths given")));
    }
    Ok(out)
}

pub(super) fn serve(args: ServeArgs) -> Result<(), AppError> {
    let models = models(&args.models)?;
    let ip = args.bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    if !ip.is_loopback() {
        eprintln!(
            "cachesim serve: warning: listening on {ip}, not only on this machine: anyone who can reach it can run simulations here"
        );
    }
    let open = args.open;
    let count = models.len();
    crate::serve::serve(models, SocketAddr::new(ip, args.port), |bound| {
        let url = format!("http://{bound}/");
        let _ = print(&format!("cachesim serve: {count} model(s) at {url}\n"));
        if open {
            let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
            if let Err(e) = std::process::Command::new(opener).arg(&url).spawn() {
                eprintln!("cachesim serve: cannot open a browser ({opener}: {e}); open {url}");
            }
        }
    })
    .map_err(AppError::Failed)
}
