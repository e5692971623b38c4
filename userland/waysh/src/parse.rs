//! The lexer and parser: command line in, [`Script`] out.
//!
//! Quoting follows POSIX `sh`: `'...'` is literal; inside `"..."` only `$` expands and `\`
//! escapes `$`, `` ` ``, `"`, `\` and newline; an unquoted `\` makes the next character
//! literal, and `\` before a newline joins lines. `#` at the start of a word comments out
//! the rest of the line. Unsupported syntax (`&`, `(`, `$(...)`, `` `...` ``) is a syntax
//! error that says so, rather than a surprise.
//!
//! [`parse`] returns [`ParseError::Incomplete`] when more input could finish the line (an
//! open quote, a trailing `|`, `&&`, `||` or `\`), so an interactive shell can ask for a
//! continuation line, and [`ParseError::Syntax`] otherwise.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::ast::{AndOr, Assign, Command, Connector, Param, Part, Pipeline, Redir, RedirOp};
use crate::ast::{Script, Word};

/// Why a line did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The input stops in the middle of a construct; more lines could complete it.
    Incomplete(&'static str),
    /// The input is not a valid command line.
    Syntax(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Incomplete(what) => write!(f, "syntax error: {what}"),
            ParseError::Syntax(what) => write!(f, "syntax error: {what}"),
        }
    }
}

/// Largest file descriptor number a redirection may name.
pub const MAX_FD: u32 = 255;

/// Parses a whole command line or script.
pub fn parse(input: &str) -> Result<Script, ParseError> {
    let toks = Lexer::new(input).tokens()?;
    Parser { toks, pos: 0 }.script()
}

/// True if `s` is a valid variable name: a letter or `_`, then letters, digits or `_`.
pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Word(Word),
    Newline,
    Semi,
    Pipe,
    OrIf,
    AndIf,
    Amp,
    LParen,
    RParen,
    Redir { fd: Option<u32>, kind: RedirKind },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RedirKind {
    Less,
    Great,
    DGreat,
    LessAnd,
    GreatAnd,
}

impl RedirKind {
    fn text(self) -> &'static str {
        match self {
            RedirKind::Less => "<",
            RedirKind::Great => ">",
            RedirKind::DGreat => ">>",
            RedirKind::LessAnd => "<&",
            RedirKind::GreatAnd => ">&",
        }
    }
}

/// How a token is named in an error message.
fn describe(tok: Option<&Tok>) -> String {
    let s = match tok {
        None => "end of input",
        Some(Tok::Word(_)) => "word",
        Some(Tok::Newline) => "newline",
        Some(Tok::Semi) => "';'",
        Some(Tok::Pipe) => "'|'",
        Some(Tok::OrIf) => "'||'",
        Some(Tok::AndIf) => "'&&'",
        Some(Tok::Amp) => "'&' (background jobs are not supported)",
        Some(Tok::LParen) => "'(' (subshells are not supported)",
        Some(Tok::RParen) => "')'",
        Some(Tok::Redir { kind, .. }) => return format!("'{}'", kind.text()),
    };
    s.into()
}

fn is_meta(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\r' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')'
    )
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

impl Lexer {
    fn new(input: &str) -> Self {
        Lexer {
            chars: input.chars().collect(),
            pos: 0,
        }
    }

    fn peek_at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn tokens(mut self) -> Result<Vec<Tok>, ParseError> {
        let mut toks = Vec::new();
        while let Some(c) = self.peek_at(self.pos) {
            let next = self.peek_at(self.pos + 1);
            let tok = match c {
                ' ' | '\t' | '\r' => {
                    self.pos += 1;
                    continue;
                }
                '\\' if next == Some('\n') => {
                    self.pos += 2;
                    continue;
                }
                '#' => {
                    while self.peek_at(self.pos).is_some_and(|c| c != '\n') {
                        self.pos += 1;
                    }
                    continue;
                }
                '\n' => self.op(1, Tok::Newline),
                ';' => self.op(1, Tok::Semi),
                '&' if next == Some('&') => self.op(2, Tok::AndIf),
                '&' => self.op(1, Tok::Amp),
                '|' if next == Some('|') => self.op(2, Tok::OrIf),
                '|' => self.op(1, Tok::Pipe),
                '(' => self.op(1, Tok::LParen),
                ')' => self.op(1, Tok::RParen),
                '<' | '>' => self.redir(None)?,
                '0'..='9' => match self.fd_prefix() {
                    Some((fd, len)) => {
                        self.pos += len;
                        self.redir(Some(fd))?
                    }
                    None => Tok::Word(self.word()?),
                },
                _ => Tok::Word(self.word()?),
            };
            toks.push(tok);
        }
        Ok(toks)
    }

