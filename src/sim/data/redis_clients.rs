//! Each process's pool of Redis connections, as redis-py's asyncio
//! `ConnectionPool` keeps them (redis/asyncio/connection.py,
//! `get_available_connection` and `release`): a command takes the most
//! recently returned idle connection, or opens a new one if fewer than
//! `max_connections` are in use, else fails with `MaxConnectionsError`.
//! A connection is held for one command (send, then read the reply) and
//! stays open afterwards; one whose command failed with a connection error
//! is closed. A restart or an OOM kill ends the process and its pool.

/// What a command gets from its process's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// An idle, open connection.
    Idle,
    /// A new connection, which must connect first.
    Open,
    /// None: `max_connections` are in use (`MaxConnectionsError`).
    Full,
}

/// One process's Redis connections.
#[derive(Debug, Clone, Default)]
pub struct RedisClients {
    /// Which process this pool belongs to: a restart starts a new one, and
    /// a connection of an earlier one closes when its command returns.
    pub generation: u32,
    idle: u32,
    in_use: u32,
}

impl RedisClients {
    /// A command takes a connection (see [`Take`]).
    pub fn take(&mut self, max: u32) -> Take {
        if self.idle > 0 {
            self.idle -= 1;
            self.in_use += 1;
            Take::Idle
        } else if self.in_use < max {
            self.in_use += 1;
            Take::Open
        } else {
            Take::Full
        }
    }

    /// A command of `generation` is done with its connection: it goes back
    /// idle, or is closed (`close`: its command failed). Returns whether a
    /// connection of this pool closed. A connection of an ended process
    /// closed with it.
    pub fn give_back(&mut self, generation: u32, close: bool) -> bool {
        if generation != self.generation {
            return false;
        }
        self.in_use -= 1;
        if !close {
            self.idle += 1;
        }
        close
    }

    /// The process ended: its connections are gone. Returns how many were open.
    pub fn end(&mut self) -> u32 {
        let open = self.open();
        // Never `NO_CONNECTION` (u32::MAX).
        self.generation = (self.generation + 1) % u32::MAX;
        (self.idle, self.in_use) = (0, 0);
        open
    }

    /// Connections open now, idle or in use.
    pub fn open(&self) -> u32 {
        self.idle + self.in_use
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two commands at once open two connections; afterwards both are idle
    /// and a third command reuses one; past `max_connections` in use a
    /// command gets none.
    #[test]
    fn a_pool_opens_only_past_its_idle_connections_and_refuses_past_max() {
        let mut p = RedisClients::default();
        assert_eq!(p.take(2), Take::Open);
        assert_eq!(p.take(2), Take::Open);
        assert_eq!(p.take(2), Take::Full);
        assert!(!p.give_back(0, false));
        assert_eq!(p.take(2), Take::Idle);
        assert_eq!(p.open(), 2);
    }

    /// A connection whose command failed is closed; one of an ended
    /// process changes nothing in the new process's pool.
    #[test]
    fn failed_and_orphaned_connections_do_not_return_idle() {
        let mut p = RedisClients::default();
        p.take(10);
        p.take(10);
        assert!(p.give_back(0, true));
        assert_eq!(p.open(), 1);
        assert_eq!(p.end(), 1);
        assert!(!p.give_back(0, false));
        assert_eq!(p.open(), 0);
        assert_eq!(p.take(10), Take::Open);
    }
}
