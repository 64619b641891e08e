//! The HTTP client of customer webhooks: HTTP/1.1 of its own (`wire`) over tokio's TCP and rustls,
//! with connections kept per host. Thousands of tries a second go through it, each polled inline by
//! the stream that sends it: no task or channel per connection, one write per request. It never
//! follows a redirect (a redirect is an answer), gives each request a deadline, reads at most a given
//! part of an answer, never goes through a proxy, and looks names up through `guard` for every new
//! connection, so that a name cannot be pointed inside after its endpoint was checked.

use super::OutboundTls;
use super::guard::WebhookRules;
use super::wire::{Conn, Failed, Io};
use rustls_pki_types::ServerName;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How long an unused connection is kept for the next request to the same host, and how many are.
const IDLE: Duration = Duration::from_secs(60);
const IDLE_PER_HOST: usize = 64;

/// Where a connection goes.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct Origin {
    https: bool,
    /// A name, or an address without brackets.
    host: String,
    port: u16,
}

/// A webhook URL, taken apart once for many requests.
#[derive(Debug)]
pub struct HookUrl {
    origin: Origin,
    /// The `host` field: the URL's host, and its port unless it is the scheme's own.
    authority: String,
    /// The path and query.
    target: String,
}

/// The client; cheap to clone (clones share their connections).
#[derive(Clone)]
pub struct HookClient(Arc<Shared>);

struct Shared {
    tls: TlsConnector,
    rules: WebhookRules,
    timeout: Duration,
    idle: Mutex<Idle>,
}

/// Connections waiting for their next request, by origin, with the time each was last used.
struct Idle {
    by_origin: HashMap<Origin, Vec<(Conn, Instant)>>,
    swept: Instant,
}

impl HookClient {
    /// A client whose requests end after `timeout`, over the server's outbound TLS configuration
    /// (offering HTTP/1.1 by ALPN), connecting only to addresses `rules` allow.
    pub fn new(tls: &OutboundTls, timeout: Duration, rules: WebhookRules) -> Self {
        let mut config = tls.config();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let idle = Mutex::new(Idle { by_origin: HashMap::new(), swept: Instant::now() });
        Self(Arc::new(Shared { tls: TlsConnector::from(Arc::new(config)), rules, timeout, idle }))
    }

