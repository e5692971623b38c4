//! [`Errno`]: the error every libway call returns, a newtype over the ABI's errno values.
//!
//! The numbers and names come from `wayos_abi::errno`; this module only wraps them.

use core::fmt;

use wayos_abi::errno;

/// A failed syscall's error number (positive, as in `wayos_abi::errno`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub isize);

impl Errno {
    /// The positive error number.
    pub const fn code(self) -> isize {
        self.0
    }

    /// The short name (`EFAULT`), or `E?` for a number the ABI does not define.
    pub const fn name(self) -> &'static str {
        errno::name(self.0)
    }

    /// Decodes a raw syscall result: `-MAX_ERRNO..=-1` is an error, anything else a value.
    pub const fn decode(raw: usize) -> Result<usize, Errno> {
        let signed = raw as isize;
        if signed < 0 && signed >= -errno::MAX_ERRNO {
            Err(Errno(-signed))
        } else {
            Ok(raw)
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            "E?" => write!(f, "errno {}", self.0),
            name => f.write_str(name),
        }
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self, self.0)
    }
}
