//! One connection of the webhook client and HTTP/1.1 as it speaks it (RFC 9112): a request written
//! in one piece, its answer read through to the end of its body (by `content-length`, by chunks, or
//! to the connection's close), of which at most a given number of bytes is read. What is read is
//! only the status and what tells whether the connection may carry the next request.

use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::client::TlsStream;

/// The most an answer's head (status line and fields) may take, and a chunk's size line.
const MAX_HEAD: usize = 64 * 1024;
const MAX_LINE: usize = 4 * 1024;
/// The most header fields an answer may have.
const MAX_FIELDS: usize = 100;

/// What the connection runs over.
pub enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// A connection and what was read from it and not yet used.
pub struct Conn {
    io: Io,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

/// What an answer said, and whether its connection may carry another request.
#[derive(Debug, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub reusable: bool,
}

/// Why an exchange failed. `Unanswered`: the connection broke before any byte of the answer came
/// (a kept connection the other side had closed, say): the request may go again on a new one.
#[derive(Debug)]
pub enum Failed {
    Unanswered(io::Error),
    Broken(String),
    TimedOut,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Unanswered(e) => write!(f, "the connection closed without an answer ({e})"),
            Failed::Broken(why) => f.write_str(why),
            Failed::TimedOut => f.write_str("timed out"),
        }
    }
}

/// How an answer's body ends.
enum Framing {
    None,
    Length(usize),
    Chunked,
    Close,
}

impl Conn {
    pub fn new(io: Io) -> Self {
        Self { io, buf: vec![0; 4096], start: 0, end: 0 }
    }

    /// Whether a kept connection may carry a request: open, and nothing came on it while it
    /// waited (a late part of the last answer, a stray one, or a `408` before closing would
    /// otherwise be read as the next answer). One read that must find nothing, through TLS when
    /// there is TLS: what it buffered counts, and records that carry no data (a new session ticket,
    /// a key update) are taken in without costing the connection.
    pub fn quiet(&mut self) -> bool {
        use futures_util::FutureExt;
        let mut probe = [0u8; 1];
        let read = match &mut self.io {
            Io::Plain(s) => s.read(&mut probe).now_or_never(),
            Io::Tls(s) => s.read(&mut probe).now_or_never(),
        };
        read.is_none()
    }

    /// Writes `request` and reads its answer by `deadline`: its head, then at most `max_body` bytes
    /// of its body. The body is read only so that the connection may carry the next request: once
    /// the status came, a body cut short, longer than `max_body`, left unframed (it would end only
    /// with the connection) or not ended by the deadline does not undo it; the connection is then
    /// closed.
    pub async fn exchange(&mut self, request: &[u8], max_body: usize, deadline: Instant) -> Result<Answer, Failed> {
        let (status, framing, keep) =
            timeout_at(deadline, self.send_and_head(request)).await.map_err(|_| Failed::TimedOut)??;
        let ended = match framing {
            Framing::None => Ok(Ok(true)),
            Framing::Length(n) if n <= max_body => timeout_at(deadline, self.skip(n)).await,
            Framing::Length(_) => Ok(Ok(false)),
            Framing::Chunked => timeout_at(deadline, self.chunks(max_body)).await,
            Framing::Close => Ok(Ok(false)),
        };
        let reusable = keep && matches!(ended, Ok(Ok(true))) && self.start == self.end;
        Ok(Answer { status, reusable })
    }

    async fn send_and_head(&mut self, request: &[u8]) -> Result<(u16, Framing, bool), Failed> {
        self.start = 0;
        self.end = 0;
        let written = match &mut self.io {
            Io::Plain(s) => s.write_all(request).await,
            Io::Tls(s) => match s.write_all(request).await {
                Ok(()) => s.flush().await,
                Err(e) => Err(e),
            },
        };
        written.map_err(Failed::Unanswered)?;
        self.head().await
    }

