//! The CDN's state: its nodes (PoPs and the shield), their entries by URL,
//! the forward requests in flight, and the clients waiting at the edge.
//! The flow of a request through them is in `cdn.rs`.
//!
//! Freshness follows RFC 9111: an entry carries the time the origin made it
//! (`born`); its age, counted from there across tiers (the `Age` header), is
//! compared with the lifetime (`s-maxage`, else `max-age`).

use std::collections::HashMap;

use crate::config::Cdn;
use crate::engine::{SimDuration, SimRng, SimTime, stream};
use crate::metrics::{Cause, Divergence};

use crate::sim::request::Slab;
use crate::sim::sampler::Sampler;
use crate::sim::service::responses::ZipfKeys;

/// A cached response: its data version and when the origin produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub version: u64,
    pub born: SimTime,
}

/// A node of the CDN: a PoP (index) or the shield.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRef {
    Pop(u32),
    Shield,
}

/// Who waits for a node's answer: a client at its PoP, or a PoP's forward
/// request at the shield.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiter {
    Client(u32),
    Fetch(u32),
}

/// One cache node.
#[derive(Debug, Default)]
pub struct Node {
    /// URL -> the stored response. Looked up only, never iterated.
    pub entries: HashMap<u32, Entry>,
    /// URL -> the forward request that concurrent misses join.
    pub inflight: HashMap<u32, u32>,
    /// Request collapsing on at this node.
    pub collapse: bool,
}

/// A client request at the edge.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    pub arrived: SimTime,
    pub counted: bool,
    /// The closed-loop user who sent it (`u32::MAX`: an open arrival).
    pub user: u32,
    /// What it was answered: the version served, or why it failed.
    pub result: Result<u64, Cause>,
    /// It sent a forward request of its own (it was not answered by a cache).
    pub forwarded: bool,
}

/// A request a node forwards upstream (to the shield or the origin).
#[derive(Debug, Clone)]
pub struct Fetch {
    pub node: NodeRef,
    pub url: u32,
    /// Requests waiting for its answer (none for a background revalidation).
    pub waiters: Vec<Waiter>,
    /// The ETag (version) it revalidates, if it is conditional.
    pub conditional: Option<u64>,
    /// Counted in the statistics (sent after the warm-up).
    pub counted: bool,
    /// The second half of its round trip, for the way back.
    pub back: SimDuration,
    /// The upstream's answer, once known.
    pub result: Result<Entry, Cause>,
}

/// What the edge counts (after the warm-up).
#[derive(Debug, Default, Clone)]
pub struct EdgeCounters {
    pub pop_lookups: u64,
    pub pop_hits: u64,
    pub shield_lookups: u64,
    pub shield_hits: u64,
    /// Served an expired entry (stale-while-revalidate or stale-if-error).
    pub stale_served: u64,
    /// Misses that joined another request's forward request.
    pub collapsed: u64,
    /// Requests that reached the origin, and those that failed there.
    pub origin_requests: u64,
    pub origin_errors: u64,
    /// Upstream answers that were 304 Not Modified (all tiers).
    pub not_modified: u64,
    /// Upstream answers with a body (all tiers).
    pub full_responses: u64,
    /// Client requests answered without a forward request of their own (a
    /// fresh or stale entry, or another's shared forward).
    pub answered_at_edge: u64,
}

/// The whole edge.
pub struct EdgeState {
    pub lifetime: SimDuration,
    pub stale_while_revalidate: SimDuration,
    pub stale_if_error: SimDuration,
    pub revalidate: bool,
    pub body_transfer: SimDuration,
    pub pops: Vec<Node>,
    pub shield: Option<Node>,
    spread: ZipfKeys,
    spread_rng: SimRng,
    client_rtt: (Sampler, SimRng),
    origin_rtt: (Sampler, SimRng),
    shield_rtt: Option<(Sampler, SimRng)>,
    clients: Slab<Client>,
    fetches: Slab<Fetch>,
    pub counters: EdgeCounters,
    /// Versions the PoPs hold of the most popular URL (0), and the spans
    /// during which they differ.
    pub divergence: Divergence,
}

