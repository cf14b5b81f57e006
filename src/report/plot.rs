//! Charts with plotters, to SVG (text) and PNG (file), with an embedded font
//! so that text renders on machines without system fonts. The only user of
//! plotters.
//!
//! What is drawn is decided by whoever builds the figure ([`super::figures`]:
//! which lines, their colours and dashes, the x scale); this module decides
//! where things go. Legends sit outside the plotting area (to the right of a
//! chart, below a grid of panels), so that they never hide data.
//!
//! plotters 0.3.7's SVG backend writes no dash pattern, only a colour and an
//! opacity. A dashed line is therefore drawn in the SVG as a solid one with
//! its dash's marker opacity (0.999 or 0.998, which no other element uses),
//! and [`add_dashes`] turns that opacity into a `stroke-dasharray` once the
//! document is written. The bitmap draws the dashes themselves.

use std::ops::Range;
use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

/// Pixel size of a chart (panels and heatmaps grow from it).
const SIZE: (u32, u32) = (900, 520);
/// Height of one panel in a grid of panels.
const PANEL_HEIGHT: u32 = 270;
/// Height of a title made by `titled`.
const TITLE_HEIGHT: u32 = 40;
/// Height of one legend entry.
const LEGEND_ROW: i32 = 20;
/// Colour of the SLO rules.
const RULE_COLOR: RGBColor = RGBColor(70, 70, 70);

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

/// How a line is stroked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dash {
    #[default]
    Solid,
    Dashed,
    Dotted,
}

impl Dash {
    /// The SVG `stroke-dasharray` (none for a solid line).
    fn pattern(self) -> Option<&'static str> {
        match self {
            Dash::Solid => None,
            Dash::Dashed => Some("8,5"),
            Dash::Dotted => Some("2,4"),
        }
    }

    /// The opacity that stands for this dash in the SVG until
    /// [`add_dashes`] replaces it by the pattern.
    fn marker(self) -> f64 {
        match self {
            Dash::Solid => 1.0,
            Dash::Dashed => 0.999,
            Dash::Dotted => 0.998,
        }
    }

    /// (dash, gap) in pixels, for the bitmap.
    fn lengths(self) -> (u32, u32) {
        match self {
            Dash::Solid => (1, 0),
            Dash::Dashed => (8, 5),
            Dash::Dotted => (2, 4),
        }
    }
}

/// One line of a chart, with an optional band (x, low, high) around it.
#[derive(Debug, Clone)]
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub band: Vec<(f64, f64, f64)>,
    pub color: RGBColor,
    pub dash: Dash,
}

impl Line {
    /// A solid line without a band, thinned to what a picture can show
    /// ([`thin`]).
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>, color: RGBColor) -> Line {
        Line { name: name.into(), points: thin(points, MAX_LINE_POINTS), band: Vec::new(), color, dash: Dash::Solid }
    }
}

/// The most points a plotted line keeps: a chart is about 1000 pixels
/// wide, and two points a pixel column show its lowest and highest value.
pub const MAX_LINE_POINTS: usize = 2000;

/// `points` (in x order) cut to at most `max` by min/max decimation: they
/// are split into `max / 2` runs of consecutive points and each run keeps
/// its lowest and its highest point, in x order, so that a one-bucket spike
/// stays as tall as it was. Lines of at most `max` points are kept whole.
pub fn thin(points: Vec<(f64, f64)>, max: usize) -> Vec<(f64, f64)> {
    let runs = (max / 2).max(1);
    if points.len() <= max.max(2) {
        return points;
    }
    let per_run = points.len().div_ceil(runs);
    let mut out = Vec::with_capacity(2 * runs);
    for run in points.chunks(per_run) {
        let by_y = |a: &&(f64, f64), b: &&(f64, f64)| a.1.total_cmp(&b.1);
        let (lo, hi) = (
            run.iter().enumerate().min_by(|a, b| by_y(&a.1, &b.1)).map_or(0, |(i, _)| i),
            run.iter().enumerate().max_by(|a, b| by_y(&a.1, &b.1)).map_or(0, |(i, _)| i),
        );
        let (first, second) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        out.push(run[first]);
        if second != first {
            out.push(run[second]);
        }
    }
    out
}

