//! The CDN in front of the service (`cdn`): PoPs expiring on their own, a
//! shield collapsing their revalidations, the stampede without collapsing,
//! ETag 304s, stale-while-revalidate, the client spread, its validation and
//! determinism, against DOMAIN.md A1 and the HTTP/CDN notes of part B.
//!
//! Notation: λ client rate, λ_p = λ·share_p a PoP's, T the lifetime
//! (`s_maxage`), d_o the origin's service time (backend then handler). All
//! latencies are constant, so every delay below is exact; only the arrivals
//! are random.
//!
//! The one-URL cycle at a node with collapsing: an entry born at B (the
//! origin finished) expires at B + T; the next request comes Exp(λ_p) later
//! (memoryless) and forwards; the origin finishes up + d_o after that (`up`
//! half the round trip), which is the new born. So the forwarding times are
//! t_1 = Exp(λ_p) and t_{k+1} = t_k + c0 + Exp(λ_p) with c0 = T + up + d_o,
//! i.e. t_k = (k − 1)·c0 + Gamma(k, λ_p), and the long-run rate is
//! 1/(T + 1/λ_p + up + d_o) (DOMAIN A1 with δ = up + d_o).

use cachesim::config::ModelSpec;
use statrs::distribution::{Continuous, ContinuousCDF, Gamma};

use crate::support::*;

/// The origin in every test: a backend call of 200 ms, then a 50 ms handler.
const D_O: f64 = 0.25;

/// A model with one URL (no response cache), no data cache, the origin
/// above, and the `cdn` section `cdn`.
fn behind_cdn(rate: f64, duration: &str, warmup: &str, cdn: &str) -> ModelSpec {
    model(&format!(
        r#"Model(
            workload: (rate: {rate}, duration: "{duration}", warmup: "{warmup}"),
            servers: (handler: Constant("50ms")),
            backend: (latency: Constant("200ms")),
            cdn: {cdn},
        )"#
    ))
}

/// Expected forwarding times in [w, d] of one node whose forwarding times are
/// t_k = (k − 1)·c0 + Gamma(k, λ) (the cycle in the module comment), i.e.
/// Σ_k P(w ≤ t_k ≤ d), with Erlang CDFs. This is the finite-window
/// expectation, edge effects included: the long-run rate times the window
/// is only within about one cycle of it.
fn expected_forwards(lambda: f64, c0: f64, w: f64, d: f64) -> f64 {
    let mut sum = 0.0;
    let mut k = 1u32;
    while f64::from(k - 1) * c0 < d {
        let shift = f64::from(k - 1) * c0;
        let erlang = Gamma::new(f64::from(k), lambda).expect("valid Erlang");
        let cdf = |x: f64| if x <= shift { 0.0 } else { erlang.cdf(x - shift) };
        sum += cdf(d) - cdf(w);
        k += 1;
    }
    sum
}

/// Expected time in [w, d] during which one such node holds a fresh entry:
/// from a + t_k (the answer is back) to b + t_k (born + T), i.e.
/// Σ_k E|[t_k + a, t_k + b) ∩ [w, d]|: b − a when t_k is well inside, and
/// the partial overlaps at the two ends integrated against the Erlang
/// density (Simpson; the overlap is linear there and the density smooth).
fn expected_fresh_time(lambda: f64, c0: f64, (a, b): (f64, f64), w: f64, d: f64) -> f64 {
    let simpson = |f: &dyn Fn(f64) -> f64, lo: f64, hi: f64| {
        let n = 400;
        let h = (hi - lo) / f64::from(n);
        let inner: f64 = (1..n).map(|i| f(lo + f64::from(i) * h) * if i % 2 == 1 { 4.0 } else { 2.0 }).sum();
        (f(lo) + inner + f(hi)) * h / 3.0
    };
    let mut sum = 0.0;
    let mut k = 1u32;
    while f64::from(k - 1) * c0 < d {
        let shift = f64::from(k - 1) * c0;
        let erlang = Gamma::new(f64::from(k), lambda).expect("valid Erlang");
        let cdf = |x: f64| if x <= shift { 0.0 } else { erlang.cdf(x - shift) };
        // Through the log: the direct formula overflows for large k.
        let pdf = |x: f64| if x <= shift { 0.0 } else { erlang.ln_pdf(x - shift).exp() };
        sum += (b - a) * (cdf(d - b) - cdf(w - a));
        sum += simpson(&|t| pdf(t) * (t + b - w), w - b, w - a);
        sum += simpson(&|t| pdf(t) * (d - a - t), d - b, d - a);
        k += 1;
    }
    sum
}