impl EdgeState {
    /// The CDN of `spec`, with streams of replication `run` of `seed`.
    pub fn new(spec: &Cdn, seed: u64, run: u64) -> EdgeState {
        let rng = |name: &str| stream(seed, run, name);
        let node = |collapse| Node { collapse, ..Node::default() };
        EdgeState {
            lifetime: spec.lifetime().0,
            stale_while_revalidate: spec.stale_while_revalidate.0,
            stale_if_error: spec.stale_if_error.0,
            revalidate: spec.revalidate,
            body_transfer: spec.body_transfer.0,
            pops: (0..spec.pops).map(|_| node(spec.collapse)).collect(),
            shield: spec.shield.as_ref().map(|s| node(s.collapse)),
            spread: ZipfKeys::weighted(&spec.shares()),
            spread_rng: rng("cdn.spread"),
            client_rtt: (Sampler::new(&spec.client_rtt), rng("cdn.client_rtt")),
            origin_rtt: (Sampler::new(&spec.origin_rtt), rng("cdn.origin_rtt")),
            shield_rtt: spec.shield.as_ref().map(|s| (Sampler::new(&s.rtt), rng("cdn.shield_rtt"))),
            clients: Slab::default(),
            fetches: Slab::default(),
            counters: EdgeCounters::default(),
            divergence: Divergence::default(),
        }
    }

    /// The PoP a new client request goes to.
    pub fn pick_pop(&mut self) -> u32 {
        self.spread.draw(&mut self.spread_rng)
    }

    /// A round trip between a client and its PoP.
    pub fn client_rtt(&mut self) -> SimDuration {
        let (s, rng) = &mut self.client_rtt;
        s.sample(rng)
    }

    /// A round trip from `node` to the node above it.
    pub fn upstream_rtt(&mut self, node: NodeRef) -> SimDuration {
        let (s, rng) = match (node, self.shield_rtt.as_mut()) {
            (NodeRef::Pop(_), Some(shield)) => shield,
            _ => &mut self.origin_rtt,
        };
        s.sample(rng)
    }

    /// Whether `node` forwards to the shield (else to the origin).
    pub fn goes_to_shield(&self, node: NodeRef) -> bool {
        matches!(node, NodeRef::Pop(_)) && self.shield.is_some()
    }

    pub fn node(&mut self, node: NodeRef) -> &mut Node {
        match node {
            NodeRef::Pop(p) => &mut self.pops[p as usize],
            NodeRef::Shield => self.shield.as_mut().expect("a shield"),
        }
    }

    /// Whether `e` is fresh at `now`: its age is under the lifetime.
    pub fn fresh(&self, e: &Entry, now: SimTime) -> bool {
        now.since(e.born) < self.lifetime
    }

    /// Whether `e` may be served past its lifetime by `extra`.
    pub fn usable_stale(&self, e: &Entry, now: SimTime, extra: SimDuration) -> bool {
        now.since(e.born) < self.lifetime.saturating_add(extra)
    }

    pub fn add_client(&mut self, c: Client) -> u32 {
        self.clients.insert(c)
    }

    pub fn client(&mut self, id: u32) -> &mut Client {
        self.clients.get_mut(id)
    }

    /// Frees a client's slot and returns it.
    pub fn remove_client(&mut self, id: u32) -> Client {
        self.clients.remove(id);
        *self.clients.get(id)
    }

    pub fn add_fetch(&mut self, f: Fetch) -> u32 {
        self.fetches.insert(f)
    }

    pub fn fetch(&mut self, id: u32) -> &mut Fetch {
        self.fetches.get_mut(id)
    }

    /// Frees a forward request's slot and returns it (with its waiters).
    pub fn remove_fetch(&mut self, id: u32) -> Fetch {
        self.fetches.remove(id);
        let f = self.fetches.get_mut(id);
        Fetch { waiters: std::mem::take(&mut f.waiters), ..f.clone() }
    }
}
