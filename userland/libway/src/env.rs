//! The program's arguments and environment, as the kernel placed them on the initial
//! stack (`wayos_abi::layout`: `argc, argv, envc, envp`, each entry a `StrRef`).
//!
//! The arrays and strings live above the stack pointer `_start` was entered with, which
//! no frame ever reaches, so they are valid for the life of the process and can be handed
//! out as `&'static`. They are recorded once, by [`crate::rt`], before `main` runs.

use spin::Once;
use wayos_abi::limits::ARG_MAX_COUNT;
use wayos_abi::StrRef;

/// What stands in for an argument or variable that is not UTF-8.
const NOT_UTF8: &str = "\u{fffd}";

static ARGV: Once<&'static [StrRef]> = Once::new();
static ENVP: Once<&'static [StrRef]> = Once::new();

/// Turns the entry registers into a slice, tolerating a null pointer or an absurd count.
///
/// # Safety
///
/// Unless `ptr` is null or `count` is 0, `ptr` must point to `count` `StrRef`s that stay
/// valid and unchanged for the rest of the process, each naming bytes that do too.
unsafe fn table(ptr: *const StrRef, count: usize) -> &'static [StrRef] {
    if ptr.is_null() || count == 0 || !ptr.is_aligned() {
        return &[];
    }
    // SAFETY: guaranteed by the caller; the count is capped at what the kernel may pass.
    unsafe { core::slice::from_raw_parts(ptr, count.min(ARG_MAX_COUNT)) }
}

/// Records the entry arguments. Called once, by the runtime, before `main`.
///
/// # Safety
///
/// As [`table`], for both arrays: they must be the ones the kernel passed at entry.
pub(crate) unsafe fn init(argc: usize, argv: *const StrRef, envc: usize, envp: *const StrRef) {
    // SAFETY: forwarded to the caller.
    ARGV.call_once(|| unsafe { table(argv, argc) });
    // SAFETY: forwarded to the caller.
    ENVP.call_once(|| unsafe { table(envp, envc) });
}

/// The string a `StrRef` from the entry tables names.
fn as_str(r: &StrRef) -> &'static str {
    if r.len == 0 {
        return "";
    }
    if r.ptr == 0 {
        return NOT_UTF8;
    }
    // SAFETY: every `StrRef` in the recorded tables names bytes valid for the process's
    // life (see `init`), and nothing writes them.
    let bytes = unsafe { core::slice::from_raw_parts(r.ptr as *const u8, r.len) };
    core::str::from_utf8(bytes).unwrap_or(NOT_UTF8)
}

/// A list of strings from the entry tables: the arguments or the environment.
#[derive(Clone, Copy)]
pub struct Strings {
    refs: &'static [StrRef],
}

impl Strings {
    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.refs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    /// Entry `i` (U+FFFD if it is not UTF-8).
    pub fn get(&self, i: usize) -> Option<&'static str> {
        self.refs.get(i).map(as_str)
    }

    /// All entries in order.
    pub fn iter(&self) -> impl Iterator<Item = &'static str> {
        self.refs.iter().map(as_str)
    }
}

impl IntoIterator for Strings {
    type Item = &'static str;
    type IntoIter =
        core::iter::Map<core::slice::Iter<'static, StrRef>, fn(&StrRef) -> &'static str>;

    fn into_iter(self) -> Self::IntoIter {
        self.refs.iter().map(as_str as fn(&StrRef) -> &'static str)
    }
}

/// The program's arguments; entry 0 is conventionally the program's path.
pub type Args = Strings;

/// The program's arguments.
pub fn args() -> Args {
    Strings {
        refs: ARGV.get().copied().unwrap_or(&[]),
    }
}

/// The environment, as `NAME=value` strings.
pub fn vars() -> Strings {
    Strings {
        refs: ENVP.get().copied().unwrap_or(&[]),
    }
}

/// The value of environment variable `name`, if set.
pub fn var(name: &str) -> Option<&'static str> {
    vars().iter().find_map(|entry| {
        let (key, value) = entry.split_once('=')?;
        (key == name).then_some(value)
    })
}

/// The program's name: the last path component of argument 0, or `?` if there is none.
pub fn program_name() -> &'static str {
    match args().get(0) {
        Some(path) if !path.is_empty() => path.rsplit('/').next().unwrap_or(path),
        _ => "?",
    }
}
