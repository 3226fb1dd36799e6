//! The store conformance suite (for store crates' tests; hidden from the API docs): every
//! store's tests call [`crate::store_conformance_tests!`], which
//! expands to one test per property below, each on a fresh store.
//!
//! ```text
//! async fn fresh() -> MyStore { MyStore::connect(...).await.unwrap() }
//! fn persisted(store: &MyStore) -> Vec<u8> { /* every byte the store keeps */ }
//! tessera_core::store_conformance_tests!(fresh, persisted);
//! ```
//!
//! Functions panic on failure: they are test assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::clock::{Clock, ManualClock, SystemClock, Timestamp};
use crate::lifecycle::{Engine, Issued, LoginOptions};
use crate::policy::Policy;
use crate::record::{ClientInfo, Elevation, PreviousVerifier, Record};
use crate::store::{Created, Store, Updated};
use crate::token::Token;
use crate::Error;

mod device;
pub use device::{
    bind, device_binding_survives_rotation_and_refresh, device_challenge_is_single_use_under_race,
    refresh, revocation_ends_device_refresh, DeviceClient,
};

/// Expands to one `#[tokio::test]` per conformance property. `$fresh` is an async fn returning a
/// new, empty store; `$persisted` a fn returning every byte the store has persisted.
#[macro_export]
macro_rules! store_conformance_tests {
    ($fresh:path, $persisted:path) => {
        $crate::store_conformance_tests!(@each $fresh, $persisted;
            create_is_insert_if_absent, record_round_trips, update_is_conditional_on_version,
            no_resurrection_after_delete, no_lost_updates_under_64_writers,
            revoke_all_is_linearizable_with_creates, delete_by_subject_scope,
            list_by_subject_is_exact, purge_is_bounded_and_spares_live,
            idle_and_absolute_expiry, rotation_happens_once_under_race,
            logout_is_not_undone_by_in_flight_write, epoch_refuses_a_stale_create,
            signing_keys_are_shared_and_rotate,
            logins_racing_revoke_all_leave_no_survivor,
            device_binding_survives_rotation_and_refresh,
            device_challenge_is_single_use_under_race, revocation_ends_device_refresh);
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_nothing_persisted_contains_a_token() {
            let store = std::sync::Arc::new($fresh().await);
            $crate::conformance::nothing_persisted_contains_a_token(store, |s| $persisted(s)).await;
        }
    };
    (@each $fresh:path, $persisted:path; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::conformance::$name(std::sync::Arc::new($fresh().await)).await;
            }
        )*
    };
}

/// The suite's time starts at the wall clock: a store whose backend expires records itself
/// (Redis' `PEXPIREAT`) must see deadlines in its own future, not in 2023.
fn now() -> Timestamp {
    SystemClock.now()
}

/// A manual clock starting now; tests move it instead of sleeping.
fn suite_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(now()))
}

/// Signs `subject` in the way applications must: a ticket, then the login.
pub async fn sign_in<S: Store>(e: &Engine<S>, subject: &str) -> Issued {
    let ticket = e.login_ticket(subject).await.unwrap();
    e.login(None, ticket, LoginOptions::default())
        .await
        .unwrap()
}

/// A record for `subject` with a fresh token, valid for an hour from `now`.
pub fn sample_record(subject: Option<&str>, at: Timestamp) -> (Token, Record) {
    let token = Token::generate().unwrap();
    let record = Record {
        auth_level: 1,
        ..Record::new(
            &token,
            subject,
            at,
            at.plus(Duration::from_secs(1800)),
            at.plus(Duration::from_secs(3600)),
        )
    };
    (token, record)
}

fn engine<S: Store>(store: Arc<S>, clock: Arc<ManualClock>) -> Engine<Arc<S>> {
    Engine::builder(store)
        .clock(clock)
        .policy(
            Policy::builder()
                .idle_timeout(Duration::from_secs(60))
                .absolute_lifetime(Duration::from_secs(600))
                .renewal_throttle(Duration::from_secs(10))
                .rotation_grace(Duration::from_secs(5))
                .build()
                .unwrap(),
        )
        .build()
}

