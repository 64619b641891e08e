//! Standard Webhooks signatures (API.md §8): `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

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
    NoMatchingSignature,
}

impl Secret {
    /// Parses `whsec_<base64>` (at least 16 bytes of key).
    pub fn parse(text: &str) -> Option<Self> {
        let key = BASE64.decode(text.strip_prefix("whsec_")?).ok()?;
        (key.len() >= 16).then_some(Self(key))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        // HMAC accepts keys of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `webhook-signature` header value for a message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", BASE64.encode(self.mac(id, timestamp, body).finalize().into_bytes()))
    }

    /// Checks a message's headers: the timestamp within tolerance of `now` (Unix seconds) and any one
    /// of the space-separated `v1,` signatures valid (compared in constant time).
    pub fn verify(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        if id.is_empty() || signatures.is_empty() {
            return Err(VerifyError::MissingHeaders);
        }
        let ts: i64 = timestamp.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
        if (now - ts).abs() > TOLERANCE_SECONDS {
            return Err(VerifyError::BadTimestamp);
        }
        let valid = signatures
            .split_whitespace()
            .filter_map(|s| s.strip_prefix("v1,"))
            .any(|b64| BASE64.decode(b64).is_ok_and(|given| self.mac(id, ts, body).verify_slice(&given).is_ok()));
        if valid { Ok(()) } else { Err(VerifyError::NoMatchingSignature) }
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
    fn secrets_must_be_whsec_base64() {
        assert!(Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
        assert!(Secret::parse("whsec_not base64!").is_none());
        assert!(Secret::parse("whsec_c2hvcnQ=").is_none(), "too short");
    }
}
