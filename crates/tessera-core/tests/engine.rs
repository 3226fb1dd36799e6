//! The engine's promises (design.md), each proven against the memory store with a test clock.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
mod support;

use support::{fixture, fixture_with, settle};
use tessera_core::conformance::sample_record;
use tessera_core::{
    CarryOver, ClientInfo, Created, EndReason, Engine, Error, EventKind, Issued, LoginOptions,
    ManualClock, MemoryStore, Policy, Store, Timestamp, Token,
};

/// Signs in as applications must: a ticket (before the credential check), then the login.
trait SignIn {
    async fn sign_in(
        &self,
        previous: Option<&Token>,
        subject: &str,
        options: LoginOptions,
    ) -> Result<Issued, Error>;
}

impl<S: Store> SignIn for Engine<S> {
    async fn sign_in(
        &self,
        previous: Option<&Token>,
        subject: &str,
        options: LoginOptions,
    ) -> Result<Issued, Error> {
        let ticket = self.login_ticket(subject).await?;
        self.login(previous, ticket, options).await
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

// Promise 4: no fixation.
#[tokio::test]
async fn login_issues_a_fresh_token_and_destroys_the_pre_login_session() {
    let f = fixture();
    let anon = f.engine.begin(ClientInfo::default()).await.unwrap();
    f.engine
        .insert(&anon.session.id(), "cart", &vec![1, 2])
        .await
        .unwrap();
    f.engine
        .insert(&anon.session.id(), "csrf", &"secret")
        .await
        .unwrap();
    let opts = LoginOptions {
        carry_over: CarryOver::Keys(vec!["cart".into()]),
        ..Default::default()
    };
    let user = f
        .engine
        .sign_in(Some(&anon.token), "alice", opts)
        .await
        .unwrap();
    assert_ne!(user.token.expose(), anon.token.expose());
    assert_ne!(
        user.session.id(),
        anon.session.id(),
        "login must draw a new selector too"
    );
    assert!(
        f.engine.resolve(&anon.token).await.unwrap().is_none(),
        "pre-login token still works"
    );
    assert_eq!(f.store.load(&anon.session.id()).await.unwrap(), None);
    let s = f.engine.resolve(&user.token).await.unwrap().unwrap();
    assert_eq!(s.subject(), Some("alice"));
    assert_eq!(s.get::<Vec<i32>>("cart").unwrap(), Some(vec![1, 2]));
    assert_eq!(
        s.get::<String>("csrf").unwrap(),
        None,
        "only allowed keys carry over"
    );
    assert!(f
        .events
        .events()
        .iter()
        .any(|e| e.kind == EventKind::Ended(EndReason::Login)));
}

#[tokio::test]
async fn login_with_an_unknown_token_never_adopts_it() {
    let f = fixture();
    let planted = Token::generate().unwrap(); // well-formed, never issued
    let user = f
        .engine
        .sign_in(Some(&planted), "alice", LoginOptions::default())
        .await
        .unwrap();
    assert_ne!(user.token.session_id(), planted.session_id());
    assert!(f.engine.resolve(&planted).await.unwrap().is_none());
    assert!(f
        .events
        .events()
        .iter()
        .any(|e| e.kind == EventKind::UnknownToken));
}

#[tokio::test]
async fn login_of_another_user_replaces_an_authenticated_session() {
    let f = fixture();
    let alice = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    let bob = f
        .engine
        .sign_in(Some(&alice.token), "bob", LoginOptions::default())
        .await
        .unwrap();
    assert!(f.engine.resolve(&alice.token).await.unwrap().is_none());
    assert_eq!(
        f.engine
            .resolve(&bob.token)
            .await
            .unwrap()
            .unwrap()
            .subject(),
        Some("bob")
    );
}

// Promise 5: rotation with grace, then theft detection.
#[tokio::test]
async fn rotated_out_token_works_during_grace_then_revokes_the_session() {
    let f = fixture();
    let issued = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    let rotated = f.engine.rotate(&issued.token).await.unwrap();
    assert_ne!(rotated.token.expose(), issued.token.expose());
    settle().await;
    f.clock.advance(secs(4));
    let in_grace = f.engine.resolve(&issued.token).await.unwrap().unwrap();
    assert!(!in_grace.is_current_token());
    f.clock.advance(secs(2)); // past the 5 s grace
    assert!(f.engine.resolve(&issued.token).await.unwrap().is_none());
    // The whole session is gone, the new token too: the thief and the victim both lose it.
    assert!(f.engine.resolve(&rotated.token).await.unwrap().is_none());
    let kinds: Vec<_> = f.events.events().into_iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&EventKind::TheftSuspected));
    assert!(kinds.contains(&EventKind::Ended(EndReason::Theft)));
}

