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
    /// Other fields the broken rule relates `path` to (e.g. `db.max_overflow`
    /// for a pool that is too big in all), so that a `--set` of one of them
    /// can be named as the cause.
    pub involves: Vec<String>,
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid { path: path.into(), message: message.into(), involves: Vec::new() }
}

impl Invalid {
    /// Names the other fields the rule relates this one to.
    fn involving(mut self, paths: &[&str]) -> Invalid {
        self.involves = paths.iter().map(|p| p.to_string()).collect();
        self
    }
}

/// `n` with thousands separators: 1,000,000.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Checks that the count at `path` is between `min` and `max` (inclusive):
/// "between 1 and 10,000 servers, not 20000". `unit` may carry a
/// parenthesised reason after the unit.
fn in_range(path: &str, value: u64, min: u64, max: u64, unit: &str) -> Result<(), Invalid> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    Err(invalid(path, format!("between {} and {} {unit}, not {value}", grouped(min), grouped(max))))
}

/// The token bucket's resolution: rates count in thousandths of a token
/// per second (docs/models.md, `backend.rate_limit.rate`).
pub const MIN_BUCKET_RATE: f64 = 0.001;

/// The fastest token bucket, tokens per second.
pub const MAX_BUCKET_RATE: f64 = 1e9;

/// The smallest backoff bound a retry policy may have.
const MIN_BACKOFF: super::Dur = super::Dur::millis(1);

/// The most servers a model may have: each has its own cache and pool, and
/// more than this is a typo, not an architecture.
pub const MAX_SERVERS: u32 = 10_000;

/// The most worker processes in all (`servers.count × servers.workers`):
/// each is a unit with its own cache, pools and timers, kept in memory.
pub const MAX_WORKERS: u32 = 10_000;

/// The most requests one worker may work on at once (`servers.concurrency`);
/// more than the in-flight memory guard (5,000,000 in all) could never fill.
pub const MAX_CONCURRENCY: u32 = 1_000_000;

/// The most connections one QueuePool may have (`pool_size + max_overflow`):
/// far past any real pool, and small enough that the sum and every count of
/// connections fit a `u32`.
pub const MAX_POOL_CONNECTIONS: u32 = 1_000_000;

/// The most `db.max_connections`: PostgreSQL's `MAX_BACKENDS` (2^18 − 1).
pub const MAX_DB_CONNECTIONS: u32 = 262_143;

/// The most client connections PgBouncer may accept (`max_client_conn`),
/// far past what its file descriptors allow in practice.
pub const MAX_CLIENT_CONN: u32 = 1_000_000;

/// The most read replicas (`db.replicas.count`); each worker keeps a pool per node.
pub const MAX_REPLICAS: u32 = 64;

/// The most CDN points of presence (`cdn.pops`); each is a cache in memory.
pub const MAX_POPS: u32 = 10_000;

/// The most retries a client makes (`workload.client.retries`).
pub const MAX_CLIENT_RETRIES: u32 = 100;
/// The most closed-loop users (`workload.closed.users`): each has a timer
/// from the start.
pub const MAX_USERS: u32 = 1_000_000;

/// The most rate-limited users (`client_limit.users`): their Zipf table is
/// kept in memory (8 bytes each).
pub const MAX_LIMIT_USERS: u32 = 10_000_000;

/// The most response-cache keys (`response_cache.keys`): their Zipf table
/// is kept in memory (8 bytes each).
pub const MAX_KEYS: u32 = 10_000_000;

/// A trace replays its instants as recorded: nothing else may shape them.
fn validate_trace(w: &super::Workload, speed: f64) -> Result<(), Invalid> {
    if !(speed.is_finite() && speed > 0.0) {
        return Err(invalid(
            "workload.arrivals.rate",
            format!("a trace's speed-up must be a finite number above zero (2 plays it twice as fast), not {speed}"),
        ));
    }
    if !w.phases.is_empty() {
        return Err(invalid(
            "workload.phases",
            "phases do not apply to a trace, whose instants are replayed as recorded; speed it up with workload.arrivals.rate",
        )
        .involving(&["workload.arrivals"]));
    }
    if w.closed.is_some() {
        return Err(invalid("workload.closed", "a closed loop makes its own arrivals; it cannot replay a trace")
            .involving(&["workload.arrivals"]));
    }
    Ok(())
}

