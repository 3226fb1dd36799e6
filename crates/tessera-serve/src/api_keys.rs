//! API keys: how back ends prove they may call the service.
//!
//! A key is a Tessera token with a `tessera_key_` prefix (so secret scanners spot a leaked one),
//! held as a session of the reserved subject [`KEY_SUBJECT`] in the same store as the sessions:
//! hashed at rest (the store keeps SHA-256 of it, never the key), 256 bits from the OS, parsed
//! strictly, revocable, and shared by every instance of a fleet. Its name and scopes sit in the
//! session data under an HMAC with the store's `api-key` signing key, so a record some other
//! program wrote under the reserved subject is never taken for a key.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tessera_core::{
    Engine, Error, LoginOptions, Policy, PolicyError, SessionId, Store, Timestamp, Token,
};

/// What the service's own subjects start with: API keys and console sessions. No API call or
/// console page signs in, lists, revokes or resolves a subject with it, and forward-auth never
/// passes one on.
pub const RESERVED_PREFIX: &str = "tessera:";
/// The subject API keys live under.
pub const KEY_SUBJECT: &str = "tessera:api-keys";

/// True for the service's own subjects (see [`RESERVED_PREFIX`]).
pub fn is_reserved(subject: &str) -> bool {
    subject.starts_with(RESERVED_PREFIX)
}
/// What every key starts with.
pub const KEY_PREFIX: &str = "tessera_key_";
/// Longest key name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// How long a key lives unless configured otherwise.
pub const DEFAULT_KEY_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);
const PURPOSE: &str = "api-key";
/// What the subject of every console session starts with (followed by the key's id).
pub const CONSOLE_SUBJECT_PREFIX: &str = "tessera:console:";

/// The subject of the console sessions a key signed in.
pub fn console_subject(key_id: &str) -> String {
    format!("{CONSOLE_SUBJECT_PREFIX}{key_id}")
}

/// The marker a store gets when its first admin key was made, so exactly one instance of a
/// fleet (and only on the store's first start) prints a key.
const BOOTSTRAP_PURPOSE: &str = "serve-bootstrap";

/// What a key may do. `admin` grants everything.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Resolve tokens, list a subject's sessions.
    Read,
    /// Create, rotate, elevate, end and revoke sessions; update session data.
    Write,
    /// Manage API keys and use the console.
    Admin,
}

impl Scope {
    /// The scope's name as the CLI and the API spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }

    /// Parses `read`, `write` or `admin`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// Why a key could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The name is empty, too long or has characters outside `A-Za-z0-9 ._-`.
    #[error("a key name is 1 to 64 characters of A-Z a-z 0-9 space . _ -")]
    InvalidName,
    /// No scope was given.
    #[error("a key needs at least one scope (read, write, admin)")]
    NoScope,
    /// The engine or the store failed.
    #[error(transparent)]
    Engine(#[from] Error),
}

/// A key as listed: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ApiKey {
    /// The key's id (the hash of its selector; not a credential). Revoke by this.
    pub id: String,
    /// The name given at creation.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it was last used, to within an hour (RFC 3339).
    pub last_used: String,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
}

/// The key a request presented, once verified: what the guard needs, nothing formatted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The key's id.
    pub id: SessionId,
    /// Its name.
    pub name: String,
    /// Its scopes.
    pub scopes: Vec<Scope>,
}

impl Caller {
    /// True when the key carries `scope` (or `admin`).
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes
            .iter()
            .any(|s| *s == scope || *s == Scope::Admin)
    }
}

/// A key just made: the only time its secret exists outside the caller's hands.
pub struct NewKey {
    /// The secret, `tessera_key_` + 43 characters. Shown once; the store keeps only its hash.
    pub secret: String,
    /// The key as listed.
    pub key: ApiKey,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("secret", &"[redacted]")
            .field("key", &self.key)
            .finish()
    }
}

/// The key registry over a store.
pub struct ApiKeys<S> {
    engine: Engine<S>,
}

impl<S> std::fmt::Debug for ApiKeys<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys").finish_non_exhaustive()
    }
}

impl<S> Clone for ApiKeys<S> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
        }
    }
}

fn key_policy(lifetime: Duration) -> Result<Policy, PolicyError> {
    // A key does not idle out: its idle deadline is its lifetime, and "last used" is written
    // at most once an hour (or once per lifetime/2 for short test lifetimes).
    let throttle = Duration::from_secs(3600).min(lifetime / 2);
    Policy::builder()
        .absolute_lifetime(lifetime)
        .idle_timeout(lifetime)
        .renewal_throttle(throttle)
        .allow_long_lifetime()
        .build()
}

fn valid_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=MAX_NAME_CHARS).contains(&n)
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-'))
}

fn signed_message(id: &SessionId, name: &str, scopes: &[Scope]) -> Vec<u8> {
    let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    format!("{}\n{}\n{}", id.to_hex(), name, scopes.join(",")).into_bytes()
}

impl<S: Store> ApiKeys<S> {
    /// A registry whose keys live for `lifetime` (at least two seconds).
    pub fn new(store: S, lifetime: Duration) -> Result<Self, PolicyError> {
        let policy = key_policy(lifetime)?;
        Ok(Self {
            engine: Engine::builder(store).policy(policy).build(),
        })
    }

