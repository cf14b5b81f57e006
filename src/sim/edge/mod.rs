//! Where requests come from and how they reach a server: the workload's
//! arrivals, clients that time out and retry, the CDN in front, the load
//! balancer, and client rate limiting.

pub mod arrivals;
pub mod balancer;
pub mod cdn;
pub mod cdn_nodes;
pub mod client;
pub mod client_limit;
