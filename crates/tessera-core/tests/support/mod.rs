//! The engine over a real memory store, with a manual clock and a recording event sink.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use tessera_core::{Engine, ManualClock, MemoryStore, Policy, RecordingSink};

pub struct Fixture {
    pub engine: Engine<Arc<MemoryStore>>,
    pub store: Arc<MemoryStore>,
    pub clock: Arc<ManualClock>,
    pub events: Arc<RecordingSink>,
}

pub fn fixture() -> Fixture {
    fixture_with(Policy::default())
}

pub fn fixture_with(policy: Policy) -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::default());
    let events = Arc::new(RecordingSink::default());
    let engine = Engine::builder(Arc::clone(&store))
        .policy(policy)
        .clock(clock.clone())
        .events(events.clone())
        .build();
    Fixture {
        engine,
        store,
        clock,
        events,
    }
}

/// Lets the engine's background work run: after a rotation commits, the grace deadline is
/// narrowed from the wide one the write carried to commit + grace by a task of its own (so a
/// slow store cannot delay the new token's delivery).
pub async fn settle() {
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
}
