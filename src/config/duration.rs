//! Durations as people write them: "300ms", "5m", "1.5s", "1h30m".

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use crate::engine::SimDuration;

/// A non-negative span of time read from a model file, kept in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub SimDuration);

const UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("sec", 1_000_000_000),
    ("m", 60_000_000_000),
    ("min", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
];

/// What a duration should look like, for error messages.
pub const DURATION_HINT: &str =
    "a duration like \"300ms\", \"1.5s\", \"5m\" or \"1h30m\" (units: ns, us, ms, s, m, h, d)";

impl Dur {
    /// A duration of whole seconds.
    pub const fn secs(s: u64) -> Dur {
        Dur(SimDuration::from_secs(s))
    }

    /// A duration of whole milliseconds.
    pub const fn millis(ms: u64) -> Dur {
        Dur(SimDuration::from_millis(ms))
    }

    /// Nanoseconds.
    pub fn nanos(self) -> u64 {
        self.0.0
    }

    /// Seconds, as a float.
    pub fn as_secs_f64(self) -> f64 {
        self.0.as_secs_f64()
    }

    /// Whether the span is zero.
    pub fn is_zero(self) -> bool {
        self.0.0 == 0
    }
}

impl Dur {
    /// Reads a measured value: a plain decimal number is seconds, exact to
    /// the nanosecond (`0.25`, `1700000000.123456789`; a tenth decimal
    /// rounds), one in exponent form (`1.2e-3`) is rounded to the
    /// nanosecond, and anything else is a duration with units as in model
    /// files (`"12ms"`, `"1.5s"`). Used for measured samples and traces.
    pub fn parse_seconds(text: &str) -> Result<Dur, String> {
        let s = text.trim();
        let plain = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') && s.matches('.').count() <= 1;
        let too_long = || format!("{s:?} is too long (the limit is about 584 years)");
        if plain && s != "." {
            let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
            let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| too_long())? };
            let mut ns: u128 = 0;
            for (i, d) in frac.bytes().enumerate() {
                let digit = u128::from(d - b'0');
                match i {
                    0..9 => ns += digit * 10u128.pow(8 - i as u32),
                    9 => ns += u128::from(digit >= 5),
                    _ => break,
                }
            }
            let total = whole.checked_mul(1_000_000_000).and_then(|w| w.checked_add(ns)).ok_or_else(too_long)?;
            return u64::try_from(total).map(|ns| Dur(SimDuration(ns))).map_err(|_| too_long());
        }
        if let Ok(v) = s.parse::<f64>() {
            if !v.is_finite() {
                return Err(format!("{s:?} is not a finite number of seconds"));
            }
            if v < 0.0 {
                return Err(format!("{s:?} is negative; a duration cannot be"));
            }
            if v * 1e9 >= u64::MAX as f64 {
                return Err(too_long());
            }
            return Ok(Dur(SimDuration::from_secs_f64(v)));
        }
        if s.starts_with('-') {
            return Err(format!("{s:?} is negative; a duration cannot be"));
        }
        s.parse::<Dur>().map_err(|e| {
            if e.contains("unknown unit") || e.contains("too long") {
                e
            } else {
                format!(
                    "{s:?} is neither a number of seconds (like 0.25) nor a duration with a unit (like 12ms or 1.5s)"
                )
            }
        })
    }
}

impl FromStr for Dur {
    type Err = String;

    fn from_str(text: &str) -> Result<Dur, String> {
        let s = text.trim();
        if s.is_empty() {
            return Err(format!("empty duration; expected {DURATION_HINT}"));
        }
        if s == "0" {
            return Ok(Dur(SimDuration::ZERO));
        }
        let mut total: u128 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_')).unwrap_or(rest.len());
            let number = &rest[..num_len];
            rest = &rest[num_len..];
            let detached = rest.starts_with(char::is_whitespace) && !number.is_empty();
            rest = rest.trim_start();
            let unit_len = rest.find(|c: char| !(c.is_alphabetic() || c == 'µ')).unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = rest[unit_len..].trim_start();
            let bad = || format!("invalid duration {text:?}; expected {DURATION_HINT}");
            if number.is_empty() {
                return Err(bad());
            }
            // `_` groups digits (1_000ms): only between two digits.
            let b = number.as_bytes();
            if (0..b.len()).any(|i| {
                b[i] == b'_' && !(i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
            }) {
                return Err(format!(
                    "duration {text:?}: `_` may only group digits (1_000ms), between two of them; expected {DURATION_HINT}"
                ));
            }
            let value: f64 = number.replace('_', "").parse().map_err(|_| bad())?;
            if detached && UNITS.iter().any(|(name, _)| *name == unit) {
                return Err(format!(
                    "duration {text:?} has a space between a number and its unit; write it as one word, e.g. \"5m\" or \"1m 30s\""
                ));
            }
            let scale = UNITS.iter().find(|(name, _)| *name == unit).map(|&(_, ns)| ns).ok_or_else(|| {
                if unit.is_empty() {
                    format!("duration {text:?} has no unit; expected {DURATION_HINT}")
                } else {
                    format!("unknown unit {unit:?} in duration {text:?}; expected {DURATION_HINT}")
                }
            })?;
            let ns = (value * scale as f64).round();
            if !ns.is_finite() || ns > u64::MAX as f64 {
                return Err(format!("duration {text:?} is too long (the limit is about 584 years)"));
            }
            total += ns as u128;
        }
        u64::try_from(total)
            .map(|ns| Dur(SimDuration(ns)))
            .map_err(|_| format!("duration {text:?} is too long (the limit is about 584 years)"))
    }
}

