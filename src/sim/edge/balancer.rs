//! The load balancer in front of the servers: which server takes each
//! request, and which worker process of that server the kernel hands the
//! connection to.
//!
//! Least connections breaks ties as nginx's `least_conn` does (and HAProxy's
//! `leastconn` in effect): among the servers with the fewest active
//! connections it goes round robin, by nginx's smooth weighted round robin
//! with equal weights. Taking the first on a tie would send almost every
//! request to server 0 at low load.

use rand::RngExt;

use crate::config::Balancer;
use crate::engine::SimRng;

pub struct LoadBalancer {
    policy: Balancer,
    /// Requests in flight on each server (its active connections).
    in_flight: Vec<u32>,
    /// Round robin's next server.
    next: u32,
    /// Smooth round robin's current weights, for least-connections ties.
    current_weight: Vec<i64>,
    rng: SimRng,
}

impl LoadBalancer {
    pub fn new(policy: Balancer, servers: u32, rng: SimRng) -> LoadBalancer {
        let n = servers as usize;
        LoadBalancer { policy, in_flight: vec![0; n], next: 0, current_weight: vec![0; n], rng }
    }

    /// Picks the server for a new request and counts it as active there.
    pub fn pick(&mut self) -> u32 {
        let n = self.in_flight.len() as u32;
        let server = match self.policy {
            Balancer::RoundRobin => {
                let s = self.next;
                self.next = (s + 1) % n;
                s
            }
            Balancer::Random => self.rng.random_range(0..n),
            Balancer::LeastConnections => self.least_connections(),
        };
        self.in_flight[server as usize] += 1;
        server
    }

    /// nginx `ngx_http_upstream_get_least_conn_peer`: the fewest
    /// connections; among ties, each tied peer's current weight grows by its
    /// weight (1), the largest wins (the first on equal weights) and loses
    /// the total.
    fn least_connections(&mut self) -> u32 {
        let fewest = *self.in_flight.iter().min().expect("at least one server");
        let mut best = u32::MAX;
        let mut total = 0i64;
        for (i, &c) in self.in_flight.iter().enumerate() {
            if c != fewest {
                continue;
            }
            self.current_weight[i] += 1;
            total += 1;
            if best == u32::MAX || self.current_weight[i] > self.current_weight[best as usize] {
                best = i as u32;
            }
        }
        self.current_weight[best as usize] -= total;
        best
    }

    /// One of `workers` worker processes, uniformly (the kernel's accept).
    pub fn pick_worker(&mut self, workers: u32) -> u32 {
        if workers > 1 { self.rng.random_range(0..workers) } else { 0 }
    }

    /// A request on `server` finished.
    pub fn closed(&mut self, server: u32) {
        self.in_flight[server as usize] -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stream;

    #[test]
    fn least_connections_rotates_among_idle_servers() {
        let mut lb = LoadBalancer::new(Balancer::LeastConnections, 3, stream(1, 0, "balancer"));
        let mut picks = Vec::new();
        for _ in 0..6 {
            let s = lb.pick();
            picks.push(s);
            lb.closed(s);
        }
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn least_connections_prefers_the_least_loaded_and_rotates_among_its_ties() {
        let mut lb = LoadBalancer::new(Balancer::LeastConnections, 3, stream(1, 0, "balancer"));
        assert_eq!(lb.pick(), 0); // loads 1 0 0
        assert_eq!(lb.pick(), 1); // 1 1 0
        assert_eq!(lb.pick(), 2); // 1 1 1
        lb.closed(1); // 1 0 1
        assert_eq!(lb.pick(), 1, "the only least-loaded server");
        lb.closed(0);
        lb.closed(2); // 0 1 0: ties between 0 and 2
        // The current weights carry over from earlier ties (as in nginx), so
        // the first tie picks may repeat; over many, the pair shares evenly.
        let mut count = [0u32; 3];
        for _ in 0..100 {
            let s = lb.pick();
            count[s as usize] += 1;
            lb.closed(s);
        }
        assert_eq!(count[1], 0, "server 1 is busier than the tied pair");
        assert!(count[0].abs_diff(count[2]) <= 2, "ties share evenly: {count:?}");
    }
}