/// Wald and Lorden bounds on how far the expected count of a renewal process
/// in a window of length L is from L/μ: less than E[X²]/μ² cycles, with X the
/// cycle c0 + Exp(λ) (E[X²]/μ² = 1 + (1/λ)²/μ²). The allowance, in requests
/// per second over the window, for comparing with the long-run rate.
fn edge_allowance(nodes: f64, lambda: f64, c0: f64, window: f64) -> f64 {
    let mu = c0 + 1.0 / lambda;
    nodes * (1.0 + (1.0 / lambda / mu).powi(2)) / window
}

/// Four PoPs, no shield, collapsing on, one URL, λ = 40/s spread evenly
/// (λ_p = 10/s), s-maxage 1 s, origin RTT 100 ms (up = 50 ms), d_o = 250 ms:
/// c0 = 1 + 0.05 + 0.25 = 1.3 s, and each PoP forwards once per cycle of
/// 1.3 + 0.1 = 1.4 s: origin_rps → 4/1.4 = 2.857/s (DOMAIN A1, N caches).
///
/// A short lifetime gives about 200 cycles per PoP in the measured 280 s, so
/// the phases at the window's ends vary between replications and the CI is
/// informative. Edge bias: `origin_requests` counts forwards sent by
/// requests that arrived in [warm-up, duration], and the expected number of
/// renewals in a window is within E[X²]/μ² cycles of L/μ, here up to 4
/// requests in 280 s (0.0143/s) against a CI of about ±0.004/s; so the oracle
/// is the exact finite-window expectation (`expected_forwards`, allowance
/// 0), and the long-run formula is checked with the Wald/Lorden allowance.
///
/// The PoP hit ratio checks that the age carries over the hop: the answer
/// reaches the PoP 50 ms after it was born (the way back), so a PoP holds a
/// fresh entry from t_k + 0.35 s to t_k + 1.3 s, 0.95 s per cycle, and
/// (Poisson arrivals seeing time averages) the hit ratio is the share of the
/// window with a fresh entry: long run 0.95/1.4 = 0.679 (a PoP counting the
/// lifetime from its own receipt would give 1/1.4 = 0.714). Oracle: the
/// finite-window expectation (`expected_fresh_time`), allowance 0.
///
/// Exact: the slowest client is a PoP's first after an expiry, which waits
/// for the 304 (no body): 10 ms + 50 + 250 + 50 ms = 0.36 s.
#[test]
fn pops_without_a_shield_each_refill_once_per_cycle() {
    let (lambda_p, c0, w, d) = (10.0, 1.3, 20.0, 300.0);
    let spec = behind_cdn(
        40.0,
        "300s",
        "20s",
        r#"(pops: 4, client_rtt: Constant("10ms"), origin_rtt: Constant("100ms"), s_maxage: "1s")"#,
    );
    let runs = replicate(&spec, 71, 20);
    let rps: Vec<f64> = runs.iter().map(|r| r.cdn.origin_rps).collect();
    let exact = 4.0 * expected_forwards(lambda_p, c0, w, d) / (d - w);
    assert_covers("origin rps, 4 PoPs (finite window)", &rps, exact, 0.0);
    let long_run = 4.0 / (c0 + 1.0 / lambda_p);
    assert_covers("origin rps, 4 PoPs (long run)", &rps, long_run, edge_allowance(4.0, lambda_p, c0, d - w));
    let hits: Vec<f64> = runs.iter().map(|r| r.cdn.pop_hit_ratio).collect();
    let fresh = expected_fresh_time(lambda_p, c0, (0.35, 1.3), w, d) / (d - w);
    eprintln!("PoP hit ratio, long run: {:.6}", 0.95 / 1.4);
    assert_covers("PoP hit ratio, 4 PoPs (finite window)", &hits, fresh, 0.0);
    for r in &runs {
        approx::assert_abs_diff_eq!(r.latency_s.max.expect("requests succeeded"), 0.36, epsilon = 1e-9);
        assert_eq!(r.cache.hit_ratio, r.cdn.pop_hit_ratio);
        // One URL, no shield: every origin request is a PoP's forward, each
        // answered with a body or a 304, and none fails.
        assert_eq!(r.cdn.origin_errors, 0);
        assert_eq!(r.cdn.full_responses + r.cdn.not_modified, r.cdn.origin_requests);
        assert_eq!(r.cdn.stale_served, 0);
        assert_eq!(r.cache.layers["cdn"].lookups, r.requests.arrived);
        assert!(!r.cache.layers.contains_key("shield") && !r.cache.layers.contains_key("local"));
    }
}

