//! Tessera's fleet store on Redis or Valkey, standalone or Cluster.
//!
//! Many app servers share one Redis and keep every promise of the engine: a revocation on one
//! server is seen by the next request on any other, because by default there is no cache in
//! between (the opt-in `?accept_revocation_lag_ms=N` keeps a local copy that sees another
//! server's revocation up to N ms late, and costs no round trip per resolve). Each
//! atomic step is one Lua script on the keys of one hash slot ([`keys`](crate#key-layout)), so
//! the same code runs on a single server and on a Cluster; the one exception is a login on a
//! single server, where one script checks the epoch, registers and inserts at once.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tessera_core::Engine;
//! use tessera_redis::RedisStore;
//!
//! let store = RedisStore::connect("redis://127.0.0.1:6379/0?prefix=myapp").await?;
//! let engine = Engine::new(store);
//! # Ok(()) }
//! ```
//!
//! # Why redis-rs
//!
//! The `redis` crate is the most used Redis client for Rust and is maintained by the Redis
//! organisation; it has everything this store needs in one dependency: multiplexed tokio
//! connections, a connection manager that reconnects with backoff, Cluster support that follows
//! slot moves and failovers, scripts sent by hash (`EVALSHA`) and rustls for `rediss://`. fred
//! is as capable but larger; one client is enough.
//!
//! # Key layout
//!
//! A session lives under its own key `P:s:{ID}`; a subject's revocation epoch and index of
//! sessions under `P:u:{TAG}:e` and `P:u:{TAG}:i`. Sessions expire in Redis at their deadline
//! (`PEXPIREAT`). The index is a sorted set scored by each session's absolute deadline, which
//! never changes: members are dropped when that deadline passes (at every login and revoke-all
//! of the subject) and when a session is deleted, so it never grows beyond the sessions a
//! subject started within one absolute lifetime. No request path uses `KEYS` or `SCAN`.
//!
//! # Revoke-all across slots
//!
//! A subject's sessions live in many slots, so revoke-all cannot be one script. It is two steps:
//! one script on the subject's slot advances the epoch and reads the index; then one script per
//! session deletes it and leaves a tombstone until its absolute deadline. A login does the
//! reverse: one script on the subject's slot checks the epoch and adds the session to the index;
//! then one on the session's slot inserts it unless a tombstone is there. Whatever the
//! interleaving, a login either registered before the epoch moved (then revoke-all finds it in
//! the index and tombstones its key, so its insert fails or its record is deleted) or after
//! (then its epoch check fails). `Store::delete_by_subject` returns only when every session has
//! been deleted.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod address;
mod cache;
mod connection;
mod keys;
mod scripts;

use std::sync::Arc;

use redis::Value;
use tessera_core::encoding;
use tessera_core::keyring::{SigningKey, KEYS_KEPT};
use tessera_core::{Created, Record, SessionId, Store, StoreError, Timestamp, Updated};

pub use address::{Address, AddressError, ACCEPTED, DEFAULT_PREFIX, DEFAULT_TIMEOUT};
pub use connection::ConnectError;

use cache::{Cache, Lookup};
use connection::Calls;
use keys::Keys;
use scripts::Scripts;

/// Why [`RedisStore::connect`] failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL is not one this store accepts.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// Redis could not be reached.
    #[error(transparent)]
    Connect(#[from] ConnectError),
}

/// Sessions in Redis or Valkey. Cloning shares the connection.
#[derive(Clone)]
pub struct RedisStore {
    calls: Calls,
    keys: Keys,
    scripts: Arc<Scripts>,
    address: Arc<Address>,
    /// The local copy, when the URL accepts a revocation lag (`?accept_revocation_lag_ms=N`).
    cache: Option<Arc<Cache>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to the store a URL names (see [`ACCEPTED`]) and checks it answers. Fails within
    /// the URL's timeout (default [`DEFAULT_TIMEOUT`]) when it does not.
    pub async fn connect(url: &str) -> Result<Self, OpenError> {
        Self::connect_to(Address::parse(url)?).await
    }

