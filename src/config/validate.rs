//! Checks that involve more than one field. Single values are checked as they
//! are read (see `Rate`, `Dur`, `Latency`), where the parser knows their
//! position; these checks name the field by dotted path instead, and the
//! loader finds its line in the file.

use super::duration::Dur;
use super::model::{ModelSpec, Phase};

/// A rule broken by a model: the dotted path of the field and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    /// Dotted path of the offending field, e.g. `workload.warmup`.
    pub path: String,
    /// What is wrong, and what would be right.
    pub message: String,
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid { path: path.into(), message: message.into() }
}

/// The smallest backoff bound a retry policy may have.
const MIN_BACKOFF: super::Dur = super::Dur::millis(1);

/// The most servers a model may have: each has its own cache and pool, and
/// more than this is a typo, not an architecture.
pub const MAX_SERVERS: u32 = 10_000;

/// Checks the rules that relate fields to each other, and the guards.
pub fn validate(m: &ModelSpec) -> Result<(), Invalid> {
    if m.servers.count.get() > MAX_SERVERS {
        return Err(invalid(
            "servers.count",
            format!("{} servers is more than the {MAX_SERVERS} a model may have", m.servers.count),
        ));
    }
    let w = &m.workload;
    if w.duration.is_zero() {
        return Err(invalid("workload.duration", "the duration must be above zero"));
    }
    if w.warmup >= w.duration {
        return Err(invalid(
            "workload.warmup",
            format!("the warm-up ({}) must be shorter than the duration ({})", w.warmup, w.duration),
        ));
    }
    let mut last = super::Dur::default();
    for (i, phase) in w.phases.iter().enumerate() {
        let (start, end) = match phase {
            Phase::Step { at, .. } => (*at, *at),
            Phase::Ramp { from, to, .. } => {
                if to <= from {
                    return Err(invalid(
                        format!("workload.phases[{i}]"),
                        format!("a ramp must end after it starts (from {from} to {to})"),
                    ));
                }
                (*from, *to)
            }
        };
        if start < last {
            return Err(invalid(
                format!("workload.phases[{i}]"),
                format!("phases must be in time order: this one starts at {start}, before {last}"),
            ));
        }
        last = end;
    }
    if let Some(rl) = &m.backend.rate_limit {
        let r = &rl.retry;
        if !(r.multiplier.is_finite() && r.multiplier >= 1.0) {
            return Err(invalid(
                "backend.rate_limit.retry.multiplier",
                format!("the backoff multiplier must be a finite number of at least 1, not {}", r.multiplier),
            ));
        }
        // A sleep under a millisecond never lets the bucket refill between
        // retries: the run would spin at one instant. Real clients sleep longer.
        for (field, value) in [("initial", r.initial), ("max_delay", r.max_delay)] {
            if value < MIN_BACKOFF {
                return Err(invalid(
                    format!("backend.rate_limit.retry.{field}"),
                    format!("a backoff bound of {value} is below the 1ms minimum (the defaults are 100ms and 60s)"),
                ));
            }
        }
    }
    if let Some(c) = &m.cache {
        let (beta, lease, ahead) = match c.refresh {
            super::Refresh::XFetch { beta, .. } => (Some(beta), None, None),
            super::Refresh::Lease { interval, retry, .. } => (None, Some((interval, retry)), None),
            super::Refresh::Background { ahead } => (None, None, Some(ahead)),
            _ => (None, None, None),
        };
        check_refresh("cache", c.ttl, c.ttl_jitter, beta, lease, ahead)?;
    }
    if let Some(r) = &m.redis {
        for (i, w) in r.outages.iter().enumerate() {
            if w.to <= w.from {
                return Err(invalid(
                    format!("redis.outages[{i}]"),
                    format!("an outage must end after it starts ({} to {})", w.from, w.to),
                ));
            }
        }
        if let Some(l) = &r.lock
            && l.sleep.nanos() < 1_000_000
        {
            return Err(invalid("redis.lock.sleep", "the lock's polling sleep must be at least 1ms"));
        }
        let (beta, lease, ahead) = match r.refresh {
            super::SharedRefresh::XFetch { beta } => (Some(beta), None, None),
            super::SharedRefresh::Lease { interval, retry, .. } => (None, Some((interval, retry)), None),
            super::SharedRefresh::Background { ahead } => (None, None, Some(ahead)),
            _ => (None, None, None),
        };
        check_refresh("redis", r.ttl, r.ttl_jitter, beta, lease, ahead)?;
        match r.refresh {
            super::SharedRefresh::Lease { .. } if r.lock.is_some() => {
                return Err(invalid(
                    "redis.refresh",
                    "leases and the lock both guard the refresh: keep one (remove `lock`, or set `refresh: None`)",
                ));
            }
            _ => {}
        }
    }
    for (i, f) in m.backend.faults.iter().enumerate() {
        let (from, to) = f.window();
        if to <= from {
            return Err(invalid(
                format!("backend.faults[{i}]"),
                format!("a fault must end after it starts ({from} to {to})"),
            ));
        }
        if let super::Fault::Slow { factor, .. } = f
            && !(factor.is_finite() && *factor > 0.0)
        {
            return Err(invalid(
                format!("backend.faults[{i}]"),
                format!("a slow-down factor must be above 0, not {factor}"),
            ));
        }
    }
    if let Some(r) = m.servers.restarts.iter().find(|r| r.server >= m.servers.count.get()) {
        return Err(invalid(
            "servers.restarts",
            format!("server {} does not exist (servers are 0 to {})", r.server, m.servers.count.get() - 1),
        ));
    }
    if let Some(c) = &w.closed {
        if c.users.get() > 1_000_000 {
            return Err(invalid("workload.closed.users", "at most 1,000,000 users"));
        }
        // A user with no pause whose request fails at once would loop at
        // one instant forever.
        if c.think.mean_secs() <= 0.0 {
            return Err(invalid("workload.closed.think", "a closed loop needs a think time above zero"));
        }
    }
    if let Some(c) = &m.client_limit {
        if c.per.is_zero() {
            return Err(invalid("client_limit.per", "the window must be above zero"));
        }
        if !(c.zipf.is_finite() && c.zipf >= 0.0) || c.users.get() > 10_000_000 {
            return Err(invalid("client_limit.users", "at most 10,000,000 users, with a Zipf exponent of at least 0"));
        }
    }
    if let Some(c) = &m.cdn {
        validate_cdn(c)?;
    }
    if let Some(db) = &m.db {
        validate_db(db)?;
    }
    if let Some(r) = &m.response_cache {
        if r.keys == 0 || r.keys > 10_000_000 {
            return Err(invalid("response_cache.keys", format!("between 1 and 10,000,000 keys, not {}", r.keys)));
        }
        if !(r.zipf.is_finite() && r.zipf >= 0.0) {
            return Err(invalid(
                "response_cache.zipf",
                format!("the Zipf exponent must be at least 0, not {}", r.zipf),
            ));
        }
    }
    let units = u64::from(m.servers.count.get()) * u64::from(m.servers.workers.get());
    if units > u64::from(MAX_SERVERS) {
        return Err(invalid(
            "servers.workers",
            format!("{units} worker processes in all is more than the {MAX_SERVERS} a model may have"),
        ));
    }
    if let Some(super::Writes::Every(period)) = &m.backend.writes
        && period.nanos() < 1_000_000
    {
        return Err(invalid("backend.writes", "writes at most every 1ms"));
    }
    let prices = std::iter::once(("per_server".to_string(), m.cost.per_server)).chain(m.cost.parts.iter().cloned());
    for (part, price) in prices {
        if !(price.is_finite() && price >= 0.0) {
            return Err(invalid(
                "cost",
                format!("the price of `{part}` must be a finite number of dollars, at least 0, not {price}"),
            ));
        }
    }
    if let Some(db) = &m.db
        && db.pool_size == 0
        && db.max_overflow == 0
    {
        return Err(invalid(
            "db.pool_size",
            "a pool of 0 + 0 connections can run no query; set pool_size or max_overflow above zero",
        ));
    }
    Ok(())
}

