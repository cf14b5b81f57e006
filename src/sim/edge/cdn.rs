//! A client request's way through the CDN (state in `cdn_nodes.rs`):
//!
//! ```text
//! client -> PoP: fresh ---------------------------------------> reply (+ client RTT)
//!                stale within stale-while-revalidate ----------> reply, and one background revalidation
//!                miss: join the URL's forward request (collapsing), or forward:
//!                  -> [shield: the same rules] -> origin (the whole service) -> 200, or 304 if the ETag matches
//! ```
//!
//! A forward request travels half its round trip up and half back; a body
//! adds `body_transfer` on the way back, a 304 does not.

use crate::engine::{EventQueue, SimDuration};
use crate::metrics::Cause;

use crate::sim::edge::cdn_nodes::{Client, Entry, Fetch, NodeRef, Waiter};
use crate::sim::world::{Event, World};

impl World {
    /// A client request reaches its PoP.
    pub(in crate::sim) fn edge_enter(&mut self, q: &mut EventQueue<Event>, user: u32) {
        let now = q.now();
        let counted = self.stats.measuring(now);
        self.stats.request_entered(now, counted);
        let url = self.draw_key().unwrap_or(0);
        let edge = self.edge.as_mut().expect("a CDN");
        let pop = edge.pick_pop();
        let id = edge.add_client(Client {
            arrived: now,
            counted,
            user,
            result: Err(Cause::BackendUnavailable),
            forwarded: false,
        });
        if counted {
            edge.counters.pop_lookups += 1;
        }
        self.edge_lookup(q, NodeRef::Pop(pop), url, Waiter::Client(id), counted);
    }

    /// `waiter` asks `node` for `url`.
    fn edge_lookup(&mut self, q: &mut EventQueue<Event>, node: NodeRef, url: u32, waiter: Waiter, counted: bool) {
        let now = q.now();
        let edge = self.edge.as_mut().expect("a CDN");
        let entry = edge.node(node).entries.get(&url).copied();
        if let Some(e) = entry {
            if edge.fresh(&e, now) {
                if counted {
                    match node {
                        NodeRef::Pop(_) => edge.counters.pop_hits += 1,
                        NodeRef::Shield => edge.counters.shield_hits += 1,
                    }
                }
                return self.edge_answer(q, waiter, Ok(e));
            }
            if edge.usable_stale(&e, now, edge.stale_while_revalidate) {
                edge.counters.stale_served += u64::from(counted);
                let refreshing = edge.node(node).inflight.contains_key(&url);
                self.edge_answer(q, waiter, Ok(e));
                if !refreshing {
                    self.edge_forward(q, node, url, None, Some(e), counted);
                }
                return;
            }
        }
        // An uncacheable response (lifetime 0) cannot be shared: no collapsing
        // (Fastly's hit-for-pass).
        let cacheable = edge.lifetime.0 > 0;
        let n = edge.node(node);
        if let Some(&fid) = n.inflight.get(&url).filter(|_| n.collapse && cacheable) {
            edge.counters.collapsed += u64::from(counted);
            return edge.fetch(fid).waiters.push(waiter);
        }
        self.edge_forward(q, node, url, Some(waiter), entry, counted);
    }

    /// `node` sends a request for `url` upstream: conditional on the entry it
    /// holds when revalidation is on. With no waiter it is a background
    /// revalidation.
    fn edge_forward(
        &mut self,
        q: &mut EventQueue<Event>,
        node: NodeRef,
        url: u32,
        waiter: Option<Waiter>,
        held: Option<Entry>,
        counted: bool,
    ) {
        let edge = self.edge.as_mut().expect("a CDN");
        let rtt = edge.upstream_rtt(node);
        let up = rtt.0 / 2;
        let fetch = Fetch {
            node,
            url,
            waiters: waiter.into_iter().collect(),
            conditional: held.filter(|_| edge.revalidate).map(|e| e.version),
            counted,
            back: SimDuration(rtt.0 - up),
            result: Err(Cause::BackendUnavailable),
        };
        let background = waiter.is_none();
        if let Some(Waiter::Client(c)) = waiter {
            edge.client(c).forwarded = true;
        }
        let id = edge.add_fetch(fetch);
        let n = edge.node(node);
        if n.collapse || background {
            n.inflight.entry(url).or_insert(id);
        }
        q.schedule_in(SimDuration(up), Event::EdgeForward(id));
    }

    /// A forward request reaches the node above: the shield, or the origin.
    pub(in crate::sim) fn on_edge_forward(&mut self, q: &mut EventQueue<Event>, id: u32) {
        let edge = self.edge.as_mut().expect("a CDN");
        let f = edge.fetch(id);
        let (node, url, counted) = (f.node, f.url, f.counted);
        if edge.goes_to_shield(node) {
            edge.counters.shield_lookups += u64::from(counted);
            return self.edge_lookup(q, NodeRef::Shield, url, Waiter::Fetch(id), counted);
        }
        edge.counters.origin_requests += u64::from(counted);
        // The origin's TCP peer: the PoP, or the shield (numbered after the PoPs).
        let peer = match node {
            NodeRef::Pop(p) => p,
            NodeRef::Shield => edge.pops.len() as u32,
        };
        let key = if self.has_keys() { url } else { u32::MAX };
        self.enter_origin(q, u32::MAX, key, id, peer, 0);
    }

