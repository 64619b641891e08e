//! Organizations and tokens (API.md §1, §2): isolation between orgs, scoping, the token helper, the CLI.

use crate::common::{TOKEN, TestApp, campaign_body, campaign_path, id_of};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn another_org_cannot_see_or_touch_a_campaign() {
    let app = TestApp::start().await;
    let (_org_b, token_b) = app.other_org();
    let c = app.create_campaign(campaign_body("A's campaign")).await;
    let id = id_of(&c);
    for (method, suffix, body) in [
        (Method::GET, "", None),
        (Method::PATCH, "", Some(json!({"name": "hijacked"}))),
        (Method::DELETE, "", None),
        (Method::POST, "/pause", None),
        (Method::POST, "/resume", None),
        (Method::POST, "/cancel", None),
        (Method::GET, "/stats", None),
    ] {
        let r = app.call_as(&token_b, method.clone(), &campaign_path(&id, suffix), body).await;
        assert_eq!(r.status, 404, "{method} {suffix}: {}", r.text);
        assert_eq!(r.body, json!({"detail": "Campaign not found"}), "{method} {suffix}");
    }
    // A's campaign is untouched.
    let r = app.get(&campaign_path(&id, "")).await;
    assert_eq!(r.body, c);

    // B's list does not include it; A's does.
    let (items, total) = app.list_campaigns_as(&token_b, "").await;
    assert_eq!((items.len(), total), (0, 0));
    let b_campaign = app.create_campaign_as(&token_b, campaign_body("B's campaign")).await;
    let (items, total) = app.list_campaigns_as(&token_b, "").await;
    assert_eq!(total, 1);
    assert_eq!(items[0], b_campaign);
    let (items, total) = app.list_campaigns_as(TOKEN, "").await;
    assert_eq!(total, 1);
    assert_eq!(items[0], c);
    // And A cannot see B's.
    let r = app.get(&campaign_path(&id_of(&b_campaign), "")).await;
    assert_eq!((r.status, r.detail()), (404, "Campaign not found"));
}

#[tokio::test]
async fn naming_another_org_is_forbidden() {
    let app = TestApp::start().await;
    let (org_b, token_b) = app.other_org();
    let own = app.get("/api/v1/api-tokens/validate-token").await.body["organization_id"].as_str().unwrap().to_owned();

    let mut body = campaign_body("Cross-org");
    body["organization_id"] = json!(org_b);
    let r = app.post("/api/v1/campaigns/", body.clone()).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.body, json!({ "detail": format!("Token is not authorized for organization {org_b}") }));
    let r = app.post("/api/v1/campaigns/create", body).await;
    assert_eq!(r.status, 403, "{}", r.text);

    let r = app.get(&format!("/api/v1/campaigns/?organization_id={org_b}")).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.body, json!({ "detail": format!("Token is not authorized for organization {org_b}") }));
    // The other way round too.
    let r = app.call_as(&token_b, Method::GET, &format!("/api/v1/campaigns/?organization_id={own}"), None).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.body, json!({ "detail": format!("Token is not authorized for organization {own}") }));

    assert_eq!(app.list_campaigns_as(TOKEN, "").await.1, 0, "nothing was created");
    assert_eq!(app.list_campaigns_as(&token_b, "").await.1, 0, "nothing was created in B either");
}

#[tokio::test]
async fn naming_the_own_org_works() {
    let app = TestApp::start().await;
    let own = app.get("/api/v1/api-tokens/validate-token").await.body["organization_id"].as_str().unwrap().to_owned();
    let mut body = campaign_body("Explicit org");
    body["organization_id"] = json!(own);
    let r = app.post("/api/v1/campaigns/", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["organization_id"], own);
    let (items, total) = app.list_campaigns(&format!("?organization_id={own}")).await;
    assert_eq!(total, 1);
    assert_eq!(items[0], r.body);
}

#[tokio::test]
async fn validate_token_names_each_tokens_org() {
    let app = TestApp::start().await;
    let (org_b, token_b) = app.other_org();
    let a = app.get("/api/v1/api-tokens/validate-token").await;
    assert_eq!(a.status, 200, "{}", a.text);
    let org_a = a.body["organization_id"].as_str().unwrap().to_owned();
    assert!(org_a.starts_with("org_") && org_a.len() == 30, "{org_a}");
    assert_eq!(a.body, json!({"valid": true, "organization_id": org_a}));
    let b = app.call_as(&token_b, Method::GET, "/api/v1/api-tokens/validate-token", None).await;
    assert_eq!(b.status, 200, "{}", b.text);
    assert_eq!(b.body, json!({"valid": true, "organization_id": org_b}));
    assert_ne!(org_a, org_b);
    // Campaigns carry the token's organization.
    let c = app.create_campaign(campaign_body("Mine")).await;
    assert_eq!(c["organization_id"], org_a);
    let c = app.create_campaign_as(&token_b, campaign_body("Theirs")).await;
    assert_eq!(c["organization_id"], org_b);
    // A second token of the same org sees the same campaigns.
    let token_b2 = app.cli(&["token", "create", "--org", &org_b]).trim().to_owned();
    assert_ne!(token_b2, token_b);
    let (items, total) = app.list_campaigns_as(&token_b2, "").await;
    assert_eq!((total, &items[0]), (1, &c));
}

#[tokio::test]
async fn cli_lists_every_org_and_token() {
    let app = TestApp::start().await;
    let org_a = app.get("/api/v1/api-tokens/validate-token").await.body["organization_id"].as_str().unwrap().to_owned();
    let (org_b, token_b) = app.other_org();
    let listed = app.cli(&["org", "list"]);
    let ids: Vec<&str> = listed.lines().filter_map(|l| l.split('\t').next()).collect();
    assert_eq!(ids.len(), 2, "{listed}");
    assert!(ids.contains(&org_a.as_str()), "{listed}");
    assert!(ids.contains(&org_b.as_str()), "{listed}");
    assert!(listed.contains("Other Org"), "{listed}");

    // Tokens are listed without their secret.
    let tokens = app.cli(&["token", "list"]);
    assert_eq!(tokens.lines().count(), 2, "{tokens}");
    assert!(!tokens.contains(&token_b), "the clear token must never be listed: {tokens}");
    assert!(!tokens.contains(TOKEN), "the clear token must never be listed: {tokens}");
    assert_eq!(app.token_ids_of(&org_b).len(), 1);
    assert_eq!(app.token_ids_of(&org_a).len(), 1);
}