    /// Makes a key. The secret in the answer is never stored and cannot be shown again.
    pub async fn create(&self, name: &str, scopes: &[Scope]) -> Result<NewKey, KeyError> {
        if !valid_name(name) {
            return Err(KeyError::InvalidName);
        }
        let mut scopes = scopes.to_vec();
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(KeyError::NoScope);
        }
        let ticket = self.engine.login_ticket(KEY_SUBJECT).await?;
        let issued = self
            .engine
            .login(None, ticket, LoginOptions::default())
            .await?;
        let id = issued.session.id();
        let tag = self
            .engine
            .sign(PURPOSE, &signed_message(&id, name, &scopes))
            .await?;
        let mut data = Map::new();
        data.insert("name".into(), json!(name));
        data.insert("scopes".into(), json!(scopes));
        data.insert("sig".into(), json!(URL_SAFE_NO_PAD.encode(tag)));
        self.engine
            .update_data(&id, issued.session.version(), data)
            .await?;
        let record = issued.session.record();
        Ok(NewKey {
            secret: format!("{KEY_PREFIX}{}", issued.token.expose()),
            key: ApiKey {
                id: id.to_hex(),
                name: name.to_owned(),
                scopes,
                created_at: record.created_at.rfc3339(),
                last_used: record.last_seen.rfc3339(),
                expires_at: record.absolute_deadline.rfc3339(),
            },
        })
    }

    /// The key a presented secret names, if it is a live key whose metadata carries the
    /// store's signature; `None` for anything else, whatever was wrong with it.
    pub async fn verify(&self, presented: &str) -> Result<Option<Caller>, Error> {
        let Some(token) = presented
            .strip_prefix(KEY_PREFIX)
            .and_then(|t| Token::parse(t).ok())
        else {
            return Ok(None);
        };
        let Some(session) = self.engine.resolve(&token).await? else {
            return Ok(None);
        };
        if !session.is_current_token() {
            return Ok(None);
        }
        self.authentic(session.record()).await
    }

    async fn authentic(&self, record: &tessera_core::Record) -> Result<Option<Caller>, Error> {
        if record.subject.as_deref() != Some(KEY_SUBJECT) {
            return Ok(None);
        }
        let name = record.data.get("name").and_then(Value::as_str);
        let scopes: Option<Vec<Scope>> = record
            .data
            .get("scopes")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let tag = record
            .data
            .get("sig")
            .and_then(Value::as_str)
            .and_then(|t| URL_SAFE_NO_PAD.decode(t).ok());
        let (Some(name), Some(scopes), Some(tag)) = (name, scopes, tag) else {
            return Ok(None);
        };
        let message = signed_message(&record.id, name, &scopes);
        if !self
            .engine
            .verify_signature(PURPOSE, &message, &tag)
            .await?
        {
            return Ok(None);
        }
        Ok(Some(Caller {
            id: record.id,
            name: name.to_owned(),
            scopes,
        }))
    }

    /// Every live key, newest first.
    pub async fn list(&self) -> Result<Vec<ApiKey>, Error> {
        let mut keys = Vec::new();
        for session in self.engine.list(KEY_SUBJECT).await? {
            let record = session.record();
            if let Some(caller) = self.authentic(record).await? {
                keys.push(ApiKey {
                    id: caller.id.to_hex(),
                    name: caller.name,
                    scopes: caller.scopes,
                    created_at: record.created_at.rfc3339(),
                    last_used: record.last_seen.rfc3339(),
                    expires_at: record.absolute_deadline.rfc3339(),
                });
            }
        }
        Ok(keys)
    }

    /// Revokes the key with this id, and every console session it signed in; false if there
    /// is no such key.
    pub async fn revoke(&self, id: &str) -> Result<bool, Error> {
        let Some(session_id) = SessionId::from_hex(id) else {
            return Ok(false);
        };
        let revoked = self.engine.revoke(KEY_SUBJECT, &session_id).await?;
        if revoked {
            self.engine
                .revoke_all(&console_subject(&session_id.to_hex()), None)
                .await?;
        }
        Ok(revoked)
    }

    /// On a store's very first start, makes an `admin` key named `first-admin` and returns it
    /// (to be printed once). Every later start, on any instance sharing the store, gets `None`,
    /// even if every key has since been revoked: a restart is not a way to a new admin key.
    pub async fn bootstrap(&self) -> Result<Option<NewKey>, KeyError> {
        let fresh = tessera_core::keyring::fresh_key().map_err(Error::from)?;
        let marker = self
            .engine
            .store()
            .signing_keys(BOOTSTRAP_PURPOSE, &fresh)
            .await
            .map_err(Error::from)?;
        if marker.first() != Some(&fresh) {
            return Ok(None);
        }
        self.create("first-admin", &[Scope::Admin]).await.map(Some)
    }

    /// The time as the registry sees it (for tests and listings).
    pub fn now(&self) -> Timestamp {
        self.engine.now()
    }
}
