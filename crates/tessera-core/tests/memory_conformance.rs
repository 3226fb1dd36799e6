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

/// A full store scans for expired records at most once a second: a flood of logins into it
/// costs one O(n) scan a second, not one per login (1M sessions: about a second each). The price:
/// room freed by an expiry within that second is found by the next scan.
#[tokio::test]
async fn a_full_store_scans_for_room_at_most_once_a_second() {
    use std::time::Duration;
    use tessera_core::conformance::sample_record;
    use tessera_core::{Clock, Created, ManualClock, Store, StoreError};
    let store = MemoryStore::with_capacity(2);
    let now = ManualClock::default().now();
    let at = |ms: u64| now.plus(Duration::from_millis(ms));
    let (_, mut a) = sample_record(Some("a"), now);
    a.idle_deadline = at(1000);
    let (_, mut b) = sample_record(Some("b"), now);
    b.idle_deadline = at(1150);
    assert_eq!(store.create(&a, None).await.unwrap(), Created::Inserted);
    assert_eq!(store.create(&b, None).await.unwrap(), Created::Inserted);
    // At 1.1 s the scan drops `a` and makes room.
    let (_, c) = sample_record(Some("c"), at(1100));
    assert_eq!(store.create(&c, None).await.unwrap(), Created::Inserted);
    // At 1.2 s `b` has expired too, but the last scan was 100 ms ago: full.
    let (_, d) = sample_record(Some("d"), at(1200));
    assert!(matches!(
        store.create(&d, None).await,
        Err(StoreError::Full { capacity: 2 })
    ));
    // A second later the next scan finds it.
    let (_, e) = sample_record(Some("e"), at(2200));
    assert_eq!(store.create(&e, None).await.unwrap(), Created::Inserted);
}
