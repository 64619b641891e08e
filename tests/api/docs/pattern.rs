//! What a page shows as JSON, with `…` for what it leaves out: the pattern and its parser.

use serde_json::Value;

/// The elision mark.
pub const ELLIPSIS: char = '…';

/// A JSON value with holes.
#[derive(Debug)]
pub enum Pat {
    /// `…` as a value: anything; as an array element: any number of elements.
    Any,
    Null,
    Bool(bool),
    Num(f64),
    /// Text, matched by `expect::text_matches`.
    Str(String),
    Arr(Vec<Pat>),
    /// The members shown, and whether a `…` member allows others.
    Obj(Vec<(String, Pat)>, bool),
}

/// A pattern written back as the page would show it, for messages.
pub fn show_pat(pat: &Pat) -> String {
    match pat {
        Pat::Any => "…".into(),
        Pat::Null => "null".into(),
        Pat::Bool(x) => x.to_string(),
        Pat::Num(x) => x.to_string(),
        Pat::Str(s) => Value::String(s.clone()).to_string(),
        Pat::Arr(items) => format!("[{}]", items.iter().map(show_pat).collect::<Vec<_>>().join(",")),
        Pat::Obj(members, open) => {
            let mut shown: Vec<String> =
                members.iter().map(|(k, v)| format!("{}:{}", Value::String(k.clone()), show_pat(v))).collect();
            if *open {
                shown.push("…".into());
            }
            format!("{{{}}}", shown.join(","))
        }
    }
}

/// JSON with `…`: as a value, as an array element, and as an object member (bare, or as the key
/// `"…"`, whose value is a note for the reader).
pub struct Parser<'a> {
    pub s: &'a str,
    pub i: usize,
}

impl Parser<'_> {
    fn peek(&mut self) -> Option<char> {
        self.i += self.s[self.i..].len() - self.s[self.i..].trim_start().len();
        self.s[self.i..].chars().next()
    }

    fn eat(&mut self, c: char) -> Result<(), String> {
        match self.peek() {
            Some(got) if got == c => {
                self.i += c.len_utf8();
                Ok(())
            }
            other => Err(format!("expected `{c}` at byte {}, found {other:?}", self.i)),
        }
    }

    pub fn value(&mut self) -> Result<Pat, String> {
        let first = self.peek().ok_or("end of text")?;
        let rest = &self.s[self.i..];
        match first {
            '{' => self.object(),
            '[' => self.array(),
            '"' => Ok(Pat::Str(self.string()?)),
            ELLIPSIS => {
                self.i += ELLIPSIS.len_utf8();
                Ok(Pat::Any)
            }
            _ if rest.starts_with("null") => self.word(4, Pat::Null),
            _ if rest.starts_with("true") => self.word(4, Pat::Bool(true)),
            _ if rest.starts_with("false") => self.word(5, Pat::Bool(false)),
            c if c == '-' || c.is_ascii_digit() => {
                let len =
                    rest.find(|c: char| !matches!(c, '-' | '+' | '.' | 'e' | 'E' | '0'..='9')).unwrap_or(rest.len());
                let number = rest[..len].parse().map_err(|e| format!("bad number: {e}"))?;
                self.i += len;
                Ok(Pat::Num(number))
            }
            c => Err(format!("unexpected `{c}` at byte {}", self.i)),
        }
    }

    fn word(&mut self, len: usize, pat: Pat) -> Result<Pat, String> {
        self.i += len;
        Ok(pat)
    }

    fn object(&mut self) -> Result<Pat, String> {
        self.eat('{')?;
        let (mut members, mut open) = (Vec::new(), false);
        if self.peek() == Some('}') {
            self.i += 1;
            return Ok(Pat::Obj(members, open));
        }
        loop {
            if self.peek() == Some(ELLIPSIS) {
                self.i += ELLIPSIS.len_utf8();
                open = true;
            } else {
                let key = self.string()?;
                self.eat(':')?;
                let value = self.value()?;
                if key == "…" { open = true } else { members.push((key, value)) }
            }
            match self.peek() {
                Some(',') => self.i += 1,
                Some('}') => {
                    self.i += 1;
                    return Ok(Pat::Obj(members, open));
                }
                other => return Err(format!("expected `,` or `}}` at byte {}, found {other:?}", self.i)),
            }
        }
    }

    fn array(&mut self) -> Result<Pat, String> {
        self.eat('[')?;
        let mut items = Vec::new();
        if self.peek() == Some(']') {
            self.i += 1;
            return Ok(Pat::Arr(items));
        }
        loop {
            items.push(self.value()?);
            match self.peek() {
                Some(',') => self.i += 1,
                Some(']') => {
                    self.i += 1;
                    return Ok(Pat::Arr(items));
                }
                other => return Err(format!("expected `,` or `]` at byte {}, found {other:?}", self.i)),
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.eat('"')?;
        let start = self.i;
        let mut escaped = false;
        for (n, c) in self.s[start..].char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    self.i = start + n + 1;
                    let raw = &self.s[start - 1..self.i];
                    return serde_json::from_str(raw).map_err(|e| format!("bad string {raw}: {e}"));
                }
                '\n' => break,
                _ => {}
            }
        }
        Err(format!("unterminated string at byte {start}"))
    }
}