    fn op(&mut self, len: usize, tok: Tok) -> Tok {
        self.pos += len;
        tok
    }

    /// Digits directly followed by `<` or `>`: the fd of a redirection, and its length.
    fn fd_prefix(&self) -> Option<(Result<u32, ParseError>, usize)> {
        let start = self.pos;
        let mut end = start;
        while self.peek_at(end).is_some_and(|c| c.is_ascii_digit()) {
            end += 1;
        }
        if !matches!(self.peek_at(end), Some('<' | '>')) {
            return None;
        }
        let digits: String = self.chars[start..end].iter().collect();
        Some((fd_number(&digits), end - start))
    }

    /// A redirection operator at `pos` (after any fd digits).
    fn redir(&mut self, fd: Option<Result<u32, ParseError>>) -> Result<Tok, ParseError> {
        let fd = fd.transpose()?;
        let first = self.peek_at(self.pos);
        let next = self.peek_at(self.pos + 1);
        let (kind, len) = match (first, next) {
            (Some('<'), Some('&')) => (RedirKind::LessAnd, 2),
            (Some('<'), _) => (RedirKind::Less, 1),
            (Some('>'), Some('>')) => (RedirKind::DGreat, 2),
            (Some('>'), Some('&')) => (RedirKind::GreatAnd, 2),
            // `>|` (write even under noclobber) is plain `>` here: there is no noclobber.
            (Some('>'), Some('|')) => (RedirKind::Great, 2),
            _ => (RedirKind::Great, 1),
        };
        self.pos += len;
        Ok(Tok::Redir { fd, kind })
    }

    /// A word: everything up to the next unquoted blank or operator character.
    fn word(&mut self) -> Result<Word, ParseError> {
        let mut parts: Vec<Part> = Vec::new();
        while let Some(c) = self.peek_at(self.pos) {
            if is_meta(c) {
                break;
            }
            let next = self.peek_at(self.pos + 1);
            match c {
                '\\' => match next {
                    None => return Err(ParseError::Incomplete("'\\' at the end of the input")),
                    Some('\n') => self.pos += 2,
                    Some(n) => {
                        push_char(&mut parts, n, true);
                        self.pos += 2;
                    }
                },
                '\'' => {
                    self.pos += 1;
                    let mut text = String::new();
                    loop {
                        match self.peek_at(self.pos) {
                            None => {
                                return Err(ParseError::Incomplete("unterminated single quote"))
                            }
                            Some('\'') => break,
                            Some(c) => text.push(c),
                        }
                        self.pos += 1;
                    }
                    self.pos += 1;
                    push_str(&mut parts, &text, true);
                }
                '"' => self.double_quoted(&mut parts)?,
                '$' => self.dollar(&mut parts, false)?,
                '`' => return Err(unsupported_backquote()),
                '~' if parts.is_empty() && next.is_none_or(|n| n == '/' || is_meta(n)) => {
                    parts.push(Part::Tilde);
                    self.pos += 1;
                }
                _ => {
                    push_char(&mut parts, c, false);
                    self.pos += 1;
                }
            }
        }
        Ok(Word(parts))
    }

