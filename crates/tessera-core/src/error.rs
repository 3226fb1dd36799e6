//! The engine's error type.

use crate::store::StoreError;
use crate::token::TokenError;

/// Why an engine operation failed. None of these carries a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed; the caller must treat the request as unauthenticated (fail closed).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No live session matches (unknown, expired, ended or revoked).
    #[error("no such session")]
    NoSession,
    /// A conditional data update lost to a concurrent writer; re-read and retry.
    #[error("session was changed concurrently (expected version {expected})")]
    Conflict {
        /// The version the caller expected.
        expected: u64,
    },
    /// Another request rotated this token first; its response carries the new token.
    #[error("the session token was already rotated by a concurrent request")]
    AlreadyRotated,
    /// The subject's sessions were revoked after the login ticket was taken (e.g. its password
    /// changed while this login checked the old one); no session was created.
    #[error("the subject's sessions were revoked while this login was in progress")]
    SubjectRevoked,
    /// The subject is empty, too long or contains control characters.
    #[error("invalid subject: {0}")]
    InvalidSubject(&'static str),
    /// A sealed login ticket was malformed, not sealed with this store's key, or expired.
    #[error("invalid login ticket: {0}")]
    InvalidTicket(&'static str),
    /// Three freshly drawn ids collided with existing sessions; the RNG is suspect.
    #[error("could not allocate a unique session id")]
    IdCollision,
    /// Session data could not be converted to or from the requested type.
    #[error("session data error for key {key:?}")]
    Data {
        /// The data key.
        key: String,
        /// The conversion error.
        #[source]
        source: serde_json::Error,
    },
    /// A device-bound session proof (W3C DBSC) was refused; nothing changed.
    #[error(transparent)]
    DeviceProof(#[from] crate::device::ProofError),
    /// The session is already bound to a device key; a second registration is refused.
    #[error("the session is already bound to a device key")]
    DeviceAlreadyBound,
    /// The OS random generator failed.
    #[error(transparent)]
    Token(#[from] TokenError),
}