    /// The origin answered forward request `id`: with the data `version` it
    /// served, or an error.
    pub(in crate::sim) fn origin_answered(&mut self, q: &mut EventQueue<Event>, id: u32, outcome: Result<u64, Cause>) {
        let now = q.now();
        let edge = self.edge.as_mut().expect("a CDN");
        if outcome.is_err() && edge.fetch(id).counted {
            edge.counters.origin_errors += 1;
        }
        self.edge_answer(q, Waiter::Fetch(id), outcome.map(|version| Entry { version, born: now }));
    }

    /// A node answers `waiter` with `result`: a client gets it after its round
    /// trip; a forward request carries it back down (a 304 when its ETag
    /// matches, with no body to send).
    fn edge_answer(&mut self, q: &mut EventQueue<Event>, waiter: Waiter, result: Result<Entry, Cause>) {
        let edge = self.edge.as_mut().expect("a CDN");
        match waiter {
            Waiter::Client(id) => {
                edge.client(id).result = result.map(|e| e.version);
                let rtt = edge.client_rtt();
                q.schedule_in(rtt, Event::EdgeReply(id));
            }
            Waiter::Fetch(id) => {
                let transfer = edge.body_transfer;
                let f = edge.fetch(id);
                f.result = result;
                let body = match result {
                    Ok(e) => f.conditional != Some(e.version),
                    Err(_) => false,
                };
                let counted = f.counted;
                let back = if body { f.back.saturating_add(transfer) } else { f.back };
                if counted && result.is_ok() {
                    if body {
                        edge.counters.full_responses += 1;
                    } else {
                        edge.counters.not_modified += 1;
                    }
                }
                q.schedule_in(back, Event::EdgeBack(id));
            }
        }
    }

    /// The answer to forward request `id` is back at its node: store it
    /// (a 304 renews the entry held), then answer everyone who waited. An
    /// answer that is not fresh on arrival, or an error with no stale entry
    /// to use instead, goes to the request it was sent for only; the others
    /// that joined it are each sent upstream on their own (as Fastly does
    /// with a response it cannot cache).
    pub(in crate::sim) fn on_edge_back(&mut self, q: &mut EventQueue<Event>, id: u32) {
        let now = q.now();
        let edge = self.edge.as_mut().expect("a CDN");
        let f = edge.remove_fetch(id);
        let n = edge.node(f.node);
        if n.inflight.get(&f.url) == Some(&id) {
            n.inflight.remove(&f.url);
        }
        let result = match f.result {
            Ok(e) => {
                // Keep the most recent response (RFC 9111 §4): a late answer
                // must not replace a newer one.
                let held = n.entries.get(&f.url);
                if held.is_none_or(|h| h.born <= e.born) {
                    n.entries.insert(f.url, e);
                    if let (NodeRef::Pop(p), 0) = (f.node, f.url) {
                        edge.divergence.filled(p as usize, e.version, now, self.stats.warmup);
                    }
                }
                Ok(e)
            }
            Err(cause) => {
                // stale-if-error (server errors, not a 429): an expired entry
                // answers instead.
                let held = n.entries.get(&f.url).copied().filter(|_| cause != Cause::TooManyRequests);
                match held.filter(|e| edge.usable_stale(e, now, edge.stale_if_error)) {
                    Some(e) => {
                        edge.counters.stale_served += f.waiters.len() as u64 * u64::from(f.counted);
                        return self.edge_answer_all(q, f.waiters, Ok(e));
                    }
                    None => Err(cause),
                }
            }
        };
        let shareable = result.is_ok_and(|e| edge.fresh(&e, now));
        if shareable {
            return self.edge_answer_all(q, f.waiters, result);
        }
        let mut waiters = f.waiters.into_iter();
        if let Some(first) = waiters.next() {
            self.edge_answer(q, first, result);
        }
        let held = self.edge.as_mut().expect("a CDN").node(f.node).entries.get(&f.url).copied();
        for w in waiters {
            self.edge_forward(q, f.node, f.url, Some(w), held, f.counted);
        }
    }

    fn edge_answer_all(&mut self, q: &mut EventQueue<Event>, waiters: Vec<Waiter>, result: Result<Entry, Cause>) {
        for w in waiters {
            self.edge_answer(q, w, result);
        }
    }

    /// The response reaches the client.
    pub(in crate::sim) fn on_edge_reply(&mut self, q: &mut EventQueue<Event>, id: u32) {
        let now = q.now();
        let edge = self.edge.as_mut().expect("a CDN");
        let c = edge.remove_client(id);
        if c.counted && c.result.is_ok() && !c.forwarded {
            edge.counters.answered_at_edge += 1;
        }
        // A CDN client's whole time is at the edge (the origin's own
        // requests are not clients).
        let mut spent = [0; crate::metrics::PHASES];
        spent[crate::metrics::Phase::Cdn as usize] = now.since(c.arrived).0;
        let period = if self.fault_during(c.arrived, now) {
            crate::metrics::Period::Fault
        } else {
            crate::metrics::Period::Other
        };
        self.stats.request_left(now, c.counted, now.since(c.arrived), c.result.map(|_| ()), (spent, period));
        if let Ok(version) = c.result {
            let staleness = self.versions.staleness(version, now);
            self.stats.served(c.counted, staleness);
        }
        if c.user != u32::MAX {
            self.user_thinks(q, c.user);
        }
    }
}
