//! Who answered a call, and what a campaign says to do when a machine did (API.md §7 "Answering
//! machines"); what that does to the call is `outcome::ends_call`.

use super::wire::wire_enum;

wire_enum!(
    /// Who or what picked up, as telephony detected it (API.md §5 `answered_by`).
    AnsweredBy {
        Human = "human",
        Machine = "machine",
        Fax = "fax",
        Unknown = "unknown",
    }
);

wire_enum!(
    /// A campaign's `metadata.voicemail_action`: what happens to a call a machine answered.
    VoicemailAction {
        Hangup = "hangup",
        LeaveMessage = "leave_message",
    }
);

impl VoicemailAction {
    /// The action of a campaign's metadata; `hangup` when it names none.
    pub fn of_metadata(metadata: &serde_json::Map<String, serde_json::Value>) -> Self {
        metadata.get("voicemail_action").and_then(|v| v.as_str()).and_then(Self::parse).unwrap_or(Self::Hangup)
    }

    /// Whether telephony is asked to tell machines from people: only hanging up on machines needs
    /// it (with `leave_message` the agent speaks to whoever answers, and no detection is paid for).
    pub fn detects_machines(self) -> bool {
        self == Self::Hangup
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_action_defaults_to_hangup() {
        let meta = |v: serde_json::Value| v.as_object().unwrap().clone();
        assert_eq!(VoicemailAction::of_metadata(&meta(json!({}))), VoicemailAction::Hangup);
        let leave = meta(json!({"voicemail_action": "leave_message"}));
        assert_eq!(VoicemailAction::of_metadata(&leave), VoicemailAction::LeaveMessage);
        assert!(VoicemailAction::Hangup.detects_machines() && !VoicemailAction::LeaveMessage.detects_machines());
    }
}