    /// Reads the final answer's head (interim `1xx` answers are passed over): its status, how its
    /// body ends, and whether the connection stays open after it.
    async fn head(&mut self) -> Result<(u16, Framing, bool), Failed> {
        loop {
            let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
            let mut answer = httparse::Response::new(&mut fields);
            match answer.parse(&self.buf[self.start..self.end]) {
                Ok(httparse::Status::Complete(len)) => {
                    let status = answer.code.unwrap_or(0);
                    let (framing, keep) = framing(status, answer.version == Some(1), answer.headers);
                    self.start += len;
                    if (100..200).contains(&status) && status != 101 {
                        continue;
                    }
                    return Ok((status, framing, keep));
                }
                Ok(httparse::Status::Partial) if self.end - self.start >= MAX_HEAD => {
                    return Err(Failed::Broken("the answer's head is over 64 KiB".into()));
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(Failed::Broken(format!("the answer is not HTTP/1.1 ({e})"))),
            }
            let nothing_yet = self.start == 0 && self.end == 0;
            match self.fill().await {
                Ok(true) => {}
                Ok(false) if nothing_yet => {
                    return Err(Failed::Unanswered(io::ErrorKind::UnexpectedEof.into()));
                }
                Err(e) if nothing_yet => return Err(Failed::Unanswered(e)),
                Ok(false) => return Err(Failed::Broken("the connection closed within the answer's head".into())),
                Err(e) => return Err(Failed::Broken(format!("the answer's head was cut ({e})"))),
            }
        }
    }

    /// Passes over a chunked body, if it ends within `max_body` bytes (its data, and the size
    /// lines and trailer fields around it): whether it did.
    async fn chunks(&mut self, max_body: usize) -> io::Result<bool> {
        let mut left = max_body;
        loop {
            let Some(size) = self.line(&mut left).await? else { return Ok(false) };
            let size = size.split(|b| *b == b';').next().unwrap_or_default();
            let size = std::str::from_utf8(size).ok().and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
            match size {
                None => return Ok(false),
                Some(0) => break,
                Some(n) if n > left => return Ok(false),
                Some(n) => {
                    left -= n;
                    if !self.skip(n).await? || self.line(&mut left).await?.is_none_or(|l| !l.is_empty()) {
                        return Ok(false);
                    }
                }
            }
        }
        // Trailer fields, up to the empty line.
        loop {
            match self.line(&mut left).await? {
                None => return Ok(false),
                Some(l) if l.is_empty() => return Ok(true),
                Some(_) => {}
            }
        }
    }

    /// The next line without its CRLF, its bytes taken from `left`; `None` if the connection
    /// closed first, or the line is longer than `MAX_LINE` or than `left`.
    async fn line(&mut self, left: &mut usize) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(at) = self.buf[self.start..self.end].windows(2).position(|w| w == b"\r\n") {
                let Some(rest) = left.checked_sub(at + 2) else { return Ok(None) };
                *left = rest;
                let line = self.buf[self.start..self.start + at].to_vec();
                self.start += at + 2;
                return Ok(Some(line));
            }
            if self.end - self.start > MAX_LINE || !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// Passes over `n` bytes: whether they all came before the connection closed.
    async fn skip(&mut self, mut n: usize) -> io::Result<bool> {
        loop {
            let here = n.min(self.end - self.start);
            self.start += here;
            n -= here;
            if n == 0 {
                return Ok(true);
            }
            if !self.fill().await? {
                return Ok(false);
            }
        }
    }

    /// Reads more into the buffer (kept for what is not used yet): whether any came.
    async fn fill(&mut self) -> io::Result<bool> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.buf.len() && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let into = &mut self.buf[self.end..];
        let n = match &mut self.io {
            Io::Plain(s) => s.read(into).await?,
            Io::Tls(s) => s.read(into).await?,
        };
        self.end += n;
        Ok(n > 0)
    }
}

