//! What the PostgreSQL store promises beyond the conformance suite: a purge that never waits
//! for a request, failing closed through terminated connections and healing by itself, clear
//! errors at start, and migrations that refuse a newer schema and tolerate racing starts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tessera_core::conformance::{sample_record, sign_in, LogCapture};
use tessera_core::{Clock, Created, Engine, Store, SystemClock};
use tessera_postgres::{Address, PostgresStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_purge_skips_a_row_a_request_holds_and_never_waits_for_it() {
    let store = support::store().await;
    let schema = store.address().schema().to_owned();
    let now = SystemClock.now();
    let mut dead = Vec::new();
    for _ in 0..3 {
        let (_, mut r) = sample_record(Some("erin"), now);
        r.idle_deadline = now;
        assert_eq!(store.create(&r, None).await.unwrap(), Created::Inserted);
        dead.push(r.id);
    }
    // Another client holds the first dead row, as a request in the middle of a write would.
    let held: String = dead[0]
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut holder = Command::new("psql")
        .arg(support::url())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let stdin = holder.stdin.as_mut().unwrap();
        writeln!(
            stdin,
            "BEGIN; SELECT 1 FROM {schema}.sessions WHERE id = '\\x{held}' FOR UPDATE; SELECT pg_sleep(30) /* {schema} */;"
        )
        .unwrap();
        stdin.flush().unwrap();
    }
    // Wait until the lock is really held.
    let locked = format!(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
         WHERE a.query LIKE '%pg_sleep(30) /* {schema} */%' AND l.mode = 'RowShareLock'"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while String::from_utf8_lossy(&support::psql(&locked)).trim() == "0" {
        assert!(Instant::now() < deadline, "the holder never took its lock");
        std::thread::sleep(Duration::from_millis(50));
    }
    let later = now.plus(Duration::from_secs(1));
    let purged = store.purge_expired(later, 100).await.unwrap();
    assert_eq!(
        purged, 2,
        "the held row is skipped, the others purged, no waiting"
    );
    // End the holder's transaction (its backend would sleep on after the client went away).
    support::psql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE query LIKE '%pg_sleep(30) /* {schema} */%' AND pid <> pg_backend_pid()"
    ));
    let _ = holder.kill();
    let _ = holder.wait();
    // Once released, the next round takes it.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if store.purge_expired(later, 100).await.unwrap() == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the released row was never purged"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    support::psql(&format!("DROP SCHEMA {schema} CASCADE"));
}

#[tokio::test]
async fn terminated_connections_fail_closed_are_logged_once_and_heal() {
    let (logs, _guard) = LogCapture::install();
    let address = Address::parse(&format!("{}?timeout_ms=1000", support::url()))
        .unwrap()
        .with_schema(&support::unique_schema())
        .unwrap();
    let store = PostgresStore::connect_to(address).await.unwrap();
    let schema = store.address().schema().to_owned();
    let engine = Engine::new(store);
    let issued = sign_in(&engine, "dave").await;
    assert!(engine.resolve(&issued.token).await.unwrap().is_some());
    let kill = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                WHERE application_name = 'tessera' AND pid <> pg_backend_pid()";
    support::psql(kill);
    // The pool's connection is dead: the next call fails, and fails closed.
    let mut failures = 0;
    let mut healed = false;
    for _ in 0..50 {
        match engine.resolve(&issued.token).await {
            Ok(Some(_)) => {
                healed = true;
                break;
            }
            Ok(None) => panic!("the session itself must survive a dropped connection"),
            Err(_) => failures += 1,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(healed, "the store reconnects by itself");
    assert!(
        failures <= 1,
        "at most the call on the dead connection fails"
    );
    if failures == 1 {
        assert_eq!(
            logs.contents().matches("session store unavailable").count(),
            1,
            "{}",
            logs.contents()
        );
        assert_eq!(
            logs.contents()
                .matches("session store answers again")
                .count(),
            1
        );
    }
    assert!(!logs.contents().contains(&issued.token.expose()));
    support::psql(&format!("DROP SCHEMA {schema} CASCADE"));
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error_not_a_hang() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let err = PostgresStore::connect(&format!(
        "postgres://postgres:hunter2@127.0.0.1:{port}/test?timeout_ms=500"
    ))
    .await
    .unwrap_err()
    .to_string();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(err.contains("cannot connect to PostgreSQL"), "{err}");
    assert!(!err.contains("hunter2"), "no password in the error: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_tolerate_racing_starts_and_refuse_a_newer_schema() {
    let schema = support::unique_schema();
    let url = format!("{}?schema={schema}", support::url());
    let (a, b) = tokio::join!(PostgresStore::connect(&url), PostgresStore::connect(&url));
    let (a, _b) = (a.unwrap(), b.unwrap());
    let issued = sign_in(&Engine::new(a), "erin").await;
    // A second start keeps the data.
    let again = Engine::new(PostgresStore::connect(&url).await.unwrap());
    assert!(again.resolve(&issued.token).await.unwrap().is_some());
    support::psql(&format!("UPDATE {schema}.schema_version SET version = 99"));
    let err = PostgresStore::connect(&url).await.unwrap_err().to_string();
    assert!(err.contains("newer than this build"), "{err}");
    support::psql(&format!("DROP SCHEMA {schema} CASCADE"));
}