/// The same PoPs behind a shield (PoP–shield RTT 40 ms, collapsing at
/// both tiers). The shield's entry is born when the origin finishes, and the
/// PoPs get it with that born (the Age header), so all PoPs expire together
/// with the shield. The next request at any PoP, Exp(λ = 40/s) later, goes
/// to the shield (20 ms), finds it expired and forwards (50 ms up, d_o
/// 250 ms); other PoPs' requests collapse at the shield. So the origin sees
/// one request per shield cycle: c0 = 1 + 0.02 + 0.05 + 0.25 = 1.32 s,
/// long-run 1/(1.32 + 0.025) = 0.743/s against 2.857/s without the shield.
/// Oracle and edge handling as without the shield, for one node at rate λ.
///
/// Exact: the slowest client waits for two 304s, PoP to shield to origin and
/// back: 10 ms + 20 + 50 + 250 + 50 + 20 ms = 0.40 s.
#[test]
fn a_shield_collapses_the_pops_revalidations() {
    let (lambda, c0, w, d) = (40.0, 1.32, 20.0, 300.0);
    let spec = behind_cdn(
        40.0,
        "300s",
        "20s",
        r#"(pops: 4, client_rtt: Constant("10ms"), origin_rtt: Constant("100ms"), s_maxage: "1s",
            shield: (rtt: Constant("40ms")))"#,
    );
    let runs = replicate(&spec, 72, 20);
    let rps: Vec<f64> = runs.iter().map(|r| r.cdn.origin_rps).collect();
    assert_covers(
        "origin rps behind a shield (finite window)",
        &rps,
        expected_forwards(lambda, c0, w, d) / (d - w),
        0.0,
    );
    let long_run = 1.0 / (c0 + 1.0 / lambda);
    assert_covers("origin rps behind a shield (long run)", &rps, long_run, edge_allowance(1.0, lambda, c0, d - w));
    // Well below the four PoPs alone (2.857/s): under a third.
    let (mean, half) = mean_ci95(&rps);
    assert!(mean + half < 4.0 / 1.4 / 3.0, "shielded origin rate {mean} ± {half}");
    for r in &runs {
        approx::assert_abs_diff_eq!(r.latency_s.max.expect("requests succeeded"), 0.40, epsilon = 1e-9);
        assert!(r.cache.layers["shield"].lookups > 0);
        assert_eq!(r.cache.layers["shield"].hit_ratio, r.cdn.shield_hit_ratio);
        assert_eq!(r.cache.layers["cdn"].hit_ratio, r.cdn.pop_hit_ratio);
    }
}

