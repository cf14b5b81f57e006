//! `cachesim fit SAMPLES.csv`: latency distributions fitted to measured
//! durations, printed as RON a model file (or `--set`) accepts, each under
//! a `//` comment with its estimates and goodness of fit.

use super::print;
use crate::cli::FitArgs;
use crate::config::Dur;
use crate::config::{ConfigError, read_text};
use crate::engine::SimDuration;
use crate::error::AppError;
use crate::fit::{self, FitReport, Samples, p_text, readable, round_to, sig, to_ron};

pub(super) fn fit(args: FitArgs) -> Result<(), AppError> {
    let origin = args.samples.display().to_string();
    let text = read_text(&args.samples, "samples")?;
    let samples = fit::parse_samples(&text, &origin, args.column.as_deref())?;
    if samples.values.len() < 2 {
        return Err(AppError::Input(ConfigError::new(
            &origin,
            format!("{} value(s) in `{}`; a fit needs at least 2", samples.values.len(), samples.column),
        )));
    }
    let report = fit::fit(&samples.values, args.quantiles as usize);
    print(&render(&report, &origin, &samples))
}

/// The text printed: a summary, each fit (comment, then its RON), the hint.
fn render(r: &FitReport, origin: &str, samples: &Samples) -> String {
    let s = |x: f64| readable(Dur(SimDuration::from_secs_f64(round_to(x, 3))));
    let mut out = format!(
        "// cachesim fit {origin}: {} values of `{}`, from {} to {} (median {}, mean {})\n",
        r.n,
        samples.column,
        s(r.min),
        s(r.max),
        s(r.median),
        s(r.mean)
    );
    if let Some(constant) = &r.constant {
        out += &format!("{}\n", to_ron(constant));
    }
    for f in &r.fits {
        let goodness = match &f.goodness {
            Some(g) if f.family == "Empirical" => {
                format!("; KS D = {} (by construction: the table is made of these samples, so no test)", sig(g.d, 2))
            }
            Some(g) => format!("; KS D = {}, p {}", sig(g.d, 2), relation(g.p)),
            None => String::new(),
        };
        out += &format!("// {}: {}{goodness}\n", f.family, f.note);
        if let Some(latency) = &f.latency {
            out += &format!("{}\n", to_ron(latency));
        }
    }
    out += &format!("// {}\n", r.hint);
    out += "// Use one as any latency (backend.latency, servers.handler, db.query), in a model file or with\n\
            // --set 'backend.latency=...'. p is asymptotic and, with parameters fitted to these samples, generous.\n";
    out
}

fn relation(p: f64) -> String {
    let text = p_text(p);
    if text.starts_with('<') { text } else { format!("= {text}") }
}
