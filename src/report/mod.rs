//! Turning results into something people read: the aligned text summary and
//! the side-by-side comparison. JSON is `serde_json` over `RunReport`.

mod figures;
mod html;
mod junit;
mod limits;
mod plot;
mod summary;

pub use junit::junit;
pub use limits::{LimitsFile, limits_table, read_limits, recovery_brief, recovery_words};
pub use summary::{comparison, count, secs, summary};

pub use figures::{Named, knob_figure, series_figures, sweep_figures, value_band};
pub use html::report_html;
pub use plot::{Chart, Figure, Heatmap, Line, MAX_LINE_POINTS, png, register_fonts, svg, thin};

use std::path::Path;

/// Writes each figure as `<name>.svg` and `<name>.png` in `dir`, returning
/// the SVG texts (for the HTML report).
pub fn write_figures(dir: &Path, figures: Vec<Named>) -> Result<Vec<(Named, String)>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    figures
        .into_iter()
        .map(|f| {
            let text = svg(&f.figure)?;
            crate::fsutil::write_atomic(&dir.join(format!("{}.svg", f.name)), text.as_bytes())
                .map_err(|e| format!("cannot write {}.svg: {e}", f.name))?;
            png(&f.figure, &dir.join(format!("{}.png", f.name)))?;
            Ok((f, text))
        })
        .collect()
}