/// A horizontal rule across a chart (an SLO bound), named in the legend
/// and labelled on the chart.
#[derive(Debug, Clone)]
pub struct Rule {
    pub y: f64,
    pub label: String,
}

/// How the x axis maps values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    #[default]
    Linear,
    /// Logarithmic (every x must be positive).
    Log,
}

/// A line chart.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub lines: Vec<Line>,
    pub rules: Vec<Rule>,
    pub x_scale: Scale,
    /// When not empty, x values are indices into these names (an axis of
    /// words), and the ticks are the names.
    pub x_names: Vec<String>,
}

/// Small multiples: charts on one shared scale, in a grid, with one legend
/// below them all. Each chart's title is its panel's caption.
#[derive(Debug, Clone)]
pub struct Panels {
    pub title: String,
    pub charts: Vec<Chart>,
}

/// A grid of coloured cells with text (the verdict matrix). Texts may hold
/// several lines, separated by `\n`.
#[derive(Debug, Clone)]
pub struct Heatmap {
    pub title: String,
    /// What the rows are, written above their labels.
    pub row_axis: String,
    /// What the columns are, written above their labels.
    pub column_axis: String,
    pub columns: Vec<String>,
    pub rows: Vec<String>,
    /// (text, colour) per cell, row-major.
    pub cells: Vec<Vec<(String, RGBColor)>>,
}

/// Anything drawable.
#[derive(Debug, Clone)]
pub enum Figure {
    Lines(Chart),
    Panels(Panels),
    Cells(Heatmap),
}

impl Figure {
    /// The title (also the file's subject).
    pub fn title(&self) -> &str {
        match self {
            Figure::Lines(c) => &c.title,
            Figure::Panels(p) => &p.title,
            Figure::Cells(h) => &h.title,
        }
    }
}

/// Base colours (Tableau 10), one per family (a model).
const HUES: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Shade `k` of `n` of family `family`'s colour, dark to light: the lines
/// of one model at several settings keep its hue and read in order.
pub fn color(family: usize, k: usize, n: usize) -> RGBColor {
    let RGBColor(r, g, b) = HUES[family % HUES.len()];
    if n <= 1 {
        return RGBColor(r, g, b);
    }
    // From 45% darker to half-way to white.
    let s = -0.45 + 0.95 * k.min(n - 1) as f64 / (n - 1) as f64;
    let f = |c: u8| {
        let c = c as f64;
        (if s < 0.0 { c * (1.0 + s) } else { c + (255.0 - c) * s }).round() as u8
    };
    RGBColor(f(r), f(g), f(b))
}

type DrawResult = Result<(), String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// A number as a tick shows it: at most six decimals, no trailing zeros.
fn number(v: f64) -> String {
    let v = (v * 1e6).round() / 1e6;
    if v == 0.0 { "0".into() } else { format!("{v}") }
}

/// The x coordinate: linear or logarithmic, with ticks chosen here (1, 2, 5
/// times powers of ten on a log axis, so that its labels read as one).
#[derive(Clone)]
struct XAxis {
    range: Range<f64>,
    log: bool,
    ticks: Vec<f64>,
    /// Light grid lines: every multiple of a power of ten on a log axis.
    minor: Vec<f64>,
    names: Vec<String>,
}

