//! `--store URL`: which store backs the engine.

use anyhow::{bail, Context as _};
use tessera_core::keyring::SigningKey;
use tessera_core::{
    Created, MemoryStore, Record, SessionId, Store, StoreError, Timestamp, Updated,
};
use tessera_postgres::PostgresStore;
use tessera_redis::RedisStore;
use tessera_sqlite::{Durability, SqliteStore};

/// The query that opts a SQLite store out of fsync-per-commit, named for what it gives up.
const RELAXED: &str = "durability=relaxed-loses-recent-writes-on-power-loss";

/// One of the stores this build knows, chosen at run time.
pub(crate) enum AnyStore {
    Memory(MemoryStore),
    Sqlite(SqliteStore),
    Redis(RedisStore),
    Postgres(PostgresStore),
}

impl AnyStore {
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Memory(_) => "memory:// (sessions vanish when the process stops)".into(),
            Self::Sqlite(s) => match s.durability() {
                Durability::Full => format!("sqlite://{}", s.path().display()),
                _ => format!(
                    "sqlite://{}?{RELAXED} (an OS crash or power loss can undo recent logouts)",
                    s.path().display()
                ),
            },
            Self::Redis(s) => {
                let a = s.address();
                format!(
                    "Redis{} (key prefix {:?})",
                    if a.is_cluster() { " Cluster" } else { "" },
                    a.prefix()
                )
            }
            Self::Postgres(s) => format!(
                "PostgreSQL (schema {:?}{})",
                s.address().schema(),
                if s.address().tls() { ", TLS" } else { "" }
            ),
        }
    }
}

/// The forms `--store` accepts, for the one-line error.
const FORMS: &str = "sqlite://PATH, memory://, redis://HOST[:PORT][/DB], rediss://…, \
redis+cluster://HOST:PORT,HOST:PORT,…, postgres://[USER@]HOST[:PORT]/DATABASE";

/// Opens the store a URL names: `sqlite://PATH` (durable: every acknowledged write is
/// fsynced), `sqlite://PATH?durability=relaxed-loses-recent-writes-on-power-loss`,
/// `memory://`, Redis (`redis://`, `rediss://`, `redis+cluster://`, `rediss+cluster://`) or
/// PostgreSQL (`postgres://`, `postgresql://`); a server must answer within its timeout.
pub(crate) async fn open(url: &str) -> anyhow::Result<AnyStore> {
    if let Some(rest) = url.strip_prefix("sqlite://") {
        let (path, durability) = match rest.split_once('?') {
            None => (rest, Durability::Full),
            Some((path, RELAXED)) => (path, Durability::RelaxedLosesRecentWritesOnPowerLoss),
            Some((_, other)) => {
                bail!("--store {url}: unknown option {other:?} (the only one is {RELAXED})")
            }
        };
        if path.is_empty() {
            bail!("--store sqlite:// needs a file path, e.g. sqlite://sessions.db");
        }
        let store =
            SqliteStore::open_with(path, durability).with_context(|| format!("--store {url}"))?;
        return Ok(AnyStore::Sqlite(store));
    }
    if url == "memory://" {
        return Ok(AnyStore::Memory(MemoryStore::new()));
    }
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    if scheme.starts_with("redis") || scheme.starts_with("valkey") {
        let store = RedisStore::connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("--store: {e}"))?;
        return Ok(AnyStore::Redis(store));
    }
    if scheme == "postgres" || scheme == "postgresql" {
        let store = PostgresStore::connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("--store: {e}"))?;
        return Ok(AnyStore::Postgres(store));
    }
    bail!("--store: not a store URL this build knows; accepted forms: {FORMS}")
}

/// Calls one store. The fleet stores' futures are boxed: an `AnyStore` future is as large as
/// its largest variant's, and the layer moves the whole request future, so an inline Redis or
/// PostgreSQL future made every memory and SQLite request copy theirs (about 1.6 % of a memory
/// GET /me's CPU in perf); one allocation beside a network round trip costs less.
macro_rules! delegate {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Memory($s) => $call.await,
            AnyStore::Sqlite($s) => $call.await,
            AnyStore::Redis($s) => Box::pin($call).await,
            AnyStore::Postgres($s) => Box::pin($call).await,
        }
    };
}

