//! The regular expressions of `grep`: POSIX basic (BRE, the default) and extended (ERE,
//! `-E`) syntax with GNU's extensions, and fixed strings (`-F`).
//!
//! Supported: literals, `.`, bracket expressions (`[abc]`, `[^a-z]`, `[]x]`,
//! `[[:alpha:]]` and the other POSIX classes, `[[.c.]]`, `[[=c=]]`), anchors `^` `$`,
//! repetition `*`, `\+` `\?` `\{m,n\}` (BRE) / `+` `?` `{m,n}` (ERE), groups `\(..\)` /
//! `(..)`, alternation `\|` / `|`, and GNU's `\w \W \s \S \b \B \< \>`. Back-references
//! (`\1`..`\9`) are not supported and are refused. Matching is ASCII case-folded for
//! `-i` (and Unicode simple lowercase for other letters).
//!
//! The pattern compiles to a small instruction program run by a Pike VM (Thompson NFA
//! simulation): time is O(pattern × line) whatever the input, nothing recurses over the
//! input, and no pattern can make it take exponential time. Parsing errors carry GNU's
//! wording (`Unmatched [, [^, [:, [., or [=`, ...).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// Largest repetition count (glibc's `RE_DUP_MAX`).
const DUP_MAX: u32 = 32767;
/// Largest program, in instructions.
const PROG_MAX: usize = 200_000;
/// Deepest nesting of groups and repetitions: parsing and compiling recurse once per
/// level, and a WayOS program has a 256 KiB stack.
const DEPTH_MAX: usize = 48;

/// Which syntax a pattern is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    Basic,
    Extended,
    Fixed,
}

