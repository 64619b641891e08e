//! A batch body's contacts, read without building them all at once: from JSON, where each contact
//! lies in the request body; from CSV, the file's rows. They are counted before any is parsed, then
//! parsed one at a time as the checker reaches them, so that a 100,000-contact upload never becomes a
//! tree of 100,000 values.

use super::batch_body::{MAX_CONTACTS, PHONE_COLUMNS};
use crate::error::{Error, Loc};
use axum::body::Bytes;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::ops::Range;

/// The `contacts` of a batch body, counted but not parsed.
pub enum Contacts {
    /// Absent, or `null`.
    Missing,
    /// Present but not a list.
    NotAList,
    /// A JSON list: where each item lies in the body (the first `MAX_CONTACTS + 1` of them), and how
    /// many there are in all.
    Json { body: Bytes, items: Vec<Range<usize>>, total: usize },
    /// The rows of a CSV file, and how many there are.
    Csv { rows: CsvRows, total: usize },
}

impl Contacts {
    /// How many contacts there are, when they form a list.
    pub fn count(&self) -> Option<usize> {
        match self {
            Contacts::Missing | Contacts::NotAList => None,
            Contacts::Json { total, .. } | Contacts::Csv { total, .. } => Some(*total),
        }
    }

    /// The contacts one at a time, each parsed when it is reached.
    pub fn into_items(self) -> Box<dyn Iterator<Item = Value> + Send> {
        match self {
            Contacts::Missing | Contacts::NotAList => Box::new(std::iter::empty()),
            // Each item was checked to be JSON while the body was split.
            Contacts::Json { body, items, .. } => {
                Box::new(items.into_iter().map(move |at| serde_json::from_slice(&body[at]).unwrap_or(Value::Null)))
            }
            Contacts::Csv { rows, .. } => Box::new(rows.into_iter()),
        }
    }
}

/// The top-level entries of a JSON object, each value left as text.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(V)
    }
}

/// A JSON list's items as text: the first `MAX_CONTACTS + 1`, and how many there are in all.
struct Items<'a> {
    items: Vec<&'a RawValue>,
    total: usize,
}

impl<'de> serde::Deserialize<'de> for Items<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Items<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Items { items: Vec::new(), total: 0 };
                while let Some(item) = seq.next_element::<&'de RawValue>()? {
                    out.total += 1;
                    // Past the limit the list is refused: it is only counted.
                    if out.items.len() <= MAX_CONTACTS {
                        out.items.push(item);
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_seq(V)
    }
}

fn body_error(kind: &str, msg: String) -> Error {
    Error::invalid(vec![Loc::from("body")], kind, msg)
}

/// Splits a JSON batch body: every field but `contacts` as a value, and `contacts` counted, unparsed.
pub fn split_json(body: Bytes) -> Result<(Map<String, Value>, Contacts), Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(body_error("missing", "Field required".into()));
    }
    let entries = match serde_json::from_slice::<Entries<'_>>(&body) {
        Ok(entries) => entries.0,
        Err(e) if e.is_data() => {
            let msg = "Input should be a valid dictionary or object to extract fields from";
            return Err(body_error("model_attributes_type", msg.into()));
        }
        Err(e) => return Err(body_error("json_invalid", format!("JSON decode error: {e}"))),
    };
    let mut fields = Map::new();
    let mut contacts = None;
    for (key, raw) in entries {
        if key == "contacts" {
            contacts = Some(raw);
        } else {
            let value = serde_json::from_str(raw.get()).map_err(Error::internal)?;
            fields.insert(key, value);
        }
    }
    let contacts = match contacts.map(RawValue::get) {
        None | Some("null") => Contacts::Missing,
        Some(text) => match serde_json::from_str::<Items<'_>>(text) {
            Ok(list) => {
                let start = body.as_ptr() as usize;
                let items = list
                    .items
                    .iter()
                    .map(|raw| {
                        let at = raw.get().as_ptr() as usize - start;
                        at..at + raw.get().len()
                    })
                    .collect();
                Contacts::Json { body: body.clone(), items, total: list.total }
            }
            Err(_) => Contacts::NotAList,
        },
    };
    Ok((fields, contacts))
}

/// The rows of a CSV file with a header row: the phone column becomes `phone_number`, non-empty
/// `timezone` and `region` cells the contact's fields of those names, every other non-empty cell a
/// call variable. Rows whose cells are all empty are skipped.
pub struct CsvRows {
    bytes: Vec<u8>,
    names: Vec<String>,
    phone: usize,
}

impl CsvRows {
    /// Reads the header row and counts the rows (every row is read once, none is kept).
    pub fn parse(mut bytes: Vec<u8>) -> Result<(Self, usize), String> {
        if bytes.starts_with(b"\xef\xbb\xbf") {
            bytes.drain(..3);
        }
        let mut reader = reader(&bytes);
        let headers = reader.headers().map_err(|e| format!("Value error, CSV header row could not be read: {e}"))?;
        let names: Vec<String> = headers.iter().map(str::to_owned).collect();
        let phone = PHONE_COLUMNS
            .iter()
            .find_map(|wanted| names.iter().position(|n| n.eq_ignore_ascii_case(wanted)))
            .ok_or("Value error, CSV needs a phone_number, phone or contact_number column in its header row")?;
        let mut record = csv::StringRecord::new();
        let mut total = 0;
        for row in 1.. {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => total += usize::from(!record.iter().all(str::is_empty)),
                Err(e) => return Err(format!("Value error, CSV row {row} could not be read: {e}")),
            }
        }
        Ok((Self { bytes, names, phone }, total))
    }

    fn into_iter(self) -> impl Iterator<Item = Value> + Send {
        let Self { bytes, names, phone } = self;
        let fields: Vec<Option<&'static str>> =
            names.iter().map(|n| CONTACT_FIELDS.iter().copied().find(|f| n.eq_ignore_ascii_case(f))).collect();
        let mut reader = reader_of_owned(bytes);
        let _ = reader.headers();
        reader.into_records().filter_map(Result::ok).filter(|r| !r.iter().all(str::is_empty)).map(move |record| {
            let mut vars = Map::new();
            let mut contact = Map::new();
            for (j, cell) in record.iter().enumerate() {
                let field = fields.get(j).copied().flatten();
                if j == phone {
                    contact.insert("phone_number".into(), Value::String(cell.to_owned()));
                } else if let Some(field) = field {
                    if !cell.is_empty() {
                        contact.insert(field.into(), Value::String(cell.to_owned()));
                    }
                } else if !cell.is_empty() {
                    let name =
                        names.get(j).filter(|n| !n.is_empty()).cloned().unwrap_or_else(|| format!("column_{}", j + 1));
                    vars.insert(name, Value::String(cell.to_owned()));
                }
            }
            contact.insert("call_variables".into(), Value::Object(vars));
            Value::Object(contact)
        })
    }
}

/// CSV columns (by header, any case) that are contact fields rather than call variables.
const CONTACT_FIELDS: [&str; 2] = ["timezone", "region"];

fn builder() -> csv::ReaderBuilder {
    let mut b = csv::ReaderBuilder::new();
    b.flexible(true).trim(csv::Trim::All);
    b
}

fn reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    builder().from_reader(bytes)
}

fn reader_of_owned(bytes: Vec<u8>) -> csv::Reader<std::io::Cursor<Vec<u8>>> {
    builder().from_reader(std::io::Cursor::new(bytes))
}
