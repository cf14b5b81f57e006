//! What each worker process holds in memory, the peaks, and the OOM killer.
//!
//! A process holds its idle size, the dataset once its cache is filled, its
//! response cache's entries, and the response bodies it has serialised that
//! are still leaving on the link. Memory only grows at those moments, so
//! the peaks and the limit are checked there, and nowhere on the hot path of
//! a model without `servers.memory`.

use crate::config::ModelSpec;
use crate::engine::SimTime;
use crate::metrics::Cause;

use super::super::world::World;

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
    /// The most any one server and any one process held, bytes.
    pub server_peak: u64,
    pub process_peak: u64,
    /// Processes the OOM killer ended (in the measured window).
    pub oom_kills: u64,
}

impl MemoryState {
    pub fn new(spec: &ModelSpec, units: usize) -> Option<MemoryState> {
        let m = spec.servers.memory?;
        let payload_bytes = spec.backend.payload_bytes;
        Some(MemoryState {
            process_bytes: m.process_bytes,
            limit: m.limit_bytes,
            dataset_bytes: (payload_bytes as f64 * m.parsed_factor).round() as u64,
            response_bytes: spec.servers.response_bytes.unwrap_or(payload_bytes),
            bodies: vec![0; units],
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

    /// Process `unit`'s memory may have grown at `now`: the peaks, and past
    /// the server's limit the OOM killer, which ends the server's largest
    /// process (the lowest-numbered among equals), as Linux picks by RSS.
    pub(in crate::sim) fn memory_grew(&mut self, now: SimTime, unit: usize) {
        let Some(m) = self.memory.take() else { return };
        let mut m = m;
        let w = self.workers as usize;
        let first = unit / w * w;
        let each: Vec<u64> = (first..first + w).map(|u| self.process_memory(&m, u)).collect();
        let total: u64 = each.iter().sum();
        m.server_peak = m.server_peak.max(total);
        m.process_peak = m.process_peak.max(each.iter().copied().max().unwrap_or(0));
        if m.limit.is_some_and(|limit| total > limit) {
            let largest = each.iter().copied().max().unwrap_or(0);
            let victim = first + each.iter().position(|&b| b == largest).unwrap_or(0);
            m.oom_kills += u64::from(self.stats.measuring(now));
            m.bodies[victim] = 0;
            self.oom_kill(victim);
        }
        self.memory = Some(m);
    }

    /// A body of a response left process `unit` (its last byte went out).
    pub(in crate::sim) fn body_sent(&mut self, unit: usize) {
        if let Some(m) = self.memory.as_mut() {
            m.bodies[unit] = m.bodies[unit].saturating_sub(1);
        }
    }

    /// Process `unit` serialised a response body, held until it is sent.
    pub(in crate::sim) fn body_held(&mut self, now: SimTime, unit: usize) {
        if let Some(m) = self.memory.as_mut() {
            m.bodies[unit] += 1;
            self.memory_grew(now, unit);
        }
    }

    /// The OOM killer ends process `unit`; it starts again at once, cold:
    /// its caches are empty, and every request it held fails (the work they
    /// had set going elsewhere, a query or a fetch, runs to its end, and
    /// nobody receives its answer).
    fn oom_kill(&mut self, unit: usize) {
        let u = &mut self.units[unit];
        if let Some(cache) = u.cache.as_mut() {
            cache.expires_at = None;
        }
        if let Some(responses) = u.responses.as_mut() {
            responses.clear();
        }
        for id in self.requests.live_ids() {
            let r = self.requests.get_mut(id);
            if r.unit as usize == unit {
                r.killed = true;
            }
        }
    }
}

/// The cause a killed request fails with.
pub const KILLED: Cause = Cause::OomKilled;