impl XAxis {
    fn new(lo: f64, hi: f64, scale: Scale, names: &[String]) -> XAxis {
        let plain = |range: Range<f64>, ticks: Vec<f64>| XAxis {
            range,
            log: false,
            ticks,
            minor: Vec::new(),
            names: names.to_vec(),
        };
        if !names.is_empty() {
            return plain(-0.5..names.len() as f64 - 0.5, (0..names.len()).map(|i| i as f64).collect());
        }
        if scale == Scale::Log && lo > 0.0 && hi > lo {
            let (lo, hi) = (lo / 1.25, hi * 1.25);
            let decades = (lo.log10().floor() as i32)..=(hi.log10().ceil() as i32);
            let steps: &[f64] = if hi / lo > 1e3 { &[1.0] } else { &[1.0, 2.0, 5.0] };
            let inside = |v: &f64| (lo..=hi).contains(v);
            let at = |e: i32, m: &[f64]| m.iter().map(move |k| k * 10f64.powi(e)).collect::<Vec<_>>();
            let ticks = decades.clone().flat_map(|e| at(e, steps)).filter(inside).collect();
            let minor = decades.flat_map(|e| at(e, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])).filter(inside);
            return XAxis { range: lo..hi, log: true, ticks, minor: minor.collect(), names: Vec::new() };
        }
        let hi = if hi > lo { hi } else { lo + 1.0 };
        // A little room at both ends, so that no point sits on the frame.
        let pad = (hi - lo) * 0.03;
        let (lo, hi) = (lo - pad, hi + pad);
        let raw = (hi - lo) / 8.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|&s| s >= raw).unwrap_or(raw);
        let first = (lo / step).ceil() as i64;
        let ticks = (first..).map(|i| i as f64 * step).take_while(|&v| v <= hi + step * 1e-9).collect();
        plain(lo..hi, ticks)
    }

    fn label(&self, v: f64) -> String {
        match self.names.get(v.round().max(0.0) as usize) {
            Some(name) if !self.names.is_empty() => name.clone(),
            _ => number(v),
        }
    }
}

impl Ranged for XAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, &v: &f64, limit: (i32, i32)) -> i32 {
        let f = |x: f64| if self.log { x.max(f64::MIN_POSITIVE).ln() } else { x };
        let t = (f(v) - f(self.range.start)) / (f(self.range.end) - f(self.range.start));
        limit.0 + ((limit.1 - limit.0) as f64 * t).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() && !self.minor.is_empty() {
            self.minor.clone()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// The shared x axis and y range of `charts`: y from 0 to above every
/// point, band and rule.
fn frame(charts: &[&Chart]) -> (XAxis, Range<f64>) {
    let lines = || charts.iter().flat_map(|c| c.lines.iter());
    let xs = lines().flat_map(|l| l.points.iter().map(|p| p.0));
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    let (x0, x1) = if x0.is_finite() { (x0, x1) } else { (0.0, 1.0) };
    let ys = lines().flat_map(|l| l.points.iter().map(|p| p.1).chain(l.band.iter().map(|b| b.2)));
    let y1 = ys.chain(charts.iter().flat_map(|c| c.rules.iter().map(|r| r.y))).fold(0.0f64, f64::max);
    let y1 = if y1 > 0.0 { y1 * 1.08 } else { 1.0 };
    let first = charts.first();
    let scale = first.map_or(Scale::Linear, |c| c.x_scale);
    (XAxis::new(x0, x1, scale, first.map_or(&[], |c| &c.x_names)), 0.0..y1)
}

/// One entry of a legend.
struct Entry {
    name: String,
    color: RGBColor,
    dash: Dash,
}

/// The legend of `charts`: each named line once (by name), then each rule.
fn entries(charts: &[&Chart]) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for l in charts.iter().flat_map(|c| c.lines.iter()).filter(|l| !l.name.is_empty()) {
        if !out.iter().any(|e| e.name == l.name) {
            out.push(Entry { name: l.name.clone(), color: l.color, dash: l.dash });
        }
    }
    for r in charts.iter().flat_map(|c| c.rules.iter()) {
        if !out.iter().any(|e| e.name == r.label) {
            out.push(Entry { name: r.label.clone(), color: RULE_COLOR, dash: Dash::Dashed });
        }
    }
    out
}

fn text_width(text: &str, size: u32) -> u32 {
    ("sans-serif", size).into_font().box_size(text).map_or(text.chars().count() as u32 * size / 2, |b| b.0)
}

/// The width of one legend column: sample, gap, the longest name, padding.
fn entry_width(entries: &[Entry]) -> u32 {
    entries.iter().map(|e| text_width(&e.name, 13)).max().unwrap_or(0) + 50
}

/// A line's style: on an SVG, a dashed line carries its dash in the
/// marker opacity that [`add_dashes`] rewrites.
fn line_style(color: RGBColor, dash: Dash, bitmap: bool) -> ShapeStyle {
    color.mix(if bitmap { 1.0 } else { dash.marker() }).stroke_width(2)
}

/// Strokes a path in pixel coordinates; dashes are drawn as segments on a
/// bitmap and marked for [`add_dashes`] in an SVG.
fn stroke<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: Vec<(i32, i32)>,
    color: RGBColor,
    dash: Dash,
    bitmap: bool,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let style = line_style(color, dash, bitmap);
    if bitmap && dash != Dash::Solid {
        let (on, off) = dash.lengths();
        area.draw(&DashedPathElement::new(points, on, off, style)).map_err(err)
    } else {
        area.draw(&PathElement::new(points, style)).map_err(err)
    }
}

