//! Tessera's embedded default store: sessions in one SQLite file.
//!
//! * WAL journal, `synchronous=FULL` by default (an acknowledged logout or revocation survives
//!   a power loss; the group commit makes that one fsync per batch), a 5 s busy timeout: readers
//!   never block the writer, and another process holding the file briefly is waited for, not
//!   reported as an outage. [`Durability::RelaxedLosesRecentWritesOnPowerLoss`] trades the
//!   fsync for speed and says what it gives up.
//! * Versioned schema migrations (`PRAGMA user_version`), applied in one transaction on open.
//! * Indices on subject and on the expiry instant; the purge deletes in bounded batches.
//! * Writes go to one writer thread that owns the write connection and commits the writes that
//!   arrived together in one transaction (group commit): under load, one WAL append covers many
//!   logins. Each caller gets its answer only after the commit. Writes stay strictly serial, so
//!   conditional updates keep their meaning.
//! * Reads use a few read-only connections on the calling task: a lookup by primary key takes
//!   microseconds, less than a hop to a blocking thread pool would.
//! * The file is created with mode 0600: it holds no tokens, but it does hold session data.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = tessera_sqlite::SqliteStore::open("sessions.db")?;
//! let engine = tessera_core::Engine::new(store);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod row;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use row::{
    blob32, by_name, finish, read_row, record_params, version_param, INSERT, SELECT_BY_ID,
    SELECT_BY_SUBJECT, UPDATE,
};
use tessera_core::keyring::SigningKey;
use tessera_core::{Created, Record, SessionId, Store, StoreError, Timestamp, Updated};
use writer::{writer_loop, Job};