/// Checks the rules that relate fields to each other, and the guards.
pub fn validate(m: &ModelSpec) -> Result<(), Invalid> {
    validate_servers(&m.servers)?;
    in_range("backend.payload_bytes", m.backend.payload_bytes, 0, MAX_PAYLOAD_BYTES, "bytes")?;
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
    if let super::Arrivals::Trace { rate, .. } = &w.arrivals {
        validate_trace(w, *rate)?;
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
        // The bucket counts in integer thousandths of a token per second.
        if !(MIN_BUCKET_RATE..=MAX_BUCKET_RATE).contains(&rl.rate.0) {
            return Err(invalid(
                "backend.rate_limit.rate",
                format!(
                    "a token bucket's rate is between 0.001 (its resolution) and 1e9 tokens per second, e.g. 10, not {}",
                    rl.rate.0
                ),
            ));
        }
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
        in_range("redis.max_connections", r.max_connections.into(), 1, 1 << 31, "connections per process")?;
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
        in_range("workload.closed.users", c.users.get().into(), 1, MAX_USERS.into(), "users")?;
        // A user with no pause whose request fails at once would loop at
        // one instant forever.
        if c.think.mean_secs() <= 0.0 {
            return Err(invalid("workload.closed.think", "a closed loop needs a think time above zero"));
        }
    }
    if let Some(c) = &w.client {
        if w.closed.is_some() || m.cdn.is_some() {
            return Err(invalid(
                "workload.client",
                "client retries apply to open arrivals straight to the service: not with `closed` or a `cdn`",
            ));
        }
        if c.timeout.is_zero() {
            return Err(invalid("workload.client.timeout", "the client's timeout must be above zero"));
        }
        in_range("workload.client.retries", c.retries.into(), 0, MAX_CLIENT_RETRIES.into(), "retries")?;
        if !(c.multiplier.is_finite() && (1.0..=100.0).contains(&c.multiplier)) {
            return Err(invalid(
                "workload.client.multiplier",
                format!("the backoff multiplier must be between 1 and 100, not {}", c.multiplier),
            ));
        }
    }
    if let Some(c) = &m.client_limit {
        if c.per.is_zero() {
            return Err(invalid("client_limit.per", "the window must be above zero"));
        }
        in_range("client_limit.users", c.users.get().into(), 1, MAX_LIMIT_USERS.into(), "users")?;
        if !(c.zipf.is_finite() && c.zipf >= 0.0) {
            return Err(invalid("client_limit.zipf", format!("the Zipf exponent must be at least 0, not {}", c.zipf)));
        }
    }
    if let Some(c) = &m.cdn {
        validate_cdn(c)?;
    }
    if let Some(db) = &m.db {
        validate_db(db)?;
    }
    if let Some(r) = &m.response_cache {
        in_range("response_cache.keys", r.keys.into(), 1, MAX_KEYS.into(), "keys")?;
        if !(r.zipf.is_finite() && r.zipf >= 0.0) {
            return Err(invalid(
                "response_cache.zipf",
                format!("the Zipf exponent must be at least 0, not {}", r.zipf),
            ));
        }
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
    Ok(())
}

/// Servers, worker processes in all, and each worker's concurrency.
fn validate_servers(s: &super::Servers) -> Result<(), Invalid> {
    let (count, workers) = (s.count.get(), s.workers.get());
    in_range("servers.count", count.into(), 1, MAX_SERVERS.into(), "servers")?;
    in_range("servers.workers", workers.into(), 1, MAX_WORKERS.into(), "worker processes per server")?;
    if count.checked_mul(workers).is_none_or(|units| units > MAX_WORKERS) {
        return Err(invalid(
            "servers.workers",
            format!(
                "between 1 and {} worker processes in all (servers.count × servers.workers), not {count} × {workers} = {}",
                grouped(MAX_WORKERS.into()),
                u64::from(count) * u64::from(workers)
            ),
        )
        .involving(&["servers.count"]));
    }
    if let Some(c) = s.concurrency {
        in_range("servers.concurrency", c.get().into(), 1, MAX_CONCURRENCY.into(), "requests at once per worker")?;
    }
    if let Some(c) = s.cores {
        in_range("servers.cores", c.get().into(), 1, MAX_WORKERS.into(), "cores per server")?;
    }
    if let Some(gc) = &s.gc {
        match gc.every {
            super::GcEvery::Requests(0) => {
                return Err(invalid("servers.gc.every", "Requests(N) needs N of at least 1, e.g. Requests(1000)"));
            }
            super::GcEvery::Interval(d) if d < MIN_GC_INTERVAL => {
                return Err(invalid(
                    "servers.gc.every",
                    format!(
                        "Interval must be at least {MIN_GC_INTERVAL} (CPython collects every few seconds), not {d}"
                    ),
                ));
            }
            _ => {}
        }
    }
    if let Some(bytes) = s.response_bytes {
        in_range("servers.response_bytes", bytes, 0, MAX_PAYLOAD_BYTES, "bytes")?;
    }
    if let super::Codec::Rates { dumps, loads } = s.json {
        for (field, rate) in [("dumps", dumps), ("loads", loads)] {
            if !(rate.is_finite() && (MIN_CODEC_RATE..=MAX_CODEC_RATE).contains(&rate)) {
                return Err(invalid(
                    "servers.json",
                    format!(
                        "`{field}` is bytes per CPU second, between {MIN_CODEC_RATE:e} and {MAX_CODEC_RATE:e} \
                         (CPython's json: about 4e7), not {rate}"
                    ),
                ));
            }
        }
    }
    if let Some(m) = s.memory {
        in_range("servers.memory.process_bytes", m.process_bytes, 0, MAX_MEMORY_BYTES, "bytes")?;
        if !(m.parsed_factor.is_finite() && (0.0..=100.0).contains(&m.parsed_factor)) {
            return Err(invalid(
                "servers.memory.parsed_factor",
                format!(
                    "bytes of objects per byte of JSON, from 0 to 100 (CPython: about 2.8), not {}",
                    m.parsed_factor
                ),
            ));
        }
        if let Some(limit) = m.limit_bytes {
            in_range("servers.memory.limit_bytes", limit, 1, MAX_MEMORY_BYTES, "bytes")?;
            let idle = m.process_bytes.saturating_mul(u64::from(s.workers.get()));
            if limit < idle {
                return Err(invalid(
                    "servers.memory.limit_bytes",
                    format!(
                        "must be at least the idle processes' {idle} bytes ({} workers × process_bytes {}), not {limit}",
                        s.workers, m.process_bytes
                    ),
                )
                .involving(&["servers.memory.process_bytes", "servers.workers"]));
            }
        }
    }
    if let Some(l) = s.link
        && !(l.bytes_per_s.is_finite() && (MIN_LINK_RATE..=MAX_LINK_RATE).contains(&l.bytes_per_s))
    {
        return Err(invalid(
            "servers.link.bytes_per_s",
            format!(
                "bytes per second, between {MIN_LINK_RATE:e} and {MAX_LINK_RATE:e} (1 Gbit/s is 125e6), not {}",
                l.bytes_per_s
            ),
        ));
    }
    Ok(())
}

/// The most memory a process or server may declare: 1 TiB.
const MAX_MEMORY_BYTES: u64 = 1 << 40;

/// A link's rate, bytes per second: from 1 kB/s (a modem's order) to
/// 1 TB/s (past any interface).
const MIN_LINK_RATE: f64 = 1e3;
const MAX_LINK_RATE: f64 = 1e12;

/// The shortest interval between a process's garbage-collection pauses.
const MIN_GC_INTERVAL: super::Dur = super::Dur::millis(1);

/// The largest payload or response a model may declare: 1 GiB.
pub const MAX_PAYLOAD_BYTES: u64 = 1 << 30;

/// A codec's rates, bytes per CPU second: from 1 kB/s (absurdly slow, but
/// finite times) to 1 TB/s (faster than memory).
const MIN_CODEC_RATE: f64 = 1e3;
const MAX_CODEC_RATE: f64 = 1e12;

/// The QueuePool's size: `pool_size + max_overflow` connections, at least 1
/// and at most [`MAX_POOL_CONNECTIONS`], each part checked before the sum
/// so that the sum cannot overflow.
fn validate_pool_size(db: &super::Pool) -> Result<(), Invalid> {
    let most = grouped(MAX_POOL_CONNECTIONS.into());
    for (field, value) in [("pool_size", db.pool_size), ("max_overflow", db.max_overflow)] {
        in_range(
            &format!("db.{field}"),
            value.into(),
            0,
            MAX_POOL_CONNECTIONS.into(),
            &format!("connections (pool_size + max_overflow is at most {most})"),
        )?;
    }
    let total = db.pool_size.checked_add(db.max_overflow);
    if total.is_some_and(|t| (1..=MAX_POOL_CONNECTIONS).contains(&t)) {
        return Ok(());
    }
    // Blame the bigger part: the likelier typo.
    let (path, other) = if db.pool_size >= db.max_overflow {
        ("db.pool_size", "db.max_overflow")
    } else {
        ("db.max_overflow", "db.pool_size")
    };
    let sum = u64::from(db.pool_size) + u64::from(db.max_overflow);
    let message = if sum == 0 {
        format!(
            "a pool of 0 + 0 connections can run no query; set pool_size or max_overflow above zero \
             (pool_size + max_overflow must be between 1 and {most})"
        )
    } else {
        format!(
            "pool_size + max_overflow must be between 1 and {most} connections, not {} + {} = {sum}",
            db.pool_size, db.max_overflow
        )
    };
    Err(invalid(path, message).involving(&[other]))
}

fn validate_cdn(c: &super::Cdn) -> Result<(), Invalid> {
    in_range("cdn.pops", c.pops.into(), 1, MAX_POPS.into(), "PoPs")?;
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
    validate_pool_size(db)?;
    in_range(
        "db.max_connections",
        db.max_connections.into(),
        1,
        MAX_DB_CONNECTIONS.into(),
        "connections (PostgreSQL's MAX_BACKENDS)",
    )?;
    if db.reserved_connections >= db.max_connections {
        return Err(invalid(
            "db.reserved_connections",
            format!(
                "between 0 and {} connections (less than max_connections, {}), not {}",
                db.max_connections - 1,
                db.max_connections,
                db.reserved_connections
            ),
        )
        .involving(&["db.max_connections"]));
    }
    let usable = db.max_connections - db.reserved_connections;
    if let Some(b) = &db.pgbouncer {
        if b.default_pool_size == 0 || b.default_pool_size > usable {
            return Err(invalid(
                "db.pgbouncer.default_pool_size",
                format!(
                    "between 1 and the database's {usable} usable connections (max_connections less reserved), not {}",
                    b.default_pool_size
                ),
            )
            .involving(&["db.max_connections", "db.reserved_connections"]));
        }
        in_range(
            "db.pgbouncer.max_client_conn",
            b.max_client_conn.into(),
            1,
            MAX_CLIENT_CONN.into(),
            "client connections",
        )?;
    }
    if let Some(r) = &db.replicas {
        in_range("db.replicas.count", r.count.into(), 1, MAX_REPLICAS.into(), "replicas")?;
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
