//! Twilio (API.md §7.1): a call is one Calls API request whose status callbacks come back to
//! `/api/v1/webhooks/twilio`; the answered call reaches the agent by inline `<Connect><Stream>` or
//! by a TwiML URL; Twilio's invalid-number codes are permanent failures.

use super::answer;
use super::placer::{CallRequest, PlaceFuture, Placement, Placer};
use crate::domain::provider::Provider;
use crate::outbound::OutboundTls;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// How long Twilio may take to accept a call.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Seconds a call rings before Twilio gives up (`no-answer`).
const RING_SECONDS: u32 = 30;
/// The longest inline TwiML Twilio takes.
const MAX_TWIML_CHARS: usize = 4000;
/// Twilio's error codes for a number that cannot be called at all.
const INVALID_NUMBER_CODES: [i64; 3] = [21211, 21214, 21217];
/// The callback route, under `--public-url`.
pub const CALLBACK_PATH: &str = "/api/v1/webhooks/twilio";

/// How the answered call reaches the agent.
#[derive(Clone, Debug)]
pub enum AgentLink {
    /// Inline TwiML `<Connect><Stream>` to this WebSocket URL (`{agent_id}` replaced).
    Stream(String),
    /// Twilio fetches TwiML from this URL (`{agent_id}` replaced).
    TwimlUrl(String),
}

/// Places calls through Twilio's Calls API.
pub struct TwilioPlacer {
    client: reqwest::Client,
    /// `{api}/2010-04-01/Accounts/{sid}/Calls`
    calls_url: String,
    /// Basic credentials: the account SID and auth token, or an API key and its secret.
    user: String,
    password: String,
    /// `{public_url}/api/v1/webhooks/twilio`
    callback_url: String,
    agent: AgentLink,
}

impl TwilioPlacer {
    pub fn new(
        api_url: &str,
        account_sid: &str,
        credentials: (String, String),
        public_url: &str,
        agent: AgentLink,
        tls: &OutboundTls,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            client: tls.client(ACCEPT_TIMEOUT)?,
            calls_url: format!("{}/2010-04-01/Accounts/{account_sid}/Calls", api_url.trim_end_matches('/')),
            user: credentials.0,
            password: credentials.1,
            callback_url: format!("{}{CALLBACK_PATH}", public_url.trim_end_matches('/')),
            agent,
        })
    }

    /// The form of a create-call request (repeated names allowed).
    pub fn form(&self, call: &CallRequest) -> Result<Vec<(&'static str, String)>, String> {
        let status_callback = format!("{}?execution_id={}", self.callback_url, call.execution_id);
        let mut form = vec![
            ("To", call.to_number.clone()),
            ("From", call.from_number.clone()),
            ("StatusCallback", status_callback.clone()),
            ("StatusCallbackMethod", "POST".into()),
            ("Timeout", RING_SECONDS.to_string()),
        ];
        for event in ["initiated", "ringing", "answered", "completed"] {
            form.push(("StatusCallbackEvent", event.into()));
        }
        if call.voicemail_action.detects_machines() {
            // Asynchronous detection: the agent is connected at once and the verdict comes later.
            form.push(("MachineDetection", "Enable".into()));
            form.push(("AsyncAmd", "true".into()));
            form.push(("AsyncAmdStatusCallback", status_callback));
            form.push(("AsyncAmdStatusCallbackMethod", "POST".into()));
        }
        let variables = serde_json::Value::Object(call.call_variables.clone()).to_string();
        let context = serde_json::Value::Object(call.call_context.clone()).to_string();
        let execution_id = call.execution_id.to_string();
        let parameters = [
            ("execution_id", execution_id.as_str()),
            ("agent_id", call.agent_id.as_str()),
            ("call_variables", variables.as_str()),
            ("call_context", context.as_str()),
        ];
        match &self.agent {
            AgentLink::Stream(template) => {
                let url = template.replace("{agent_id}", &url_component(&call.agent_id));
                let mut twiml = format!("<Response><Connect><Stream url=\"{}\">", xml(&url));
                for (name, value) in parameters {
                    twiml.push_str(&format!("<Parameter name=\"{name}\" value=\"{}\"/>", xml(value)));
                }
                twiml.push_str("</Stream></Connect></Response>");
                if twiml.chars().count() > MAX_TWIML_CHARS {
                    return Err(format!(
                        "the call's TwiML is over Twilio's {MAX_TWIML_CHARS} characters (call variables too large)"
                    ));
                }
                form.push(("Twiml", twiml));
            }
            AgentLink::TwimlUrl(template) => {
                let base = template.replace("{agent_id}", &url_component(&call.agent_id));
                let mut url = reqwest::Url::parse(&base).map_err(|e| format!("--twilio-twiml-url: {e}"))?;
                url.query_pairs_mut().extend_pairs(parameters);
                form.push(("Url", url.to_string()));
            }
        }
        Ok(form)
    }
}

