//! The HTTP client of customer webhooks: hyper's pooled HTTP/1.1 client over rustls, with no layer
//! between (thousands of tries a second: reqwest's redirect and retry layers, and its URL parsed
//! again for each, cost CPU on every one). It never follows a redirect, gives each request a
//! deadline, reads at most a given part of an answer, never goes through a proxy, and looks names
//! up through `guard`, so that a name cannot be pointed inside after its endpoint was checked.

use super::OutboundTls;
use super::guard::WebhookRules;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Uri;
use hyper::header::{HeaderName, HeaderValue};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// How long an unused connection is kept for the next request to the same host.
const IDLE: Duration = Duration::from_secs(60);

/// The client; cheap to clone (clones share their connections).
#[derive(Clone)]
pub struct HookClient {
    inner: Client<HttpsConnector<HttpConnector<Lookup>>, Full<Bytes>>,
    timeout: Duration,
}

impl HookClient {
    /// A client whose requests end after `timeout`, over the server's outbound TLS configuration,
    /// connecting only to addresses `rules` allow.
    pub fn new(tls: &OutboundTls, timeout: Duration, rules: WebhookRules) -> Self {
        let mut http = HttpConnector::new_with_resolver(Lookup(rules));
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls.config())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let inner = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(IDLE)
            .build(connector);
        Self { inner, timeout }
    }

    /// Parses a URL already judged by `WebhookRules::check_shape`.
    pub fn url(url: &reqwest::Url) -> Result<Uri, String> {
        url.as_str().parse().map_err(|e| format!("URL is not valid ({e})"))
    }

    /// POSTs `body` with `headers` (the client adds `host` and `content-length`) and reads at most
    /// `max_answer` bytes of the answer; its status, or what went wrong in a few words.
    pub async fn post(
        &self,
        url: &Uri,
        headers: impl IntoIterator<Item = (HeaderName, HeaderValue)>,
        body: Vec<u8>,
        max_answer: usize,
    ) -> Result<u16, String> {
        let mut request = hyper::Request::post(url.clone()).body(Full::new(Bytes::from(body))).map_err(short)?;
        request.headers_mut().extend(headers);
        let exchange = async {
            let answer = self
                .inner
                .request(request)
                .await
                .map_err(|e| if e.is_connect() { format!("could not connect: {}", short(e)) } else { short(e) })?;
            let status = answer.status().as_u16();
            let mut body = answer.into_body();
            let mut read = 0usize;
            // The status came: a body cut short (or left unread past `max_answer`) does not undo it.
            while read <= max_answer {
                match body.frame().await {
                    Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
                    _ => break,
                }
            }
            Ok(status)
        };
        tokio::time::timeout(self.timeout, exchange).await.unwrap_or_else(|_| Err("timed out".into()))
    }
}

/// An error as its innermost cause, in at most 200 characters (never the whole chain).
fn short(e: impl std::error::Error) -> String {
    let mut cause: &dyn std::error::Error = &e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string().chars().take(200).collect()
}

/// Looks a host up and keeps only the addresses the rules allow.
#[derive(Clone, Copy)]
struct Lookup(WebhookRules);

impl tower::Service<Name> for Lookup {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let rules = self.0;
        Box::pin(async move { Ok(rules.allowed_addresses(name.as_str()).await?.into_iter()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(rules: WebhookRules) -> HookClient {
        HookClient::new(&OutboundTls::new(None).unwrap(), Duration::from_secs(5), rules)
    }

    /// A closed port and a refused name each say why no answer came.
    #[tokio::test]
    async fn a_try_that_gets_no_answer_says_why() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let open = WebhookRules { allow_http: true, allow_private: true };
        let url: Uri = format!("http://127.0.0.1:{closed}/hook").parse().unwrap();
        let e = client(open).post(&url, [], b"{}".to_vec(), 1024).await.unwrap_err();
        assert!(e.starts_with("could not connect: ") && e.to_lowercase().contains("refused"), "{e}");
        let strict = WebhookRules { allow_http: true, allow_private: false };
        let url: Uri = format!("http://localhost:{closed}/hook").parse().unwrap();
        let e = client(strict).post(&url, [], b"{}".to_vec(), 1024).await.unwrap_err();
        assert!(e.contains("localhost has no address a webhook may be sent to"), "{e}");
    }
}
