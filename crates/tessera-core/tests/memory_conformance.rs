//! The memory store against the store conformance suite.

use tessera_core::MemoryStore;

async fn fresh() -> MemoryStore {
    MemoryStore::new()
}

/// The memory store "persists" its records in process memory; `Debug` shows every field.
fn persisted(store: &MemoryStore) -> Vec<u8> {
    format!("{store:?}").into_bytes()
}

tessera_core::store_conformance_tests!(fresh, persisted);

#[tokio::test]
async fn full_store_refuses_new_sessions_but_keeps_live_ones() {
    use tessera_core::conformance::sample_record;
    use tessera_core::{Clock, Created, ManualClock, Store, StoreError};
    let store = MemoryStore::with_capacity(2);
    let now = ManualClock::default().now();
    let (_, a) = sample_record(Some("a"), now);
    let (_, b) = sample_record(Some("b"), now);
    let (_, c) = sample_record(Some("c"), now);
    assert_eq!(store.create(&a, None).await.unwrap(), Created::Inserted);
    assert_eq!(store.create(&b, None).await.unwrap(), Created::Inserted);
    assert!(matches!(
        store.create(&c, None).await,
        Err(StoreError::Full { capacity: 2 })
    ));
    assert!(store.load(&a.id).await.unwrap().is_some());
    // Once a record is expired, a create makes room by dropping it.
    let (_, d) = sample_record(Some("d"), now.plus(std::time::Duration::from_secs(7200)));
    assert_eq!(store.create(&d, None).await.unwrap(), Created::Inserted);
    assert_eq!(store.len(), 1);
}
