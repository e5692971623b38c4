//! The migration daemon's decisions, kept apart from the kernel so they run as host
//! tests: how a page's hotness follows its accessed bit, which pages move where, the
//! per-scan budget, the bounds of the daemon's settings and the far tier's simulated
//! access cost.
//!
//! Owns no state: the kernel keeps each frame's hotness byte in its frame descriptor
//! (`buddy::FrameDesc`, in padding, so the estimate costs no memory) and the settings in
//! atomics. Nothing here may allocate or fail in a way the daemon would have to undo.

use wayos_abi::memtier::{
    POLICY_AUTO, POLICY_NEAR, SET_BUDGET_PAGES, SET_ENABLED, SET_PERIOD_MS, TIER_FAR, TIER_NEAR,
};

/// Hotness saturates here: a page needs this many quiet scans to cool from the top.
pub const HEAT_MAX: u8 = 3;
/// A far page at least this hot (accessed in two scans in a row) is promoted.
pub const HOT: u8 = 2;

/// Bounds of the settings (`wayos_abi::memtier::SET_*`).
pub const PERIOD_MS_MIN: u64 = 10;
pub const PERIOD_MS_MAX: u64 = 60_000;
pub const BUDGET_MIN: u64 = 1;
pub const BUDGET_MAX: u64 = 65_536;

/// Defaults: a scan a second, 256 pages (1 MiB) moved per scan at most.
pub const DEFAULT_PERIOD_MS: u32 = 1000;
pub const DEFAULT_BUDGET: u32 = 256;

/// Extra cost of a far access, in nanoseconds, when the firmware gives no latencies:
/// the gap between DDR (~80 ns) and CXL-attached memory (~250 ns) in published
/// measurements, rounded.
pub const DEFAULT_FAR_EXTRA_NS: u32 = 170;

/// The estimate after one scan: up by one when the page was accessed since the last
/// scan, down by one when it was not, within `0..=HEAT_MAX`. Garbage above `HEAT_MAX`
/// (a descriptor never written by the daemon) is treated as `HEAT_MAX`.
pub fn next_heat(heat: u8, accessed: bool) -> u8 {
    let heat = heat.min(HEAT_MAX);
    if accessed {
        (heat + 1).min(HEAT_MAX)
    } else {
        heat.saturating_sub(1)
    }
}

/// The hotness byte a frame descriptor keeps, updated once per scan however many page
/// tables map the frame (a CoW page after fork, a MAP_SHARED page): bits 0-1 the heat
/// after this scan, bits 2-3 the heat before it, bit 4 "accessed through some mapping this
/// scan", bits 5-7 the scan's number mod 8. A second mapping seen in the same scan
/// recomputes from the heat before the scan with the accesses of both, so a frame is
/// neither cooled twice nor warmed twice in one scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeatByte(pub u8);

impl HeatByte {
    const EPOCH_SHIFT: u32 = 5;
    const SEEN: u8 = 1 << 4;

    /// The heat after the last scan that saw the frame.
    pub fn heat(self) -> u8 {
        self.0 & 0b11
    }

    /// Folds in one mapping's accessed bit for scan number `scan`; returns the new byte
    /// and whether the frame counts as accessed this scan (through any mapping).
    pub fn observe(self, scan: u64, accessed: bool) -> (HeatByte, bool) {
        let tag = (scan % 8) as u8;
        // A tag equal to this scan's means another mapping of the frame was seen in it
        // (or, rarely, the frame was last seen exactly a multiple of 8 scans ago, when
        // the stale "before" costs one scan's worth of accuracy, never a wrong move
        // beyond the budget).
        let (before, acc) = if self.0 >> Self::EPOCH_SHIFT == tag {
            ((self.0 >> 2) & 0b11, self.0 & Self::SEEN != 0 || accessed)
        } else {
            (self.heat(), accessed)
        };
        let after = next_heat(before, acc);
        let seen = if acc { Self::SEEN } else { 0 };
        (
            HeatByte(tag << Self::EPOCH_SHIFT | seen | before << 2 | after),
            acc,
        )
    }
}

/// What to do with one page after its scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Stay,
    /// Far to near.
    Promote,
    /// Near to far.
    Demote,
}

/// The move for a page of a mapping with tier policy `policy` (`POLICY_*`, already
/// resolved from DEFAULT), now on `tier`, with hotness `heat` after this scan and
/// `accessed` this period. AUTO pages go where their hotness says; a NEAR page that fell
/// back to far (near was full) comes home once hot; FAR and INTERLEAVE pages stay where
/// the program asked.
pub fn decide(policy: u32, tier: u32, heat: u8, accessed: bool) -> Decision {
    let hot = heat >= HOT;
    match (policy, tier) {
        (POLICY_AUTO | POLICY_NEAR, TIER_FAR) if hot => Decision::Promote,
        (POLICY_AUTO, TIER_NEAR) if heat == 0 && !accessed => Decision::Demote,
        _ => Decision::Stay,
    }
}

