//! Where customer webhooks may go (API.md §13): `https://` URLs (`http://` with
//! `--allow-http-webhooks`) on public addresses only (any with `--allow-private-webhooks`), judged
//! when an endpoint is saved and again at every lookup while sending.

use crate::domain::webhook::{MAX_URL_CHARS, is_public};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How long a lookup of an endpoint's host may take when it is saved.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// The operator's choices about webhook URLs.
#[derive(Clone, Copy, Debug, Default)]
pub struct WebhookRules {
    pub allow_http: bool,
    pub allow_private: bool,
}

impl WebhookRules {
    /// Checks a URL's shape and, when its host is an address, the address; the host of a name
    /// when it has no address to judge yet. The message says what is wrong, for the client.
    pub fn check_shape(&self, url: &str) -> Result<reqwest::Url, String> {
        if url.chars().count() > MAX_URL_CHARS {
            return Err(format!("URL should have at most {MAX_URL_CHARS} characters"));
        }
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("URL is not valid ({e})"))?;
        match parsed.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => return Err("URL must use https:// (http:// needs the server's --allow-http-webhooks)".into()),
            _ => return Err("URL must use https://".into()),
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("URL must not carry credentials".into());
        }
        match address_of(&parsed) {
            Some(ip) => self.check_address(ip)?,
            None if parsed.host_str().is_none_or(str::is_empty) => return Err("URL must name a host".into()),
            None => {}
        }
        Ok(parsed)
    }

    /// Checks a URL, looking its host's name up: every address it has must be allowed.
    pub async fn check(&self, url: &str) -> Result<(), String> {
        let parsed = self.check_shape(url)?;
        if address_of(&parsed).is_some() {
            return Ok(());
        }
        let Some(name) = parsed.host_str() else { return Ok(()) };
        let port = parsed.port_or_known_default().unwrap_or(443);
        let found = tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((name, port)))
            .await
            .map_err(|_| format!("URL's host {name} could not be looked up in time"))?
            .map_err(|_| format!("URL's host {name} could not be looked up"))?;
        let mut any = false;
        for addr in found {
            any = true;
            self.check_address(addr.ip())?;
        }
        if !any {
            return Err(format!("URL's host {name} has no address"));
        }
        Ok(())
    }

    /// The addresses of `host` (a name, or an address without brackets) a webhook may be sent to,
    /// at `port`; an error when it has none.
    pub async fn allowed_addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.check_address(ip).map(|()| vec![SocketAddr::new(ip, port)]);
        }
        let found =
            tokio::net::lookup_host((host, port)).await.map_err(|e| format!("{host} could not be looked up ({e})"))?;
        let allowed: Vec<SocketAddr> = found.filter(|a| self.check_address(a.ip()).is_ok()).collect();
        if allowed.is_empty() {
            return Err(format!("{host} has no address a webhook may be sent to"));
        }
        Ok(allowed)
    }

    fn check_address(&self, ip: IpAddr) -> Result<(), String> {
        if self.allow_private || is_public(ip) {
            Ok(())
        } else {
            Err(format!(
                "URL points at {ip}, a private, loopback or link-local address (allowed only with the server's \
                 --allow-private-webhooks)"
            ))
        }
    }
}

/// The address a URL's host is written as, if it is one (`[…]` for IPv6).
fn address_of(url: &reqwest::Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    host.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_addresses() {
        let strict = WebhookRules::default();
        assert!(strict.check_shape("https://hooks.example.com/graine").is_ok());
        assert!(strict.check_shape("https://8.8.8.8/x").is_ok());
        for bad in [
            "http://hooks.example.com/x",
            "ftp://hooks.example.com/x",
            "https://127.0.0.1/x",
            "https://10.0.0.1/x",
            "https://169.254.169.254/latest",
            "https://[::1]/x",
            "https://user:pw@hooks.example.com/x",
            "not a url",
        ] {
            assert!(strict.check_shape(bad).is_err(), "{bad}");
        }
        let tests = WebhookRules { allow_http: true, allow_private: true };
        assert!(tests.check_shape("http://127.0.0.1:9/x").is_ok());
        let http_only = WebhookRules { allow_http: true, allow_private: false };
        assert!(http_only.check_shape("http://127.0.0.1:9/x").is_err());
    }

    #[tokio::test]
    async fn names_are_judged_by_their_addresses() {
        let strict = WebhookRules::default();
        let e = strict.check("https://localhost/x").await.unwrap_err();
        assert!(e.contains("127.0.0.1") || e.contains("::1") || e.contains("looked up"), "{e}");
    }
}