    /// `"..."` at `pos`.
    fn double_quoted(&mut self, parts: &mut Vec<Part>) -> Result<(), ParseError> {
        self.pos += 1;
        // An empty pair of quotes still makes a (empty) field.
        push_str(parts, "", true);
        loop {
            let Some(c) = self.peek_at(self.pos) else {
                return Err(ParseError::Incomplete("unterminated double quote"));
            };
            let next = self.peek_at(self.pos + 1);
            match c {
                '"' => {
                    self.pos += 1;
                    return Ok(());
                }
                '\\' => match next {
                    Some('$' | '`' | '"' | '\\') => {
                        push_char(parts, next.unwrap_or('\\'), true);
                        self.pos += 2;
                    }
                    Some('\n') => self.pos += 2,
                    None => return Err(ParseError::Incomplete("unterminated double quote")),
                    Some(_) => {
                        push_char(parts, '\\', true);
                        self.pos += 1;
                    }
                },
                '$' => self.dollar(parts, true)?,
                '`' => return Err(unsupported_backquote()),
                _ => {
                    push_char(parts, c, true);
                    self.pos += 1;
                }
            }
        }
    }

    /// A `$` at `pos`: a parameter reference, or a literal `$`.
    fn dollar(&mut self, parts: &mut Vec<Part>, quoted: bool) -> Result<(), ParseError> {
        let param = match self.peek_at(self.pos + 1) {
            Some('{') => {
                let start = self.pos + 2;
                let mut end = start;
                loop {
                    match self.peek_at(end) {
                        None | Some('\n') => {
                            return Err(ParseError::Syntax("missing '}' after '${'".into()))
                        }
                        Some('}') => break,
                        Some(_) => end += 1,
                    }
                }
                let inner: String = self.chars[start..end].iter().collect();
                self.pos = end + 1;
                match braced_param(&inner) {
                    Some(p) => p,
                    None => {
                        return Err(ParseError::Syntax(format!(
                            "bad substitution '${{{inner}}}'"
                        )))
                    }
                }
            }
            Some('(') => {
                return Err(ParseError::Syntax(
                    "command substitution $(...) is not supported".into(),
                ))
            }
            Some(c) if c == '_' || c.is_ascii_alphabetic() => {
                let start = self.pos + 1;
                let mut end = start;
                while self
                    .peek_at(end)
                    .is_some_and(|c| c == '_' || c.is_ascii_alphanumeric())
                {
                    end += 1;
                }
                self.pos = end;
                Param::Named(self.chars[start..end].iter().collect())
            }
            Some(c) => {
                let p = match c {
                    '?' => Param::Status,
                    '$' => Param::Pid,
                    '#' => Param::Count,
                    '@' => Param::All,
                    '*' => Param::AllJoined,
                    '0'..='9' => Param::Positional(c as usize - '0' as usize),
                    _ => {
                        push_char(parts, '$', quoted);
                        self.pos += 1;
                        return Ok(());
                    }
                };
                self.pos += 2;
                p
            }
            None => {
                push_char(parts, '$', quoted);
                self.pos += 1;
                return Ok(());
            }
        };
        parts.push(Part::Param { param, quoted });
        Ok(())
    }
}

fn unsupported_backquote() -> ParseError {
    ParseError::Syntax("command substitution `...` is not supported".into())
}

/// What `${inner}` names, if anything.
fn braced_param(inner: &str) -> Option<Param> {
    match inner {
        "?" => Some(Param::Status),
        "$" => Some(Param::Pid),
        "#" => Some(Param::Count),
        "@" => Some(Param::All),
        "*" => Some(Param::AllJoined),
        _ if is_name(inner) => Some(Param::Named(inner.into())),
        _ if !inner.is_empty() && inner.len() <= 6 && inner.bytes().all(|b| b.is_ascii_digit()) => {
            inner.parse().ok().map(Param::Positional)
        }
        _ => None,
    }
}

/// A file descriptor number written in a redirection.
fn fd_number(digits: &str) -> Result<u32, ParseError> {
    match digits.parse::<u32>() {
        Ok(n) if n <= MAX_FD => Ok(n),
        _ => Err(ParseError::Syntax(format!(
            "file descriptor {digits} out of range (0-{MAX_FD})"
        ))),
    }
}

