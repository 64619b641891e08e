//! What a receiver answers is read at most 64 KiB: an endless answer neither holds a try open until
//! its timeout nor fills the server's memory.

use super::{DELIVERY, endpoint, endpoint_id, local_app, logged_deliveries, suppress};
use axum::body::Body;
use axum::response::Response;

/// A receiver that answers `200` with a body that never ends; its URL.
async fn endless_receiver() -> String {
    let app = axum::Router::new().fallback(|| async {
        let chunk = axum::body::Bytes::from(vec![b'x'; 16 * 1024]);
        let endless = futures_util::StreamExt::map(futures_util::stream::repeat(chunk), Ok::<_, std::io::Error>);
        Response::new(Body::from_stream(endless))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn an_endless_answer_is_read_only_up_to_64_kib() {
    let app = local_app().await;
    let ep = endpoint_id(&endpoint(&app, &endless_receiver().await, serde_json::json!(["*"])).await);
    let started = std::time::Instant::now();
    suppress(&app, "+14155550100").await;
    let tries = logged_deliveries(&app, &ep, "", 1).await;
    assert_eq!(tries[0]["status_code"], 200, "{tries:?}");
    assert!(tries[0]["error"].is_null(), "{tries:?}");
    assert!(started.elapsed() < DELIVERY / 2, "the try did not wait for the answer's end: {:?}", started.elapsed());
}
