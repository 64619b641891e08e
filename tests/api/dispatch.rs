//! The dispatcher with simulated telephony, driven by the test clock (API.md §6, §7, §11).
//!
//! Here the guarantees RELIABILITY.md cites: limits hold, a call without an outcome times out,
//! replicas never double-dial, dispatch slots are shared, a restarted server resumes. A call's life
//! in `calls`, retries and follow-ups in `retries`, hours, pauses, schedules and the test clock in
//! `schedule`.

use crate::common::{DISPATCH_SLOTS, TestApp, at, eventually, fresh_postgres_url, release_dispatch_slot};
use serde_json::{Value, json};

mod calls;
mod eligibility;
mod retries;
mod schedule;

const MONDAY_10: &str = "2026-11-30T10:00:00Z";

async fn campaign(app: &TestApp, extra: Value) -> String {
    let mut body = json!({
        "name": "Dispatch",
        "agent_id": "agent_1",
        "phone_numbers": ["+919876543210", "+919876543211"],
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.create_campaign(body).await["campaign_id"].as_str().unwrap().to_owned()
}

async fn batch(app: &TestApp, campaign: &str, phones: &[&str], extra: Value) -> String {
    let contacts: Vec<Value> =
        phones.iter().map(|p| json!({"phone_number": p, "call_variables": {"callee_name": "Ann"}})).collect();
    let mut body = json!({"campaign_id": campaign, "contacts": contacts});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = app.post("/api/v1/batches/", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["batch_id"].as_str().unwrap().to_owned()
}

fn calls(contact: &Value) -> Vec<Value> {
    contact["call_records"].as_array().unwrap().clone()
}

fn field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

#[tokio::test]
async fn concurrency_limit_holds_and_work_flows_as_slots_free() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let c = campaign(&app, json!({"metadata": {"concurrency_limit": 2}})).await;
    let phones: Vec<String> = (0..5).map(|i| format!("+1415555{:04}", 2000 + i)).collect();
    let phones: Vec<&str> = phones.iter().map(String::as_str).collect();
    let b = batch(&app, &c, &phones, json!({})).await;
    let debug = app.get(&format!("/api/v1/batches/{b}/debug")).await.body;
    assert_eq!(debug["diagnostics"]["blocked_by"], json!(["concurrency_limit"]));
    let stats = app.get(&format!("/api/v1/campaigns/{c}/stats")).await.body;
    assert_eq!((stats["active_calls"].as_i64(), stats["contact_counts"]["pending"].as_i64()), (Some(2), Some(3)));
    app.advance(3600).await;
    let contacts = app.contacts_with_calls(&b).await;
    let mut spans = Vec::new();
    for contact in &contacts {
        assert_eq!(contact["status"], "completed");
        for call in calls(contact) {
            spans.push((at(field(&call, "dispatched_at")), at(field(&call, "ended_at"))));
        }
    }
    // at every call start, no more than the limit were live
    for (start, _) in &spans {
        let live = spans.iter().filter(|(s, e)| s <= start && start < e).count();
        assert!(live <= 2, "{live} calls live at {start}");
    }
    // upload order: the third contact starts when the first two end
    assert_eq!(calls(&contacts[2])[0]["dispatched_at"], "2026-11-30T10:02:03Z");
    assert_eq!(calls(&contacts[4])[0]["dispatched_at"], "2026-11-30T10:04:06Z");
}

#[tokio::test]
async fn batch_limit_applies_inside_the_campaign_limit() {
    let app = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let c = campaign(&app, json!({"metadata": {"concurrency_limit": 5}})).await;
    let b = batch(&app, &c, &["+14155553000", "+14155553001", "+14155553002"], json!({"concurrency_limit": 1})).await;
    let batch_now = app.get(&format!("/api/v1/batches/{b}")).await.body;
    assert_eq!(
        (batch_now["counters"]["in_flight"].as_i64(), batch_now["counters"]["pending"].as_i64()),
        (Some(1), Some(2))
    );
}

#[tokio::test]
async fn a_call_with_no_outcome_times_out_and_its_late_outcome_changes_nothing() {
    // calls last 120 s but the timeout is 60 s: the rescuer closes them first
    let app = TestApp::with_clock(MONDAY_10, |c| c.call_timeout = 60).await;
    let c = campaign(&app, json!({"retry_policy": {"max_retries": 1, "cooldown_minutes": 0}})).await;
    let b = batch(&app, &c, &["+14155559000"], json!({})).await;
    app.advance(61).await;
    let contact = &app.contacts_with_calls(&b).await[0];
    let first = &calls(contact)[0];
    assert_eq!((field(first, "call_status"), field(first, "hangup_reason")), ("failed", "status_timeout"));
    assert_eq!(first["ended_at"], "2026-11-30T10:01:00Z");
    app.advance(3600).await;
    let contact = &app.contacts_with_calls(&b).await[0];
    let records = calls(contact);
    assert_eq!(records.len(), 2, "one retry, never a redial on doubt");
    assert_eq!(records[0]["call_status"], "failed", "the late simulated end was fenced off");
    assert_eq!(contact["status"], "max_retries_reached");
    let camp = app.get(&format!("/api/v1/campaigns/{c}")).await.body;
    assert_eq!((camp["failed_calls"].as_i64(), camp["completed_calls"].as_i64()), (Some(2), Some(0)));
}

/// Two dispatchers on one database (Postgres; on SQLite the one server's dispatcher alone) race on
/// campaigns with limits 1 to 5: no contact ever has two live calls and no limit is exceeded.
#[tokio::test]
async fn two_replicas_racing_never_double_dial_or_exceed_limits() {
    let one = TestApp::with_clock(MONDAY_10, |c| c.simulated_call_seconds = 30).await;
    let two = one
        .replica(|c| {
            c.test_clock = true;
            c.clock_start = Some(at(MONDAY_10));
            c.simulated_call_seconds = 30;
        })
        .await;
    let second = two.as_ref().unwrap_or(&one);
    let mut batches = Vec::new();
    for limit in 1..=5 {
        let c = campaign(&one, json!({"metadata": {"concurrency_limit": limit}, "retry_policy": {"max_retries": 1, "cooldown_minutes": 1}})).await;
        // every fourth number is busy, so retries race too
        let phones: Vec<String> = (0..12)
            .map(|i| format!("+1415{:03}{}", 200 + limit * 20 + i, if i % 4 == 0 { "0001" } else { "1234" }))
            .collect();
        let phones: Vec<&str> = phones.iter().map(String::as_str).collect();
        batches.push((limit, batch(second, &c, &phones, json!({})).await));
    }
    // both replicas drive the same database through the same hours, concurrently, in steps
    for _ in 0..40 {
        match &two {
            Some(two) => {
                let (a, b) = tokio::join!(one.advance(45), two.advance(45));
                assert_eq!(a, b);
            }
            None => {
                one.advance(45).await;
            }
        }
    }
    // Judge from the database's own order of placements and closes (the replicas' clocks may
    // disagree by a step, as real clocks do): per campaign, sweep the events in that order.
    let mut db = one.db().await;
    for (limit, b) in batches {
        let rows: Vec<(String, i64, Option<i64>)> = db
            .rows(&format!(
                "SELECT CAST(cr.contact_id AS TEXT), cr.placed_seq, cr.closed_seq FROM call_records cr
                 JOIN batches b ON b.id = cr.batch_id
                 WHERE b.campaign_id = (SELECT campaign_id FROM batches WHERE id = '{}')",
                batch_uuid(&b)
            ))
            .await;
        assert!(rows.len() >= 12, "every contact was called: {}", rows.len());
        let mut events: Vec<(i64, i64, &str)> = Vec::new();
        for (contact, placed, closed) in &rows {
            events.push((*placed, 1, contact));
            events.push((closed.expect("every call closed"), -1, contact));
        }
        events.sort();
        let (mut live, mut peak) = (0i64, 0i64);
        let mut live_per_contact = std::collections::HashMap::new();
        for (_, change, contact) in events {
            live += change;
            peak = peak.max(live);
            let n = live_per_contact.entry(contact).or_insert(0);
            *n += change;
            assert!(*n <= 1, "two live calls for one contact");
        }
        assert!(peak <= limit, "limit {limit}: {peak} calls were live at once");
        assert_eq!(peak, limit, "the limit was used while work waited");
        let batch_now = one.get(&format!("/api/v1/batches/{b}")).await.body;
        assert_eq!(batch_now["status"], "completed");
        for contact in one.contacts_with_calls(&b).await {
            assert!(["completed", "max_retries_reached"].contains(&field(&contact, "status")), "{contact}");
        }
    }
}

/// Dispatch slots are shared by every replica on one Postgres database: while another process
/// holds the only slot (`--dispatch-streams 1`), this server's claim waits for it instead of
/// running beside it, and goes ahead the moment it is free.
#[tokio::test]
async fn a_claim_waits_for_a_dispatch_slot_held_elsewhere() {
    let app = TestApp::start_postgres_with(|c| {
        c.test_clock = true;
        c.clock_start = Some(at(MONDAY_10));
        c.dispatch_streams = 1;
    })
    .await;
    let c = campaign(&app, json!({})).await;
    // Another replica's dispatch transaction, as far as the database can tell: slot 0 is held.
    let mut holder = app.hold_dispatch_slot(0).await;
    // With the test clock, creating a batch runs the dispatcher before the answer; meanwhile the
    // other side watches the database and then lets go of the slot.
    let upload = batch(&app, &c, &["+14155550100", "+14155550101"], json!({}));
    let other_replica = async {
        let mut db = app.db().await;
        let waiting = format!(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = {DISPATCH_SLOTS} AND objid = 0
               AND NOT granted"
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while db.number(&waiting).await == 0 {
            assert!(std::time::Instant::now() < deadline, "the claim never asked for the slot");
        }
        assert_eq!(
            db.number("SELECT count(*) FROM call_records").await,
            0,
            "nothing is claimed while the slot is held"
        );
        release_dispatch_slot(&mut holder, 0).await;
    };
    let (b, ()) = tokio::join!(upload, other_replica);
    let contacts = app.contacts_with_calls(&b).await;
    assert!(contacts.iter().all(|c| calls(c).len() == 1), "both contacts called once the slot was free: {contacts:?}");
}

/// A slot held for good (by a process whose transaction PostgreSQL cannot end, say one frozen while
/// a result was still being sent) costs the replicas neither their other slots nor their progress:
/// a claim takes any free slot, and one that finds none gives up after a bounded wait and is tried
/// again on a later pass.
#[tokio::test]
async fn a_slot_held_for_good_neither_blocks_the_free_ones_nor_stalls_a_replica() {
    let clocked = |streams: u32| {
        move |c: &mut graine::config::ServeConfig| {
            c.test_clock = true;
            c.clock_start = Some(at(MONDAY_10));
            c.dispatch_streams = streams;
        }
    };
    let two_slots = TestApp::start_postgres_with(clocked(2)).await;
    let one_slot = two_slots.replica(clocked(1)).await.expect("Postgres takes a second replica");
    let mut holder = two_slots.hold_dispatch_slot(0).await;
    // With the test clock, creating a batch runs that server's dispatcher before the answer.
    let c = campaign(&two_slots, json!({})).await;
    let b = batch(&two_slots, &c, &["+14155550100", "+14155550101"], json!({})).await;
    let contacts = two_slots.contacts_with_calls(&b).await;
    assert!(contacts.iter().all(|c| calls(c).len() == 1), "called through the free slot: {contacts:?}");

    let c = campaign(&one_slot, json!({})).await;
    let b = batch(&one_slot, &c, &["+14155550102"], json!({})).await;
    let contacts = one_slot.contacts_with_calls(&b).await;
    assert_eq!(calls(&contacts[0]).len(), 0, "no slot: nothing claimed, and the answer still came");
    release_dispatch_slot(&mut holder, 0).await;
    one_slot.advance(1).await;
    let contacts = one_slot.contacts_with_calls(&b).await;
    assert_eq!(calls(&contacts[0]).len(), 1, "claimed on the next pass once the slot was free");
}

/// A replica frozen inside a dispatch transaction (here, a store opened as a server opens it, whose
/// transaction took slot 0 and went silent) holds the slot only until PostgreSQL ends its idle
/// transaction (`--db-idle-transaction-timeout`, 1 s here); then the other replicas' claims go ahead.
#[tokio::test]
async fn a_frozen_replica_holds_its_dispatch_slot_only_until_postgres_ends_its_transaction() {
    let url = fresh_postgres_url().await;
    let app = TestApp::start_on(&url, |c| {
        c.test_clock = true;
        c.clock_start = Some(at(MONDAY_10));
        c.dispatch_streams = 1;
    })
    .await;
    let c = campaign(&app, json!({})).await;
    let idle = Some(std::time::Duration::from_secs(1));
    let frozen_replica = graine::store::connect(&url, 1, false, idle).await.unwrap();
    let mut frozen = frozen_replica.begin().await.unwrap();
    assert!(frozen.take_dispatch_slot(0, 1).await.unwrap());
    // With the test clock, creating a batch runs the dispatcher before the answer.
    // The claim waits up to 2 s for the slot; PostgreSQL ends the frozen transaction after 1 s.
    let b = batch(&app, &c, &["+14155550100", "+14155550101"], json!({})).await;
    let contacts = app.contacts_with_calls(&b).await;
    assert!(contacts.iter().all(|c| calls(c).len() == 1), "both contacts called: {contacts:?}");
    assert!(frozen.commit().await.is_err(), "PostgreSQL ended the frozen transaction");
}

/// In real time, an expiry due on a campaign another transaction holds (a long upload, a replica
/// frozen mid-transaction) is left for a later pass instead of holding up the pass: the other
/// campaigns are called meanwhile, and the batch expires once the campaign is let go.
#[tokio::test]
async fn an_expiry_on_a_held_campaign_does_not_hold_up_the_others() {
    let app = TestApp::start_postgres_with(|c| c.simulated_call_seconds = 0).await;
    let held = campaign(&app, json!({})).await;
    // A batch starting tomorrow makes the campaign active, so that it can be paused; the batch
    // added to the paused campaign waits (paused) until it expires.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    batch(&app, &held, &["+14155550109"], json!({"scheduled_start": tomorrow})).await;
    assert_eq!(app.post(&format!("/api/v1/campaigns/{held}/pause"), json!({})).await.status, 200);
    let expires_at = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    let expiring = batch(&app, &held, &["+14155550100"], json!({"expires_at": expires_at.to_rfc3339()})).await;
    let mut holder = app.hold_campaign(&held).await;
    // Real time: wait (bounded) for the expiry to fall due, then for the other campaign's call.
    eventually("the expiry never fell due", || async { chrono::Utc::now() > expires_at }).await;
    let other = campaign(&app, json!({})).await;
    let b = batch(&app, &other, &["+14155550101"], json!({})).await;
    let status = |id: &str| {
        let (app, path) = (&app, format!("/api/v1/batches/{id}"));
        async move { app.get(&path).await.body["status"].as_str().unwrap().to_owned() }
    };
    eventually("the other campaign was not called while one was held", || async { status(&b).await == "completed" })
        .await;
    assert_eq!(status(&expiring).await, "paused", "the held campaign's expiry waits for its lock");
    let _: Vec<(i64,)> = holder.rows("ROLLBACK").await;
    eventually("the batch did not expire once its campaign was let go", || async {
        status(&expiring).await == "expired"
    })
    .await;
}

/// The uuid inside a `btc_…` id.
fn batch_uuid(id: &str) -> uuid::Uuid {
    graine::domain::ids::BatchId::parse(id).unwrap().uuid()
}

#[tokio::test]
async fn a_restarted_server_resumes_where_the_last_one_stopped() {
    let first = TestApp::with_clock(MONDAY_10, |_| {}).await;
    let c = campaign(&first, json!({"metadata": {"concurrency_limit": 1}})).await;
    let b = batch(&first, &c, &["+14155551111", "+14155552222"], json!({})).await;
    let db = first.database_url.clone();
    first.stop().await; // stops with one call in flight
    let second = TestApp::start_on(&db, |c| {
        c.test_clock = true;
        c.clock_start = Some(at("2026-11-30T10:01:00Z"));
    })
    .await;
    second.advance(3600).await;
    let contacts = second.contacts_with_calls(&b).await;
    assert!(contacts.iter().all(|c| c["status"] == "completed"), "{contacts:?}");
    assert_eq!(
        calls(&contacts[0])[0]["ended_at"],
        "2026-11-30T10:02:03Z",
        "the call placed before the stop ended on time"
    );
    assert_eq!(calls(&contacts[1])[0]["dispatched_at"], "2026-11-30T10:02:03Z");
    assert_eq!(contacts.iter().map(|c| calls(c).len()).sum::<usize>(), 2, "nothing was dialed twice");
}
