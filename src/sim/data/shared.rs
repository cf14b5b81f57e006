//! A request's way through Redis: GET; on a miss, the lock (if any) and the
//! backend fetch; then SETEX and the lock's release. Every command costs a
//! round trip and a turn on Redis's single thread.
//!
//! ```text
//! GET hit -------------------------------------------------> filled
//! GET miss -> [SET NX PX, polling every `sleep`] -> fetch -> SETEX -> [release] -> filled
//!                                   `-> [recheck: GET hit -> release] -> filled
//! ```

use rand::RngExt;

use crate::config::{GiveUp, SharedRefresh, WhenDown};
use crate::engine::{EventQueue, SimDuration, SimTime};
use crate::metrics::{Cause, Period, Phase};
use crate::sim::process::AfterCpu;

use crate::sim::data::redis::SharedGet;
use crate::sim::data::redis_clients::Take;
use crate::sim::request::{NO_CONNECTION, RedisOp, ReqId};
use crate::sim::world::{Event, World};

impl World {
    /// Sends `op` for request `id` on a connection from its process's pool:
    /// it reaches Redis after half a round trip, and after connecting if
    /// the connection is new. With the pool full it fails at once, as a
    /// connection error.
    fn send(&mut self, q: &mut EventQueue<Event>, id: ReqId, op: RedisOp) {
        let redis = self.redis.as_mut().expect("a Redis command needs Redis");
        let req = self.requests.get_mut(id);
        req.redis_op = op;
        let clients = &mut self.units[req.unit as usize].redis_clients;
        let connect = match clients.take(redis.max_connections) {
            Take::Idle => SimDuration::ZERO,
            Take::Open => {
                let d = redis.open_connection();
                if req.counted {
                    self.stats.redis_connects.add(d);
                }
                d
            }
            Take::Full => {
                self.stats.redis_max_connections_errors += u64::from(req.counted);
                req.redis_down = true;
                q.schedule_in(SimDuration::ZERO, Event::RedisReply(id));
                return;
            }
        };
        req.redis_conn = clients.generation;
        let there = redis.half_rtt();
        self.phase(q.now(), id, Phase::Redis);
        q.schedule_in(connect.saturating_add(there), Event::RedisArrive(id));
    }

    /// The reply is back: its connection returns to its pool, or closes
    /// if the command failed on it.
    fn connection_back(&mut self, id: ReqId) {
        let req = self.requests.get_mut(id);
        let generation = std::mem::replace(&mut req.redis_conn, NO_CONNECTION);
        if generation == NO_CONNECTION {
            return;
        }
        if self.units[req.unit as usize].redis_clients.give_back(generation, req.redis_down) {
            self.redis.as_mut().expect("Redis").close_connections(1);
        }
    }

    /// Looks the data up in Redis (on an in-memory miss, or with no
    /// in-memory cache). `Err` if the request fails at once.
    pub(in crate::sim) fn redis_get(&mut self, q: &mut EventQueue<Event>, id: ReqId) -> Result<(), Cause> {
        let now = q.now();
        let redis = self.redis.as_ref().expect("redis_get needs Redis");
        if redis.is_down(now) {
            return match redis.when_down {
                WhenDown::Backend => self.start_backend_fetch(q, id),
                WhenDown::Fail => Err(Cause::RedisUnavailable),
            };
        }
        self.send(q, id, RedisOp::Get);
        Ok(())
    }

    /// A command reaches Redis: it is executed in turn, and the reply
    /// travels back.
    pub(in crate::sim) fn on_redis_arrive(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let now = q.now();
        let req = *self.requests.get(id);
        let redis = self.redis.as_mut().expect("Redis");
        // Sent before an outage began: the connection fails, and the reply
        // says so.
        if redis.is_down(now) {
            let back = redis.half_rtt();
            self.requests.get_mut(id).redis_down = true;
            q.schedule_in(back, Event::RedisReply(id));
            return;
        }
        let done = redis.execute_at(now);
        let (ok, version, token) = match req.redis_op {
            RedisOp::Get => {
                let u = match redis.refresh {
                    SharedRefresh::XFetch { .. } => 1.0 - self.early_rng.random::<f64>(),
                    _ => 1.0,
                };
                let empty = redis.is_empty();
                let reply = redis.get(done, u);
                if reply.kind != SharedGet::Hit {
                    let met = if empty { Period::ColdStart } else { Period::AfterExpiry };
                    self.requests.get_mut(id).period.mark(met);
                }
                let refreshes = matches!(
                    reply.kind,
                    SharedGet::Miss | SharedGet::Early | SharedGet::Token | SharedGet::StaleRefresh
                );
                if refreshes {
                    let span = *redis.open_expiry.get_or_insert_with(|| self.spans.open());
                    self.spans.enter(&mut self.requests.get_mut(id).span, span);
                }
                let r = self.requests.get_mut(id);
                (r.shared, r.shared_token) = (reply.kind, reply.token);
                let served = matches!(reply.kind, SharedGet::Hit | SharedGet::Stale | SharedGet::StaleRefresh);
                let has_value = served || reply.kind == SharedGet::Early;
                (served, if has_value { reply.version } else { req.version }, req.lock_token)
            }
            RedisOp::LockTry => {
                let token = redis.try_lock(done);
                (token.is_some(), req.version, token)
            }
            RedisOp::Recheck | RedisOp::GiveUpCheck => {
                let reply = redis.get(done, 1.0);
                let hit = matches!(reply.kind, SharedGet::Hit | SharedGet::Early);
                (hit, if hit { reply.version } else { req.version }, req.lock_token)
            }
            RedisOp::Set => {
                if let Some(span) = redis.set(done, req.version, req.fetched_in, req.shared_token) {
                    self.stats.fill(done);
                    self.spans.close(span, self.stats.measuring(done), &mut self.stats);
                }
                if let SharedRefresh::Background { ahead } = redis.refresh {
                    let at = SimTime(redis.expiry().expect("just set").0.saturating_sub(ahead.nanos()));
                    q.schedule_at(at.max(done), Event::SharedRefreshDue);
                }
                (true, req.version, req.lock_token)
            }
            RedisOp::Release => {
                let released = redis.release(done, req.lock_token.unwrap_or(0));
                (released, req.version, None)
            }
            RedisOp::None => unreachable!("a command was sent"),
        };
        let back = redis.half_rtt();
        let r = self.requests.get_mut(id);
        (r.redis_ok, r.version, r.lock_token) = (ok, version, token);
        q.schedule_at(done.after(back), Event::RedisReply(id));
    }