/// How a final answer's body ends (RFC 9112 §6.3), and whether its connection stays open after it
/// (HTTP/1.1 without `connection: close`; any doubt about the framing closes it).
fn framing(status: u16, http11: bool, fields: &[httparse::Header<'_>]) -> (Framing, bool) {
    let (mut keep, mut chunked, mut coded, mut length) = (http11, false, false, None::<Option<usize>>);
    for field in fields {
        let text = std::str::from_utf8(field.value);
        let value = text.unwrap_or_default();
        if field.name.eq_ignore_ascii_case("connection") {
            keep &= text.is_ok() && !value.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"));
        } else if field.name.eq_ignore_ascii_case("transfer-encoding") {
            coded = true;
            chunked = value.rsplit(',').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked"));
        } else if field.name.eq_ignore_ascii_case("content-length") {
            let this = value.trim().parse::<usize>().ok();
            length = Some(match length {
                Some(before) if before != this => None,
                _ => this,
            });
        }
    }
    if status == 101 {
        // Another protocol follows on the connection (never asked for): the answer ends it.
        return (Framing::None, false);
    }
    if (100..200).contains(&status) || status == 204 || status == 304 {
        return (Framing::None, keep);
    }
    match (coded, chunked, length) {
        (true, true, _) => (Framing::Chunked, keep),
        (true, false, _) | (false, _, Some(None)) => (Framing::Close, false),
        (false, _, Some(Some(n))) => (Framing::Length(n), keep),
        (false, _, None) => (Framing::Close, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An exchange with a server that answers `answer`, read with a limit of 32 bytes; the server
    /// then holds the connection open (so that only the framing tells where the answer ends) or,
    /// if `close`, closes it.
    async fn exchange_closing(answer: &'static [u8], close: bool) -> Result<Answer, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 64];
            let _ = s.read(&mut request).await;
            let _ = s.write_all(answer).await;
            if !close {
                let _ = s.read(&mut request).await;
            }
        });
        let mut conn = Conn::new(Io::Plain(TcpStream::connect(address).await.unwrap()));
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        conn.exchange(b"POST / HTTP/1.1\r\n\r\n", 32, deadline).await.map_err(|e| e.to_string())
    }

    async fn held(answer: &'static [u8]) -> Result<Answer, String> {
        exchange_closing(answer, false).await
    }

    async fn closing(answer: &'static [u8]) -> Result<Answer, String> {
        exchange_closing(answer, true).await
    }

    #[tokio::test]
    async fn bodies_end_by_length_or_by_chunks_and_keep_their_connection() {
        let kept = |status| Ok(Answer { status, reusable: true });
        assert_eq!(held(b"HTTP/1.1 204 No Content\r\n\r\n").await, kept(204));
        assert_eq!(held(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello").await, kept(200));
        let chunked =
            b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n1\r\n!\r\n0\r\nt: 1\r\n\r\n";
        assert_eq!(held(chunked).await, kept(201));
        let interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(held(interim).await, kept(200));
    }

    #[tokio::test]
    async fn answers_past_the_limit_or_without_framing_close_their_connection_but_keep_their_status() {
        let closed = |status| Ok(Answer { status, reusable: false });
        let long = b"HTTP/1.1 200 OK\r\ncontent-length: 33\r\n\r\nhello world, hello world, hello!!";
        assert_eq!(held(long).await, closed(200));
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n21\r\nhello world, hello world, hello!!\r\n0\r\n\r\n";
        assert_eq!(held(chunked).await, closed(200));
        assert_eq!(held(b"HTTP/1.1 500 Oops\r\nconnection: close\r\ncontent-length: 0\r\n\r\n").await, closed(500));
        assert_eq!(held(b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n").await, closed(200));
        let conflicting = b"HTTP/1.1 202 Accepted\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab";
        assert_eq!(closing(conflicting).await, closed(202));
        // An answer whose body ends only with its connection is not waited for.
        assert_eq!(held(b"HTTP/1.1 307 Temporary Redirect\r\nlocation: /x\r\n\r\n").await, closed(307));
        assert_eq!(held(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nab").await, closed(200));
        assert_eq!(held(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\n").await, closed(101));
        assert_eq!(held(b"HTTP/1.1 204 No Content\r\nconnection: \xffclose\r\n\r\n").await, closed(204));
        // Size lines and trailers count towards the limit, not only the data.
        let extended = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nx\r\n0\r\n\r\n";
        assert_eq!(held(extended).await, closed(200));
        let trailers =
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\na: 1111111111\r\nb: 2222222222\r\n\r\n";
        assert_eq!(held(trailers).await, closed(200));
    }

    #[tokio::test]
    async fn no_answer_and_garbage_are_failures() {
        let e = closing(b"").await.unwrap_err();
        assert!(e.starts_with("the connection closed without an answer"), "{e}");
        let e = held(b"SMTP ready\r\n\r\n").await.unwrap_err();
        assert!(e.starts_with("the answer is not HTTP/1.1"), "{e}");
        let e = closing(b"HTTP/1.1 200 OK\r\ncontent-").await.unwrap_err();
        assert_eq!(e, "the connection closed within the answer's head");
    }
}