/// Collapsing off at the PoPs (no shield): after an expiry, every request
/// arriving before the first answer is back forwards too, so each PoP sends
/// 1 + Poisson(λ_p·d) per cycle (DOMAIN A1, the stampede), with d the time
/// from forwarding to the answer back at the PoP: 100 ms up + d_o 250 ms +
/// 100 ms back (origin RTT 200 ms; a 304 has no body) = 0.45 s. At
/// λ_p = 10/s: 1 + 4.5 = 5.5 origin requests per cycle.
///
/// Cycles are not reported, so the window is laid out to hold a known number
/// of whole cycles. Each answer renews the entry with its own born, so the
/// cycle is T + up + d_o + J + Exp(λ_p), with J the last stampede arrival
/// after the first (J = d − min(Exp(λ_p), d), E[J] = d − (1 − e^{−λ_p d})/λ_p;
/// the cold first cycle's answers carry a 5 ms body). The warm-up (5 s)
/// ends mid-way through the second cycle's fresh period and the duration
/// mid-way between the 28th cycle's stampede and the 29th expiry; the sd of
/// the 27 cycles' total is about 0.73 s against 5 s margins (7 sd), so every
/// replication measures cycles 2 to 28: 27 per PoP, each whole. Oracle: the
/// mean per-cycle count over 108 PoP cycles per replication, 5.5, within
/// the 95% CI (allowance 0). Exact: the slowest client waits 10 ms + d =
/// 0.46 s.
#[test]
fn without_collapsing_each_expiry_stampedes_the_origin() {
    let (lambda_p, up, back, tail) = (10.0f64, 0.1, 0.1, 10.0);
    let d = up + D_O + back;
    let mean_j = |d: f64| d - (1.0 - (-lambda_p * d).exp()) / lambda_p;
    let cycle = tail + up + D_O + mean_j(d) + 1.0 / lambda_p;
    let t2 = 1.0 / lambda_p + mean_j(d + 0.005) + up + D_O + tail + 1.0 / lambda_p;
    let (t28, t29) = (t2 + 26.0 * cycle, t2 + 27.0 * cycle);
    let end = (t28 + d + t29) / 2.0;
    let spec = behind_cdn(
        40.0,
        &format!("{end:.3}s"),
        "5s",
        r#"(pops: 4, client_rtt: Constant("10ms"), origin_rtt: Constant("200ms"), s_maxage: "10s",
            collapse: false)"#,
    );
    let runs = replicate(&spec, 73, 20);
    let cycles = 4.0 * 27.0;
    let per_cycle: Vec<f64> = runs.iter().map(|r| r.cdn.origin_requests as f64 / cycles).collect();
    assert_covers("origin requests per PoP cycle without collapsing", &per_cycle, 1.0 + lambda_p * d, 0.0);
    for r in &runs {
        approx::assert_abs_diff_eq!(r.latency_s.max.expect("requests succeeded"), 0.46, epsilon = 1e-9);
        assert_eq!(r.cdn.collapsed, 0);
        // The measured window holds only revalidations of the version held.
        assert_eq!((r.cdn.full_responses, r.cdn.not_modified), (0, r.cdn.origin_requests));
    }
    // With collapsing, exactly one per cycle of T + up + d_o + 1/λ_p =
    // 10.45 s: forwards at about 0.1 + 10.45·(k − 1) s, so the window holds
    // k = 2 to 29 (10.55 s and 292.7 s; the 30th, at 303.2 s, is past the
    // end), 9 sd clear of its ends: 28 per PoP, exactly (the finite-window
    // oracle agrees to 1e-6).
    let expected = 4.0 * expected_forwards(lambda_p, tail + up + D_O, 5.0, end);
    assert!((expected - 112.0).abs() < 1e-6, "the oracle gives {expected} forwards with collapsing");
    let collapsing = with(&spec, &["cdn.collapse=true"]);
    for r in replicate(&collapsing, 73, 3) {
        assert!(r.cdn.collapsed > 0);
        assert_eq!(r.cdn.origin_requests, 112, "origin requests with collapsing");
    }
}

/// ETag revalidation, counted exactly (no warm-up, so the cold fills are
/// counted too; 4 PoPs at λ = 40/s, lifetime 1 s, 60 s):
/// - No writes: a PoP's first forward holds nothing and gets a body; every
///   later one is conditional on version 0, which never changes: 304. So
///   `full_responses` = 4 and `not_modified` = `origin_requests` − 4.
/// - `revalidate: false`: nothing is conditional: no 304s at all.
/// - Writes every 7 s: versions 0 to 8 exist before 60 s (version k from
///   7k s on). Each PoP revalidates every 1.4 s or so, so it sees every
///   version (a gap of 7 s without a forward has probability ~ e^{−50}),
///   including version 8 (its last forward reaches the backend after 56 s
///   unless it had none in the last 4 s). A body comes back once per new
///   version: 9 per PoP, 36 in all, and the rest are 304s.
#[test]
fn etag_revalidation_answers_304_until_the_data_changes() {
    let spec = behind_cdn(
        40.0,
        "60s",
        "0s",
        r#"(pops: 4, client_rtt: Constant("10ms"), origin_rtt: Constant("100ms"), s_maxage: "1s")"#,
    );
    let cases: [(&[&str], u64); 3] =
        [(&[], 4), (&["cdn.revalidate=false"], u64::MAX), (&["backend.writes=Every(\"7s\")"], 36)];
    for (sets, bodies) in cases {
        for r in replicate(&with(&spec, sets), 74, 3) {
            let (full, not_modified, origin) = (r.cdn.full_responses, r.cdn.not_modified, r.cdn.origin_requests);
            assert!(origin > 100, "{sets:?}: only {origin} origin requests");
            assert_eq!(r.cdn.origin_errors, 0);
            let bodies = if bodies == u64::MAX { origin } else { bodies };
            assert_eq!((full, not_modified), (bodies, origin - bodies), "{sets:?}: bodies and 304s");
        }
    }
}

