//! JUnit XML for CI dashboards: one test case per expectation and per
//! baseline point.

use crate::experiment::{Comparison, ExpectationResult};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// A JUnit document for `cachesim check` of `experiment`.
pub fn junit(experiment: &str, expectations: &[ExpectationResult], comparison: Option<&Comparison>) -> String {
    let mut cases = Vec::new();
    for e in expectations {
        let failure = (!e.passed).then(|| format!("expected {}; observed {}", e.name, e.observed));
        cases.push(("expectations", e.name.clone(), failure));
    }
    if let Some(c) = comparison {
        for p in &c.points {
            // The message names each metric that moved and by how much; the
            // body adds why (the model or the simulator changed) and the
            // intervals.
            let failure = (!p.moved.is_empty()).then(|| {
                let what: Vec<&str> = p.moved.iter().map(|m| m.split(", beyond").next().unwrap_or(m)).collect();
                format!("moved: {}\n{}:\n{}", what.join("; "), p.status, p.moved.join("\n"))
            });
            cases.push(("baseline", p.point.clone(), failure));
        }
        for u in &c.unmatched {
            cases.push(("baseline", u.clone(), Some(u.clone())));
        }
    }
    let failures = cases.iter().filter(|c| c.2.is_some()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out += &format!("<testsuites name=\"cachesim check\" tests=\"{}\" failures=\"{failures}\">\n", cases.len());
    out += &format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">\n",
        escape(experiment),
        cases.len()
    );
    for (class, name, failure) in cases {
        out += &format!("    <testcase classname=\"{class}\" name=\"{}\"", escape(&name));
        match failure {
            None => out += "/>\n",
            Some(text) => {
                let first = text.lines().next().unwrap_or("");
                out += &format!(
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                    escape(first),
                    escape(&text)
                );
            }
        }
    }
    out += "  </testsuite>\n</testsuites>\n";
    out
}