impl fmt::Display for Dur {
    /// The shortest exact form in one unit: "300ms", "5m", "1.5s".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.nanos();
        if ns == 0 {
            return f.write_str("0s");
        }
        let units: &[(&str, u64)] = if ns >= 1_000_000_000 {
            &[("d", 86_400_000_000_000), ("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000)]
        } else {
            &[("ms", 1_000_000), ("us", 1_000)]
        };
        for &(unit, scale) in units {
            if ns.is_multiple_of(scale) {
                return write!(f, "{}{unit}", ns / scale);
            }
        }
        if ns >= 1_000_000_000 {
            // Exact decimal seconds (at most 9 digits after the point).
            let s = format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000);
            return write!(f, "{}s", s.trim_end_matches('0'));
        }
        write!(f, "{ns}ns")
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(DURATION_HINT)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dur, E> {
                if v == 0 {
                    Ok(Dur(SimDuration::ZERO))
                } else {
                    Err(E::custom(format!(
                        "a bare number ({v}) is ambiguous as a duration; write it with a unit, e.g. \"{v}s\" or \"{v}ms\""
                    )))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                if v < 0 {
                    Err(E::custom(format!("a duration cannot be negative ({v})")))
                } else {
                    self.visit_u64(v as u64)
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "a bare number ({v}) is ambiguous as a duration; write it with a unit, e.g. \"{v}s\""
                )))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> u64 {
        s.parse::<Dur>().unwrap().nanos()
    }

    #[test]
    fn parses_what_people_write() {
        assert_eq!(ns("300ms"), 300_000_000);
        assert_eq!(ns("5m"), 300_000_000_000);
        assert_eq!(ns("1.5s"), 1_500_000_000);
        assert_eq!(ns("1h30m"), 5_400_000_000_000);
        assert_eq!(ns("1m 30s"), 90_000_000_000);
        assert_eq!(ns("1_000ms"), 1_000_000_000);
        assert_eq!(ns("250us"), 250_000);
        assert_eq!(ns("0"), 0);
        assert_eq!(ns("2d"), 172_800_000_000_000);
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in ["", "5", "5x", "ms", "-1s", "1e400s", "1000000d", "5 m", "20 ms", "_5s", "5_s", "1__0s", "1_.5s"] {
            assert!(bad.parse::<Dur>().is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn measured_values_are_seconds_or_durations() {
        let ns = |s: &str| Dur::parse_seconds(s).unwrap().nanos();
        assert_eq!(ns("0.25"), 250_000_000);
        assert_eq!(ns("12"), 12_000_000_000);
        assert_eq!(ns(".5"), 500_000_000);
        assert_eq!(ns("1700000000.123456789"), 1_700_000_000_123_456_789);
        assert_eq!(ns("0.0000000015"), 2);
        assert_eq!(ns("1.2e-3"), 1_200_000);
        assert_eq!(ns("12ms"), 12_000_000);
        assert_eq!(ns(" 1.5s "), 1_500_000_000);
        for bad in ["", ".", "-1", "-2ms", "abc", "5x", "inf", "NaN", "1.2.3", "99999999999999999999"] {
            assert!(Dur::parse_seconds(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(Dur::parse_seconds("5x").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn displays_the_shortest_exact_form_and_round_trips() {
        for (text, shown) in [
            ("300ms", "300ms"),
            ("300s", "5m"),
            ("1.5s", "1.5s"),
            ("90s", "90s"),
            ("0s", "0s"),
            ("1.000000001s", "1.000000001s"),
            ("7ns", "7ns"),
        ] {
            let d: Dur = text.parse().unwrap();
            assert_eq!(d.to_string(), shown);
            assert_eq!(shown.parse::<Dur>().unwrap(), d);
        }
    }
}
