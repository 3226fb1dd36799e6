//! The storage contract. Each method is one security operation a store must perform atomically
//! on its own; none has a default body, so a store cannot inherit a weaker behaviour by accident
//! (tower-sessions' default `create` fell back to an overwriting save).

use std::future::Future;

use crate::clock::Timestamp;
use crate::keyring::SigningKey;
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

/// Logs a store outage once when it begins and once when it ends, not once per request: during
/// an outage every request fails (closed), and a line per request would drown the log.
#[derive(Debug)]
pub struct OutageLog {
    backend: &'static str,
    down: std::sync::atomic::AtomicBool,
}

impl OutageLog {
    /// A log for `backend` (its name in the log lines), starting healthy.
    pub const fn new(backend: &'static str) -> Self {
        Self {
            backend,
            down: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Records a failed call; logs an error if it starts an outage. `error` must not carry
    /// session data (backend errors name keys and hashes, never tokens).
    pub fn failed(&self, operation: &str, error: &dyn std::fmt::Display) {
        if !self.down.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tracing::error!(
                backend = self.backend,
                operation,
                %error,
                "session store unavailable: requests are treated as signed out until it answers again"
            );
        }
    }

    /// Records a call that was answered; logs if it ends an outage.
    pub fn answered(&self) {
        // A load first: on the hot path (no outage) this stays a shared read of the cache line.
        if self.down.load(std::sync::atomic::Ordering::Relaxed)
            && self.down.swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::warn!(backend = self.backend, "session store answers again");
        }
    }

    /// Whether the last call failed.
    pub fn is_down(&self) -> bool {
        self.down.load(std::sync::atomic::Ordering::Relaxed)
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
    /// The subject's sessions were revoked (its epoch moved) after the login ticket was taken;
    /// nothing was written.
    Revoked,
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

/// Where sessions live. Implemented by the memory store here and by `tessera-sqlite`,
/// `tessera-redis` and `tessera-postgres`; any backend that passes the conformance suite can be
/// one.
///
/// Every store must pass the conformance suite (`tessera_core::conformance`, feature
/// `conformance`). Stores never see a token, only [`SessionId`]s and verifier hashes.
pub trait Store: Send + Sync + 'static {
    /// Inserts `record` if no record has its id. Must be atomic insert-if-absent.
    ///
    /// With `epoch`, the insert also requires the record's subject to still be at that
    /// revocation epoch ([`Store::subject_epoch`]), atomically with respect to
    /// [`Store::delete_by_subject`]; otherwise nothing is written and the answer is
    /// [`Created::Revoked`]. This is what keeps a login whose password check ran before a
    /// password change from surviving it.
    fn create(
        &self,
        record: &Record,
        epoch: Option<u64>,
    ) -> impl Future<Output = Result<Created, StoreError>> + Send;

    /// The subject's revocation epoch: 0 until its sessions are first revoked, then advanced by
    /// every [`Store::delete_by_subject`]. Never goes back, even when the subject has no
    /// sessions left.
    fn subject_epoch(&self, subject: &str) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Reads a record. Expired records may be returned; the engine checks deadlines.
    ///
    /// A store may answer from a local copy that lags other servers' writes by a bound it
    /// documents (the Redis store's opt-in `accept_revocation_lag_ms`), never its own writes and
    /// never with a record that does not exist (`None` is always the store's own answer). The
    /// engine uses `load` only to serve a request; before it refuses or ends a session, and for
    /// every write, it reads with [`Store::load_fresh`].
    fn load(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;

    /// Reads a record from the store itself, never from a local copy. A store without a copy
    /// need not override it. Every wrapper of a store must pass it on: a wrapper that did not
    /// would let a stale copy end sessions.
    fn load_fresh(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send {
        self.load(id)
    }

    /// Replaces the record with `record.id` only if it exists and its version is `expected`.
    /// `record.version` is the new version. Never creates a record.
    fn update(
        &self,
        record: &Record,
        expected: u64,
    ) -> impl Future<Output = Result<Updated, StoreError>> + Send;

    /// Deletes a record; true if it existed.
    fn delete(&self, id: &SessionId) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// All records of a subject, in no particular order, read from the store itself (never
    /// from a local copy: the engine ends the oldest past a subject's session limit).
    fn list_by_subject(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Vec<Record>, StoreError>> + Send;

    /// Deletes every record of a subject except `except` and advances the subject's epoch, in
    /// one atomic step with respect to `create`: a record whose creation was acknowledged before
    /// this call began does not survive it, and a `create` conditioned on the old epoch that
    /// runs after it is refused. Returns the ids deleted.
    fn delete_by_subject(
        &self,
        subject: &str,
        except: Option<&SessionId>,
    ) -> impl Future<Output = Result<Vec<SessionId>, StoreError>> + Send;

    /// The signing keys for `purpose`, newest first, at most [`crate::keyring::KEYS_KEPT`].
    /// When there are none, `fresh` is stored as the only one, atomically insert-if-absent, so
    /// every process sharing the store gets the same keys.
    fn signing_keys(
        &self,
        purpose: &str,
        fresh: &SigningKey,
    ) -> impl Future<Output = Result<Vec<SigningKey>, StoreError>> + Send;

    /// Makes `fresh` the newest key for `purpose`, keeping the one before it and dropping the
    /// rest.
    fn rotate_signing_key(
        &self,
        purpose: &str,
        fresh: &SigningKey,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes at most `limit` records whose [`Record::expires_at`] is at or before `now`.
    /// Returns how many were deleted; the caller repeats while it gets `limit`. A backend that
    /// deletes each record itself at its `expires_at` (Redis' `PEXPIREAT`) returns 0.
    fn purge_expired(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
