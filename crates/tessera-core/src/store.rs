//! The storage contract. Each method is one security operation a store must perform atomically
//! on its own; none has a default body, so a store cannot inherit a weaker behaviour by accident
//! (tower-sessions' default `create` fell back to an overwriting save).

use std::future::Future;

use crate::clock::Timestamp;
use crate::record::Record;
use crate::token::SessionId;

/// A store failure. The engine treats every one as "no session" (fail closed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or refused the operation.
    #[error("session store unavailable: {message}")]
    Unavailable {
        /// What failed, without any session data.
        message: String,
        /// The backend's own error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A stored record could not be read back.
    #[error("session store returned a corrupt record: {0}")]
    Corrupt(String),
    /// The store is full and refuses new sessions rather than dropping live ones.
    #[error("session store is full ({capacity} sessions)")]
    Full {
        /// The configured capacity.
        capacity: usize,
    },
}

impl StoreError {
    /// Wraps a backend error.
    pub fn unavailable(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Unavailable {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

/// What [`Store::create`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Created {
    /// The record was inserted.
    Inserted,
    /// A record with this id already exists; nothing was written.
    Collision,
}

/// What [`Store::update`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Updated {
    /// The record was replaced.
    Written,
    /// The stored version differs from the expected one; nothing was written.
    VersionMismatch,
    /// No such record (ended meanwhile); nothing was written, and nothing is recreated.
    Missing,
}

/// Where sessions live. Implemented by the memory, SQLite, Redis and PostgreSQL stores.
///
/// Every store must pass the conformance suite (`tessera_core::conformance`, feature
/// `conformance`). Stores never see a token, only [`SessionId`]s and verifier hashes.
pub trait Store: Send + Sync + 'static {
    /// Inserts `record` if no record has its id. Must be atomic insert-if-absent.
    fn create(&self, record: &Record) -> impl Future<Output = Result<Created, StoreError>> + Send;

    /// Reads a record. Expired records may be returned; the engine checks deadlines.
    fn load(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;

    /// Replaces the record with `record.id` only if it exists and its version is `expected`.
    /// `record.version` is the new version. Never creates a record.
    fn update(
        &self,
        record: &Record,
        expected: u64,
    ) -> impl Future<Output = Result<Updated, StoreError>> + Send;

    /// Deletes a record; true if it existed.
    fn delete(&self, id: &SessionId) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// All records of a subject, in no particular order.
    fn list_by_subject(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Vec<Record>, StoreError>> + Send;

    /// Deletes every record of a subject except `except`, atomically with respect to `create`:
    /// a record whose creation was acknowledged before this call began does not survive it.
    /// Returns how many were deleted.
    fn delete_by_subject(
        &self,
        subject: &str,
        except: Option<&SessionId>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes at most `limit` records whose [`Record::expires_at`] is at or before `now`.
    /// Returns how many were deleted; the caller repeats while it gets `limit`.
    fn purge_expired(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
