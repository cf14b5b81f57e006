//! Simulation speed on the scenario: the reference at 500 req/s on
//! 3 servers of 4 workers for 1 simulated hour, unlocked and locked, as
//! `cachesim bench` runs it (with the seed's server-process features). Criterion reports
//! simulated requests per second ("elem/s"); `cachesim bench` prints events/s
//! and requests/s for the same runs.

use std::hint::black_box;

use cachesim::builtin;
use cachesim::config::apply_overrides;
use cachesim::sim::{RunOptions, simulate};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn reference_500_rps(c: &mut Criterion) {
    let sets: Vec<String> = ["workload.rate=500", "servers.count=3", "servers.workers=4", "workload.duration=1h"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut group = c.benchmark_group("reference_500rps_3servers_1h");
    group.sample_size(10);
    for (name, source) in [("unlocked", builtin::REFERENCE), ("locked", builtin::REFERENCE_LOCKED)] {
        let spec = apply_overrides(builtin::load(source, name).expect("built-in model"), &sets).expect("overrides");
        let requests = simulate(&spec, 1, 0, RunOptions::default()).requests.arrived;
        group.throughput(Throughput::Elements(requests));
        group.bench_function(name, |b| b.iter(|| black_box(simulate(black_box(&spec), 1, 0, RunOptions::default()))));
    }
    group.finish();
}

criterion_group!(benches, reference_500_rps);
criterion_main!(benches);