/// Options of a whole matcher.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flags {
    /// `-i`: ignore case.
    pub icase: bool,
    /// `-w`: the match must not touch a word character on either side.
    pub word: bool,
    /// `-x`: the match must be the whole line.
    pub line: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Assert {
    Bol,
    Eol,
    WordBoundary,
    NotWordBoundary,
    WordStart,
    WordEnd,
    NotWordBefore,
    NotWordAfter,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Named {
    Alpha,
    Digit,
    Alnum,
    Upper,
    Lower,
    Space,
    Blank,
    Punct,
    Print,
    Graph,
    Cntrl,
    Xdigit,
    Word,
}

impl Named {
    fn from_name(s: &str) -> Option<Named> {
        Some(match s {
            "alpha" => Named::Alpha,
            "digit" => Named::Digit,
            "alnum" => Named::Alnum,
            "upper" => Named::Upper,
            "lower" => Named::Lower,
            "space" => Named::Space,
            "blank" => Named::Blank,
            "punct" => Named::Punct,
            "print" => Named::Print,
            "graph" => Named::Graph,
            "cntrl" => Named::Cntrl,
            "xdigit" => Named::Xdigit,
            _ => return None,
        })
    }

    fn contains(self, c: char) -> bool {
        match self {
            Named::Alpha => c.is_alphabetic(),
            Named::Digit => c.is_ascii_digit(),
            Named::Alnum => c.is_alphanumeric(),
            Named::Upper => c.is_uppercase(),
            Named::Lower => c.is_lowercase(),
            Named::Space => c.is_whitespace(),
            Named::Blank => c == ' ' || c == '\t',
            Named::Punct => c.is_ascii_punctuation(),
            Named::Print => !c.is_control(),
            Named::Graph => !c.is_control() && !c.is_whitespace(),
            Named::Cntrl => c.is_control(),
            Named::Xdigit => c.is_ascii_hexdigit(),
            Named::Word => is_word(c),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Range(char, char),
    Named(Named),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Class {
    negated: bool,
    items: Vec<Item>,
}

impl Class {
    fn contains_exact(&self, c: char) -> bool {
        self.items.iter().any(|i| match *i {
            Item::Range(a, b) => a <= c && c <= b,
            Item::Named(n) => n.contains(c),
        })
    }

    fn matches(&self, c: char, icase: bool) -> bool {
        let hit = self.contains_exact(c)
            || (icase && (self.contains_exact(lower(c)) || self.contains_exact(upper(c))));
        hit != self.negated
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Empty,
    Char(char),
    Any,
    Class(Class),
    Assert(Assert),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
}

/// A pattern grep cannot use, worded as GNU grep words it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(pub &'static str);

const UNMATCHED_BRACKET: Error = Error("Unmatched [, [^, [:, [., or [=");
const UNMATCHED_PAREN: Error = Error("Unmatched ( or \\(");
const UNMATCHED_CLOSE: Error = Error("Unmatched ) or \\)");
const UNMATCHED_BRACE: Error = Error("Unmatched \\{");
const BAD_BRACE: Error = Error("Invalid content of \\{\\}");
const TOO_BIG: Error = Error("Regular expression too big");
const TRAILING_BACKSLASH: Error = Error("Trailing backslash");
const BAD_CLASS: Error = Error("Invalid character class name");
const BAD_RANGE: Error = Error("Invalid range end");
const BACKREF: Error = Error("Invalid back reference");
const CLASS_SYNTAX: Error = Error("character class syntax is [[:space:]], not [:space:]");

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn lower(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        let mut l = c.to_lowercase();
        match (l.next(), l.next()) {
            (Some(x), None) => x,
            _ => c,
        }
    }
}

fn upper(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_uppercase()
    } else {
        let mut u = c.to_uppercase();
        match (u.next(), u.next()) {
            (Some(x), None) => x,
            _ => c,
        }
    }
}

struct Parser<'p> {
    s: &'p [char],
    i: usize,
    ere: bool,
    /// Groups open at the cursor.
    open: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn peek2(&self) -> Option<char> {
        self.s.get(self.i + 1).copied()
    }

    fn at_alt(&self) -> bool {
        if self.ere {
            self.peek() == Some('|')
        } else {
            self.peek() == Some('\\') && self.peek2() == Some('|')
        }
    }

    fn at_close(&self) -> bool {
        if self.ere {
            self.peek() == Some(')') && self.open > 0
        } else {
            self.peek() == Some('\\') && self.peek2() == Some(')')
        }
    }

    fn alt(&mut self) -> Result<Node, Error> {
        let mut branches = vec![self.concat()?];
        while self.at_alt() {
            self.i += if self.ere { 1 } else { 2 };
            branches.push(self.concat()?);
        }
        Ok(if branches.len() == 1 {
            branches.pop().unwrap_or(Node::Empty)
        } else {
            Node::Alt(branches)
        })
    }

    fn concat(&mut self) -> Result<Node, Error> {
        let mut items: Vec<Node> = Vec::new();
        let start = self.i;
        loop {
            if self.peek().is_none() || self.at_alt() || self.at_close() {
                break;
            }
            if !self.ere && self.peek() == Some('\\') && self.peek2() == Some(')') {
                break;
            }
            let at_start = self.i == start
                || (!self.ere && items.len() == 1 && items[0] == Node::Assert(Assert::Bol));
            // Repetition operators.
            if let Some((min, max, len)) = self.repetition(at_start)? {
                self.i += len;
                // ERE: an operator with nothing before it is ignored, as GNU does.
                if let Some(prev) = items.pop() {
                    items.push(self.repeat(prev, min, max)?);
                }
                continue;
            }
            let atom = self.atom(items.is_empty())?;
            items.push(atom);
        }
        Ok(match items.len() {
            0 => Node::Empty,
            1 => items.pop().unwrap_or(Node::Empty),
            _ => Node::Concat(items),
        })
    }

    /// A repetition operator at the cursor: (min, max, length).
    fn repetition(&self, at_start: bool) -> Result<Option<(u32, Option<u32>, usize)>, Error> {
        let c = match self.peek() {
            Some(c) => c,
            None => return Ok(None),
        };
        if self.ere {
            return Ok(match c {
                '*' => Some((0, None, 1)),
                '+' => Some((1, None, 1)),
                '?' => Some((0, Some(1), 1)),
                '{' => self.interval(self.i + 1, false)?,
                _ => None,
            });
        }
        if c == '*' {
            return Ok(if at_start { None } else { Some((0, None, 1)) });
        }
        if c == '\\' && !at_start {
            return Ok(match self.peek2() {
                Some('+') => Some((1, None, 2)),
                Some('?') => Some((0, Some(1), 2)),
                Some('{') => self.interval(self.i + 2, true)?,
                _ => None,
            });
        }
        Ok(None)
    }

    /// `m,n}` (ERE) or `m,n\}` (BRE) starting at `from`: (min, max, length from the
    /// operator's first character). In ERE a malformed interval is not one (`{` is then
    /// a literal), as GNU grep treats it.
    fn interval(&self, from: usize, bre: bool) -> Result<Option<(u32, Option<u32>, usize)>, Error> {
        let mut j = from;
        let num = |j: &mut usize| -> Option<u32> {
            let mut v: Option<u32> = None;
            while let Some(d) = self.s.get(*j).and_then(|c| c.to_digit(10)) {
                v = Some(v.unwrap_or(0).saturating_mul(10).saturating_add(d));
                *j += 1;
            }
            v
        };
        let min = num(&mut j);
        let max;
        if self.s.get(j) == Some(&',') {
            j += 1;
            max = num(&mut j);
        } else {
            max = Some(min.unwrap_or(u32::MAX));
            if min.is_none() {
                return if bre { Err(BAD_BRACE) } else { Ok(None) };
            }
        }
        let closed = if bre {
            self.s.get(j) == Some(&'\\') && self.s.get(j + 1) == Some(&'}')
        } else {
            self.s.get(j) == Some(&'}')
        };
        if !closed {
            return if bre {
                if self.s.get(j).is_none()
                    || self.s.get(j) == Some(&'\\') && self.s.get(j + 1).is_none()
                {
                    Err(UNMATCHED_BRACE)
                } else {
                    Err(BAD_BRACE)
                }
            } else {
                Ok(None)
            };
        }
        let end = j + if bre { 2 } else { 1 };
        let min = min.unwrap_or(0);
        if let Some(m) = max {
            if m < min {
                return Err(BAD_BRACE);
            }
        }
        if min > DUP_MAX || max.is_some_and(|m| m > DUP_MAX) {
            return Err(TOO_BIG);
        }
        Ok(Some((min, max, end - self.i)))
    }

    fn repeat(&mut self, node: Node, min: u32, max: Option<u32>) -> Result<Node, Error> {
        // Fold stacked simple operators so `a*****` does not nest deeply.
        if let Node::Repeat(inner, imin, imax) = &node {
            let simple = |a: u32, b: Option<u32>| a <= 1 && matches!(b, None | Some(1));
            if simple(min, max) && simple(*imin, *imax) {
                let nmin = min.min(1) * imin.min(&1);
                let nmax = if max.is_none() || imax.is_none() {
                    None
                } else {
                    Some(1)
                };
                return Ok(Node::Repeat(inner.clone(), nmin, nmax));
            }
        }
        let mut nest = 1;
        let mut n = &node;
        while let Node::Repeat(inner, _, _) = n {
            nest += 1;
            n = inner;
        }
        if self.open + nest > DEPTH_MAX {
            return Err(TOO_BIG);
        }
        Ok(Node::Repeat(Box::new(node), min, max))
    }

    fn atom(&mut self, first_in_branch: bool) -> Result<Node, Error> {
        let c = match self.peek() {
            Some(c) => c,
            None => return Ok(Node::Empty),
        };
        self.i += 1;
        match c {
            '.' => Ok(Node::Any),
            '[' => self.bracket(),
            '^' if self.ere || first_in_branch => Ok(Node::Assert(Assert::Bol)),
            '$' if self.ere || self.at_branch_end() => Ok(Node::Assert(Assert::Eol)),
            '(' if self.ere => self.group(),
            '\\' => self.escape(),
            c => Ok(Node::Char(c)),
        }
    }

    /// BRE: is the cursor (just after a `$`) at the end of a branch?
    fn at_branch_end(&self) -> bool {
        self.peek().is_none()
            || (self.peek() == Some('\\') && matches!(self.peek2(), Some(')') | Some('|')))
    }

    fn group(&mut self) -> Result<Node, Error> {
        self.open += 1;
        if self.open > DEPTH_MAX {
            return Err(TOO_BIG);
        }
        let inner = self.alt()?;
        let closed = if self.ere {
            self.peek() == Some(')')
        } else {
            self.peek() == Some('\\') && self.peek2() == Some(')')
        };
        if !closed {
            return Err(UNMATCHED_PAREN);
        }
        self.i += if self.ere { 1 } else { 2 };
        self.open -= 1;
        Ok(inner)
    }

    fn escape(&mut self) -> Result<Node, Error> {
        let c = self.peek().ok_or(TRAILING_BACKSLASH)?;
        self.i += 1;
        let class = |named: Named, negated: bool| {
            Node::Class(Class {
                negated,
                items: vec![Item::Named(named)],
            })
        };
        Ok(match c {
            '(' if !self.ere => return self.group(),
            ')' if !self.ere => return Err(UNMATCHED_CLOSE),
            '{' if !self.ere => Node::Char('{'),
            '1'..='9' => return Err(BACKREF),
            'w' => class(Named::Word, false),
            'W' => class(Named::Word, true),
            's' => class(Named::Space, false),
            'S' => class(Named::Space, true),
            'b' => Node::Assert(Assert::WordBoundary),
            'B' => Node::Assert(Assert::NotWordBoundary),
            '<' => Node::Assert(Assert::WordStart),
            '>' => Node::Assert(Assert::WordEnd),
            '`' => Node::Assert(Assert::Bol),
            '\'' => Node::Assert(Assert::Eol),
            c => Node::Char(c),
        })
    }

    /// After `[`: a bracket expression up to its `]`.
    fn bracket(&mut self) -> Result<Node, Error> {
        let start = self.i;
        let mut negated = false;
        if self.peek() == Some('^') {
            negated = true;
            self.i += 1;
        }
        let mut items = Vec::new();
        let mut first = true;
        loop {
            let c = self.peek().ok_or(UNMATCHED_BRACKET)?;
            self.i += 1;
            if c == ']' && !first {
                break;
            }
            first = false;
            let lo = if c == '[' && matches!(self.peek(), Some(':') | Some('.') | Some('=')) {
                let kind = self.peek().unwrap_or(':');
                self.i += 1;
                let name_start = self.i;
                loop {
                    match self.peek() {
                        None => return Err(UNMATCHED_BRACKET),
                        Some(k) if k == kind && self.peek2() == Some(']') => break,
                        Some(_) => self.i += 1,
                    }
                }
                let name: String = self.s[name_start..self.i].iter().collect();
                self.i += 2;
                if kind == ':' {
                    items.push(Item::Named(Named::from_name(&name).ok_or(BAD_CLASS)?));
                    continue;
                }
                let mut it = name.chars();
                match (it.next(), it.next()) {
                    (Some(ch), None) => ch,
                    _ => return Err(Error("Invalid collation character")),
                }
            } else {
                c
            };
            // A range `lo-hi`, unless the `-` is last.
            if self.peek() == Some('-') && self.peek2().is_some_and(|n| n != ']') {
                self.i += 1;
                let hi = self.peek().ok_or(UNMATCHED_BRACKET)?;
                self.i += 1;
                let hi = if hi == '[' && matches!(self.peek(), Some('.') | Some('=')) {
                    let kind = self.peek().unwrap_or('.');
                    self.i += 1;
                    let ch = self.peek().ok_or(UNMATCHED_BRACKET)?;
                    self.i += 1;
                    if self.peek() != Some(kind) || self.peek2() != Some(']') {
                        return Err(UNMATCHED_BRACKET);
                    }
                    self.i += 2;
                    ch
                } else {
                    hi
                };
                if hi < lo {
                    return Err(BAD_RANGE);
                }
                items.push(Item::Range(lo, hi));
            } else {
                items.push(Item::Range(lo, lo));
            }
        }
        // `[:space:]` written without the outer brackets.
        let body = &self.s[start..self.i - 1];
        if body.len() >= 2 && body[0] == ':' && body[body.len() - 1] == ':' {
            return Err(CLASS_SYNTAX);
        }
        Ok(Node::Class(Class { negated, items }))
    }
}

/// Parses one pattern.
fn parse(pattern: &str, syntax: Syntax) -> Result<Node, Error> {
    let chars: Vec<char> = pattern.chars().collect();
    if syntax == Syntax::Fixed {
        return Ok(Node::Concat(chars.into_iter().map(Node::Char).collect()));
    }
    let mut p = Parser {
        s: &chars,
        i: 0,
        ere: syntax == Syntax::Extended,
        open: 0,
    };
    let node = p.alt()?;
    if p.i < chars.len() {
        // Only a BRE `\)` without its `\(` stops the parser early (in ERE an unmatched
        // `)` is an ordinary character).
        return Err(UNMATCHED_CLOSE);
    }
    Ok(node)
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Inst {
    Char(char),
    Any,
    Class(usize),
    Split(usize, usize),
    Jmp(usize),
    Assert(Assert),
    Match,
}

struct Compiler {
    prog: Vec<Inst>,
    classes: Vec<Class>,
    icase: bool,
}

impl Compiler {
    fn emit(&mut self, i: Inst) -> Result<usize, Error> {
        if self.prog.len() >= PROG_MAX {
            return Err(TOO_BIG);
        }
        self.prog.push(i);
        Ok(self.prog.len() - 1)
    }

    fn node(&mut self, n: &Node) -> Result<(), Error> {
        match n {
            Node::Empty => {}
            Node::Char(c) => {
                let c = if self.icase { lower(*c) } else { *c };
                self.emit(Inst::Char(c))?;
            }
            Node::Any => {
                self.emit(Inst::Any)?;
            }
            Node::Class(c) => {
                self.classes.push(c.clone());
                self.emit(Inst::Class(self.classes.len() - 1))?;
            }
            Node::Assert(a) => {
                self.emit(Inst::Assert(*a))?;
            }
            Node::Concat(items) => {
                for i in items {
                    self.node(i)?;
                }
            }
            Node::Alt(branches) => {
                let mut jumps = Vec::new();
                for (k, b) in branches.iter().enumerate() {
                    if k + 1 < branches.len() {
                        let split = self.emit(Inst::Split(0, 0))?;
                        self.node(b)?;
                        jumps.push(self.emit(Inst::Jmp(0))?);
                        let next = self.prog.len();
                        self.prog[split] = Inst::Split(split + 1, next);
                    } else {
                        self.node(b)?;
                    }
                }
                let end = self.prog.len();
                for j in jumps {
                    self.prog[j] = Inst::Jmp(end);
                }
            }
            Node::Repeat(inner, min, max) => {
                for _ in 0..*min {
                    self.node(inner)?;
                }
                match max {
                    None => {
                        let split = self.emit(Inst::Split(0, 0))?;
                        self.node(inner)?;
                        self.emit(Inst::Jmp(split))?;
                        let end = self.prog.len();
                        self.prog[split] = Inst::Split(split + 1, end);
                    }
                    Some(max) => {
                        let mut splits = Vec::new();
                        for _ in *min..*max {
                            splits.push(self.emit(Inst::Split(0, 0))?);
                            self.node(inner)?;
                        }
                        let end = self.prog.len();
                        for s in splits {
                            self.prog[s] = Inst::Split(s + 1, end);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// A compiled set of patterns: a line matches if any pattern matches somewhere in it.
#[derive(Debug)]
pub struct Regex {
    prog: Vec<Inst>,
    classes: Vec<Class>,
    icase: bool,
}

impl Regex {
    /// Compiles `patterns` (any of which may match) in `syntax` with `flags`.
    pub fn new(patterns: &[&str], syntax: Syntax, flags: Flags) -> Result<Regex, Error> {
        let mut nodes = Vec::new();
        for p in patterns {
            let mut node = parse(p, syntax)?;
            if flags.line {
                node = Node::Concat(vec![
                    Node::Assert(Assert::Bol),
                    node,
                    Node::Assert(Assert::Eol),
                ]);
            } else if flags.word {
                node = Node::Concat(vec![
                    Node::Assert(Assert::NotWordBefore),
                    node,
                    Node::Assert(Assert::NotWordAfter),
                ]);
            }
            nodes.push(node);
        }
        let top = match nodes.len() {
            // No pattern at all matches nothing.
            0 => Node::Class(Class {
                negated: false,
                items: Vec::new(),
            }),
            1 => nodes.pop().unwrap_or(Node::Empty),
            _ => Node::Alt(nodes),
        };
        let mut c = Compiler {
            prog: Vec::new(),
            classes: Vec::new(),
            icase: flags.icase,
        };
        c.node(&top)?;
        c.emit(Inst::Match)?;
        Ok(Regex {
            prog: c.prog,
            classes: c.classes,
            icase: flags.icase,
        })
    }

    fn holds(a: Assert, line: &[char], pos: usize) -> bool {
        let before = pos
            .checked_sub(1)
            .and_then(|p| line.get(p))
            .is_some_and(|&c| is_word(c));
        let after = line.get(pos).is_some_and(|&c| is_word(c));
        match a {
            Assert::Bol => pos == 0,
            Assert::Eol => pos == line.len(),
            Assert::WordBoundary => before != after,
            Assert::NotWordBoundary => before == after,
            Assert::WordStart => !before && after,
            Assert::WordEnd => before && !after,
            Assert::NotWordBefore => !before,
            Assert::NotWordAfter => !after,
        }
    }

    /// Adds `pc` and everything reachable from it without input to `set`; true if that
    /// reaches `Match`.
    fn add(
        &self,
        set: &mut Set,
        stack: &mut Vec<usize>,
        pc: usize,
        line: &[char],
        pos: usize,
    ) -> bool {
        let mut matched = false;
        stack.push(pc);
        while let Some(pc) = stack.pop() {
            if !set.insert(pc) {
                continue;
            }
            match self.prog.get(pc) {
                Some(Inst::Jmp(t)) => stack.push(*t),
                Some(Inst::Split(a, b)) => {
                    stack.push(*b);
                    stack.push(*a);
                }
                Some(Inst::Assert(a)) if Self::holds(*a, line, pos) => stack.push(pc + 1),
                Some(Inst::Match) => matched = true,
                _ => {}
            }
        }
        matched
    }

    /// Does the pattern match anywhere in `line` (which has no newline)?
    pub fn is_match_str(&self, line: &str) -> bool {
        let chars: Vec<char> = line.chars().collect();
        self.is_match(&chars)
    }

    /// Does the pattern match anywhere in `line`?
    pub fn is_match(&self, line: &[char]) -> bool {
        let folded;
        let line = if self.icase {
            folded = line.iter().map(|&c| lower(c)).collect::<Vec<char>>();
            &folded[..]
        } else {
            line
        };
        let n = self.prog.len();
        let mut cur = Set::new(n);
        let mut next = Set::new(n);
        let mut stack = Vec::new();
        for pos in 0..=line.len() {
            if self.add(&mut cur, &mut stack, 0, line, pos) {
                return true;
            }
            let Some(&c) = line.get(pos) else {
                break;
            };
            next.clear();
            for k in 0..cur.len {
                let pc = cur.dense[k];
                let ok = match self.prog.get(pc) {
                    Some(Inst::Char(x)) => *x == c,
                    Some(Inst::Any) => true,
                    Some(Inst::Class(i)) => self
                        .classes
                        .get(*i)
                        .is_some_and(|cl| cl.matches(c, self.icase)),
                    _ => false,
                };
                if ok && self.add(&mut next, &mut stack, pc + 1, line, pos + 1) {
                    return true;
                }
            }
            core::mem::swap(&mut cur, &mut next);
        }
        false
    }
}

/// A sparse set of program counters.
struct Set {
    dense: Vec<usize>,
    sparse: Vec<usize>,
    len: usize,
}

impl Set {
    fn new(n: usize) -> Set {
        Set {
            dense: vec![0; n],
            sparse: vec![0; n],
            len: 0,
        }
    }

    fn clear(&mut self) {
        self.len = 0;
    }

    fn insert(&mut self, pc: usize) -> bool {
        if pc >= self.sparse.len() {
            return false;
        }
        let s = self.sparse[pc];
        if s < self.len && self.dense[s] == pc {
            return false;
        }
        self.sparse[pc] = self.len;
        self.dense[self.len] = pc;
        self.len += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Regex::new(&[p], Syntax::Basic, Flags::default())
            .unwrap()
            .is_match_str(s)
    }
    fn e(p: &str, s: &str) -> bool {
        Regex::new(&[p], Syntax::Extended, Flags::default())
            .unwrap()
            .is_match_str(s)
    }
    fn err(p: &str, syn: Syntax) -> &'static str {
        Regex::new(&[p], syn, Flags::default()).unwrap_err().0
    }

    #[test]
    fn literals_dot_star_anchors() {
        assert!(m("ell", "hello"));
        assert!(!m("elo", "hello"));
        assert!(m("h.l", "hello"));
        assert!(m("^he", "hello"));
        assert!(!m("^el", "hello"));
        assert!(m("lo$", "hello"));
        assert!(!m("l$", "hello"));
        assert!(m("^$", ""));
        assert!(!m("^$", "x"));
        assert!(m("hel*o", "heo"));
        assert!(m("hel*o", "hellllo"));
        assert!(m("", "anything"));
        assert!(m("^.*$", "anything"));
    }

    #[test]
    fn bre_literal_specials_in_context() {
        // `*` first is literal; `^`, `$` in the middle are literal.
        assert!(m("*a", "x*a"));
        assert!(!m("*a", "xa"));
        assert!(m("^*a", "*a"));
        assert!(m("a^b", "a^b"));
        assert!(m("a$b", "a$b"));
        // `+ ? { } | ( )` are ordinary in BRE.
        assert!(m("a+b", "a+b"));
        assert!(!m("a+b", "aab"));
        assert!(m("(x)", "(x)"));
        assert!(m("a|b", "a|b"));
        assert!(!m("a|b", "a"));
    }

    #[test]
    fn bre_gnu_extensions() {
        assert!(m("ab\\+c", "abbc"));
        assert!(!m("ab\\+c", "ac"));
        assert!(m("ab\\?c", "ac"));
        assert!(m("a\\{2\\}", "xaax"));
        assert!(!m("^a\\{2\\}$", "aaa"));
        assert!(m("^a\\{2,3\\}$", "aaa"));
        assert!(m("^a\\{,2\\}$", ""));
        assert!(m("^a\\{2,\\}$", "aaaaa"));
        assert!(m("\\(ab\\)*c", "ababc"));
        assert!(m("cat\\|dog", "hotdog"));
        assert!(m("\\<is\\>", "this is it"));
        assert!(!m("\\<is\\>", "this"));
        assert!(m("\\bx", "a x"));
        assert!(m("\\w\\+", " x"));
        assert!(m("a\\sb", "a b"));
        assert!(m("a\\q", "aq"));
    }

    #[test]
    fn ere_syntax() {
        assert!(e("ab+c", "abbc"));
        assert!(e("colou?r", "color"));
        assert!(e("(ab){2}", "abab"));
        assert!(!e("^(ab){2}$", "ab"));
        assert!(e("^(cat|dog)s?$", "dogs"));
        assert!(e("a{", "a{"));
        assert!(e("a{1", "a{1"));
        assert!(e("a)", "a)"));
        assert!(e("a||b", "zzz"));
        assert!(e("()", "x"));
        assert!(e("a|*b", "b"));
        assert!(e("^*a", "*a"));
        assert!(e("a{1}{2}", "aa"));
        assert!(!e("^a{1}{2}$", "a"));
    }

    #[test]
    fn brackets() {
        assert!(m("[abc]", "xxbxx"));
        assert!(!m("[abc]", "xyz"));
        assert!(m("[^abc]", "abcd"));
        assert!(!m("^[^abc]*$", "abca"));
        assert!(m("[a-c]", "b"));
        assert!(m("[]a]", "]"));
        assert!(m("[^]a]", "b"));
        assert!(!m("^[^]a]$", "]"));
        assert!(m("[a-]", "-"));
        assert!(m("[[:digit:]]", "a1"));
        assert!(m("^[[:alpha:][:space:]]*$", "ab cd"));
        assert!(m("[[.a.]]", "a"));
        assert!(m("[[=a=]]", "a"));
        assert!(m("[.]", "."));
        assert!(!m("[.]", "a"));
        assert!(m("[*]", "*"));
    }

    #[test]
    fn errors_in_gnu_words() {
        assert_eq!(err("[a", Syntax::Basic), "Unmatched [, [^, [:, [., or [=");
        assert_eq!(err("\\(a", Syntax::Basic), "Unmatched ( or \\(");
        assert_eq!(err("a\\)", Syntax::Basic), "Unmatched ) or \\)");
        assert_eq!(err("(a", Syntax::Extended), "Unmatched ( or \\(");
        assert_eq!(err("a\\{1", Syntax::Basic), "Unmatched \\{");
        assert_eq!(
            err("x\\{2,1\\}", Syntax::Basic),
            "Invalid content of \\{\\}"
        );
        assert_eq!(err("a{2,1}", Syntax::Extended), "Invalid content of \\{\\}");
        assert_eq!(
            err("x{99999}", Syntax::Extended),
            "Regular expression too big"
        );
        assert_eq!(err("[b-a]", Syntax::Basic), "Invalid range end");
        assert_eq!(err("a\\", Syntax::Basic), "Trailing backslash");
        assert_eq!(
            err("[[:foo:]]", Syntax::Basic),
            "Invalid character class name"
        );
        assert_eq!(err("a\\1", Syntax::Basic), "Invalid back reference");
        assert_eq!(
            err("[:space:]", Syntax::Basic),
            "character class syntax is [[:space:]], not [:space:]"
        );
    }

    #[test]
    fn fixed_strings_and_flags() {
        let f = |p: &str, fl: Flags, s: &str| {
            Regex::new(&[p], Syntax::Fixed, fl).unwrap().is_match_str(s)
        };
        assert!(f("a.b", Flags::default(), "xa.by"));
        assert!(!f("a.b", Flags::default(), "axb"));
        let i = Flags {
            icase: true,
            ..Flags::default()
        };
        assert!(f("HeLLo", i, "say hello"));
        assert!(Regex::new(&["[A-C]x"], Syntax::Basic, i)
            .unwrap()
            .is_match_str("bX"));
        let w = Flags {
            word: true,
            ..Flags::default()
        };
        assert!(!f("is", w, "this"));
        assert!(f("is", w, "this is"));
        assert!(f("is", w, "is."));
        // The first occurrence fails the word test, a later one passes.
        assert!(Regex::new(&["a*b"], Syntax::Basic, w)
            .unwrap()
            .is_match_str("xab ab"));
        let x = Flags {
            line: true,
            ..Flags::default()
        };
        assert!(f("abc", x, "abc"));
        assert!(!f("abc", x, "abcd"));
        assert!(Regex::new(&["a", "b"], Syntax::Basic, x)
            .unwrap()
            .is_match_str("b"));
        assert!(!Regex::new(&[], Syntax::Basic, Flags::default())
            .unwrap()
            .is_match_str("x"));
        assert!(Regex::new(&["x", "y"], Syntax::Basic, Flags::default())
            .unwrap()
            .is_match_str("ay"));
    }

    #[test]
    fn unicode_and_case() {
        assert!(m("h.llo", "h\u{e9}llo"));
        let i = Flags {
            icase: true,
            ..Flags::default()
        };
        assert!(Regex::new(&["\u{c9}T\u{c9}"], Syntax::Basic, i)
            .unwrap()
            .is_match_str("\u{e9}t\u{e9}"));
    }

    #[test]
    fn pathological_patterns_stay_linear() {
        let p = "\\(a*\\)*b";
        let s = "a".repeat(5000);
        assert!(!m(p, &s));
        let deep = "(".repeat(1000);
        assert!(Regex::new(&[&deep], Syntax::Extended, Flags::default()).is_err());
        // The deepest pattern allowed parses, compiles and runs in a WayOS-sized stack.
        let nested = alloc::format!(
            "{}a{}",
            "(x*".repeat(DEPTH_MAX - 1),
            ")*".repeat(DEPTH_MAX - 1)
        );
        let worker = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let r = Regex::new(&[&nested], Syntax::Extended, Flags::default()).unwrap();
                r.is_match_str("xxa")
            });
        assert!(worker.unwrap().join().unwrap());
        let too_deep = alloc::format!(
            "{}a{}",
            "(".repeat(DEPTH_MAX + 1),
            ")".repeat(DEPTH_MAX + 1)
        );
        assert_eq!(
            err(&too_deep, Syntax::Extended),
            "Regular expression too big"
        );
        let stars = alloc::format!("a{}", "*".repeat(10_000));
        assert!(m(&stars, "aaa"));
    }

    #[test]
    fn random_patterns_never_panic() {
        let mut rng = wayos_testutil::XorShift::new(7);
        let alphabet: Vec<char> = "ab.*+?^$[]{}()|\\-:,=123 wW<>".chars().collect();
        for _ in 0..20_000 {
            let len = rng.index(12);
            let p: String = (0..len)
                .map(|_| alphabet[rng.index(alphabet.len())])
                .collect();
            for syn in [Syntax::Basic, Syntax::Extended, Syntax::Fixed] {
                if let Ok(r) = Regex::new(&[&p], syn, Flags::default()) {
                    let _ = r.is_match_str("ab[a]{1}(x)|-:w 123");
                }
            }
        }
    }
}
