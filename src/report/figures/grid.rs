//! How a sweep's grid becomes lines: the first axis is x, and each model at
//! each combination of the other axes is one line (a [`Group`]), so that no
//! line jumps from one pool size to another between two loads. When there
//! are too many lines for one chart, [`arrange`] splits them into panels,
//! one per value of the second axis.

use super::super::plot::{Chart, Figure, Line, Panels, Scale, color};
use crate::experiment::{Grid, Plan, PointResult};

/// The most lines one chart holds; beyond, a grid of panels.
pub const MAX_LINES: usize = 8;

/// The last part of each axis path ("pool_size" for "db.pool_size"), or
/// the whole path where two axes would share it.
pub fn short_names(axes: &[String]) -> Vec<String> {
    let last = |a: &String| a.rsplit('.').next().unwrap_or(a).to_string();
    axes.iter()
        .map(|a| if axes.iter().filter(|b| last(b) == last(a)).count() > 1 { a.clone() } else { last(a) })
        .collect()
}

/// "pool_size=10", or "rate=10 (Light)" when the value has a label.
pub fn setting(name: &str, value: &str, label: &str) -> String {
    if label.is_empty() || label == value { format!("{name}={value}") } else { format!("{name}={value} ({label})") }
}

/// What the x axis of a sweep's charts is.
pub struct XAxis {
    pub label: String,
    pub scale: Scale,
    /// The first axis' values (or labels) when they are not all numbers:
    /// points then sit at their value's index.
    pub names: Vec<String>,
    values: Vec<String>,
}

/// The x axis: the first grid axis, logarithmic when its values are all
/// positive and span more than a factor of ten (rates from 10 to 1000 are
/// otherwise squeezed into the left tenth).
pub fn x_axis(plan: &Plan) -> XAxis {
    let mut values: Vec<(String, String)> = Vec::new();
    for p in &plan.points {
        if let (Some((_, v)), label) = (p.params.first(), p.labels.first())
            && !values.iter().any(|(w, _)| w == v)
        {
            values.push((v.clone(), label.cloned().unwrap_or_default()));
        }
    }
    let numbers: Option<Vec<f64>> =
        values.iter().map(|(v, _)| v.parse::<f64>().ok().filter(|x| x.is_finite())).collect();
    let label = match plan.axes.first().map(String::as_str) {
        None => "point".to_string(),
        Some("workload.rate") => "offered load (req/s)".to_string(),
        Some(a) => a.to_string(),
    };
    let (scale, names) = match numbers {
        Some(xs) if !xs.is_empty() => {
            let (lo, hi) = xs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
            (if lo > 0.0 && hi / lo > 10.0 { Scale::Log } else { Scale::Linear }, Vec::new())
        }
        _ => (Scale::Linear, values.iter().map(|(v, l)| if l.is_empty() { v.clone() } else { l.clone() }).collect()),
    };
    let label = if scale == Scale::Log { format!("{label}, log scale") } else { label };
    XAxis { label, scale, names, values: values.into_iter().map(|(v, _)| v).collect() }
}

impl XAxis {
    /// Where a point sits on the x axis.
    pub fn of(&self, r: &PointResult) -> Option<f64> {
        // Without a grid, every model's one point sits at 0.
        let Some((_, value)) = r.params.first() else { return Some(0.0) };
        if self.names.is_empty() {
            value.parse().ok()
        } else {
            self.values.iter().position(|v| v == value).map(|i| i as f64)
        }
    }

    /// A chart on this x axis.
    pub fn chart(&self, title: &str, y_label: &str) -> Chart {
        Chart {
            title: title.into(),
            x_label: self.label.clone(),
            y_label: y_label.into(),
            x_scale: self.scale,
            x_names: self.names.clone(),
            ..Chart::default()
        }
    }
}

/// One model at one combination of the axes after the first.
pub struct Group<'a> {
    /// The model's position in the plan (its colour).
    pub model: usize,
    pub model_name: String,
    /// "name=value" of each axis after the first; empty for a grid of one
    /// axis or a Zip grid (whose other axes move with the first).
    pub settings: Vec<String>,
    /// The combination's position among all.
    pub combo: usize,
    /// The results, by x.
    pub points: Vec<(f64, &'a PointResult)>,
}

/// Every group of a sweep.
pub struct Groups<'a> {
    pub groups: Vec<Group<'a>>,
    /// The first setting of each combination, in order: the panels.
    pub panels: Vec<String>,
}

