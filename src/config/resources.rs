//! A server's memory and its network link: the two other things the seed
//! note expects to fail first ("Memory for cache", "Network bandwidth").

use serde::{Deserialize, Serialize};

/// What a worker process holds in memory, and the server's limit.
///
/// A process holds `process_bytes` (the interpreter, the framework, the
/// drivers), the dataset once its cache is filled (`backend.payload_bytes`
/// × `parsed_factor`: the cache holds Python objects, not JSON text),
/// each response-cache entry (`servers.response_bytes` each), and each
/// response body from its serialisation until its last byte has left on the
/// server's link. A server holds the sum over its worker processes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    /// Bytes an idle worker process holds (its RSS before the first
    /// request). Default 67,000,000: a uvicorn worker running FastAPI with
    /// SQLAlchemy and asyncpg, measured idle (65,980 KiB; see
    /// docs/real-systems.md).
    #[serde(default = "process_bytes")]
    pub process_bytes: u64,
    /// Bytes of Python objects per byte of the JSON they were parsed from.
    /// Default 2.8: CPython 3.11's `json.loads` of 200 employee records
    /// (50 kB) holds 2.79 times their text (tracemalloc; 0 to 100).
    #[serde(default = "parsed_factor")]
    pub parsed_factor: f64,
    /// Bytes a server may hold (a container's memory limit, a cgroup's
    /// `memory.max`). Past it the kernel's OOM killer ends the server's
    /// largest process: its requests in flight fail (`oom_killed`) and it
    /// starts again at once with empty caches. Absent (default): no limit.
    #[serde(default)]
    pub limit_bytes: Option<u64>,
}

fn process_bytes() -> u64 {
    67_000_000
}

fn parsed_factor() -> f64 {
    2.8
}

impl Default for Memory {
    fn default() -> Memory {
        Memory { process_bytes: process_bytes(), parsed_factor: parsed_factor(), limit_bytes: None }
    }
}

/// A server's network link, full duplex: responses leave on it and fetched
/// payloads arrive on it, each direction one transfer at a time in FIFO
/// order at `bytes_per_s`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Bytes per second each way, as the interface's line rate: 1 Gbit/s
    /// is `125e6`, 10 Gbit/s `1.25e9`. A transfer of `n` bytes of payload
    /// takes `n × 1538 / 1448` bytes on the wire (Ethernet framing and
    /// gap, IP and TCP headers with timestamps, at a 1448-byte MSS).
    pub bytes_per_s: f64,
}

/// Bytes on an Ethernet wire per byte of TCP payload: a full frame carries
/// 1448 bytes of payload (MSS 1500 − 20 IP − 32 TCP with timestamps) in
/// 1538 (with the preamble, the frame check and the inter-frame gap).
pub const WIRE_PER_PAYLOAD: f64 = 1538.0 / 1448.0;
