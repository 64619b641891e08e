//! The events feed: what a finished campaign leaves, in commit order with the objects it describes;
//! paging, filters and bad queries; organizations and deleted campaigns.

use super::{
    MONDAY_10, PHONES, TYPES, all_events, campaign, differences, events, feed, feed_as, id, ids, of_type, org_of,
    plain_app, run_campaign,
};
use crate::common::{TOKEN, at};
use reqwest::Method;
use serde_json::{Value, json};

/// `X-Last-Event-Id` while an organization has no event.
const NONE_YET: &str = "evt_0000000000000000";
const TERMINAL: [&str; 6] = ["completed", "failed", "busy", "no_answer", "skipped", "max_retries_reached"];

/// Whether an id is `evt_` and 16 lowercase hex digits.
fn well_formed(event_id: &str) -> bool {
    event_id
        .strip_prefix("evt_")
        .is_some_and(|h| h.len() == 16 && h.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')))
}

fn statuses(events: &[Value], kind: &str) -> Vec<String> {
    of_type(events, kind).iter().map(|e| e["data"]["status"].as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test]
async fn a_finished_campaign_leaves_its_events_in_order_with_the_objects_they_describe() {
    let app = plain_app().await;
    let (c, b) = run_campaign(&app, &PHONES).await;
    let r = feed(&app, "").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let all = r.body.as_array().unwrap_or_else(|| panic!("not a list: {}", r.text)).clone();
    let org = org_of(&app, TOKEN).await;

    for e in &all {
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(sorted, ["created_at", "data", "event_id", "organization_id", "type"], "{e}");
        assert!(well_formed(e["event_id"].as_str().unwrap()), "{e}");
        assert_eq!(e["organization_id"], json!(org), "{e}");
        let created = at(e["created_at"].as_str().unwrap());
        assert!(at(MONDAY_10) <= created && created <= at("2026-11-30T11:00:00Z"), "on the test clock: {e}");
    }
    let got = ids(&all);
    assert!(got.windows(2).all(|w| w[0] < w[1]), "ids strictly increase: {got:?}");
    let times: Vec<_> = all.iter().map(|e| at(e["created_at"].as_str().unwrap())).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "commit order follows the clock: {times:?}");
    assert_eq!(r.header("x-last-event-id"), got.last().map(String::as_str), "X-Last-Event-Id is the newest id");

    let count = |kind: &str| of_type(&all, kind).len();
    assert_eq!((count("call.ended"), count("contact.finished"), count("suppression.added")), (4, 4, 1), "{all:?}");
    assert_eq!(statuses(&all, "batch.updated"), ["completed"], "status changes only, not the creation");
    assert_eq!(statuses(&all, "campaign.updated"), ["active", "completed"]);
    let kinds: Vec<&str> = all.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 4 + 4 + 1 + 1 + 2, "no other events: {kinds:?}");
    // The campaign became active when its batch was created, at the start of the clock.
    assert_eq!(at(of_type(&all, "campaign.updated")[0]["created_at"].as_str().unwrap()), at(MONDAY_10));

    let with_calls = app.contacts_with_calls(&b).await;
    let mut deviations = Vec::new();
    for e in of_type(&all, "call.ended") {
        let exec = &e["data"]["execution_id"];
        let contact = with_calls
            .iter()
            .find(|c| c["call_records"].as_array().unwrap().iter().any(|r| r["execution_id"] == *exec))
            .unwrap_or_else(|| panic!("no contact made call {exec}"));
        // The call record, and what it belongs to: its contact and campaign.
        let mut record = contact["current_call"].clone();
        record["contact_id"] = contact["contact_id"].clone();
        record["campaign_id"] = json!(c);
        for d in differences(&e["data"], &record) {
            deviations.push(format!("call.ended {exec} data {d}"));
        }
        assert_eq!(at(e["created_at"].as_str().unwrap()), at(contact["current_call"]["ended_at"].as_str().unwrap()));
    }
    let listed = app.get(&format!("/api/v1/batches/{b}/contacts?limit=1000")).await.body;
    for e in of_type(&all, "contact.finished") {
        let status = e["data"]["status"].as_str().unwrap_or_default();
        assert!(TERMINAL.contains(&status), "contact.finished with status {status}: {e}");
        assert!(e["data"].get("call_records").is_none(), "without call_records: {e}");
        let contact = listed.as_array().unwrap().iter().find(|c| c["contact_id"] == e["data"]["contact_id"]).unwrap();
        for d in differences(&e["data"], contact) {
            deviations.push(format!("contact.finished {} data {d}", e["data"]["contact_id"]));
        }
        let ended = at(contact["current_call"]["ended_at"].as_str().unwrap());
        assert_eq!(at(e["created_at"].as_str().unwrap()), ended, "written with the outcome: {e}");
    }
    // Read alone, without the calls that ended with them, they are the same.
    let alone = events(&app, "?type=contact.finished").await;
    assert_eq!(alone, of_type(&all, "contact.finished").into_iter().cloned().collect::<Vec<_>>());
    let statuses_by_phone: Vec<(String, String)> = of_type(&all, "contact.finished")
        .iter()
        .map(|e| {
            (e["data"]["phone_number"].as_str().unwrap().to_owned(), e["data"]["status"].as_str().unwrap().to_owned())
        })
        .collect();
    for (phone, status) in [(PHONES[1], "busy"), (PHONES[2], "failed"), (PHONES[0], "completed")] {
        assert!(statuses_by_phone.contains(&(phone.to_owned(), status.to_owned())), "{statuses_by_phone:?}");
    }

    let batch_now = app.get(&format!("/api/v1/batches/{b}")).await.body;
    let finished = of_type(&all, "batch.updated")[0];
    assert_eq!(finished["data"], batch_now, "batch.updated data is the batch object");
    assert_eq!(at(finished["created_at"].as_str().unwrap()), at(batch_now["completed_at"].as_str().unwrap()));
    let campaign_now = app.get(&format!("/api/v1/campaigns/{c}")).await.body;
    assert_eq!(of_type(&all, "campaign.updated")[1]["data"], campaign_now, "campaign.updated data is the campaign");

    let opt_out = &of_type(&all, "suppression.added")[0]["data"];
    let entry = &app.get("/api/v1/suppressions?reason=opt_out").await.body[0];
    let mut keys: Vec<&String> = opt_out.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["campaign_id", "created_at", "expires_at", "phone_number", "reason", "scope"], "{opt_out}");
    for key in keys {
        assert_eq!(opt_out[key], entry[key], "suppression.added {key}: {opt_out} vs {entry}");
    }
    assert_eq!((opt_out["phone_number"].as_str(), opt_out["scope"].as_str()), (Some(PHONES[3]), Some("organization")));
    assert!(deviations.is_empty(), "event data differs from the record GET shows:\n{}", deviations.join("\n"));
}

