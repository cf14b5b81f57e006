//! A server's CPU cores, shared by its worker processes. While no more
//! processes compute than there are cores, each runs at full speed; beyond
//! that they share the cores equally, as the OS scheduler does (processor
//! sharing: each of n gets cores/n of a core).

use crate::engine::SimTime;

/// One server's cores and the processes computing on them now.
#[derive(Debug, Clone, Copy)]
pub struct Cores {
    pub cores: u32,
    /// Processes with a job on the CPU.
    pub active: u32,
    /// When `active` last changed (the running jobs' `remaining` is as of then).
    pub since: SimTime,
}

impl Cores {
    pub fn new(cores: u32) -> Cores {
        Cores { cores, active: 0, since: SimTime::ZERO }
    }

    /// Whether the processes slow each other now.
    pub fn shared(&self) -> bool {
        self.active > self.cores
    }

    /// Work (full-core nanoseconds) one process does in `elapsed` now.
    pub fn progress(&self, elapsed: u64) -> u64 {
        if self.shared() {
            (u128::from(elapsed) * u128::from(self.cores) / u128::from(self.active)) as u64
        } else {
            elapsed
        }
    }

    /// Time one process takes for `work` at the present share, rounded up.
    pub fn time_for(&self, work: u64) -> u64 {
        if self.shared() {
            let (n, c) = (u128::from(self.active), u128::from(self.cores));
            (u128::from(work) * n).div_ceil(c).min(u128::from(u64::MAX / 2)) as u64
        } else {
            work
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_share_the_cores_only_beyond_their_number() {
        let mut c = Cores::new(2);
        c.active = 2;
        assert_eq!((c.progress(1000), c.time_for(1000)), (1000, 1000));
        c.active = 3;
        // Each of 3 on 2 cores runs at 2/3 speed.
        assert_eq!(c.progress(900), 600);
        assert_eq!(c.time_for(600), 900);
        assert_eq!(c.time_for(1), 2, "rounded up, never early");
    }
}
