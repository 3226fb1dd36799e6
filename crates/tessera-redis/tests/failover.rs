//! A Redis Cluster master killed under the store: its replica takes over, the store follows,
//! and no revocation it acknowledged (with `wait_replicas=1`) is undone. The test owns its
//! cluster, so killing a node disturbs no other test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

mod support;

use std::time::{Duration, Instant};

use tessera_core::conformance::sign_in;
use tessera_core::{Engine, LogoutOutcome};
use tessera_redis::{Address, RedisStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_master_fails_over_and_no_acknowledged_revocation_is_undone() {
    let mut cluster = support::Cluster::start();
    let prefix = support::unique_prefix();
    let address = Address::parse(&format!(
        "{}?timeout_ms=1000&wait_replicas=1",
        cluster.url()
    ))
    .unwrap()
    .with_prefix(&prefix)
    .unwrap();
    let engine = Engine::new(RedisStore::connect_to(address).await.unwrap());

    // Eight sessions of one user, spread over the masters; end one of them.
    let mut sessions = Vec::new();
    for _ in 0..8 {
        sessions.push(sign_in(&engine, "frank").await);
    }
    let ended = sessions.remove(0);
    let outcome = engine.logout_or_defer(&ended.token).await;
    assert!(matches!(outcome, LogoutOutcome::Ended), "{outcome:?}");
    let key = format!("{prefix}:s:{{{}}}", ended.session.id().to_hex());
    let victim = cluster.master_of(&key);

    // Kill the master that held the ended session.
    let node = cluster.nodes.iter_mut().find(|n| n.port == victim).unwrap();
    node.stop();
    let killed = Instant::now();

    // Until the replica takes over, requests to that master fail: closed, never open.
    let mut served = false;
    while killed.elapsed() < Duration::from_secs(30) {
        match engine.resolve(&ended.token).await {
            Ok(Some(_)) => panic!("the ended session came back after the failover"),
            Ok(None) => {
                served = true;
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert!(served, "the store never followed the failover");
    cluster.wait_ok(Some(victim));
    assert_ne!(cluster.master_of(&key), victim, "a replica took over");
    // The ended session stays ended; the others survived; a new login works.
    assert!(engine.resolve(&ended.token).await.unwrap().is_none());
    for s in &sessions {
        let mut alive = None;
        for _ in 0..50 {
            if let Ok(found) = engine.resolve(&s.token).await {
                alive = Some(found.is_some());
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(alive, Some(true), "a live session was lost in the failover");
    }
    let after = sign_in(&engine, "frank").await;
    assert!(engine.resolve(&after.token).await.unwrap().is_some());
}
