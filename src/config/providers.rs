//! The built-in providers' settings (API.md §7.1): credentials, API base URLs and how the answered
//! call reaches the agent, each flag with its `GRAINE_…` twin, checked at start naming the flag.

use super::Telephony;
use crate::outbound::{check_url, https_twin};
use clap::Args;

/// Twilio's and jambonz's flags.
#[derive(Args, Clone, Debug, Default)]
pub struct ProviderArgs {
    /// Twilio account SID (`AC…`): the account calls are created in.
    #[arg(long, env = "GRAINE_TWILIO_ACCOUNT_SID")]
    pub twilio_account_sid: Option<String>,
    /// Twilio auth token: verifies Twilio's callbacks (`X-Twilio-Signature`), and authenticates API
    /// requests unless an API key is given.
    #[arg(long, env = "GRAINE_TWILIO_AUTH_TOKEN")]
    pub twilio_auth_token: Option<String>,
    /// Twilio API key SID (`SK…`) for API requests, with `--twilio-api-secret`.
    #[arg(long, env = "GRAINE_TWILIO_API_KEY", requires = "twilio_api_secret")]
    pub twilio_api_key: Option<String>,
    /// Twilio API key secret.
    #[arg(long, env = "GRAINE_TWILIO_API_SECRET", requires = "twilio_api_key")]
    pub twilio_api_secret: Option<String>,
    /// Twilio's REST API base URL.
    #[arg(long, env = "GRAINE_TWILIO_API_URL", default_value = "https://api.twilio.com")]
    pub twilio_api_url: String,
    /// The agent's media stream (`wss://…`; `{agent_id}` is replaced by the campaign's agent): calls
    /// are connected to it by inline TwiML `<Connect><Stream>`.
    #[arg(long, env = "GRAINE_TWILIO_STREAM_URL")]
    pub twilio_stream_url: Option<String>,
    /// A TwiML endpoint that connects the answered call to the agent (`{agent_id}` is replaced),
    /// instead of `--twilio-stream-url`.
    #[arg(long, env = "GRAINE_TWILIO_TWIML_URL", conflicts_with = "twilio_stream_url")]
    pub twilio_twiml_url: Option<String>,
    /// jambonz REST API base URL (the `/v1` prefix is added).
    #[arg(long, env = "GRAINE_JAMBONZ_API_URL", default_value = "https://api.jambonz.cloud")]
    pub jambonz_api_url: String,
    /// jambonz account SID.
    #[arg(long, env = "GRAINE_JAMBONZ_ACCOUNT_SID")]
    pub jambonz_account_sid: Option<String>,
    /// jambonz API key (a bearer token).
    #[arg(long, env = "GRAINE_JAMBONZ_API_KEY")]
    pub jambonz_api_key: Option<String>,
    /// The jambonz application that runs the agent.
    #[arg(long, env = "GRAINE_JAMBONZ_APPLICATION_SID")]
    pub jambonz_application_sid: Option<String>,
    /// A call hook URL that runs the agent (`{agent_id}` is replaced), instead of an application.
    #[arg(long, env = "GRAINE_JAMBONZ_CALL_HOOK_URL", conflicts_with = "jambonz_application_sid")]
    pub jambonz_call_hook_url: Option<String>,
    /// The account's webhook secret: verifies the `Jambonz-Signature` of its callbacks.
    #[arg(long, env = "GRAINE_JAMBONZ_WEBHOOK_SECRET")]
    pub jambonz_webhook_secret: Option<String>,
    /// `user:password` that jambonz's callbacks carry as HTTP basic credentials.
    #[arg(long, env = "GRAINE_JAMBONZ_WEBHOOK_AUTH")]
    pub jambonz_webhook_auth: Option<String>,
    /// The LiveKit server or Cloud project URL (`https://…`, or the `wss://…` URL clients use).
    #[arg(long, env = "GRAINE_LIVEKIT_URL")]
    pub livekit_url: Option<String>,
    /// LiveKit API key: issues the tokens of API requests, and signs LiveKit's webhooks.
    #[arg(long, env = "GRAINE_LIVEKIT_API_KEY")]
    pub livekit_api_key: Option<String>,
    /// LiveKit API secret of that key.
    #[arg(long, env = "GRAINE_LIVEKIT_API_SECRET")]
    pub livekit_api_secret: Option<String>,
    /// The LiveKit outbound SIP trunk calls are dialled through (`ST_…`).
    #[arg(long, env = "GRAINE_LIVEKIT_SIP_TRUNK_ID")]
    pub livekit_sip_trunk_id: Option<String>,
}

fn need(value: &Option<String>, flag: &str, provider: &str) -> Result<(), String> {
    match value.as_deref() {
        Some(v) if !v.trim().is_empty() => Ok(()),
        _ => Err(format!("--telephony {provider} needs {flag}")),
    }
}

