//! What each worker process holds in memory, the peaks, and the OOM killer.
//!
//! A process holds its idle size, the dataset once its cache is filled, its
//! response cache's entries, and the response bodies it has serialised that
//! are still leaving on the link. Each change of those recomputes that one
//! process's bytes and its server's total (constant work, whatever the
//! number of workers); the peaks and the limit are checked when memory
//! grows, and a model without `servers.memory` does none of it.

use crate::config::ModelSpec;
use crate::engine::SimTime;

use crate::sim::world::World;

/// The memory model of every process, when the model has one.
pub struct MemoryState {
    process_bytes: u64,
    limit: Option<u64>,
    /// The cached dataset: its payload parsed into objects.
    dataset_bytes: u64,
    response_bytes: u64,
    /// Response bodies each process holds (serialised, not yet through the
    /// link).
    bodies: Vec<u64>,
    /// Bytes each process held when it last changed, and each server's sum
    /// of them.
    held: Vec<u64>,
    server_held: Vec<u64>,
    /// The most any one server and any one process held, bytes.
    pub server_peak: u64,
    pub process_peak: u64,
    /// Processes the OOM killer ended (in the measured window).
    pub oom_kills: u64,
}

impl MemoryState {
    /// `units` processes, `workers` to a server, each holding its idle size.
    pub fn new(spec: &ModelSpec, units: usize, workers: usize) -> Option<MemoryState> {
        let m = spec.servers.memory?;
        let payload_bytes = spec.backend.payload_bytes;
        Some(MemoryState {
            process_bytes: m.process_bytes,
            limit: m.limit_bytes,
            dataset_bytes: (payload_bytes as f64 * m.parsed_factor).round() as u64,
            response_bytes: spec.servers.response_bytes.unwrap_or(payload_bytes),
            bodies: vec![0; units],
            held: vec![m.process_bytes; units],
            server_held: vec![m.process_bytes * workers as u64; units / workers.max(1)],
            server_peak: 0,
            process_peak: 0,
            oom_kills: 0,
        })
    }
}

impl World {
    /// Bytes process `unit` holds now.
    fn process_memory(&self, m: &MemoryState, unit: usize) -> u64 {
        let u = &self.units[unit];
        let dataset = if u.cache.as_ref().is_some_and(|c| c.expires_at.is_some()) { m.dataset_bytes } else { 0 };
        let responses = u.responses.as_ref().map_or(0, |r| r.len() as u64);
        m.process_bytes + dataset + (responses + m.bodies[unit]) * m.response_bytes
    }

    /// Recounts process `unit`'s bytes and its server's total; returns the
    /// server's total.
    fn recount(&self, m: &mut MemoryState, unit: usize) -> u64 {
        let (now_held, server) = (self.process_memory(m, unit), unit / self.workers as usize);
        m.server_held[server] = m.server_held[server] - m.held[unit] + now_held;
        m.held[unit] = now_held;
        m.server_held[server]
    }

    /// Process `unit`'s memory may have shrunk (a body sent, a restart).
    pub(in crate::sim) fn memory_changed(&mut self, unit: usize) {
        if let Some(mut m) = self.memory.take() {
            self.recount(&mut m, unit);
            self.memory = Some(m);
        }
    }

    /// Process `unit`'s memory may have grown at `now`: the peaks, and past
    /// the server's limit the OOM killer, which ends the server's largest
    /// process (the lowest-numbered among equals), as Linux picks by RSS.
    pub(in crate::sim) fn memory_grew(&mut self, now: SimTime, unit: usize) {
        let Some(mut m) = self.memory.take() else { return };
        let total = self.recount(&mut m, unit);
        m.server_peak = m.server_peak.max(total);
        m.process_peak = m.process_peak.max(m.held[unit]);
        if m.limit.is_some_and(|limit| total > limit) {
            let w = self.workers as usize;
            let first = unit / w * w;
            let processes = &m.held[first..first + w];
            let largest = processes.iter().copied().max().unwrap_or(0);
            let victim = first + processes.iter().position(|&b| b == largest).unwrap_or(0);
            m.oom_kills += u64::from(self.stats.measuring(now));
            m.bodies[victim] = 0;
            self.oom_kill(victim);
            self.recount(&mut m, victim);
        }
        self.memory = Some(m);
    }

    /// A body of a response left process `unit` (its last byte went out).
    pub(in crate::sim) fn body_sent(&mut self, unit: usize) {
        if let Some(m) = self.memory.as_mut() {
            m.bodies[unit] = m.bodies[unit].saturating_sub(1);
            self.memory_changed(unit);
        }
    }

    /// Process `unit` serialised a response body, held until it is sent.
    pub(in crate::sim) fn body_held(&mut self, now: SimTime, unit: usize) {
        if let Some(m) = self.memory.as_mut() {
            m.bodies[unit] += 1;
            self.memory_grew(now, unit);
        }
    }

    /// The OOM killer ends process `unit`; it starts again at once, cold
    /// (as a restart leaves it), and every request it held fails (the work
    /// they had set going elsewhere, a query or a fetch, runs to its end,
    /// and nobody receives its answer).
    fn oom_kill(&mut self, unit: usize) {
        self.empty_caches(unit);
        for id in self.requests.live_ids() {
            let r = self.requests.get_mut(id);
            if r.unit as usize == unit {
                r.killed = true;
            }
        }
    }
}
