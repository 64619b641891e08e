//! Serving connections (HTTP/1.1): limits on slow and oversized request heads and on idle request
//! bodies, and a graceful stop that lets requests in progress finish.

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tower_http::normalize_path::NormalizePath;
use tower_http::timeout::TimeoutBody;

/// The address of the client that sent a request (as the connection saw it), in its extensions.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub std::net::IpAddr);

/// What a client may do before the server gives up on it.
#[derive(Clone, Copy, Debug)]
pub struct ClientLimits {
    /// Longest time to send a request head, and longest pause while sending a body (`408` then).
    pub timeout: Duration,
    /// Largest request head in bytes (`431` beyond); at least 8,192.
    pub max_header_bytes: usize,
}

/// Accepts connections until `shutdown`, then waits for the requests in progress to finish.
pub async fn serve(
    listener: TcpListener,
    app: NormalizePath<Router>,
    limits: ClientLimits,
    shutdown: CancellationToken,
) {
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, client) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => (stream, ClientAddr(peer.ip())),
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let timeout = limits.timeout;
        let service = app.clone().map_request(move |req: hyper::Request<Incoming>| {
            let mut req = req.map(|b| Body::new(TimeoutBody::new(timeout, b)));
            req.extensions_mut().insert(client);
            req
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(timeout)
            .max_buf_size(limits.max_header_bytes)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