fn push_char(parts: &mut Vec<Part>, c: char, quoted: bool) {
    match (parts.last_mut(), quoted) {
        (Some(Part::Lit(s)), false) | (Some(Part::Quoted(s)), true) => s.push(c),
        _ => {
            let mut s = String::new();
            s.push(c);
            parts.push(if quoted {
                Part::Quoted(s)
            } else {
                Part::Lit(s)
            });
        }
    }
}

fn push_str(parts: &mut Vec<Part>, text: &str, quoted: bool) {
    match (parts.last_mut(), quoted) {
        (Some(Part::Lit(s)), false) | (Some(Part::Quoted(s)), true) => s.push_str(text),
        _ => parts.push(if quoted {
            Part::Quoted(text.into())
        } else {
            Part::Lit(text.into())
        }),
    }
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn unexpected(&self) -> ParseError {
        ParseError::Syntax(format!("unexpected {}", describe(self.peek())))
    }

    fn skip_newlines(&mut self) {
        while self.peek() == Some(&Tok::Newline) {
            self.pos += 1;
        }
    }

    fn script(&mut self) -> Result<Script, ParseError> {
        let mut items = Vec::new();
        loop {
            self.skip_newlines();
            if self.peek().is_none() {
                break;
            }
            items.push(self.and_or()?);
            match self.peek() {
                None => break,
                Some(Tok::Semi | Tok::Newline) => self.pos += 1,
                Some(_) => return Err(self.unexpected()),
            }
        }
        Ok(Script { items })
    }

    fn and_or(&mut self) -> Result<AndOr, ParseError> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        loop {
            let (connector, what) = match self.peek() {
                Some(Tok::AndIf) => (Connector::And, "nothing after '&&'"),
                Some(Tok::OrIf) => (Connector::Or, "nothing after '||'"),
                _ => break,
            };
            self.pos += 1;
            self.skip_newlines();
            if self.peek().is_none() {
                return Err(ParseError::Incomplete(what));
            }
            rest.push((connector, self.pipeline()?));
        }
        Ok(AndOr { first, rest })
    }

    fn pipeline(&mut self) -> Result<Pipeline, ParseError> {
        let mut negate = false;
        if let Some(Tok::Word(w)) = self.peek() {
            if w.as_plain() == Some("!")
                && matches!(self.toks.get(self.pos + 1), Some(Tok::Word(_)))
            {
                negate = true;
                self.pos += 1;
            }
        }
        let mut commands = alloc::vec![self.command()?];
        while self.peek() == Some(&Tok::Pipe) {
            self.pos += 1;
            self.skip_newlines();
            if self.peek().is_none() {
                return Err(ParseError::Incomplete("nothing after '|'"));
            }
            commands.push(self.command()?);
        }
        Ok(Pipeline { negate, commands })
    }

    fn command(&mut self) -> Result<Command, ParseError> {
        let mut cmd = Command::default();
        loop {
            match self.peek() {
                Some(Tok::Word(w)) => {
                    let w = w.clone();
                    self.pos += 1;
                    match (cmd.words.is_empty(), assignment(&w)) {
                        (true, Some(a)) => cmd.assigns.push(a),
                        _ => cmd.words.push(w),
                    }
                }
                Some(&Tok::Redir { fd, kind }) => {
                    self.pos += 1;
                    cmd.redirs.push(self.redirection(fd, kind)?);
                }
                _ => break,
            }
        }
        if cmd.words.is_empty() && cmd.assigns.is_empty() && cmd.redirs.is_empty() {
            return Err(self.unexpected());
        }
        Ok(cmd)
    }

    /// The rest of a redirection whose operator was just read.
    fn redirection(&mut self, fd: Option<u32>, kind: RedirKind) -> Result<Redir, ParseError> {
        let target = match self.peek() {
            Some(Tok::Word(w)) => w.clone(),
            other => {
                return Err(ParseError::Syntax(format!(
                    "expected a file name after '{}', found {}",
                    kind.text(),
                    describe(other)
                )))
            }
        };
        self.pos += 1;
        let default_fd = match kind {
            RedirKind::Less | RedirKind::LessAnd => 0,
            _ => 1,
        };
        let op = match kind {
            RedirKind::Less => RedirOp::Read(target),
            RedirKind::Great => RedirOp::Write(target),
            RedirKind::DGreat => RedirOp::Append(target),
            RedirKind::LessAnd | RedirKind::GreatAnd => match target.as_plain() {
                Some("-") => RedirOp::Close,
                Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => {
                    RedirOp::Dup(fd_number(d)?)
                }
                _ => {
                    return Err(ParseError::Syntax(format!(
                        "'{}' needs a file descriptor number or '-'",
                        kind.text()
                    )))
                }
            },
        };
        Ok(Redir {
            fd: fd.unwrap_or(default_fd),
            op,
        })
    }
}

