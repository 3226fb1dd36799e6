//! The attack suite, engine side: each test is an attack the hardening review (issue 6, on main
//! d318b6c) confirmed, tried again against the engine over a real memory store. Each failed on
//! d318b6c, as its comment says; docs/security.md's "Attacks tried" table points here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod support;

use serde_json::json;
use support::{fixture, fixture_with};
use tessera_core::conformance::sign_in;
use tessera_core::keyring::SigningKey;
use tessera_core::{
    Clock, Created, EndReason, Engine, Error, EventKind, LoginOptions, ManualClock, MemoryStore,
    Policy, Record, RecordingSink, SessionId, Store, StoreError, Timestamp, Updated,
};

/// Waits up to 5 s for the store to no longer hold `id` (a queued end landing).
async fn gone_within_5s(store: &MemoryStore, id: &SessionId) -> bool {
    for _ in 0..100 {
        if store.load(id).await.unwrap().is_none() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The auth level a live token acts with.
async fn level<S: Store>(engine: &Engine<S>, token: &tessera_core::Token) -> u32 {
    engine.resolve(token).await.unwrap().unwrap().auth_level()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Item 2 (MEDIUM). Logins checked against the old password race a password change. On
/// d318b6c nothing ordered "credential checked" against "other sessions revoked": in the demo,
/// 7 of 2,162 such logins survived the change. Here every login takes its ticket before the
/// password check, as the API requires, and none that checked the old password survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_with_the_old_password_never_survive_a_password_change() {
    let f = fixture();
    let password = Arc::new(Mutex::new("old".to_owned()));
    let changed = Arc::new(AtomicBool::new(false));
    let mut logins = Vec::new();
    for _ in 0..16 {
        let (e, password, changed) = (
            f.engine.clone(),
            Arc::clone(&password),
            Arc::clone(&changed),
        );
        logins.push(tokio::spawn(async move {
            let mut with_old = Vec::new();
            while !changed.load(Ordering::SeqCst) {
                let ticket = e.login_ticket("alice").await.unwrap();
                let ok = *password.lock().unwrap() == "old";
                if !ok {
                    break;
                }
                tokio::task::yield_now().await;
                match e.login(None, ticket, LoginOptions::default()).await {
                    Ok(issued) => with_old.push(issued.token),
                    Err(Error::SubjectRevoked) => {}
                    Err(other) => panic!("{other}"),
                }
            }
            with_old
        }));
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    // The password change, in the order the demo uses: revoke, change, revoke again.
    f.engine.revoke_all("alice", None).await.unwrap();
    *password.lock().unwrap() = "new".to_owned();
    f.engine.revoke_all("alice", None).await.unwrap();
    changed.store(true, Ordering::SeqCst);
    let mut tried = 0;
    for l in logins {
        for token in l.await.unwrap() {
            tried += 1;
            assert!(
                f.engine.resolve(&token).await.unwrap().is_none(),
                "a login that checked the old password survived the change"
            );
        }
    }
    assert!(tried > 0, "no login ran before the change");
    assert!(f
        .events
        .events()
        .iter()
        .any(|e| e.kind == EventKind::LoginRefused));
}

/// Item 3 (MEDIUM-LOW). On d318b6c the pre-elevation token, inside its grace window, resolved
/// with the step-up's level: a token stolen before a step-up gained the step-up.
#[tokio::test]
async fn a_rotated_out_token_never_gains_the_step_up() {
    let f = fixture();
    let before = sign_in(&f.engine, "alice").await;
    let login_time = before.session.record().auth_time;
    f.clock.advance(secs(60));
    let after = f.engine.elevate(&before.token, 3, secs(300)).await.unwrap();
    f.clock.advance(secs(1));
    let old = f.engine.resolve(&before.token).await.unwrap().unwrap();
    assert!(!old.is_current_token(), "in grace");
    assert_eq!(old.auth_level(), 1, "the old token acts at its old level");
    assert!(old.record().elevation.is_none());
    // Nor does it look freshly re-authenticated (independent review, F5).
    assert_eq!(old.record().auth_time, login_time);
    let fresh = f.engine.resolve(&after.token).await.unwrap().unwrap();
    assert!(fresh.record().auth_time > login_time);
    let new = f.engine.resolve(&after.token).await.unwrap().unwrap();
    assert_eq!(new.auth_level(), 3);
    // A second step-up: the first step-up's token keeps level 3, not the new 5.
    let again = f.engine.elevate(&after.token, 5, secs(300)).await.unwrap();
    assert_eq!(level(&f.engine, &after.token).await, 3);
    assert_eq!(level(&f.engine, &again.token).await, 5);
    // A plain rotation of an elevated session keeps the elevation for the old token.
    let rotated = f.engine.rotate(&again.token).await.unwrap();
    assert_eq!(level(&f.engine, &again.token).await, 5);
    assert_eq!(level(&f.engine, &rotated.token).await, 5);
}

/// Item 5 (LOW). On d318b6c `revoke_all` only wrote to `tracing`: an application's event sink
/// (its audit log, its "new sign-out" e-mails) never heard of the ended sessions.
#[tokio::test]
async fn revoke_all_reaches_the_event_sink_for_every_session() {
    let f = fixture();
    let keep = sign_in(&f.engine, "alice").await;
    let mut others = Vec::new();
    for _ in 0..3 {
        others.push(sign_in(&f.engine, "alice").await.session.id());
    }
    let n = f
        .engine
        .revoke_all("alice", Some(&keep.session.id()))
        .await
        .unwrap();
    assert_eq!(n, 3);
    let ended: Vec<_> = f
        .events
        .events()
        .into_iter()
        .filter(|e| e.kind == EventKind::Ended(EndReason::Revoked))
        .collect();
    assert_eq!(ended.len(), 3);
    for id in others {
        assert!(ended
            .iter()
            .any(|e| e.session == Some(id.reference()) && e.subject.as_deref() == Some("alice")));
    }
}

/// Item 6 (LOW). On d318b6c the session cap counted expired records the purge had not reached:
/// a session that went idle (newer) pushed out an older, active one.
#[tokio::test]
async fn the_session_cap_counts_only_live_sessions() {
    let policy = Policy::builder()
        .max_sessions_per_subject(NonZeroUsize::new(2).unwrap())
        .build()
        .unwrap();
    let f = fixture_with(policy);
    let active = sign_in(&f.engine, "alice").await;
    f.clock.advance(secs(60));
    let idle = sign_in(&f.engine, "alice").await;
    // `active` is used every 10 minutes; `idle` never again and expires at 31 minutes.
    for _ in 0..3 {
        f.clock.advance(secs(600));
        assert!(f.engine.resolve(&active.token).await.unwrap().is_some());
    }
    f.clock.advance(secs(120));
    assert!(
        f.store.load(&idle.session.id()).await.unwrap().is_some(),
        "not purged yet"
    );
    let _third = sign_in(&f.engine, "alice").await;
    assert!(
        f.engine.resolve(&active.token).await.unwrap().is_some(),
        "a live session was evicted to make room beside an expired one"
    );
}

/// A real memory store whose next `update` takes `delay_ms` of the engine's clock to commit, as
/// a SQLite write queued behind a busy writer does, and whose updates after the next one fail
/// `fail_after_next` times (fault injection around the real store, not a mock).
struct SlowWrites {
    inner: MemoryStore,
    clock: Arc<ManualClock>,
    delay_ms: AtomicU64,
    fail_after_next: AtomicU64,
    updates: AtomicU64,
}

impl Store for SlowWrites {
    async fn create(&self, r: &Record, epoch: Option<u64>) -> Result<Created, StoreError> {
        self.inner.create(r, epoch).await
    }
    async fn subject_epoch(&self, s: &str) -> Result<u64, StoreError> {
        self.inner.subject_epoch(s).await
    }
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        self.inner.load(id).await
    }
    async fn update(&self, r: &Record, expected: u64) -> Result<Updated, StoreError> {
        // The next write only is slow.
        self.clock.advance(Duration::from_millis(
            self.delay_ms.swap(0, Ordering::SeqCst),
        ));
        let n = self.updates.fetch_add(1, Ordering::SeqCst);
        if n > 0
            && self
                .fail_after_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |f| f.checked_sub(1))
                .is_ok()
        {
            return Err(StoreError::Unavailable {
                message: "write refused".into(),
                source: None,
            });
        }
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

/// Item 7 (LOW). On d318b6c the grace deadline was computed before the write was queued: a
/// rotation whose write took 10 s committed with its grace already over, and the client's
/// in-flight request with the old token was called theft and ended the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_rotation_write_never_turns_an_in_flight_request_into_theft() {
    let clock = Arc::new(ManualClock::default());
    let store = SlowWrites {
        inner: MemoryStore::new(),
        clock: Arc::clone(&clock),
        delay_ms: AtomicU64::new(0),
        fail_after_next: AtomicU64::new(0),
        updates: AtomicU64::new(0),
    };
    let events = Arc::new(RecordingSink::default());
    let engine = Engine::builder(store)
        .clock(clock.clone())
        .events(events.clone())
        .build();
    let issued = sign_in(&engine, "alice").await;
    engine.store().updates.store(0, Ordering::SeqCst);
    engine.store().delay_ms.store(10_000, Ordering::SeqCst);
    let rotated = engine.rotate(&issued.token).await.unwrap();
    let committed = clock.now();
    // Let the narrowing write (made after the new token was handed back) land.
    tokio::time::sleep(Duration::from_millis(100)).await;
    // An in-flight request with the old token arrives 3 s after the commit (13 s after the
    // rotation began): inside the grace window measured from the commit.
    clock.advance(secs(3));
    let old = engine.resolve(&issued.token).await.unwrap();
    assert!(
        old.is_some_and(|s| !s.is_current_token()),
        "treated as theft"
    );
    assert!(!events
        .events()
        .iter()
        .any(|e| e.kind == EventKind::TheftSuspected));
    // The window still closes: 5 s after the commit (not 5 s + the allowance) it is theft.
    clock.advance(secs(2) + Duration::from_millis(1));
    assert!(clock.now() > committed.plus(secs(5)));
    assert!(engine.resolve(&issued.token).await.unwrap().is_none());
    assert!(events
        .events()
        .iter()
        .any(|e| e.kind == EventKind::TheftSuspected));
    assert!(engine.resolve(&rotated.token).await.unwrap().is_none());
}

/// Item 11 (INFO). `Debug` of a record or session shows the data's keys, never its values: the
/// CSRF synchronizer token (and whatever an app keeps) lives there.
#[tokio::test]
async fn debug_output_shows_data_keys_never_values() {
    let f = fixture();
    let issued = sign_in(&f.engine, "alice").await;
    let session = f
        .engine
        .insert(
            &issued.session.id(),
            "_tessera_csrf",
            &json!("s3cr3t-synchronizer"),
        )
        .await
        .unwrap();
    for text in [
        format!("{session:?}"),
        format!("{:?}", session.record()),
        format!("{issued:?}"),
    ] {
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(!text.contains(&issued.token.expose()), "{text}");
    }
    assert!(format!("{session:?}").contains("_tessera_csrf"));
}

/// Item 4 (LOW), engine side: a sign-out during a store outage is queued, honoured at once by
/// this engine, and lands on the server when the store answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_during_an_outage_lands_when_the_store_returns() {
    let store = Arc::new(tessera_core::conformance::Faulty::new(MemoryStore::new()));
    let events = Arc::new(RecordingSink::default());
    let engine = Engine::builder(Arc::clone(&store))
        .events(events.clone())
        .build();
    let issued = sign_in(&engine, "alice").await;
    store.set_down(true);
    assert_eq!(
        engine.logout_or_defer(&issued.token).await,
        tessera_core::LogoutOutcome::Pending
    );
    store.set_down(false);
    assert!(
        engine.resolve(&issued.token).await.unwrap().is_none(),
        "this engine honours the pending end at once"
    );
    let landed = gone_within_5s(&store.inner, &issued.session.id()).await;
    assert!(landed, "the queued end never reached the store");
    // The retry task emits `Ended` just after its delete returns, on another worker thread:
    // wait for the event, bounded, rather than read the sink at the instant the row is gone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let kinds = loop {
        let kinds: Vec<_> = events.events().into_iter().map(|e| e.kind).collect();
        if kinds.contains(&EventKind::Ended(EndReason::Logout))
            || std::time::Instant::now() > deadline
        {
            break kinds;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert!(kinds.contains(&EventKind::EndPending));
    assert!(kinds.contains(&EventKind::Ended(EndReason::Logout)));
}

/// The independent review's F1: during a store outage an attacker filled the pending-sign-out
/// queue (random well-formed cookies, or thousands of their own sessions), and the victim's
/// sign-out was then dropped silently while the page said "pending". Now unchecked tokens take
/// half the queue at most, one subject 64 entries, and a sign-out without room says `Failed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flooding_the_sign_out_queue_cannot_silently_drop_a_victims_sign_out() {
    use tessera_core::conformance::Faulty;
    use tessera_core::{LogoutOutcome, Token, MAX_PENDING_ENDS_PER_SUBJECT};
    let store = Arc::new(Faulty::new(MemoryStore::new()));
    let engine = Engine::new(Arc::clone(&store));
    let mut bobs = Vec::new();
    for _ in 0..(MAX_PENDING_ENDS_PER_SUBJECT + 10) {
        bobs.push(sign_in(&engine, "bob").await.token);
    }
    let alice = sign_in(&engine, "alice").await;
    // A write outage: reads work, deletes fail.
    store.set_writes_down(true);
    let mut outcomes = Vec::new();
    for t in &bobs {
        outcomes.push(engine.logout_or_defer(t).await);
    }
    let queued = outcomes
        .iter()
        .filter(|o| **o == LogoutOutcome::Pending)
        .count();
    assert_eq!(
        queued, MAX_PENDING_ENDS_PER_SUBJECT,
        "one subject's share is bounded"
    );
    assert!(
        outcomes.contains(&LogoutOutcome::Failed),
        "no room is said, not hidden"
    );
    // Garbage tokens cannot crowd alice out either.
    for _ in 0..1000 {
        let _ = engine.logout_or_defer(&Token::generate().unwrap()).await;
    }
    assert_eq!(
        engine.logout_or_defer(&alice.token).await,
        LogoutOutcome::Pending
    );
    store.set_writes_down(false);
    let landed = gone_within_5s(&store.inner, &alice.session.id()).await;
    assert!(landed, "alice's queued end never landed");
}

/// An end queued for a token the store could not check deletes nothing unless the token is
/// the session's: a selector alone (with a wrong verifier) cannot end someone's session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchecked_sign_out_needs_the_real_token() {
    use tessera_core::conformance::Faulty;
    use tessera_core::LogoutOutcome;
    let store = Arc::new(Faulty::new(MemoryStore::new()));
    let engine = Engine::new(Arc::clone(&store));
    let victim = sign_in(&engine, "alice").await;
    let forged = victim.token.with_new_verifier().unwrap(); // same selector, wrong verifier
    store.set_down(true);
    assert_eq!(
        engine.logout_or_defer(&forged).await,
        LogoutOutcome::Pending
    );
    store.set_down(false);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        engine.resolve(&victim.token).await.unwrap().is_some(),
        "a forged token ended (or locally blocked) the victim's session"
    );
}

