//! Tessera's fleet store on PostgreSQL.
//!
//! Many app servers share one database and keep every promise of the engine: a revocation on
//! one server is seen by the next request on any other (there is no cache in between), updates
//! are conditional on the version, and the purge deletes in bounded batches that skip rows a
//! request holds, so it never makes a request wait.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tessera_core::Engine;
//! use tessera_postgres::PostgresStore;
//!
//! let store = PostgresStore::connect("postgres://app@127.0.0.1/app?schema=sessions").await?;
//! let engine = Engine::new(store);
//! engine.spawn_purge(std::time::Duration::from_secs(60));
//! # Ok(()) }
//! ```
//!
//! # Why tokio-postgres
//!
//! tokio-postgres (with deadpool-postgres for the pool) is the async PostgreSQL driver most
//! Rust database layers build on; it is small, pipelines statements on one connection, caches
//! prepared statements, and takes rustls for TLS. sqlx would bring a second SQL layer beside
//! rusqlite, compile-time macros and far more code for the dozen statements this store runs.
//!
//! # Pool sizing
//!
//! Each operation holds a connection for one statement (revoke-all and key rotation: one short
//! transaction). `pool_size` (default 16) per app server is enough for thousands of requests a
//! second on a small deployment; a fleet should keep `servers × pool_size` below the
//! database's `max_connections` minus what other clients need, or put PgBouncer in transaction
//! mode in front (no session state is kept on a connection; prepared statements are cached per
//! connection, which PgBouncer 1.21+ supports). A request waits for a free connection at most
//! the URL's `timeout_ms` (default 2 s), then is treated as signed out.
//!
//! # Tables
//!
//! In the URL's `schema` (default `tessera`): `sessions` (id, subject, version, expires_at, the
//! encoded record; indices on subject and expires_at), `subject_epochs`, `signing_keys` and
//! `schema_version`. Migrations are an append-only list run at connect.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod address;
mod schema;
mod sql;

use std::future::Future;
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tessera_core::encoding;
use tessera_core::keyring::{SigningKey, KEYS_KEPT};
use tessera_core::{Created, OutageLog, Record, SessionId, Store, StoreError, Timestamp, Updated};

pub use address::{
    Address, AddressError, ACCEPTED, DEFAULT_POOL_SIZE, DEFAULT_SCHEMA, DEFAULT_TIMEOUT,
};
pub use schema::MigrateError;

use sql::Sql;

/// Why [`PostgresStore::connect`] failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL is not one this store accepts.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// The database could not be reached in time.
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(String),
    /// The schema could not be made ready.
    #[error(transparent)]
    Migrate(#[from] MigrateError),
}

/// Sessions in PostgreSQL. Cloning shares the pool.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    sql: Arc<Sql>,
    address: Arc<Address>,
    outage: Arc<OutageLog>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// Installs ring as rustls' provider unless the program chose one already.
fn tls_connector() -> tokio_postgres_rustls::MakeRustlsConnect {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: a provider is in place either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates leave fewer roots: TLS then fails closed, never open.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_postgres_rustls::MakeRustlsConnect::new(config)
}

fn int(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt("a number does not fit in bigint".into()))
}

impl PostgresStore {
    /// Connects to the database a URL names (see [`ACCEPTED`]), checks it answers within the
    /// URL's timeout, and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self, OpenError> {
        Self::connect_to(Address::parse(url)?).await
    }

    /// Connects to a parsed address.
    pub async fn connect_to(address: Address) -> Result<Self, OpenError> {
        let manager = Manager::from_config(
            address.config.clone(),
            tls_connector(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(address.pool_size)
            .wait_timeout(Some(address.timeout))
            .create_timeout(Some(address.timeout))
            .recycle_timeout(Some(address.timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| OpenError::Connect(e.to_string()))?;
        let mut client = tokio::time::timeout(address.timeout, pool.get())
            .await
            .map_err(|_| OpenError::Connect(format!("no answer within {:?}", address.timeout)))?
            .map_err(|e| OpenError::Connect(e.to_string()))?;
        tokio::time::timeout(
            address.timeout.max(std::time::Duration::from_secs(30)),
            schema::migrate(&mut client, &address.schema),
        )
        .await
        .map_err(|_| OpenError::Connect("the schema migration did not finish in time".into()))??;
        drop(client);
        Ok(Self {
            sql: Arc::new(Sql::new(&address.schema)),
            pool,
            address: Arc::new(address),
            outage: Arc::new(OutageLog::new("PostgreSQL")),
        })
    }

    /// Where this store is (without credentials).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// Runs `op` on a pooled connection, the whole of it (pool wait included) bounded by the
    /// timeout; any failure is `Unavailable`.
    async fn run<'s, T, F, Fut>(&'s self, what: &'static str, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(Object, &'s Sql) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let work = async {
            let client = self.pool.get().await.map_err(|e| {
                StoreError::unavailable(format!("postgres {what}: no connection"), e)
            })?;
            op(client, &self.sql).await
        };
        let outcome = match tokio::time::timeout(self.address.timeout, work).await {
            Ok(outcome) => outcome,
            Err(elapsed) => Err(StoreError::unavailable(
                format!(
                    "postgres {what} took longer than {:?}",
                    self.address.timeout
                ),
                elapsed,
            )),
        };
        match &outcome {
            Ok(_) => self.outage.answered(),
            Err(StoreError::Unavailable { message, .. }) => self.outage.failed(what, message),
            Err(_) => {}
        }
        outcome
    }
}