/// Moves left in one scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget(u32);

impl Budget {
    pub fn new(pages: u32) -> Self {
        Budget(pages)
    }
    /// Takes one move; false when the scan has spent its budget.
    pub fn take(&mut self) -> bool {
        match self.0.checked_sub(1) {
            Some(left) => {
                self.0 = left;
                true
            }
            None => false,
        }
    }
    pub fn left(&self) -> u32 {
        self.0
    }
}

/// Why `memtier_set` refuses a daemon setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetError {
    /// Not a daemon setting (`SET_DEFAULT_POLICY` is the placement code's).
    UnknownParam,
    OutOfRange,
}

/// `value` checked against the bounds of daemon setting `param`, as the `u32` stored.
pub fn check_setting(param: u32, value: u64) -> Result<u32, SetError> {
    let (lo, hi) = match param {
        SET_ENABLED => (0, 1),
        SET_PERIOD_MS => (PERIOD_MS_MIN, PERIOD_MS_MAX),
        SET_BUDGET_PAGES => (BUDGET_MIN, BUDGET_MAX),
        _ => return Err(SetError::UnknownParam),
    };
    if (lo..=hi).contains(&value) {
        // In range means at most 65 536.
        Ok(value as u32)
    } else {
        Err(SetError::OutOfRange)
    }
}

/// The simulated extra cost of one access to a far page, from the firmware's read
/// latencies (`TierInfo::read_latency_ns`, 0 when not given): the far tier's excess over
/// near when both are given and far is slower, else [`DEFAULT_FAR_EXTRA_NS`].
pub fn far_access_cost_ns(near_read_ns: u32, far_read_ns: u32) -> u32 {
    if near_read_ns != 0 && far_read_ns > near_read_ns {
        far_read_ns - near_read_ns
    } else if near_read_ns == 0 && far_read_ns != 0 {
        far_read_ns
    } else {
        DEFAULT_FAR_EXTRA_NS
    }
}

