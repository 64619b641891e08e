//! LiveKit access tokens (API.md §7.1): JWTs signed with HMAC-SHA256 by an API key's secret, made
//! for each API request with the grants it needs, and checked on LiveKit's webhooks.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

/// The longest token read: a webhook's token is a few hundred bytes.
const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Clock difference tolerated between LiveKit and this server, on `exp` and `nbf`.
const LEEWAY_SECONDS: i64 = 60;

/// A token that does not pass.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused;

fn mac(secret: &str) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length")
}

/// A token issued by `api_key`, valid from `now` for `valid_for` seconds, carrying `grants`
/// (claims such as `video` and `sip`).
pub fn sign(api_key: &str, secret: &str, grants: Value, now: i64, valid_for: i64) -> String {
    let mut claims = json!({ "iss": api_key, "nbf": now, "exp": now + valid_for });
    if let (Some(claims), Value::Object(grants)) = (claims.as_object_mut(), grants) {
        claims.extend(grants);
    }
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let mut mac = mac(secret);
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// The claims of a token issued by `api_key` and signed with `secret` (one MAC, compared in
/// constant time), when it is valid at `now`.
pub fn verify(token: &str, api_key: &str, secret: &str, now: i64) -> Result<Map<String, Value>, Refused> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Refused);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refused);
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).map_err(|_| Refused);
    let mut mac = mac(secret);
    mac.update(header.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    mac.verify_slice(&decode(signature)?).map_err(|_| Refused)?;
    let header: Value = serde_json::from_slice(&decode(header)?).map_err(|_| Refused)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(Refused);
    }
    let Ok(Value::Object(claims)) = serde_json::from_slice(&decode(payload)?) else { return Err(Refused) };
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    let issued_by_key = claims.get("iss").and_then(Value::as_str) == Some(api_key);
    let unexpired = number("exp").is_some_and(|exp| now <= exp + LEEWAY_SECONDS);
    let started = number("nbf").is_none_or(|nbf| nbf <= now + LEEWAY_SECONDS);
    if issued_by_key && unexpired && started { Ok(claims) } else { Err(Refused) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_token_verifies_with_its_key_and_secret_only() {
        let token = sign("APIkey", "secret", json!({"video": {"roomAdmin": true, "room": "r"}}), 1_000, 600);
        let claims = verify(&token, "APIkey", "secret", 1_100).unwrap();
        assert_eq!((&claims["video"]["room"], &claims["exp"]), (&json!("r"), &json!(1_600)));
        assert_eq!(verify(&token, "APIkey", "other", 1_100), Err(Refused));
        assert_eq!(verify(&token, "other", "secret", 1_100), Err(Refused));
        assert_eq!(verify(&token, "APIkey", "secret", 1_600 + LEEWAY_SECONDS + 1), Err(Refused), "expired");
        assert_eq!(verify(&token, "APIkey", "secret", 1_000 - LEEWAY_SECONDS - 1), Err(Refused), "not yet valid");
        let mut tampered = token.clone();
        tampered.insert(token.find('.').unwrap() + 2, 'x');
        assert_eq!(verify(&tampered, "APIkey", "secret", 1_100), Err(Refused));
        assert_eq!(verify("a.b", "APIkey", "secret", 1_100), Err(Refused));
        assert_eq!(verify(&"a".repeat(MAX_TOKEN_BYTES + 1), "APIkey", "secret", 1_100), Err(Refused));
    }

    #[test]
    fn only_hs256_is_accepted() {
        // A token whose header names another algorithm is refused even when its MAC is right.
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"iss":"k","exp":99999999999}"#);
        let mut m = mac("s");
        m.update(format!("{header}.{payload}").as_bytes());
        let token = format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()));
        assert_eq!(verify(&token, "k", "s", 0), Err(Refused));
    }
}