    /// Takes apart a URL already judged by `WebhookRules::check_shape`.
    pub fn url(url: &reqwest::Url) -> Result<HookUrl, String> {
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => return Err(format!("URL's scheme {other} is not http or https")),
        };
        let shown = url.host_str().filter(|h| !h.is_empty()).ok_or("URL must name a host")?;
        let port = url.port_or_known_default().unwrap_or(if https { 443 } else { 80 });
        let authority = match url.port() {
            Some(p) => format!("{shown}:{p}"),
            None => shown.to_owned(),
        };
        let host = shown.trim_start_matches('[').trim_end_matches(']').to_owned();
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        Ok(HookUrl { origin: Origin { https, host, port }, authority, target })
    }

    /// POSTs `body` with `fields` (the client adds `host` and `content-length`) and reads at most
    /// `max_answer` bytes of the answer's body, all within the client's timeout; the status, once
    /// it came in time, or what went wrong in a few words.
    pub async fn post(
        &self,
        url: &HookUrl,
        fields: &[(&str, &str)],
        body: &[u8],
        max_answer: usize,
    ) -> Result<u16, String> {
        let request = request(url, fields, body);
        let deadline = tokio::time::Instant::now() + self.0.timeout;
        if let Some(mut kept) = self.0.kept(&url.origin) {
            match kept.exchange(&request, max_answer, deadline).await {
                Ok(answer) => return Ok(self.0.done(&url.origin, kept, answer)),
                // The other side closed it while it waited: the request goes on a new one.
                Err(Failed::Unanswered(_)) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        let connected = tokio::time::timeout_at(deadline, self.0.connect(&url.origin)).await;
        let mut conn = connected.unwrap_or_else(|_| Err(Failed::TimedOut.to_string()))?;
        let answer = conn.exchange(&request, max_answer, deadline).await.map_err(|e| e.to_string())?;
        Ok(self.0.done(&url.origin, conn, answer))
    }
}

impl Shared {
    /// A kept connection to `origin`, the most recently used first, that is still quiet.
    fn kept(&self, origin: &Origin) -> Option<Conn> {
        let mut idle = self.idle.lock().ok()?;
        let conns = idle.by_origin.get_mut(origin)?;
        while let Some((mut conn, since)) = conns.pop() {
            if since.elapsed() < IDLE && conn.quiet() {
                return Some(conn);
            }
        }
        None
    }

    /// Keeps the connection after `answer` if it may carry another request; the answer's status.
    fn done(&self, origin: &Origin, conn: Conn, answer: super::wire::Answer) -> u16 {
        if answer.reusable
            && let Ok(mut idle) = self.idle.lock()
        {
            let now = Instant::now();
            if now.duration_since(idle.swept) > IDLE {
                // Now and then, what waited too long (of hosts no longer sent to, too) is let go.
                idle.swept = now;
                idle.by_origin.retain(|_, conns| {
                    conns.retain(|(_, since)| now.duration_since(*since) < IDLE);
                    !conns.is_empty()
                });
            }
            let conns = idle.by_origin.entry(origin.clone()).or_default();
            if conns.len() < IDLE_PER_HOST {
                conns.push((conn, now));
            }
        }
        answer.status
    }

    /// A new connection to the first of the origin's allowed addresses that takes one, over TLS
    /// for `https`.
    async fn connect(&self, origin: &Origin) -> Result<Conn, String> {
        let mut refused = String::new();
        for address in self.rules.allowed_addresses(&origin.host, origin.port).await? {
            match TcpStream::connect(address).await {
                Ok(tcp) => return self.over(origin, tcp).await,
                Err(e) => refused = e.to_string(),
            }
        }
        Err(format!("could not connect: {refused}"))
    }

    /// A connection over `tcp`, with TLS for `https`.
    async fn over(&self, origin: &Origin, tcp: TcpStream) -> Result<Conn, String> {
        let _ = tcp.set_nodelay(true);
        if !origin.https {
            return Ok(Conn::new(Io::Plain(tcp)));
        }
        let name = ServerName::try_from(origin.host.clone()).map_err(|e| format!("could not connect: {e}"))?;
        let tls = self.tls.connect(name, tcp).await.map_err(|e| format!("could not connect: {}", innermost(&e)))?;
        Ok(Conn::new(Io::Tls(Box::new(tls))))
    }
}

/// The request's bytes: its head, then the body.
fn request(url: &HookUrl, fields: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + body.len());
    for part in ["POST ", &url.target, " HTTP/1.1\r\nhost: ", &url.authority, "\r\n"] {
        out.extend_from_slice(part.as_bytes());
    }
    for (name, value) in fields {
        for part in [name, ": ", value, "\r\n"] {
            out.extend_from_slice(part.as_bytes());
        }
    }
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// An error as its innermost cause, in at most 200 characters (never the whole chain).
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string().chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::test_authority as authority;

    fn client(rules: WebhookRules) -> HookClient {
        HookClient::new(&OutboundTls::new(None).unwrap(), Duration::from_secs(5), rules)
    }

    fn url(text: &str) -> HookUrl {
        HookClient::url(&reqwest::Url::parse(text).unwrap()).unwrap()
    }

    /// A closed port and a refused name each say why no answer came.
    #[tokio::test]
    async fn a_try_that_gets_no_answer_says_why() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let open = WebhookRules { allow_http: true, allow_private: true };
        let e =
            client(open).post(&url(&format!("http://127.0.0.1:{closed}/hook")), &[], b"{}", 1024).await.unwrap_err();
        assert!(e.starts_with("could not connect: ") && e.to_lowercase().contains("refused"), "{e}");
        let strict = WebhookRules { allow_http: true, allow_private: false };
        let e =
            client(strict).post(&url(&format!("http://localhost:{closed}/hook")), &[], b"{}", 1024).await.unwrap_err();
        assert!(e.contains("localhost has no address a webhook may be sent to"), "{e}");
        let e =
            client(strict).post(&url(&format!("http://127.0.0.1:{closed}/hook")), &[], b"{}", 1024).await.unwrap_err();
        assert!(e.contains("127.0.0.1, a private, loopback or link-local address"), "{e}");
    }

    #[test]
    fn urls_give_their_host_field_and_target() {
        let u = url("https://hooks.example.com/graine?x=1");
        assert_eq!((u.origin.port, u.authority.as_str(), u.target.as_str()), (443, "hooks.example.com", "/graine?x=1"));
        let u = url("http://[::1]:8080");
        assert_eq!((u.origin.host.as_str(), u.authority.as_str(), u.target.as_str()), ("::1", "[::1]:8080", "/"));
        let text = String::from_utf8(request(&u, &[("webhook-id", "evt_1")], b"{}")).unwrap();
        assert_eq!(text, "POST / HTTP/1.1\r\nhost: [::1]:8080\r\nwebhook-id: evt_1\r\ncontent-length: 2\r\n\r\n{}");
    }

    /// A status that came in time delivers, even when the rest of the answer never comes: the try
    /// ends at its deadline with that status, and the connection is not kept.
    #[tokio::test]
    async fn a_status_in_time_stands_when_the_body_never_ends() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (accepted_in, mut accepted) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf").await;
                // Held open, the body never finished.
                let _ = accepted_in.send(s);
            }
        });
        let rules = WebhookRules { allow_http: true, allow_private: true };
        let client = HookClient::new(&OutboundTls::new(None).unwrap(), Duration::from_millis(300), rules);
        let url = url(&format!("http://{address}/"));
        for _ in 0..2 {
            assert_eq!(client.post(&url, &[], b"{}", 1024).await, Ok(200));
        }
        // Each try had a connection of its own: one whose answer did not end is not kept.
        assert!(accepted.recv().await.is_some() && accepted.recv().await.is_some());
    }

    /// What a receiver sends on a kept connection after its answer (a second answer, here) is never
    /// taken for the answer to the next request: that request goes on a new connection.
    #[tokio::test]
    async fn a_kept_connection_that_heard_more_is_not_reused() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (go_in, mut go) = tokio::sync::mpsc::unbounded_channel::<()>();
        let (stray_in, mut stray) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let (mut first, _) = listener.accept().await.unwrap();
            let _ = first.read(&mut buf).await;
            let _ = first.write_all(b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n").await;
            // Once the client has its answer, a second one, unasked for.
            go.recv().await;
            let _ = first.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
            let _ = stray_in.send(());
            let (mut second, _) = listener.accept().await.unwrap();
            let _ = second.read(&mut buf).await;
            let _ = second.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await;
            let _ = second.read(&mut buf).await;
            drop(first);
        });
        let (client, url) =
            (client(WebhookRules { allow_http: true, allow_private: true }), url(&format!("http://{address}/")));
        assert_eq!(client.post(&url, &[], b"{}", 1024).await, Ok(500));
        go_in.send(()).unwrap();
        stray.recv().await.unwrap();
        assert_eq!(client.post(&url, &[], b"{}", 1024).await, Ok(204));
    }

    /// Over TLS, a record that carries no data and arrives while a connection waits (a key update,
    /// here; a late session ticket is the same) does not cost the connection: the next request goes
    /// out on it.
    #[tokio::test]
    async fn a_kept_tls_connection_takes_in_a_key_update_and_is_reused() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (ca_file, config) = authority::authority_and_server("Graine hooks test authority");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (updated_in, mut updated) = tokio::sync::mpsc::unbounded_channel::<()>();
        let (go_in, go) = tokio::sync::mpsc::unbounded_channel::<()>();
        let go = Arc::new(tokio::sync::Mutex::new(go));
        let (accepted_in, mut accepted) = tokio::sync::mpsc::unbounded_channel::<()>();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let _ = accepted_in.send(());
                let (acceptor, updated_in, go) = (acceptor.clone(), updated_in.clone(), go.clone());
                tokio::spawn(async move {
                    let Ok(mut s) = acceptor.accept(tcp).await else { return };
                    let mut buf = [0u8; 4096];
                    while s.read(&mut buf).await.is_ok_and(|n| n > 0) {
                        let _ = s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await;
                        // Once the client has its answer: new keys, sent while its connection waits.
                        go.lock().await.recv().await;
                        let _ = s.get_mut().1.refresh_traffic_keys();
                        let _ = s.flush().await;
                        let _ = updated_in.send(());
                    }
                });
            }
        });
        let tls = OutboundTls::new(Some(&ca_file)).unwrap();
        let client =
            HookClient::new(&tls, Duration::from_secs(5), WebhookRules { allow_http: false, allow_private: true });
        let url = url(&format!("https://{address}/"));
        for _ in 0..3 {
            assert_eq!(client.post(&url, &[], b"{}", 1024).await, Ok(204));
            go_in.send(()).unwrap();
            updated.recv().await.unwrap();
        }
        accepted.recv().await.unwrap();
        assert!(accepted.try_recv().is_err(), "each request went out on the one connection");
    }

    /// A kept connection the receiver has closed in the meantime costs the try nothing: it goes out
    /// on a new connection.
    #[tokio::test]
    async fn a_kept_connection_closed_by_the_receiver_is_replaced() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            // Each connection answers one request and then closes, without saying so.
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await;
            }
        });
        let (client, url) =
            (client(WebhookRules { allow_http: true, allow_private: true }), url(&format!("http://{address}/")));
        for _ in 0..3 {
            assert_eq!(client.post(&url, &[], b"{}", 1024).await, Ok(204));
        }
    }
}
