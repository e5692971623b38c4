//! Tier placement decisions: which policy applies to a page, and which tier it asks for.
//!
//! Owns the rule, not the memory: the kernel's `mm::placement` calls these and does the
//! allocating, the fallback and the counting. A policy is one of `memtier::POLICY_*`;
//! anything else is refused at the syscall boundary and never reaches here, but these
//! functions still give an answer for any `u32` (near), so a bad value cannot panic.

use wayos_abi::memtier::{
    POLICY_AUTO, POLICY_COUNT, POLICY_DEFAULT, POLICY_FAR, POLICY_INTERLEAVE, POLICY_NEAR,
    TIER_FAR, TIER_NEAR,
};

/// A policy a mapping may carry (`mmap` bits, `mem_advise`): default included.
pub const fn valid_mapping_policy(policy: u32) -> bool {
    policy < POLICY_COUNT
}

/// A policy a process or the system may default to (`mem_policy`: default means "follow
/// the system"; the system default itself must name a real policy).
pub const fn valid_system_policy(policy: u32) -> bool {
    policy != POLICY_DEFAULT && policy < POLICY_COUNT
}

/// The policy in force for a page: the mapping's, else the process's, else the system's
/// (near when even that is unset or bad).
pub const fn effective(mapping: u32, process: u32, system: u32) -> u32 {
    if mapping != POLICY_DEFAULT && mapping < POLICY_COUNT {
        mapping
    } else if process != POLICY_DEFAULT && process < POLICY_COUNT {
        process
    } else if valid_system_policy(system) {
        system
    } else {
        POLICY_NEAR
    }
}

/// The tier `policy` asks for the page at `page_index` of its mapping. Interleave puts
/// even pages near and odd pages far; near, auto and anything unknown ask for near.
pub const fn preferred_tier(policy: u32, page_index: u64) -> u32 {
    match policy {
        POLICY_FAR => TIER_FAR,
        POLICY_INTERLEAVE if page_index % 2 == 1 => TIER_FAR,
        POLICY_NEAR | POLICY_AUTO | POLICY_INTERLEAVE => TIER_NEAR,
        _ => TIER_NEAR,
    }
}

/// The tier to try when `tier` is full.
pub const fn other_tier(tier: u32) -> u32 {
    if tier == TIER_NEAR {
        TIER_FAR
    } else {
        TIER_NEAR
    }
}

pub use wayos_abi::memtier::{policy_by_name, policy_name};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_policy_that_says_something_wins() {
        assert_eq!(effective(POLICY_FAR, POLICY_NEAR, POLICY_AUTO), POLICY_FAR);
        assert_eq!(
            effective(POLICY_DEFAULT, POLICY_INTERLEAVE, POLICY_NEAR),
            POLICY_INTERLEAVE
        );
        assert_eq!(
            effective(POLICY_DEFAULT, POLICY_DEFAULT, POLICY_AUTO),
            POLICY_AUTO
        );
        assert_eq!(
            effective(POLICY_DEFAULT, POLICY_DEFAULT, POLICY_DEFAULT),
            POLICY_NEAR
        );
        assert_eq!(
            effective(99, 77, 55),
            POLICY_NEAR,
            "garbage everywhere is near"
        );
        assert_eq!(effective(99, POLICY_FAR, POLICY_NEAR), POLICY_FAR);
    }

    #[test]
    fn tiers_asked_for() {
        for i in 0..8u64 {
            assert_eq!(preferred_tier(POLICY_NEAR, i), TIER_NEAR);
            assert_eq!(preferred_tier(POLICY_AUTO, i), TIER_NEAR);
            assert_eq!(preferred_tier(POLICY_FAR, i), TIER_FAR);
            let want = if i % 2 == 0 { TIER_NEAR } else { TIER_FAR };
            assert_eq!(preferred_tier(POLICY_INTERLEAVE, i), want);
        }
        assert_eq!(preferred_tier(u32::MAX, 3), TIER_NEAR);
        assert_eq!(other_tier(TIER_NEAR), TIER_FAR);
        assert_eq!(other_tier(TIER_FAR), TIER_NEAR);
    }

    #[test]
    fn validity_and_names() {
        assert!(valid_mapping_policy(POLICY_DEFAULT));
        assert!(!valid_system_policy(POLICY_DEFAULT));
        assert!(valid_system_policy(POLICY_AUTO));
        assert!(!valid_mapping_policy(POLICY_COUNT));
        for p in 0..POLICY_COUNT {
            assert_eq!(policy_by_name(policy_name(p)), Some(p));
        }
        assert_eq!(policy_by_name("fast"), None);
    }
}
