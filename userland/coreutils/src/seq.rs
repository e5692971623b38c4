//! `seq`: decimal numbers (`3`, `-1.5`, `.25`) in exact fixed point, GNU's precision and
//! `-w` width rules.
//!
//! The output precision is the larger number of fraction digits of FIRST and INCREMENT
//! (LAST's does not count); `-w` pads with zeros (after the sign) to the width of the
//! wider of FIRST and LAST as typed, adjusted to that precision. Exponents, hexadecimal,
//! `inf` and `nan` are not supported, nor values beyond about 10^30.

use alloc::string::String;

/// A decimal number: `value / 10^scale`, as typed (`width`: its length without `+` or
/// blanks, plus one for a missing leading zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal {
    pub value: i128,
    pub scale: u32,
    pub width: usize,
}

/// Most digits a number may have.
const MAX_DIGITS: usize = 30;

/// Parses a seq operand; `None` is GNU's "invalid floating point argument".
pub fn parse(s: &str) -> Option<Decimal> {
    let t = s.trim_start_matches([' ', '\t']);
    let t = t.strip_prefix('+').unwrap_or(t);
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    if int.len() + frac.len() > MAX_DIGITS {
        return None;
    }
    let mut v: i128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        v = v * 10 + (b - b'0') as i128;
    }
    let mut width = t.len();
    if int.is_empty() {
        width += 1;
    }
    Some(Decimal {
        value: if neg { -v } else { v },
        scale: frac.len() as u32,
        width,
    })
}

fn rescale(d: &Decimal, scale: u32) -> Option<i128> {
    d.value
        .checked_mul(10i128.checked_pow(scale.checked_sub(d.scale)?)?)
}

/// Formats `v / 10^prec` with `prec` fraction digits, zero-padded to `width`.
pub fn format(v: i128, prec: u32, width: usize) -> String {
    let neg = v < 0;
    let mag = v.unsigned_abs();
    let p = 10u128.pow(prec);
    let mut digits = alloc::format!("{}", mag / p);
    if prec > 0 {
        digits.push('.');
        digits.push_str(&alloc::format!("{:0w$}", mag % p, w = prec as usize));
    }
    let used = digits.len() + neg as usize;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    for _ in used..width {
        out.push('0');
    }
    out.push_str(&digits);
    out
}

/// The plan for one `seq` run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    first: i128,
    step: i128,
    last: i128,
    /// Scale of `first`, `step`, `last` (common).
    scale: u32,
    /// Output precision.
    prec: u32,
    width: usize,
}

/// Why `seq` refuses its operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// Operand `n` (0-based) is not a number.
    Invalid(usize),
    ZeroIncrement,
}

impl Plan {
    /// FIRST, INCREMENT, LAST as given (`operands` has 1 to 3 entries); `equal_width` is `-w`.
    pub fn new(operands: &[&str], equal_width: bool) -> Result<Plan, PlanError> {
        let mut nums = [Decimal {
            value: 1,
            scale: 0,
            width: 1,
        }; 3];
        let parsed: alloc::vec::Vec<Decimal> = operands
            .iter()
            .enumerate()
            .map(|(i, s)| parse(s).ok_or(PlanError::Invalid(i)))
            .collect::<Result<_, _>>()?;
        match parsed.as_slice() {
            [last] => nums[2] = *last,
            [first, last] => {
                nums[0] = *first;
                nums[2] = *last;
            }
            [first, step, last] => nums = [*first, *step, *last],
            _ => return Err(PlanError::Invalid(operands.len().saturating_sub(1))),
        }
        let [first, step, last] = nums;
        if step.value == 0 {
            return Err(PlanError::ZeroIncrement);
        }
        let prec = first.scale.max(step.scale);
        let scale = prec.max(last.scale);
        let mut width = 0;
        if equal_width {
            let adjust = |d: &Decimal| {
                let mut w = d.width as isize + prec as isize - d.scale as isize;
                if d.scale == 0 && prec > 0 {
                    w += 1;
                }
                if d.scale > 0 && prec == 0 {
                    w -= 1;
                }
                w.max(0) as usize
            };
            width = adjust(&first).max(adjust(&last));
        }
        let at = |d: &Decimal, i: usize| rescale(d, scale).ok_or(PlanError::Invalid(i));
        let n = operands.len();
        Ok(Plan {
            first: at(&first, 0)?,
            step: at(&step, n.saturating_sub(2))?,
            last: at(&last, n.saturating_sub(1))?,
            scale,
            prec,
            width,
        })
    }

