//! The kernel's error type for anything a user program can cause: an errno from the ABI.

use core::fmt;

use wayos_abi::errno;

/// A POSIX error number (positive), as defined in `wayos_abi::errno`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub isize);

impl Errno {
    pub const EPERM: Self = Self(errno::EPERM);
    pub const ENOENT: Self = Self(errno::ENOENT);
    pub const ESRCH: Self = Self(errno::ESRCH);
    pub const EIO: Self = Self(errno::EIO);
    pub const E2BIG: Self = Self(errno::E2BIG);
    pub const ENOEXEC: Self = Self(errno::ENOEXEC);
    pub const EBADF: Self = Self(errno::EBADF);
    pub const ECHILD: Self = Self(errno::ECHILD);
    pub const EAGAIN: Self = Self(errno::EAGAIN);
    pub const ENOMEM: Self = Self(errno::ENOMEM);
    pub const EFAULT: Self = Self(errno::EFAULT);
    pub const EINVAL: Self = Self(errno::EINVAL);
    pub const ENAMETOOLONG: Self = Self(errno::ENAMETOOLONG);
    pub const ENOSYS: Self = Self(errno::ENOSYS);
    pub const EACCES: Self = Self(errno::EACCES);
    pub const EEXIST: Self = Self(errno::EEXIST);
    pub const EBUSY: Self = Self(errno::EBUSY);
    pub const ENOTTY: Self = Self(errno::ENOTTY);
    pub const EMFILE: Self = Self(errno::EMFILE);
    pub const EINTR: Self = Self(errno::EINTR);
    pub const EPIPE: Self = Self(errno::EPIPE);
    pub const ENOSPC: Self = Self(errno::ENOSPC);
    pub const ETIMEDOUT: Self = Self(errno::ETIMEDOUT);
    pub const ENXIO: Self = Self(errno::ENXIO);
    pub const ENOTDIR: Self = Self(errno::ENOTDIR);
    pub const ESPIPE: Self = Self(errno::ESPIPE);
    pub const ERANGE: Self = Self(errno::ERANGE);
    pub const EDQUOT: Self = Self(errno::EDQUOT);
    pub const ENOTSOCK: Self = Self(errno::ENOTSOCK);
    pub const ENODEV: Self = Self(errno::ENODEV);
    pub const EROFS: Self = Self(errno::EROFS);
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(errno::name(self.0))
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(errno::name(self.0))
    }
}

pub type KResult<T> = Result<T, Errno>;