/// The independent review's F7: when the narrowing write failed once, the rotated-out token
/// kept the wide deadline (grace + 30 s). The narrowing is now retried with backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_narrowing_is_retried_so_the_grace_window_still_closes() {
    let clock = Arc::new(ManualClock::default());
    let engine = Engine::builder(SlowWrites {
        inner: MemoryStore::new(),
        clock: Arc::clone(&clock),
        delay_ms: AtomicU64::new(0),
        fail_after_next: AtomicU64::new(0),
        updates: AtomicU64::new(0),
    })
    .clock(clock.clone())
    .build();
    let issued = sign_in(&engine, "alice").await;
    engine.store().updates.store(0, Ordering::SeqCst);
    // The rotation's own write succeeds; the next two (the narrowing) fail.
    engine.store().fail_after_next.store(2, Ordering::SeqCst);
    engine.rotate(&issued.token).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(engine.store().fail_after_next.load(Ordering::SeqCst), 0);
    clock.advance(secs(6));
    assert!(
        engine.resolve(&issued.token).await.unwrap().is_none(),
        "the old token outlived its grace: the narrowing was not retried"
    );
}

/// The second independent review's selector squatting: someone who knows a session's selector
/// (a thief of any earlier token of it) queued a wrong-verifier sign-out first; the victim's
/// own sign-out then found the id "already queued", and the retry dropped both as no match:
/// the victim saw "pending" and the session lived on. Now each unchecked verifier is queued on
/// its own and a resolved end takes over the id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_squatted_sign_out_still_ends_the_victims_session() {
    use tessera_core::conformance::Faulty;
    use tessera_core::LogoutOutcome;
    for write_only in [false, true] {
        let store = Arc::new(Faulty::new(MemoryStore::new()));
        let engine = Engine::new(Arc::clone(&store));
        let victim = sign_in(&engine, "alice").await;
        let squatter = victim.token.with_new_verifier().unwrap();
        store.set_down(true);
        assert_eq!(
            engine.logout_or_defer(&squatter).await,
            LogoutOutcome::Pending
        );
        if write_only {
            store.set_down(false);
            store.set_writes_down(true);
        }
        assert_eq!(
            engine.logout_or_defer(&victim.token).await,
            LogoutOutcome::Pending
        );
        store.set_writes_down(false);
        store.set_down(false);
        assert!(
            engine.resolve(&victim.token).await.unwrap().is_none(),
            "write_only={write_only}: the victim's token is not refused meanwhile"
        );
        let landed = gone_within_5s(&store.inner, &victim.session.id()).await;
        assert!(
            landed,
            "write_only={write_only}: the victim's session lived on"
        );
    }
}
