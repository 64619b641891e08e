//! JSON responses: RFC 3339 timestamps and the `200`/`201` helpers.

use crate::error::Error;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// An instant written as RFC 3339 UTC with `Z` (fractional seconds only when present).
#[derive(Clone, Copy, Debug)]
pub struct Timestamp(pub DateTime<Utc>);

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 30];
        match rfc3339(self.0, &mut buf) {
            Some(text) => s.serialize_str(text),
            None => s.serialize_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        }
    }
}

/// The instant as chrono's `to_rfc3339_opts(AutoSi, true)` writes it, digit by digit into `buf` (every
/// listed object carries two: the formatting machinery was a visible share of a listing's time);
/// `None` outside years 0–9999 and for leap seconds, which chrono writes itself.
fn rfc3339(at: DateTime<Utc>, buf: &mut [u8; 30]) -> Option<&str> {
    use chrono::{Datelike, Timelike};
    let (year, nanos) = (at.year(), at.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return None;
    }
    let mut put = |at: usize, value: u32, digits: usize| {
        let mut v = value;
        for i in (0..digits).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year as u32, 4);
    put(5, at.month(), 2);
    put(8, at.day(), 2);
    put(11, at.hour(), 2);
    put(14, at.minute(), 2);
    put(17, at.second(), 2);
    let (fraction, digits) = match nanos {
        0 => (0, 0),
        n if n % 1_000_000 == 0 => (n / 1_000_000, 3),
        n if n % 1_000 == 0 => (n / 1_000, 6),
        n => (n, 9),
    };
    if digits > 0 {
        put(20, fraction, digits);
    }
    let end = if digits > 0 { 20 + digits } else { 19 };
    for (i, c) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'.'), (end, b'Z')] {
        buf[i] = c;
    }
    std::str::from_utf8(&buf[..=end]).ok()
}

/// Serializes `value` as a JSON response with `status`.
pub fn respond<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Result<Response, Error> {
    let bytes = serde_json::to_vec(value).map_err(Error::internal)?;
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// `200 OK` with a JSON body.
pub fn ok<T: Serialize + ?Sized>(value: &T) -> Result<Response, Error> {
    respond(StatusCode::OK, value)
}

/// `201 Created` with a JSON body.
pub fn created<T: Serialize + ?Sized>(value: &T) -> Result<Response, Error> {
    respond(StatusCode::CREATED, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    proptest! {
        /// Every instant of years 0–9999, at every precision, reads as chrono writes it.
        #[test]
        fn timestamps_match_chrono(secs in -62_167_219_200i64..253_402_300_799, nanos in 0u32..1_000_000_000, cut in 0usize..4) {
            let nanos = [nanos, nanos / 1_000 * 1_000, nanos / 1_000_000 * 1_000_000, 0][cut];
            let at = Utc.timestamp_opt(secs, nanos).unwrap();
            let mut buf = [0u8; 30];
            prop_assert_eq!(rfc3339(at, &mut buf).unwrap(), at.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        }
    }

    #[test]
    fn years_beyond_four_digits_are_left_to_chrono() {
        let at = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(rfc3339(at, &mut [0u8; 30]), None);
        assert_eq!(
            serde_json::to_string(&Timestamp(at)).unwrap(),
            format!("\"{}\"", at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        );
    }
}