/// Simulated nanoseconds for `far_accesses` charged accesses at `cost_ns` each,
/// saturating instead of wrapping.
pub fn charged_ns(far_accesses: u64, cost_ns: u32) -> u64 {
    far_accesses.saturating_mul(cost_ns as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wayos_abi::memtier::{POLICY_DEFAULT, POLICY_FAR, POLICY_INTERLEAVE};

    #[test]
    fn heat_rises_and_falls_within_bounds() {
        let mut h = 0;
        for expect in [1, 2, 3, 3, 3] {
            h = next_heat(h, true);
            assert_eq!(h, expect);
        }
        for expect in [2, 1, 0, 0] {
            h = next_heat(h, false);
            assert_eq!(h, expect);
        }
        assert_eq!(next_heat(200, false), HEAT_MAX - 1);
        assert_eq!(next_heat(255, true), HEAT_MAX);
    }

    #[test]
    fn a_page_touched_every_scan_is_promoted_after_two() {
        // Simulate the daemon: a far AUTO page accessed every period.
        let mut h = 0;
        let mut scans = 0;
        loop {
            scans += 1;
            h = next_heat(h, true);
            if decide(POLICY_AUTO, TIER_FAR, h, true) == Decision::Promote {
                break;
            }
            assert!(scans < 10);
        }
        assert_eq!(scans, HOT as usize);
    }

    #[test]
    fn decisions_follow_policy() {
        // Hot far page: AUTO and NEAR (fallen back) come up, the rest stay.
        for (policy, want) in [
            (POLICY_AUTO, Decision::Promote),
            (POLICY_NEAR, Decision::Promote),
            (POLICY_FAR, Decision::Stay),
            (POLICY_INTERLEAVE, Decision::Stay),
            (POLICY_DEFAULT, Decision::Stay),
        ] {
            assert_eq!(decide(policy, TIER_FAR, HEAT_MAX, true), want, "{policy}");
        }
        // Cold near page: only AUTO goes down.
        for policy in [POLICY_NEAR, POLICY_FAR, POLICY_INTERLEAVE, POLICY_DEFAULT] {
            assert_eq!(decide(policy, TIER_NEAR, 0, false), Decision::Stay);
        }
        assert_eq!(decide(POLICY_AUTO, TIER_NEAR, 0, false), Decision::Demote);
        // Warm or just touched: stays.
        assert_eq!(decide(POLICY_AUTO, TIER_NEAR, 1, false), Decision::Stay);
        assert_eq!(decide(POLICY_AUTO, TIER_NEAR, 0, true), Decision::Stay);
        assert_eq!(decide(POLICY_AUTO, TIER_FAR, HOT - 1, true), Decision::Stay);
        // A hot near page and a cold far page are where they belong.
        assert_eq!(
            decide(POLICY_AUTO, TIER_NEAR, HEAT_MAX, true),
            Decision::Stay
        );
        assert_eq!(decide(POLICY_AUTO, TIER_FAR, 0, false), Decision::Stay);
        // Unknown tiers and policies never move.
        assert_eq!(decide(POLICY_AUTO, 7, HEAT_MAX, true), Decision::Stay);
        assert_eq!(decide(99, TIER_FAR, HEAT_MAX, true), Decision::Stay);
    }

    #[test]
    fn heat_byte_counts_a_frame_once_per_scan() {
        // One mapping, accessed every scan: as next_heat.
        let mut b = HeatByte(0);
        for scan in 1..=4u64 {
            b = b.observe(scan, true).0;
        }
        assert_eq!(b.heat(), HEAT_MAX);
        // Two mappings (CoW after fork): one quiet, one accessed, in the same scan:
        // warms once, whatever the order.
        for order in [[false, true], [true, false]] {
            let start = HeatByte(0).observe(10, true).0; // heat 1 after scan 10
            assert_eq!(start.heat(), 1);
            let (b1, _) = start.observe(11, order[0]);
            let (b2, acc) = b1.observe(11, order[1]);
            assert!(acc);
            assert_eq!(b2.heat(), 2, "{order:?}");
        }
        // Both quiet: cools once, not twice.
        let start = HeatByte(0).observe(20, true).0.observe(21, true).0; // heat 2
        let (b1, _) = start.observe(22, false);
        let (b2, acc) = b1.observe(22, false);
        assert!(!acc);
        assert_eq!(b2.heat(), 1);
        // The next scan starts from there.
        assert_eq!(b2.observe(23, false).0.heat(), 0);
        // A fresh frame (byte 0) in a scan whose tag is 0 behaves as fresh.
        assert_eq!(HeatByte(0).observe(8, true).0.heat(), 1);
        assert_eq!(HeatByte(0).observe(16, false).0.heat(), 0);
    }

    #[test]
    fn budget_counts_down_and_stops() {
        let mut b = Budget::new(3);
        assert!(b.take() && b.take() && b.take());
        assert!(!b.take());
        assert_eq!(b.left(), 0);
        assert!(!Budget::new(0).take());
    }

    #[test]
    fn settings_bounds() {
        assert_eq!(check_setting(SET_ENABLED, 0), Ok(0));
        assert_eq!(check_setting(SET_ENABLED, 1), Ok(1));
        assert_eq!(check_setting(SET_ENABLED, 2), Err(SetError::OutOfRange));
        assert_eq!(check_setting(SET_PERIOD_MS, 9), Err(SetError::OutOfRange));
        assert_eq!(check_setting(SET_PERIOD_MS, 10), Ok(10));
        assert_eq!(check_setting(SET_PERIOD_MS, 60_000), Ok(60_000));
        assert_eq!(
            check_setting(SET_PERIOD_MS, 60_001),
            Err(SetError::OutOfRange)
        );
        assert_eq!(
            check_setting(SET_BUDGET_PAGES, 0),
            Err(SetError::OutOfRange)
        );
        assert_eq!(check_setting(SET_BUDGET_PAGES, 65_536), Ok(65_536));
        assert_eq!(
            check_setting(SET_BUDGET_PAGES, u64::MAX),
            Err(SetError::OutOfRange)
        );
        // Truncation must not sneak a huge value into range.
        assert_eq!(
            check_setting(SET_BUDGET_PAGES, (1 << 32) + 5),
            Err(SetError::OutOfRange)
        );
        assert_eq!(check_setting(3, 1), Err(SetError::UnknownParam));
        assert_eq!(check_setting(u32::MAX, 1), Err(SetError::UnknownParam));
    }

    #[test]
    fn far_cost_follows_firmware_latencies() {
        assert_eq!(far_access_cost_ns(100, 350), 250);
        assert_eq!(far_access_cost_ns(0, 300), 300);
        assert_eq!(far_access_cost_ns(0, 0), DEFAULT_FAR_EXTRA_NS);
        // Far not slower than near (a flat table): the default, never a zero or a wrap.
        assert_eq!(far_access_cost_ns(200, 200), DEFAULT_FAR_EXTRA_NS);
        assert_eq!(far_access_cost_ns(300, 100), DEFAULT_FAR_EXTRA_NS);
        assert_eq!(charged_ns(10, 170), 1700);
        assert_eq!(charged_ns(u64::MAX, 2), u64::MAX);
    }
}
