//! The digits model's cross-architecture check: in bit-exact mode the model's logits over
//! the test split hash the same on the host, on x86_64 and on aarch64.
//!
//! `classify --check` (run in every test boot as the `classify` suite) prints
//! `classify: bitexact sha256 <hex>`; the host's value comes from `tools/digits` at build
//! time. After the boots, [`compare`] adds one check per architecture that ran (its hash
//! equals the host's) and, when both ran, one that they equal each other.

use crate::test::Tally;
use crate::Arch;

/// What `classify` prints before the hash.
pub const HASH_LINE: &str = "classify: bitexact sha256 ";

/// The hash on a `classify: bitexact sha256 <hex>` line.
pub fn parse_hash(line: &str) -> Option<String> {
    let hex = line.trim().split_once(HASH_LINE)?.1.trim();
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hex.to_lowercase())
}

/// The host's hash: the SHA-256 of the bit-exact variant's expected logits.
pub fn host_hash(g: &wayos_digits::Generated) -> String {
    wayos_digits::files::hex(&g.variant(wayos_abi::digits::VARIANT_EXACT).sha256())
}

/// Compares each architecture's hash (`None`: the boot printed none) with the host's and
/// with each other; prints the checks as the `digits-bitexact` suite.
pub fn compare(host: &str, seen: &[(Arch, Option<String>)]) -> Tally {
    let suite = "digits-bitexact";
    println!("==> {suite}: host {host}");
    let mut t = Tally::default();
    for (arch, hash) in seen {
        t.check(
            &format!("bitexact_hash_{}_equals_host", arch.name()),
            match hash {
                Some(h) if h == host => Ok(()),
                Some(h) => Err(format!(
                    "{} printed {h}, the host computed {host}",
                    arch.name()
                )),
                None => Err(format!("no '{HASH_LINE}<hex>' line from {}", arch.name())),
            },
        );
    }
    if let [(a, Some(x)), (b, Some(y))] = seen {
        t.check(
            &format!("bitexact_hash_{}_equals_{}", a.name(), b.name()),
            if x == y {
                Ok(())
            } else {
                Err(format!("{}: {x}, {}: {y}", a.name(), b.name()))
            },
        );
    }
    println!("{suite}: {} passed, {} failed", t.passed, t.failed);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_lines() {
        let h = "ab".repeat(32);
        assert_eq!(
            parse_hash(&format!("classify: bitexact sha256 {h}")),
            Some(h.clone())
        );
        assert_eq!(
            parse_hash(&format!(
                "  classify: bitexact sha256 {}\r",
                h.to_uppercase()
            )),
            Some(h.clone())
        );
        assert_eq!(parse_hash("classify: bitexact sha256 abc"), None);
        assert_eq!(
            parse_hash(&format!("classify: 3 passed, 0 failed {h}")),
            None
        );
    }

    #[test]
    fn compare_counts_each_arch_and_the_pair() {
        let h = "0".repeat(64);
        let other = "1".repeat(64);
        let t = compare(
            &h,
            &[
                (Arch::X86_64, Some(h.clone())),
                (Arch::Aarch64, Some(h.clone())),
            ],
        );
        assert_eq!((t.passed, t.failed), (3, 0));
        let t = compare(
            &h,
            &[
                (Arch::X86_64, Some(h.clone())),
                (Arch::Aarch64, Some(other)),
            ],
        );
        assert_eq!((t.passed, t.failed), (1, 2));
        let t = compare(&h, &[(Arch::Aarch64, None)]);
        assert_eq!((t.passed, t.failed), (0, 1));
        let t = compare(&h, &[(Arch::Aarch64, Some(h.clone()))]);
        assert_eq!((t.passed, t.failed), (1, 0));
    }
}
