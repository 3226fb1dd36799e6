//! The JSON API under `/v1`: login tickets, sessions (create, resolve, rotate, elevate, end,
//! data), a subject's sessions (list, revoke one, revoke all), API keys.
//!
//! Tokens travel only in request bodies, never in a URL: every call that takes a token is a
//! `POST` with `{"token": ...}`. Each route's scope, summary and body types live in one table
//! ([`crate::routes`]) that both builds the router and writes the OpenAPI document.

use std::net::IpAddr;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tessera_core::{
    CarryOver, ClientInfo, Issued, LoginOptions, Session, SessionId, Store, Timestamp, Token,
};

use crate::api_keys::{is_reserved, ApiKey, KeyError, Scope};
use crate::problem::Problem;
use crate::App;

/// Longest elevation accepted, in seconds (a step-up is for minutes, not days).
pub const MAX_ELEVATION_SECS: u64 = 24 * 3600;
/// Most data keys carried over at login.
const MAX_CARRY_OVER: usize = 64;

/// A JSON body whose rejection is a problem document (400, 413, 415 or 422) that never echoes
/// a long quoted value from the body (it could be a token in the wrong field).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, St: Send + Sync> FromRequest<St> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &St) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_problem(&rejection)),
        }
    }
}

fn json_problem(rejection: &JsonRejection) -> Problem {
    let status = rejection.status();
    let (code, title) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("body-too-large", "Body too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported-media-type", "Unsupported media type"),
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid-body", "Invalid body"),
        _ => ("invalid-json", "Invalid JSON"),
    };
    let status = match status {
        StatusCode::PAYLOAD_TOO_LARGE
        | StatusCode::UNSUPPORTED_MEDIA_TYPE
        | StatusCode::UNPROCESSABLE_ENTITY => status,
        _ => StatusCode::BAD_REQUEST,
    };
    let detail = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            "the request body is larger than the service accepts".into()
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            "send the body as Content-Type: application/json".into()
        }
        _ => scrub(&rejection.body_text()),
    };
    Problem::new(status, code, title, detail)
}

/// Cuts a parser message short and blanks every quoted value longer than 16 characters.
pub(crate) fn scrub(message: &str) -> String {
    let mut out = String::new();
    for (i, part) in message.split('"').enumerate() {
        if i > 0 {
            out.push('"');
        }
        if i % 2 == 1 && part.chars().count() > 16 {
            out.push_str("[redacted]");
        } else {
            out.push_str(part);
        }
    }
    out.chars().take(300).collect()
}

/// A path parameter whose rejection is a problem document.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, St: Send + Sync> FromRequestParts<St> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(Self(v)),
            Err(e) => Err(path_problem(&e)),
        }
    }
}

fn path_problem(e: &PathRejection) -> Problem {
    Problem::bad_request(scrub(&e.body_text()))
}

// ------------------------------------------------------------------ bodies

/// `POST /v1/login-tickets`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketRequest {
    /// The user id the back end is about to check a credential for (1 to 256 bytes, no
    /// control characters, not starting with `tessera:`).
    #[schemars(
        length(min = 1, max = 256),
        regex(pattern = r"^[^\u0000-\u001f\u007f-\u009f]+$")
    )]
    pub subject: String,
}

/// A sealed login ticket.
#[derive(Serialize, JsonSchema)]
pub struct TicketView {
    /// Pass this to `POST /v1/sessions` after the credential check.
    pub ticket: String,
    /// The subject it signs in.
    pub subject: String,
    /// When it stops being accepted (RFC 3339).
    pub expires_at: String,
}

/// `POST /v1/sessions`: sign the ticket's subject in.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// The ticket taken before the credential check.
    pub ticket: String,
    /// Assurance level of this login (default 1).
    #[serde(default)]
    pub auth_level: Option<u32>,
    /// A persistent cookie for the absolute lifetime instead of a browser-session cookie.
    #[serde(default)]
    pub remember_me: bool,
    /// The browser's `User-Agent`, for the session list (cut to 256 bytes).
    #[serde(default)]
    pub user_agent: Option<String>,
    /// The browser's IP address; only its /24 or /48 prefix is kept.
    #[serde(default)]
    pub ip: Option<String>,
    /// The pre-login session's token, if any: it is ended, and only `carry_over` keys survive.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{43}$"))]
    pub previous_token: Option<String>,
    /// Data keys of the previous session to keep (e.g. a cart).
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub carry_over: Vec<String>,
}

