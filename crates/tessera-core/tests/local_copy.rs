//! A store may answer `load` from a local copy that lags other servers' writes (the Redis
//! store's opt-in `accept_revocation_lag_ms`). The engine may serve a request from such a copy,
//! but it never refuses, ends or writes a session on its word: each test freezes the copy, lets
//! "another server" (a second engine on the same real memory store) change the session, and
//! checks what this engine does. Each failed before `Store::load_fresh` (the engine acted on
//! the copy's stale record).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tessera_core::conformance::sign_in;
use tessera_core::keyring::SigningKey;
use tessera_core::{
    Created, Engine, ManualClock, MemoryStore, Policy, Record, SessionId, Store, StoreError,
    Timestamp, Updated,
};

/// A real memory store behind a copy that answers `load` with what it held when frozen.
struct LaggingCopy {
    inner: Arc<MemoryStore>,
    frozen: Mutex<HashMap<SessionId, Record>>,
}

impl LaggingCopy {
    async fn freeze(&self, id: &SessionId) {
        let record = self.inner.load(id).await.unwrap().unwrap();
        self.frozen.lock().unwrap().insert(*id, record);
    }
}

impl Store for LaggingCopy {
    async fn create(&self, r: &Record, epoch: Option<u64>) -> Result<Created, StoreError> {
        self.inner.create(r, epoch).await
    }
    async fn subject_epoch(&self, s: &str) -> Result<u64, StoreError> {
        self.inner.subject_epoch(s).await
    }
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        // A copy never invents a record: a session the store no longer has is not served from it.
        let held = self.frozen.lock().unwrap().get(id).cloned();
        match held {
            Some(record) => Ok(Some(record)),
            None => self.inner.load(id).await,
        }
    }
    async fn load_fresh(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        self.inner.load(id).await
    }
    async fn update(&self, r: &Record, expected: u64) -> Result<Updated, StoreError> {
        self.inner.update(r, expected).await
    }
    async fn delete(&self, id: &SessionId) -> Result<bool, StoreError> {
        self.inner.delete(id).await
    }
    async fn list_by_subject(&self, s: &str) -> Result<Vec<Record>, StoreError> {
        self.inner.list_by_subject(s).await
    }
    async fn delete_by_subject(
        &self,
        s: &str,
        except: Option<&SessionId>,
    ) -> Result<Vec<SessionId>, StoreError> {
        self.inner.delete_by_subject(s, except).await
    }
    async fn signing_keys(&self, p: &str, k: &SigningKey) -> Result<Vec<SigningKey>, StoreError> {
        self.inner.signing_keys(p, k).await
    }
    async fn rotate_signing_key(&self, p: &str, k: &SigningKey) -> Result<(), StoreError> {
        self.inner.rotate_signing_key(p, k).await
    }
    async fn purge_expired(&self, now: Timestamp, limit: usize) -> Result<u64, StoreError> {
        self.inner.purge_expired(now, limit).await
    }
}

/// This server (through the copy) and another (straight on the store), on one clock.
struct TwoServers {
    here: Engine<Arc<LaggingCopy>>,
    there: Engine<Arc<MemoryStore>>,
    copy: Arc<LaggingCopy>,
    clock: Arc<ManualClock>,
}

fn two_servers(policy: Policy) -> TwoServers {
    let store = Arc::new(MemoryStore::new());
    let copy = Arc::new(LaggingCopy {
        inner: Arc::clone(&store),
        frozen: Mutex::default(),
    });
    let clock = Arc::new(ManualClock::default());
    let here = Engine::builder(Arc::clone(&copy))
        .policy(policy.clone())
        .clock(clock.clone())
        .build();
    let there = Engine::builder(store)
        .policy(policy)
        .clock(clock.clone())
        .build();
    TwoServers {
        here,
        there,
        copy,
        clock,
    }
}

#[tokio::test]
async fn a_token_rotated_elsewhere_is_served_here_not_refused() {
    let TwoServers {
        here, there, copy, ..
    } = two_servers(Policy::default());
    let issued = sign_in(&here, "alice").await;
    copy.freeze(&issued.token.session_id()).await;
    let rotated = there.rotate(&issued.token).await.unwrap();
    assert!(
        here.resolve(&rotated.token).await.unwrap().is_some(),
        "the copy does not know the new token; the store does"
    );
}

#[tokio::test]
async fn a_logout_here_with_a_token_rotated_elsewhere_ends_the_session() {
    let TwoServers {
        here, there, copy, ..
    } = two_servers(Policy::default());
    let issued = sign_in(&here, "bob").await;
    copy.freeze(&issued.token.session_id()).await;
    let rotated = there.rotate(&issued.token).await.unwrap();
    here.logout(&rotated.token).await.unwrap();
    assert!(
        there.resolve(&rotated.token).await.unwrap().is_none(),
        "a logout left the session alive on the server"
    );
}

#[tokio::test]
async fn a_session_renewed_elsewhere_is_not_ended_here_as_idle() {
    let policy = Policy::builder()
        .idle_timeout(Duration::from_secs(600))
        .renewal_throttle(Duration::from_secs(60))
        .build()
        .unwrap();
    let TwoServers {
        here,
        there,
        copy,
        clock,
    } = two_servers(policy);
    let issued = sign_in(&here, "carol").await;
    copy.freeze(&issued.token.session_id()).await;
    // The other server renews the idle deadline; the copy still holds the first one.
    clock.advance(Duration::from_secs(500));
    assert!(there.resolve(&issued.token).await.unwrap().is_some());
    clock.advance(Duration::from_secs(200));
    assert!(
        here.resolve(&issued.token).await.unwrap().is_some(),
        "ended as idle on the copy's old deadline"
    );
    assert!(there.resolve(&issued.token).await.unwrap().is_some());
}

#[tokio::test]
async fn data_written_elsewhere_is_not_a_conflict_here() {
    let TwoServers {
        here, there, copy, ..
    } = two_servers(Policy::default());
    let issued = sign_in(&here, "dave").await;
    let id = issued.token.session_id();
    copy.freeze(&id).await;
    let version = there.insert(&id, "cart", &3).await.unwrap().version();
    here.update_data(&id, version, serde_json::Map::new())
        .await
        .unwrap();
}
