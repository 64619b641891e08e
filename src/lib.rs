//! Graine campaign server: a self-hostable, Graine-compatible API for outbound AI voice-call campaigns.
#![forbid(unsafe_code)]

pub mod clock;
pub mod config;
pub mod dispatch;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod outbound;
pub mod service;
pub mod signing;
pub mod startup;
pub mod store;
pub mod telephony;
pub mod webhooks;
