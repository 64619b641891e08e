//! The output an example shows, and matching it against what the example printed: JSON compared as
//! values, text line by line, with the placeholders of docs/README.md ("Writing examples").

use super::pattern::{ELLIPSIS, Parser, Pat, show_pat};
use regex::Regex;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::LazyLock;

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
        (shown, got) => {
            return Err(format!("the page shows {}, the example printed {}", show_item(shown), show_got(got)));
        }
    }
    matches(more, &got[1..], b)
}

/// Tries `rest(k)` for every k in 0..=n, keeping the bindings of the first that matches.
fn any_prefix(
    n: usize,
    b: &mut Bindings,
    rest: impl Fn(usize, &mut Bindings) -> Result<(), String>,
) -> Result<(), String> {
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
                Some(extra) if !open => Err(format!(
                    "at {at}: the server answered the key `{extra}`, the page does not show it (add `…` to elide keys)"
                )),
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
        (Some((p, _)), None) => {
            Err(format!("at {at}[{index}]: the page shows {}, the server answered no more elements", show_pat(p)))
        }
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
            return Err(format!(
                "`{shown}` stood for {before} earlier on this page, but here the server answered {real}"
            ));
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
