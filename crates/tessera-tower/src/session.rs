//! The axum extractor handlers use to read and change their session.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tessera_core::{
    Error, Issued, LoginOptions, LoginTicket, LogoutOutcome, Session as CoreSession, SessionId,
    Timestamp,
};

use crate::csrf::{
    decode_signature, encode_signature, new_synchronizer_token, synchronizer_matches,
    ANONYMOUS_CSRF_PURPOSE, CSRF_KEY,
};
use crate::layer::{CookieAction, OnStoreError, PreCookieAction, Shared};
use crate::transport::Presented;

/// Why a session operation failed. Its response never includes internals or tokens.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The engine failed (store down, conflict, no session, ...).
    #[error(transparent)]
    Engine(#[from] Error),
    /// Sessions are disabled for this request: `Secure` is off and the host is not loopback.
    #[error("session cookies without Secure are refused on a non-loopback origin")]
    InsecureTransport,
    /// The operation needs a signed-in session.
    #[error("not signed in")]
    NotSignedIn,
}

impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        let (status, text) = match &self {
            Self::Engine(Error::Store(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "session store unavailable")
            }
            Self::Engine(Error::NoSession) | Self::NotSignedIn => {
                (StatusCode::UNAUTHORIZED, "not signed in")
            }
            Self::Engine(Error::SubjectRevoked) => (
                StatusCode::UNAUTHORIZED,
                "the account's sessions were ended while signing in; sign in again",
            ),
            Self::Engine(Error::Conflict { .. } | Error::AlreadyRotated) => {
                (StatusCode::CONFLICT, "session changed concurrently; retry")
            }
            Self::Engine(Error::InvalidSubject(_) | Error::Data { .. }) => {
                (StatusCode::BAD_REQUEST, "invalid session request")
            }
            Self::InsecureTransport => (
                StatusCode::FORBIDDEN,
                "session cookies are disabled on this origin",
            ),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
        };
        if status.is_server_error() {
            tracing::error!(target: "tessera::session", error = %self, "session operation failed");
        }
        (status, format!("{text}\n")).into_response()
    }
}

/// Why the extractor refused to run the handler.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRejection {
    /// The route is not under a [`crate::SessionLayer`] (a programming error).
    #[error("SessionLayer is not installed on this route")]
    MissingLayer,
    /// The store failed and the layer is configured with [`OnStoreError::ServiceUnavailable`].
    #[error("session store unavailable")]
    StoreUnavailable,
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        let status = match self {
            Self::MissingLayer => StatusCode::INTERNAL_SERVER_ERROR,
            Self::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        if status.is_server_error() {
            tracing::error!(target: "tessera::session", error = %self);
        }
        (status, format!("{self}\n")).into_response()
    }
}

/// One row of a user's session list.
#[derive(Debug, Clone, Serialize)]
pub struct SessionSummary {
    /// The session's id, to revoke it by (serialized as hex).
    pub id: SessionId,
    /// When it was created.
    pub created_at: Timestamp,
    /// Last renewal (at most the renewal throttle stale).
    pub last_seen: Timestamp,
    /// The client's user agent.
    pub user_agent: Option<String>,
    /// The client's address prefix.
    pub ip_prefix: Option<String>,
    /// True for the session making this request.
    pub current: bool,
    /// True when the session is bound to a device key (W3C DBSC): its cookie is worthless
    /// off that device after a few minutes.
    pub device_bound: bool,
}

/// The request's session. Extracting it resolves the cookie (one store read); handlers that do
/// not take it cause no store access at all.
#[derive(Clone)]
pub struct Session {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field(
                "session",
                &self.with_session(|s| s.map(CoreSession::reference)),
            )
            .finish()
    }
}

impl<St: Send + Sync> FromRequestParts<St> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Self::Rejection> {
        let shared = parts
            .extensions
            .get::<Arc<Shared>>()
            .cloned()
            .ok_or(SessionRejection::MissingLayer)?;
        let session = Session { shared };
        session.resolve().await?;
        Ok(session)
    }
}