pub async fn create_is_insert_if_absent<S: Store>(store: Arc<S>) {
    let (_, mut record) = sample_record(Some("alice"), now());
    record.data.insert("owner".into(), json!("first"));
    assert_eq!(
        store.create(&record, None).await.unwrap(),
        Created::Inserted
    );
    let mut intruder = record.clone();
    intruder.subject = Some("mallory".into());
    intruder.data.insert("owner".into(), json!("second"));
    assert_eq!(
        store.create(&intruder, None).await.unwrap(),
        Created::Collision
    );
    let stored = store.load(&record.id).await.unwrap().unwrap();
    assert_eq!(stored, record, "a colliding create must not overwrite");
    assert!(store.list_by_subject("mallory").await.unwrap().is_empty());
}

pub async fn record_round_trips<S: Store>(store: Arc<S>) {
    let at = now();
    let (old, mut record) = sample_record(Some("ünïcode \"subject\" 'quoted'"), at);
    record.previous = Some(Box::new(PreviousVerifier {
        verifier: old.with_new_verifier().unwrap().verifier_hash(),
        grace_until: at.plus(Duration::from_secs(5)),
        elevation: Some(Elevation {
            level: 3,
            until: at.plus(Duration::from_secs(60)),
        }),
        auth_time: Some(at.plus(Duration::from_secs(2))),
    }));
    record.retired = vec![
        PreviousVerifier {
            verifier: Token::generate().unwrap().verifier_hash(),
            grace_until: at.plus(Duration::from_secs(3)),
            elevation: Some(Elevation {
                level: 4,
                until: at.plus(Duration::from_secs(90)),
            }),
            auth_time: Some(at),
        },
        PreviousVerifier {
            verifier: Token::generate().unwrap().verifier_hash(),
            grace_until: at.plus(Duration::from_secs(1)),
            elevation: None,
            auth_time: None,
        },
    ];
    record.elevation = Some(Elevation {
        level: 2,
        until: at.plus(Duration::from_secs(300)),
    });
    record.auth_level = 7;
    record.version = 41;
    record
        .data
        .insert("cart".into(), json!({"items": [1, 2, 3], "note": "ß"}));
    record.client = ClientInfo::new(Some("Mozilla/5.0 test"), Some("192.0.2.9".parse().unwrap()));
    assert_eq!(
        store.create(&record, None).await.unwrap(),
        Created::Inserted
    );
    assert_eq!(store.load(&record.id).await.unwrap(), Some(record.clone()));
    let (_, anonymous) = sample_record(None, at);
    assert_eq!(
        store.create(&anonymous, None).await.unwrap(),
        Created::Inserted
    );
    assert_eq!(store.load(&anonymous.id).await.unwrap(), Some(anonymous));
    let (_, absent) = sample_record(None, at);
    assert_eq!(store.load(&absent.id).await.unwrap(), None);
}

pub async fn update_is_conditional_on_version<S: Store>(store: Arc<S>) {
    let (_, record) = sample_record(Some("alice"), now());
    assert_eq!(
        store.create(&record, None).await.unwrap(),
        Created::Inserted
    );
    let mut next = record.clone();
    next.version = 2;
    next.data.insert("k".into(), json!(1));
    assert_eq!(
        store.update(&next, 5).await.unwrap(),
        Updated::VersionMismatch
    );
    assert_eq!(store.load(&record.id).await.unwrap(), Some(record.clone()));
    assert_eq!(store.update(&next, 1).await.unwrap(), Updated::Written);
    assert_eq!(store.load(&record.id).await.unwrap(), Some(next.clone()));
    // The same stale write again loses: version 1 is gone.
    assert_eq!(
        store.update(&next, 1).await.unwrap(),
        Updated::VersionMismatch
    );
}

