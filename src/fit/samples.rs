//! Measured durations from CSV text: one value a row, in one column.

use crate::config::{ConfigError, Dur, did_you_mean};

/// The values read, in seconds, and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    /// Each value, in seconds (exact to the nanosecond), in file order.
    pub values: Vec<f64>,
    /// The column's name from the header, or `column 1` without one.
    pub column: String,
}

/// Reads the values of one column of `text` (CSV, `#` comment lines and
/// blank lines skipped, fields trimmed). A value is a plain number of
/// seconds or a duration with units, as [`Dur::parse_seconds`] reads it.
///
/// With `column` the first row is a header and names the column; without,
/// the first row is a header if its first field is not a value, and the
/// first column is read. `origin` names the text in errors, which give the
/// line of a bad value.
pub fn parse_samples(text: &str, origin: &str, column: Option<&str>) -> Result<Samples, ConfigError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let at = |line: usize, field: Option<&str>, message: String| {
        let source_line = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
        let col = field
            .filter(|f| !f.is_empty())
            .and_then(|f| source_line.find(f))
            .map_or(0, |b| source_line[..b].chars().count())
            + 1;
        ConfigError::at(origin, text, line, col, message)
    };
    // The reader counts lines without the comment and blank lines it
    // skips, and puts a record after them at their start: the line is
    // found from the byte offset, past any such lines.
    let lines: Vec<&str> = text.lines().collect();
    let starts: Vec<usize> =
        std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).take(lines.len()).collect();
    let line_at = |p: Option<&csv::Position>| {
        let byte = p.map_or(0, |p| p.byte() as usize);
        let mut line = starts.partition_point(|&s| s <= byte).max(1);
        while lines.get(line - 1).is_some_and(|l| l.is_empty() || l.starts_with('#')) && line < lines.len() {
            line += 1;
        }
        line
    };
    let mut index: Option<usize> = None;
    let mut name = String::from("column 1");
    let mut values = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| at(line_at(e.position()), None, format!("not CSV: {e}")))?;
        let line = line_at(record.position());
        if record.iter().all(str::is_empty) {
            continue;
        }
        let col = match index {
            Some(i) => i,
            None => {
                let header = match column {
                    Some(_) => true,
                    None => Dur::parse_seconds(&record[0]).is_err(),
                };
                if header {
                    let names: Vec<&str> = record.iter().collect();
                    let i = match column {
                        None => 0,
                        Some(wanted) => names.iter().position(|n| *n == wanted).ok_or_else(|| {
                            let hint = match did_you_mean(wanted, names.iter().copied()) {
                                Some(best) => format!("did you mean `{best}`? (the columns are {})", names.join(", ")),
                                None => format!("the columns are {}", names.join(", ")),
                            };
                            at(line, None, format!("no column named `{wanted}` in the header")).with_hint(Some(hint))
                        })?,
                    };
                    name = names[i].to_string();
                    index = Some(i);
                    continue;
                }
                index = Some(0);
                0
            }
        };
        let Some(field) = record.get(col) else {
            return Err(at(
                line,
                None,
                format!("no value in column {} (`{name}`): the row has {} field(s)", col + 1, record.len()),
            ));
        };
        if field.is_empty() {
            return Err(at(line, None, format!("empty value in column {} (`{name}`)", col + 1)));
        }
        let value = Dur::parse_seconds(field).map_err(|e| at(line, Some(field), e))?;
        values.push(value.as_secs_f64());
    }
    Ok(Samples { values, column: name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_headers_and_columns() {
        let s = parse_samples("0.5\n1.5s\n\n# a comment\n250ms\n", "s.csv", None).unwrap();
        assert_eq!(s.values, vec![0.5, 1.5, 0.25]);
        assert_eq!(s.column, "column 1");
        let csv = "id,latency,status\n1,0.2,200\n2,300ms,200\n";
        let s = parse_samples(csv, "s.csv", Some("latency")).unwrap();
        assert_eq!((s.values, s.column.as_str()), (vec![0.2, 0.3], "latency"));
        // The first column by default, past its header.
        assert_eq!(parse_samples("latency\n1\n2\n", "s.csv", None).unwrap().values, vec![1.0, 2.0]);
    }

    #[test]
    fn bad_input_names_its_line() {
        let e = parse_samples("0.5\n0.7\nabc\n", "s.csv", None).unwrap_err();
        assert_eq!(e.position, Some((3, 1)), "{e}");
        assert!(e.to_string().starts_with("s.csv:3:1: \"abc\" is neither"), "{e}");
        let e = parse_samples("a,b\n1,2\n3,-1\n", "s.csv", Some("b")).unwrap_err();
        assert_eq!(e.position, Some((3, 3)), "{e}");
        let e = parse_samples("a,b\n# comment\n\n1,2\n#\n\n3\n", "s.csv", Some("b")).unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(7), "{e}");
        let e = parse_samples("latency,b\n1,2\n", "s.csv", Some("latncy")).unwrap_err();
        assert!(e.to_string().contains("did you mean `latency`?"), "{e}");
    }
}
