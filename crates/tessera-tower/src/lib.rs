//! Tessera for tower and axum: a [`SessionLayer`] that carries the session token in a hardened
//! cookie, and a [`Session`] extractor handlers use to sign in, step up, sign out and keep data.
//!
//! ```no_run
//! use axum::{routing::{get, post}, Router};
//! use tessera_core::{Engine, MemoryStore};
//! use tessera_tower::{Session, SessionError, SessionLayer};
//!
//! async fn me(session: Session) -> Result<String, SessionError> {
//!     session.subject().ok_or(SessionError::NotSignedIn)
//! }
//!
//! async fn login(session: Session) -> Result<&'static str, SessionError> {
//!     // The ticket comes before the password check: a password change in between (which
//!     // revokes alice's sessions) then refuses this login instead of letting it outlive it.
//!     let ticket = session.login_ticket("alice").await?;
//!     // ... check the password ...
//!     session.login(ticket).await?;
//!     Ok("welcome")
//! }
//!
//! # async fn run() {
//! let engine = Engine::new(MemoryStore::new());
//! let app: Router = Router::new()
//!     .route("/me", get(me))
//!     .route("/login", post(login))
//!     .layer(SessionLayer::new(engine));
//! # }
//! ```
//!
//! What the layer guarantees (each is a test in this crate):
//! * the token travels only in the cookie (default `__Host-session; Secure; HttpOnly;
//!   SameSite=Lax; Path=/`), never read from a URL;
//! * the session cookie is found by its exact name (only ASCII space and tab trimmed, as
//!   browsers do): a look-alike name (Unicode spaces, zero-width characters, case,
//!   `%`-encoding) is never it, and is reported as an audit event;
//! * two session cookies in one request (cookie tossing) are rejected without clearing the
//!   real one (only cookies a sibling could have planted are expired), and a malformed one is
//!   cleared, with a clean unauthenticated response;
//! * sign-out clears the cookie whatever the store does, and ends the session on the server as
//!   soon as the store answers;
//! * a login page's CSRF token costs no store write (signed, bound to a pre-session cookie);
//! * every response that sets or clears the cookie, or that a signed-in session produced,
//!   carries `Cache-Control: no-store`;
//! * unsafe methods from another site are refused (Fetch Metadata, then `Origin`);
//! * a handler that does not take [`Session`] causes no store access;
//! * a store failure never yields a session: the request is unauthenticated, or 503 if chosen.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod backend;
pub mod csrf;
pub mod device;
pub mod hardening;
mod layer;
mod session;
pub mod transport;

pub use csrf::CsrfGuard;
pub use device::DeviceBindingConfig;
pub use layer::{OnStoreError, SessionLayer, SessionService};
pub use session::{Session, SessionError, SessionRejection, SessionSummary};
pub use transport::{CookieConfig, CookieConfigError, DEFAULT_COOKIE_NAME};