fn validate_cdn(c: &super::Cdn) -> Result<(), Invalid> {
    if c.pops == 0 || c.pops > 10_000 {
        return Err(invalid("cdn.pops", format!("between 1 and 10,000 PoPs, not {}", c.pops)));
    }
    match &c.spread {
        super::Spread::Even => {}
        super::Spread::Zipf(s) if s.is_finite() && *s >= 0.0 => {}
        super::Spread::Zipf(s) => {
            return Err(invalid("cdn.spread", format!("the Zipf exponent must be at least 0, not {s}")));
        }
        super::Spread::Shares(v) => {
            if v.len() != c.pops as usize {
                return Err(invalid(
                    "cdn.spread",
                    format!("{} shares for {} PoPs: give one share per PoP", v.len(), c.pops),
                ));
            }
            if v.iter().any(|w| !(w.is_finite() && *w >= 0.0)) || v.iter().sum::<f64>() <= 0.0 {
                return Err(invalid("cdn.spread", "shares must be finite, at least 0, and not all 0"));
            }
        }
    }
    Ok(())
}

fn validate_db(db: &super::Pool) -> Result<(), Invalid> {
    if db.reserved_connections >= db.max_connections {
        return Err(invalid(
            "db.max_connections",
            format!(
                "max_connections ({}) must exceed the reserved connections ({})",
                db.max_connections, db.reserved_connections
            ),
        ));
    }
    let usable = db.max_connections.saturating_sub(db.reserved_connections);
    if let Some(b) = &db.pgbouncer {
        if b.default_pool_size == 0 || b.default_pool_size > usable {
            return Err(invalid(
                "db.pgbouncer.default_pool_size",
                format!(
                    "between 1 and the database's {usable} usable connections (max_connections less reserved), not {}",
                    b.default_pool_size
                ),
            ));
        }
        if b.max_client_conn == 0 {
            return Err(invalid("db.pgbouncer.max_client_conn", "PgBouncer must accept at least 1 client connection"));
        }
    }
    if let Some(r) = &db.replicas {
        if r.count == 0 || r.count > 64 {
            return Err(invalid("db.replicas.count", format!("between 1 and 64 replicas, not {}", r.count)));
        }
        if !(0.0..=1.0).contains(&r.read_share) {
            return Err(invalid("db.replicas.read_share", format!("a share between 0 and 1, not {}", r.read_share)));
        }
    }
    if let Some(super::Writes::Every(period)) = &db.writes
        && period.nanos() < 1_000_000
    {
        return Err(invalid("db.writes", "writes at most every 1ms"));
    }
    Ok(())
}

