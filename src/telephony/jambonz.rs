//! jambonz (API.md §7.1): a call is one create-call request (`tag` names the call in every
//! callback); status comes back to `/api/v1/webhooks/jambonz`; the agent runs in a jambonz
//! application or behind a call hook.

use super::answer;
use super::placer::{CallRequest, PlaceFuture, Placement, Placer};
use crate::domain::provider::Provider;
use crate::outbound::OutboundTls;
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// How long jambonz may take to accept a call.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Seconds a call rings before jambonz gives up (`no-answer`).
const RING_SECONDS: u32 = 30;
/// The callback route, under `--public-url`.
pub const CALLBACK_PATH: &str = "/api/v1/webhooks/jambonz";

/// Where the answered call runs the agent.
#[derive(Clone, Debug)]
pub enum AgentApp {
    /// A jambonz application (its own status hook should point at graine's callback URL).
    Application(String),
    /// A call hook URL (`{agent_id}` replaced).
    CallHook(String),
}

/// Places calls through jambonz's REST API.
pub struct JambonzPlacer {
    client: reqwest::Client,
    /// `{api}/v1/Accounts/{sid}/Calls`
    calls_url: String,
    api_key: String,
    /// The status hook: graine's callback URL, with the basic credentials jambonz should send.
    status_hook: Value,
    app: AgentApp,
}

impl JambonzPlacer {
    pub fn new(
        api_url: &str,
        account_sid: &str,
        api_key: &str,
        public_url: &str,
        basic_auth: Option<&str>,
        app: AgentApp,
        tls: &OutboundTls,
    ) -> Result<Self, reqwest::Error> {
        let mut status_hook =
            json!({ "url": format!("{}{CALLBACK_PATH}", public_url.trim_end_matches('/')), "method": "POST" });
        if let Some((user, password)) = basic_auth.and_then(|a| a.split_once(':')) {
            status_hook["username"] = json!(user);
            status_hook["password"] = json!(password);
        }
        Ok(Self {
            client: tls.client(ACCEPT_TIMEOUT)?,
            calls_url: format!("{}/v1/Accounts/{account_sid}/Calls", api_url.trim_end_matches('/')),
            api_key: api_key.to_owned(),
            status_hook,
            app,
        })
    }

    /// The body of a create-call request.
    pub fn body(&self, call: &CallRequest) -> Value {
        let mut body = json!({
            "from": call.from_number,
            "to": { "type": "phone", "number": call.to_number },
            "call_status_hook": self.status_hook,
            "timeout": RING_SECONDS,
            "tag": {
                "execution_id": call.execution_id,
                "agent_id": call.agent_id,
                "call_variables": call.call_variables,
                "call_context": call.call_context,
            },
        });
        match &self.app {
            AgentApp::Application(sid) => body["application_sid"] = json!(sid),
            AgentApp::CallHook(template) => {
                body["call_hook"] = json!({ "url": template.replace("{agent_id}", &call.agent_id), "method": "POST" });
                // jambonz asks a call without an application for its speech services; the agent
                // behind the hook chooses its own.
                body["speech_synthesis_vendor"] = json!("google");
                body["speech_synthesis_language"] = json!("en-US");
                body["speech_synthesis_voice"] = json!("en-US-Standard-C");
                body["speech_recognizer_vendor"] = json!("google");
                body["speech_recognizer_language"] = json!("en-US");
            }
        }
        if call.voicemail_action.detects_machines() {
            body["amd"] = json!({ "actionHook": self.status_hook });
        }
        body
    }
}

impl Placer for JambonzPlacer {
    fn provider(&self) -> Provider {
        Provider::Jambonz
    }

    fn place<'a>(&'a self, call: &'a CallRequest) -> PlaceFuture<'a> {
        Box::pin(async move {
            let sent = self.client.post(&self.calls_url).bearer_auth(&self.api_key).json(&self.body(call)).send().await;
            match sent {
                Ok(r) => classify(r).await,
                Err(e) => answer::failed_request(&e, "jambonz"),
            }
        })
    }

    fn hang_up<'a>(&'a self, sid: &'a str) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let url = format!("{}/{sid}", self.calls_url);
            let body = json!({ "call_status": "completed" });
            match self.client.put(url).bearer_auth(&self.api_key).json(&body).send().await {
                // 404: the call already ended.
                Ok(r) if r.status().is_success() || r.status().as_u16() == 404 => {}
                Ok(r) => tracing::warn!(call_sid = sid, status = %r.status(), "jambonz did not hang up a call"),
                Err(e) => tracing::warn!(call_sid = sid, error = %e, "jambonz did not hang up a call"),
            }
        })
    }
}

/// What jambonz's answer means: `201 {"sid"}` placed; `480` (no feature server free) and refused
/// credentials use no attempt and slow dispatch down; other refusals fail the attempt.
async fn classify(r: reqwest::Response) -> Placement {
    let status = r.status();
    if status.is_success() {
        let body = answer::bounded_body(r).await;
        let sid = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["sid"].as_str().map(str::to_owned));
        return Placement::Accepted { script: None, provider_call_id: sid };
    }
    if let Some(placement) = answer::common(&r, "jambonz") {
        return placement;
    }
    let body = answer::bounded_body(r).await;
    let message = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["msg"].as_str().map(str::to_owned));
    let reason = match message {
        Some(m) => answer::short(&format!("jambonz {}: {m}", status.as_u16())),
        None => format!("jambonz answered {status}"),
    };
    if matches!(status.as_u16(), 401 | 403 | 480) {
        return Placement::Throttled { reason, retry_after: None };
    }
    Placement::Rejected { reason, permanent: false }
}