/// `NAME=value` (the name unquoted) as an assignment.
fn assignment(w: &Word) -> Option<Assign> {
    let Some(Part::Lit(first)) = w.0.first() else {
        return None;
    };
    let (name, value) = first.split_once('=')?;
    if !is_name(name) {
        return None;
    }
    let mut parts = Vec::new();
    if !value.is_empty() {
        parts.push(Part::Lit(value.into()));
    }
    parts.extend(w.0[1..].iter().cloned());
    Some(Assign {
        name: name.into(),
        value: Word(parts),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn lit(s: &str) -> Part {
        Part::Lit(s.into())
    }
    fn q(s: &str) -> Part {
        Part::Quoted(s.into())
    }
    fn var(name: &str, quoted: bool) -> Part {
        Part::Param {
            param: Param::Named(name.into()),
            quoted,
        }
    }
    fn word(parts: &[Part]) -> Word {
        Word(parts.to_vec())
    }
    fn simple(words: &[&str]) -> Command {
        Command {
            assigns: vec![],
            words: words.iter().map(|w| Word::lit(w)).collect(),
            redirs: vec![],
        }
    }
    fn pipe(cmds: Vec<Command>) -> Pipeline {
        Pipeline {
            negate: false,
            commands: cmds,
        }
    }
    fn one(cmd: Command) -> AndOr {
        AndOr {
            first: pipe(vec![cmd]),
            rest: vec![],
        }
    }
    /// The only command of a one-command script.
    fn only(input: &str) -> Command {
        let s = parse(input).unwrap();
        assert_eq!(s.items.len(), 1, "{input}");
        assert!(s.items[0].rest.is_empty());
        assert_eq!(s.items[0].first.commands.len(), 1);
        s.items[0].first.commands[0].clone()
    }
    fn syntax(input: &str) -> String {
        match parse(input) {
            Err(ParseError::Syntax(m)) => m,
            other => panic!("{input:?}: expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn blank_lines_and_comments_are_empty_scripts() {
        for input in ["", "   ", "\n\n", "# just a comment", "  \t # c\n# d\n"] {
            assert_eq!(parse(input).unwrap(), Script::default(), "{input:?}");
        }
    }

    #[test]
    fn simple_command_splits_on_blanks() {
        assert_eq!(
            parse("  echo   hello\tworld ").unwrap(),
            Script {
                items: vec![one(simple(&["echo", "hello", "world"]))]
            }
        );
    }

    #[test]
    fn comment_only_at_word_start() {
        assert_eq!(only("echo a#b # c d"), simple(&["echo", "a#b"]));
    }

    #[test]
    fn lists_with_semicolons_and_newlines() {
        let s = parse("a; b\nc;\n\nd;").unwrap();
        let names: Vec<_> = s
            .items
            .iter()
            .map(|i| i.first.commands[0].words[0].as_plain().unwrap())
            .collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
    }

    #[test]
    fn and_or_chains_left_to_right() {
        let s = parse("a && b || c && d").unwrap();
        assert_eq!(s.items.len(), 1);
        let ao = &s.items[0];
        assert_eq!(ao.first, pipe(vec![simple(&["a"])]));
        let conns: Vec<_> = ao.rest.iter().map(|(c, _)| *c).collect();
        assert_eq!(conns, [Connector::And, Connector::Or, Connector::And]);
        assert_eq!(ao.rest[2].1, pipe(vec![simple(&["d"])]));
    }

    #[test]
    fn newline_allowed_after_operators() {
        let s = parse("a &&\n b |\n c").unwrap();
        assert_eq!(s.items.len(), 1);
        assert_eq!(s.items[0].rest[0].1.commands.len(), 2);
    }

    #[test]
    fn pipelines_of_any_length() {
        let line = (0..20)
            .map(|i| alloc::format!("p{i} x"))
            .collect::<Vec<_>>()
            .join(" | ");
        let s = parse(&line).unwrap();
        let cmds = &s.items[0].first.commands;
        assert_eq!(cmds.len(), 20);
        assert_eq!(cmds[19], simple(&["p19", "x"]));
        assert_eq!(
            parse("yes|head -n 3").unwrap().items[0].first,
            pipe(vec![simple(&["yes"]), simple(&["head", "-n", "3"])])
        );
    }

    #[test]
    fn negated_pipeline() {
        let s = parse("! grep x | wc").unwrap();
        assert!(s.items[0].first.negate);
        assert_eq!(s.items[0].first.commands[0], simple(&["grep", "x"]));
        // A lone `!` is just a word.
        assert_eq!(only("!"), simple(&["!"]));
    }

    #[test]
    fn redirections_with_default_and_explicit_fds() {
        let c = only("cmd <in >out 2>err >>app 2>&1 3<&0 4>&- arg");
        assert_eq!(c.words, vec![Word::lit("cmd"), Word::lit("arg")]);
        assert_eq!(
            c.redirs,
            vec![
                Redir {
                    fd: 0,
                    op: RedirOp::Read(Word::lit("in"))
                },
                Redir {
                    fd: 1,
                    op: RedirOp::Write(Word::lit("out"))
                },
                Redir {
                    fd: 2,
                    op: RedirOp::Write(Word::lit("err"))
                },
                Redir {
                    fd: 1,
                    op: RedirOp::Append(Word::lit("app"))
                },
                Redir {
                    fd: 2,
                    op: RedirOp::Dup(1)
                },
                Redir {
                    fd: 3,
                    op: RedirOp::Dup(0)
                },
                Redir {
                    fd: 4,
                    op: RedirOp::Close
                },
            ]
        );
    }

    #[test]
    fn redirection_with_spaces_and_quoted_target() {
        let c = only("echo hi > 'my file'");
        assert_eq!(
            c.redirs,
            vec![Redir {
                fd: 1,
                op: RedirOp::Write(word(&[q("my file")]))
            }]
        );
    }

    #[test]
    fn digits_are_a_word_unless_a_redirection_follows() {
        assert_eq!(
            only("echo 2 >x").words,
            vec![Word::lit("echo"), Word::lit("2")]
        );
        assert_eq!(only("echo 2>x").redirs[0].fd, 2);
        assert_eq!(only("echo a2>x").words[1], Word::lit("a2"));
        assert_eq!(only("echo a2>x").redirs[0].fd, 1);
    }

    #[test]
    fn redirection_only_command() {
        let c = only("> empty");
        assert!(c.words.is_empty());
        assert_eq!(c.redirs.len(), 1);
    }

    #[test]
    fn single_quotes_are_literal() {
        assert_eq!(
            only(r#"echo '$HOME \n "x"' ''"#).words,
            vec![
                Word::lit("echo"),
                word(&[q(r#"$HOME \n "x""#)]),
                word(&[q("")])
            ]
        );
    }

    #[test]
    fn double_quotes_expand_and_escape() {
        assert_eq!(
            only(r#"echo "a $X b\$ \" \\ \n""#).words[1],
            word(&[q("a "), var("X", true), q(r#" b$ " \ \n"#)])
        );
        assert_eq!(only(r#"echo """#).words[1], word(&[q("")]));
    }

    #[test]
    fn backslash_quotes_one_character() {
        assert_eq!(
            only(r"echo a\ b \| \$X").words,
            vec![
                Word::lit("echo"),
                word(&[lit("a"), q(" "), lit("b")]),
                word(&[q("|")]),
                word(&[q("$"), lit("X")]),
            ]
        );
    }

    #[test]
    fn backslash_newline_joins_lines() {
        assert_eq!(only("echo a\\\nb"), simple(&["echo", "ab"]));
        assert_eq!(only("echo \\\n b"), simple(&["echo", "b"]));
    }

    #[test]
    fn adjacent_pieces_make_one_word() {
        assert_eq!(
            only(r#"echo pre'mid'"$X"post"#).words[1],
            word(&[lit("pre"), q("mid"), var("X", true), lit("post")])
        );
    }

    #[test]
    fn dollar_forms() {
        let c = only("echo $A ${B_1} $? $$ $# $0 $9 $12 ${12} $@ $* $ a$ $- $/");
        let params: Vec<_> = c.words[1..].iter().map(|w| w.0.clone()).collect();
        let p = |param| Part::Param {
            param,
            quoted: false,
        };
        assert_eq!(
            params,
            vec![
                vec![p(Param::Named("A".into()))],
                vec![p(Param::Named("B_1".into()))],
                vec![p(Param::Status)],
                vec![p(Param::Pid)],
                vec![p(Param::Count)],
                vec![p(Param::Positional(0))],
                vec![p(Param::Positional(9))],
                vec![p(Param::Positional(1)), lit("2")],
                vec![p(Param::Positional(12))],
                vec![p(Param::All)],
                vec![p(Param::AllJoined)],
                vec![lit("$")],
                vec![lit("a$")],
                vec![lit("$-")],
                vec![lit("$/")],
            ]
        );
    }

    #[test]
    fn names_stop_at_non_name_characters() {
        assert_eq!(
            only("echo $HOME/bin ${X}y").words[1..],
            [
                word(&[var("HOME", false), lit("/bin")]),
                word(&[var("X", false), lit("y")])
            ]
        );
    }

    #[test]
    fn tilde_only_at_word_start() {
        assert_eq!(only("cd ~").words[1], word(&[Part::Tilde]));
        assert_eq!(only("cd ~/x").words[1], word(&[Part::Tilde, lit("/x")]));
        assert_eq!(only("cd ~bob").words[1], Word::lit("~bob"));
        assert_eq!(only("cd a~").words[1], Word::lit("a~"));
        assert_eq!(only("cd '~'").words[1], word(&[q("~")]));
    }

    #[test]
    fn assignments_before_the_command() {
        let c = only("A=1 B= C=x$Y cmd D=2");
        assert_eq!(
            c.assigns,
            vec![
                Assign {
                    name: "A".into(),
                    value: Word::lit("1")
                },
                Assign {
                    name: "B".into(),
                    value: Word(vec![])
                },
                Assign {
                    name: "C".into(),
                    value: word(&[lit("x"), var("Y", false)])
                },
            ]
        );
        assert_eq!(c.words, vec![Word::lit("cmd"), Word::lit("D=2")]);
        // Not names: words.
        assert_eq!(only("1A=x").words.len(), 1);
        assert_eq!(only("'A'=x").words.len(), 1);
        assert_eq!(only("=x").words.len(), 1);
        // Assignment alone.
        let c = only("X='a b'");
        assert!(c.words.is_empty());
        assert_eq!(c.assigns[0].value, word(&[q("a b")]));
    }

    #[test]
    fn incomplete_input_is_told_apart() {
        let cases = [
            ("echo 'abc", "unterminated single quote"),
            ("echo \"abc", "unterminated double quote"),
            ("echo \"a\\", "unterminated double quote"),
            ("echo abc\\", "'\\' at the end of the input"),
            ("echo a |", "nothing after '|'"),
            ("echo a | \n", "nothing after '|'"),
            ("true &&", "nothing after '&&'"),
            ("false ||\n\n", "nothing after '||'"),
        ];
        for (input, what) in cases {
            assert_eq!(parse(input), Err(ParseError::Incomplete(what)), "{input:?}");
        }
        // Completed by the next line, they parse.
        assert_eq!(
            only("echo 'a\nb'").words[1],
            word(&[q("a\nb")]),
            "quote spanning lines"
        );
    }

    #[test]
    fn syntax_errors_say_what_was_unexpected() {
        assert_eq!(syntax("| wc"), "unexpected '|'");
        assert_eq!(syntax("echo a ;; echo b"), "unexpected ';'");
        assert_eq!(syntax("; echo"), "unexpected ';'");
        assert_eq!(syntax("echo a && && b"), "unexpected '&&'");
        assert_eq!(syntax("echo a | | b"), "unexpected '|'");
        assert_eq!(syntax("|| a"), "unexpected '||'");
        assert_eq!(
            syntax("echo a &"),
            "unexpected '&' (background jobs are not supported)"
        );
        assert_eq!(
            syntax("(echo)"),
            "unexpected '(' (subshells are not supported)"
        );
        assert_eq!(syntax("echo )"), "unexpected ')'");
        assert_eq!(
            syntax("echo >"),
            "expected a file name after '>', found end of input"
        );
        assert_eq!(
            syntax("echo > | wc"),
            "expected a file name after '>', found '|'"
        );
        assert_eq!(
            syntax("cat <\n"),
            "expected a file name after '<', found newline"
        );
        assert_eq!(
            syntax("echo 2>&x"),
            "'>&' needs a file descriptor number or '-'"
        );
        assert_eq!(
            syntax("echo 999>x"),
            "file descriptor 999 out of range (0-255)"
        );
        assert_eq!(
            syntax("echo 99999999999999999999>x"),
            "file descriptor 99999999999999999999 out of range (0-255)"
        );
        assert_eq!(syntax("echo ${A"), "missing '}' after '${'");
        assert_eq!(syntax("echo ${A-b}"), "bad substitution '${A-b}'");
        assert_eq!(syntax("echo ${}"), "bad substitution '${}'");
        assert_eq!(
            syntax("echo $(ls)"),
            "command substitution $(...) is not supported"
        );
        assert_eq!(
            syntax("echo `ls`"),
            "command substitution `...` is not supported"
        );
    }

    #[test]
    fn error_messages_display_with_a_prefix() {
        assert_eq!(
            alloc::format!("{}", parse("echo |").unwrap_err()),
            "syntax error: nothing after '|'"
        );
        assert_eq!(
            alloc::format!("{}", parse("| x").unwrap_err()),
            "syntax error: unexpected '|'"
        );
    }

    #[test]
    fn unicode_words() {
        assert_eq!(only("echo héllo 日本"), simple(&["echo", "héllo", "日本"]));
    }

    #[test]
    fn is_name_rules() {
        for ok in ["A", "_", "a_1", "PATH"] {
            assert!(is_name(ok), "{ok}");
        }
        for bad in ["", "1a", "a-b", "é", "a b"] {
            assert!(!is_name(bad), "{bad}");
        }
    }

    #[test]
    fn random_lines_never_panic() {
        // Shell-heavy alphabet so the random lines hit every construct and its edges.
        const PIECES: [&str; 40] = [
            " ",
            "\t",
            "\n",
            ";",
            "&",
            "&&",
            "|",
            "||",
            "<",
            ">",
            ">>",
            "2>",
            "2>&1",
            ">&",
            "<&",
            "-",
            "'",
            "\"",
            "\\",
            "$",
            "${",
            "}",
            "$?",
            "$(",
            "`",
            "#",
            "~",
            "(",
            ")",
            "!",
            "=",
            "A=",
            "echo",
            "x",
            "0",
            "9",
            "é",
            "{",
            "\r",
            "99999999999",
        ];
        let mut rng = wayos_testutil::XorShift::new(0x5eed);
        let mut parsed = 0;
        for _ in 0..20_000 {
            let mut line = String::new();
            for _ in 0..rng.index(16) {
                line.push_str(PIECES[rng.index(PIECES.len())]);
            }
            if parse(&line).is_ok() {
                parsed += 1;
            }
        }
        // Both outcomes occur, so the generator is exercising the parser.
        assert!(parsed > 1000 && parsed < 19_000, "{parsed}");
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = wayos_testutil::XorShift::new(42);
        for _ in 0..20_000 {
            let len = rng.index(40);
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let _ = parse(&String::from_utf8_lossy(&bytes));
        }
    }
}
