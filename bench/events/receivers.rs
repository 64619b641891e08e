//! The events benchmark's receivers: one that answers every delivery `204` at once, over plain HTTP
//! or over HTTPS (with a certificate authority made for the run). Each runs on a thread of its own
//! with a single-threaded runtime, so that its connections' work never moves between threads.

#[path = "../../tests/support/authority.rs"]
mod authority;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What a receiver saw, per delivery: the event's number, when it arrived and its lateness after
/// the event's `created_at` (milliseconds since the epoch, and milliseconds).
#[derive(Clone, Default)]
pub struct Seen(pub Arc<Mutex<Vec<(i64, f64, f64)>>>);

pub fn epoch_ms(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs_f64() * 1000.0
}

/// Notes one delivery. Only the two fields needed are looked for, by their place in the body: the
/// receiver shares the machine with the server, and any work it does is taken from the burn-down.
fn receive(seen: &Seen, body: &[u8]) {
    let arrived = SystemTime::now();
    let field = |name: &str| {
        let at = body.windows(name.len()).position(|w| w == name.as_bytes())? + name.len();
        let len = body[at..].iter().position(|b| *b == b'"')?;
        std::str::from_utf8(&body[at..at + len]).ok()
    };
    if let Some(id) = field("\"event_id\":\"evt_")
        && let Some(created) = field("\"created_at\":\"")
        && let Ok(created) = chrono::DateTime::parse_from_rfc3339(created)
        && let Ok(seq) = i64::from_str_radix(id, 16)
    {
        let created = SystemTime::UNIX_EPOCH + Duration::from_micros(created.timestamp_micros().max(0) as u64);
        let late = arrived.duration_since(created).unwrap_or_default().as_secs_f64() * 1000.0;
        seen.0.lock().unwrap().push((seq, epoch_ms(arrived), late));
    }
}

/// A receiver on 127.0.0.1 over plain HTTP; its URL.
pub fn plain(seen: Seen) -> String {
    let (listener, address) = listen();
    serve(listener, move |tcp| answer(tcp, seen.clone()));
    format!("http://{address}/hook")
}

/// A receiver on 127.0.0.1 over HTTPS (HTTP/1.1), its certificate signed by an authority made here;
/// its URL, and the authority's PEM file for the server's `--extra-ca-certs`.
pub fn tls(seen: Seen) -> (String, PathBuf) {
    let (ca_file, config) = authority::authority_and_server("Graine benchmark authority");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let (listener, address) = listen();
    serve(listener, move |tcp| {
        let (acceptor, seen) = (acceptor.clone(), seen.clone());
        async move {
            if let Ok(tls) = acceptor.accept(tcp).await {
                answer(tls, seen).await;
            }
        }
    });
    (format!("https://{address}/hook"), ca_file)
}

fn listen() -> (std::net::TcpListener, std::net::SocketAddr) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    (listener, address)
}

/// Accepts connections on a thread of its own and answers each with `connection`.
fn serve<F, Fut>(listener: std::net::TcpListener, connection: F)
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((tcp, _)) = listener.accept().await {
                let _ = tcp.set_nodelay(true);
                tokio::task::spawn_local(connection(tcp));
            }
        });
    });
}

/// Answers a connection's requests in turn until it closes: HTTP/1.1 at its barest (each request
/// read by its `content-length`, the same few bytes answered, the connection kept); a request
/// without a `content-length` (the server always sends one) ends the connection, and its try fails.
async fn answer(mut stream: impl AsyncRead + AsyncWrite + Unpin, seen: Seen) {
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut read = 0usize;
    loop {
        let end_of_head = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            buf.resize(read.max(buf.len()) + 8192, 0);
            match stream.read(&mut buf[read..]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => read += n,
            }
            buf.truncate(read);
        };
        let Some(length) = content_length(&buf[..end_of_head]) else { return };
        while read < end_of_head + length {
            buf.resize(end_of_head + length, 0);
            match stream.read(&mut buf[read..]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => read += n,
            }
        }
        buf.truncate(read);
        receive(&seen, &buf[end_of_head..end_of_head + length]);
        buf.drain(..end_of_head + length);
        read = buf.len();
        if stream.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.is_err() || stream.flush().await.is_err() {
            return;
        }
    }
}

/// The `content-length` of a request's head.
fn content_length(head: &[u8]) -> Option<usize> {
    let head = std::str::from_utf8(head).ok()?;
    head.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
    })
}
