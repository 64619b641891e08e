//! Requests to a test server and what they answer: `Resp` and its readers of error bodies, the
//! request helpers of `TestApp`, and the campaign bodies, ids and paths most tests use.

use super::{TOKEN, TestApp};
use reqwest::Method;
use serde_json::Value;

/// A response read whole: status, headers and the body as JSON (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Resp {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `detail` string of an error body.
    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }

    /// The `loc` paths of a 422 body, joined with dots.
    pub fn error_locs(&self) -> Vec<String> {
        self.body["detail"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|e| {
                        e["loc"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|p| match p {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                            .collect::<Vec<_>>()
                            .join(".")
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Resp {
    /// The `X-Total-Count` header as a number.
    pub fn total_count(&self) -> i64 {
        self.header("x-total-count")
            .unwrap_or_else(|| panic!("no X-Total-Count header: {:?}", self.headers))
            .parse()
            .expect("X-Total-Count is an integer")
    }

    /// The 422 items as `(loc joined with dots, type)`, sorted.
    pub fn error_items(&self) -> Vec<(String, String)> {
        let types = self.body["detail"]
            .as_array()
            .map(|items| items.iter().map(|e| e["type"].as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>())
            .unwrap_or_default();
        let mut items: Vec<_> = self.error_locs().into_iter().zip(types).collect();
        items.sort();
        items
    }

    /// Asserts a `422` whose items are located exactly at `locs` (dot-joined, any order), each with
    /// a non-empty `msg` and `type`.
    pub fn assert_invalid_at(&self, locs: &[&str]) {
        assert_eq!(self.status, 422, "expected 422, got {}: {}", self.status, self.text);
        let items = self.body["detail"].as_array().unwrap_or_else(|| panic!("detail is not a list: {}", self.text));
        for item in items {
            assert!(item["msg"].as_str().is_some_and(|m| !m.is_empty()), "item without msg: {item}");
            assert!(item["type"].as_str().is_some_and(|t| !t.is_empty()), "item without type: {item}");
            assert!(item["loc"].is_array(), "item without loc: {item}");
        }
        let mut got = self.error_locs();
        got.sort();
        let mut want: Vec<String> = locs.iter().map(|s| (*s).to_owned()).collect();
        want.sort();
        assert_eq!(got, want, "{}", self.text);
    }

    /// The `msg` of the 422 item at `loc` (dot-joined).
    pub fn error_msg(&self, loc: &str) -> String {
        let locs = self.error_locs();
        let i = locs.iter().position(|l| l == loc).unwrap_or_else(|| panic!("no error at {loc}: {}", self.text));
        self.body["detail"][i]["msg"].as_str().unwrap_or_default().to_owned()
    }
}

impl TestApp {
    /// Sends a request with the bootstrap token.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.call_as(TOKEN, method, path, body).await
    }

    /// Sends a request with `token` (empty: no Authorization header).
    pub async fn call_as(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Self::read(req.send().await.expect("request sent")).await
    }

    /// Sends a prepared request.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        Self::read(req.send().await.expect("request sent")).await
    }

    /// A request builder for `path`, with the bootstrap token.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base)).bearer_auth(TOKEN)
    }

    async fn read(response: reqwest::Response) -> Resp {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body read");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, headers, text, body }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates a campaign from `body` and returns it (asserting `201`).
    pub async fn create_campaign(&self, body: Value) -> Value {
        let r = self.post("/api/v1/campaigns/", body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body
    }

    /// Creates a campaign with `token` and returns it (asserting `201`).
    pub async fn create_campaign_as(&self, token: &str, body: Value) -> Value {
        let r = self.call_as(token, Method::POST, "/api/v1/campaigns/", Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body
    }

    /// Lists campaigns with `query` (e.g. `"?status=draft"`) as `token`: the items and `X-Total-Count`.
    pub async fn list_campaigns_as(&self, token: &str, query: &str) -> (Vec<Value>, i64) {
        let r = self.call_as(token, Method::GET, &format!("/api/v1/campaigns/{query}"), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let items = r.body.as_array().unwrap_or_else(|| panic!("not a list: {}", r.text)).clone();
        (items, r.total_count())
    }

    /// Lists campaigns with the bootstrap token.
    pub async fn list_campaigns(&self, query: &str) -> (Vec<Value>, i64) {
        self.list_campaigns_as(TOKEN, query).await
    }

    /// How many campaigns the bootstrap token's organization has.
    pub async fn campaign_count(&self) -> i64 {
        self.list_campaigns("").await.1
    }

    /// Sends raw bytes as a JSON body with the bootstrap token.
    pub async fn send_raw(&self, method: Method, path: &str, body: impl Into<reqwest::Body>) -> Resp {
        let req = self.request(method, path).header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        self.send(req).await
    }

    /// A request builder on a client that never follows redirects (so a `3xx` shows as itself).
    pub fn request_no_redirect(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        client.request(method, format!("{}{path}", self.base)).bearer_auth(TOKEN)
    }
}

/// A minimal valid campaign body.
pub fn campaign_body(name: &str) -> Value {
    serde_json::json!({
        "name": name,
        "agent_id": "agent_abc123",
        "phone_numbers": ["+919876543210", "+919876543211"],
    })
}

/// The `campaign_id` of a campaign object.
pub fn id_of(campaign: &Value) -> String {
    campaign["campaign_id"].as_str().unwrap_or_else(|| panic!("no campaign_id in {campaign}")).to_owned()
}

/// The path of one campaign, with an optional suffix (`""`, `"/pause"`, …).
pub fn campaign_path(id: &str, suffix: &str) -> String {
    format!("/api/v1/campaigns/{id}{suffix}")
}

/// A timestamp field parsed as RFC 3339 (panics with the value when it is not one).
pub fn instant(v: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    let text = v.as_str().unwrap_or_else(|| panic!("not a timestamp string: {v}"));
    chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}