/// A driver error as a store error.
fn db(what: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |e| StoreError::unavailable(format!("postgres {what} failed"), e)
}

impl Store for PostgresStore {
    async fn create(&self, record: &Record, epoch: Option<u64>) -> Result<Created, StoreError> {
        let blob = encoding::encode(record)?;
        let version = int(record.version)?;
        let expires = record.expires_at().as_millis();
        let id = record.id.as_bytes().as_slice();
        let subject = record.subject.as_deref();
        self.run("create", |c, sql| async move {
            match (subject, epoch) {
                (Some(subject), Some(epoch)) => {
                    let stmt = c
                        .prepare_cached(&sql.create_at_epoch)
                        .await
                        .map_err(db("create"))?;
                    let row = c
                        .query_one(
                            &stmt,
                            &[&subject, &id, &version, &expires, &blob, &int(epoch)?],
                        )
                        .await
                        .map_err(db("create"))?;
                    let (current, inserted): (i64, i64) = (row.get(0), row.get(1));
                    Ok(if inserted == 1 {
                        Created::Inserted
                    } else if u64::try_from(current).ok() != Some(epoch) {
                        Created::Revoked
                    } else {
                        Created::Collision
                    })
                }
                _ => {
                    let stmt = c.prepare_cached(&sql.create).await.map_err(db("create"))?;
                    let n = c
                        .execute(&stmt, &[&id, &subject, &version, &expires, &blob])
                        .await
                        .map_err(db("create"))?;
                    Ok(if n == 1 {
                        Created::Inserted
                    } else {
                        Created::Collision
                    })
                }
            }
        })
        .await
    }

    async fn subject_epoch(&self, subject: &str) -> Result<u64, StoreError> {
        self.run("epoch", |c, sql| async move {
            let stmt = c.prepare_cached(&sql.epoch).await.map_err(db("epoch"))?;
            let row = c.query_opt(&stmt, &[&subject]).await.map_err(db("epoch"))?;
            let epoch: i64 = row.map_or(0, |r| r.get(0));
            u64::try_from(epoch).map_err(|_| StoreError::Corrupt("a negative epoch".into()))
        })
        .await
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        let key = id.as_bytes().as_slice();
        self.run("load", |c, sql| async move {
            let stmt = c.prepare_cached(&sql.load).await.map_err(db("load"))?;
            let row = c.query_opt(&stmt, &[&key]).await.map_err(db("load"))?;
            row.map(|r| encoding::decode(id, r.get::<_, &[u8]>(0)))
                .transpose()
        })
        .await
    }

    async fn update(&self, record: &Record, expected: u64) -> Result<Updated, StoreError> {
        let blob = encoding::encode(record)?;
        let (version, expected) = (int(record.version)?, int(expected)?);
        let expires = record.expires_at().as_millis();
        let id = record.id.as_bytes().as_slice();
        self.run("update", |c, sql| async move {
            let stmt = c.prepare_cached(&sql.update).await.map_err(db("update"))?;
            let written = c
                .execute(&stmt, &[&id, &expected, &version, &expires, &blob])
                .await
                .map_err(db("update"))?;
            if written == 1 {
                return Ok(Updated::Written);
            }
            // A fresh statement, so a row deleted while the update waited reads as missing.
            let exists = c.prepare_cached(&sql.exists).await.map_err(db("update"))?;
            let found = c.query_opt(&exists, &[&id]).await.map_err(db("update"))?;
            Ok(if found.is_some() {
                Updated::VersionMismatch
            } else {
                Updated::Missing
            })
        })
        .await
    }

