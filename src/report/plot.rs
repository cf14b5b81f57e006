//! Charts with plotters, to SVG (text) and PNG (file), with an embedded font
//! so that text renders on machines without system fonts. The only user of
//! plotters.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

/// Pixel size of every chart.
const SIZE: (u32, u32) = (900, 520);

static FONTS: Once = Once::new();

/// Registers the embedded Noto Sans as "sans-serif" (once per process).
pub fn register_fonts() {
    FONTS.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The font is compiled in; failing to parse it is a build bug.
            if register_font("sans-serif", style, ttf_noto_sans::REGULAR).is_err() {
                panic!("the embedded font does not parse");
            }
        }
    });
}

/// One line of a chart, with an optional band (x, low, high) around it.
#[derive(Debug, Clone)]
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub band: Vec<(f64, f64, f64)>,
}

/// A line chart.
#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub lines: Vec<Line>,
}

/// A grid of coloured cells with text (the verdict matrix).
#[derive(Debug, Clone)]
pub struct Heatmap {
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<String>,
    /// (text, colour) per cell, row-major.
    pub cells: Vec<Vec<(String, RGBColor)>>,
}

/// Anything drawable.
#[derive(Debug, Clone)]
pub enum Figure {
    Lines(Chart),
    Cells(Heatmap),
}

impl Figure {
    /// The title (also the file's subject).
    pub fn title(&self) -> &str {
        match self {
            Figure::Lines(c) => &c.title,
            Figure::Cells(h) => &h.title,
        }
    }
}

type DrawResult = Result<(), String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn bounds(chart: &Chart) -> (f64, f64, f64, f64) {
    let xs = chart.lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
    let ys = chart.lines.iter().flat_map(|l| l.points.iter().map(|p| p.1).chain(l.band.iter().map(|b| b.2)));
    let (mut x0, mut x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    let y1 = ys.fold(0.0f64, f64::max);
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let y1 = if y1 > 0.0 { y1 * 1.08 } else { 1.0 };
    (x0, x1, 0.0, y1)
}

fn draw_lines<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let (x0, x1, y0, y1) = bounds(chart);
    let mut c = ChartBuilder::on(root)
        .caption(&chart.title, ("sans-serif", 22))
        .margin(15)
        .margin_right(35)
        .x_label_area_size(50)
        .y_label_area_size(75)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    c.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(err)?;
    for (i, line) in chart.lines.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        if !line.band.is_empty() {
            let mut outline: Vec<(f64, f64)> = line.band.iter().map(|b| (b.0, b.2)).collect();
            outline.extend(line.band.iter().rev().map(|b| (b.0, b.1)));
            c.draw_series(std::iter::once(Polygon::new(outline, color.mix(0.18).filled()))).map_err(err)?;
        }
        c.draw_series(LineSeries::new(line.points.iter().copied(), color.stroke_width(2)))
            .map_err(err)?
            .label(&line.name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        if line.points.len() <= 60 {
            c.draw_series(line.points.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(err)?;
        }
    }
    if chart.lines.iter().any(|l| !l.name.is_empty()) {
        c.configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)
}

fn draw_cells<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, h: &Heatmap) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let area = root.titled(&h.title, ("sans-serif", 22)).map_err(err)?;
    let (w, ht) = area.dim_in_pixel();
    let (left, top) = (170i32, 40i32);
    let cols = h.columns.len().max(1) as i32;
    let rows = h.rows.len().max(1) as i32;
    let cw = ((w as i32 - left - 10) / cols).max(1);
    let rh = ((ht as i32 - top - 10) / rows).max(1);
    let font = ("sans-serif", 14).into_font();
    for (j, name) in h.columns.iter().enumerate() {
        area.draw(&Text::new(name.clone(), (left + j as i32 * cw + 6, top - 24), font.clone())).map_err(err)?;
    }
    for (i, row) in h.rows.iter().enumerate() {
        let y = top + i as i32 * rh;
        area.draw(&Text::new(row.clone(), (8, y + rh / 2 - 8), font.clone())).map_err(err)?;
        for (j, (text, color)) in h.cells[i].iter().enumerate() {
            let x = left + j as i32 * cw;
            area.draw(&Rectangle::new([(x, y), (x + cw - 3, y + rh - 3)], color.filled())).map_err(err)?;
            area.draw(&Text::new(text.clone(), (x + 8, y + rh / 2 - 8), font.clone())).map_err(err)?;
        }
    }
    root.present().map_err(err)
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, f: &Figure) -> DrawResult
where
    DB::ErrorType: 'static,
{
    match f {
        Figure::Lines(c) => draw_lines(&root, c),
        Figure::Cells(h) => draw_cells(&root, h),
    }
}

/// The figure as an SVG document.
pub fn svg(f: &Figure) -> Result<String, String> {
    register_fonts();
    let mut out = String::new();
    draw(SVGBackend::with_string(&mut out, SIZE).into_drawing_area(), f)?;
    Ok(out)
}

/// Writes the figure as a PNG file at `path` (through a temporary file, so
/// a failure leaves no half-written image).
pub fn png(f: &Figure, path: &Path) -> Result<(), String> {
    register_fonts();
    // The encoder picks the format from the extension, so keep `.png`.
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("plot");
    let tmp = path.with_file_name(format!(".{stem}.tmp-{}.png", std::process::id()));
    let result = draw(BitMapBackend::new(&tmp, SIZE).into_drawing_area(), f)
        .and_then(|()| std::fs::rename(&tmp, path).map_err(err));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
