//! Conventions of API.md §1: auth, errors, request ids, trailing slashes, unknown routes.

use crate::common::TestApp;
use reqwest::Method;

#[tokio::test]
async fn missing_and_unknown_tokens_are_rejected() {
    let app = TestApp::start().await;
    let r = app.call_as("", Method::GET, "/api/v1/campaigns/", None).await;
    assert_eq!((r.status, r.detail()), (401, "Not authenticated"));
    let r = app.call_as("gat_unknown_token_000000000000", Method::GET, "/api/v1/campaigns/", None).await;
    assert_eq!((r.status, r.detail()), (401, "Invalid API token"));
}