    async fn delete(&self, id: &SessionId) -> Result<bool, StoreError> {
        let key = id.as_bytes().as_slice();
        self.run("delete", |c, sql| async move {
            let stmt = c.prepare_cached(&sql.delete).await.map_err(db("delete"))?;
            Ok(c.execute(&stmt, &[&key]).await.map_err(db("delete"))? == 1)
        })
        .await
    }

    async fn list_by_subject(&self, subject: &str) -> Result<Vec<Record>, StoreError> {
        self.run("list", |c, sql| async move {
            let stmt = c.prepare_cached(&sql.list).await.map_err(db("list"))?;
            let rows = c.query(&stmt, &[&subject]).await.map_err(db("list"))?;
            rows.iter()
                .map(|r| {
                    let id = <[u8; 32]>::try_from(r.get::<_, &[u8]>(0))
                        .map_err(|_| StoreError::Corrupt("a session id is not 32 bytes".into()))?;
                    encoding::decode(&SessionId::from_bytes(id), r.get::<_, &[u8]>(1))
                })
                .collect()
        })
        .await
    }

    async fn delete_by_subject(
        &self,
        subject: &str,
        except: Option<&SessionId>,
    ) -> Result<Vec<SessionId>, StoreError> {
        let except = except.map(|id| id.as_bytes().to_vec());
        self.run("revoke-all", |mut c, sql| async move {
            // Two statements in one transaction: the delete's snapshot is taken after the epoch
            // upsert has waited for every login holding the epoch row, so it sees them all.
            let tx = c.transaction().await.map_err(db("revoke-all"))?;
            let advance = tx
                .prepare_cached(&sql.advance_epoch)
                .await
                .map_err(db("revoke-all"))?;
            tx.execute(&advance, &[&subject])
                .await
                .map_err(db("revoke-all"))?;
            let delete = tx
                .prepare_cached(&sql.delete_subject)
                .await
                .map_err(db("revoke-all"))?;
            let rows = tx
                .query(&delete, &[&subject, &except])
                .await
                .map_err(db("revoke-all"))?;
            tx.commit().await.map_err(db("revoke-all"))?;
            rows.iter()
                .map(|r| {
                    <[u8; 32]>::try_from(r.get::<_, &[u8]>(0))
                        .map(SessionId::from_bytes)
                        .map_err(|_| StoreError::Corrupt("a session id is not 32 bytes".into()))
                })
                .collect()
        })
        .await
    }

    async fn signing_keys(
        &self,
        purpose: &str,
        fresh: &SigningKey,
    ) -> Result<Vec<SigningKey>, StoreError> {
        let fresh = fresh.as_slice();
        let kept = int(KEYS_KEPT as u64)?;
        self.run("signing keys", |c, sql| async move {
            let insert = c
                .prepare_cached(&sql.insert_first_key)
                .await
                .map_err(db("signing keys"))?;
            c.execute(&insert, &[&purpose, &fresh])
                .await
                .map_err(db("signing keys"))?;
            let select = c
                .prepare_cached(&sql.keys)
                .await
                .map_err(db("signing keys"))?;
            let rows = c
                .query(&select, &[&purpose, &kept])
                .await
                .map_err(db("signing keys"))?;
            rows.iter()
                .map(|r| {
                    SigningKey::try_from(r.get::<_, &[u8]>(0))
                        .map_err(|_| StoreError::Corrupt("a signing key is not 32 bytes".into()))
                })
                .collect()
        })
        .await
    }

    async fn rotate_signing_key(
        &self,
        purpose: &str,
        fresh: &SigningKey,
    ) -> Result<(), StoreError> {
        let fresh = fresh.as_slice();
        let kept = int(KEYS_KEPT as u64)?;
        self.run("rotate signing key", |mut c, sql| async move {
            let e = db("rotate signing key");
            let tx = c.transaction().await.map_err(&e)?;
            tx.execute(&sql.lock_keys, &[&purpose]).await.map_err(&e)?;
            tx.execute(&sql.push_key, &[&purpose, &fresh])
                .await
                .map_err(&e)?;
            tx.execute(&sql.trim_keys, &[&purpose, &kept])
                .await
                .map_err(&e)?;
            tx.commit().await.map_err(&e)
        })
        .await
    }

    async fn purge_expired(&self, now: Timestamp, limit: usize) -> Result<u64, StoreError> {
        let limit = int(limit as u64)?;
        let now = now.as_millis();
        self.run("purge", |c, sql| async move {
            let stmt = c.prepare_cached(&sql.purge).await.map_err(db("purge"))?;
            c.execute(&stmt, &[&now, &limit]).await.map_err(db("purge"))
        })
        .await
    }
}
