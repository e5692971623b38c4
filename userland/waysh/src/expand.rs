//! Word expansion: parameters, `~`, quote removal and field splitting.
//!
//! An unquoted expansion is split into fields at blanks (space, tab, newline), and an
//! unquoted expansion that is empty or all blanks adds nothing; a quoted one is kept
//! whole. So with `X='a  b'`, `echo $X` passes two arguments and `echo "$X"` one; with
//! `E=` unset or empty, `$E` disappears while `"$E"` is an empty argument. There is no
//! pathname expansion (`*` stays literal).

use alloc::string::String;
use alloc::vec::Vec;

use crate::ast::{Param, Part, Word};
use crate::vars::Vars;

/// What expansion reads: variables, the last status, the shell's pid and its positional
/// parameters (`args[0]` is `$0`).
pub struct Context<'a> {
    pub vars: &'a Vars,
    pub status: i32,
    pub pid: usize,
    pub args: &'a [String],
}

impl Context<'_> {
    /// The value of a parameter; unset is empty.
    pub fn value(&self, p: &Param) -> String {
        match p {
            Param::Named(name) => self.vars.get(name).unwrap_or("").into(),
            Param::Status => itoa(self.status as i64),
            Param::Pid => itoa(self.pid as i64),
            Param::Count => itoa(self.args.len().saturating_sub(1) as i64),
            Param::Positional(n) => self.args.get(*n).cloned().unwrap_or_default(),
            Param::All | Param::AllJoined => self.args.get(1..).unwrap_or(&[]).join(" "),
        }
    }
}

fn itoa(n: i64) -> String {
    alloc::format!("{n}")
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n')
}

/// Expands one word into zero or more fields.
pub fn expand_word(word: &Word, ctx: &Context<'_>) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    // Whether `cur` is a field already (it may be empty: `""`).
    let mut started = false;
    for part in &word.0 {
        match part {
            Part::Lit(s) | Part::Quoted(s) => {
                cur.push_str(s);
                started = true;
            }
            Part::Tilde => {
                cur.push_str(ctx.vars.get("HOME").unwrap_or("/"));
                started = true;
            }
            Part::Param {
                param: Param::All,
                quoted: true,
            } => {
                // `"$@"`: one field per parameter, the text around it joined to the first
                // and the last; no parameters, no field (unless the text makes one).
                for (i, arg) in ctx.args.iter().skip(1).enumerate() {
                    if i > 0 {
                        fields.push(core::mem::take(&mut cur));
                    }
                    cur.push_str(arg);
                    started = true;
                }
            }
            Part::Param {
                param,
                quoted: true,
            } => {
                cur.push_str(&ctx.value(param));
                started = true;
            }
            Part::Param {
                param,
                quoted: false,
            } => {
                for c in ctx.value(param).chars() {
                    if is_blank(c) {
                        if started {
                            fields.push(core::mem::take(&mut cur));
                            started = false;
                        }
                    } else {
                        cur.push(c);
                        started = true;
                    }
                }
            }
        }
    }
    if started {
        fields.push(cur);
    }
    fields
}

/// Expands every word of a command into its arguments.
pub fn expand_words(words: &[Word], ctx: &Context<'_>) -> Vec<String> {
    words.iter().flat_map(|w| expand_word(w, ctx)).collect()
}

/// Expands a word that must stay one string (an assignment's value): no field splitting,
/// and an empty expansion is the empty string.
pub fn expand_joined(word: &Word, ctx: &Context<'_>) -> String {
    let mut out = String::new();
    for part in &word.0 {
        match part {
            Part::Lit(s) | Part::Quoted(s) => out.push_str(s),
            Part::Tilde => out.push_str(ctx.vars.get("HOME").unwrap_or("/")),
            Part::Param { param, .. } => out.push_str(&ctx.value(param)),
        }
    }
    out
}

