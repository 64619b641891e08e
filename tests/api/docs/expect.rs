//! The output an example shows, and matching it against what the example printed: JSON compared as
//! values, text line by line, with the placeholders of docs/README.md ("Writing examples").

use regex::Regex;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::LazyLock;

/// The elision mark.
const ELLIPSIS: char = '…';

/// An id of the API: a prefix and 26 base32 characters.
static ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(org|tok|cmp|btc|con|exec)_[0-9a-z]{26}\b").expect("id pattern"));
/// A request id as the server makes them: 32 hexadecimal digits.
static REQUEST_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b[0-9a-f]{32}\b").expect("request id pattern"));

/// One item of expected output: a JSON value (a pattern), a line of text, or `…` alone on its line.
#[derive(Debug)]
pub enum Item {
    Json(Pat),
    Text(String),
    AnyLines,
}

/// A JSON value with holes.
#[derive(Debug)]
pub enum Pat {
    /// `…` as a value: anything; as an array element: any number of elements.
    Any,
    Null,
    Bool(bool),
    Num(f64),
    /// Text matched by `text_matches`.
    Str(String),
    Arr(Vec<Pat>),
    /// The members shown, and whether a `…` member allows others.
    Obj(Vec<(String, Pat)>, bool),
}

/// One item of what an example printed.
#[derive(Debug)]
pub enum Got {
    Json(Value),
    Text(String),
}

/// Which real id each id shown on a page stands for, both ways: one shown id is one real id.
#[derive(Clone, Default)]
pub struct Bindings {
    shown_to_real: HashMap<String, String>,
    real_to_shown: HashMap<String, String>,
}

/// The status a shown output starts with (`# 409 {…}`), and the rest.
pub fn split_status(text: &str) -> (Option<u16>, &str) {
    let trimmed = text.trim_start();
    let digits = trimmed.get(..3).filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
    let status = digits.and_then(|d| d.parse::<u16>().ok()).filter(|s| (100..600).contains(s));
    match (status, trimmed.as_bytes().get(3)) {
        (Some(status), Some(b' ')) => (Some(status), &trimmed[4..]),
        _ => (None, text),
    }
}

/// Reads shown output into items. A JSON value may span lines; anything else is a line of text.
pub fn expected(text: &str) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(items);
        }
        if rest.starts_with(['{', '[', '"']) {
            let mut parser = Parser { s: rest, i: 0 };
            if let Ok(pat) = parser.value() {
                items.push(Item::Json(pat));
                rest = &rest[parser.i..];
                continue;
            }
        }
        let (line, tail) = rest.split_once('\n').unwrap_or((rest, ""));
        let line = line.trim();
        items.push(if line == "…" { Item::AnyLines } else { Item::Text(line.to_owned()) });
        rest = tail;
    }
}

/// Reads what an example printed into items, as `expected` reads the shown output.
pub fn got(text: &str) -> Vec<Got> {
    let mut items = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return items;
        }
        if rest.starts_with(['{', '[', '"']) {
            let mut values = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
            if let Some(Ok(value)) = values.next() {
                items.push(Got::Json(value));
                rest = &rest[values.byte_offset()..];
                continue;
            }
        }
        let (line, tail) = rest.split_once('\n').unwrap_or((rest, ""));
        items.push(Got::Text(line.trim().to_owned()));
        rest = tail;
    }
}

/// Whether the printed items match the shown ones, in order; the error says where they part.
pub fn matches(shown: &[Item], got: &[Got], b: &mut Bindings) -> Result<(), String> {
    let Some((first, more)) = shown.split_first() else {
        return match got.first() {
            None => Ok(()),
            Some(extra) => Err(format!("the example printed more than the page shows, from: {}", show_got(extra))),
        };
    };
    if let Item::AnyLines = first {
        return any_prefix(got.len(), b, |k, b| matches(more, &got[k..], b));
    }
    let Some(item) = got.first() else {
        return Err(format!("the page shows {} that the example did not print", show_item(first)));
    };
    match (first, item) {
        (Item::Json(p), Got::Json(v)) => value_matches(p, v, "$", b)?,
        (Item::Text(t), Got::Text(s)) => text_matches(t, s, b).map_err(|e| format!("line `{s}`: {e}"))?,
        (shown, got) => return Err(format!("the page shows {}, the example printed {}", show_item(shown), show_got(got))),
    }
    matches(more, &got[1..], b)
}

