//! Standard Webhooks signatures (API.md §8): `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a signed timestamp may be from now, in seconds.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// A signing secret, given as `whsec_<base64>`; the HMAC key is the decoded bytes.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Why a signed message was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum VerifyError {
    MissingHeaders,
    BadTimestamp,
    /// More signatures than anyone needs (`MAX_SIGNATURES`): refused before the body is read.
    TooManySignatures,
    NoMatchingSignature,
}

/// The most signatures one message may carry (a sender rotating secrets sends two or three).
pub const MAX_SIGNATURES: usize = 10;

/// A message's signature headers, checked for shape and freshness: everything that can be judged
/// before its body is read.
#[derive(Debug)]
pub struct SignedHeaders<'a> {
    id: &'a str,
    /// The timestamp exactly as sent: it is what the sender signed.
    timestamp: &'a str,
    /// The base64 parts of the `v1,` signatures.
    candidates: Vec<&'a str>,
}

impl<'a> SignedHeaders<'a> {
    /// Checks the headers of a message: an id, a timestamp within `TOLERANCE_SECONDS` of `now`
    /// (Unix seconds), and 1 to `MAX_SIGNATURES` space-separated signatures.
    pub fn parse(id: &'a str, timestamp: &'a str, signatures: &'a str, now: i64) -> Result<Self, VerifyError> {
        if id.is_empty() || signatures.trim().is_empty() {
            return Err(VerifyError::MissingHeaders);
        }
        // The count is checked before anything is decoded, so a huge header costs a scan of it.
        if signatures.split_whitespace().nth(MAX_SIGNATURES).is_some() {
            return Err(VerifyError::TooManySignatures);
        }
        let ts: i64 = timestamp.parse().map_err(|_| VerifyError::BadTimestamp)?;
        if now.checked_sub(ts).is_none_or(|age| age.abs() > TOLERANCE_SECONDS) {
            return Err(VerifyError::BadTimestamp);
        }
        let candidates = signatures.split_whitespace().filter_map(|s| s.strip_prefix("v1,")).collect();
        Ok(Self { id, timestamp, candidates })
    }
}

impl Secret {
    /// Parses `whsec_<base64>` (at least 16 bytes of key).
    pub fn parse(text: &str) -> Option<Self> {
        let key = BASE64.decode(text.strip_prefix("whsec_")?).ok()?;
        (key.len() >= 16).then_some(Self(key))
    }

    /// The MAC of a message, over `id.timestamp.body` with the timestamp as written.
    fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
        // HMAC accepts keys of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// The `webhook-signature` header value for a message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", BASE64.encode(self.mac(id, &timestamp.to_string(), body)))
    }

    /// Checks a body against headers that passed `SignedHeaders::parse`: the MAC is computed once,
    /// and compared with every candidate in constant time.
    pub fn verify_body(&self, headers: &SignedHeaders<'_>, body: &[u8]) -> Result<(), VerifyError> {
        let expected = self.mac(headers.id, headers.timestamp, body);
        let mut valid = subtle::Choice::from(0);
        for candidate in &headers.candidates {
            // A candidate of another length cannot match; decoding it is bounded by the header size.
            if let Ok(given) = BASE64.decode(candidate)
                && given.len() == expected.len()
            {
                valid |= expected.ct_eq(&given[..]);
            }
        }
        if bool::from(valid) { Ok(()) } else { Err(VerifyError::NoMatchingSignature) }
    }

    /// Checks a whole message: its headers (see `SignedHeaders::parse`), then its body.
    pub fn verify(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        self.verify_body(&SignedHeaders::parse(id, timestamp, signatures, now)?, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
    }

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        // The example of the Standard Webhooks specification.
        let body = br#"{"test": 2432232314}"#;
        let sig = secret().sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(secret().verify("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", &sig, body, 1614265331), Ok(()));
    }

    #[test]
    fn refuses_stale_tampered_or_unsigned_messages() {
        let s = secret();
        let sig = s.sign("m1", 1000, b"{}");
        assert_eq!(s.verify("m1", "1000", &sig, b"{}", 1000 + 301), Err(VerifyError::BadTimestamp));
        assert_eq!(s.verify("m1", "1000", &sig, b"{ }", 1000), Err(VerifyError::NoMatchingSignature));
        assert_eq!(s.verify("m2", "1000", &sig, b"{}", 1000), Err(VerifyError::NoMatchingSignature));
        assert_eq!(s.verify("m1", "x", &sig, b"{}", 1000), Err(VerifyError::BadTimestamp));
        assert_eq!(s.verify("m1", "1000", "", b"{}", 1000), Err(VerifyError::MissingHeaders));
        let several = format!("v1,AAAA {sig} v2,zzz");
        assert_eq!(s.verify("m1", "1000", &several, b"{}", 1000), Ok(()), "any valid signature is enough");
    }

    #[test]
    fn the_timestamp_is_signed_exactly_as_sent() {
        let s = secret();
        // A sender that writes its timestamp with a leading zero signs those very characters.
        let sig = format!("v1,{}", BASE64.encode(s.mac("m1", "01000", b"{}")));
        assert_eq!(s.verify("m1", "01000", &sig, b"{}", 1000), Ok(()));
        assert_eq!(s.verify("m1", "1000", &sig, b"{}", 1000), Err(VerifyError::NoMatchingSignature));
        assert_eq!(s.verify("m1", " 1000", &s.sign("m1", 1000, b"{}"), b"{}", 1000), Err(VerifyError::BadTimestamp));
    }

    #[test]
    fn at_most_ten_signatures_and_the_headers_are_judged_without_the_body() {
        let s = secret();
        let sig = s.sign("m1", 1000, b"{}");
        let nine_bad = ["v1,AAAA"; 9].join(" ");
        assert_eq!(s.verify("m1", "1000", &format!("{nine_bad} {sig}"), b"{}", 1000), Ok(()));
        let ten_bad = ["v1,AAAA"; 10].join(" ");
        let refused = SignedHeaders::parse("m1", "1000", &format!("{ten_bad} {sig}"), 1000).unwrap_err();
        assert_eq!(refused, VerifyError::TooManySignatures);
        let huge = vec!["v1,"; 16_000].join(" ");
        assert_eq!(SignedHeaders::parse("m1", "1000", &huge, 1000).unwrap_err(), VerifyError::TooManySignatures);
        assert_eq!(SignedHeaders::parse("m1", "1000", &sig, 1000 + 301).unwrap_err(), VerifyError::BadTimestamp);
        assert_eq!(
            SignedHeaders::parse("m1", &i64::MIN.to_string(), &sig, 1000).unwrap_err(),
            VerifyError::BadTimestamp,
            "no overflow on absurd timestamps"
        );
    }

    #[test]
    fn secrets_must_be_whsec_base64() {
        assert!(Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
        assert!(Secret::parse("whsec_not base64!").is_none());
        assert!(Secret::parse("whsec_c2hvcnQ=").is_none(), "too short");
    }
}
