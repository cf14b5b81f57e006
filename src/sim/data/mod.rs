//! Where the data comes from: the backend and its token bucket, the data's
//! versions, Redis (its state, each process's connections, a request's way
//! through it), and the database (pools, PgBouncer, replicas).

pub mod backend;
pub mod database;
pub mod pool;
pub mod redis;
pub mod redis_clients;
pub mod shared;
pub mod token_bucket;
pub mod versions;