/// Tries `rest(k)` for every k in 0..=n, keeping the bindings of the first that matches.
fn any_prefix(n: usize, b: &mut Bindings, rest: impl Fn(usize, &mut Bindings) -> Result<(), String>) -> Result<(), String> {
    let mut first_error = None;
    for k in 0..=n {
        let mut trial = b.clone();
        match rest(k, &mut trial) {
            Ok(()) => {
                *b = trial;
                return Ok(());
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_default())
}

fn value_matches(pat: &Pat, got: &Value, at: &str, b: &mut Bindings) -> Result<(), String> {
    let differ = || format!("at {at}: the page shows {}, the server answered {got}", show_pat(pat));
    match (pat, got) {
        (Pat::Any, _) => Ok(()),
        (Pat::Null, Value::Null) => Ok(()),
        (Pat::Bool(x), Value::Bool(y)) if x == y => Ok(()),
        (Pat::Num(x), Value::Number(y)) if y.as_f64() == Some(*x) => Ok(()),
        (Pat::Str(p), Value::String(s)) => text_matches(p, s, b).map_err(|e| format!("at {at}: {e}")),
        (Pat::Arr(pats), Value::Array(items)) => elements_match(pats, items, at, 0, b),
        (Pat::Obj(members, open), Value::Object(map)) => {
            for (key, p) in members {
                let value = map.get(key).ok_or_else(|| format!("at {at}: no key `{key}` in {got}"))?;
                value_matches(p, value, &format!("{at}.{key}"), b)?;
            }
            match map.keys().find(|k| !members.iter().any(|(m, _)| m == *k)) {
                Some(extra) if !open => Err(format!("at {at}: the server answered the key `{extra}`, the page does not show it (add `…` to elide keys)")),
                _ => Ok(()),
            }
        }
        _ => Err(differ()),
    }
}

fn elements_match(pats: &[Pat], items: &[Value], at: &str, index: usize, b: &mut Bindings) -> Result<(), String> {
    match (pats.split_first(), items.split_first()) {
        (None, None) => Ok(()),
        (None, Some((extra, _))) => Err(format!("at {at}[{index}]: the server answered one more element, {extra}")),
        (Some((Pat::Any, more)), _) => {
            any_prefix(items.len(), b, |k, b| elements_match(more, &items[k..], at, index + k, b))
        }
        (Some((p, _)), None) => Err(format!("at {at}[{index}]: the page shows {}, the server answered no more elements", show_pat(p))),
        (Some((p, more)), Some((item, rest))) => {
            value_matches(p, item, &format!("{at}[{index}]"), b)?;
            elements_match(more, rest, at, index + 1, b)
        }
    }
}

/// Whether `got` is the text `shown`, where `…` stands for any text, a request id for any request id,
/// and an id for the real id of the same kind it stands for on this page.
pub fn text_matches(shown: &str, got: &str, b: &mut Bindings) -> Result<(), String> {
    let mut pattern = String::from("^");
    let mut ids = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < shown.len() {
        let rest = &shown[i..];
        let id = ID.find(rest).filter(|m| m.start() == 0);
        let request_id = REQUEST_ID.find(rest).filter(|m| m.start() == 0);
        if rest.starts_with(ELLIPSIS) {
            pattern += &regex::escape(&std::mem::take(&mut literal));
            pattern += "(?s:.*?)";
            i += ELLIPSIS.len_utf8();
        } else if let Some(m) = id {
            pattern += &regex::escape(&std::mem::take(&mut literal));
            let kind = m.as_str().split('_').next().unwrap_or_default();
            pattern += &format!("({kind}_[0-9a-z]{{26}})");
            ids.push(m.as_str().to_owned());
            i += m.end();
        } else if let Some(m) = request_id {
            pattern += &regex::escape(&std::mem::take(&mut literal));
            pattern += "[0-9a-f]{32}";
            i += m.end();
        } else {
            let c = rest.chars().next().unwrap_or_default();
            literal.push(c);
            i += c.len_utf8();
        }
    }
    pattern += &regex::escape(&literal);
    pattern += "$";
    let re = Regex::new(&pattern).map_err(|e| format!("bad pattern from `{shown}`: {e}"))?;
    let caps = re.captures(got).ok_or_else(|| format!("the page shows `{shown}`, the server answered `{got}`"))?;
    for (n, shown_id) in ids.iter().enumerate() {
        let real = caps.get(n + 1).map(|m| m.as_str()).unwrap_or_default();
        b.bind(shown_id, real)?;
    }
    Ok(())
}

impl Bindings {
    fn bind(&mut self, shown: &str, real: &str) -> Result<(), String> {
        if let Some(before) = self.shown_to_real.get(shown).filter(|r| *r != real) {
            return Err(format!("`{shown}` stood for {before} earlier on this page, but here the server answered {real}"));
        }
        if let Some(before) = self.real_to_shown.get(real).filter(|s| *s != shown) {
            return Err(format!("{real} is shown as `{before}` earlier on this page, but here as `{shown}`"));
        }
        self.shown_to_real.insert(shown.to_owned(), real.to_owned());
        self.real_to_shown.insert(real.to_owned(), shown.to_owned());
        Ok(())
    }
}

fn show_item(item: &Item) -> String {
    match item {
        Item::Json(p) => show_pat(p),
        Item::Text(t) => format!("the line `{t}`"),
        Item::AnyLines => "…".into(),
    }
}

fn show_got(item: &Got) -> String {
    match item {
        Got::Json(v) => v.to_string(),
        Got::Text(t) => format!("the line `{t}`"),
    }
}

fn show_pat(pat: &Pat) -> String {
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
struct Parser<'a> {
    s: &'a str,
    i: usize,
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

    fn value(&mut self) -> Result<Pat, String> {
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
                let len = rest.find(|c: char| !matches!(c, '-' | '+' | '.' | 'e' | 'E' | '0'..='9')).unwrap_or(rest.len());
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
