//! What the Redis store promises beyond the conformance suite: one round trip per resolve,
//! bounded subject indexes, revoke-all across Cluster slots, and failing closed through an
//! outage it recovers from by itself. Tests that stop a server start their own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

mod support;

use support::{free_port, Server};

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera_core::conformance::{sample_record, sign_in, LogCapture};
use tessera_core::{Clock, Created, Engine, Store, SystemClock};
use tessera_redis::RedisStore;

#[tokio::test]
async fn a_resolve_with_no_renewal_due_is_one_round_trip() {
    let server = Server::start(free_port());
    let engine = Engine::new(RedisStore::connect(&server.url()).await.unwrap());
    let issued = sign_in(&engine, "alice").await;
    assert!(engine.resolve(&issued.token).await.unwrap().is_some());
    let mut c = server.sync();
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    assert!(engine.resolve(&issued.token).await.unwrap().is_some());
    let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    let processed: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // RESETSTAT itself is not counted; the resolve's HGET and this INFO are.
    assert_eq!(processed, 2, "{info}");
}

/// How long the 10k sessions live: long enough to create them on a loaded machine.
const LIFETIME: Duration = Duration::from_secs(8);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subject_index_does_not_keep_10k_expired_sessions() {
    let url = support::standalone_url();
    let store = Arc::new(support::store_at(&url).await);
    let now = SystemClock.now();
    let mut creates = tokio::task::JoinSet::new();
    for batch in 0..100 {
        let store = Arc::clone(&store);
        creates.spawn(async move {
            for _ in 0..100 {
                let (_, mut r) = sample_record(Some("bulk"), now);
                r.idle_deadline = now.plus(LIFETIME);
                r.absolute_deadline = now.plus(LIFETIME + Duration::from_millis(batch));
                assert_eq!(store.create(&r, None).await.unwrap(), Created::Inserted);
            }
        });
    }
    while let Some(done) = creates.join_next().await {
        done.unwrap();
    }
    let prefix = store.address().prefix().to_owned();
    let index_size = |url: &str| {
        let index = support::keys(url, &format!("{prefix}:u:*:i"));
        assert_eq!(index.len(), 1, "one index");
        let mut c = redis::Client::open(url.to_owned())
            .unwrap()
            .get_connection()
            .unwrap();
        redis::cmd("ZCARD")
            .arg(&index[0])
            .query::<u64>(&mut c)
            .unwrap()
    };
    assert!(
        SystemClock.now().plus(Duration::from_secs(1)) < now.plus(LIFETIME),
        "the 10k sessions were created well before their deadline"
    );
    assert_eq!(index_size(&url), 10_000);
    let past = now
        .plus(LIFETIME + Duration::from_millis(300))
        .since(SystemClock.now());
    tokio::time::sleep(past).await;
    // Redis has expired the records themselves; the next login of the subject drops the index
    // members whose absolute deadline passed.
    let (_, live) = sample_record(Some("bulk"), SystemClock.now());
    assert_eq!(store.create(&live, None).await.unwrap(), Created::Inserted);
    assert_eq!(index_size(&url), 1);
    let sessions = support::keys(&url, &format!("{prefix}:s:*"));
    assert_eq!(sessions.len(), 1, "expired session keys are gone");
    assert_eq!(store.list_by_subject("bulk").await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_all_reaches_every_slot_of_a_cluster() {
    let url = support::cluster_url();
    let store = support::store_at(&url).await;
    let now = SystemClock.now();
    let mut ids = Vec::new();
    for _ in 0..24 {
        let (_, r) = sample_record(Some("carol"), now);
        assert_eq!(store.create(&r, None).await.unwrap(), Created::Inserted);
        ids.push(r.id);
    }
    // The sessions sit on every master: revoke-all cannot be a single-slot script.
    let node = &support::nodes(&url)[0];
    let mut c = redis::Client::open(format!("redis://{node}"))
        .unwrap()
        .get_connection()
        .unwrap();
    let prefix = store.address().prefix().to_owned();
    let masters: HashSet<u16> = ids
        .iter()
        .map(|id| {
            let key = format!("{prefix}:s:{{{}}}", id.to_hex());
            let slot: u16 = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(key)
                .query(&mut c)
                .unwrap();
            slot / 5462 // redis-cli splits 16384 slots into three near-equal ranges
        })
        .collect();
    assert_eq!(masters.len(), 3, "24 random ids land on all three masters");
    let deleted: HashSet<_> = store
        .delete_by_subject("carol", None)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(deleted, ids.iter().copied().collect());
    for id in &ids {
        assert_eq!(store.load(id).await.unwrap(), None);
    }
    assert_eq!(store.subject_epoch("carol").await.unwrap(), 1);
    assert!(store.list_by_subject("carol").await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error_not_a_hang() {
    let port = free_port(); // nothing listens there
    let started = Instant::now();
    let err = RedisStore::connect(&format!("redis://127.0.0.1:{port}?timeout_ms=500"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(err.contains("Redis"), "{err}");
    let err = RedisStore::connect("redis://127.0.0.1:1,127.0.0.1:2")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("redis+cluster://"), "{err}");
}

#[tokio::test]
async fn an_outage_fails_closed_is_logged_once_and_heals_by_itself() {
    let (logs, _guard) = LogCapture::install();
    let port = free_port();
    let mut server = Server::start(port);
    let store = RedisStore::connect(&format!("{}?timeout_ms=300", server.url()))
        .await
        .unwrap();
    let engine = Engine::new(store);
    let before = sign_in(&engine, "dave").await;
    assert!(engine.resolve(&before.token).await.unwrap().is_some());

    server.stop();
    for _ in 0..20 {
        let started = Instant::now();
        let resolved = engine.resolve(&before.token).await;
        assert!(
            !matches!(resolved, Ok(Some(_))),
            "no session while the store is down"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "bounded by the timeout"
        );
    }
    let ticket = engine.login_ticket("dave").await;
    assert!(ticket.is_err(), "no login while the store is down");
    let outage_lines = logs.contents().matches("session store unavailable").count();
    assert_eq!(outage_lines, 1, "{}", logs.contents());

    // The server comes back (empty: it keeps nothing on disk); the store reconnects by itself.
    let _server = Server::start(port);
    let mut after = None;
    for _ in 0..100 {
        if let Ok(ticket) = engine.login_ticket("dave").await {
            after = Some(ticket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(after.is_some(), "the store answers again without a restart");
    let again = sign_in(&engine, "dave").await;
    assert!(engine.resolve(&again.token).await.unwrap().is_some());
    assert_eq!(
        logs.contents()
            .matches("session store answers again")
            .count(),
        1
    );
    assert!(
        !logs.contents().contains(&again.token.expose()),
        "no token in the logs"
    );
}

#[tokio::test]
async fn a_server_that_may_evict_keys_is_refused_unless_accepted_by_name() {
    let server = Server::start_with(free_port(), &["--maxmemory-policy", "allkeys-lru"]);
    let err = RedisStore::connect(&server.url())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("allkeys-lru") && err.contains("noeviction"),
        "{err}"
    );
    let accepted = format!("{}?eviction=accept-lost-revocations", server.url());
    assert!(RedisStore::connect(&accepted).await.is_ok());
}

#[tokio::test]
async fn a_rotation_sent_twice_keeps_the_key_before_it() {
    // The Cluster client re-sends a script whose reply was lost: the second run must not push
    // the new key again and drop the previous one (every token signed with it would fail).
    let store = support::store_at(&support::standalone_url()).await;
    let (first, second) = ([1u8; 32], [2u8; 32]);
    assert_eq!(store.signing_keys("csrf", &first).await.unwrap(), [first]);
    store.rotate_signing_key("csrf", &second).await.unwrap();
    store.rotate_signing_key("csrf", &second).await.unwrap();
    assert_eq!(
        store.signing_keys("csrf", &[3u8; 32]).await.unwrap(),
        [second, first]
    );
}

/// The lag the local-copy tests accept.
const LAG: Duration = Duration::from_millis(200);

#[tokio::test]
async fn a_local_copy_answers_with_no_round_trip_and_sees_another_servers_revocations_in_time() {
    let server = Server::start(free_port());
    let mut c = server.sync();
    let lag = LAG.as_millis();
    let here = Engine::new(
        RedisStore::connect(&format!("{}?accept_revocation_lag_ms={lag}", server.url()))
            .await
            .unwrap(),
    );
    let there = Engine::new(RedisStore::connect(&server.url()).await.unwrap());

    // A logout on the other server.
    let issued = sign_in(&here, "alice").await;
    support::until_served_locally(&here, &issued.token, &mut c).await;
    there.logout(&issued.token).await.unwrap();
    let ended = Instant::now();
    while here.resolve(&issued.token).await.unwrap().is_some() {
        assert!(
            ended.elapsed() < LAG,
            "a logout elsewhere was still served after {:?}",
            ended.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    eprintln!("logout elsewhere seen here after {:?}", ended.elapsed());

    // A revoke-all on the other server; a login ticketed here before it is refused.
    let issued = sign_in(&here, "bob").await;
    let ticket = here.login_ticket("bob").await.unwrap();
    support::until_served_locally(&here, &issued.token, &mut c).await;
    there.revoke_all("bob", None).await.unwrap();
    let ended = Instant::now();
    while here.resolve(&issued.token).await.unwrap().is_some() {
        assert!(
            ended.elapsed() < LAG,
            "a revoke-all elsewhere was still served"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    eprintln!("revoke-all elsewhere seen here after {:?}", ended.elapsed());
    assert!(
        here.login(None, ticket, Default::default()).await.is_err(),
        "a login begun before the revoke-all went through"
    );
    // A new login after it works.
    let fresh = sign_in(&here, "bob").await;
    assert!(here.resolve(&fresh.token).await.unwrap().is_some());
}

#[tokio::test]
async fn a_local_copy_follows_this_servers_own_writes_at_once() {
    let server = Server::start(free_port());
    let mut c = server.sync();
    let engine = Engine::new(
        RedisStore::connect(&format!("{}?accept_revocation_lag_ms=1000", server.url()))
            .await
            .unwrap(),
    );
    let issued = sign_in(&engine, "carol").await;
    support::until_served_locally(&engine, &issued.token, &mut c).await;
    let rotated = engine.rotate(&issued.token).await.unwrap();
    let record = engine.resolve(&rotated.token).await.unwrap();
    assert!(record.is_some(), "the rotated token is known here at once");
    support::until_served_locally(&engine, &rotated.token, &mut c).await;
    engine.logout(&rotated.token).await.unwrap();
    assert!(
        engine.resolve(&rotated.token).await.unwrap().is_none(),
        "this server's own logout is seen at once"
    );
}