/// The checks the workers' cache and Redis share: `section`'s TTL jitter,
/// and its refresh policy's XFetch beta, lease timings or background lead.
fn check_refresh(
    section: &str,
    ttl: Dur,
    jitter: f64,
    beta: Option<f64>,
    lease: Option<(Dur, Dur)>,
    ahead: Option<Dur>,
) -> Result<(), Invalid> {
    if !(jitter.is_finite() && (0.0..1.0).contains(&jitter)) {
        return Err(invalid(
            format!("{section}.ttl_jitter"),
            format!("the TTL jitter is a fraction from 0 to below 1, not {jitter}"),
        ));
    }
    let refresh = format!("{section}.refresh");
    if let Some(beta) = beta.filter(|b| !(b.is_finite() && *b > 0.0)) {
        return Err(invalid(refresh, format!("XFetch's beta must be a finite number above 0, not {beta}")));
    }
    if let Some((interval, retry)) = lease.filter(|(i, r)| i.is_zero() || r.nanos() < 1_000_000) {
        return Err(invalid(
            refresh,
            format!("a lease needs an interval above 0 and a retry of at least 1ms (got {interval} and {retry})"),
        ));
    }
    // The shortest TTL a fill may draw, jitter included.
    let shortest = Dur(crate::engine::SimDuration::from_secs_f64(ttl.0.as_secs_f64() * (1.0 - jitter)));
    if let Some(ahead) = ahead.filter(|a| *a >= shortest) {
        return Err(invalid(
            refresh,
            format!(
                "a background refresh {ahead} ahead of a TTL that can be as short as {shortest} would refresh continuously"
            ),
        ));
    }
    Ok(())
}
