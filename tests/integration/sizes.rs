//! Sizes that wrap: every count a model gives (pool sizes, database
//! connections, PgBouncer, servers × workers, concurrency, replicas, PoPs,
//! closed-loop users, rate-limited users, response-cache keys) is checked
//! against a documented range when the model loads. A value outside it is a
//! load error, exit code 2, naming the field, its line and column (or the
//! `--set` that gave it) and the allowed range: never a panic, a wrapped
//! sum (4294967290 + 10 = a 4-connection pool) or a silent clamp.

use cachesim::config::{ConfigError, ModelSpec, parse_model};
use cachesim::sim::{RunOptions, simulate};

use crate::support::{assert_rejected, line_of, position, run_cli, run_model_text};

/// A small model with `extra` (sections or `db` fields) spliced in; every
/// inserted field is on a line of its own, so tests can find its line.
fn model_text(servers: &str, extra: &str) -> String {
    format!(
        "Model(\n    workload: (rate: 5, duration: \"2s\"),\n    servers: ({servers}),\n    backend: (latency: Constant(\"10ms\")),\n{extra})\n"
    )
}

/// A model whose `db` section has `fields` (one per line).
fn db_model(fields: &str) -> String {
    model_text("", &format!("    db: (\n        query: Constant(\"1ms\"),\n{fields}    ),\n"))
}

/// Runs `src` from a file and asserts a located load error: exit code 2,
/// no panic, nothing on stdout, stderr naming `field` at the line holding
/// `marker` (the column of the field's name), and containing every one of
/// `says` (the allowed range, the value found). Returns stderr.
fn assert_located(src: &str, field: &str, marker: &str, says: &[&str]) -> String {
    let (out, path, _dir) = run_model_text("sizes.ron", src, &[]);
    let stderr = assert_rejected(&out, field);
    let (line, col) = position(&stderr, &path.display().to_string());
    let expected_line = line_of(src, marker);
    let text = src.lines().nth(expected_line - 1).expect("marker line");
    let name = field.rsplit('.').next().expect("a field name");
    let expected_col = text.find(&format!("{name}:")).expect("the field on its marker line") + 1;
    assert_eq!((line, col), (expected_line, expected_col), "reported at the wrong place:\n{stderr}");
    for s in says {
        assert!(stderr.contains(s), "stderr does not say {s:?}:\n{stderr}");
    }
    stderr
}

/// The library's error for `src`: a positioned `ConfigError`.
fn load_error(src: &str) -> ConfigError {
    match parse_model(src, "sizes.ron", "sizes") {
        Ok(_) => panic!("loaded, but should have been refused:\n{src}"),
        Err(e) => e,
    }
}

/// `src` loads (panics with the error otherwise).
fn loads(src: &str) -> ModelSpec {
    parse_model(src, "sizes.ron", "sizes").unwrap_or_else(|e| panic!("does not load:\n{e}\n{src}"))
}

/// The issue's first case: `pool_size: 4294967290, max_overflow: 10` used to
/// wrap to a 4-connection pool (release) or panic (debug). Now a load error
/// at `pool_size`'s line and column, naming the range and the value; the
/// library reports the same position.
#[test]
fn pool_size_4294967290_with_overflow_10_is_a_located_error_with_the_range() {
    let src = db_model("        pool_size: 4294967290,\n        max_overflow: 10,\n");
    assert_located(
        &src,
        "db.pool_size",
        "pool_size:",
        &["between 0 and 1,000,000 connections", "pool_size + max_overflow is at most 1,000,000", "not 4294967290"],
    );
    let e = load_error(&src);
    assert_eq!(e.position, Some((line_of(&src, "pool_size:"), 9)), "{e}");
    assert!(e.message.starts_with("db.pool_size: between 0 and 1,000,000"), "{e}");
}