/// Draws the legend in a box at the top left of `area`, in `columns` columns.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    columns: usize,
    bitmap: bool,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let columns = columns.clamp(1, entries.len().max(1));
    let (w, rows) = (entry_width(entries) as i32, entries.len().div_ceil(columns) as i32);
    let corner = [(0, 0), (w * columns as i32 + 8, rows * LEGEND_ROW + 12)];
    area.draw(&Rectangle::new(corner, WHITE.filled())).map_err(err)?;
    area.draw(&Rectangle::new(corner, BLACK.stroke_width(1))).map_err(err)?;
    let font = ("sans-serif", 13).into_font().into_text_style(area).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, e) in entries.iter().enumerate() {
        let (x, y) = (10 + (i % columns) as i32 * w, 16 + (i / columns) as i32 * LEGEND_ROW);
        stroke(area, vec![(x, y), (x + 26, y)], e.color, e.dash, bitmap)?;
        area.draw(&Text::new(e.name.clone(), (x + 34, y), font.clone())).map_err(err)?;
    }
    Ok(())
}

/// Where a chart sits: its caption, its size class and which axis
/// descriptions it carries (panels share theirs).
struct Place<'a> {
    caption: Option<&'a str>,
    small: bool,
    x_desc: bool,
    y_desc: bool,
    bitmap: bool,
}

/// Draws `chart` on `area` against the axes `x` and `y`.
fn plot<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart,
    x: &XAxis,
    y: Range<f64>,
    at: &Place,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let mut builder = ChartBuilder::on(area);
    if let Some(caption) = at.caption {
        builder.caption(caption, ("sans-serif", if at.small { 15 } else { 20 }));
    }
    let (x_area, y_area) = if at.small { (45, 65) } else { (50, 75) };
    let mut c = builder
        .margin(10)
        .margin_right(20)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area)
        .build_cartesian_2d(x.clone(), y)
        .map_err(err)?;
    let tick = |v: &f64| x.label(*v);
    let mut mesh = c.configure_mesh();
    mesh.x_label_formatter(&tick).axis_desc_style(("sans-serif", 15)).label_style(("sans-serif", 13));
    if at.x_desc {
        mesh.x_desc(&chart.x_label);
    }
    if at.y_desc {
        mesh.y_desc(&chart.y_label);
    }
    mesh.draw().map_err(err)?;
    // Labels just above their rules, the lowest first; a label that would
    // overlap the one below it (two bounds alike) goes above that one.
    let mut rules: Vec<&Rule> = chart.rules.iter().collect();
    rules.sort_by(|a, b| a.y.total_cmp(&b.y));
    let mut above = i32::MAX;
    for rule in rules {
        let ends = [(x.range.start, rule.y), (x.range.end, rule.y)];
        series(&mut c, &ends, RULE_COLOR, Dash::Dashed, at.bitmap)?;
        let y = c.backend_coord(&ends[0]).1;
        above = (y - 17).min(above.saturating_sub(15));
        let font = ("sans-serif", 12).into_font().color(&RULE_COLOR);
        let label = EmptyElement::at(ends[0]) + Text::new(rule.label.clone(), (6, above - y), font);
        c.draw_series(std::iter::once(label)).map_err(err)?;
    }
    for line in &chart.lines {
        let color = line.color;
        if !line.band.is_empty() {
            let mut outline: Vec<(f64, f64)> = line.band.iter().map(|b| (b.0, b.2)).collect();
            outline.extend(line.band.iter().rev().map(|b| (b.0, b.1)));
            c.draw_series(std::iter::once(Polygon::new(outline, color.mix(0.18).filled()))).map_err(err)?;
        }
        series(&mut c, &line.points, color, line.dash, at.bitmap)?;
        if line.points.len() <= 60 {
            c.draw_series(line.points.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(err)?;
        }
    }
    Ok(())
}