    /// Connects to a parsed address.
    pub async fn connect_to(address: Address) -> Result<Self, OpenError> {
        let link = connection::connect(&address).await?;
        let cache = match (address.revocation_lag, address.nodes.first()) {
            (Some(lag), Some(node)) => Some(Cache::start(node, lag, address.timeout)),
            _ => None,
        };
        Ok(Self {
            cache,
            calls: Calls {
                link,
                timeout: address.timeout,
                health: Arc::new(tessera_core::OutageLog::new("Redis")),
                wait_replicas: address.wait_replicas,
            },
            keys: Keys::new(&address.prefix),
            scripts: Arc::new(Scripts::new()),
            address: Arc::new(address),
        })
    }

    /// Where this store is (without credentials).
    pub fn address(&self) -> &Address {
        &self.address
    }

    async fn revoke_one(
        &self,
        id: SessionId,
        tag: &str,
        until: i64,
    ) -> Result<Option<SessionId>, StoreError> {
        let key = self.keys.session(&id);
        let deleted: Result<i64, _> = self
            .calls
            .run(
                "revoke",
                self.scripts.revoke_one.key(&key).arg(tag).arg(until),
            )
            .await;
        self.forget(&key);
        let deleted = deleted?;
        self.calls.replicated(&self.keys.session(&id)).await?;
        Ok((deleted == 1).then_some(id))
    }

    /// Drops `key` from the local copy: this process has just written it (or tried to).
    fn forget(&self, key: &str) {
        if let Some(cache) = &self.cache {
            cache.forget(key.as_bytes());
        }
    }
}

/// A write id unique to this call in this process and, by its random base, across processes:
/// how a re-sent update recognises itself.
fn write_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static BASE: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = BASE.get_or_init(|| {
        let mut bytes = [0u8; 8];
        // Without randomness, fall back to the clock and the pid: ids stay distinct enough for
        // their one job (telling a client's retry from another caller's write).
        if getrandom::fill(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            bytes = (nanos ^ u64::from(std::process::id()).rotate_left(32)).to_le_bytes();
        }
        u64::from_le_bytes(bytes)
    });
    format!("{base:x}.{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn millis(t: Timestamp) -> i64 {
    // PEXPIREAT needs a positive time; 1 ms after the epoch is long past, so the key goes at once.
    t.as_millis().max(1)
}

impl Store for RedisStore {
    async fn create(&self, record: &Record, epoch: Option<u64>) -> Result<Created, StoreError> {
        let blob = encoding::encode(record)?;
        let tag = record
            .subject
            .as_deref()
            .map(Keys::subject_tag)
            .unwrap_or_default();
        if record.subject.is_some() && !self.address.cluster {
            let outcome: i64 = self
                .calls
                .run(
                    "create",
                    self.scripts
                        .create_standalone
                        .key(self.keys.epoch(&tag))
                        .key(self.keys.index(&tag))
                        .key(self.keys.session(&record.id))
                        .arg(epoch.map(|e| e.to_string()).unwrap_or_default())
                        .arg(record.id.to_hex())
                        .arg(millis(record.absolute_deadline))
                        .arg(record.version)
                        .arg(blob)
                        .arg(millis(record.expires_at()))
                        .arg(&tag),
                )
                .await?;
            return Ok(match outcome {
                0 => Created::Inserted,
                2 => Created::Revoked,
                _ => Created::Collision,
            });
        }
        if record.subject.is_some() {
            let registered: i64 = self
                .calls
                .run(
                    "register",
                    self.scripts
                        .register
                        .key(self.keys.epoch(&tag))
                        .key(self.keys.index(&tag))
                        .arg(epoch.map(|e| e.to_string()).unwrap_or_default())
                        .arg(record.id.to_hex())
                        .arg(millis(record.absolute_deadline)),
                )
                .await?;
            if registered == 0 {
                return Ok(Created::Revoked);
            }
        }
        let outcome: i64 = self
            .calls
            .run(
                "insert",
                self.scripts
                    .insert
                    .key(self.keys.session(&record.id))
                    .arg(record.version)
                    .arg(blob)
                    .arg(millis(record.expires_at()))
                    .arg(&tag),
            )
            .await?;
        Ok(match outcome {
            0 => Created::Inserted,
            2 => Created::Revoked,
            _ => Created::Collision,
        })
    }