#[tokio::test]
async fn a_token_from_several_rotations_ago_is_theft_too() {
    let f = fixture();
    let first = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    let mut current = first.token.clone();
    for _ in 0..3 {
        current = f.engine.rotate(&current).await.unwrap().token;
        settle().await;
    }
    f.clock.advance(secs(6)); // every grace window is over
                              // `first` is three rotations old: not the previous token, but a retired one.
    assert!(f.engine.resolve(&first.token).await.unwrap().is_none());
    assert!(
        f.engine.resolve(&current).await.unwrap().is_none(),
        "the session must be revoked"
    );
    assert!(f
        .events
        .events()
        .iter()
        .any(|e| e.kind == EventKind::TheftSuspected));
}

#[tokio::test]
async fn two_quick_rotations_keep_the_first_tokens_grace() {
    let f = fixture();
    let t0 = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap()
        .token;
    let t1 = f.engine.rotate(&t0).await.unwrap().token;
    settle().await;
    f.clock.advance(secs(1));
    let t2 = f.engine.elevate(&t1, 2, secs(60)).await.unwrap().token;
    settle().await;
    f.clock.advance(secs(1));
    // t0 is two rotations old but still inside its own 5 s grace: an in-flight request.
    let s = f
        .engine
        .resolve(&t0)
        .await
        .unwrap()
        .expect("t0 inside its grace");
    assert!(!s.is_current_token());
    assert!(!f
        .events
        .events()
        .iter()
        .any(|e| e.kind == EventKind::TheftSuspected));
    f.clock.advance(secs(4)); // t0's grace is over (t1's too)
    assert!(f.engine.resolve(&t0).await.unwrap().is_none());
    assert!(
        f.engine.resolve(&t2).await.unwrap().is_none(),
        "late t0 is theft: session revoked"
    );
}

#[tokio::test]
async fn retired_tokens_are_bounded() {
    let f = fixture();
    let first = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    let mut current = first.token.clone();
    for _ in 0..8 {
        current = f.engine.rotate(&current).await.unwrap().token;
    }
    let record = f.store.load(&first.session.id()).await.unwrap().unwrap();
    assert_eq!(record.retired.len(), tessera_core::record::MAX_RETIRED);
    // Older than what is remembered: unknown, not theft; the session lives on.
    assert!(f.engine.resolve(&first.token).await.unwrap().is_none());
    assert!(f.engine.resolve(&current).await.unwrap().is_some());
}

#[tokio::test]
async fn a_rotated_out_token_cannot_rotate_again() {
    let f = fixture();
    let issued = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    f.engine.rotate(&issued.token).await.unwrap();
    assert!(matches!(
        f.engine.rotate(&issued.token).await,
        Err(Error::AlreadyRotated)
    ));
}

#[tokio::test]
async fn a_wrong_verifier_is_unknown_not_theft() {
    let f = fixture();
    let issued = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    let forged = issued.token.with_new_verifier().unwrap(); // same selector, random verifier
    assert!(f.engine.resolve(&forged).await.unwrap().is_none());
    // Guessing a verifier must not let anyone who knows a selector end the session.
    assert!(f.engine.resolve(&issued.token).await.unwrap().is_some());
}

