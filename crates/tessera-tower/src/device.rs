//! Device-bound sessions (W3C DBSC) at the HTTP edge: the registration offer on a sign-in's
//! response, and the two endpoints the browser calls by itself, registration and refresh.
//! Off by default ([`crate::SessionLayer::with_device_binding`]) until browsers ship DBSC
//! widely; a browser without DBSC never calls them and keeps a plain session cookie.
//!
//! Both endpoints are answered by the layer before the CSRF guard: neither acts on the
//! cookie's authority alone. Registration needs the session's cookie *and* a proof over a
//! challenge that only the sign-in response carried; refresh needs a proof signed by the
//! session's device key.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::json;
use tessera_core::device::{wire, DeviceAuthorization};
use tessera_core::{Engine, Error, Issued, Store, Timestamp, Token};

use crate::backend::Backend;
use crate::transport::CookieConfig;

/// Longest `Sec-Secure-Session-Id` or proof header read; longer ones are refused unread.
const MAX_HEADER_BYTES: usize = 8 * 1024;

/// Where the layer serves DBSC's registration and refresh endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceBindingConfig {
    registration_path: String,
    refresh_path: String,
}

/// Why device-binding paths were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a device-binding path must start with '/', be at most 256 visible ASCII characters, without '\"', '\\\\', '?' or '#', and the two paths must differ")]
pub struct DeviceBindingConfigError;

impl Default for DeviceBindingConfig {
    fn default() -> Self {
        Self {
            registration_path: "/.tessera/dbsc/registration".into(),
            refresh_path: "/.tessera/dbsc/refresh".into(),
        }
    }
}

impl DeviceBindingConfig {
    /// The default paths, `/.tessera/dbsc/registration` and `/.tessera/dbsc/refresh`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Other paths. They go into a structured header and a JSON body, so they are refused
    /// unless plainly printable.
    pub fn with_paths(registration: &str, refresh: &str) -> Result<Self, DeviceBindingConfigError> {
        let ok = |p: &str| {
            p.starts_with('/')
                && p.len() <= 256
                && p.bytes()
                    .all(|b| b.is_ascii_graphic() && !b"\"\\?#".contains(&b))
        };
        if !ok(registration) || !ok(refresh) || registration == refresh {
            return Err(DeviceBindingConfigError);
        }
        Ok(Self {
            registration_path: registration.into(),
            refresh_path: refresh.into(),
        })
    }

    /// The registration endpoint's path.
    pub fn registration_path(&self) -> &str {
        &self.registration_path
    }

    /// The refresh endpoint's path.
    pub fn refresh_path(&self) -> &str {
        &self.refresh_path
    }

