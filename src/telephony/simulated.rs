//! The simulated placer: no network; each call follows the script of its number (API.md §7).

use super::placer::{CallRequest, PlaceFuture, Placement, Placer};
use crate::domain::contact::CallKind;
use crate::domain::simulate::{Script, script};

/// Places calls on the server's own clock.
pub struct SimulatedPlacer {
    /// Length of an answered conversation.
    pub call_seconds: u32,
}

impl SimulatedPlacer {
    fn script(&self, call: &CallRequest) -> Script {
        let first_call = call.kind == CallKind::Initial;
        let name = call.call_variables.get("callee_name").and_then(|v| v.as_str());
        script(&call.to_number, first_call, self.call_seconds, name, call.voicemail_action, call.dispatched_at)
    }
}

impl Placer for SimulatedPlacer {
    fn provider(&self) -> crate::domain::provider::Provider {
        crate::domain::provider::Provider::Simulated
    }

    fn place<'a>(&'a self, call: &'a CallRequest) -> PlaceFuture<'a> {
        let plan = self.script(call);
        Box::pin(async move { Placement::Accepted { script: Some(Box::new(plan)), provider_call_id: None } })
    }

    fn accept_at_once(&self, call: &CallRequest) -> Option<Option<Script>> {
        Some(Some(self.script(call)))
    }
}