#[tokio::test]
async fn elevate_rotates_and_lapses() {
    let f = fixture();
    let issued = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    assert_eq!(issued.session.auth_level(), 1);
    let up = f.engine.elevate(&issued.token, 2, secs(300)).await.unwrap();
    assert_ne!(up.token.expose(), issued.token.expose());
    assert_eq!(
        f.engine
            .resolve(&up.token)
            .await
            .unwrap()
            .unwrap()
            .auth_level(),
        2
    );
    f.clock.advance(secs(301));
    assert_eq!(
        f.engine
            .resolve(&up.token)
            .await
            .unwrap()
            .unwrap()
            .auth_level(),
        1
    );
    assert!(f
        .events
        .events()
        .iter()
        .any(|e| e.kind == EventKind::Elevated { level: 2 }));
}

// Promise 6: expiry and throttled renewal.
#[tokio::test]
async fn renewal_writes_at_most_once_per_throttle_interval() {
    let f = fixture();
    let issued = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    for _ in 0..50 {
        f.clock.advance(Duration::from_millis(1000));
        f.engine.resolve(&issued.token).await.unwrap().unwrap();
    }
    let record = f.store.load(&issued.session.id()).await.unwrap().unwrap();
    assert_eq!(
        record.version, 1,
        "resolves within the 60 s throttle must not write"
    );
    f.clock.advance(secs(11));
    f.engine.resolve(&issued.token).await.unwrap().unwrap();
    let record = f.store.load(&issued.session.id()).await.unwrap().unwrap();
    assert_eq!(record.version, 2);
    assert_eq!(record.idle_deadline, f.engine.now().plus(secs(1800)));
    let renewals = f
        .events
        .events()
        .iter()
        .filter(|e| e.kind == EventKind::Renewed)
        .count();
    assert_eq!(renewals, 1);
}

#[tokio::test]
async fn idle_timeout_is_never_longer_than_configured() {
    let f = fixture();
    let issued = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    f.clock.advance(secs(59)); // activity inside the throttle: not written
    f.engine.resolve(&issued.token).await.unwrap().unwrap();
    f.clock.advance(secs(1800 - 59));
    assert!(f.engine.resolve(&issued.token).await.unwrap().is_none());
    assert!(f
        .events
        .events()
        .iter()
        .any(|e| e.kind == EventKind::Ended(EndReason::Idle)));
}

#[tokio::test]
async fn absolute_lifetime_ends_an_active_session() {
    let f = fixture();
    let issued = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    for _ in 0..(8 * 60 / 20 - 1) {
        f.clock.advance(secs(20 * 60));
        assert!(f.engine.resolve(&issued.token).await.unwrap().is_some());
    }
    f.clock.advance(secs(20 * 60));
    assert!(f.engine.resolve(&issued.token).await.unwrap().is_none());
    assert!(f
        .events
        .events()
        .iter()
        .any(|e| e.kind == EventKind::Ended(EndReason::Absolute)));
}

// Promise 3 and 7: server-side truth, invalidation by subject.
#[tokio::test]
async fn logout_ends_the_session_on_the_server() {
    let f = fixture();
    let issued = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    f.engine.logout(&issued.token).await.unwrap();
    assert!(f.engine.resolve(&issued.token).await.unwrap().is_none());
    assert!(f.store.is_empty());
    f.engine.logout(&issued.token).await.unwrap(); // idempotent
}

#[tokio::test]
async fn password_change_ends_every_other_session() {
    let f = fixture();
    let here = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    let phone = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    let laptop = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    let bob = f
        .engine
        .sign_in(None, "bob", LoginOptions::default())
        .await
        .unwrap();
    assert_eq!(f.engine.list("alice").await.unwrap().len(), 3);
    let n = f
        .engine
        .revoke_all("alice", Some(&here.session.id()))
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert!(f.engine.resolve(&here.token).await.unwrap().is_some());
    assert!(f.engine.resolve(&phone.token).await.unwrap().is_none());
    assert!(f.engine.resolve(&laptop.token).await.unwrap().is_none());
    assert!(f.engine.resolve(&bob.token).await.unwrap().is_some());
}

