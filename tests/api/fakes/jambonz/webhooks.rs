//! The webhooks the jambonz fake sends: call-status and AMD events to the call's hooks, with the
//! call fields jambonz puts on them, signed with `Jambonz-Signature` when a secret is set.

use super::api::truthy;
use super::{CreatedCall, FakeJambonz, hex, signature_header};
use axum::http::header;
use serde_json::{Map, Value, json};

/// A hook's URL, method and Basic credentials (only when both username and password are set).
fn parse_hook(hook: &Value) -> (String, reqwest::Method, Option<(String, String)>) {
    let text = |name: &str| hook.get(name).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_owned);
    match hook {
        Value::String(url) => (url.clone(), reqwest::Method::POST, None),
        _ => {
            let method = text("method").unwrap_or("POST".into()).to_ascii_uppercase();
            let credentials = text("username").zip(text("password"));
            (text("url").expect("a hook object has a url"), method.parse().expect("a valid method"), credentials)
        }
    }
}

impl FakeJambonz {
    /// The call fields jambonz puts on every webhook of an outbound REST call.
    fn call_fields(&self, call: &CreatedCall, state: (&str, u16, &str)) -> Map<String, Value> {
        let body = &call.body;
        let to = &body["to"];
        let to = ["number", "name", "sipUri"].iter().find_map(|k| to.get(*k)).cloned().unwrap_or(Value::Null);
        let call_id = self.inner.lock().unwrap().call_ids.get(&call.sid).cloned().unwrap_or_default();
        let mut fields = json!({
            "call_sid": call.sid, "direction": "outbound", "from": body["from"], "to": to, "call_id": call_id,
            "sbc_callid": format!("sbc-{call_id}"), "sip_status": state.1, "sip_reason": state.2,
            "call_status": state.0, "caller_id": body["from"], "account_sid": self.account_sid,
            "trace_id": hex(&[0x5a; 16]), "fs_sip_address": "10.0.0.3:5070",
        });
        let fields = fields.as_object_mut().unwrap();
        if let Some(application) = body.get("application_sid").filter(|v| truthy(Some(v))) {
            fields.insert("application_sid".into(), application.clone());
        }
        if let Some(tag) = body.get("tag").filter(|tag| tag.is_object()) {
            fields.insert("customerData".into(), tag.clone());
        }
        fields.clone()
    }

    /// Sends a call-status webhook for `call` to its call_status_hook: the call fields merged with `extra`
    /// (a null in `extra` removes a field). A final `call_status` ends the call for the fake.
    pub async fn send_status(&self, call: &CreatedCall, extra: Value) -> (u16, String) {
        let hook = call.body.get("call_status_hook").expect("the call was created without a call_status_hook");
        let mut payload = self.call_fields(call, ("trying", 100, "Trying"));
        merge(&mut payload, extra);
        let status = payload.get("call_status").and_then(Value::as_str).unwrap_or_default();
        if matches!(status, "completed" | "failed" | "busy" | "no-answer") {
            self.inner.lock().unwrap().live.remove(&call.sid);
        }
        self.deliver(hook, payload).await
    }

    /// Sends an AMD event of `event_type` (with the reason and fields jambonz gives it) to the amd.actionHook.
    pub async fn send_amd(&self, call: &CreatedCall, event_type: &str) -> (u16, String) {
        let greeting = "Hi, you have reached Alex, I cannot take your call, please leave a message after the tone";
        let event = match event_type {
            "amd_machine_detected" => json!({"reason": "long greeting", "greeting": greeting, "language": "en-US"}),
            "amd_human_detected" => json!({"reason": "short greeting", "greeting": "Hello?", "language": "en-US"}),
            "amd_tone_detected" => json!({"frequency": 1000, "variance": 12}),
            _ => json!({}),
        };
        let hook = call.body.pointer("/amd/actionHook").expect("the call was created without amd.actionHook");
        let mut payload = self.call_fields(call, ("in-progress", 200, "OK"));
        payload.insert("type".into(), json!(event_type));
        merge(&mut payload, event);
        self.deliver(hook, payload).await
    }

    /// POSTs `body` as JSON to `url` with exactly these extra headers.
    pub async fn send_raw(&self, url: &str, body: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut request = self.client.post(url);
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request.body(body.to_owned())).await
    }

    /// Sends a webhook as jambonz's HTTP requestor does: JSON body (none for GET), signed when a secret is set.
    async fn deliver(&self, hook: &Value, payload: Map<String, Value>) -> (u16, String) {
        let (url, method, credentials) = parse_hook(hook);
        let body = Value::Object(payload).to_string();
        let mut request = self.client.request(method.clone(), url);
        if method != reqwest::Method::GET {
            request = request.header(header::CONTENT_TYPE, "application/json").body(body.clone());
        }
        let secret = self.inner.lock().unwrap().webhook_secret.clone();
        if let Some(secret) = secret {
            let now = chrono::Utc::now().timestamp();
            request = request.header("Jambonz-Signature", signature_header(&secret, now, body.as_bytes()));
        }
        if let Some((username, password)) = credentials {
            request = request.basic_auth(username, Some(password));
        }
        answer(request).await
    }
}

fn merge(payload: &mut Map<String, Value>, extra: Value) {
    let Value::Object(extra) = extra else { panic!("extra fields must be a JSON object") };
    payload.extend(extra);
    payload.retain(|_, value| !value.is_null());
}

async fn answer(request: reqwest::RequestBuilder) -> (u16, String) {
    let response = request.send().await.expect("the webhook was delivered");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}