    /// The numbers, formatted, in order.
    pub fn iter(&self) -> impl Iterator<Item = String> + '_ {
        let drop = 10i128.pow(self.scale - self.prec);
        let mut i: i128 = 0;
        core::iter::from_fn(move || {
            let v = self.first.checked_add(self.step.checked_mul(i)?)?;
            let done = if self.step > 0 {
                v > self.last
            } else {
                v < self.last
            };
            if done {
                return None;
            }
            i += 1;
            Some(format(v / drop, self.prec, self.width))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn seq(ops: &[&str], w: bool) -> Vec<String> {
        Plan::new(ops, w).unwrap().iter().collect()
    }

    #[test]
    fn integers() {
        assert_eq!(seq(&["3"], false), ["1", "2", "3"]);
        assert_eq!(seq(&["2", "4"], false), ["2", "3", "4"]);
        assert_eq!(seq(&["10", "-3", "4"], false), ["10", "7", "4"]);
        assert_eq!(seq(&["5", "1"], false), Vec::<String>::new());
        assert_eq!(seq(&["0"], false), Vec::<String>::new());
        assert_eq!(seq(&["-2", "0"], false), ["-2", "-1", "0"]);
        assert_eq!(seq(&["1", "3.5"], false), ["1", "2", "3"]);
    }

    #[test]
    fn decimals_take_first_and_step_precision() {
        assert_eq!(
            seq(&["1", "0.5", "3"], false),
            ["1.0", "1.5", "2.0", "2.5", "3.0"]
        );
        assert_eq!(seq(&["-1", "0.5", "0"], false), ["-1.0", "-0.5", "0.0"]);
        assert_eq!(seq(&["0.1", "0.1", "0.3"], false), ["0.1", "0.2", "0.3"]);
        assert_eq!(seq(&[".5", "1", "3"], false), ["0.5", "1.5", "2.5"]);
    }

    #[test]
    fn equal_width() {
        assert_eq!(seq(&["8", "10"], true), ["08", "09", "10"]);
        assert_eq!(seq(&["-1", "1"], true), ["-1", "00", "01"]);
        assert_eq!(
            seq(&["1", "0.5", "3"], true),
            ["1.0", "1.5", "2.0", "2.5", "3.0"]
        );
        assert_eq!(seq(&[".5", "1", "3"], true), ["0.5", "1.5", "2.5"]);
        assert_eq!(seq(&["010"], true)[0], "001");
        assert_eq!(seq(&["-10", "5", "0"], true), ["-10", "-05", "000"]);
        // LAST's fraction digits narrow the width when the output has none.
        assert_eq!(seq(&["1", "2.25"], true), ["1", "2"]);
    }

    #[test]
    fn refusals() {
        assert_eq!(Plan::new(&["x"], false), Err(PlanError::Invalid(0)));
        assert_eq!(Plan::new(&["1", "y"], false), Err(PlanError::Invalid(1)));
        assert_eq!(
            Plan::new(&["0", "0", "1"], false),
            Err(PlanError::ZeroIncrement)
        );
        assert_eq!(
            Plan::new(&["1", "0.0", "1"], false),
            Err(PlanError::ZeroIncrement)
        );
        assert!(parse("1e3").is_none());
        assert!(parse("-").is_none());
        assert!(parse("1.2.3").is_none());
        assert!(parse("1234567890123456789012345678901").is_none());
        // The last possible steps do not overflow.
        let big = "999999999999999999999999999999";
        assert_eq!(seq(&[big, big], false).len(), 1);
        assert_eq!(seq(&[big, big, big], false), [big]);
        // Too many digits once scaled to a common precision.
        assert_eq!(
            Plan::new(&[big, ".000000000000000000000000000001", "1"], false),
            Err(PlanError::Invalid(0))
        );
    }
}
