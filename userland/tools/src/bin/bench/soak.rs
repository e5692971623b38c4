//! The cycle soaker shared by the figures that wait for the host (network, disks): what
//! they count is every guest instruction the work costs and none spent waiting. Under
//! `-icount ... sleep=off` an idle guest's clock jumps to its next timer, so the plain
//! elapsed counter would mostly measure the host's latency. Instead a thread in the idle
//! class spins while the benchmark runs (netperf's cycle-soak method): whenever nothing
//! else can run, it does, counting its loops; its instructions per loop are calibrated
//! first on an otherwise quiet system, and a figure is the elapsed ticks less the
//! soaker's. The Linux reference does the same with a `SCHED_IDLE` soaker
//! (`tools/linuxbench/netbench.c`).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use libway::abi::sched;
use libway::{process, thread, time};

const CALIBRATE_MS: u64 = 300;

static SOAKED: AtomicU64 = AtomicU64::new(0);
static STOP: AtomicBool = AtomicBool::new(false);

/// The soaker: the lowest class, counting loops until told to stop.
fn soak() {
    let _ = process::set_priority(sched::IDLE);
    let mut n = 0u64;
    while !STOP.load(Ordering::Relaxed) {
        n = n.wrapping_add(1);
        SOAKED.store(n, Ordering::Relaxed);
    }
}

/// A counter reading and the soaker's loops at that moment.
#[derive(Clone, Copy)]
pub struct Mark {
    ticks: u64,
    soaked: u64,
}

pub fn mark() -> Mark {
    Mark {
        soaked: SOAKED.load(Ordering::Relaxed),
        ticks: super::now(),
    }
}

/// Counter ticks per soaker loop, as a fraction (ticks, loops).
pub struct Rate(u64, u64);

impl Rate {
    /// Ticks from `a` to `b` that were not the soaker's.
    pub fn busy(&self, a: Mark, b: Mark) -> u64 {
        let elapsed = b.ticks - a.ticks;
        let soaked = (u128::from(b.soaked - a.soaked) * u128::from(self.0)
            / u128::from(self.1.max(1))) as u64;
        elapsed.saturating_sub(soaked)
    }
}

/// A running, calibrated soaker; [`Soaker::stop`] ends it.
pub struct Soaker {
    handle: thread::JoinHandle<()>,
    pub rate: Rate,
}

impl Soaker {
    /// Starts the soaker and calibrates it. `Err` says why no figure can be made.
    pub fn start() -> Result<Soaker, alloc::string::String> {
        STOP.store(false, Ordering::Relaxed);
        let handle = thread::spawn(soak).map_err(|e| alloc::format!("soaker thread: {e}"))?;
        // Calibrate: nothing but the soaker (and the timer) runs while this thread sleeps.
        let _ = time::sleep_ms(20);
        let a = mark();
        let _ = time::sleep_ms(CALIBRATE_MS);
        let b = mark();
        let rate = Rate(b.ticks - a.ticks, b.soaked - a.soaked);
        let s = Soaker { handle, rate };
        if s.rate.1 == 0 {
            s.stop();
            return Err("the soaker never ran".into());
        }
        Ok(s)
    }

    pub fn stop(self) {
        STOP.store(true, Ordering::Relaxed);
        let _ = self.handle.join();
    }
}
