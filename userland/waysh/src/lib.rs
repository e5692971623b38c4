//! waysh, the WayOS shell: everything that does not need the operating system.
//!
//! - [`parse`] turns a command line into an [`ast::Script`]: lists with `;` and newlines,
//!   `&&`/`||`, pipelines of any length, redirections (`<`, `>`, `>>`, `N>`, `N>&M`,
//!   `N<&M`, `N>&-`), assignments, quoting with `''`, `""` and `\`, and `$` references.
//!   It tells an incomplete line (open quote, trailing `|`) from a syntax error.
//! - [`expand`] turns words into fields: `$VAR`, `${VAR}`, `$?`, `$$`, `$#`, `$0`..`$9`,
//!   `$@`, `$*`, `~`, field splitting of unquoted expansions; [`vars::Vars`] holds shell and
//!   exported variables.
//! - [`util`] holds the executor's pure helpers (`$PATH` search order, quoting, prompt).
//! - [`edit`] is the line editor as a state machine: keys in, VT100 screen bytes out,
//!   with history and command-name completion.
//!
//! The executor (`src/main.rs`, on libway) is the only part that talks to the kernel. This
//! crate is `no_std + alloc` so the same code runs in WayOS and in `cargo test` on the
//! host, and nothing here panics on any input: the host tests feed it random lines.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod ast;
pub mod edit;
pub mod expand;
pub mod messages;
pub mod parse;
pub mod util;
pub mod vars;
