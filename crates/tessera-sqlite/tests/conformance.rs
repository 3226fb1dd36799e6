//! The SQLite store against the store conformance suite, on real files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use tessera_sqlite::{OpenError, SqliteStore};

fn temp_path(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("tessera-sqlite-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{tag}-{}.db", N.fetch_add(1, Ordering::SeqCst)))
}

async fn fresh() -> SqliteStore {
    SqliteStore::open(temp_path("conformance")).unwrap()
}

/// Every byte on disk: the database file and its write-ahead log.
fn persisted(store: &SqliteStore) -> Vec<u8> {
    let mut bytes = std::fs::read(store.path()).unwrap();
    let mut wal = store.path().as_os_str().to_owned();
    wal.push("-wal");
    bytes.extend(std::fs::read(PathBuf::from(wal)).unwrap_or_default());
    bytes
}

tessera_core::store_conformance_tests!(fresh, persisted);

#[tokio::test]
async fn sessions_survive_reopening_the_file() {
    use tessera_core::{Engine, LoginOptions};
    let path = temp_path("reopen");
    let token = {
        let engine = Engine::new(SqliteStore::open(&path).unwrap());
        engine
            .login(
                None,
                engine.login_ticket("alice").await.unwrap(),
                LoginOptions::default(),
            )
            .await
            .unwrap()
            .token
    };
    let engine = Engine::new(SqliteStore::open(&path).unwrap());
    let s = engine.resolve(&token).await.unwrap().unwrap();
    assert_eq!(s.subject(), Some("alice"));
}

#[test]
fn a_newer_schema_is_refused_not_clobbered() {
    let path = temp_path("newer");
    {
        let conn = rusqlite_conn(&path);
        conn.execute_batch("PRAGMA user_version = 99;").unwrap();
    }
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(err, OpenError::SchemaTooNew { found: 99, .. }),
        "{err}"
    );
}

#[test]
fn garbage_file_is_a_clear_error() {
    let path = temp_path("garbage");
    std::fs::write(
        &path,
        b"this is not a database, just text that is long enough ....",
    )
    .unwrap();
    let err = SqliteStore::open(&path).unwrap_err().to_string();
    assert!(err.contains(path.to_str().unwrap()), "{err}");
}

