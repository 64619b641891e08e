//! Calls started per second by every replica together: the statements are shared
//! (`store/common/pacing.rs`).

crate::store::common::pacing_statements!();
