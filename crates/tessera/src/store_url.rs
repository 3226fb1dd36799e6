//! `--store URL`: which store backs the engine.

use anyhow::{bail, Context as _};
use tessera_core::{
    Created, MemoryStore, Record, SessionId, Store, StoreError, Timestamp, Updated,
};
use tessera_sqlite::SqliteStore;

/// One of the stores this build knows, chosen at run time.
pub(crate) enum AnyStore {
    Memory(MemoryStore),
    Sqlite(SqliteStore),
}

impl AnyStore {
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Memory(_) => "memory:// (sessions vanish when the process stops)".into(),
            Self::Sqlite(s) => format!("sqlite://{}", s.path().display()),
        }
    }
}

/// Opens the store a URL names: `sqlite://PATH` or `memory://`.
pub(crate) fn open(url: &str) -> anyhow::Result<AnyStore> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            bail!("--store sqlite:// needs a file path, e.g. sqlite://sessions.db");
        }
        let store = SqliteStore::open(path).with_context(|| format!("--store {url}"))?;
        return Ok(AnyStore::Sqlite(store));
    }
    if url == "memory://" {
        return Ok(AnyStore::Memory(MemoryStore::new()));
    }
    bail!("--store {url:?} is not a store URL this build knows (sqlite://PATH or memory://)")
}

macro_rules! delegate {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Memory($s) => $call.await,
            AnyStore::Sqlite($s) => $call.await,
        }
    };
}

impl Store for AnyStore {
    async fn create(&self, r: &Record) -> Result<Created, StoreError> {
        delegate!(self, s => s.create(r))
    }
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        delegate!(self, s => s.load(id))
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
    ) -> Result<u64, StoreError> {
        delegate!(self, s => s.delete_by_subject(subject, except))
    }
    async fn purge_expired(&self, now: Timestamp, limit: usize) -> Result<u64, StoreError> {
        delegate!(self, s => s.purge_expired(now, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls() {
        assert!(matches!(open("memory://"), Ok(AnyStore::Memory(_))));
        for bad in ["", "redis://x", "sqlite://", "memory", "postgres://"] {
            let err = open(bad)
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default();
            assert!(err.contains("--store"), "{bad}: {err}");
        }
        let dir = std::env::temp_dir().join(format!("tessera-url-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.db");
        assert!(matches!(
            open(&format!("sqlite://{}", path.display())),
            Ok(AnyStore::Sqlite(_))
        ));
        let missing_dir = format!("sqlite://{}/no/such/dir/s.db", dir.display());
        assert!(open(&missing_dir).is_err());
    }
}