impl Session {
    async fn resolve(&self) -> Result<(), SessionRejection> {
        let token = {
            let mut state = self.lock();
            if state.resolved {
                return Ok(());
            }
            state.resolved = true;
            match &self.shared.presented {
                Presented::Token(t) => t.clone(),
                _ => return Ok(()),
            }
        };
        let outcome = self.shared.backend.resolve(&token).await;
        let mut state = self.lock();
        match outcome {
            Ok(Some(session)) => {
                state.authenticated = session.subject().is_some();
                state.session = Some(session);
                state.token = Some(token);
            }
            // A dead or unknown token: no session. The cookie is left alone: clearing it here
            // could race a login in flight and delete the new cookie.
            Ok(None) => {}
            Err(e) => {
                tracing::error!(target: "tessera::session", error = %e, "session store failed; request treated as unauthenticated");
                state.store_failed = true;
                if self.shared.config.on_store_error == OnStoreError::ServiceUnavailable {
                    return Err(SessionRejection::StoreUnavailable);
                }
            }
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, crate::layer::State> {
        // The lock is never held across an await or a user callback, so it cannot be poisoned
        // by a panic elsewhere; recover the data if it ever is.
        self.shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn with_session<R>(&self, f: impl FnOnce(Option<&CoreSession>) -> R) -> R {
        f(self.lock().session.as_ref())
    }

    /// The token this request acts with: the live one, or, when the store could not judge the
    /// presented token, that token, so that logout and login still reach the store (and fail
    /// closed there) instead of acting as if there were no session.
    fn acting_token(&self) -> Option<tessera_core::Token> {
        let state = self.lock();
        match (&state.token, state.store_failed, &self.shared.presented) {
            (Some(t), _, _) => Some(t.clone()),
            (None, true, Presented::Token(t)) => Some(t.clone()),
            _ => None,
        }
    }

    fn store_unavailable_error() -> SessionError {
        SessionError::Engine(Error::Store(tessera_core::StoreError::Unavailable {
            message: "the session could not be resolved".into(),
            source: None,
        }))
    }

    fn check_transport(&self) -> Result<(), SessionError> {
        if self.shared.transport_ok {
            Ok(())
        } else {
            Err(SessionError::InsecureTransport)
        }
    }

    /// Installs a newly issued token: it is what the rest of the request uses and what the
    /// response's cookie carries.
    fn adopt(&self, issued: Issued, max_age: Option<Duration>) {
        // A device-bound token's cookie lives exactly as long as the server honours it.
        let max_age = match &issued.session.record().device {
            Some(d) => Some(crate::device::bound_max_age(
                d.token_until,
                self.shared.backend.now(),
            )),
            None => max_age,
        };
        let mut state = self.lock();
        state.authenticated = issued.session.subject().is_some();
        state.session = Some(issued.session);
        state.cookie = CookieAction::Set {
            token: issued.token.clone(),
            max_age,
        };
        state.token = Some(issued.token);
    }

    /// The signed-in subject, or `None` (anonymous, no session, or store unavailable).
    pub fn subject(&self) -> Option<String> {
        self.with_session(|s| s.and_then(|s| s.subject().map(str::to_owned)))
    }

    /// The session's id, if there is a session.
    pub fn id(&self) -> Option<SessionId> {
        self.with_session(|s| s.map(CoreSession::id))
    }

    /// The assurance level in force (0 without a session).
    pub fn auth_level(&self) -> u32 {
        self.with_session(|s| s.map_or(0, CoreSession::auth_level))
    }

    /// True when resolving the session failed because the store could not answer.
    pub fn store_unavailable(&self) -> bool {
        self.lock().store_failed
    }

    /// A typed value from the session data.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        self.with_session(|s| match s {
            Some(s) => s.get(key).map_err(SessionError::from),
            None => Ok(None),
        })
    }

    /// Stores a typed value (compare-and-set with retry: concurrent requests do not lose each
    /// other's writes). Starts an anonymous session when there is none.
    pub async fn insert<T: Serialize>(&self, key: &str, value: &T) -> Result<(), SessionError> {
        let value = serde_json::to_value(value).map_err(|source| Error::Data {
            key: key.to_owned(),
            source,
        })?;
        self.modify(key, Some(value)).await
    }

    /// Removes a value.
    pub async fn remove(&self, key: &str) -> Result<(), SessionError> {
        if self.id().is_none() {
            return Ok(());
        }
        self.modify(key, None).await
    }