impl Store for AnyStore {
    async fn create(&self, r: &Record, epoch: Option<u64>) -> Result<Created, StoreError> {
        delegate!(self, s => s.create(r, epoch))
    }
    async fn subject_epoch(&self, subject: &str) -> Result<u64, StoreError> {
        delegate!(self, s => s.subject_epoch(subject))
    }
    async fn signing_keys(
        &self,
        purpose: &str,
        fresh: &SigningKey,
    ) -> Result<Vec<SigningKey>, StoreError> {
        delegate!(self, s => s.signing_keys(purpose, fresh))
    }
    async fn rotate_signing_key(
        &self,
        purpose: &str,
        fresh: &SigningKey,
    ) -> Result<(), StoreError> {
        delegate!(self, s => s.rotate_signing_key(purpose, fresh))
    }
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        delegate!(self, s => s.load(id))
    }
    async fn load_fresh(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        delegate!(self, s => s.load_fresh(id))
    }
    async fn update(&self, r: &Record, expected: u64) -> Result<Updated, StoreError> {
        delegate!(self, s => s.update(r, expected))
    }
    async fn delete(&self, id: &SessionId) -> Result<bool, StoreError> {
        delegate!(self, s => s.delete(id))
    }
    async fn list_by_subject(&self, subject: &str) -> Result<Vec<Record>, StoreError> {
        delegate!(self, s => s.list_by_subject(subject))
    }
    async fn delete_by_subject(
        &self,
        subject: &str,
        except: Option<&SessionId>,
    ) -> Result<Vec<SessionId>, StoreError> {
        delegate!(self, s => s.delete_by_subject(subject, except))
    }
    async fn purge_expired(&self, now: Timestamp, limit: usize) -> Result<u64, StoreError> {
        delegate!(self, s => s.purge_expired(now, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn store_urls() {
        assert!(matches!(open("memory://").await, Ok(AnyStore::Memory(_))));
        for bad in [
            "",
            "redis://",
            "redis://x?ttl=1",
            "rediss://x#insecure",
            "sqlite://",
            "memory",
            "postgres://",
            "postgres://db.example/x?sslmode=disable",
            "sqlite://x.db?durability=normal",
            "sqlite://?durability=relaxed-loses-recent-writes-on-power-loss",
        ] {
            let err = open(bad)
                .await
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default();
            assert!(err.contains("--store"), "{bad}: {err}");
        }
        let dir = std::env::temp_dir().join(format!("tessera-url-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.db");
        let durable = open(&format!("sqlite://{}", path.display())).await.unwrap();
        assert!(matches!(&durable, AnyStore::Sqlite(s) if s.durability() == Durability::Full));
        let relaxed = open(&format!(
            "sqlite://{}?{RELAXED}",
            dir.join("r.db").display()
        ))
        .await
        .unwrap();
        assert!(matches!(&relaxed, AnyStore::Sqlite(s) if s.durability() != Durability::Full));
        assert!(relaxed.describe().contains("power loss"));
        let missing_dir = format!("sqlite://{}/no/such/dir/s.db", dir.display());
        assert!(open(&missing_dir).await.is_err());
    }

    #[tokio::test]
    async fn a_resolve_through_any_store_is_no_larger_than_the_largest_local_store() {
        let any = open("memory://").await.unwrap();
        let memory = MemoryStore::new();
        let dir = std::env::temp_dir().join(format!("tessera-size-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sqlite = SqliteStore::open(dir.join("s.db")).unwrap();
        let id = SessionId::from_bytes([7; 32]);
        let local =
            std::mem::size_of_val(&memory.load(&id)).max(std::mem::size_of_val(&sqlite.load(&id)));
        let through_any = std::mem::size_of_val(&any.load(&id));
        eprintln!("load future: memory/SQLite {local} B, AnyStore {through_any} B");
        // The match itself and the boxed fleet futures add a few words, never a fleet future.
        assert!(
            through_any <= local + 64,
            "{through_any} B against {local} B"
        );
    }
}