#[tokio::test]
async fn revoke_only_touches_the_subjects_own_sessions() {
    let f = fixture();
    let alice = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    let bob = f
        .engine
        .sign_in(None, "bob", LoginOptions::default())
        .await
        .unwrap();
    assert!(!f.engine.revoke("alice", &bob.session.id()).await.unwrap());
    assert!(f.engine.resolve(&bob.token).await.unwrap().is_some());
    assert!(f.engine.revoke("alice", &alice.session.id()).await.unwrap());
    assert!(f.engine.resolve(&alice.token).await.unwrap().is_none());
}

#[tokio::test]
async fn session_list_shows_client_metadata_newest_first() {
    let f = fixture();
    let client = ClientInfo::new(Some("Firefox"), Some("198.51.100.23".parse().unwrap()));
    f.engine
        .sign_in(
            None,
            "alice",
            LoginOptions {
                client: client.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    f.clock.advance(secs(1));
    let newer = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    let list = f.engine.list("alice").await.unwrap();
    assert_eq!(list[0].id(), newer.session.id());
    assert_eq!(list[1].record().client, client);
    assert_eq!(
        list[1].record().client.ip_prefix.map(|p| p.to_string()),
        Some("198.51.100.0/24".to_owned())
    );
}

#[tokio::test]
async fn max_sessions_per_subject_evicts_the_oldest() {
    let f = fixture_with(
        Policy::builder()
            .max_sessions_per_subject(NonZeroUsize::new(2).unwrap())
            .build()
            .unwrap(),
    );
    let first = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    f.clock.advance(secs(1));
    let second = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    f.clock.advance(secs(1));
    let third = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    assert!(f.engine.resolve(&first.token).await.unwrap().is_none());
    assert!(f.engine.resolve(&second.token).await.unwrap().is_some());
    assert!(f.engine.resolve(&third.token).await.unwrap().is_some());
    assert!(f
        .events
        .events()
        .iter()
        .any(|e| e.kind == EventKind::Ended(EndReason::Evicted)));
}

// Promise 8: concurrency.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_modifications_all_land() {
    let f = fixture();
    let issued = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    let id = issued.session.id();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let e = f.engine.clone();
            tokio::spawn(async move {
                e.modify(&id, |data| {
                    let n = data.get("n").and_then(|v| v.as_u64()).unwrap_or(0);
                    data.insert("n".into(), json!(n + 1));
                    data.insert(format!("k{i}"), json!(i));
                })
                .await
                .unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let s = f.engine.resolve(&issued.token).await.unwrap().unwrap();
    assert_eq!(s.get::<u64>("n").unwrap(), Some(64));
    assert_eq!(s.data().len(), 65);
}

#[tokio::test]
async fn a_stale_data_write_is_a_typed_conflict() {
    let f = fixture();
    let issued = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    let v = issued.session.version();
    let mut a = issued.session.data().clone();
    a.insert("who".into(), json!("a"));
    let mut b = issued.session.data().clone();
    b.insert("who".into(), json!("b"));
    let id = issued.session.id();
    assert_eq!(f.engine.update_data(&id, v, a).await.unwrap(), v + 1);
    assert!(
        matches!(f.engine.update_data(&id, v, b).await, Err(Error::Conflict { expected }) if expected == v)
    );
    let s = f.engine.resolve(&issued.token).await.unwrap().unwrap();
    assert_eq!(s.get::<String>("who").unwrap().as_deref(), Some("a"));
}

#[tokio::test]
async fn typed_data_errors_name_the_key() {
    let f = fixture();
    let issued = f
        .engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    let s = f
        .engine
        .insert(&issued.session.id(), "age", &"not a number")
        .await
        .unwrap();
    let err = s.get::<u32>("age").unwrap_err();
    assert!(matches!(&err, Error::Data { key, .. } if key == "age"));
    let s = f.engine.remove(&issued.session.id(), "age").await.unwrap();
    assert_eq!(s.get::<u32>("age").unwrap(), None);
}

#[tokio::test]
async fn subjects_are_validated() {
    let f = fixture();
    for bad in ["", "a\nb", &"x".repeat(257)] {
        assert!(matches!(
            f.engine.sign_in(None, bad, LoginOptions::default()).await,
            Err(Error::InvalidSubject(_))
        ));
    }
}

// Promise 9: fail closed.
type Flaky = tessera_core::conformance::Faulty<MemoryStore>;

#[tokio::test]
async fn a_failing_store_means_no_session() {
    let store = Arc::new(Flaky::new(MemoryStore::new()));
    let engine = Engine::new(Arc::clone(&store));
    let issued = engine
        .sign_in(None, "alice", LoginOptions::default())
        .await
        .unwrap();
    store.set_down(true);
    assert!(matches!(
        engine.resolve(&issued.token).await,
        Err(Error::Store(_))
    ));
    assert!(matches!(
        engine.sign_in(None, "alice", LoginOptions::default()).await,
        Err(Error::Store(_))
    ));
    assert!(matches!(
        engine.logout(&issued.token).await,
        Err(Error::Store(_))
    ));
    assert!(engine.purge_expired().await.is_err());
    store.set_down(false);
    assert!(
        engine.resolve(&issued.token).await.unwrap().is_some(),
        "an outage must not destroy sessions"
    );
}

#[tokio::test(start_paused = true)]
async fn background_purge_survives_store_errors() {
    let store = {
        let f = Flaky::new(MemoryStore::new());
        f.set_down(true);
        Arc::new(f)
    };
    let clock = Arc::new(ManualClock::default());
    let engine = Engine::builder(Arc::clone(&store))
        .clock(clock.clone())
        .build();
    let (_, r) = sample_record(Some("alice"), clock.now_ts());
    let handle = engine.spawn_purge(secs(10));
    tokio::time::sleep(secs(35)).await; // several failed rounds
    assert!(!handle.is_finished(), "the purge task died on an error");
    store.set_down(false);
    assert_eq!(
        store.inner.create(&r, None).await.unwrap(),
        Created::Inserted
    );
    clock.advance(secs(7200));
    tokio::time::sleep(secs(200)).await;
    assert!(
        store.inner.is_empty(),
        "the purge task did not resume after the store came back"
    );
    handle.abort();
}

trait NowTs {
    fn now_ts(&self) -> Timestamp;
}
impl NowTs for ManualClock {
    fn now_ts(&self) -> Timestamp {
        tessera_core::Clock::now(self)
    }
}

// Promise 12 and "secrets stay secret": events and logs name sessions by reference only.
type Captured = tessera_core::conformance::LogCapture;

#[tokio::test]
async fn no_token_reaches_logs_events_or_errors() {
    let (captured, _guard) = Captured::install();

    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::default());
    let engine = Engine::builder(Arc::clone(&store))
        .clock(clock.clone())
        .build(); // TracingSink
    let mut tokens = Vec::new();
    let anon = engine.begin(ClientInfo::default()).await.unwrap();
    let user = engine
        .sign_in(Some(&anon.token), "alice", LoginOptions::default())
        .await
        .unwrap();
    let rotated = engine.rotate(&user.token).await.unwrap();
    let up = engine.elevate(&rotated.token, 2, secs(60)).await.unwrap();
    let err = engine.rotate(&user.token).await.unwrap_err();
    clock.advance(secs(61));
    engine.resolve(&up.token).await.unwrap();
    engine.resolve(&rotated.token).await.unwrap(); // theft: rotated out by elevate, grace over
    engine.resolve(&Token::generate().unwrap()).await.unwrap(); // unknown
    tokens.extend([anon.token, user.token, rotated.token, up.token]);
    let bad = Token::parse(&format!("{}!", &tokens[0].expose()[..42])).unwrap_err();

    let logs = captured.contents();
    assert!(
        logs.contains("theft"),
        "the capture saw no audit events: {logs}"
    );
    let debug = format!("{err:?} {err} {bad:?} {bad} {tokens:?} {:?}", engine);
    for t in &tokens {
        let text = t.expose();
        assert!(
            !logs.contains(&text) && !logs.contains(&text[..20]),
            "a token reached the logs"
        );
        assert!(
            !debug.contains(&text[..20]),
            "a token reached Debug/Display output"
        );
    }
}