    /// The `Secure-Session-Registration` value offering `challenge`, naming `authorization`
    /// when the challenge was issued with one.
    pub fn offer(
        &self,
        challenge: &str,
        authorization: Option<&DeviceAuthorization>,
    ) -> Option<HeaderValue> {
        let mut value = format!(
            "{};path=\"{}\";challenge=\"{challenge}\"",
            wire::ALGORITHMS,
            self.registration_path
        );
        if let Some(authorization) = authorization {
            // DeviceAuthorization holds no '"' or '\\': it goes in as a string as it is.
            value.push_str(&format!(
                ";{}=\"{}\"",
                wire::AUTHORIZATION,
                authorization.as_str()
            ));
        }
        HeaderValue::from_str(&value).ok()
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() || value.len() > MAX_HEADER_BYTES {
        return None;
    }
    value.to_str().ok()
}

/// Never cached, never framed or embedded by another origin (the draft's advice for the
/// refresh endpoint, which could otherwise leak sign-in state through timing).
fn guarded(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

fn plain(status: StatusCode, message: &'static str) -> Response {
    guarded((status, message).into_response())
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    guarded(response)
}

/// A structured-header string (`"…"`, as the draft sends both headers) or a bare value.
fn unquoted(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(value)
}

/// The session instructions with the fresh bound cookie.
fn bound(
    issued: &Issued,
    config: &DeviceBindingConfig,
    cookie: &CookieConfig,
    backend: &dyn Backend,
) -> Response {
    let max_age = issued
        .session
        .record()
        .device
        .as_ref()
        .map(|d| bound_max_age(d.token_until, backend.now()));
    let mut response = json_response(
        StatusCode::OK,
        &json!({
            wire::SESSION_IDENTIFIER: issued.token.selector_text(),
            wire::REFRESH_URL: config.refresh_path,
            wire::SCOPE: {"include_site": false, "scope_specification": []},
            wire::CREDENTIALS: [{
                "type": "cookie",
                "name": cookie.name(),
                "attributes": cookie.attributes(),
            }],
        }),
    );
    response
        .headers_mut()
        .append(SET_COOKIE, cookie.set_cookie(Some(&issued.token), max_age));
    response
}

/// A bound cookie's `Max-Age`: what is left of the token's life, less
/// [`tessera_core::BOUND_COOKIE_MARGIN`], so the browser drops it (and refreshes) before any
/// server stops honouring it.
pub(crate) fn bound_max_age(token_until: Timestamp, now: Timestamp) -> Duration {
    token_until
        .since(now)
        .saturating_sub(tessera_core::BOUND_COOKIE_MARGIN)
}

/// Tells the browser the session is over, so it stops refreshing (after logout, revocation,
/// or expiry).
fn ended(identifier: &str) -> Response {
    // Echoed only when it has a session identifier's shape: never reflect arbitrary input.
    let body = if Token::for_selector(identifier).is_ok() {
        json!({wire::SESSION_IDENTIFIER: identifier, wire::CONTINUE: false})
    } else {
        json!({wire::CONTINUE: false})
    };
    json_response(StatusCode::OK, &body)
}

fn failure(e: &Error) -> Response {
    match e {
        Error::Store(_) => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "the session store is unavailable\n",
        ),
        Error::DeviceAlreadyBound => plain(
            StatusCode::CONFLICT,
            "the session is already bound to a device key\n",
        ),
        Error::NoSession => plain(StatusCode::FORBIDDEN, "no session\n"),
        _ => plain(StatusCode::FORBIDDEN, "the device proof was refused\n"),
    }
}

/// The registration endpoint's answer for a host that serves it itself (`tessera serve`
/// relays it to apps in any language): exactly what the layer answers. `token` is the session
/// cookie's token; `headers` carry `Secure-Session-Response`.
pub async fn registration_answer<S: Store>(
    engine: &Engine<S>,
    config: &DeviceBindingConfig,
    cookie: &CookieConfig,
    token: Option<Token>,
    headers: &HeaderMap,
) -> Response {
    register(engine, config, cookie, token, headers).await
}

/// The refresh endpoint's answer for a host that serves it itself; `headers` carry
/// `Sec-Secure-Session-Id` and, on the retry, `Secure-Session-Response`.
pub async fn refresh_answer<S: Store>(
    engine: &Engine<S>,
    config: &DeviceBindingConfig,
    cookie: &CookieConfig,
    headers: &HeaderMap,
) -> Response {
    refresh(engine, config, cookie, headers).await
}

/// `POST` to the registration path: binds the cookie's session to the proof's key.
pub(crate) async fn register(
    backend: &dyn Backend,
    config: &DeviceBindingConfig,
    cookie: &CookieConfig,
    token: Option<Token>,
    headers: &HeaderMap,
) -> Response {
    let Some(token) = token else {
        return plain(StatusCode::FORBIDDEN, "no session\n");
    };
    let Some(proof) = header(headers, wire::RESPONSE).map(unquoted) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "a Secure-Session-Response proof is required\n",
        );
    };
    match backend.register_device(&token, proof).await {
        Ok(issued) => bound(&issued, config, cookie, backend),
        Err(e) => {
            tracing::warn!(target: "tessera::device", error = %e, "device registration refused");
            failure(&e)
        }
    }
}

/// `POST` to the refresh path: a challenge, or, with a proof over one, a fresh bound cookie.
pub(crate) async fn refresh(
    backend: &dyn Backend,
    config: &DeviceBindingConfig,
    cookie: &CookieConfig,
    headers: &HeaderMap,
) -> Response {
    let Some(identifier) = header(headers, wire::SESSION_ID) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "a Sec-Secure-Session-Id is required\n",
        );
    };
    let identifier = unquoted(identifier);
    if let Some(proof) = header(headers, wire::RESPONSE).map(unquoted) {
        match backend.refresh_device(identifier, proof).await {
            Ok(issued) => return bound(&issued, config, cookie, backend),
            Err(Error::NoSession) => return ended(identifier),
            Err(e @ Error::Store(_)) => return failure(&e),
            Err(e) => {
                tracing::warn!(target: "tessera::device", error = %e, "device refresh refused");
            }
        }
    }
    match backend.device_refresh_challenge(identifier).await {
        Ok(challenge) => {
            let mut response = plain(StatusCode::FORBIDDEN, "prove the device key\n");
            if let Ok(value) =
                HeaderValue::from_str(&format!("\"{challenge}\";id=\"{identifier}\""))
            {
                response.headers_mut().insert(wire::CHALLENGE, value);
            }
            response
        }
        Err(Error::NoSession) => ended(identifier),
        Err(e) => failure(&e),
    }
}
