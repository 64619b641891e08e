//! Idempotency records: the statements are shared (`store/common/idempotency.rs`).

use super::{Db, Store, Tx, db_at, db_id};

crate::store::common::idempotency_statements!();
