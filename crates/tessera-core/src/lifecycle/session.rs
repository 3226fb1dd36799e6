//! What the engine hands back: a resolved [`Session`] and a freshly [`Issued`] token.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::clock::Timestamp;
use crate::error::Error;
use crate::record::{PreviousVerifier, Record};
use crate::token::{SessionId, SessionRef, Token};

/// A live session as of the moment it was resolved.
#[derive(Debug, Clone)]
pub struct Session {
    pub(super) record: Record,
    pub(super) now: Timestamp,
    pub(super) current: bool,
}

impl Session {
    /// The session as a resolve saw it. A rotated-out token in its grace window (`grace` is
    /// its entry) sees the step-up and authentication time it had before the rotation, not what
    /// the rotation granted.
    pub(super) fn seen_with(
        mut record: Record,
        now: Timestamp,
        grace: Option<PreviousVerifier>,
    ) -> Self {
        let current = grace.is_none();
        if let Some(p) = grace {
            record.elevation = p.elevation;
            record.auth_time = p.auth_time;
        }
        Self {
            record,
            now,
            current,
        }
    }

    /// The session's store id (not a credential).
    pub fn id(&self) -> SessionId {
        self.record.id
    }

    /// The short reference for logs.
    pub fn reference(&self) -> SessionRef {
        self.record.id.reference()
    }

    /// The subject, or `None` for an anonymous session.
    pub fn subject(&self) -> Option<&str> {
        self.record.subject.as_deref()
    }

    /// The assurance level in force (an unexpired elevation, else the login level).
    pub fn auth_level(&self) -> u32 {
        self.record.effective_auth_level(self.now)
    }

    /// False when the presented token was rotated out and is inside its grace window.
    pub fn is_current_token(&self) -> bool {
        self.current
    }

    /// The data version, for [`crate::Engine::update_data`].
    pub fn version(&self) -> u64 {
        self.record.version
    }

    /// All data.
    pub fn data(&self) -> &Map<String, Value> {
        &self.record.data
    }

    /// One typed value; `Ok(None)` when absent.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        self.record
            .data
            .get(key)
            .map(|v| T::deserialize(v).map_err(|source| super::data_error(key, source)))
            .transpose()
    }

    /// The whole record (read-only).
    pub fn record(&self) -> &Record {
        &self.record
    }
}

/// A token just issued and the session it opens. The caller must deliver the token (cookie).
#[derive(Debug)]
pub struct Issued {
    /// The new token.
    pub token: Token,
    /// The session.
    pub session: Session,
}