impl Placer for TwilioPlacer {
    fn provider(&self) -> Provider {
        Provider::Twilio
    }

    fn place<'a>(&'a self, call: &'a CallRequest) -> PlaceFuture<'a> {
        Box::pin(async move {
            let form = match self.form(call) {
                Ok(form) => form,
                Err(reason) => return Placement::Rejected { reason, permanent: true },
            };
            let sent = self
                .client
                .post(format!("{}.json", self.calls_url))
                .basic_auth(&self.user, Some(&self.password))
                .header(reqwest::header::CONTENT_TYPE, FORM)
                .body(encode(&form))
                .send()
                .await;
            match sent {
                Ok(r) => classify(r).await,
                Err(e) => answer::failed_request(&e, "twilio"),
            }
        })
    }

    fn hang_up<'a>(&'a self, sid: &'a str) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let sent = self
                .client
                .post(format!("{}/{}.json", self.calls_url, url_component(sid)))
                .basic_auth(&self.user, Some(&self.password))
                .header(reqwest::header::CONTENT_TYPE, FORM)
                .body(encode(&[("Status", "completed".to_owned())]))
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => tracing::warn!(call_sid = sid, status = %r.status(), "twilio did not hang up a call"),
                Err(e) => tracing::warn!(call_sid = sid, error = %e, "twilio did not hang up a call"),
            }
        })
    }
}

/// What Twilio's answer means: `201` with the call's SID; its invalid-number codes are permanent
/// refusals; a refused credential uses no attempt (it is no contact's fault) and slows dispatch down.
async fn classify(r: reqwest::Response) -> Placement {
    let status = r.status();
    if status.is_success() {
        let body = answer::bounded_body(r).await;
        let sid = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("sid").and_then(|s| s.as_str()).map(str::to_owned));
        return Placement::Accepted { script: None, provider_call_id: sid };
    }
    if let Some(placement) = answer::common(&r, "twilio") {
        return placement;
    }
    let body = answer::bounded_body(r).await;
    let error = serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default();
    let code = error.get("code").and_then(serde_json::Value::as_i64);
    let message = error.get("message").and_then(|m| m.as_str()).unwrap_or_default();
    let reason = match code {
        Some(code) => answer::short(&format!("twilio {} {code}: {message}", status.as_u16())),
        None => format!("twilio answered {status}"),
    };
    if matches!(status.as_u16(), 401 | 403) {
        return Placement::Throttled { reason, retry_after: None };
    }
    let permanent = code.is_some_and(|c| INVALID_NUMBER_CODES.contains(&c));
    Placement::Rejected { reason, permanent }
}

const FORM: &str = "application/x-www-form-urlencoded";

/// A form body.
fn encode(form: &[(&str, String)]) -> String {
    serde_urlencoded::to_string(form).unwrap_or_default()
}

/// Text made safe inside an XML attribute.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Text made safe as one URL path segment or query value.
fn url_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_and_url_escaping() {
        assert_eq!(xml(r#"a&b<c>"d'"#), "a&amp;b&lt;c&gt;&quot;d&apos;");
        assert_eq!(url_component("agent 7/é"), "agent%207%2F%C3%A9");
    }
}