    async fn subject_epoch(&self, subject: &str) -> Result<u64, StoreError> {
        // Never from the local copy: logins are rare per subject, and a copy of every subject's
        // epoch would cost more (a fill, and a key Redis tracks) than the round trip it saves.
        let tag = Keys::subject_tag(subject);
        let epoch: Option<u64> = self
            .calls
            .query("epoch", redis::cmd("GET").arg(self.keys.epoch(&tag)))
            .await?;
        Ok(epoch.unwrap_or(0))
    }

    /// Through the local copy when there is one: a hit costs no round trip; a miss reads over
    /// the copy's tracking connection and keeps what it read.
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        let Some(cache) = &self.cache else {
            return self.load_fresh(id).await;
        };
        let key = self.keys.session(id);
        match cache.lookup(key.as_bytes()) {
            Lookup::Hit(record) => Ok(Some(record)),
            Lookup::Miss(mut link, fill) => {
                let blob: Option<Vec<u8>> = self
                    .calls
                    .query_on(&mut link, "load", redis::cmd("HGET").arg(&key).arg("r"))
                    .await?;
                let record = blob.map(|b| encoding::decode(id, &b)).transpose()?;
                if let Some(record) = &record {
                    cache.fill(fill, key.as_bytes(), record.clone());
                }
                Ok(record)
            }
            Lookup::Bypass => self.load_fresh(id).await,
        }
    }

    async fn load_fresh(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        let key = self.keys.session(id);
        let blob: Option<Vec<u8>> = self
            .calls
            .query("load", redis::cmd("HGET").arg(&key).arg("r"))
            .await?;
        blob.map(|b| encoding::decode(id, &b)).transpose()
    }

    async fn update(&self, record: &Record, expected: u64) -> Result<Updated, StoreError> {
        let blob = encoding::encode(record)?;
        let key = self.keys.session(&record.id);
        let outcome: Result<i64, _> = self
            .calls
            .run(
                "update",
                self.scripts
                    .update
                    .key(self.keys.session(&record.id))
                    .arg(expected)
                    .arg(record.version)
                    .arg(blob)
                    .arg(millis(record.expires_at()))
                    .arg(write_id()),
            )
            .await;
        // Whatever the outcome, what this process held may be stale now.
        self.forget(&key);
        Ok(match outcome? {
            0 => Updated::Written,
            1 => Updated::VersionMismatch,
            _ => Updated::Missing,
        })
    }

    async fn delete(&self, id: &SessionId) -> Result<bool, StoreError> {
        let key = self.keys.session(id);
        let tag: Result<Option<String>, _> = self
            .calls
            .run("delete", &self.scripts.delete.key(&key))
            .await;
        self.forget(&key);
        let tag = tag?;
        let Some(tag) = tag else {
            return Ok(false);
        };
        self.calls.replicated(&self.keys.session(id)).await?;
        if !tag.is_empty() {
            // Tidy the subject's index. Safe to skip on failure: the member goes when the
            // session's absolute deadline passes, and a deleted id is never inserted again.
            let _: Result<i64, _> = self
                .calls
                .query(
                    "index",
                    redis::cmd("ZREM")
                        .arg(self.keys.index(&tag))
                        .arg(id.to_hex()),
                )
                .await;
        }
        Ok(true)
    }

    async fn list_by_subject(&self, subject: &str) -> Result<Vec<Record>, StoreError> {
        let tag = Keys::subject_tag(subject);
        let ids: Vec<String> = self
            .calls
            .query(
                "list",
                redis::cmd("ZRANGE")
                    .arg(self.keys.index(&tag))
                    .arg(0)
                    .arg(-1),
            )
            .await?;
        let mut loads = tokio::task::JoinSet::new();
        for id in ids.iter().filter_map(|h| SessionId::from_hex(h)) {
            let store = self.clone();
            // Never from the local copy: the engine ends sessions on this list (the oldest past
            // a subject's limit), and a copy's record may be one another server just revoked.
            loads.spawn(async move { store.load_fresh(&id).await });
        }
        let mut records = Vec::with_capacity(ids.len());
        while let Some(joined) = loads.join_next().await {
            let loaded = joined.map_err(|e| StoreError::unavailable("redis list failed", e))??;
            if let Some(record) = loaded.filter(|r| r.subject.as_deref() == Some(subject)) {
                records.push(record);
            }
        }
        Ok(records)
    }

    async fn delete_by_subject(
        &self,
        subject: &str,
        except: Option<&SessionId>,
    ) -> Result<Vec<SessionId>, StoreError> {
        let tag = Keys::subject_tag(subject);
        let listed: Vec<Value> = self
            .calls
            .run(
                "revoke-all",
                self.scripts
                    .revoke_begin
                    .key(self.keys.epoch(&tag))
                    .key(self.keys.index(&tag)),
            )
            .await?;
        self.calls.replicated(&self.keys.epoch(&tag)).await?;
        let members = index_members(&listed)?;
        // The fan-out runs as a task of its own: if the caller gives up (a cancelled request),
        // the revocation still runs to the end instead of stopping half done.
        let store = self.clone();
        let fan_out_tag = tag.clone();
        let except = except.copied();
        let fan_out = tokio::spawn(async move {
            let mut kills = tokio::task::JoinSet::new();
            for (id, until) in members.into_iter().filter(|(id, _)| Some(*id) != except) {
                let store = store.clone();
                let tag = fan_out_tag.clone();
                kills.spawn(async move { store.revoke_one(id, &tag, until).await });
            }
            let mut deleted = Vec::new();
            let mut failure = None;
            while let Some(joined) = kills.join_next().await {
                match joined {
                    Ok(Ok(Some(id))) => deleted.push(id),
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => failure = Some(e),
                    Err(e) => failure = Some(StoreError::unavailable("redis revoke failed", e)),
                }
            }
            (deleted, failure)
        });
        let (deleted, failure) = fan_out
            .await
            .map_err(|e| StoreError::unavailable("redis revoke failed", e))?;
        if let Some(e) = failure {
            // Not every session is known to be gone: the caller must not report success.
            return Err(e);
        }
        if !deleted.is_empty() {
            let mut zrem = redis::cmd("ZREM");
            zrem.arg(self.keys.index(&tag));
            for id in &deleted {
                zrem.arg(id.to_hex());
            }
            let _: Result<i64, _> = self.calls.query("index", &zrem).await;
        }
        Ok(deleted)
    }

    async fn signing_keys(
        &self,
        purpose: &str,
        fresh: &SigningKey,
    ) -> Result<Vec<SigningKey>, StoreError> {
        let keys: Vec<Vec<u8>> = self
            .calls
            .run(
                "signing keys",
                self.scripts
                    .signing_keys
                    .key(self.keys.signing_keys(purpose))
                    .arg(&fresh[..])
                    .arg(KEYS_KEPT),
            )
            .await?;
        keys.into_iter()
            .map(|k| {
                SigningKey::try_from(k.as_slice())
                    .map_err(|_| StoreError::Corrupt("a signing key is not 32 bytes".into()))
            })
            .collect()
    }

    async fn rotate_signing_key(
        &self,
        purpose: &str,
        fresh: &SigningKey,
    ) -> Result<(), StoreError> {
        let _: i64 = self
            .calls
            .run(
                "rotate signing key",
                self.scripts
                    .rotate_signing_key
                    .key(self.keys.signing_keys(purpose))
                    .arg(&fresh[..])
                    .arg(KEYS_KEPT),
            )
            .await?;
        Ok(())
    }

    /// Redis deletes each session itself at its deadline (`PEXPIREAT`), so there is never
    /// anything left to purge.
    async fn purge_expired(&self, _now: Timestamp, _limit: usize) -> Result<u64, StoreError> {
        Ok(0)
    }
}

/// Reads `[id, score, id, score, ...]` as session ids and absolute deadlines.
fn index_members(listed: &[Value]) -> Result<Vec<(SessionId, i64)>, StoreError> {
    let corrupt = || StoreError::Corrupt("a subject index holds something else".into());
    listed
        .chunks(2)
        .map(|pair| {
            let [id, score] = pair else {
                return Err(corrupt());
            };
            let id: String = redis::from_redis_value(id.clone()).map_err(|_| corrupt())?;
            let score: f64 = redis::from_redis_value(score.clone()).map_err(|_| corrupt())?;
            let id = SessionId::from_hex(&id).ok_or_else(corrupt)?;
            // Scores are whole milliseconds well inside f64's exact range.
            Ok((id, score as i64))
        })
        .collect()
}
