//! Calls started per second: the statements are shared (`store/common/pacing.rs`).

crate::store::common::pacing_statements!();
