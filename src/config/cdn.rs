//! A CDN in front of the service: points of presence (PoPs) that cache
//! responses by URL under the origin's `Cache-Control`, an optional shield
//! tier between them and the origin, and ETag revalidation.
//!
//! The URLs are the response cache's queries when the model has one
//! (`response_cache.keys`, by the same Zipf popularity), else one URL.

use serde::{Deserialize, Serialize};

use super::duration::Dur;
use super::latency::Latency;

/// The edge: `pops` caches, each expiring on its own (RFC 9111 freshness).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cdn {
    /// Points of presence (default 4; 1 to 10,000). Each caches independently.
    #[serde(default = "default_pops")]
    pub pops: u32,
    /// How clients spread over the PoPs (default `Even`).
    #[serde(default)]
    pub spread: Spread,
    /// Round trip between a client and its PoP, added to every response
    /// (default `LogNormal(median: "20ms", p99: "80ms")`).
    #[serde(default = "default_client_rtt")]
    pub client_rtt: Latency,
    /// Round trip between an edge node (a PoP or the shield) and the origin
    /// (default `LogNormal(median: "40ms", p99: "120ms")`).
    #[serde(default = "default_origin_rtt")]
    pub origin_rtt: Latency,
    /// Time to send a response body over one hop between edge nodes or from
    /// the origin (default 5ms). A 304 Not Modified has no body.
    #[serde(default = "default_body_transfer")]
    pub body_transfer: Dur,
    /// The origin's `Cache-Control: max-age` (default 0s: not cached, as
    /// Cloudflare treats JSON by default). Used by the PoPs when there is no
    /// `s_maxage`.
    #[serde(default)]
    pub max_age: Dur,
    /// `Cache-Control: s-maxage`, the lifetime for shared caches; it wins over
    /// `max_age` at the edge (default: absent).
    #[serde(default)]
    pub s_maxage: Option<Dur>,
    /// `stale-while-revalidate`: past its lifetime, an entry is served for
    /// this long more while one background revalidation runs (default 0s).
    #[serde(default)]
    pub stale_while_revalidate: Dur,
    /// `stale-if-error`: an expired entry answers for this long more when the
    /// origin fails (default 0s).
    #[serde(default)]
    pub stale_if_error: Dur,
    /// Revalidate an expired entry with its ETag (`If-None-Match`); an
    /// unchanged version comes back as a 304 without a body (default true).
    #[serde(default = "yes")]
    pub revalidate: bool,
    /// Request collapsing: concurrent misses for one URL at a node wait for
    /// one forward request (default true: Fastly's default, Cloudflare's
    /// cache lock). Off: every miss goes upstream.
    #[serde(default = "yes")]
    pub collapse: bool,
    /// A shield tier between the PoPs and the origin (default: absent, each
    /// PoP goes to the origin).
    #[serde(default)]
    pub shield: Option<Shield>,
}

/// One shield node: the PoPs' misses go to it, and only its misses reach
/// the origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shield {
    /// Round trip between a PoP and the shield (default
    /// `LogNormal(median: "20ms", p99: "60ms")`).
    #[serde(default = "default_shield_rtt")]
    pub rtt: Latency,
    /// Request collapsing at the shield (default true).
    #[serde(default = "yes")]
    pub collapse: bool,
}

/// How client requests spread over the PoPs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Spread {
    /// Each PoP gets the same share.
    #[default]
    Even,
    /// PoP k (from 1) gets a share proportional to k^-s: a few big regions.
    Zipf(f64),
    /// Explicit shares, one per PoP (normalized): `Shares([0.5, 0.3, 0.2])`.
    Shares(Vec<f64>),
}

impl Cdn {
    /// The freshness lifetime at a shared cache (RFC 9111 §4.2.1).
    pub fn lifetime(&self) -> Dur {
        self.s_maxage.unwrap_or(self.max_age)
    }

    /// Each PoP's share of the clients, summing to 1.
    pub fn shares(&self) -> Vec<f64> {
        let n = self.pops as usize;
        let raw: Vec<f64> = match &self.spread {
            Spread::Even => vec![1.0; n],
            Spread::Zipf(s) => (1..=n).map(|k| (k as f64).powf(-s)).collect(),
            Spread::Shares(v) => v.clone(),
        };
        let total: f64 = raw.iter().sum();
        raw.iter().map(|w| w / total).collect()
    }
}

fn default_pops() -> u32 {
    4
}
fn default_client_rtt() -> Latency {
    Latency::LogNormal { median: Dur::millis(20), p99: Dur::millis(80) }
}
fn default_origin_rtt() -> Latency {
    Latency::LogNormal { median: Dur::millis(40), p99: Dur::millis(120) }
}
fn default_shield_rtt() -> Latency {
    Latency::LogNormal { median: Dur::millis(20), p99: Dur::millis(60) }
}
fn default_body_transfer() -> Dur {
    Dur::millis(5)
}
fn yes() -> bool {
    true
}