/// Groups the results into lines, in the plan's order.
pub fn groups<'a>(plan: &Plan, x: &XAxis, results: &'a [PointResult]) -> Groups<'a> {
    let names = short_names(&plan.axes);
    let own_axes = matches!(plan.spec.grid, Grid::Cartesian(_)) && plan.axes.len() > 1;
    let models: Vec<&str> = plan.model_points().iter().map(|p| p.model.as_str()).collect();
    let settings = |r: &PointResult| -> Vec<String> {
        if !own_axes {
            return Vec::new();
        }
        let label = |k: usize| r.labels.get(k).map_or("", String::as_str);
        r.params.iter().enumerate().skip(1).map(|(k, (_, v))| setting(&names[k], v, label(k))).collect()
    };
    let mut combos: Vec<Vec<String>> = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    for r in results {
        let (Some(xv), s) = (x.of(r), settings(r)) else { continue };
        let combo = combos.iter().position(|c| *c == s).unwrap_or_else(|| {
            combos.push(s.clone());
            combos.len() - 1
        });
        let model = models.iter().position(|m| *m == r.model).unwrap_or(models.len());
        match groups.iter_mut().find(|g| g.model == model && g.combo == combo) {
            Some(g) => g.points.push((xv, r)),
            None => {
                groups.push(Group { model, model_name: r.model.clone(), settings: s, combo, points: vec![(xv, r)] })
            }
        }
    }
    for g in &mut groups {
        g.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    groups.sort_by_key(|g| (g.combo, g.model));
    let mut panels: Vec<String> = Vec::new();
    for first in combos.iter().filter_map(|c| c.first()) {
        if !panels.contains(first) {
            panels.push(first.clone());
        }
    }
    Groups { groups, panels }
}

/// A line and the settings of its group, before it is placed (and
/// coloured: its model's hue, a shade per setting the chart must tell apart).
pub struct Drawn {
    /// The model's position in the plan.
    pub model: usize,
    pub settings: Vec<String>,
    /// Named for what it shows ("reference p99"), without the settings.
    pub line: Line,
}

fn named(mut line: Line, settings: &[String]) -> Line {
    for s in settings {
        line.name = format!("{}, {s}", line.name);
    }
    line
}

/// Colours each line with its model's hue, shaded by its settings after
/// the first `shown` (which its panel already says), in order of first
/// appearance.
fn colour(drawn: &mut [Drawn], shown: usize) {
    let mut keys: Vec<&[String]> = Vec::new();
    for d in drawn.iter() {
        let key = &d.settings[shown.min(d.settings.len())..];
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let shades: Vec<usize> = drawn
        .iter()
        .map(|d| keys.iter().position(|k| *k == &d.settings[shown.min(d.settings.len())..]).unwrap_or(0))
        .collect();
    let n = keys.len();
    for (d, k) in drawn.iter_mut().zip(shades) {
        d.line.color = color(d.model, k, n);
    }
}

/// One chart when the lines fit, else one panel per value of the second
/// axis (`panels`, in order), each line named by the settings it does not
/// share with its panel.
pub fn arrange(chart: Chart, mut drawn: Vec<Drawn>, panels: &[String]) -> Figure {
    let split = drawn.len() > MAX_LINES && !panels.is_empty() && drawn.iter().all(|d| !d.settings.is_empty());
    colour(&mut drawn, usize::from(split));
    if !split {
        let lines = drawn.into_iter().map(|d| named(d.line, &d.settings)).collect();
        return Figure::Lines(Chart { lines, ..chart });
    }
    let mut charts: Vec<Chart> =
        panels.iter().map(|p| Chart { title: p.clone(), lines: Vec::new(), ..chart.clone() }).collect();
    for d in drawn {
        if let Some(panel) = charts.iter_mut().find(|c| c.title == d.settings[0]) {
            panel.lines.push(named(d.line, &d.settings[1..]));
        }
    }
    Figure::Panels(Panels { title: chart.title, charts })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_named_by_their_last_part_unless_two_share_it() {
        let axes = ["workload.rate", "db.pool_size", "redis.pool_size"].map(String::from);
        assert_eq!(short_names(&axes), ["rate", "db.pool_size", "redis.pool_size"]);
        assert_eq!(setting("rate", "10", "Light"), "rate=10 (Light)");
        assert_eq!(setting("pool_size", "10", "10"), "pool_size=10");
    }

    #[test]
    fn too_many_lines_go_to_one_panel_per_value_of_the_second_axis() {
        let drawn = |n: usize| -> Vec<Drawn> {
            (0..n)
                .map(|i| Drawn {
                    model: 0,
                    settings: vec![format!("pool_size={}", i % 3), format!("ttl={}", i / 3)],
                    line: Line::new("m p99", vec![(1.0, 1.0)], plotters::style::RGBColor(0, 0, 0)),
                })
                .collect()
        };
        let panels: Vec<String> = (0..3).map(|i| format!("pool_size={i}")).collect();
        let chart = Chart { title: "t".into(), ..Chart::default() };
        match arrange(chart.clone(), drawn(6), &panels) {
            Figure::Lines(c) => assert_eq!(c.lines[4].name, "m p99, pool_size=1, ttl=1"),
            _ => panic!("six lines fit one chart"),
        }
        match arrange(chart, drawn(9), &panels) {
            Figure::Panels(p) => {
                assert_eq!(p.charts.iter().map(|c| c.title.as_str()).collect::<Vec<_>>(), panels);
                assert_eq!(
                    p.charts[1].lines.iter().map(|l| l.name.as_str()).collect::<Vec<_>>()[..2],
                    ["m p99, ttl=0", "m p99, ttl=1"]
                );
            }
            _ => panic!("nine lines are panels"),
        }
    }
}
