//! Events are kept `--event-retention-days` days on the server's clock, then removed with their
//! delivery tries; a client's stored id stays a valid position.

use super::{DELIVERY, MONDAY_10, deliveries, endpoint, endpoint_id, events, id, logged_deliveries, suppress};
use crate::common::{TestApp, eventually};
use crate::fakes::receiver::Receiver;
use serde_json::json;

/// A test-clock server keeping events `days` days, whose webhooks may go to a local receiver.
async fn keeping(days: u32) -> TestApp {
    TestApp::with_clock(MONDAY_10, |c| {
        c.events.event_retention_days = days;
        c.events.allow_http_webhooks = true;
        c.events.allow_private_webhooks = true;
    })
    .await
}

#[tokio::test]
async fn events_past_their_retention_are_removed_with_their_tries() {
    let app = keeping(2).await;
    let receiver = Receiver::start().await;
    let ep = endpoint_id(&endpoint(&app, &receiver.url(), json!(["*"])).await);
    let old = suppress(&app, "+14155550100").await;
    receiver.wait_for_id(&id(&old), DELIVERY).await;
    app.advance(86_400).await;
    let kept = suppress(&app, "+14155550101").await;
    receiver.wait_for_id(&id(&kept), DELIVERY).await;
    assert_eq!(events(&app, "").await.len(), 2);
    logged_deliveries(&app, &ep, "", 2).await;
    // A day later the first is past two days, the second not.
    app.advance(86_400 + 1).await;
    eventually("the old event is removed", || async { events(&app, "").await.len() == 1 }).await;
    assert_eq!(id(&events(&app, "").await[0]), id(&kept));
    // The removed event's id still reads as a position.
    assert_eq!(events(&app, &format!("?after={}", id(&old))).await.len(), 1);
    // Its try is gone with it; the kept event's stays.
    eventually("the old try is removed", || async { deliveries(&app, &ep, "").await.1 == 1 }).await;
    let (tries, _) = deliveries(&app, &ep, "").await;
    assert_eq!(tries[0]["event_id"], json!(id(&kept)), "{tries:?}");
}

/// An event removed past its retention while its endpoint waits to retry it leaves nothing to wait
/// for: the retry finds it gone, and the endpoint's new events go out again.
#[tokio::test]
async fn an_endpoint_whose_failed_event_is_removed_by_retention_gets_new_events_again() {
    let app = keeping(1).await;
    let receiver = Receiver::start().await;
    receiver.answer(500);
    let ep = endpoint_id(&endpoint(&app, &receiver.url(), json!(["suppression.added"])).await);
    let old = id(&suppress(&app, "+14155550100").await);
    receiver.wait_for_tries(&old, 1, DELIVERY).await;
    logged_deliveries(&app, &ep, "", 1).await;
    // A day on, the event is removed; its retries (about 28 h of them) are not all spent.
    app.advance(86_401).await;
    eventually("the old event is removed", || async { events(&app, "").await.is_empty() }).await;
    receiver.answer(204);
    // Its next retry, whenever it was put, is due within five minutes of now.
    app.advance(300).await;
    let new = id(&suppress(&app, "+14155550101").await);
    receiver.wait_for_id(&new, DELIVERY).await;
}