pub async fn no_resurrection_after_delete<S: Store>(store: Arc<S>) {
    let (_, record) = sample_record(Some("alice"), now());
    assert_eq!(
        store.create(&record, None).await.unwrap(),
        Created::Inserted
    );
    assert!(store.delete(&record.id).await.unwrap());
    assert!(!store.delete(&record.id).await.unwrap());
    let mut late = record.clone();
    late.version = 2;
    assert_eq!(store.update(&late, 1).await.unwrap(), Updated::Missing);
    assert_eq!(store.load(&record.id).await.unwrap(), None);
    assert!(store.list_by_subject("alice").await.unwrap().is_empty());
    let (_, never) = sample_record(None, now());
    assert_eq!(store.update(&never, 0).await.unwrap(), Updated::Missing);
    assert_eq!(store.load(&never.id).await.unwrap(), None);
}

pub async fn no_lost_updates_under_64_writers<S: Store>(store: Arc<S>) {
    let (_, record) = sample_record(Some("alice"), now());
    assert_eq!(
        store.create(&record, None).await.unwrap(),
        Created::Inserted
    );
    let mut tasks = Vec::new();
    for writer in 0..64u64 {
        let store = Arc::clone(&store);
        let id = record.id;
        tasks.push(tokio::spawn(async move {
            loop {
                let mut r = store.load(&id).await.unwrap().unwrap();
                let expected = r.version;
                let count = r.data.get("count").and_then(|v| v.as_u64()).unwrap_or(0);
                r.data.insert("count".into(), json!(count + 1));
                r.data.insert(format!("w{writer}"), json!(true));
                r.version = expected + 1;
                match store.update(&r, expected).await.unwrap() {
                    Updated::Written => break,
                    Updated::VersionMismatch => tokio::task::yield_now().await,
                    Updated::Missing => panic!("record vanished"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let r = store.load(&record.id).await.unwrap().unwrap();
    assert_eq!(r.data.get("count"), Some(&json!(64)), "an update was lost");
    assert_eq!(r.version, 65);
    for writer in 0..64 {
        assert!(r.data.contains_key(&format!("w{writer}")));
    }
}

pub async fn revoke_all_is_linearizable_with_creates<S: Store>(store: Arc<S>) {
    let (_, keep) = sample_record(Some("carol"), now());
    assert_eq!(store.create(&keep, None).await.unwrap(), Created::Inserted);
    let revoke_began = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut creators = Vec::new();
    for _ in 0..4 {
        let (store, began, stop) = (
            Arc::clone(&store),
            Arc::clone(&revoke_began),
            Arc::clone(&stop),
        );
        creators.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let (_, r) = sample_record(Some("carol"), now());
                assert_eq!(store.create(&r, None).await.unwrap(), Created::Inserted);
                // Read after the acknowledgement: false means it was acked before revoke began.
                acked.push((r.id, !began.load(Ordering::SeqCst)));
                tokio::task::yield_now().await;
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    revoke_began.store(true, Ordering::SeqCst);
    store
        .delete_by_subject("carol", Some(&keep.id))
        .await
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    let mut before = 0;
    for c in creators {
        for (id, acked_before_revoke) in c.await.unwrap() {
            if acked_before_revoke {
                before += 1;
                assert_eq!(
                    store.load(&id).await.unwrap(),
                    None,
                    "a session created before revoke-all survived it"
                );
            }
        }
    }
    assert!(
        before > 0,
        "the creators made no session before revoke-all; test did not run"
    );
    assert!(
        store.load(&keep.id).await.unwrap().is_some(),
        "the excepted session must survive"
    );
}

pub async fn delete_by_subject_scope<S: Store>(store: Arc<S>) {
    let mut alice = Vec::new();
    for _ in 0..5 {
        let (_, r) = sample_record(Some("alice"), now());
        assert_eq!(store.create(&r, None).await.unwrap(), Created::Inserted);
        alice.push(r);
    }
    let (_, bob) = sample_record(Some("bob"), now());
    let (_, anon) = sample_record(None, now());
    for r in [&bob, &anon] {
        assert_eq!(store.create(r, None).await.unwrap(), Created::Inserted);
    }
    assert_eq!(
        store
            .delete_by_subject("alice", Some(&alice[2].id))
            .await
            .unwrap()
            .len(),
        4
    );
    let left = store.list_by_subject("alice").await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, alice[2].id);
    assert!(store.load(&bob.id).await.unwrap().is_some());
    assert!(store.load(&anon.id).await.unwrap().is_some());
    assert_eq!(
        store.delete_by_subject("alice", None).await.unwrap(),
        vec![alice[2].id]
    );
    assert!(store
        .delete_by_subject("nobody", None)
        .await
        .unwrap()
        .is_empty());
}

pub async fn list_by_subject_is_exact<S: Store>(store: Arc<S>) {
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, r) = sample_record(Some("dave"), now());
        assert_eq!(store.create(&r, None).await.unwrap(), Created::Inserted);
        ids.push(r.id);
    }
    for subject in ["davey", "Dave", "dave%", "%"] {
        let (_, r) = sample_record(Some(subject), now());
        assert_eq!(store.create(&r, None).await.unwrap(), Created::Inserted);
    }
    let mut listed: Vec<_> = store
        .list_by_subject("dave")
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    listed.sort();
    ids.sort();
    assert_eq!(listed, ids);
    assert_eq!(store.list_by_subject("%").await.unwrap().len(), 1);
}

/// A store either purges expired records in bounded batches, or its backend deletes them
/// itself at their deadline (Redis); either way they are gone and the live one stays.
pub async fn purge_is_bounded_and_spares_live<S: Store>(store: Arc<S>) {
    let at = now();
    let mut dead = Vec::new();
    for i in 0..5u64 {
        let (_, mut r) = sample_record(Some("erin"), at);
        if i % 2 == 0 {
            r.idle_deadline = at.plus(Duration::from_millis(500)); // idle-dead
        } else {
            r.absolute_deadline = at.plus(Duration::from_millis(500)); // absolute-dead
        }
        assert_eq!(store.create(&r, None).await.unwrap(), Created::Inserted);
        dead.push(r.id);
    }
    let (_, live) = sample_record(Some("erin"), at);
    assert_eq!(store.create(&live, None).await.unwrap(), Created::Inserted);
    // Past every dead deadline on the wall clock too, for backends that expire on their own.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let later = at.plus(Duration::from_secs(1));
    let first = store.purge_expired(later, 2).await.unwrap();
    if first > 0 {
        assert_eq!(first, 2, "a purge is bounded by its limit");
        assert_eq!(store.purge_expired(later, 2).await.unwrap(), 2);
        assert_eq!(store.purge_expired(later, 2).await.unwrap(), 1);
    }
    assert_eq!(store.purge_expired(later, 2).await.unwrap(), 0);
    for id in dead {
        assert_eq!(
            store.load(&id).await.unwrap(),
            None,
            "an expired record is gone"
        );
    }
    assert!(store.load(&live.id).await.unwrap().is_some());
    assert_eq!(store.list_by_subject("erin").await.unwrap().len(), 1);
}

pub async fn idle_and_absolute_expiry<S: Store>(store: Arc<S>) {
    let clock = suite_clock();
    let e = engine(Arc::clone(&store), Arc::clone(&clock));
    // Idle: unused for the idle timeout → gone, and the record is deleted.
    let idle = sign_in(&e, "frank").await;
    clock.advance(Duration::from_secs(59));
    assert!(e.resolve(&idle.token).await.unwrap().is_some());
    clock.advance(Duration::from_secs(59)); // renewed at 59 s, so alive until 119 s
    assert!(e.resolve(&idle.token).await.unwrap().is_some());
    clock.advance(Duration::from_secs(61));
    assert!(e.resolve(&idle.token).await.unwrap().is_none());
    assert_eq!(store.load(&idle.session.id()).await.unwrap(), None);
    // Absolute: active every 30 s, still ends at 600 s.
    let busy = sign_in(&e, "frank").await;
    for _ in 0..19 {
        clock.advance(Duration::from_secs(30));
        assert!(e.resolve(&busy.token).await.unwrap().is_some());
    }
    clock.advance(Duration::from_secs(30));
    assert!(
        e.resolve(&busy.token).await.unwrap().is_none(),
        "absolute lifetime must hold"
    );
    assert_eq!(store.load(&busy.session.id()).await.unwrap(), None);
}

pub async fn rotation_happens_once_under_race<S: Store>(store: Arc<S>) {
    let clock = suite_clock();
    let e = engine(store, clock);
    let issued = sign_in(&e, "gina").await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (e, t) = (e.clone(), issued.token.clone());
        tasks.push(tokio::spawn(async move { e.rotate(&t).await }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(new) => winners.push(new),
            Err(Error::AlreadyRotated) => {}
            Err(other) => panic!("unexpected rotation error: {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rotation must win");
    let new = &winners[0].token;
    assert!(e.resolve(new).await.unwrap().unwrap().is_current_token());
    // The old token still works inside the grace window, as not current.
    assert!(!e
        .resolve(&issued.token)
        .await
        .unwrap()
        .unwrap()
        .is_current_token());
}

pub async fn logout_is_not_undone_by_in_flight_write<S: Store>(store: Arc<S>) {
    let clock = suite_clock();
    let e = engine(Arc::clone(&store), Arc::clone(&clock));
    let issued = sign_in(&e, "hank").await;
    // A request loaded the session, then logout happened, then the request writes.
    let in_flight = e.resolve(&issued.token).await.unwrap().unwrap();
    e.logout(&issued.token).await.unwrap();
    let mut map = in_flight.data().clone();
    map.insert("late".into(), json!(true));
    assert!(matches!(
        e.update_data(&in_flight.id(), in_flight.version(), map)
            .await,
        Err(Error::NoSession)
    ));
    assert!(matches!(
        e.insert(&in_flight.id(), "late", &1).await,
        Err(Error::NoSession)
    ));
    clock.advance(Duration::from_secs(20)); // past the renewal throttle: resolve would write
    assert!(e.resolve(&issued.token).await.unwrap().is_none());
    assert_eq!(store.load(&in_flight.id()).await.unwrap(), None);
}

pub async fn epoch_refuses_a_stale_create<S: Store>(store: Arc<S>) {
    assert_eq!(store.subject_epoch("ivy").await.unwrap(), 0);
    let (_, before) = sample_record(Some("ivy"), now());
    assert_eq!(
        store.create(&before, Some(0)).await.unwrap(),
        Created::Inserted
    );
    let ended = store.delete_by_subject("ivy", None).await.unwrap();
    assert_eq!(ended, vec![before.id]);
    let epoch = store.subject_epoch("ivy").await.unwrap();
    assert!(epoch > 0, "revoke-all must advance the epoch");
    let (_, stale) = sample_record(Some("ivy"), now());
    assert_eq!(
        store.create(&stale, Some(0)).await.unwrap(),
        Created::Revoked
    );
    assert_eq!(
        store.load(&stale.id).await.unwrap(),
        None,
        "refused, not written"
    );
    let (_, fresh) = sample_record(Some("ivy"), now());
    assert_eq!(
        store.create(&fresh, Some(epoch)).await.unwrap(),
        Created::Inserted
    );
    // The epoch is the subject's alone, and it never goes back with no session left.
    assert_eq!(store.subject_epoch("ivy2").await.unwrap(), 0);
    store.delete_by_subject("ivy", None).await.unwrap();
    let later = store.subject_epoch("ivy").await.unwrap();
    assert!(later > epoch);
    assert_eq!(store.subject_epoch("ivy").await.unwrap(), later);
    // An anonymous create and an unconditioned one ignore epochs.
    let (_, anon) = sample_record(None, now());
    assert_eq!(
        store.create(&anon, Some(0)).await.unwrap(),
        Created::Inserted
    );
}

pub async fn signing_keys_are_shared_and_rotate<S: Store>(store: Arc<S>) {
    let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
    assert_eq!(store.signing_keys("csrf", &a).await.unwrap(), vec![a]);
    // A second process with its own fresh key gets the stored one: insert-if-absent.
    assert_eq!(store.signing_keys("csrf", &b).await.unwrap(), vec![a]);
    assert_eq!(store.signing_keys("other", &c).await.unwrap(), vec![c]);
    store.rotate_signing_key("csrf", &b).await.unwrap();
    assert_eq!(store.signing_keys("csrf", &c).await.unwrap(), vec![b, a]);
    store.rotate_signing_key("csrf", &c).await.unwrap();
    assert_eq!(
        store.signing_keys("csrf", &a).await.unwrap(),
        vec![c, b],
        "at most two keys, newest first"
    );
}

/// The password-change race (hardening review): logins whose ticket was taken before a
/// revoke-all (their password check may have used the old password) never leave a session
/// behind it, however they interleave.
pub async fn logins_racing_revoke_all_leave_no_survivor<S: Store>(store: Arc<S>) {
    let clock = suite_clock();
    let e = engine(Arc::clone(&store), clock);
    let revoked = Arc::new(AtomicBool::new(false));
    let mut logins = Vec::new();
    for _ in 0..8 {
        let (e, revoked) = (e.clone(), Arc::clone(&revoked));
        logins.push(tokio::spawn(async move {
            let mut before = Vec::new();
            for _ in 0..40 {
                let ticket = e.login_ticket("jane").await.unwrap();
                // "Checked the old password": the revoke had not happened yet.
                let checked_old = !revoked.load(Ordering::SeqCst);
                tokio::task::yield_now().await;
                match e.login(None, ticket, LoginOptions::default()).await {
                    Ok(issued) if checked_old => before.push(issued.token),
                    Ok(_) | Err(Error::SubjectRevoked) => {}
                    Err(other) => panic!("unexpected login error: {other}"),
                }
                tokio::task::yield_now().await;
            }
            before
        }));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    revoked.store(true, Ordering::SeqCst);
    e.revoke_all("jane", None).await.unwrap();
    let mut checked_before = 0;
    for l in logins {
        for token in l.await.unwrap() {
            checked_before += 1;
            assert!(
                e.resolve(&token).await.unwrap().is_none(),
                "a login that checked the credential before revoke-all survived it"
            );
        }
    }
    assert!(
        checked_before > 0,
        "no login raced the revoke; test did not run"
    );
}

pub async fn nothing_persisted_contains_a_token<S: Store>(
    store: Arc<S>,
    persisted: impl Fn(&S) -> Vec<u8>,
) {
    let clock = suite_clock();
    let e = engine(Arc::clone(&store), clock);
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    for i in 0..20 {
        let issued = sign_in(&e, &format!("user{i}")).await;
        e.insert(&issued.session.id(), "n", &i).await.unwrap();
        let rotated = e.rotate(&issued.token).await.unwrap();
        for t in [&issued.token, &rotated.token] {
            let text = t.expose();
            secrets.push(text.clone().into_bytes());
            let raw = base64_decode(&text);
            secrets.push(raw[..16].to_vec()); // selector
            secrets.push(raw[16..].to_vec()); // verifier
        }
    }
    let bytes = persisted(&store);
    assert!(
        !bytes.is_empty(),
        "the persisted-bytes function returned nothing"
    );
    for s in &secrets {
        assert!(
            !bytes.windows(s.len()).any(|w| w == s.as_slice()),
            "a token or part of one was persisted"
        );
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

/// A real store with fault injection for tests: `down` makes every operation fail as an
/// unreachable backend would, and `ops` counts the operations (to prove that a code path does
/// not touch the store). Not a mock: every call goes to `inner`.
#[derive(Debug, Default)]
pub struct Faulty<S> {
    pub inner: S,
    pub down: AtomicBool,
    /// Reads work, writes fail (a writer blocked by another process, a read replica).
    pub writes_down: AtomicBool,
    pub ops: std::sync::atomic::AtomicUsize,
}

impl<S> Faulty<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            down: AtomicBool::new(false),
            writes_down: AtomicBool::new(false),
            ops: Default::default(),
        }
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn set_writes_down(&self, down: bool) {
        self.writes_down.store(down, Ordering::SeqCst);
    }

    fn touch_write(&self) -> Result<(), crate::StoreError> {
        self.touch()?;
        if self.writes_down.load(Ordering::SeqCst) {
            return Err(crate::StoreError::Unavailable {
                message: "write refused".into(),
                source: None,
            });
        }
        Ok(())
    }

    pub fn ops(&self) -> usize {
        self.ops.load(Ordering::SeqCst)
    }

    fn touch(&self) -> Result<(), crate::StoreError> {
        self.ops.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(crate::StoreError::Unavailable {
                message: "connection refused".into(),
                source: None,
            });
        }
        Ok(())
    }
}

impl<S: Store> Store for Faulty<S> {
    async fn create(&self, r: &Record, epoch: Option<u64>) -> Result<Created, crate::StoreError> {
        self.touch_write()?;
        self.inner.create(r, epoch).await
    }
    async fn subject_epoch(&self, s: &str) -> Result<u64, crate::StoreError> {
        self.touch()?;
        self.inner.subject_epoch(s).await
    }
    async fn load(&self, id: &crate::SessionId) -> Result<Option<Record>, crate::StoreError> {
        self.touch()?;
        self.inner.load(id).await
    }
    async fn load_fresh(&self, id: &crate::SessionId) -> Result<Option<Record>, crate::StoreError> {
        self.touch()?;
        self.inner.load_fresh(id).await
    }
    async fn update(&self, r: &Record, expected: u64) -> Result<Updated, crate::StoreError> {
        self.touch_write()?;
        self.inner.update(r, expected).await
    }
    async fn delete(&self, id: &crate::SessionId) -> Result<bool, crate::StoreError> {
        self.touch_write()?;
        self.inner.delete(id).await
    }
    async fn list_by_subject(&self, s: &str) -> Result<Vec<Record>, crate::StoreError> {
        self.touch()?;
        self.inner.list_by_subject(s).await
    }
    async fn delete_by_subject(
        &self,
        s: &str,
        except: Option<&crate::SessionId>,
    ) -> Result<Vec<crate::SessionId>, crate::StoreError> {
        self.touch_write()?;
        self.inner.delete_by_subject(s, except).await
    }
    async fn signing_keys(
        &self,
        purpose: &str,
        fresh: &crate::keyring::SigningKey,
    ) -> Result<Vec<crate::keyring::SigningKey>, crate::StoreError> {
        self.touch()?;
        self.inner.signing_keys(purpose, fresh).await
    }
    async fn rotate_signing_key(
        &self,
        purpose: &str,
        fresh: &crate::keyring::SigningKey,
    ) -> Result<(), crate::StoreError> {
        self.touch()?;
        self.inner.rotate_signing_key(purpose, fresh).await
    }
    async fn purge_expired(&self, now: Timestamp, limit: usize) -> Result<u64, crate::StoreError> {
        self.touch()?;
        self.inner.purge_expired(now, limit).await
    }
}

/// An in-memory log sink for tests that prove no token reaches the logs: hand clones of it to a
/// tracing subscriber's writer, then read everything written with [`LogCapture::contents`].
#[derive(Debug, Clone, Default)]
pub struct LogCapture(Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    /// Captures every event (all levels, no colour) of this thread until the guard drops.
    pub fn install() -> (Self, tracing::subscriber::DefaultGuard) {
        let captured = Self::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    pub fn contents(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
