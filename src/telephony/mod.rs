//! Telephony: the placer interface the dispatcher uses, and one adapter per way of placing calls
//! (simulated, http, twilio, jambonz, livekit), each turning provider callbacks into provider-neutral reports.

pub mod answer;
pub mod http;
pub mod jambonz;
pub mod jambonz_callbacks;
pub mod livekit;
pub mod livekit_callbacks;
pub mod livekit_token;
pub mod placer;
pub mod simulated;
pub mod twilio;
pub mod twilio_callbacks;