/// Expands a redirection's file name: exactly one field, else `None` (ambiguous).
pub fn expand_single(word: &Word, ctx: &Context<'_>) -> Option<String> {
    let mut fields = expand_word(word, ctx);
    if fields.len() == 1 {
        fields.pop()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use alloc::vec;

    fn vars() -> Vars {
        let mut v = Vars::from_env(["HOME=/home/way", "PATH=/bin"]);
        v.set("X", "a  b");
        v.set("E", "");
        v.set("SP", "  lead trail  ");
        v.set("G", "*");
        v
    }

    /// The arguments `line` expands to (one simple command).
    fn args_of(line: &str, status: i32) -> Vec<String> {
        let vars = vars();
        let pos = vec!["waysh".into(), "one".into(), "two words".into()];
        let ctx = Context {
            vars: &vars,
            status,
            pid: 7,
            args: &pos,
        };
        let s = parse(line).unwrap();
        expand_words(&s.items[0].first.commands[0].words, &ctx)
    }

    #[test]
    fn variables_expand() {
        assert_eq!(
            args_of("echo $HOME ${PATH}", 0),
            ["echo", "/home/way", "/bin"]
        );
        assert_eq!(args_of("echo $HOME/x", 0), ["echo", "/home/way/x"]);
        assert_eq!(args_of("echo ${HOME}x", 0), ["echo", "/home/wayx"]);
        assert_eq!(args_of("echo $HOMEx", 0), ["echo"]);
        assert_eq!(args_of("echo pre$NOPE-post", 0), ["echo", "pre-post"]);
    }

    #[test]
    fn special_parameters() {
        assert_eq!(args_of("echo $? $$ $#", 127), ["echo", "127", "7", "2"]);
        assert_eq!(args_of("echo $0 $1 $3", 0), ["echo", "waysh", "one"]);
        assert_eq!(args_of("echo $2", 0), ["echo", "two", "words"]);
        assert_eq!(args_of("echo \"$2\"", 0), ["echo", "two words"]);
        assert_eq!(args_of("echo $@", 0), ["echo", "one", "two", "words"]);
        assert_eq!(args_of("echo $*", 0), ["echo", "one", "two", "words"]);
        assert_eq!(args_of("echo \"$*\"", 0), ["echo", "one two words"]);
        assert_eq!(args_of("echo \"$@\"", 0), ["echo", "one", "two words"]);
        assert_eq!(args_of("echo \"<$@>\"", 0), ["echo", "<one", "two words>"]);
        assert_eq!(args_of("echo $?", -1), ["echo", "-1"]);
    }

    #[test]
    fn unquoted_expansions_split_quoted_ones_do_not() {
        assert_eq!(args_of("echo $X", 0), ["echo", "a", "b"]);
        assert_eq!(args_of("echo \"$X\"", 0), ["echo", "a  b"]);
        assert_eq!(args_of("echo x$X", 0), ["echo", "xa", "b"]);
        assert_eq!(args_of("echo $X'y'", 0), ["echo", "a", "by"]);
        assert_eq!(args_of("echo $SP", 0), ["echo", "lead", "trail"]);
        assert_eq!(
            args_of("echo [$SP]", 0),
            ["echo", "[", "lead", "trail", "]"]
        );
    }

    #[test]
    fn empty_expansions_vanish_unless_quoted() {
        assert_eq!(args_of("echo $E $NOPE end", 0), ["echo", "end"]);
        assert_eq!(
            args_of("echo \"$E\" '' \"\" end", 0),
            ["echo", "", "", "", "end"]
        );
        assert_eq!(args_of("echo x$E", 0), ["echo", "x"]);
    }

    #[test]
    fn quotes_are_removed() {
        assert_eq!(
            args_of(r#"echo 'a b' "c d" e\ f '$X' "\$X" \$X"#, 0),
            ["echo", "a b", "c d", "e f", "$X", "$X", "$X"]
        );
    }

    #[test]
    fn no_pathname_expansion() {
        assert_eq!(args_of("echo * $G", 0), ["echo", "*", "*"]);
    }

    #[test]
    fn tilde_is_home() {
        assert_eq!(
            args_of("echo ~ ~/bin", 0),
            ["echo", "/home/way", "/home/way/bin"]
        );
        let empty = Vars::new();
        let ctx = Context {
            vars: &empty,
            status: 0,
            pid: 1,
            args: &[],
        };
        assert_eq!(expand_word(&Word(vec![Part::Tilde]), &ctx), ["/"]);
        assert_eq!(ctx.value(&Param::Count), "0");
        assert_eq!(ctx.value(&Param::All), "");
        // No positional parameters: "$@" is no field at all, "$*" one empty field.
        let at = |p| {
            Word(vec![Part::Param {
                param: p,
                quoted: true,
            }])
        };
        assert!(expand_word(&at(Param::All), &ctx).is_empty());
        assert_eq!(expand_word(&at(Param::AllJoined), &ctx), [""]);
    }

    #[test]
    fn assignment_values_are_not_split() {
        let vars = vars();
        let ctx = Context {
            vars: &vars,
            status: 3,
            pid: 1,
            args: &[],
        };
        let s = parse("Y=$X:$?:'c  d'").unwrap();
        let a = &s.items[0].first.commands[0].assigns[0];
        assert_eq!(expand_joined(&a.value, &ctx), "a  b:3:c  d");
    }

    #[test]
    fn redirection_targets_must_be_one_field() {
        let vars = vars();
        let ctx = Context {
            vars: &vars,
            status: 0,
            pid: 1,
            args: &[],
        };
        let one = |line: &str| {
            let s = parse(line).unwrap();
            match &s.items[0].first.commands[0].redirs[0].op {
                crate::ast::RedirOp::Write(w) => expand_single(w, &ctx),
                _ => unreachable!(),
            }
        };
        assert_eq!(one("echo >$HOME/f"), Some("/home/way/f".into()));
        assert_eq!(one("echo >\"$X\""), Some("a  b".into()));
        assert_eq!(one("echo >$X"), None);
        assert_eq!(one("echo >$NOPE"), None);
    }
}
