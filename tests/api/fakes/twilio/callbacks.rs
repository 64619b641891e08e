//! The callbacks the Twilio fake sends: status and async AMD callbacks, as a form (or a query
//! string for GET), signed with `X-Twilio-Signature`.

use super::{CreatedCall, FakeTwilio, Form, now_rfc2822, pairs, signature};
use axum::http::header;
use serde_json::json;

impl FakeTwilio {
    /// Sends a status callback for `call` to its StatusCallback (with its StatusCallbackMethod), signed with the
    /// auth token: the standard parameters plus `extra` (an `extra` name replaces the standard one).
    /// A `CallStatus` in `extra` also becomes the status of the fake's Call resource.
    pub async fn send_status(&self, call: &CreatedCall, extra: &[(&str, &str)]) -> (u16, String) {
        let url = call.get("StatusCallback").expect("the call was created without a StatusCallback");
        let (from, to) = (call.get("From").unwrap_or_default(), call.get("To").unwrap_or_default());
        let sequence = {
            let mut inner = self.inner.lock().unwrap();
            let status = lookup(extra, "CallStatus").filter(|status| *status != "initiated");
            if let (Some(status), Some(resource)) = (status, inner.resources.get_mut(&call.sid)) {
                resource["status"] = json!(status);
            }
            let next = inner.sequence.entry(call.sid.clone()).or_insert(0);
            *next += 1;
            *next - 1
        };
        let mut params = pairs(&[
            ("CallSid", &call.sid),
            ("AccountSid", &self.account_sid),
            ("From", from),
            ("To", to),
            ("Caller", from),
            ("Called", to),
            ("Direction", "outbound-api"),
            ("ApiVersion", "2010-04-01"),
            ("CallbackSource", "call-progress-events"),
            ("SequenceNumber", &sequence.to_string()),
            ("Timestamp", &now_rfc2822()),
        ]);
        params.retain(|(name, _)| lookup(extra, name).is_none());
        params.extend(pairs(extra));
        let method = call.get("StatusCallbackMethod").unwrap_or("POST");
        self.deliver(url, method, params, Some(&self.auth_token)).await
    }

    /// Sends the async AMD callback to the call's AsyncAmdStatusCallback, signed like `send_status`.
    pub async fn send_amd(&self, call: &CreatedCall, answered_by: &str) -> (u16, String) {
        let url = call.get("AsyncAmdStatusCallback").expect("the call was created without an AsyncAmdStatusCallback");
        let params = pairs(&[
            ("CallSid", &call.sid),
            ("AccountSid", &self.account_sid),
            ("AnsweredBy", answered_by),
            ("MachineDetectionDuration", "2340"),
        ]);
        let method = call.get("AsyncAmdStatusCallbackMethod").unwrap_or("POST");
        self.deliver(url, method, params, Some(&self.auth_token)).await
    }

    /// POSTs a form to `url`, signed with `sign_with` (no X-Twilio-Signature header when None).
    pub async fn send_signed(&self, url: &str, params: &[(&str, &str)], sign_with: Option<&str>) -> (u16, String) {
        self.deliver(url, "POST", pairs(params), sign_with).await
    }

    /// POST: a form body, signed over the URL and the parameters. GET: the parameters in the query string, signed
    /// over that whole URL alone.
    async fn deliver(&self, url: &str, method: &str, params: Form, sign_with: Option<&str>) -> (u16, String) {
        let encoded = serde_urlencoded::to_string(&params).unwrap();
        let get = method.eq_ignore_ascii_case("GET");
        let (url, signed) = match get {
            true => (format!("{url}{}{encoded}", if url.contains('?') { '&' } else { '?' }), &[][..]),
            false => (url.to_owned(), &params[..]),
        };
        let mut request = match get {
            true => self.client.get(&url),
            false => {
                self.client.post(&url).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(encoded)
            }
        };
        if let Some(token) = sign_with {
            request = request.header("X-Twilio-Signature", signature(token, &url, signed));
        }
        let response = request.send().await.expect("the callback was delivered");
        (response.status().as_u16(), response.text().await.unwrap_or_default())
    }
}

fn lookup<'a>(list: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    list.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}
