//! Forward-auth: nginx `auth_request`, Traefik `forwardAuth` and Caddy `forward_auth` ask this
//! endpoint about every request they proxy. It reads the session cookie from the proxied
//! request exactly as the tower layer does (exact name, look-alikes and duplicates never
//! trusted) and answers 200 with the identity in headers, or 401. No API key: the proxy holds
//! none, and the answer tells a caller nothing its own cookie does not.
//!
//! An unsafe method (from `X-Forwarded-Method` or `X-Original-Method`) that a browser marks
//! cross-site is refused with 403, as the layer's CSRF guard does for Rust apps.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tessera_core::{EventKind, Store};
use tessera_tower::transport::{self as reader, Presented};
use tessera_tower::CsrfGuard;

use crate::api_keys::is_reserved;
use crate::problem::Problem;
use crate::App;

/// The subject, percent-encoded UTF-8 (bytes outside visible ASCII, and `%`, as `%XX`).
pub const SUBJECT_HEADER: &str = "x-tessera-subject";
/// The session's short reference (as in the audit log).
pub const SESSION_HEADER: &str = "x-tessera-session";
/// The assurance level in force.
pub const LEVEL_HEADER: &str = "x-tessera-auth-level";

fn forwarded<'a>(headers: &'a HeaderMap, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| headers.get(*n).and_then(|v| v.to_str().ok()))
}

/// Percent-encodes everything but visible ASCII other than `%`.
pub fn encode_subject(subject: &str) -> String {
    let mut out = String::with_capacity(subject.len());
    for b in subject.bytes() {
        if b.is_ascii_graphic() && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn unauthorized(extra_cookies: Vec<HeaderValue>) -> Response {
    let mut r = Problem::new(
        StatusCode::UNAUTHORIZED,
        "not-signed-in",
        "Not signed in",
        "the request carries no live session",
    )
    .into_response();
    for c in extra_cookies {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

pub(crate) async fn check<S: Store>(
    State(app): State<App<S>>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    // The proxied request as the proxy describes it.
    let method = forwarded(&headers, &["x-forwarded-method", "x-original-method"])
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .unwrap_or(method);
    let host = forwarded(&headers, &["x-forwarded-host"])
        .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()));
    let path = forwarded(&headers, &["x-forwarded-uri", "x-original-uri"])
        .map(|u| u.split('?').next().unwrap_or("/"))
        .unwrap_or("/");
    let mut site = headers.clone();
    if let Some(h) = host.and_then(|h| HeaderValue::from_str(h).ok()) {
        site.insert(header::HOST, h);
    }
    if CsrfGuard::new()
        .check_with(
            &method,
            &Uri::from_static("/"),
            &site,
            app.cookie.is_secure(),
        )
        .is_err()
    {
        return Problem::new(
            StatusCode::FORBIDDEN,
            "cross-site-request",
            "Cross-site request",
            "an unsafe request from another site was refused",
        )
        .into_response();
    }

    let reading = reader::read(&headers, app.cookie.name());
    let mut removals = Vec::new();
    if reading.tossing_suspected() {
        app.engine.report(
            EventKind::CookieTossingSuspected {
                look_alikes: reading.look_alikes,
                exact: reading.exact,
            },
            None,
            None,
        );
        removals = app.cookie.tossed_cookie_removals(host, path);
    }
    let token = match reading.presented {
        Presented::Token(t) => t,
        Presented::None => return unauthorized(removals),
        Presented::Duplicate => return unauthorized(removals),
        Presented::Malformed => {
            removals.push(app.cookie.set_cookie(None, None));
            return unauthorized(removals);
        }
    };
    let resolved = app.engine.resolve(&token).await;
    if let Ok(r) = &resolved {
        app.metrics
            .resolved(r.as_ref().is_some_and(|s| s.subject().is_some()));
        if let Some(s) = r.as_ref().filter(|s| {
            s.subject()
                .is_some_and(|u| !crate::api_keys::is_reserved(u))
        }) {
            app.metrics.active(s.record().id);
        }
    }
    let session = match resolved {
        Err(e) => return Problem::from(e).into_response(),
        Ok(Some(s)) => s,
        Ok(None) => {
            removals.push(app.cookie.set_cookie(None, None));
            return unauthorized(removals);
        }
    };
    let subject = match session.subject() {
        Some(s) if !is_reserved(s) => s,
        _ => return unauthorized(removals),
    };
    let mut r = StatusCode::OK.into_response();
    let h = r.headers_mut();
    for (name, value) in [
        (SUBJECT_HEADER, encode_subject(subject)),
        (SESSION_HEADER, session.reference().to_string()),
        (LEVEL_HEADER, session.auth_level().to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in removals {
        h.append(header::SET_COOKIE, c);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::encode_subject;

    #[test]
    fn subjects_become_header_safe() {
        assert_eq!(encode_subject("alice"), "alice");
        assert_eq!(encode_subject("a b%c"), "a%20b%25c");
        assert_eq!(
            encode_subject("zoë\r\nX-Evil: 1"),
            "zo%C3%AB%0D%0AX-Evil:%201"
        );
    }
}