/// Draws a line through `points` on a chart, as [`stroke`] does.
fn series<DB: DrawingBackend>(
    c: &mut ChartContext<DB, Cartesian2d<XAxis, RangedCoordf64>>,
    points: &[(f64, f64)],
    color: RGBColor,
    dash: Dash,
    bitmap: bool,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let style = line_style(color, dash, bitmap);
    let points = points.iter().copied();
    if bitmap && dash != Dash::Solid {
        let (on, off) = dash.lengths();
        c.draw_series(DashedLineSeries::new(points, on, off, style)).map(|_| ()).map_err(err)
    } else {
        c.draw_series(LineSeries::new(points, style)).map(|_| ()).map_err(err)
    }
}

fn draw_lines<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart, bitmap: bool) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let area = root.titled(&chart.title, ("sans-serif", 22)).map_err(err)?;
    let (x, y) = frame(&[chart]);
    let legend = entries(&[chart]);
    let at = Place { caption: None, small: false, x_desc: true, y_desc: true, bitmap };
    if legend.is_empty() {
        return plot(&area, chart, &x, y, &at);
    }
    // The legend's column, at most half the width; a longer name is cut.
    let width = area.dim_in_pixel().0 as i32;
    let (left, right) = area.split_horizontally(width - (entry_width(&legend) as i32 + 20).min(width / 2));
    plot(&left, chart, &x, y, &at)?;
    draw_legend(&right.margin(10, 0, 4, 0), &legend, 1, bitmap)
}

/// Panels per row: two up to four panels, three beyond.
fn panel_columns(n: usize) -> usize {
    if n <= 4 { n.clamp(1, 2) } else { 3 }
}

/// (columns, height) of a legend of `entries` below panels `width` wide.
fn legend_below(entries: &[Entry], width: u32) -> (usize, u32) {
    let columns = ((width - 30) / entry_width(entries).max(1)).max(1) as usize;
    (columns, (entries.len().div_ceil(columns) as i32 * LEGEND_ROW + 32) as u32)
}

fn draw_panels<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, p: &Panels, bitmap: bool) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let area = root.titled(&p.title, ("sans-serif", 22)).map_err(err)?;
    let charts: Vec<&Chart> = p.charts.iter().collect();
    let (x, y) = frame(&charts);
    let columns = panel_columns(charts.len());
    let rows = charts.len().div_ceil(columns);
    let (grid, below) = area.split_vertically(rows as u32 * PANEL_HEIGHT);
    for (i, (chart, cell)) in charts.iter().zip(grid.split_evenly((rows, columns))).enumerate() {
        // Axis descriptions on the outer panels only: the bottom one of each
        // column and the first of each row.
        let bottom = i + columns >= charts.len();
        let at = Place { caption: Some(&chart.title), small: true, x_desc: bottom, y_desc: i % columns == 0, bitmap };
        plot(&cell, chart, &x, y.clone(), &at)?;
    }
    let legend = entries(&charts);
    if !legend.is_empty() {
        let (columns, _) = legend_below(&legend, area.dim_in_pixel().0);
        draw_legend(&below.margin(12, 0, 15, 0), &legend, columns, bitmap)?;
    }
    Ok(())
}

/// Where the parts of a heatmap go, in pixels.
struct CellLayout {
    left: i32,
    header: i32,
    cell_w: i32,
    cell_h: i32,
    size: (u32, u32),
}

const CELL_FONT: u32 = 14;
const CELL_LINE: i32 = 17;