/// Stale-while-revalidate (1 h, longer than the run): after the warm-up
/// every PoP holds an entry (each had a request in the first 10 s: all but
/// e^{−100}), so every measured client is answered from the PoP, fresh or
/// stale, after exactly its round trip (Constant 10 ms): latency max = 10 ms.
/// Expired entries are served, so `stale_served` > 0. The background
/// revalidation starts at the first request after expiry and its answer is
/// born up + d_o later: the same cycle as collapsing without it, so the same
/// exact finite-window oracle holds for the origin rate (allowance 0).
#[test]
fn stale_while_revalidate_never_makes_a_client_wait_for_the_origin() {
    let (lambda_p, c0, w, d) = (10.0, 1.3, 10.0, 120.0);
    let spec = behind_cdn(
        40.0,
        "120s",
        "10s",
        r#"(pops: 4, client_rtt: Constant("10ms"), origin_rtt: Constant("100ms"), s_maxage: "1s",
            stale_while_revalidate: "1h")"#,
    );
    let runs = replicate(&spec, 75, 20);
    for r in &runs {
        assert_eq!(r.requests.failed, 0);
        let max = r.latency_s.max.expect("requests succeeded");
        assert!((max - 0.010).abs() < 1e-9, "a client waited {max} s, more than the client RTT");
        assert!(r.cdn.stale_served > 0);
        assert_eq!(r.cdn.collapsed, 0, "nobody waits, so nobody joins a forward request");
    }
    let rps: Vec<f64> = runs.iter().map(|r| r.cdn.origin_rps).collect();
    assert_covers(
        "origin rps with stale-while-revalidate",
        &rps,
        4.0 * expected_forwards(lambda_p, c0, w, d) / (d - w),
        0.0,
    );
}

/// The spread is observable through the origin rate: with collapsing,
/// each PoP refills once per T + 1/λ_p + up + d_o, so a PoP with few clients
/// has longer cycles. λ = 10/s over 3 PoPs, lifetime 1 s, c0 = 1.3 s:
/// - `Shares([0.7, 0.2, 0.1])`: λ_p = 7, 2, 1/s, long run
///   1/1.443 + 1/1.8 + 1/2.3 = 1.683/s;
/// - `Zipf(1.0)`: shares 1, 1/2, 1/3 over 11/6: λ_p = 5.45, 2.73, 1.82/s;
/// - `Even` would give 3/1.6 = 1.875/s, which the Shares CI must exclude.
///
/// Oracle: the exact finite-window sum over the PoPs (allowance 0).
#[test]
fn the_client_spread_sets_each_pops_refill_rate() {
    let (lambda, c0, w, d) = (10.0, 1.3, 20.0, 300.0);
    let spec = behind_cdn(
        lambda,
        "300s",
        "20s",
        r#"(pops: 3, spread: Shares([0.7, 0.2, 0.1]), client_rtt: Constant("10ms"),
            origin_rtt: Constant("100ms"), s_maxage: "1s")"#,
    );
    let expected = |shares: &[f64]| -> f64 {
        shares.iter().map(|s| expected_forwards(lambda * s, c0, w, d)).sum::<f64>() / (d - w)
    };
    let rps = |spec: &ModelSpec| -> Vec<f64> { replicate(spec, 76, 20).iter().map(|r| r.cdn.origin_rps).collect() };
    let shares = rps(&spec);
    assert_covers("origin rps, Shares([0.7, 0.2, 0.1])", &shares, expected(&[0.7, 0.2, 0.1]), 0.0);
    let (mean, half) = mean_ci95(&shares);
    let even = expected(&[1.0 / 3.0; 3]);
    assert!(mean + half < even, "Shares {mean} ± {half} not below Even's {even}");
    let zipf = rps(&with(&spec, &["cdn.spread=Zipf(1.0)"]));
    let h = 1.0 + 0.5 + 1.0 / 3.0;
    assert_covers("origin rps, Zipf(1.0)", &zipf, expected(&[1.0 / h, 0.5 / h, 1.0 / 3.0 / h]), 0.0);
}