    async fn modify(&self, key: &str, value: Option<Value>) -> Result<(), SessionError> {
        let id = self.ensure_session().await?;
        let change = Box::new(|data: &mut serde_json::Map<String, Value>| match &value {
            Some(v) => {
                data.insert(key.to_owned(), v.clone());
            }
            None => {
                data.remove(key);
            }
        });
        let session = self.shared.backend.modify(&id, change).await?;
        self.lock().session = Some(session);
        Ok(())
    }

    async fn ensure_session(&self) -> Result<SessionId, SessionError> {
        self.check_transport()?;
        if let Some(id) = self.id() {
            return Ok(id);
        }
        // The presented session may be live; never paper over it with a fresh anonymous one.
        if self.store_unavailable() {
            return Err(Self::store_unavailable_error());
        }
        let issued = self.shared.backend.begin(self.shared.client()).await?;
        let id = issued.session.id();
        self.adopt(issued, None);
        Ok(id)
    }

    /// Takes a [`LoginTicket`] for `subject`. Call it **before** checking the password, then pass
    /// it to [`Session::login`]: if the user's sessions are revoked in between (a password
    /// change elsewhere), the login is refused instead of outliving the change.
    pub async fn login_ticket(&self, subject: &str) -> Result<LoginTicket, SessionError> {
        Ok(self.shared.backend.login_ticket(subject).await?)
    }

    /// Signs the ticket's subject in: a fresh token, the old session destroyed (no fixation).
    pub async fn login(&self, ticket: LoginTicket) -> Result<(), SessionError> {
        self.login_with(ticket, LoginOptions::default()).await
    }

    /// Signs in with options; `options.remember_me` makes the cookie persist for the absolute
    /// lifetime instead of ending with the browser session.
    pub async fn login_with(
        &self,
        ticket: LoginTicket,
        mut options: LoginOptions,
    ) -> Result<(), SessionError> {
        self.check_transport()?;
        options.client = self.shared.client();
        let remember_me = options.remember_me;
        let authorization = options.device_authorization.take();
        let previous = self.acting_token();
        let issued = self
            .shared
            .backend
            .login(previous.as_ref(), ticket, options)
            .await?;
        let max_age = remember_me.then(|| self.shared.backend.absolute_lifetime());
        let offer = match &self.shared.config.device {
            Some(device) => match self
                .shared
                .backend
                .device_registration_challenge(&issued.session, authorization.as_ref())
                .await
            {
                Ok(challenge) => device.offer(&challenge, authorization.as_ref()),
                // The sign-in stands; the browser just is not offered a binding this time.
                Err(e) => {
                    tracing::warn!(target: "tessera::device", error = %e, "no device-binding offer");
                    None
                }
            },
            None => None,
        };
        self.adopt(issued, max_age);
        self.lock().device_offer = offer;
        if self.shared.pre_nonce.is_some() {
            self.lock().pre_cookie = PreCookieAction::Clear;
        }
        Ok(())
    }

    fn current_token(&self) -> Result<tessera_core::Token, SessionError> {
        self.check_transport()?;
        self.lock().token.clone().ok_or(SessionError::NotSignedIn)
    }

    /// Raises the assurance level for `duration` after the app re-checked a credential; rotates
    /// the token.
    pub async fn elevate(&self, level: u32, duration: Duration) -> Result<(), SessionError> {
        let token = self.current_token()?;
        let issued = self.shared.backend.elevate(&token, level, duration).await?;
        self.adopt(issued, None);
        Ok(())
    }

    /// Rotates the token on demand.
    pub async fn rotate(&self) -> Result<(), SessionError> {
        let token = self.current_token()?;
        let issued = self.shared.backend.rotate(&token).await?;
        self.adopt(issued, None);
        Ok(())
    }

    /// Signs out: the cookie is cleared (and `Clear-Site-Data` sent where configured) whatever
    /// the store does, and the session ends on the server. If the store cannot answer, the
    /// server-side end is queued and retried ([`LogoutOutcome::Pending`]; tell the user it is
    /// pending), and this process already refuses the session; if the queue has no room, the
    /// answer is [`LogoutOutcome::Failed`] (tell the user the server could not end it). The
    /// browser is signed out in every case.
    pub async fn logout(&self) -> LogoutOutcome {
        let outcome = match self.acting_token() {
            Some(token) => self.shared.backend.logout_or_defer(&token).await,
            None => LogoutOutcome::Ended,
        };
        let mut state = self.lock();
        state.session = None;
        state.token = None;
        state.authenticated = false;
        state.logged_out = true;
        state.cookie = CookieAction::Clear;
        outcome
    }

