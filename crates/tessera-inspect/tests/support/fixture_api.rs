//! The fixture as a single-page app's JSON API: the same sessions and switches as the HTML
//! routes, with JSON bodies and an anti-CSRF token from a JSON endpoint or a cookie (double
//! submit) instead of a form's hidden field.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /api/csrf` | `{"csrfToken": …}` for this session (a pre-login one is made), also set as the cookie `XSRF-TOKEN` |
//! | `POST /api/login` | `{"username","password"}` with `X-CSRF-Token` (or `X-XSRF-TOKEN`): 200 `{"ok":true}`, 401, 403, or 415 when not `application/json` |
//! | `GET /api/me` | 200 `{"user":"alice",…}` (and a fresh `XSRF-TOKEN`); signed out: 401 |
//! | `POST /api/logout`, `/api/password`, `/api/elevate` | JSON bodies as the HTML forms' fields, the token in the header |
//!
//! With `no_login_csrf`, `/api/login` takes any content type as JSON and no token, as a lax API
//! does: a page on another site can then post it as `text/plain` without a CORS preflight.

use super::*;
use axum::body::Bytes;

/// The API routes, on the same state as the pages.
pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/csrf", get(csrf))
        .route("/api/login", axum::routing::post(api_login))
        .route("/api/me", get(me))
        .route("/api/logout", axum::routing::post(api_logout))
        .route("/api/password", axum::routing::post(api_password))
        .route("/api/elevate", axum::routing::post(api_elevate))
}

fn json(app: &App, status: StatusCode, body: serde_json::Value, cookies: Vec<String>) -> Response {
    let mut b = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json");
    if !app.w.cacheable_pages {
        b = b.header(header::CACHE_CONTROL, "no-store");
    }
    for c in cookies {
        b = b.header(header::SET_COOKIE, c);
    }
    b.body(axum::body::Body::from(body.to_string()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn csrf(State(app): AppState, headers: HeaderMap, Query(q): Query<Params>) -> Response {
    let mut inner = app.lock();
    let (id, new) = app.current_or_new(&mut inner, &headers, &q);
    let token = csrf_of(&inner, &id);
    let mut cookies = vec![format!("XSRF-TOKEN={token}; Path=/; SameSite=Strict")];
    if new {
        cookies.push(app.set_cookie(&headers, Some(&id)));
    }
    json(
        &app,
        StatusCode::OK,
        serde_json::json!({ "csrfToken": token }),
        cookies,
    )
}

/// The request's JSON body as the HTML forms' fields, with the header token as `csrf`; `None`
/// (a 415) when it is not `application/json` and `strict`.
fn fields(headers: &HeaderMap, body: &Bytes, strict: bool) -> Option<Params> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if strict && !is_json {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut f: Params = value
        .as_object()?
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
        .collect();
    if strict {
        f.remove("csrf");
        if let Some(t) = ["x-csrf-token", "x-xsrf-token"]
            .iter()
            .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        {
            f.insert("csrf".into(), t.to_owned());
        }
    }
    Some(f)
}

/// An HTML route's answer as the API gives it: a redirect (success) becomes 200
/// `{"ok":true}`; an error keeps its status; `Set-Cookie` headers are kept.
fn as_json(app: &App, page: Response) -> Response {
    let status = page.status();
    let cookies: Vec<String> = page
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    if status == StatusCode::SEE_OTHER {
        let location = page
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        // A redirect to the sign-in page means the session was not there.
        if location.starts_with("/login") && cookies.is_empty() {
            return json(
                app,
                StatusCode::UNAUTHORIZED,
                serde_json::json!({ "error": "signed out" }),
                cookies,
            );
        }
        return json(
            app,
            StatusCode::OK,
            serde_json::json!({ "ok": true }),
            cookies,
        );
    }
    json(
        app,
        status,
        serde_json::json!({ "error": status.as_u16() }),
        cookies,
    )
}

fn unsupported(app: &App) -> Response {
    json(
        app,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        serde_json::json!({ "error": "application/json only" }),
        Vec::new(),
    )
}

async fn api_login(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Params>,
    body: Bytes,
) -> Response {
    let strict = !app.w.no_login_csrf;
    via(app, headers, q, body, strict, login).await
}

async fn me(State(app): AppState, headers: HeaderMap, Query(q): Query<Params>) -> Response {
    let mut inner = app.lock();
    let signed_in = app
        .current(&mut inner, &headers, &q)
        .and_then(|id| user_of(&inner, &id).map(|u| (id, u)));
    match signed_in {
        Some((id, user)) => {
            let elevated = inner.sessions.get(&id).is_some_and(|s| s.elevated);
            // As single-page apps do, each load refreshes the double-submit cookie (login and
            // elevation give the session a new token).
            let token = csrf_of(&inner, &id);
            json(
                &app,
                StatusCode::OK,
                serde_json::json!({ "user": user, "elevated": elevated }),
                vec![format!("XSRF-TOKEN={token}; Path=/; SameSite=Strict")],
            )
        }
        None => json(
            &app,
            StatusCode::UNAUTHORIZED,
            serde_json::json!({ "error": "signed out" }),
            Vec::new(),
        ),
    }
}

/// A JSON call onto one of the HTML routes' handlers: the body's fields (and the header's
/// token) in, the answer as JSON out; 415 for a body that is not JSON when `strict`.
async fn via<F, Fut>(
    app: Arc<App>,
    headers: HeaderMap,
    q: Params,
    body: Bytes,
    strict: bool,
    handler: F,
) -> Response
where
    F: FnOnce(AppState, HeaderMap, Query<Params>, Form<Params>) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let Some(f) = fields(&headers, &body, strict) else {
        return unsupported(&app);
    };
    let page = handler(State(app.clone()), headers, Query(q), Form(f)).await;
    as_json(&app, page)
}

// Logout answers a redirect to /login that clears the cookie: `as_json` counts that a success.
async fn api_logout(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Params>,
    body: Bytes,
) -> Response {
    via(app, headers, q, body, true, logout).await
}

async fn api_password(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Params>,
    body: Bytes,
) -> Response {
    via(app, headers, q, body, true, change_password).await
}

async fn api_elevate(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Params>,
    body: Bytes,
) -> Response {
    via(app, headers, q, body, true, elevate).await
}