#[tokio::test]
async fn the_feed_pages_filters_and_refuses_bad_queries() {
    let app = plain_app().await;
    run_campaign(&app, &PHONES).await;
    let all = events(&app, "").await;
    let newest = id(all.last().unwrap());
    assert!(all.len() >= 10, "{all:?}");
    assert_eq!(all, all_events(&app).await);
    assert_eq!(events(&app, "/").await, all, "the trailing slash works too");

    assert_eq!(events(&app, &format!("?after={}", id(&all[2]))).await, all[3..]);
    let r = feed(&app, "?limit=2").await;
    assert_eq!(r.body.as_array().unwrap()[..], all[..2]);
    assert_eq!(r.header("x-last-event-id"), Some(newest.as_str()), "the org's newest, not the page's last");
    assert_eq!(events(&app, &format!("?after={}&limit=3", id(&all[1]))).await, all[2..5]);
    let r = feed(&app, &format!("?after={newest}")).await;
    assert_eq!((r.status, &r.body, r.header("x-last-event-id")), (200, &json!([]), Some(newest.as_str())));

    let calls: Vec<Value> = of_type(&all, "call.ended").into_iter().cloned().collect();
    assert_eq!(events(&app, "?type=call.ended").await, calls);
    let two: Vec<Value> =
        all.iter().filter(|e| e["type"] == "call.ended" || e["type"] == "batch.updated").cloned().collect();
    assert_eq!(events(&app, "?type=call.ended,batch.updated").await, two);
    assert_eq!(events(&app, "?type=call.ended&type=batch.updated").await, two);
    assert_eq!(events(&app, &format!("?type=call.ended&after={}&limit=1", id(&calls[0]))).await, calls[1..2]);
    assert!(events(&app, "?type=endpoint.disabled").await.is_empty());
    for kind in TYPES {
        let of_kind: Vec<Value> = of_type(&all, kind).into_iter().cloned().collect();
        assert_eq!(events(&app, &format!("?type={kind}")).await, of_kind, "type={kind}");
    }

    for (query, loc) in [
        ("?type=call.started", "query.type"),
        ("?type=call.ended,nope", "query.type"),
        ("?type=CALL.ENDED", "query.type"),
        ("?after=abc", "query.after"),
        ("?after=evt_", "query.after"),
        ("?after=evt_00000000000000zz", "query.after"),
        ("?after=cmp_0000000000000000", "query.after"),
        ("?limit=0", "query.limit"),
        ("?limit=1001", "query.limit"),
        ("?limit=x", "query.limit"),
        ("?wait_seconds=31", "query.wait_seconds"),
        ("?wait_seconds=-1", "query.wait_seconds"),
        ("?wait_seconds=soon", "query.wait_seconds"),
    ] {
        let r = feed(&app, query).await;
        assert_eq!(r.status, 422, "GET /events{query}: {}", r.text);
        r.assert_invalid_at(&[loc]);
    }
    feed(&app, "?after=x&limit=0&type=y").await.assert_invalid_at(&["query.after", "query.limit", "query.type"]);
    let r = feed_as(&app, "", "").await;
    assert_eq!((r.status, r.detail()), (401, "Not authenticated"), "{}", r.text);
}