/// A body that names a session by its token.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The session token (43 characters of base64url).
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{43}$"))]
    pub token: String,
    /// For the answer's `Set-Cookie`: a persistent cookie (remember me).
    #[serde(default)]
    pub remember_me: bool,
}

/// `POST /v1/sessions/elevate`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ElevateRequest {
    /// The session token.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{43}$"))]
    pub token: String,
    /// The level to step up to.
    pub level: u32,
    /// How long the step-up lasts, in seconds (1 to 86400).
    #[schemars(range(min = 1, max = 86400))]
    pub duration_secs: u64,
    /// For the answer's `Set-Cookie`: a persistent cookie (remember me).
    #[serde(default)]
    pub remember_me: bool,
}

/// `POST /v1/sessions/data`: replace the data if the version still matches.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataRequest {
    /// The session token.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{43}$"))]
    pub token: String,
    /// The version the data was read at (`version` from resolve).
    pub version: u64,
    /// The new data, whole.
    pub data: Map<String, Value>,
}

/// `POST /v1/subjects/{subject}/revoke-all`.
#[derive(Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeAllRequest {
    /// Keep the session of this token (the caller's own, after a password change).
    #[serde(default)]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{43}$"))]
    pub except_token: Option<String>,
}

/// `POST /v1/api-keys`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    /// A name for people (1 to 64 of A-Z a-z 0-9 space . _ -).
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z0-9 ._-]+$"))]
    pub name: String,
    /// What the key may do.
    #[schemars(length(min = 1))]
    pub scopes: Vec<Scope>,
}

/// A session as the API shows it. `id` is the store's id (a hash, not a credential).
#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionView {
    /// The store id (64 hex characters); revoke by it.
    pub id: String,
    /// The short reference the audit log uses.
    pub reference: String,
    /// The user id; absent for an anonymous session.
    pub subject: Option<String>,
    /// The assurance level in force now (an unexpired step-up, else the login's).
    pub auth_level: u32,
    /// False when the token presented was rotated out and is inside its grace window.
    pub current_token: bool,
    /// The data version, for `POST /v1/sessions/data`.
    pub version: u64,
    /// RFC 3339.
    pub created_at: String,
    /// Last renewal of the idle deadline (RFC 3339; throttled).
    pub last_seen: String,
    /// When the session ends unless used again (RFC 3339).
    pub idle_expires_at: String,
    /// When the session ends whatever happens (RFC 3339).
    pub expires_at: String,
    /// When the user last proved who they are (RFC 3339).
    pub auth_time: Option<String>,
    /// The client's user agent, as given at login.
    pub user_agent: Option<String>,
    /// The client's address prefix (/24 or /48).
    pub ip_prefix: Option<String>,
    /// The application's data. Absent in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
}

impl SessionView {
    fn of(s: &Session, with_data: bool) -> Self {
        let r = s.record();
        Self {
            id: r.id.to_hex(),
            reference: s.reference().to_string(),
            subject: r.subject.as_deref().map(str::to_owned),
            auth_level: s.auth_level(),
            current_token: s.is_current_token(),
            version: r.version,
            created_at: r.created_at.rfc3339(),
            last_seen: r.last_seen.rfc3339(),
            idle_expires_at: r.idle_deadline.rfc3339(),
            expires_at: r.absolute_deadline.rfc3339(),
            auth_time: r.auth_time.map(Timestamp::rfc3339),
            user_agent: r.client.user_agent.clone(),
            ip_prefix: r.client.ip_prefix.map(|p| p.to_string()),
            data: with_data.then(|| r.data.clone()),
        }
    }
}

/// A token just issued (login, rotation, step-up), with the cookie that carries it.
#[derive(Serialize, JsonSchema)]
pub struct IssuedView {
    /// The new token. Send it to the browser only in `set_cookie`.
    pub token: String,
    /// A ready `Set-Cookie` header value with the configured, safe attributes.
    pub set_cookie: String,
    /// The session.
    pub session: SessionView,
}

/// `POST /v1/sessions/logout`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LogoutView {
    /// True if this call ended a live session (false: it was already gone).
    pub ended: bool,
    /// A `Set-Cookie` value that removes the cookie from the browser.
    pub set_cookie: String,
}