fn cell_layout(h: &Heatmap) -> CellLayout {
    let widest = |texts: &mut dyn Iterator<Item = &String>| {
        texts.flat_map(|t| t.split('\n')).map(|l| text_width(l, CELL_FONT) as i32).max().unwrap_or(0)
    };
    let lines = |t: &String| t.split('\n').count() as i32;
    let left = (widest(&mut h.rows.iter().chain(std::iter::once(&h.row_axis))) + 24).max(100);
    let header = (h.columns.iter().map(lines).max().unwrap_or(1) + 1) * CELL_LINE + 12;
    let cols = h.columns.len().max(1) as i32;
    let cells = || h.cells.iter().flatten().map(|c| &c.0);
    let cell_w = (widest(&mut h.columns.iter().chain(cells())) + 16).max(90);
    let cell_w = cell_w.max(((SIZE.0 as i32 - left - 10) / cols).min(220));
    let text_h = cells().map(lines).max().unwrap_or(1) * CELL_LINE + 14;
    let rows = h.rows.len().max(1) as i32;
    let room = SIZE.1 as i32 - TITLE_HEIGHT as i32 - header - 10;
    let cell_h = text_h.max((room / rows).min(80));
    let size = ((left + cols * cell_w + 10) as u32, TITLE_HEIGHT + (header + rows * cell_h + 10) as u32);
    CellLayout { left, header, cell_w, cell_h, size: (size.0.max(SIZE.0), size.1) }
}

fn draw_cells<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, h: &Heatmap) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let area = root.titled(&h.title, ("sans-serif", 22)).map_err(err)?;
    let CellLayout { left, header, cell_w, cell_h, .. } = cell_layout(h);
    let font = ("sans-serif", CELL_FONT).into_font();
    let axis_font = ("sans-serif", CELL_FONT).into_font().style(FontStyle::Bold);
    let write = |text: &str, (x, y): (i32, i32), font: &FontDesc| -> DrawResult {
        for (k, line) in text.split('\n').enumerate() {
            area.draw(&Text::new(line.to_string(), (x, y + k as i32 * CELL_LINE), font.clone())).map_err(err)?;
        }
        Ok(())
    };
    write(&h.row_axis, (8, header - CELL_LINE - 6), &axis_font)?;
    write(&h.column_axis, (left + 6, 0), &axis_font)?;
    for (j, name) in h.columns.iter().enumerate() {
        write(name, (left + j as i32 * cell_w + 6, CELL_LINE + 2), &font)?;
    }
    for (i, row) in h.rows.iter().enumerate() {
        let y = header + i as i32 * cell_h;
        let middle = |text: &str| y + (cell_h - 3) / 2 - text.split('\n').count() as i32 * CELL_LINE / 2;
        write(row, (8, middle(row)), &font)?;
        for (j, (text, color)) in h.cells.get(i).into_iter().flatten().enumerate() {
            let x = left + j as i32 * cell_w;
            area.draw(&Rectangle::new([(x, y), (x + cell_w - 3, y + cell_h - 3)], color.filled())).map_err(err)?;
            write(text, (x + 8, middle(text)), &font)?;
        }
    }
    Ok(())
}

/// The pixel size `f` is drawn at.
fn size(f: &Figure) -> (u32, u32) {
    match f {
        Figure::Lines(c) => {
            let rows = entries(&[c]).len() as u32;
            (SIZE.0, SIZE.1.max(TITLE_HEIGHT + 60 + rows * LEGEND_ROW as u32))
        }
        Figure::Panels(p) => {
            let charts: Vec<&Chart> = p.charts.iter().collect();
            let legend = entries(&charts);
            let below = if legend.is_empty() { 0 } else { legend_below(&legend, SIZE.0).1 };
            let rows = charts.len().div_ceil(panel_columns(charts.len())) as u32;
            (SIZE.0, TITLE_HEIGHT + rows * PANEL_HEIGHT + below + 10)
        }
        Figure::Cells(h) => cell_layout(h).size,
    }
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, f: &Figure, bitmap: bool) -> DrawResult
where
    DB::ErrorType: 'static,
{
    match f {
        Figure::Lines(c) => draw_lines(&root, c, bitmap)?,
        Figure::Panels(p) => draw_panels(&root, p, bitmap)?,
        Figure::Cells(h) => draw_cells(&root, h)?,
    }
    root.present().map_err(err)
}

