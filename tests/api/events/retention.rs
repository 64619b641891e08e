//! Events are kept `--event-retention-days` days on the server's clock, then removed with their
//! delivery tries; a client's stored id stays a valid position.

use super::{MONDAY_10, events, id, suppress};
use crate::common::{TestApp, eventually};

#[tokio::test]
async fn events_past_their_retention_are_removed() {
    let app = TestApp::with_clock(MONDAY_10, |c| c.events.event_retention_days = 2).await;
    let old = suppress(&app, "+14155550100").await;
    app.advance(86_400).await;
    let kept = suppress(&app, "+14155550101").await;
    assert_eq!(events(&app, "").await.len(), 2);
    // A day later the first is past two days, the second not.
    app.advance(86_400 + 1).await;
    eventually("the old event is removed", || async { events(&app, "").await.len() == 1 }).await;
    assert_eq!(id(&events(&app, "").await[0]), id(&kept));
    // The removed event's id still reads as a position.
    assert_eq!(events(&app, &format!("?after={}", id(&old))).await.len(), 1);
}