/// Three shares for four PoPs is bad input: exit code 2, nothing on
/// stdout, and stderr names `cdn.spread` and says what is wrong.
#[test]
fn a_spread_with_the_wrong_number_of_shares_is_rejected() {
    let text = r#"Model(
    workload: (rate: 10, duration: "1m"),
    backend: (latency: Constant("100ms")),
    cdn: (pops: 4, spread: Shares([0.5, 0.3, 0.2])),
)
"#;
    let (out, _, _dir) = run_model_text("bad_spread.ron", text, &[]);
    let stderr = assert_rejected(&out, "cdn.spread");
    assert!(stderr.contains("3 shares for 4 PoPs"), "stderr does not say what is wrong:\n{stderr}");
}

/// A CDN model using every part (shield, default LogNormal RTTs, many URLs
/// by Zipf, Poisson writes, stale-while-revalidate, Zipf spread) run twice
/// with the same seed gives byte-identical JSON; another seed gives another
/// event trace.
#[test]
fn cdn_runs_are_deterministic() {
    let spec = model(
        r#"Model(
            workload: (rate: 50, duration: "2m", warmup: "10s"),
            servers: (count: 2, handler: Exponential(mean: "20ms")),
            cache: (ttl: "5s"),
            response_cache: (ttl: "2s", keys: 50),
            backend: (latency: LogNormal(median: "200ms", p99: "1s"), writes: Poisson(0.2)),
            cdn: (pops: 5, spread: Zipf(1.0), s_maxage: "3s", stale_while_revalidate: "2s", shield: ()),
        )"#,
    );
    let json = |seed: u64| {
        let r = replicate(&spec, seed, 1).remove(0);
        assert!(r.cdn.origin_requests > 0 && r.cdn.not_modified > 0 && r.cdn.stale_served > 0);
        (serde_json::to_string(&r).expect("reports serialize"), r.fingerprint.trace)
    };
    let (first, trace) = json(77);
    let (second, _) = json(77);
    assert!(first == second, "two runs with seed 77 differ:\n{first}\n---\n{second}");
    assert_ne!(json(78).1, trace, "seeds 77 and 78 gave the same event trace");
}

