//! Two `tessera demo` processes on one shared store, as a fleet behind a load balancer would
//! run: a session made on one is served by the other, a rotation on one leaves the other
//! working inside the grace window, and a logout or revoke on one is seen by the other on the
//! very next request. Run on a standalone Redis, a Redis Cluster and PostgreSQL (scripts/test.sh
//! starts them and exports their URLs), and on Redis with the opt-in local copy, where "the very
//! next request" becomes "within the accepted lag".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use support::user::{csrf_of, User};
use support::Server;

fn unique_prefix() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("tessera-fleet-{hex}")
}

/// Two demos on the store at `url`, under one fresh key prefix (Redis) or schema (PostgreSQL).
fn fleet(url: &str) -> (Server, Server) {
    let sep = if url.contains('?') { '&' } else { '?' };
    let store = if url.starts_with("postgres") {
        format!("{url}{sep}schema={}", unique_prefix().replace('-', "_"))
    } else {
        format!("{url}{sep}prefix={}", unique_prefix())
    };
    let a = Server::start(&["demo", "--store", &store]);
    let b = Server::start(&["demo", "--store", &store]);
    (a, b)
}

/// `user`'s cookie, presented by a fresh client of `server`.
fn carry<'a>(user: &User<'_>, server: &'a Server) -> User<'a> {
    let mut other = User::new(server);
    other.cookie.clone_from(&user.cookie);
    other
}

/// Asserts `user`'s session is refused: on the next request, or with a `lag`, on every request
/// from `lag` after `since` on (it may be served before that).
async fn dead(user: &mut User<'_>, since: std::time::Instant, lag: Option<Duration>, what: &str) {
    loop {
        let asked = std::time::Instant::now();
        if user.get("/account").await.0 == StatusCode::SEE_OTHER {
            return;
        }
        let late = asked.duration_since(since);
        assert!(
            lag.is_some_and(|lag| late < lag),
            "{what} still works after {late:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn every_promise_holds_across_two_servers(url: &str, lag: Option<Duration>) {
    let (a, b) = fleet(url);

    // Signed in on A, served by B.
    let mut on_a = User::new(&a);
    assert_eq!(
        on_a.login("alice", "wonderland").await.status(),
        StatusCode::SEE_OTHER
    );
    let mut on_b = carry(&on_a, &b);
    assert_eq!(on_b.get("/account").await.0, StatusCode::OK);

    // A rotates the token (step-up); B still serves the old cookie inside the grace window, and
    // the new one.
    let old = carry(&on_a, &b);
    let resp = on_a
        .submit("/account", "/elevate", &[("password", "wonderland")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_ne!(on_a.cookie, old.cookie, "the step-up rotated the token");
    let mut old = old;
    assert_eq!(old.get("/account").await.0, StatusCode::OK, "grace on B");
    let mut on_b = carry(&on_a, &b);
    assert_eq!(on_b.get("/account").await.0, StatusCode::OK);

    // Logout on B: dead on A at the very next request.
    let resp = on_b.submit("/account", "/logout", &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let ended = std::time::Instant::now();
    dead(&mut on_a, ended, lag, "a session logged out on B, on A,").await;

    // Revoke the others from B: every other session is dead on A at once.
    let mut first = User::new(&a);
    let mut second = User::new(&a);
    first.login("bob", "builder").await;
    second.login("bob", "builder").await;
    assert_eq!(second.get("/account").await.0, StatusCode::OK);
    let mut first_on_b = carry(&first, &b);
    let (status, html, _) = first_on_b.get("/sessions").await;
    assert_eq!(status, StatusCode::OK);
    let resp = first_on_b
        .post("/sessions/revoke-others", &[("csrf", &csrf_of(&html))])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let ended = std::time::Instant::now();
    dead(&mut second, ended, lag, "a session revoked on B, on A,").await;
    assert_eq!(first.get("/account").await.0, StatusCode::OK);
}

#[tokio::test]
async fn one_redis_two_servers() {
    let url =
        std::env::var("TESSERA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    every_promise_holds_across_two_servers(&url, None).await;
}

#[tokio::test]
async fn one_redis_two_servers_with_local_copies() {
    let url =
        std::env::var("TESSERA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let sep = if url.contains('?') { '&' } else { '?' };
    let lag = Duration::from_millis(250);
    every_promise_holds_across_two_servers(
        &format!("{url}{sep}accept_revocation_lag_ms={}", lag.as_millis()),
        Some(lag),
    )
    .await;
}

#[tokio::test]
async fn one_redis_cluster_two_servers() {
    let url = std::env::var("TESSERA_TEST_REDIS_CLUSTER_URL").expect(
        "TESSERA_TEST_REDIS_CLUSTER_URL is not set: run scripts/test.sh, which starts a Redis Cluster",
    );
    every_promise_holds_across_two_servers(&url, None).await;
}

#[tokio::test]
async fn one_postgres_two_servers() {
    let url = std::env::var("TESSERA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    every_promise_holds_across_two_servers(&url, None).await;
}

#[test]
fn an_unreachable_store_stops_the_demo_with_one_line() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["demo", "--listen", "127.0.0.1:0", "--store"])
        .arg(format!("redis://127.0.0.1:{port}?timeout_ms=300"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("--store") && last.contains("Redis"),
        "{stderr}"
    );
}
