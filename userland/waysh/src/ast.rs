//! The shape of a parsed command line.
//!
//! ```text
//! Script   = AndOr { (";" | newline) AndOr }
//! AndOr    = Pipeline { ("&&" | "||") Pipeline }
//! Pipeline = ["!"] Command { "|" Command }
//! Command  = { Assignment } { Word | Redir }
//! ```
//!
//! Words keep their quoting ([`Part`]) until expansion, which needs it: `"$X"` is one field
//! whatever `X` holds, `$X` is split on blanks.

use alloc::string::String;
use alloc::vec::Vec;

/// A whole command line or script: and-or lists run one after another.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    pub items: Vec<AndOr>,
}

/// Pipelines joined by `&&` and `||`, evaluated left to right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AndOr {
    pub first: Pipeline,
    pub rest: Vec<(Connector, Pipeline)>,
}

/// `&&` runs the next pipeline if the last status was 0, `||` if it was not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connector {
    And,
    Or,
}

/// Commands joined by `|`; `!` inverts the pipeline's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pipeline {
    pub negate: bool,
    pub commands: Vec<Command>,
}

/// A simple command: assignments, then words (the first is the program or builtin) and
/// redirections in the order they were written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Command {
    pub assigns: Vec<Assign>,
    pub words: Vec<Word>,
    pub redirs: Vec<Redir>,
}

/// `NAME=value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assign {
    pub name: String,
    pub value: Word,
}

/// A redirection of file descriptor `fd`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redir {
    pub fd: u32,
    pub op: RedirOp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedirOp {
    /// `N< file` (N defaults to 0).
    Read(Word),
    /// `N> file` (N defaults to 1): create or truncate.
    Write(Word),
    /// `N>> file`: create or append.
    Append(Word),
    /// `N>&M` / `N<&M`: make N a copy of M.
    Dup(u32),
    /// `N>&-` / `N<&-`: close N.
    Close,
}

/// One shell word: the pieces it was written with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Word(pub Vec<Part>);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Unquoted literal text.
    Lit(String),
    /// Text that was quoted (`'...'`, inside `"..."`, or after `\`); may be empty, which
    /// still makes a field (`""`).
    Quoted(String),
    /// A parameter reference; inside double quotes when `quoted`.
    Param { param: Param, quoted: bool },
    /// An unquoted `~` at the start of a word, followed by `/` or nothing: `$HOME`.
    Tilde,
}

/// What a `$` reference names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Param {
    /// `$NAME`, `${NAME}`.
    Named(String),
    /// `$?`: the status of the last pipeline.
    Status,
    /// `$$`: the shell's pid.
    Pid,
    /// `$#`: the number of positional parameters.
    Count,
    /// `$0`..`$9`, `${10}`: a positional parameter (`$0` is the shell or script name).
    Positional(usize),
    /// `$@`: every positional parameter; quoted, each is its own field.
    All,
    /// `$*`: every positional parameter joined by spaces; quoted, one field.
    AllJoined,
}

impl Word {
    /// A word of one unquoted literal (tests and builtins use it).
    pub fn lit(s: &str) -> Word {
        Word(alloc::vec![Part::Lit(s.into())])
    }

    /// The word's text if it is one unquoted literal with no expansions.
    pub fn as_plain(&self) -> Option<&str> {
        match self.0.as_slice() {
            [Part::Lit(s)] => Some(s),
            _ => None,
        }
    }
}

impl Script {
    /// True when there is nothing to run (a blank line or only comments).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