/// `cdn.divergence`: the spans during which PoPs hold different versions of
/// the URL. Two PoPs, no shield, λ = 4/s spread evenly (λ_p = 2/s),
/// s-maxage 1 s, origin RTT 20 ms (up 10 ms), no data cache, a 10 ms
/// backend and a 5 ms handler; the data changes every 10 s.
///
/// Each PoP's origin answers are a renewal process with cycle C = a +
/// Exp(λ_p), a = T + up + backend + handler = 1.025 s (module comment), and a
/// PoP takes a new version at the first fetch that completes at the origin
/// after the write; both PoPs then need the same handler, way back and body
/// transfer to store it. So a write opens one window whose length is
/// |D₁ − D₂|, D the residual life of each PoP's process at the write:
/// E|D₁ − D₂| = 2∫F(1 − F) with the stationary residual CDF F(r) =
/// ∫₀ʳ P(C > u) du / E[C] (computed below). Stationary and independent: the
/// PoPs start together, but their phase difference is a random walk with
/// steps of standard deviation √2/λ_p = 0.71 s per cycle, so after the 60 s
/// warm-up (about 40 cycles, 4.5 s of spread against a 1.5 s cycle) it is
/// uniform. (At a high λ_p the PoPs would stay in step for the whole run and
/// this oracle would not apply.) Each replication's mean window (36 windows)
/// is compared by the 95% CI over 40 replications, allowance 0. The last
/// write (410 s) is followed by 5 s of arrivals, and P(D > 5 s) = e^{−8}
/// per PoP, so windows are not cut at the end.
#[test]
fn pops_diverge_for_the_expected_gap_between_their_refreshes() {
    let spec = model(
        r#"Model(
            workload: (rate: 4, duration: "415s", warmup: "60s"),
            servers: (handler: Constant("5ms")),
            backend: (latency: Constant("10ms"), writes: Every("10s")),
            cdn: (pops: 2, s_maxage: "1s", origin_rtt: Constant("20ms"), client_rtt: Constant("10ms")),
        )"#,
    );
    let (a, lambda) = (1.025, 2.0);
    let mean_cycle = a + 1.0 / lambda;
    let residual_cdf = |r: f64| {
        if r <= a { r / mean_cycle } else { (a + (1.0 - (-lambda * (r - a)).exp()) / lambda) / mean_cycle }
    };
    let (steps, top) = (200_000, a + 40.0 / lambda);
    let h = top / steps as f64;
    let expected = 2.0
        * h
        * (0..steps)
            .map(|i| {
                let f = residual_cdf((i as f64 + 0.5) * h);
                f * (1.0 - f)
            })
            .sum::<f64>();
    let runs = replicate(&spec, 81, 40);
    let mean_window: Vec<f64> = runs
        .iter()
        .map(|r| {
            let d = &r.cdn.divergence;
            assert_eq!(d.windows, 36, "one window per write in (60 s, 415 s]");
            d.total_s / d.windows as f64
        })
        .collect();
    assert_covers("PoP divergence window", &mean_window, expected, 0.0);
    // One PoP never diverges from itself.
    let one = replicate(&with(&spec, &["cdn.pops=1"]), 81, 1).remove(0);
    assert_eq!(one.cdn.divergence.windows, 0);
}

/// A response the edge may not cache (`max_age: "0s"`, Cloudflare's default
/// for JSON) is never shared: with collapsing on, every client request still
/// goes to the origin (Fastly's hit-for-pass), none is counted as collapsed
/// or served from cache. Exact counts.
#[test]
fn an_uncacheable_response_is_not_collapsed() {
    let spec = model(
        r#"Model(
            workload: (rate: 500, duration: "20s"),
            servers: (handler: Constant("5ms")),
            backend: (latency: Constant("200ms")),
            cdn: (pops: 1, max_age: "0s", collapse: true, client_rtt: Constant("10ms"), origin_rtt: Constant("20ms")),
        )"#,
    );
    let r = replicate(&spec, 82, 1).remove(0);
    assert_eq!(r.cdn.origin_requests, r.requests.arrived);
    assert_eq!((r.cdn.collapsed, r.cdn.pop_hit_ratio), (0, 0.0));
    assert_eq!(r.cache.served_from_cache_ratio, 0.0);
    // Cacheable (1 s), the same load collapses onto one forward per cycle
    // and most clients are answered by the edge.
    let cached = replicate(&with(&spec, &["cdn.max_age=1s"]), 82, 1).remove(0);
    assert!(cached.cdn.collapsed > 0 && cached.cdn.origin_requests < cached.requests.arrived / 100);
    assert!(cached.cache.served_from_cache_ratio > 0.99, "{}", cached.cache.served_from_cache_ratio);
}

/// A 429 from the origin (its client limit, keyed by the PoP's address) is
/// no server error: `stale_if_error` does not answer it with the expired
/// entry, so the clients see the 429s.
#[test]
fn stale_if_error_does_not_hide_a_429() {
    let spec = model(
        r#"Model(
            workload: (rate: 50, duration: "30s"),
            servers: (handler: Constant("5ms")),
            backend: (latency: Constant("10ms")),
            client_limit: (limit: 5, per: "1m"),
            cdn: (pops: 1, s_maxage: "100ms", stale_if_error: "1h", collapse: false,
                  client_rtt: Constant("10ms"), origin_rtt: Constant("20ms")),
        )"#,
    );
    let r = replicate(&spec, 83, 1).remove(0);
    assert!(r.requests.errors["too_many_requests"] > 0, "{:?}", r.requests.errors);
    assert_eq!(r.cdn.stale_served, 0);
}
