//! Calls out of the server: the one TLS configuration every outbound request uses (rustls, trusting
//! the system's certificate authorities plus those of `--extra-ca-certs`), and its HTTP clients.

pub mod guard;
pub mod hooks;
/// A certificate authority made for one test run (shared with the HTTP suite).
#[cfg(test)]
#[path = "../../tests/support/authority.rs"]
mod test_authority;
mod wire;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The one TLS configuration of every request the server makes (telephony and customer webhooks
/// alike): rustls on ring, trusting the system's certificate authorities plus those of
/// `--extra-ca-certs`. Built once at start-up; each client takes a copy.
#[derive(Clone)]
pub struct OutboundTls(Arc<rustls::ClientConfig>);

impl OutboundTls {
    /// Trusting the system's authorities and those of `extra_ca_certs` (a PEM file of one or more
    /// certificates); the message names the flag, for the operator.
    pub fn new(extra_ca_certs: Option<&Path>) -> Result<Self, String> {
        let mut roots = match extra_ca_certs {
            Some(path) => extra_roots(path)?,
            None => rustls::RootCertStore::empty(),
        };
        // A system certificate that does not parse is left out, not fatal.
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self(Arc::new(config)))
    }

    /// The client for requests that time out after `timeout` and never follow redirects (a
    /// redirect is an answer, not a place to go), over this TLS configuration.
    pub fn client(&self, timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
        // HTTP/1.1 offered by ALPN, as reqwest does with a configuration of its own.
        let mut config = self.config();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        reqwest::Client::builder()
            .use_preconfigured_tls(config)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
    }

    /// A copy of the configuration, for a client to adapt: it offers no ALPN protocol, each client
    /// sets its own.
    fn config(&self) -> rustls::ClientConfig {
        (*self.0).clone()
    }
}

/// The authorities of a PEM file given to `--extra-ca-certs`: at least one, each usable. Checking
/// the flag needs only this, not the system's authorities that `OutboundTls::new` adds.
pub fn extra_roots(path: &Path) -> Result<rustls::RootCertStore, String> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("--extra-ca-certs {shown}: {e}"))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--extra-ca-certs {shown}: not a PEM file of certificates ({e})"))?;
    if certs.is_empty() {
        return Err(format!("--extra-ca-certs {shown}: holds no certificate"));
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| format!("--extra-ca-certs {shown}: a certificate is not usable ({e})"))?;
    }
    Ok(roots)
}

/// The HTTP(S) twin of a WebSocket URL (`wss://` → `https://`, `ws://` → `http://`), as LiveKit's
/// SDKs turn a project URL into its API base; any other URL as it is.
pub fn https_twin(url: &str) -> String {
    match url.split_once("://") {
        Some(("wss", rest)) => format!("https://{rest}"),
        Some(("ws", rest)) => format!("http://{rest}"),
        _ => url.to_owned(),
    }
}

/// Checks an outbound URL given by `flag`: `http` or `https`, with a host.
pub fn check_url(flag: &str, url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{flag} {url}: not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{flag} {url}: the scheme must be http or https"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{flag} {url}: names no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_need_an_http_scheme_and_a_host() {
        assert!(check_url("--telephony-url", "https://telephony.example/calls").is_ok());
        assert!(check_url("--telephony-url", "http://127.0.0.1:9/").is_ok());
        for bad in ["ftp://example.com/", "telephony.example/calls", "https://", "file:///etc/passwd"] {
            let e = check_url("--telephony-url", bad).unwrap_err();
            assert!(e.starts_with("--telephony-url"), "{e}");
        }
    }

    #[test]
    fn a_ca_file_must_hold_certificates() {
        let dir = std::env::temp_dir().join(format!("graine-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = OutboundTls::new(Some(&empty)).err().unwrap();
        assert!(e.starts_with("--extra-ca-certs"), "{e}");
        let e = OutboundTls::new(Some(&dir.join("missing.pem"))).err().unwrap();
        assert!(e.starts_with("--extra-ca-certs"), "{e}");
        // The flag's check at start reads the file alone, with the same messages.
        let e = extra_roots(&empty).err().unwrap();
        assert!(e.starts_with("--extra-ca-certs") && e.ends_with("holds no certificate"), "{e}");
    }
}