#[tokio::test]
async fn another_organization_sees_none_of_these_events() {
    let app = plain_app().await;
    let r = feed(&app, "").await;
    assert_eq!((r.status, &r.body), (200, &json!([])), "{}", r.text);
    assert_eq!(r.header("x-last-event-id"), Some(NONE_YET), "while the organization has no event");

    run_campaign(&app, &PHONES).await;
    let mine = events(&app, "").await;
    assert_eq!(events(&app, &format!("?after={NONE_YET}")).await, mine, "following from it reads from the first");
    let (other_org, other) = app.other_org();
    for query in ["".to_owned(), format!("?after={}", id(&mine[0])), "?type=call.ended".to_owned()] {
        let r = feed_as(&app, &other, &query).await;
        assert_eq!((r.status, &r.body), (200, &json!([])), "GET /events{query} as another org: {}", r.text);
        assert_eq!(r.header("x-last-event-id"), Some(NONE_YET), "{query}");
    }
    // Its own events are its own: a campaign of its own becomes active.
    let theirs = app
        .create_campaign_as(&other, json!({"name": "Theirs", "agent_id": "a", "phone_numbers": ["+12025550123"]}))
        .await;
    let contacts = json!([{"phone_number": "+14155552000", "call_variables": {"callee_name": "Bo"}}]);
    let body =
        json!({"campaign_id": theirs["campaign_id"], "contacts": contacts, "scheduled_start": "2026-12-30T10:00:00Z"});
    let r = app.call_as(&other, Method::POST, "/api/v1/batches/", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = feed_as(&app, &other, "").await;
    let seen = r.body.as_array().unwrap();
    assert_eq!(seen.len(), 1, "{}", r.text);
    assert_eq!(
        (seen[0]["type"].as_str(), seen[0]["organization_id"].as_str()),
        (Some("campaign.updated"), Some(&other_org[..]))
    );
    assert_eq!(r.header("x-last-event-id"), Some(id(&seen[0]).as_str()));
    assert_eq!(events(&app, "").await, mine, "and the first organization does not see it");
}

#[tokio::test]
async fn a_deleted_campaigns_events_go_with_it() {
    let app = plain_app().await;
    let (gone, gone_batch) = run_campaign(&app, &PHONES[..3]).await;
    let execs: Vec<Value> = app
        .contacts_with_calls(&gone_batch)
        .await
        .iter()
        .flat_map(|c| {
            c["call_records"].as_array().unwrap().iter().map(|r| r["execution_id"].clone()).collect::<Vec<_>>()
        })
        .collect();
    let kept = campaign(&app).await;
    let kept_batch = super::batch(&app, &kept, &["+14155551001"]).await;
    app.advance(3600).await;
    let before = events(&app, "").await;
    let of_gone = |e: &Value| e["data"]["campaign_id"] == json!(gone) || execs.contains(&e["data"]["execution_id"]);
    let gone_ids: Vec<String> = before.iter().filter(|e| of_gone(e)).map(id).collect();
    assert_eq!(gone_ids.len(), 3 + 3 + 1 + 2, "{before:?}");
    let r = app.call(Method::DELETE, &format!("/api/v1/campaigns/{gone}"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let after = events(&app, "").await;
    let expected: Vec<Value> = before.iter().filter(|e| !gone_ids.contains(&id(e))).cloned().collect();
    assert_eq!(after, expected, "only the deleted campaign's events are gone");
    assert!(after.iter().any(|e| e["data"]["batch_id"] == json!(kept_batch)), "{after:?}");
}

#[tokio::test]
async fn an_events_data_is_fixed_when_it_is_written() {
    let app = plain_app().await;
    let c = campaign(&app).await;
    let b = super::batch(&app, &c, &PHONES[..2]).await;
    let r = app.post(&format!("/api/v1/batches/{b}/pause"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let before = events(&app, "").await;
    let paused = of_type(&before, "batch.updated");
    assert_eq!(paused.len(), 1, "{before:?}");
    assert_eq!(paused[0]["data"]["status"], "paused");
    // Later changes to the campaign and the batch: a new name, the calls in flight ending.
    let r = app.patch(&format!("/api/v1/campaigns/{c}"), json!({"name": "Renamed"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.advance(3600).await;
    let after = events(&app, "").await;
    let mut changed = Vec::new();
    for (old, new) in before.iter().zip(&after) {
        for d in differences(&new["data"], &old["data"]) {
            changed.push(format!("{} {} data {d}", id(old), old["type"]));
        }
    }
    assert!(after.len() > before.len(), "{after:?}");
    assert!(changed.is_empty(), "read again later, events show other data (now vs then):\n{}", changed.join("\n"));
}

#[tokio::test]
async fn a_contact_skipped_at_upload_finishes_with_its_event() {
    let app = plain_app().await;
    super::suppress(&app, "+14155550101").await;
    let c = campaign(&app).await;
    let b = super::batch(&app, &c, &["+14155550101", "+14155550102"]).await;
    let finished = events(&app, "?type=contact.finished").await;
    assert_eq!(finished.len(), 1, "{finished:?}");
    assert_eq!(finished[0]["data"]["phone_number"], "+14155550101");
    assert_eq!(
        (finished[0]["data"]["status"].as_str(), finished[0]["data"]["skip_reason"].as_str()),
        (Some("skipped"), Some("suppressed"))
    );
    assert_eq!(finished[0]["data"]["batch_id"], json!(b));
}