/// Reader connections kept open.
const READERS: usize = 4;
/// Longest a caller waits for its write (three busy timeouts).
const WRITE_TIMEOUT: Duration = Duration::from_secs(15);
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// SQLite refused to open or configure the file.
    #[error("cannot open SQLite session store {path}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file's schema is newer than this version of Tessera understands.
    #[error(
        "SQLite session store {path} has schema version {found}; this Tessera knows up to {known}"
    )]
    SchemaTooNew {
        /// The file.
        path: PathBuf,
        /// Version found in the file.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// The writer thread could not be started.
    #[error("cannot start the SQLite writer thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The file's permissions could not be restricted.
    #[error("cannot restrict permissions of {path}: {source}")]
    Permissions {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// How hard the store holds on to an acknowledged write when the machine loses power.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// `synchronous=FULL`: every acknowledged write (a logout, a revocation, a rotation) is on
    /// disk before the caller hears "done". The default.
    #[default]
    Full,
    /// `synchronous=NORMAL`: faster, but an OS crash or power loss can roll back the last
    /// acknowledged writes, so an ended session can come back. Only for deployments that
    /// accept that.
    RelaxedLosesRecentWritesOnPowerLoss,
}

/// Sessions in a SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    durability: Durability,
    writer: mpsc::Sender<Job>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date, with
    /// [`Durability::Full`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        Self::open_with(path, Durability::default())
    }

    /// Opens the store with the given durability.
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        let synchronous = match durability {
            Durability::Full => "FULL",
            Durability::RelaxedLosesRecentWritesOnPowerLoss => "NORMAL",
        };
        let sqlite = |source| OpenError::Sqlite {
            path: path.clone(),
            source,
        };
        let existed = path.exists();
        let writer = Connection::open(&path).map_err(sqlite)?;
        if !existed {
            restrict_permissions(&path)?;
        }
        writer
            .busy_timeout(BUSY_TIMEOUT)
            .and_then(|()| writer.pragma_update(None, "journal_mode", "WAL"))
            .and_then(|()| writer.pragma_update(None, "synchronous", synchronous))
            .map_err(sqlite)?;
        schema::migrate(&writer, &path)?;
        let (sender, jobs) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("tessera-sqlite-writer".into())
            .spawn(move || writer_loop(writer, jobs))
            .map_err(OpenError::Thread)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(sqlite)?;
            reader.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
            readers.push(Mutex::new(reader));
        }
        Ok(Self {
            path,
            durability,
            writer: sender,
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How durable acknowledged writes are.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Runs `f` on the writer thread and returns its result once its transaction committed.
    async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Some(conn) => f(conn),
                None => Err(StoreError::Unavailable {
                    message: "SQLite write transaction could not begin (file busy)".into(),
                    source: None,
                }),
            };
            Box::new(move |committed| {
                let _ = tx.send(if committed {
                    result
                } else {
                    Err(commit_failed())
                });
            })
        });
        self.writer.send(job).map_err(|_| writer_gone())?;
        // Bounded: a writer stuck behind another process's lock must not hang requests. On a
        // timeout the write may still land later; the caller fails closed meanwhile.
        match tokio::time::timeout(WRITE_TIMEOUT, rx).await {
            Ok(answer) => answer.map_err(|_| writer_gone())?,
            Err(_) => Err(StoreError::Unavailable {
                message: "SQLite write timed out".into(),
                source: None,
            }),
        }
    }

    fn reader(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        for reader in &self.readers {
            if let Ok(guard) = reader.try_lock() {
                return Ok(guard);
            }
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len().max(1);
        self.readers
            .get(i)
            .ok_or_else(poisoned)?
            .lock()
            .map_err(|_| poisoned())
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) -> Result<(), OpenError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| {
        OpenError::Permissions {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(not(unix))]
fn restrict_permissions(_: &Path) -> Result<(), OpenError> {
    Ok(())
}

fn writer_gone() -> StoreError {
    StoreError::Unavailable {
        message: "SQLite writer thread stopped".into(),
        source: None,
    }
}

fn commit_failed() -> StoreError {
    StoreError::Unavailable {
        message: "SQLite commit failed".into(),
        source: None,
    }
}

fn poisoned() -> StoreError {
    StoreError::Unavailable {
        message: "SQLite connection lock poisoned".into(),
        source: None,
    }
}

fn failed(e: rusqlite::Error) -> StoreError {
    match e {
        // The file answered, with a value this build does not accept: a corrupt row, not an
        // outage. (The messages name the column and the type, never the value.)
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => {
            StoreError::Corrupt(format!("a stored session row is not valid: {e}"))
        }
        e => StoreError::unavailable("SQLite query failed", e),
    }
}

/// The subject's revocation epoch (0 when it has none yet).
fn epoch_of(conn: &Connection, subject: &str) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT epoch FROM subject_epochs WHERE subject = ?1")
        .and_then(|mut s| {
            s.query_row(params![subject], |row| row.get::<_, i64>(0))
                .optional()
        })
        .map(Option::unwrap_or_default)
        .map_err(failed)
}

fn revoke_all(
    conn: &Connection,
    subject: &str,
    except: &[u8],
) -> Result<Vec<SessionId>, StoreError> {
    let ids = conn
        .prepare_cached("DELETE FROM sessions WHERE subject = ?1 AND id != ?2 RETURNING id")
        .and_then(|mut s| {
            s.query_map(params![subject, except], |row| blob32(row, "id"))?
                .collect::<rusqlite::Result<Vec<[u8; 32]>>>()
        })
        .map_err(failed)?;
    conn.prepare_cached(
        "INSERT INTO subject_epochs (subject, epoch) VALUES (?1, 1) \
         ON CONFLICT(subject) DO UPDATE SET epoch = epoch + 1",
    )
    .and_then(|mut s| s.execute(params![subject]))
    .map_err(failed)?;
    Ok(ids.into_iter().map(SessionId::from_bytes).collect())
}

impl Store for SqliteStore {
    async fn create(&self, record: &Record, epoch: Option<u64>) -> Result<Created, StoreError> {
        let p = record_params(record)?;
        let condition = match (&record.subject, epoch) {
            (Some(subject), Some(epoch)) => Some((subject.clone(), version_param(epoch))),
            _ => None,
        };
        self.write(move |conn| {
            // The writer runs one job at a time: nothing can move the epoch between the check
            // and the insert.
            if let Some((subject, expected)) = &condition {
                if epoch_of(conn, subject)? != *expected {
                    return Ok(Created::Revoked);
                }
            }
            let n = conn
                .prepare_cached(&INSERT)
                .and_then(|mut s| s.execute(by_name(&p).as_slice()))
                .map_err(failed)?;
            Ok(if n == 1 {
                Created::Inserted
            } else {
                Created::Collision
            })
        })
        .await
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        let raw = {
            let conn = self.reader()?;
            conn.prepare_cached(&SELECT_BY_ID)
                .and_then(|mut s| {
                    s.query_row(params![id.as_bytes().as_slice()], read_row)
                        .optional()
                })
                .map_err(failed)?
        };
        raw.map(finish).transpose()
    }

    async fn update(&self, record: &Record, expected: u64) -> Result<Updated, StoreError> {
        let mut p = record_params(record)?;
        p.push((":expected", Box::new(version_param(expected))));
        let id = record.id.as_bytes().to_vec();
        self.write(move |conn| {
            let n = conn
                .prepare_cached(&UPDATE)
                .and_then(|mut s| s.execute(by_name(&p).as_slice()))
                .map_err(failed)?;
            if n == 1 {
                return Ok(Updated::Written);
            }
            // The writer thread runs one statement at a time: no write can slip in between.
            let exists = conn
                .prepare_cached("SELECT 1 FROM sessions WHERE id = ?1")
                .and_then(|mut s| s.exists(params![id]))
                .map_err(failed)?;
            Ok(if exists {
                Updated::VersionMismatch
            } else {
                Updated::Missing
            })
        })
        .await
    }

    async fn delete(&self, id: &SessionId) -> Result<bool, StoreError> {
        let id = id.as_bytes().to_vec();
        self.write(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM sessions WHERE id = ?1")
                .and_then(|mut s| s.execute(params![id]))
                .map_err(failed)?;
            Ok(n == 1)
        })
        .await
    }

    async fn subject_epoch(&self, subject: &str) -> Result<u64, StoreError> {
        let conn = self.reader()?;
        let epoch = epoch_of(&conn, subject)?;
        Ok(u64::try_from(epoch).unwrap_or(0))
    }

    async fn list_by_subject(&self, subject: &str) -> Result<Vec<Record>, StoreError> {
        let raws = {
            let conn = self.reader()?;
            let mut stmt = conn.prepare_cached(&SELECT_BY_SUBJECT).map_err(failed)?;
            let rows = stmt.query_map(params![subject], read_row).map_err(failed)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(failed)?
        };
        raws.into_iter().map(finish).collect()
    }

    async fn delete_by_subject(
        &self,
        subject: &str,
        except: Option<&SessionId>,
    ) -> Result<Vec<SessionId>, StoreError> {
        let except = except.map(|id| id.as_bytes().to_vec()).unwrap_or_default();
        let subject = subject.to_owned();
        self.write(move |conn| {
            // One savepoint: the deletes and the epoch move commit together or not at all,
            // inside a group-commit batch or on their own.
            conn.execute_batch("SAVEPOINT revoke_all").map_err(failed)?;
            let result = revoke_all(conn, &subject, &except);
            let end = if result.is_ok() {
                "RELEASE revoke_all"
            } else {
                "ROLLBACK TO revoke_all; RELEASE revoke_all"
            };
            conn.execute_batch(end).map_err(failed)?;
            result
        })
        .await
    }

    async fn signing_keys(
        &self,
        purpose: &str,
        fresh: &SigningKey,
    ) -> Result<Vec<SigningKey>, StoreError> {
        let (purpose, fresh) = (purpose.to_owned(), fresh.to_vec());
        // On the writer: the insert-if-absent and the read must see one state.
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO signing_keys (purpose, newest) VALUES (?1, ?2) \
                 ON CONFLICT(purpose) DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![purpose, fresh]))
            .map_err(failed)?;
            let (newest, previous) = conn
                .prepare_cached("SELECT newest, previous FROM signing_keys WHERE purpose = ?1")
                .and_then(|mut s| {
                    s.query_row(params![purpose], |row| {
                        Ok((
                            blob32(row, "newest")?,
                            row.get::<_, Option<Vec<u8>>>("previous")?,
                        ))
                    })
                })
                .map_err(failed)?;
            let mut keys = vec![newest];
            if let Some(previous) = previous {
                keys.push(previous.try_into().map_err(|_| {
                    StoreError::Corrupt("a stored signing key is not 32 bytes".into())
                })?);
            }
            Ok(keys)
        })
        .await
    }

    async fn rotate_signing_key(
        &self,
        purpose: &str,
        fresh: &SigningKey,
    ) -> Result<(), StoreError> {
        let (purpose, fresh) = (purpose.to_owned(), fresh.to_vec());
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO signing_keys (purpose, newest) VALUES (?1, ?2) \
                 ON CONFLICT(purpose) DO UPDATE SET previous = newest, newest = excluded.newest",
            )
            .and_then(|mut s| s.execute(params![purpose, fresh]))
            .map_err(failed)?;
            Ok(())
        })
        .await
    }

    async fn purge_expired(&self, now: Timestamp, limit: usize) -> Result<u64, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.write(move |conn| {
            let n = conn
                .prepare_cached(
                    "DELETE FROM sessions WHERE id IN \
                     (SELECT id FROM sessions WHERE expires_at <= ?1 LIMIT ?2)",
                )
                .and_then(|mut s| s.execute(params![now.as_millis(), limit]))
                .map_err(failed)?;
            Ok(n as u64)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synchronous(store: &SqliteStore) -> i64 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(store.write(|conn| {
                conn.pragma_query_value(None, "synchronous", |row| row.get::<_, i64>(0))
                    .map_err(failed)
            }))
            .unwrap()
    }

    /// Item 10 of the hardening review: on d318b6c the writer ran `synchronous=NORMAL`, so an
    /// OS crash could roll back an acknowledged logout. The writer connection itself is asked.
    #[test]
    fn acknowledged_writes_are_fsynced_unless_relaxed_by_name() {
        let dir = std::env::temp_dir().join(format!("tessera-sync-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let full = SqliteStore::open(dir.join("full.db")).unwrap();
        assert_eq!(full.durability(), Durability::Full);
        assert_eq!(synchronous(&full), 2, "FULL");
        let relaxed = SqliteStore::open_with(
            dir.join("relaxed.db"),
            Durability::RelaxedLosesRecentWritesOnPowerLoss,
        )
        .unwrap();
        assert_eq!(synchronous(&relaxed), 1, "NORMAL");
    }
}
