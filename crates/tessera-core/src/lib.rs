//! Tessera's session engine.
//!
//! Tessera keeps authenticated state across requests once an application knows who the user is.
//! This crate holds the engine ([`Engine`]), its policy, tokens, audit events, the [`Store`]
//! contract every backend implements, and an in-process [`MemoryStore`].
//!
//! ```
//! use tessera_core::{Engine, LoginOptions, MemoryStore};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let engine = Engine::new(MemoryStore::new());
//! // The ticket comes before the password check (a password change in between refuses it).
//! let ticket = engine.login_ticket("alice").await?;
//! // ... check alice's password ...
//! let issued = engine.login(None, ticket, LoginOptions::default()).await?;
//! // Send issued.token.expose() in a cookie; on the next request:
//! let session = engine.resolve(&issued.token).await?.expect("live");
//! assert_eq!(session.subject(), Some("alice"));
//! engine.logout(&issued.token).await?;
//! assert!(engine.resolve(&issued.token).await?.is_none());
//! # Ok::<(), tessera_core::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Implementing a store
//!
//! A backend implements [`Store`]: every method is one atomic security operation (insert if
//! absent, conditional update by version, delete-by-subject that advances the subject's
//! revocation epoch, ...), and none has a default body. Its tests enable this crate's
//! `conformance` feature (in `[dev-dependencies]`) and expand
//! `tessera_core::store_conformance_tests!(fresh, persisted)` with an async function that
//! returns a fresh, empty store and one that returns every byte it persisted. That is one test
//! per property: insert-if-absent, round trip, conditional updates, no resurrection, no lost
//! updates under 64 writers, revoke-all linearizable with creates, logins racing revoke-all
//! leave no survivor, the revocation epoch, purge bounds, both expiries, one rotation under
//! race, signing keys shared and rotated, and nothing persisted containing a token.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod device;
pub mod encoding;
mod error;
pub mod event;
pub mod keyring;
pub mod lifecycle;
pub mod memory;
pub mod policy;
pub mod record;
pub mod store;
pub mod token;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use error::Error;
pub use event::{EndReason, Event, EventKind, EventSink, RecordingSink, TracingSink};
pub use lifecycle::{
    validate_subject, CarryOver, Engine, Issued, LoginOptions, LoginTicket, LogoutOutcome, Session,
    BOUND_COOKIE_MARGIN, CHALLENGE_LIFETIME, MAX_PENDING_ENDS_PER_SUBJECT, SEALED_TICKET_LIFETIME,
};
pub use memory::MemoryStore;
pub use policy::{Policy, PolicyError};
pub use record::{ClientInfo, IpPrefix, Record};
pub use store::{Created, OutageLog, Store, StoreError, Updated};
pub use token::{SessionId, SessionRef, Token, TokenError};

/// A shared store is a store: lets one store serve several engines (or a test keep a handle).
impl<S: Store> Store for std::sync::Arc<S> {
    fn create(
        &self,
        r: &Record,
        epoch: Option<u64>,
    ) -> impl std::future::Future<Output = Result<Created, StoreError>> + Send {
        (**self).create(r, epoch)
    }
    fn subject_epoch(
        &self,
        s: &str,
    ) -> impl std::future::Future<Output = Result<u64, StoreError>> + Send {
        (**self).subject_epoch(s)
    }
    fn load(
        &self,
        id: &SessionId,
    ) -> impl std::future::Future<Output = Result<Option<Record>, StoreError>> + Send {
        (**self).load(id)
    }
    fn load_fresh(
        &self,
        id: &SessionId,
    ) -> impl std::future::Future<Output = Result<Option<Record>, StoreError>> + Send {
        (**self).load_fresh(id)
    }
    fn update(
        &self,
        r: &Record,
        expected: u64,
    ) -> impl std::future::Future<Output = Result<Updated, StoreError>> + Send {
        (**self).update(r, expected)
    }
    fn delete(
        &self,
        id: &SessionId,
    ) -> impl std::future::Future<Output = Result<bool, StoreError>> + Send {
        (**self).delete(id)
    }
    fn list_by_subject(
        &self,
        s: &str,
    ) -> impl std::future::Future<Output = Result<Vec<Record>, StoreError>> + Send {
        (**self).list_by_subject(s)
    }
    fn delete_by_subject(
        &self,
        s: &str,
        except: Option<&SessionId>,
    ) -> impl std::future::Future<Output = Result<Vec<SessionId>, StoreError>> + Send {
        (**self).delete_by_subject(s, except)
    }
    fn signing_keys(
        &self,
        purpose: &str,
        fresh: &keyring::SigningKey,
    ) -> impl std::future::Future<Output = Result<Vec<keyring::SigningKey>, StoreError>> + Send
    {
        (**self).signing_keys(purpose, fresh)
    }
    fn rotate_signing_key(
        &self,
        purpose: &str,
        fresh: &keyring::SigningKey,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send {
        (**self).rotate_signing_key(purpose, fresh)
    }
    fn purge_expired(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> impl std::future::Future<Output = Result<u64, StoreError>> + Send {
        (**self).purge_expired(now, limit)
    }
}
