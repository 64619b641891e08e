//! Who answered a call, and what a campaign does when a machine did (API.md §7 "Answering machines").

use super::campaign::wire_enum;
use super::contact::CallStatus;
use super::outcome::Outcome;

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

/// The outcome that ends a call at once when `by` answered it, or `None` when the call goes on:
/// a machine, under `hangup`, ends as `no_answer` with `hangup_reason:"voicemail"` (and is retried
/// as a no-answer); a fax can take no message, so it always ends the same way (`"fax"`).
pub fn ends_call(action: VoicemailAction, by: AnsweredBy) -> Option<Outcome> {
    let reason = match (by, action) {
        (AnsweredBy::Fax, _) => "fax",
        (AnsweredBy::Machine, VoicemailAction::Hangup) => "voicemail",
        _ => return None,
    };
    let mut outcome = Outcome::bare(CallStatus::NoAnswer, "system", reason);
    outcome.answered_by = Some(by);
    Some(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn machines_end_the_call_only_under_hangup() {
        let ended = ends_call(VoicemailAction::Hangup, AnsweredBy::Machine).unwrap();
        assert_eq!(
            (ended.status, ended.hangup_reason.as_deref(), ended.answered_by),
            (CallStatus::NoAnswer, Some("voicemail"), Some(AnsweredBy::Machine))
        );
        assert_eq!(ends_call(VoicemailAction::LeaveMessage, AnsweredBy::Machine), None);
        assert_eq!(ends_call(VoicemailAction::Hangup, AnsweredBy::Human), None);
        assert_eq!(ends_call(VoicemailAction::Hangup, AnsweredBy::Unknown), None, "a doubt is given to the person");
        let fax = ends_call(VoicemailAction::LeaveMessage, AnsweredBy::Fax).unwrap();
        assert_eq!(fax.hangup_reason.as_deref(), Some("fax"));
    }

    #[test]
    fn the_action_defaults_to_hangup() {
        let meta = |v: serde_json::Value| v.as_object().unwrap().clone();
        assert_eq!(VoicemailAction::of_metadata(&meta(json!({}))), VoicemailAction::Hangup);
        let leave = meta(json!({"voicemail_action": "leave_message"}));
        assert_eq!(VoicemailAction::of_metadata(&leave), VoicemailAction::LeaveMessage);
        assert!(VoicemailAction::Hangup.detects_machines() && !VoicemailAction::LeaveMessage.detects_machines());
    }
}