/// A subject's live sessions, newest first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionList {
    /// The subject.
    pub subject: String,
    /// Its sessions (no data).
    pub sessions: Vec<SessionView>,
}

/// How many sessions a revocation ended.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Revoked {
    /// Sessions ended.
    pub revoked: u64,
}

/// A key just made.
#[derive(Serialize, JsonSchema)]
pub struct NewKeyView {
    /// The secret: shown this once, never stored.
    pub secret: String,
    /// The key as listed.
    pub key: ApiKey,
}

/// The live API keys.
#[derive(Debug, Serialize, JsonSchema)]
pub struct KeyList {
    /// Newest first.
    pub keys: Vec<ApiKey>,
}

/// `/healthz` and `/readyz`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the store does not answer.
    pub status: &'static str,
}

/// `Debug` for the bodies that carry a token, a sealed ticket or a key: the type's name only,
/// so no `{:?}` (a log line, a panic message) can print a credential.
macro_rules! debug_without_secrets {
    ($($t:ident),*) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t)).finish_non_exhaustive()
            }
        }
    )*};
}

debug_without_secrets!(
    TicketView,
    CreateRequest,
    TokenRequest,
    ElevateRequest,
    DataRequest,
    RevokeAllRequest,
    IssuedView,
    NewKeyView
);

// ------------------------------------------------------------------ helpers

pub(crate) fn token(text: &str) -> Result<Token, Problem> {
    Token::parse(text).map_err(|_| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-token",
            "Invalid token",
            "a session token is 43 characters of base64url",
        )
    })
}

fn subject(text: &str) -> Result<&str, Problem> {
    tessera_core::validate_subject(text)?;
    if is_reserved(text) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reserved-subject",
            "Reserved subject",
            "subjects starting with \"tessera:\" are reserved for the service itself",
        ));
    }
    Ok(text)
}

impl<S: Store> App<S> {
    fn issued(&self, issued: &Issued, remember_me: bool) -> IssuedView {
        self.metrics.active(issued.session.record().id);
        let record = issued.session.record();
        let max_age = remember_me.then(|| record.absolute_deadline.since(self.engine.now()));
        IssuedView {
            token: issued.token.expose(),
            set_cookie: cookie_text(&self.cookie.set_cookie(Some(&issued.token), max_age)),
            session: SessionView::of(&issued.session, true),
        }
    }

    /// Resolves a token to a live session of a real subject (never an API key or a console
    /// session).
    pub(crate) async fn live(&self, token: &Token) -> Result<Session, Problem> {
        let resolved = self.engine.resolve(token).await;
        if let Ok(r) = &resolved {
            self.metrics.resolved(r.is_some());
        }
        match resolved? {
            Some(s) if !s.subject().is_some_and(is_reserved) => {
                self.metrics.active(s.record().id);
                Ok(s)
            }
            _ => Err(Problem::no_session()),
        }
    }
}

fn cookie_text(v: &HeaderValue) -> String {
    String::from_utf8_lossy(v.as_bytes()).into_owned()
}

pub(crate) fn no_store<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let mut r = (status, Json(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn client(user_agent: Option<&str>, ip: Option<&str>) -> Result<ClientInfo, Problem> {
    let ip = match ip {
        None => None,
        Some(text) => Some(text.parse::<IpAddr>().map_err(|_| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-ip",
                "Invalid IP address",
                "ip must be an IPv4 or IPv6 address",
            )
        })?),
    };
    Ok(ClientInfo::new(user_agent, ip))
}

// ------------------------------------------------------------------ handlers

pub(crate) async fn create_ticket<S: Store>(
    State(app): State<App<S>>,
    ApiJson(req): ApiJson<TicketRequest>,
) -> Result<Response, Problem> {
    let subject = subject(&req.subject)?;
    let ticket = app.engine.login_ticket(subject).await?;
    let sealed = app.engine.seal_ticket(&ticket).await?;
    let expires = app.engine.now().plus(tessera_core::SEALED_TICKET_LIFETIME);
    Ok(no_store(
        StatusCode::CREATED,
        &TicketView {
            ticket: sealed,
            subject: subject.to_owned(),
            expires_at: expires.rfc3339(),
        },
    ))
}

