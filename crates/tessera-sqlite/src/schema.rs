//! Versioned schema migrations, tracked in `PRAGMA user_version`.

use std::path::Path;

use rusqlite::Connection;

use crate::OpenError;

/// Each entry moves the schema from version `i` to `i + 1`. Never edit a released entry; append.
const MIGRATIONS: &[&str] = &[
    // 1: the sessions table. Keys and verifiers are SHA-256 hashes, never tokens.
    "CREATE TABLE sessions (
        id                BLOB PRIMARY KEY NOT NULL,
        verifier          BLOB NOT NULL,
        prev_verifier     BLOB,
        prev_grace_until  INTEGER,
        subject           TEXT,
        created_at        INTEGER NOT NULL,
        last_seen         INTEGER NOT NULL,
        idle_deadline     INTEGER NOT NULL,
        absolute_deadline INTEGER NOT NULL,
        expires_at        INTEGER NOT NULL,
        auth_time         INTEGER,
        auth_level        INTEGER NOT NULL,
        elev_level        INTEGER,
        elev_until        INTEGER,
        version           INTEGER NOT NULL,
        data              TEXT NOT NULL,
        user_agent        TEXT,
        ip_prefix         TEXT
    ) WITHOUT ROWID;
    CREATE INDEX sessions_by_subject ON sessions (subject) WHERE subject IS NOT NULL;
    CREATE INDEX sessions_by_expiry ON sessions (expires_at);",
    // 2: verifiers rotated out before the previous one, for theft detection: 40-byte entries,
    // a SHA-256 hash and a big-endian millisecond grace deadline.
    "ALTER TABLE sessions ADD COLUMN retired BLOB NOT NULL DEFAULT x''",
    // 3: what a rotated-out token may do in its grace window (the step-up and auth time it had
    // before the rotation, never what the rotation granted), each subject's revocation epoch
    // (it outlives the subject's sessions), and the signing keys (e.g. for anonymous CSRF
    // tokens). `retired_auth` holds 20-byte entries parallel to `retired`: a big-endian step-up
    // level (0: none), its big-endian millisecond deadline, and the big-endian millisecond auth
    // time (i64::MIN: none).
    "ALTER TABLE sessions ADD COLUMN prev_elev_level INTEGER;
    ALTER TABLE sessions ADD COLUMN prev_elev_until INTEGER;
    ALTER TABLE sessions ADD COLUMN prev_auth_time INTEGER;
    ALTER TABLE sessions ADD COLUMN retired_auth BLOB NOT NULL DEFAULT x'';
    CREATE TABLE subject_epochs (
        subject TEXT PRIMARY KEY NOT NULL,
        epoch   INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE signing_keys (
        purpose  TEXT PRIMARY KEY NOT NULL,
        newest   BLOB NOT NULL,
        previous BLOB
    ) WITHOUT ROWID",
    // 4: the device key a session is bound to (W3C DBSC), as JSON: its algorithm, the public
    // key as a canonical JWK, its thumbprint and the bound token's deadlines. No secret.
    "ALTER TABLE sessions ADD COLUMN device TEXT",
];

/// Brings the schema to the newest version in one transaction.
pub(crate) fn migrate(conn: &Connection, path: &Path) -> Result<(), OpenError> {
    let sqlite = |source| OpenError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sqlite)?;
    if found > known {
        return Err(OpenError::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    if found == known {
        return Ok(());
    }
    let mut batch = String::from("BEGIN IMMEDIATE;");
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        batch.push_str(sql);
        batch.push_str(&format!(";PRAGMA user_version = {};", i + 1));
    }
    batch.push_str("COMMIT;");
    conn.execute_batch(&batch).map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        sqlite(e)
    })
}