    /// A reply is back at the worker.
    pub(in crate::sim) fn on_redis_reply(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let now = q.now();
        self.connection_back(id);
        let req = *self.requests.get(id);
        if req.redis_down {
            self.requests.get_mut(id).redis_down = false;
            return self.redis_command_failed(q, id);
        }
        if req.redis_op == RedisOp::Get && !req.lease_waited && self.units[req.unit as usize].cache.is_none() {
            match req.shared {
                SharedGet::Hit => {}
                SharedGet::Early => self.stats.early_recomputes += u64::from(req.counted),
                _ => self.stats.cache_missed(q.now(), req.counted),
            }
        }
        let result = match req.redis_op {
            RedisOp::Get if req.shared == SharedGet::HotMiss => {
                let SharedRefresh::Lease { retry, .. } = self.redis.as_ref().expect("Redis").refresh else {
                    unreachable!("only leases answer a hot miss")
                };
                self.requests.get_mut(id).lease_waited = true;
                self.phase(now, id, Phase::LockWait);
                q.schedule_in(retry.0, Event::SharedLeaseRetry(id));
                Ok(())
            }
            RedisOp::Get if req.redis_ok => {
                if req.counted {
                    if req.shared != SharedGet::Hit {
                        self.stats.stale_served += 1;
                    } else if req.lease_waited {
                        self.stats.coalesced += 1;
                    } else {
                        self.count_redis_hit(req.unit);
                    }
                }
                if req.shared == SharedGet::StaleRefresh {
                    self.start_shared_refresh(q, req.unit);
                }
                return self.obtained_via_redis(q, id);
            }
            RedisOp::Get if req.shared == SharedGet::Token => self.start_backend_fetch(q, id),
            RedisOp::Get if self.redis.as_ref().is_some_and(|r| r.has_lock) => {
                self.requests.get_mut(id).lock_since = now;
                self.send(q, id, RedisOp::LockTry);
                Ok(())
            }
            RedisOp::Get => self.start_backend_fetch(q, id),
            // An XFetch recompute is meant to replace a fresh value: no recheck.
            RedisOp::LockTry
                if req.redis_ok && req.shared != SharedGet::Early && self.redis.as_ref().is_some_and(|r| r.recheck) =>
            {
                self.send(q, id, RedisOp::Recheck);
                Ok(())
            }
            RedisOp::LockTry if req.redis_ok => self.start_backend_fetch(q, id),
            // Another holder filled it while this one waited: no fetch.
            RedisOp::Recheck if req.redis_ok => {
                self.stats.coalesced += u64::from(req.counted);
                self.send(q, id, RedisOp::Release);
                Ok(())
            }
            RedisOp::Recheck => self.start_backend_fetch(q, id),
            // The holder filled Redis while this one waited: served that.
            RedisOp::GiveUpCheck if req.redis_ok => {
                self.stats.coalesced += u64::from(req.counted);
                return self.obtained_via_redis(q, id);
            }
            RedisOp::GiveUpCheck => self.give_up(q, id),
            // XFetch under the lock: another holder recomputes already, and
            // this reader has a fresh value.
            RedisOp::LockTry if req.shared == SharedGet::Early => {
                if req.counted {
                    self.count_redis_hit(req.unit);
                }
                return self.obtained_via_redis(q, id);
            }
            RedisOp::LockTry => self.lock_wait(q, id),
            RedisOp::Set if req.lock_token.is_some() => {
                self.send(q, id, RedisOp::Release);
                Ok(())
            }
            RedisOp::Set => return self.obtained_via_redis(q, id),
            RedisOp::Release if req.redis_ok => return self.obtained_via_redis(q, id),
            RedisOp::Release => Err(Cause::LockNotOwned),
            RedisOp::None => unreachable!("a command was sent"),
        };
        if let Err(cause) = result {
            self.fetch_failed(q, id, cause);
        }
    }