pub(crate) async fn create_session<S: Store>(
    State(app): State<App<S>>,
    ApiJson(req): ApiJson<CreateRequest>,
) -> Result<Response, Problem> {
    let ticket = app.engine.open_ticket(&req.ticket).await?;
    subject(ticket.subject())?;
    if req.carry_over.len() > MAX_CARRY_OVER {
        return Err(Problem::bad_request("carry_over names at most 64 keys"));
    }
    let previous = req.previous_token.as_deref().map(token).transpose()?;
    let options = LoginOptions {
        carry_over: if req.carry_over.is_empty() {
            CarryOver::Nothing
        } else {
            CarryOver::Keys(req.carry_over)
        },
        auth_level: req.auth_level.unwrap_or(1),
        client: client(req.user_agent.as_deref(), req.ip.as_deref())?,
        remember_me: req.remember_me,
        // The offer is its own call here (`/v1/device/offer`), which takes the value.
        device_authorization: None,
    };
    let issued = app.engine.login(previous.as_ref(), ticket, options).await?;
    Ok(no_store(
        StatusCode::CREATED,
        &app.issued(&issued, req.remember_me),
    ))
}

pub(crate) async fn resolve<S: Store>(
    State(app): State<App<S>>,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<Response, Problem> {
    let session = app.live(&token(&req.token)?).await?;
    Ok(no_store(StatusCode::OK, &SessionView::of(&session, true)))
}

pub(crate) async fn rotate<S: Store>(
    State(app): State<App<S>>,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<Response, Problem> {
    let t = token(&req.token)?;
    app.live(&t).await?;
    let issued = app.engine.rotate(&t).await?;
    Ok(no_store(
        StatusCode::OK,
        &app.issued(&issued, req.remember_me),
    ))
}

pub(crate) async fn elevate<S: Store>(
    State(app): State<App<S>>,
    ApiJson(req): ApiJson<ElevateRequest>,
) -> Result<Response, Problem> {
    if !(1..=MAX_ELEVATION_SECS).contains(&req.duration_secs) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-duration",
            "Invalid duration",
            "duration_secs must be 1 to 86400",
        ));
    }
    let t = token(&req.token)?;
    app.live(&t).await?;
    let issued = app
        .engine
        .elevate(&t, req.level, Duration::from_secs(req.duration_secs))
        .await?;
    Ok(no_store(
        StatusCode::OK,
        &app.issued(&issued, req.remember_me),
    ))
}

pub(crate) async fn logout<S: Store>(
    State(app): State<App<S>>,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<Response, Problem> {
    let t = token(&req.token)?;
    let ended = match app.engine.resolve(&t).await? {
        Some(s) if !s.subject().is_some_and(is_reserved) => {
            app.engine.logout(&t).await?;
            true
        }
        _ => false,
    };
    Ok(no_store(
        StatusCode::OK,
        &LogoutView {
            ended,
            set_cookie: cookie_text(&app.cookie.set_cookie(None, None)),
        },
    ))
}

pub(crate) async fn update_data<S: Store>(
    State(app): State<App<S>>,
    ApiJson(req): ApiJson<DataRequest>,
) -> Result<Response, Problem> {
    let t = token(&req.token)?;
    let session = app.live(&t).await?;
    app.engine
        .update_data(&session.id(), req.version, req.data)
        .await?;
    let session = app.live(&t).await?;
    Ok(no_store(StatusCode::OK, &SessionView::of(&session, true)))
}

pub(crate) async fn list_sessions<S: Store>(
    State(app): State<App<S>>,
    ApiPath(who): ApiPath<String>,
) -> Result<Response, Problem> {
    let who = subject(&who)?;
    let sessions = app.engine.list(who).await?;
    Ok(no_store(
        StatusCode::OK,
        &SessionList {
            subject: who.to_owned(),
            sessions: sessions.iter().map(|s| SessionView::of(s, false)).collect(),
        },
    ))
}

pub(crate) async fn revoke_session<S: Store>(
    State(app): State<App<S>>,
    ApiPath((who, id)): ApiPath<(String, String)>,
) -> Result<Response, Problem> {
    let who = subject(&who)?;
    let gone = Problem::new(
        StatusCode::NOT_FOUND,
        "no-session",
        "No session",
        "the subject has no live session with this id",
    );
    let id = SessionId::from_hex(&id).ok_or_else(|| gone.clone())?;
    if app.engine.revoke(who, &id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(gone)
    }
}

pub(crate) async fn revoke_all<S: Store>(
    State(app): State<App<S>>,
    ApiPath(who): ApiPath<String>,
    ApiJson(req): ApiJson<RevokeAllRequest>,
) -> Result<Response, Problem> {
    let who = subject(&who)?;
    let except = match req.except_token.as_deref() {
        None => None,
        Some(text) => {
            let session = app.live(&token(text)?).await?;
            if session.subject() != Some(who) {
                return Err(Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "not-this-subject",
                    "Not this subject's session",
                    "except_token names a session of another subject",
                ));
            }
            Some(session.id())
        }
    };
    let revoked = app.engine.revoke_all(who, except.as_ref()).await?;
    Ok(no_store(StatusCode::OK, &Revoked { revoked }))
}

