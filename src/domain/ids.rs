//! Typed, prefixed identifiers: a UUIDv7 written as 26 lowercase Crockford base32 characters.

use std::fmt;
use uuid::Uuid;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const ENCODED_LEN: usize = 26;

/// Writes 128 bits as the 26 base32 characters of `out`, most significant first (the first carries
/// 3 bits).
fn write_base32(value: u128, out: &mut [u8]) {
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 5 * (ENCODED_LEN - 1 - i);
        *slot = ALPHABET[((value >> shift) & 0x1f) as usize];
    }
}

/// `prefix` and the 26 characters of `value` in a stack buffer (ids are written in every listed
/// object: no allocation and no formatter); calls `with` on the text.
fn with_prefixed<R>(prefix: &str, value: u128, with: impl FnOnce(&str) -> R) -> R {
    let mut buf = [0u8; 8 + ENCODED_LEN];
    let n = prefix.len().min(8);
    buf[..n].copy_from_slice(&prefix.as_bytes()[..n]);
    write_base32(value, &mut buf[n..n + ENCODED_LEN]);
    // Only ASCII was written (prefixes are ASCII constants).
    with(std::str::from_utf8(&buf[..n + ENCODED_LEN]).unwrap_or_default())
}

/// Decodes exactly 26 lowercase Crockford base32 characters; `None` for anything else.
pub fn decode_base32(text: &str) -> Option<u128> {
    let bytes = text.as_bytes();
    if bytes.len() != ENCODED_LEN || bytes[0] > b'7' {
        return None;
    }
    bytes.iter().try_fold(0u128, |acc, &b| {
        let digit = ALPHABET.iter().position(|&a| a == b)? as u128;
        Some((acc << 5) | digit)
    })
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// The prefix written before the encoded uuid.
            pub const PREFIX: &'static str = $prefix;

            /// A new time-ordered id (monotonic within this process).
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps a uuid read back from storage.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The uuid, for storage.
            pub fn uuid(&self) -> Uuid {
                self.0
            }

            /// Parses `prefix + 26 chars`; `None` when malformed.
            pub fn parse(text: &str) -> Option<Self> {
                let rest = text.strip_prefix($prefix)?;
                decode_base32(rest).map(|v| Self(Uuid::from_u128(v)))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                with_prefixed($prefix, self.0.as_u128(), |text| f.write_str(text))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                with_prefixed($prefix, self.0.as_u128(), |text| s.serialize_str(text))
            }
        }
    };
}

typed_id!(
    /// An organization, `org_…`.
    OrgId,
    "org_"
);
typed_id!(
    /// A campaign, `cmp_…`.
    CampaignId,
    "cmp_"
);
typed_id!(
    /// A batch of contacts, `btc_…`.
    BatchId,
    "btc_"
);
typed_id!(
    /// A contact in a batch, `con_…`.
    ContactId,
    "con_"
);
typed_id!(
    /// One call attempt, `exec_…`.
    ExecutionId,
    "exec_"
);
typed_id!(
    /// A calendar of closed and special days, `cal_…`.
    CalendarId,
    "cal_"
);
typed_id!(
    /// An API token's record (never the secret itself), `tok_…`.
    TokenId,
    "tok_"
);
typed_id!(
    /// A customer webhook endpoint, `whe_…`.
    EndpointId,
    "whe_"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_has_the_documented_shape() {
        let id = CampaignId::generate();
        let text = id.to_string();
        assert!(text.starts_with("cmp_"));
        assert_eq!(text.len(), 4 + 26);
        assert!(text[4..].chars().all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()));
        assert_eq!(CampaignId::parse(&text), Some(id));
    }

    #[test]
    fn ids_are_time_ordered_as_text() {
        let a = BatchId::generate().to_string();
        let b = BatchId::generate().to_string();
        assert!(a < b, "{a} !< {b}");
    }

    #[test]
    fn extremes_encode_and_decode() {
        let encode = |v: u128| with_prefixed("", v, str::to_owned);
        assert_eq!(encode(0), "0".repeat(26));
        assert_eq!(encode(u128::MAX), format!("7{}", "z".repeat(25)));
        assert_eq!(decode_base32(&encode(u128::MAX)), Some(u128::MAX));
    }

    #[test]
    fn rejects_malformed_ids() {
        let good = OrgId::generate().to_string();
        assert!(CampaignId::parse(&good).is_none(), "wrong prefix");
        assert!(OrgId::parse(&good.to_uppercase()).is_none(), "uppercase");
        assert!(OrgId::parse(&good[..good.len() - 1]).is_none(), "too short");
        assert!(OrgId::parse(&format!("{good}0")).is_none(), "too long");
        assert!(OrgId::parse(&format!("org_8{}", "0".repeat(25))).is_none(), "overflow");
        assert!(OrgId::parse(&format!("org_{}", "u".repeat(26))).is_none(), "u is not crockford");
        assert!(OrgId::parse("org_").is_none());
        assert!(OrgId::parse("").is_none());
        assert!(OrgId::parse("org_ééééééééééééé").is_none());
    }
}