/// Gives every line drawn with a dash's marker opacity that dash's
/// `stroke-dasharray` (and full opacity). plotters writes one element a line.
fn add_dashes(svg: &str) -> String {
    let mut out = String::with_capacity(svg.len() + 1024);
    for line in svg.lines() {
        let mut line = line.to_string();
        if line.starts_with("<polyline ") || line.starts_with("<line ") {
            for dash in [Dash::Dashed, Dash::Dotted] {
                let marker = format!(" opacity=\"{}\"", dash.marker());
                if let Some(pattern) = dash.pattern().filter(|_| line.contains(&marker)) {
                    line = line.replacen(&marker, &format!(" opacity=\"1\" stroke-dasharray=\"{pattern}\""), 1);
                }
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The figure as an SVG document.
pub fn svg(f: &Figure) -> Result<String, String> {
    register_fonts();
    let mut out = String::new();
    draw(SVGBackend::with_string(&mut out, size(f)).into_drawing_area(), f, false)?;
    Ok(add_dashes(&out))
}

/// Writes the figure as a PNG file at `path` (through a temporary file, so
/// a failure leaves no half-written image).
pub fn png(f: &Figure, path: &Path) -> Result<(), String> {
    register_fonts();
    // The encoder picks the format from the extension, so keep `.png`.
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("plot");
    let tmp = path.with_file_name(format!(".{stem}.tmp-{}.png", std::process::id()));
    let result = draw(BitMapBackend::new(&tmp, size(f)).into_drawing_area(), f, true)
        .and_then(|()| std::fs::rename(&tmp, path).map_err(err));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_axis_ticks_one_two_five_times_powers_of_ten() {
        let x = XAxis::new(2.0, 200.0, Scale::Log, &[]);
        let labels: Vec<String> = x.ticks.iter().map(|&v| x.label(v)).collect();
        assert_eq!(labels, ["2", "5", "10", "20", "50", "100", "200"]);
        // Equal ratios, equal distances.
        let (a, b, c) = (x.map(&1.0, (0, 900)), x.map(&10.0, (0, 900)), x.map(&100.0, (0, 900)));
        assert!(((b - a) - (c - b)).abs() <= 1, "{a} {b} {c}");
        let wide = XAxis::new(1.0, 1e5, Scale::Log, &[]);
        assert!(wide.ticks.iter().all(|t| t.log10().fract() == 0.0), "{:?}", wide.ticks);
    }

    #[test]
    fn a_linear_axis_ticks_round_steps_and_names_label_their_indices() {
        let x = XAxis::new(0.0, 100.0, Scale::Linear, &[]);
        assert_eq!(x.ticks.iter().map(|&v| x.label(v)).collect::<Vec<_>>()[..3], ["0", "20", "40"]);
        let names = vec!["None".to_string(), "SingleFlight".to_string()];
        let x = XAxis::new(0.0, 1.0, Scale::Linear, &names);
        assert_eq!((x.label(0.0), x.label(1.0)), ("None".to_string(), "SingleFlight".to_string()));
    }

    #[test]
    fn dashed_lines_get_their_pattern_in_the_svg() {
        let svg = "<polyline fill=\"none\" opacity=\"0.999\" stroke=\"#000000\"/>\n<polyline opacity=\"1\"/>\n\
                   <text opacity=\"0.999\">\n";
        let out = add_dashes(svg);
        assert!(out.starts_with("<polyline fill=\"none\" opacity=\"1\" stroke-dasharray=\"8,5\""), "{out}");
        assert_eq!(out.matches("stroke-dasharray").count(), 1, "{out}");
    }

    #[test]
    fn shades_keep_the_hue_and_go_from_dark_to_light() {
        let (dark, base, light) = (color(0, 0, 3), color(0, 0, 1), color(0, 2, 3));
        let sum = |c: RGBColor| c.0 as u32 + c.1 as u32 + c.2 as u32;
        assert!(sum(dark) < sum(base) && sum(base) < sum(light));
        assert_ne!(color(0, 0, 1), color(1, 0, 1));
    }
}
