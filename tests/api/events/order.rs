//! Event ids follow commit order within an organization, whichever replica commits (PostgreSQL,
//! where transactions interleave; SQLite's one writer commits one at a time): a client that stored
//! the last id it read never misses an event that commits later.

use super::{MONDAY_10, events, id, ids};
use crate::common::{TestApp, at};
use serde_json::json;

/// The organization's id as stored.
fn org_uuid(org: &str) -> uuid::Uuid {
    graine::domain::ids::OrgId::parse(org).unwrap().uuid()
}

#[tokio::test]
async fn an_event_written_first_but_committed_last_comes_after_in_the_feed() {
    let app = TestApp::start_postgres_with(|c| {
        c.test_clock = true;
        c.clock_start = Some(at(MONDAY_10));
    })
    .await;
    let r = app.post("/api/v1/suppressions", json!({"entries": [{"phone_number": "+14155550100"}]})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let first = events(&app, "").await;
    let org = first[0]["organization_id"].as_str().unwrap().to_owned();
    // Another replica's transaction writes an event and stays open…
    let mut slow = app.db().await;
    let _: Vec<(i64,)> = slow.rows("BEGIN").await;
    let _: Vec<(i64,)> = slow
        .rows(&format!(
            "INSERT INTO suppressions (id, organization_id, phone_number, scope, created_at)
             VALUES ('{}', '{}', '+14155550199', '', now()) RETURNING CAST(1 AS BIGINT)",
            uuid::Uuid::now_v7(),
            org_uuid(&org)
        ))
        .await;
    // …while this one writes and commits another, which a client reads at once.
    let r = app.post("/api/v1/suppressions", json!({"entries": [{"phone_number": "+14155550101"}]})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let seen = events(&app, &format!("?after={}", id(&first[0]))).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["data"]["phone_number"], "+14155550101");
    let cursor = id(&seen[0]);
    // The first transaction commits last: its event comes after the one the client has read.
    let _: Vec<(i64,)> = slow.rows("COMMIT").await;
    let later = events(&app, &format!("?after={cursor}")).await;
    assert_eq!(later.len(), 1, "the event committed last is not behind the client's cursor: {later:?}");
    assert_eq!(later[0]["data"]["phone_number"], "+14155550199");
    let all = ids(&events(&app, "").await);
    assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
}

#[tokio::test]
async fn a_follower_reading_while_two_replicas_write_misses_nothing() {
    let app = TestApp::start_postgres_with(|_| {}).await;
    let Some(other) = app.replica(|_| {}).await else { return };
    let write = |app: &TestApp, k: usize| {
        let body = json!({"entries": [{"phone_number": format!("+1415555{k:04}")}]});
        let request = app.request(reqwest::Method::POST, "/api/v1/suppressions").json(&body);
        async move {
            let r = request.send().await.unwrap();
            assert!(r.status().is_success());
        }
    };
    let done = std::sync::atomic::AtomicBool::new(false);
    let writers = async {
        for k in 0..60 {
            tokio::join!(write(&app, 2 * k), write(&other, 2 * k + 1));
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let follower = async {
        let mut cursor: Option<String> = None;
        let mut seen = Vec::new();
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let query = cursor.as_ref().map_or(String::new(), |c| format!("?after={c}"));
            let page = events(&app, &query).await;
            if let Some(last) = page.last() {
                cursor = Some(id(last));
            }
            seen.extend(page.iter().map(id));
            tokio::task::yield_now().await;
        }
        (seen, cursor)
    };
    let ((), (mut seen, cursor)) = tokio::join!(writers, follower);
    let rest = events(&app, &cursor.map_or(String::new(), |c| format!("?after={c}&limit=1000"))).await;
    seen.extend(rest.iter().map(id));
    let all = ids(&events(&app, "?limit=1000").await);
    assert_eq!(all.len(), 120);
    assert_eq!(seen, all, "read in order, one page after another, nothing missed and nothing twice");
}
