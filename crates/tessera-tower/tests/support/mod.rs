//! The app the layer tests run: real axum routes over a real (memory) store with fault
//! injection, and helpers to send requests and read cookies.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::routing::{get, post};
use axum::Router;
use http::header::{COOKIE, SET_COOKIE};
use http::{Request, Response, StatusCode};
use tessera_core::{Engine, MemoryStore};
use tessera_tower::{Session, SessionError, SessionLayer};
use tower::ServiceExt;

/// The memory store with an operation counter and an outage switch (fault injection around the
/// real store, not a mock).
pub type Observed = tessera_core::conformance::Faulty<MemoryStore>;

pub async fn me(session: Session) -> Result<String, SessionError> {
    session.subject().ok_or(SessionError::NotSignedIn)
}

pub async fn login(session: Session) -> Result<&'static str, SessionError> {
    let ticket = session.login_ticket("alice").await?;
    session.login(ticket).await?;
    Ok("ok")
}

pub async fn login_as(
    session: Session,
    axum::extract::Path(user): axum::extract::Path<String>,
) -> Result<&'static str, SessionError> {
    let ticket = session.login_ticket(&user).await?;
    session.login(ticket).await?;
    Ok("ok")
}

pub async fn level(session: Session) -> String {
    session.auth_level().to_string()
}

pub async fn revoke_others(session: Session) -> Result<String, SessionError> {
    Ok(session.revoke_others().await?.to_string())
}

pub async fn login_remembered(session: Session) -> Result<&'static str, SessionError> {
    let ticket = session.login_ticket("alice").await?;
    session
        .login_with(
            ticket,
            tessera_core::LoginOptions {
                remember_me: true,
                ..Default::default()
            },
        )
        .await?;
    Ok("ok")
}

/// Signs in with an authorization value for the device-binding offer.
pub async fn login_offering_authorization(session: Session) -> Result<&'static str, SessionError> {
    let ticket = session.login_ticket("alice").await?;
    let options = tessera_core::LoginOptions {
        device_authorization: tessera_core::device::DeviceAuthorization::new("sso code 9").ok(),
        ..Default::default()
    };
    session.login_with(ticket, options).await?;
    Ok("ok")
}

pub async fn logout(session: Session) -> &'static str {
    match session.logout().await {
        tessera_core::LogoutOutcome::Ended => "bye",
        tessera_core::LogoutOutcome::Pending => "signed out here; server-side end pending",
        _ => "signed out here; the server could not end the session",
    }
}

pub async fn elevate(session: Session) -> Result<String, SessionError> {
    session.elevate(2, Duration::from_secs(300)).await?;
    Ok(session.auth_level().to_string())
}

pub async fn form_token(session: Session) -> Result<String, SessionError> {
    session.csrf_token().await
}

pub async fn check_token(session: Session, body: String) -> StatusCode {
    if session.verify_csrf(&body).await {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    }
}

pub async fn mark(
    session: Session,
    axum::extract::Path(i): axum::extract::Path<u32>,
) -> Result<(), SessionError> {
    session.insert(&format!("k{i}"), &true).await
}

pub async fn marks(session: Session) -> String {
    (0..1000)
        .filter(|i| matches!(session.get::<bool>(&format!("k{i}")), Ok(Some(true))))
        .count()
        .to_string()
}

pub fn app_with(
    store: Arc<Observed>,
    configure: impl FnOnce(SessionLayer) -> SessionLayer,
) -> Router {
    app_on(Engine::new(store), configure)
}

pub fn app_on<S: tessera_core::Store>(
    engine: Engine<S>,
    configure: impl FnOnce(SessionLayer) -> SessionLayer,
) -> Router {
    let layer = configure(SessionLayer::new(engine));
    Router::new()
        .route("/me", get(me))
        .route("/login", post(login))
        .route("/login-as/{user}", post(login_as))
        .route("/level", get(level))
        .route("/revoke-others", post(revoke_others))
        .route("/logout", post(logout))
        .route("/login-remembered", post(login_remembered))
        .route("/login-authorized", post(login_offering_authorization))
        .route("/elevate", post(elevate))
        .route("/csrf", get(form_token))
        .route("/csrf", post(check_token))
        .route("/mark/{i}", post(mark))
        .route("/marks", get(marks))
        .route("/static", get(|| async { "no session here" }))
        .layer(layer)
}

pub fn app(store: Arc<Observed>) -> Router {
    app_with(store, |l| l)
}

pub async fn send(app: &Router, method: &str, uri: &str, cookie: Option<&str>) -> Response<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "app.test");
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    app.clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

/// Sends a request with every header given (e.g. several `Cookie` headers, or a raw one).
pub async fn send_raw(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &[u8])],
) -> Response<Body> {
    let mut req = Request::builder().method(method).uri(uri);
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        req = req.header("host", "app.test");
    }
    for (name, value) in headers {
        req = req.header(*name, http::HeaderValue::from_bytes(value).unwrap());
    }
    app.clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

pub fn set_cookies(resp: &Response<Body>) -> Vec<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// `name=value` of the single Set-Cookie.
pub fn cookie_pair(resp: &Response<Body>) -> String {
    let all = set_cookies(resp);
    assert_eq!(all.len(), 1, "expected exactly one Set-Cookie, got {all:?}");
    all[0].split(';').next().unwrap().to_owned()
}

pub async fn body(resp: Response<Body>) -> String {
    String::from_utf8(to_bytes(resp.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap()
}
