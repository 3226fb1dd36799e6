//! The PostgreSQL store against the store conformance suite, on a real server (scripts/test.sh
//! starts one when 127.0.0.1:5432 does not answer), each store in a schema of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

mod support;

use tessera_postgres::PostgresStore;

async fn fresh() -> PostgresStore {
    support::store().await
}

fn persisted(store: &PostgresStore) -> Vec<u8> {
    support::persisted_bytes(store.address().schema())
}

tessera_core::store_conformance_tests!(fresh, persisted);