/// The issue's second case: `pool_size: 4294967295, max_overflow: 1` used
/// to give a 0-connection pool and exit 0. Now exit code 2 at `pool_size`.
#[test]
fn pool_size_4294967295_with_overflow_1_is_a_located_error_not_an_empty_pool() {
    let src = db_model("        pool_size: 4294967295,\n        max_overflow: 1,\n");
    assert_located(&src, "db.pool_size", "pool_size:", &["between 0 and 1,000,000 connections", "not 4294967295"]);
}

/// Each part within range but the sum past it: the error names the sum,
/// its range, and is placed at the bigger part (the likelier typo).
#[test]
fn pool_size_plus_max_overflow_past_a_million_is_reported_at_the_bigger_part() {
    let src = db_model("        pool_size: 500000,\n        max_overflow: 500001,\n");
    assert_located(
        &src,
        "db.max_overflow",
        "max_overflow:",
        &["pool_size + max_overflow must be between 1 and 1,000,000 connections", "not 500000 + 500001 = 1000001"],
    );
}

/// The same sizes given by `--set` are refused as well, and the error names
/// the override that gave the value (as other override errors do) with the
/// range, whether one or both parts come from `--set`.
#[test]
fn oversized_pools_from_set_name_the_override_and_the_range() {
    let reference = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed/reference.ron");
    let out = run_cli(&reference, &["--set", "db.pool_size=4294967290"]);
    let stderr = assert_rejected(&out, "--set db.pool_size=4294967290: db.pool_size: between 0 and 1,000,000");
    assert!(stderr.contains("not 4294967290"), "{stderr}");

    let out = run_cli(&reference, &["--set", "db.pool_size=4294967295", "--set", "db.max_overflow=1"]);
    let stderr = assert_rejected(&out, "--set db.pool_size=4294967295: db.pool_size: between 0 and 1,000,000");
    assert!(stderr.contains("not 4294967295"), "{stderr}");

    // The sum past the bound, the bigger part from the file: the override
    // of the other part is named, as the one that broke the rule.
    let out = run_cli(&reference, &["--set", "db.pool_size=999995"]);
    let stderr = assert_rejected(&out, "--set db.pool_size=999995: db.pool_size: pool_size + max_overflow");
    assert!(stderr.contains("not 999995 + 10 = 1000005"), "{stderr}");

    // A whole section given by `--set` is named too.
    let out = run_cli(&reference, &["--set", r#"db=(query: Constant("1ms"), max_overflow: 4294967295)"#]);
    assert_rejected(&out, "--set db=(query: Constant(\"1ms\"), max_overflow: 4294967295): db.max_overflow: between 0");
}

/// `servers.count × servers.workers` is at most 10,000 worker processes:
/// a product past it (checked without overflow, even for 4294967295 ×
/// 4294967295) is refused at `workers`, with the product and the range.
#[test]
fn servers_times_workers_past_ten_thousand_is_a_located_error_with_the_product() {
    let src = model_text("\n        count: 100,\n        workers: 101,\n    ", "");
    assert_located(
        &src,
        "servers.workers",
        "workers:",
        &["between 1 and 10,000 worker processes in all", "not 100 × 101 = 10100"],
    );
    let src = model_text("\n        count: 10000,\n        workers: 4294967295,\n    ", "");
    assert_located(&src, "servers.workers", "workers:", &["between 1 and 10,000 worker processes per server"]);
    let src = model_text("\n        count: 4294967295,\n        workers: 4294967295,\n    ", "");
    assert_located(&src, "servers.count", "count:", &["between 1 and 10,000 servers, not 4294967295"]);
    // From `--set`: the override that made the product too big is named.
    let reference = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/seed/reference.ron");
    let out = run_cli(&reference, &["--set", "servers.workers=5000", "--set", "servers.count=3"]);
    assert_rejected(&out, "--set servers.workers=5000: servers.workers: between 1 and 10,000 worker processes in all");
}

/// A huge replica count is a located error with the 1 to 64 range.
#[test]
fn huge_replica_count_is_a_located_error_with_the_range() {
    let src = db_model("        replicas: (\n            count: 4294967295,\n        ),\n");
    assert_located(&src, "db.replicas.count", "count:", &["between 1 and 64 replicas, not 4294967295"]);
}

/// A huge closed-loop user count is a located error with its range (each
/// user has a timer from the start, so it must stay bounded).
#[test]
fn huge_closed_loop_user_count_is_a_located_error_with_the_range() {
    let src = "Model(\n    workload: (rate: 5, duration: \"2s\", closed: (\n        users: 4294967295,\n        think: Constant(\"1s\"),\n    )),\n    backend: (latency: Constant(\"10ms\")),\n)\n";
    assert_located(src, "workload.closed.users", "users:", &["between 1 and 1,000,000 users, not 4294967295"]);
}

/// A huge response-cache key count (the dataset's size) is a located error
/// with its range.
#[test]
fn huge_response_cache_key_count_is_a_located_error_with_the_range() {
    let src = model_text("", "    response_cache: (\n        keys: 4294967295,\n    ),\n");
    assert_located(&src, "response_cache.keys", "keys:", &["between 1 and 10,000,000 keys, not 4294967295"]);
}

/// Every other count past its bound is a located load error with its range:
/// database connections, reserved slots, PgBouncer's client connections and
/// pool, per-worker concurrency, PoPs and rate-limited users.
#[test]
fn every_other_oversized_count_is_a_located_error_with_the_range() {
    let cases = [
        (
            db_model("        max_connections: 4294967295,\n"),
            "db.max_connections",
            "max_connections:",
            "between 1 and 262,143 connections (PostgreSQL's MAX_BACKENDS), not 4294967295",
        ),
        (
            db_model("        max_connections: 262144,\n"),
            "db.max_connections",
            "max_connections:",
            "between 1 and 262,143 connections",
        ),
        (
            db_model("        reserved_connections: 4294967295,\n"),
            "db.reserved_connections",
            "reserved_connections:",
            "between 0 and 99 connections (less than max_connections, 100), not 4294967295",
        ),
        (
            db_model("        pgbouncer: (\n            max_client_conn: 4294967295,\n        ),\n"),
            "db.pgbouncer.max_client_conn",
            "max_client_conn:",
            "between 1 and 1,000,000 client connections, not 4294967295",
        ),
        (
            db_model("        pgbouncer: (\n            default_pool_size: 4294967295,\n        ),\n"),
            "db.pgbouncer.default_pool_size",
            "default_pool_size:",
            "between 1 and the database's 97 usable connections",
        ),
        (
            model_text("\n        concurrency: 4294967295,\n    ", ""),
            "servers.concurrency",
            "concurrency:",
            "between 1 and 1,000,000 requests at once per worker, not 4294967295",
        ),
        (
            model_text("", "    cdn: (\n        pops: 4294967295,\n    ),\n"),
            "cdn.pops",
            "pops:",
            "between 1 and 10,000 PoPs, not 4294967295",
        ),
        (
            model_text("", "    client_limit: (limit: 10, per: \"1m\",\n        users: 4294967295,\n    ),\n"),
            "client_limit.users",
            "users:",
            "between 1 and 10,000,000 users, not 4294967295",
        ),
    ];
    for (src, field, marker, range) in cases {
        assert_located(&src, field, marker, &[range]);
    }
}

/// The largest allowed value of each bounded count still loads (and the
/// ones that build parts of the simulation still run), and one more is
/// refused: the bounds are inclusive and off by none.
#[test]
fn the_largest_allowed_sizes_load_and_one_more_is_refused() {
    let cases = [
        // (model at the bound, the same one past it, whether to run it)
        (
            db_model("        pool_size: 999990,\n        max_overflow: 10,\n"),
            db_model("        pool_size: 999991,\n        max_overflow: 10,\n"),
            true,
        ),
        (db_model("        pool_size: 1000000,\n        max_overflow: 0,\n"), db_model("        pool_size: 1000001,\n        max_overflow: 0,\n"), true),
        (
            db_model("        max_connections: 262143,\n        reserved_connections: 262142,\n"),
            db_model("        max_connections: 262144,\n        reserved_connections: 262142,\n"),
            true,
        ),
        (
            db_model("        pgbouncer: (\n            max_client_conn: 1000000,\n        ),\n"),
            db_model("        pgbouncer: (\n            max_client_conn: 1000001,\n        ),\n"),
            true,
        ),
        (
            db_model("        replicas: (\n            count: 64,\n        ),\n"),
            db_model("        replicas: (\n            count: 65,\n        ),\n"),
            true,
        ),
        (
            model_text("\n        count: 100,\n        workers: 100,\n    ", ""),
            model_text("\n        count: 100,\n        workers: 101,\n    ", ""),
            true,
        ),
        (
            model_text("\n        count: 10000,\n    ", ""),
            model_text("\n        count: 10001,\n    ", ""),
            true,
        ),
        (
            model_text("\n        concurrency: 1000000,\n    ", ""),
            model_text("\n        concurrency: 1000001,\n    ", ""),
            true,
        ),
        (
            model_text("", "    cdn: (\n        pops: 10000,\n    ),\n"),
            model_text("", "    cdn: (\n        pops: 10001,\n    ),\n"),
            true,
        ),
        (
            "Model(workload: (rate: 5, duration: \"2s\", closed: (users: 1000000, think: Constant(\"1h\"))), backend: (latency: Constant(\"10ms\")))".to_string(),
            "Model(workload: (rate: 5, duration: \"2s\", closed: (users: 1000001, think: Constant(\"1h\"))), backend: (latency: Constant(\"10ms\")))".to_string(),
            true,
        ),
        (
            model_text("", "    response_cache: (\n        keys: 10000000,\n    ),\n"),
            model_text("", "    response_cache: (\n        keys: 10000001,\n    ),\n"),
            false,
        ),
        (
            model_text("", "    client_limit: (limit: 10, per: \"1m\", users: 10000000),\n"),
            model_text("", "    client_limit: (limit: 10, per: \"1m\", users: 10000001),\n"),
            false,
        ),
    ];
    for (at_bound, past, run) in cases {
        let spec = loads(&at_bound);
        if run {
            let r = simulate(&spec, 1, 0, RunOptions::default());
            let q = &r.requests;
            assert_eq!(q.arrived, q.ok + q.failed + q.in_flight_at_end, "conservation at the bound:\n{at_bound}");
        }
        let e = load_error(&past);
        assert!(e.position.is_some(), "no line and column: {e}");
        assert!(e.message.contains("between"), "no range: {e}");
    }
    // At the bound the pool really has all its connections: nothing wraps.
    let spec = loads(&db_model("        pool_size: 999990,\n        max_overflow: 10,\n"));
    let db = spec.db.expect("db");
    assert_eq!(u64::from(db.pool_size) + u64::from(db.max_overflow), u64::from(cachesim::config::MAX_POOL_CONNECTIONS));
}

/// A count past what a `u32` holds, or a negative one, is refused by the
/// parser at its value, saying it is out of range and where ranges are.
#[test]
fn a_count_past_u32_or_negative_is_a_located_out_of_range_error() {
    for value in ["4294967296", "-1", "18446744073709551616"] {
        let src = db_model(&format!("        pool_size: {value},\n"));
        let (out, path, _dir) = run_model_text("sizes.ron", &src, &[]);
        let stderr = assert_rejected(&out, "out of range");
        let (line, col) = position(&stderr, &path.display().to_string());
        let text = src.lines().nth(line - 1).expect("the line");
        assert_eq!(line, line_of(&src, "pool_size:"), "{stderr}");
        assert!(col > text.find(value).expect("value"), "not at the value:\n{stderr}");
        assert!(stderr.contains("4,294,967,295") && stderr.contains("docs/models.md"), "{stderr}");
    }
}
