//! Telephony: the placer interface the dispatcher uses, and one adapter per way of placing calls
//! (simulated, http, twilio, jambonz), each turning provider callbacks into provider-neutral reports.

pub mod http;
pub mod placer;
pub mod simulated;