impl ProviderArgs {
    /// Checks the flags the chosen provider needs; `public_url` is where callbacks come back.
    pub fn validate(&self, telephony: Telephony, public_url: Option<&str>) -> Result<(), String> {
        let provider = match telephony {
            Telephony::Twilio => "twilio",
            Telephony::Jambonz => "jambonz",
            Telephony::Livekit => "livekit",
            _ => return Ok(()),
        };
        need(&public_url.map(str::to_owned), "--public-url (where the provider sends call status)", provider)?;
        match telephony {
            Telephony::Twilio => {
                need(&self.twilio_account_sid, "--twilio-account-sid", provider)?;
                need(&self.twilio_auth_token, "--twilio-auth-token (it verifies Twilio's callbacks)", provider)?;
                check_url("--twilio-api-url", &self.twilio_api_url)?;
                match (&self.twilio_stream_url, &self.twilio_twiml_url) {
                    (Some(stream), None) => check_stream_url(stream)?,
                    (None, Some(twiml)) => check_url("--twilio-twiml-url", twiml)?,
                    _ => return Err("--telephony twilio needs --twilio-stream-url or --twilio-twiml-url".into()),
                }
            }
            Telephony::Livekit => {
                need(&self.livekit_url, "--livekit-url", provider)?;
                let url = self.livekit_url.as_deref().unwrap_or_default();
                check_url("--livekit-url", &https_twin(url))?;
                need(&self.livekit_api_key, "--livekit-api-key", provider)?;
                need(&self.livekit_api_secret, "--livekit-api-secret", provider)?;
                need(&self.livekit_sip_trunk_id, "--livekit-sip-trunk-id", provider)?;
            }
            _ => {
                need(&self.jambonz_account_sid, "--jambonz-account-sid", provider)?;
                need(&self.jambonz_api_key, "--jambonz-api-key", provider)?;
                check_url("--jambonz-api-url", &self.jambonz_api_url)?;
                match (&self.jambonz_application_sid, &self.jambonz_call_hook_url) {
                    (Some(_), None) => {}
                    (None, Some(hook)) => check_url("--jambonz-call-hook-url", hook)?,
                    _ => {
                        return Err(
                            "--telephony jambonz needs --jambonz-application-sid or --jambonz-call-hook-url".into()
                        );
                    }
                }
                if self.jambonz_webhook_secret.is_none() && self.jambonz_webhook_auth.is_none() {
                    return Err("--telephony jambonz needs --jambonz-webhook-secret or --jambonz-webhook-auth \
                                (they authenticate jambonz's callbacks)"
                        .into());
                }
                if let Some(auth) = &self.jambonz_webhook_auth
                    && !auth.split_once(':').is_some_and(|(u, p)| !u.is_empty() && !p.is_empty())
                {
                    return Err("--jambonz-webhook-auth must be user:password".into());
                }
            }
        }
        Ok(())
    }
}

/// A media stream URL is a WebSocket URL with a host.
fn check_stream_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).ok();
    let ok = parsed.is_some_and(|u| matches!(u.scheme(), "wss" | "ws") && u.host_str().is_some_and(|h| !h.is_empty()));
    if ok { Ok(()) } else { Err(format!("--twilio-stream-url must be a wss:// URL with a host, not {url:?}")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_provider_names_the_flag_it_misses() {
        let mut a = ProviderArgs { twilio_api_url: "https://api.twilio.com".into(), ..Default::default() };
        let public = Some("https://graine.example.com");
        let twilio = |a: &ProviderArgs, p| a.validate(Telephony::Twilio, p).unwrap_err();
        assert!(twilio(&a, None).contains("--public-url"));
        assert_eq!(twilio(&a, public), "--telephony twilio needs --twilio-account-sid");
        a.twilio_account_sid = Some("AC0123".into());
        assert!(twilio(&a, public).contains("--twilio-auth-token"));
        a.twilio_auth_token = Some("token".into());
        assert!(twilio(&a, public).contains("--twilio-stream-url or --twilio-twiml-url"));
        a.twilio_stream_url = Some("https://agents.example.com".into());
        assert!(twilio(&a, public).contains("wss://"));
        a.twilio_stream_url = Some("wss://agents.example.com/{agent_id}".into());
        assert_eq!(a.validate(Telephony::Twilio, public), Ok(()));
        a.twilio_api_url = "ftp://x".into();
        assert!(twilio(&a, public).contains("--twilio-api-url"));

        let mut j = ProviderArgs { jambonz_api_url: "https://api.jambonz.cloud".into(), ..Default::default() };
        let jambonz = |a: &ProviderArgs| a.validate(Telephony::Jambonz, public).unwrap_err();
        assert!(jambonz(&j).contains("--jambonz-account-sid"));
        j.jambonz_account_sid = Some("acct".into());
        j.jambonz_api_key = Some("key".into());
        assert!(jambonz(&j).contains("--jambonz-application-sid or --jambonz-call-hook-url"));
        j.jambonz_application_sid = Some("app".into());
        assert!(jambonz(&j).contains("--jambonz-webhook-secret"));
        j.jambonz_webhook_auth = Some("nocolon".into());
        assert!(jambonz(&j).contains("user:password"));
        j.jambonz_webhook_auth = Some("graine:s3cret".into());
        assert_eq!(j.validate(Telephony::Jambonz, public), Ok(()));

        let mut l = ProviderArgs::default();
        let livekit = |a: &ProviderArgs| a.validate(Telephony::Livekit, public).unwrap_err();
        assert_eq!(livekit(&l), "--telephony livekit needs --livekit-url");
        l.livekit_url = Some("ftp://lk.example.com".into());
        assert!(livekit(&l).contains("--livekit-url"));
        l.livekit_url = Some("wss://project.livekit.cloud".into());
        assert!(livekit(&l).contains("--livekit-api-key"));
        l.livekit_api_key = Some("APIabc".into());
        l.livekit_api_secret = Some("secret".into());
        assert!(livekit(&l).contains("--livekit-sip-trunk-id"));
        l.livekit_sip_trunk_id = Some("ST_abc".into());
        assert_eq!(l.validate(Telephony::Livekit, public), Ok(()));
        assert!(l.validate(Telephony::Livekit, None).unwrap_err().contains("--public-url"));
    }
}
