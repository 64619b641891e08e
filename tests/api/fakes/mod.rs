//! Fakes of telephony providers that speak their documented wire protocols.

pub mod jambonz;
pub mod livekit;
pub mod receiver;
pub mod twilio;