#[cfg(unix)]
#[test]
fn new_files_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let path = temp_path("mode");
    SqliteStore::open(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

/// A fresh file with alice signed in: the engine, the file, and her token.
async fn alice_signed_in(
    name: &str,
) -> (
    tessera_core::Engine<SqliteStore>,
    PathBuf,
    tessera_core::Token,
) {
    use tessera_core::{Engine, LoginOptions};
    let path = temp_path(name);
    let engine = Engine::new(SqliteStore::open(&path).unwrap());
    let issued = engine
        .login(
            None,
            engine.login_ticket("alice").await.unwrap(),
            LoginOptions::default(),
        )
        .await
        .unwrap();
    (engine, path, issued.token)
}

#[tokio::test]
async fn a_corrupt_data_column_is_a_store_error_not_a_panic() {
    use tessera_core::{Error, StoreError};
    let (engine, path, token) = alice_signed_in("corrupt").await;
    rusqlite_conn(&path)
        .execute_batch("UPDATE sessions SET data = '{not json'")
        .unwrap();
    let err = engine.resolve(&token).await.unwrap_err();
    assert!(matches!(err, Error::Store(StoreError::Corrupt(_))), "{err}");
}

/// The address prefix is read back only in the form the store writes: a full address planted
/// in the column is a store error (no session), not a host address shown in the session list.
#[tokio::test]
async fn a_planted_host_address_is_a_store_error_not_a_prefix() {
    use tessera_core::{Error, StoreError};
    let (engine, path, token) = alice_signed_in("prefix").await;
    let conn = rusqlite_conn(&path);
    conn.execute_batch("UPDATE sessions SET ip_prefix = '203.0.113.0/24'")
        .unwrap();
    let session = engine.resolve(&token).await.unwrap().unwrap();
    assert_eq!(
        session.record().client.ip_prefix.map(|p| p.to_string()),
        Some("203.0.113.0/24".to_owned())
    );
    conn.execute_batch("UPDATE sessions SET ip_prefix = '203.0.113.77/24'")
        .unwrap();
    let err = engine.resolve(&token).await.unwrap_err();
    assert!(matches!(err, Error::Store(StoreError::Corrupt(_))), "{err}");
}

fn rusqlite_conn(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

#[tokio::test]
async fn a_version_1_file_is_migrated_and_keeps_its_sessions() {
    use tessera_core::{Engine, LoginOptions};
    let path = temp_path("migrate");
    let token = {
        let engine = Engine::new(SqliteStore::open(&path).unwrap());
        engine
            .login(
                None,
                engine.login_ticket("alice").await.unwrap(),
                LoginOptions::default(),
            )
            .await
            .unwrap()
            .token
    };
    // Turn the file back into schema version 1: none of the later columns and tables.
    rusqlite_conn(&path)
        .execute_batch(
            "ALTER TABLE sessions DROP COLUMN retired; \
             ALTER TABLE sessions DROP COLUMN prev_elev_level; \
             ALTER TABLE sessions DROP COLUMN prev_elev_until; \
             ALTER TABLE sessions DROP COLUMN prev_auth_time; \
             ALTER TABLE sessions DROP COLUMN retired_auth; \
             ALTER TABLE sessions DROP COLUMN device; \
             DROP TABLE subject_epochs; DROP TABLE signing_keys; PRAGMA user_version = 1;",
        )
        .unwrap();
    let engine = Engine::new(SqliteStore::open(&path).unwrap());
    assert_eq!(
        engine.resolve(&token).await.unwrap().unwrap().subject(),
        Some("alice")
    );
    let version: i64 = rusqlite_conn(&path)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 4);
    let once = engine.rotate(&token).await.unwrap();
    engine.rotate(&once.token).await.unwrap();
    // The epoch table works on the migrated file: revoke-all refuses a stale ticket.
    let ticket = engine.login_ticket("alice").await.unwrap();
    engine.revoke_all("alice", None).await.unwrap();
    assert!(matches!(
        engine.login(None, ticket, LoginOptions::default()).await,
        Err(tessera_core::Error::SubjectRevoked)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_logins_under_a_cap_leave_the_newest_session() {
    use std::num::NonZeroUsize;
    use tessera_core::{Engine, LoginOptions, Policy};
    let policy = Policy::builder()
        .max_sessions_per_subject(NonZeroUsize::new(1).unwrap())
        .build()
        .unwrap();
    let engine = Engine::builder(SqliteStore::open(temp_path("cap")).unwrap())
        .policy(policy)
        .build();
    for round in 0..30 {
        let subject = format!("user{round}");
        let login = || async {
            let ticket = engine.login_ticket(&subject).await?;
            engine.login(None, ticket, LoginOptions::default()).await
        };
        let (a, b) = tokio::join!(login(), login());
        let (a, b) = (a.unwrap(), b.unwrap());
        let live_a = engine.resolve(&a.token).await.unwrap().is_some();
        let live_b = engine.resolve(&b.token).await.unwrap().is_some();
        assert!(
            live_a || live_b,
            "round {round}: racing logins evicted each other"
        );
        // Two logins in the very same instant may both survive until the subject's next login
        // trims them: the cap is enforced at login. The newest never dies.
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_answers_match_what_was_committed() {
    use std::sync::Arc;
    use tessera_core::conformance::sample_record;
    use tessera_core::{Clock, Created, ManualClock, Store};
    let path = temp_path("rollback");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    // A statement that rolls back the whole transaction it runs in, as a full disk would.
    rusqlite_conn(&path)
        .execute_batch(
            "CREATE TRIGGER boom BEFORE INSERT ON sessions WHEN NEW.subject = 'boom' \
             BEGIN SELECT RAISE(ROLLBACK, 'boom'); END;",
        )
        .unwrap();
    let now = ManualClock::default().now();
    for round in 0..10 {
        let mut tasks = Vec::new();
        for i in 0..24 {
            let store = Arc::clone(&store);
            let subject = if i == 12 {
                "boom".to_owned()
            } else {
                format!("u{round}-{i}")
            };
            let (_, record) = sample_record(Some(&subject), now);
            tasks.push(tokio::spawn(async move {
                let answer = store.create(&record, None).await;
                (record.id, answer)
            }));
        }
        for t in tasks {
            let (id, answer) = t.await.unwrap();
            let stored = store.load(&id).await.unwrap().is_some();
            match answer {
                Ok(Created::Inserted) => assert!(stored, "told written, but not in the file"),
                Ok(Created::Collision | Created::Revoked) => panic!("no collision expected"),
                Err(_) => assert!(!stored, "told failed, but it is in the file"),
            }
        }
    }
}

/// The second review (rolling upgrade): a process from before schema 3 rewrites `retired`
/// without `retired_auth`, so the two fall out of step. A retired token must then get no
/// step-up rather than another token's.
#[tokio::test]
async fn retired_auth_out_of_step_grants_no_step_up() {
    use std::time::Duration;
    use tessera_core::conformance::sample_record;
    use tessera_core::record::{Elevation, PreviousVerifier};
    use tessera_core::{Clock, Created, ManualClock, Store, Token};
    let path = temp_path("out-of-step");
    let store = SqliteStore::open(&path).unwrap();
    let at = ManualClock::default().now();
    let (_, mut record) = sample_record(Some("alice"), at);
    let entry = |level| PreviousVerifier {
        verifier: Token::generate().unwrap().verifier_hash(),
        grace_until: at.plus(Duration::from_secs(5)),
        elevation: Some(Elevation {
            level,
            until: at.plus(Duration::from_secs(60)),
        }),
        auth_time: Some(at),
    };
    record.retired = vec![entry(3), entry(4)];
    assert_eq!(
        store.create(&record, None).await.unwrap(),
        Created::Inserted
    );
    assert_eq!(store.load(&record.id).await.unwrap().unwrap(), record);
    rusqlite_conn(&path)
        .execute_batch("UPDATE sessions SET retired_auth = substr(retired_auth, 1, 20)")
        .unwrap();
    let loaded = store.load(&record.id).await.unwrap().unwrap();
    assert_eq!(loaded.retired.len(), 2);
    assert!(loaded
        .retired
        .iter()
        .all(|p| p.elevation.is_none() && p.auth_time.is_none()));
}