    fn require_subject(&self) -> Result<(String, SessionId), SessionError> {
        self.with_session(|s| match s {
            Some(s) => s.subject().map(|sub| (sub.to_owned(), s.id())),
            None => None,
        })
        .ok_or(SessionError::NotSignedIn)
    }

    /// The signed-in user's live sessions, newest first, this one marked `current`.
    pub async fn list(&self) -> Result<Vec<SessionSummary>, SessionError> {
        let (subject, own) = self.require_subject()?;
        let sessions = self.shared.backend.list(&subject).await?;
        Ok(sessions
            .iter()
            .map(|s| {
                let r = s.record();
                SessionSummary {
                    id: s.id(),
                    created_at: r.created_at,
                    last_seen: r.last_seen,
                    user_agent: r.client.user_agent.clone(),
                    ip_prefix: r.client.ip_prefix.map(|p| p.to_string()),
                    current: s.id() == own,
                    device_bound: r.device.is_some(),
                }
            })
            .collect())
    }

    /// Revokes one of the signed-in user's sessions (a form carries it as
    /// [`SessionId::to_hex`]; parse it with [`SessionId::from_hex`]). An id that belongs to
    /// someone else revokes nothing and returns false.
    pub async fn revoke(&self, id: &SessionId) -> Result<bool, SessionError> {
        let (subject, _) = self.require_subject()?;
        Ok(self.shared.backend.revoke(&subject, id).await?)
    }

    /// Ends every other session of the signed-in user (after a password or role change, or
    /// "sign out everywhere else"). Returns how many ended.
    pub async fn revoke_others(&self) -> Result<u64, SessionError> {
        let (subject, own) = self.require_subject()?;
        Ok(self.shared.backend.revoke_all(&subject, Some(&own)).await?)
    }

    /// The CSRF token for forms. With a session, its per-session synchronizer token (created
    /// on first use). Without one (a login page), a signed token bound to the pre-session
    /// cookie: no session is started and nothing is written to the store, so anonymous page
    /// views cannot fill it. Either way the response is marked `no-store`.
    pub async fn csrf_token(&self) -> Result<String, SessionError> {
        self.lock().csrf_issued = true;
        if let Some(existing) = self.get::<String>(CSRF_KEY)? {
            return Ok(existing);
        }
        if self.id().is_some() {
            let fresh =
                new_synchronizer_token().ok_or(Error::Token(tessera_core::TokenError::Random))?;
            self.insert(CSRF_KEY, &fresh).await?;
            return Ok(fresh);
        }
        self.check_transport()?;
        let nonce = self.pre_session_nonce()?;
        let tag = self
            .shared
            .backend
            .sign(ANONYMOUS_CSRF_PURPOSE, nonce.as_bytes())
            .await?;
        Ok(encode_signature(&tag))
    }

    /// The pre-session nonce: the request's, one set earlier in this response, or a new one.
    fn pre_session_nonce(&self) -> Result<String, SessionError> {
        let mut state = self.lock();
        if let PreCookieAction::Set(nonce) = &state.pre_cookie {
            return Ok(nonce.clone());
        }
        if let Some(nonce) = &self.shared.pre_nonce {
            return Ok(nonce.clone());
        }
        let fresh =
            new_synchronizer_token().ok_or(Error::Token(tessera_core::TokenError::Random))?;
        state.pre_cookie = PreCookieAction::Set(fresh.clone());
        Ok(fresh)
    }

    /// True when `submitted` is this visitor's CSRF token: the session's synchronizer token
    /// (constant-time compare), or, without a session, the signature of the request's
    /// pre-session nonce. False when the store cannot be asked (fail closed).
    pub async fn verify_csrf(&self, submitted: &str) -> bool {
        if let Ok(Some(expected)) = self.get::<String>(CSRF_KEY) {
            return synchronizer_matches(&expected, submitted);
        }
        if self.id().is_some() {
            // A session's forms carry its synchronizer token, never a pre-session one.
            return false;
        }
        let (Some(nonce), Some(tag)) = (&self.shared.pre_nonce, decode_signature(submitted)) else {
            return false;
        };
        self.shared
            .backend
            .verify_signature(ANONYMOUS_CSRF_PURPOSE, nonce.as_bytes(), &tag)
            .await
            .unwrap_or(false)
    }
}