    /// The request has the version its Redis exchange left it
    /// (`req.version`), since it started getting the data.
    fn obtained_via_redis(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        // The worker parses the value it read on its event loop.
        let work = SimDuration(self.cpu.decode);
        self.compute(q, id, work, AfterCpu::FromRedis);
    }

    /// The value read from Redis is parsed: serve it.
    pub(in crate::sim) fn redis_decoded(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let req = self.requests.get(id);
        let (version, took) = (req.version, q.now().since(req.fetch_started));
        self.obtained(q, id, version, took);
    }

    /// A measured Redis hit: the first cache's hit when the worker has no
    /// in-memory cache, else a hit behind it.
    fn count_redis_hit(&mut self, unit: u32) {
        if self.units[unit as usize].cache.is_none() {
            self.stats.hits += 1;
        } else {
            self.stats.remote_hits += 1;
        }
    }

    /// A command found Redis down. With `when_down: Backend` the request
    /// carries on without Redis (a lookup or lock becomes a backend fetch, a
    /// store or release is skipped); with `Fail` it fails.
    fn redis_command_failed(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        let req = *self.requests.get(id);
        let result = match self.redis.as_ref().expect("Redis").when_down {
            WhenDown::Fail => Err(Cause::RedisUnavailable),
            WhenDown::Backend => match req.redis_op {
                RedisOp::Get | RedisOp::LockTry | RedisOp::Recheck | RedisOp::GiveUpCheck => {
                    self.start_backend_fetch(q, id)
                }
                RedisOp::Set | RedisOp::Release => {
                    self.requests.get_mut(id).lock_token = None;
                    return self.obtained_via_redis(q, id);
                }
                RedisOp::None => unreachable!("a command was sent"),
            },
        };
        if let Err(cause) = result {
            self.fetch_failed(q, id, cause);
        }
    }

    /// The lock is taken: sleep and try again, or give up at the blocking
    /// timeout (redis-py gives up before a retry that would start past it).
    fn lock_wait(&mut self, q: &mut EventQueue<Event>, id: ReqId) -> Result<(), Cause> {
        let now = q.now();
        let req = *self.requests.get(id);
        let redis = self.redis.as_ref().expect("Redis");
        let past_deadline = redis.blocking_timeout.is_some_and(|b| now.after(redis.sleep) > req.lock_since.after(b));
        if !past_deadline {
            let sleep = redis.sleep;
            self.phase(now, id, Phase::LockWait);
            q.schedule_in(sleep, Event::LockRetry(id));
            return Ok(());
        }
        self.stats.lock_timeouts += u64::from(req.counted);
        if redis.recheck_on_give_up {
            self.send(q, id, RedisOp::GiveUpCheck);
            return Ok(());
        }
        self.give_up(q, id)
    }

    /// The waiter gives up on the lock, as `on_give_up` says.
    fn give_up(&mut self, q: &mut EventQueue<Event>, id: ReqId) -> Result<(), Cause> {
        let req = *self.requests.get(id);
        let redis = self.redis.as_mut().expect("Redis");
        match redis.on_give_up {
            GiveUp::Fail => Err(Cause::LockTimeout),
            GiveUp::FetchAnyway => {
                redis.fallback_fetches += 1;
                self.start_backend_fetch(q, id)
            }
            GiveUp::ServeStale => {
                let unit = req.unit as usize;
                let stale = self.units[unit].cache.as_ref().filter(|c| c.expires_at.is_some()).map(|c| c.version);
                match stale {
                    Some(version) => {
                        if req.counted {
                            self.stats.stale_served += 1;
                        }
                        self.served_stale_after_wait(q, id, version);
                        Ok(())
                    }
                    None => Err(Cause::LockTimeout),
                }
            }
        }
    }

    /// A reader told to wait for another's lease GETs again.
    pub(in crate::sim) fn on_shared_lease_retry(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        if let Err(cause) = self.redis_get(q, id) {
            self.fetch_failed(q, id, cause);
        }
    }

    pub(in crate::sim) fn on_lock_retry(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        self.send(q, id, RedisOp::LockTry);
    }

    /// A backend fetch made on Redis's behalf completed: store it with SETEX.
    pub(in crate::sim) fn redis_store(&mut self, q: &mut EventQueue<Event>, id: ReqId, version: u64) {
        let now = q.now();
        let req = self.requests.get_mut(id);
        // XFetch's Δ, stored with the value: the recompute as the worker
        // timed it.
        (req.version, req.fetched_in) = (version, now.since(req.fetch_started));
        // The worker serialises the value for Redis on its event loop.
        let work = SimDuration(self.cpu.encode_payload);
        self.compute(q, id, work, AfterCpu::ToRedis);
    }

    /// The value is serialised: SET it.
    pub(in crate::sim) fn redis_encoded(&mut self, q: &mut EventQueue<Event>, id: ReqId) {
        self.send(q, id, RedisOp::Set);
    }
}