pub(crate) async fn list_keys<S: Store>(State(app): State<App<S>>) -> Result<Response, Problem> {
    let keys = app.keys.list().await?;
    Ok(no_store(StatusCode::OK, &KeyList { keys }))
}

pub(crate) async fn create_key<S: Store>(
    State(app): State<App<S>>,
    ApiJson(req): ApiJson<KeyRequest>,
) -> Result<Response, Problem> {
    let made = app.keys.create(&req.name, &req.scopes).await?;
    tracing::info!(target: "tessera::serve", name = %made.key.name, id = %made.key.id, "API key created");
    Ok(no_store(
        StatusCode::CREATED,
        &NewKeyView {
            secret: made.secret,
            key: made.key,
        },
    ))
}

pub(crate) async fn revoke_key<S: Store>(
    State(app): State<App<S>>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    if app.keys.revoke(&id).await? {
        tracing::info!(target: "tessera::serve", id = %id, "API key revoked");
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Problem::new(
            StatusCode::NOT_FOUND,
            "no-key",
            "No such key",
            "no live API key has this id",
        ))
    }
}

pub(crate) async fn healthz() -> Response {
    no_store(StatusCode::OK, &Health { status: "ok" })
}

pub(crate) async fn readyz<S: Store>(State(app): State<App<S>>) -> Response {
    // One cheap read the store must answer: a subject's epoch.
    match app.engine.store().subject_epoch("tessera:readiness").await {
        Ok(_) => no_store(StatusCode::OK, &Health { status: "ok" }),
        Err(_) => no_store(
            StatusCode::SERVICE_UNAVAILABLE,
            &Health {
                status: "unavailable",
            },
        ),
    }
}

pub(crate) async fn metrics<S: Store>(State(app): State<App<S>>) -> Response {
    let mut r = app.metrics.render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

impl From<KeyError> for Problem {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Engine(e) => Problem::from(e),
            other => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-key-request",
                "Invalid key request",
                other.to_string(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::scrub;

    #[test]
    fn bodies_with_credentials_never_debug_print_them() {
        let token = "T".repeat(43);
        let req: super::TokenRequest =
            serde_json::from_value(serde_json::json!({"token": token})).unwrap();
        let data: super::DataRequest =
            serde_json::from_value(serde_json::json!({"token": token, "version": 1, "data": {}}))
                .unwrap();
        let create: super::CreateRequest =
            serde_json::from_value(serde_json::json!({"ticket": token, "previous_token": token}))
                .unwrap();
        let key = super::NewKeyView {
            secret: format!("tessera_key_{token}"),
            key: crate::ApiKey {
                id: "i".into(),
                name: "n".into(),
                scopes: vec![],
                created_at: String::new(),
                last_used: String::new(),
                expires_at: String::new(),
            },
        };
        for shown in [
            format!("{req:?}"),
            format!("{data:?}"),
            format!("{create:?}"),
            format!("{key:?}"),
            format!("{:?}", super::ApiJson(req)),
        ] {
            assert!(!shown.contains(&token), "{shown}");
        }
    }

    #[test]
    fn parser_messages_never_echo_long_values() {
        let token = "A".repeat(43);
        let m = format!("invalid type: string \"{token}\", expected u32 at line 1 column 60");
        let s = scrub(&m);
        assert!(!s.contains(&token) && s.contains("[redacted]"), "{s}");
        assert_eq!(scrub("missing field `token`"), "missing field `token`");
        assert!(scrub(&"x".repeat(1000)).len() <= 300);
    }
}
