//! Fallback when a tier is full: a far-policy mapping a little larger than what the far
//! tier has free spills into near memory, and the far tier's `fallbacks` counter says by
//! how much. The mapping is only `EXTRA` pages bigger than far's free memory, so near
//! memory (three times as large) is never close to exhausted; it is unmapped at once and
//! the far tier gets its pages back.

use alloc::format;

use libway::abi::memtier::{TierInfo, POLICY_FAR, TIER_FAR};
use libway::abi::mman::PAGE_SIZE;
use libway::memtier;
use libway::suite::{Check, Context, Suite};

use super::{resident, touch, Machine};

/// Pages beyond the far tier's free memory the mapping asks for.
const EXTRA: u64 = 512;
/// Pages other activity may take or give back meanwhile (kernel threads, the shell).
const SLACK: u64 = 64;

pub fn run(s: &mut Suite, m: &Machine) {
    if m.two_tiers() {
        s.check("far_full_falls_back_near_and_counts", far_full(m));
    } else {
        s.check("one_tier_far_policy_goes_near_uncounted", one_tier(m));
    }
}

fn far_tier() -> Result<TierInfo, alloc::string::String> {
    memtier::tiers()
        .context("memtier_info")?
        .into_iter()
        .find(|t| t.tier == TIER_FAR)
        .ok_or_else(|| "no far tier".into())
}

fn far_full(m: &Machine) -> Check {
    let before = far_tier()?;
    let near_free = memtier::tiers().context("memtier_info")?[0].free_pages;
    let pages = before.free_pages + EXTRA;
    if near_free < 4 * EXTRA + 4096 {
        return Err(format!(
            "near tier has only {near_free} pages free; the case needs more"
        ));
    }
    let len = usize::try_from(pages * PAGE_SIZE as u64).map_err(|_| "size")?;
    let addr = memtier::map_with_policy(len, false, POLICY_FAR).context("mmap")?;
    let res_before = resident(m.pid);
    touch(addr, pages as usize);
    let full = far_tier();
    let res_after = resident(m.pid);
    // SAFETY: the mapping was made above and nothing else refers to it.
    unsafe { libway::mem::munmap(addr, len) }.context("munmap")?;
    let after = far_tier()?;
    let full = full?;
    let (rb, ra) = (res_before?, res_after?);
    let fell_back = full.fallbacks - before.fallbacks;
    // Other activity may free or take a few far pages meanwhile (one freed far page is
    // one fallback fewer), so the bound has slack on both sides.
    if !(EXTRA - SLACK..=EXTRA + SLACK).contains(&fell_back) {
        return Err(format!(
            "{fell_back} fallbacks counted for {EXTRA} pages past a full far tier"
        ));
    }
    if full.free_pages > SLACK {
        return Err(format!("far tier still has {} pages free", full.free_pages));
    }
    let far_got = ra[1] - rb[1];
    let near_got = ra[0] - rb[0];
    if far_got + SLACK < before.free_pages || near_got + SLACK < EXTRA {
        return Err(format!(
            "{far_got} far and {near_got} near pages for {pages} pages with {} far free",
            before.free_pages
        ));
    }
    if after.free_pages + SLACK < before.free_pages {
        return Err(format!(
            "far tier has {} pages free after munmap, {} before",
            after.free_pages, before.free_pages
        ));
    }
    Ok(())
}

fn one_tier(m: &Machine) -> Check {
    let before = memtier::tiers().context("memtier_info")?;
    let len = 64 * PAGE_SIZE;
    let addr = memtier::map_with_policy(len, false, POLICY_FAR).context("mmap")?;
    let rb = resident(m.pid);
    touch(addr, 64);
    let ra = resident(m.pid);
    // SAFETY: the mapping was made above and nothing else refers to it.
    unsafe { libway::mem::munmap(addr, len) }.context("munmap")?;
    let after = memtier::tiers().context("memtier_info")?;
    let (rb, ra) = (rb?, ra?);
    if ra[1] != 0 || ra[0] < rb[0] + 64 {
        return Err(format!("resident {rb:?} -> {ra:?} for 64 far-policy pages"));
    }
    if after[0].fallbacks != before[0].fallbacks {
        return Err("a fallback counted on a machine with one tier".into());
    }
    Ok(())
}
