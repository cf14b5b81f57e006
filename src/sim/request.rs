//! Requests in flight, kept in a slab indexed by [`ReqId`] so that events
//! carry a small integer instead of a pointer or an allocation.

use crate::engine::{SimDuration, SimTime};
use crate::metrics::Period;
use crate::sim::chunked::ChunkedVec;

/// Index of a request in the [`Slab`].
pub type ReqId = u32;

/// What the simulation remembers about a request in flight.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub arrived: SimTime,
    /// The worker process (cache, pool, slots) serving it: server × workers + worker.
    pub unit: u32,
    /// The server (for least-connections balancing).
    pub server: u32,
    /// Arrived after the warm-up, so it counts in the statistics.
    pub counted: bool,
    /// Start of the current fetch (its retry deadline runs from here).
    pub fetch_started: SimTime,
    /// Retries of the current fetch so far.
    pub retries: u32,
    /// The Redis command in flight, if any.
    pub redis_op: RedisOp,
    /// The version the request obtained (from Redis or the backend), then
    /// the version it was served.
    pub version: u64,
    /// Whether the last Redis command succeeded (hit, lock taken, released).
    pub redis_ok: bool,
    /// Holds the Redis lock, under this token.
    pub lock_token: Option<u64>,
    /// When it started trying to take the Redis lock.
    pub lock_since: SimTime,
    /// The closed-loop user who sent it (`u32::MAX`: an open arrival).
    pub user: u32,
    /// Its query, when there is a response cache and it missed
    /// (`u32::MAX`: none); the response is stored under it on success.
    pub key: u32,
    /// The user it is sent as, for client rate limiting.
    pub client: u32,
    /// The CDN forward request it answers (`u32::MAX`: a client's own).
    pub edge: u32,
    /// The database node its query goes to (0: the primary).
    pub db_node: u32,
    /// The expiry span whose fetches this request's count in
    /// ([`crate::sim::service::expiry::NO_SPAN`] if none).
    pub span: u32,
    /// `Lease`: the token it fetches under (0: none).
    pub lease: u64,
    /// `Lease`: it waited for another's lease at least once.
    pub lease_waited: bool,
    /// A cache refresh no client waits for (see `service/background.rs`).
    pub background: Background,
    /// What Redis's GET told it to do.
    pub shared: crate::sim::data::redis::SharedGet,
    /// A Redis lease token it fetches under (0: none).
    pub shared_token: u64,
    /// How long its backend fetch took (stored in Redis as XFetch's Δ).
    pub fetched_in: SimDuration,
    /// Its Redis command arrived during an outage (or found its pool full).
    pub redis_down: bool,
    /// The generation of its process's Redis pool its command's connection
    /// came from (`NO_CONNECTION`: its command has none).
    pub redis_conn: u32,
    /// What it met that explains its fate (a cold or expired cache).
    pub period: Period,
    /// The client's try: 0 for the first, k for retry k (`workload.client`).
    pub attempt: u32,
    /// The client's timeout timer, while the client waits.
    pub client_timer: Option<crate::engine::EventKey>,
    /// The client gave up on it; the service finishes it for nobody.
    pub abandoned: bool,
    /// Its response is serialised (or needs no serialising).
    pub encoded: bool,
    /// Its response is on the server's link (or there is no link to take).
    pub sent: bool,
    /// The OOM killer ended its process: whatever it still does, it fails.
    pub killed: bool,
    /// CPU it has used on its loop so far, full-core nanoseconds.
    pub cpu_ns: u64,
    /// A garbage collection held it back at least once.
    pub gc_delayed: bool,
    /// When its pool checkout began (while it opens a connection).
    pub pool_since: SimTime,
}

/// [`Request::redis_conn`] of a command that holds no connection.
pub const NO_CONNECTION: u32 = u32::MAX;

/// Whether a request is a refresh no client waits for, and of what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Background {
    /// A client's request.
    #[default]
    No,
    /// Refreshes its worker's in-memory cache.
    Local,
    /// Refreshes the Redis entry (stale-while-revalidate at Redis).
    Shared,
}

/// A command a request has sent to Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RedisOp {
    #[default]
    None,
    Get,
    LockTry,
    /// The GET a lock holder sends before fetching (`recheck`).
    Recheck,
    /// The GET a waiter sends at its blocking timeout (`recheck_on_give_up`).
    GiveUpCheck,
    Set,
    Release,
}

impl Request {
    /// A request arriving at `arrived` on `unit` of `server`.
    pub fn new(arrived: SimTime, unit: u32, server: u32, counted: bool) -> Request {
        Request {
            arrived,
            unit,
            server,
            counted,
            fetch_started: arrived,
            retries: 0,
            redis_op: RedisOp::None,
            redis_conn: NO_CONNECTION,
            version: 0,
            redis_ok: false,
            lock_token: None,
            lock_since: arrived,
            user: u32::MAX,
            key: u32::MAX,
            client: 0,
            edge: u32::MAX,
            db_node: 0,
            span: crate::sim::service::expiry::NO_SPAN,
            lease: 0,
            lease_waited: false,
            background: Background::No,
            shared: crate::sim::data::redis::SharedGet::Miss,
            shared_token: 0,
            fetched_in: SimDuration::ZERO,
            redis_down: false,
            period: Period::Other,
            attempt: 0,
            client_timer: None,
            abandoned: false,
            encoded: false,
            sent: false,
            killed: false,
            cpu_ns: 0,
            gc_delayed: false,
            pool_since: arrived,
        }
    }
}

/// A free-list arena: items in flight are addressed by a small index that
/// events can carry, and freed slots are reused.
#[derive(Debug)]
pub struct Slab<T> {
    items: ChunkedVec<T>,
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab { items: ChunkedVec::default(), free: Vec::new() }
    }
}

impl<T> Slab<T> {
    /// Stores `item`, reusing a free slot when there is one.
    #[inline]
    pub fn insert(&mut self, item: T) -> u32 {
        match self.free.pop() {
            Some(id) => {
                self.items[id as usize] = item;
                id
            }
            None => {
                let id = u32::try_from(self.items.len()).expect("fewer than 2^32 items in flight");
                self.items.push(item);
                id
            }
        }
    }

    /// Frees a slot (its item stays until the slot is reused).
    #[inline]
    pub fn remove(&mut self, id: u32) {
        self.free.push(id);
    }

    /// The ids in use, in increasing order (a scan of every slot: for rare
    /// events, never per event).
    pub fn live_ids(&self) -> Vec<u32> {
        let mut free = vec![false; self.items.len()];
        for &id in &self.free {
            free[id as usize] = true;
        }
        (0..self.items.len() as u32).filter(|&id| !free[id as usize]).collect()
    }

    /// The item at `id`.
    #[inline]
    pub fn get(&self, id: u32) -> &T {
        &self.items[id as usize]
    }

    /// The item at `id`, mutably.
    #[inline]
    pub fn get_mut(&mut self, id: u32) -> &mut T {
        &mut self.items[id as usize]
    }

    /// Hints that the item at `id` is read soon (see [`ChunkedVec::prefetch`]).
    #[inline]
    pub fn prefetch(&self, id: u32) {
        self.items.prefetch(id as usize);
    }
}
