//! `tessera demo`: a small web app built only on the public library API, showing every promise
//! a user can see: hardened cookie, rotation at login and step-up, logout that ends the session
//! on the server, password change that ends the other sessions, and a session list.
//!
//! The two accounts and their passwords are demo fixtures, kept in memory, and said so on the page.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Form, FromRequestParts, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tessera_core::{Engine, Error, LogoutOutcome, Policy, Timestamp};
use tessera_tower::{CookieConfig, Session, SessionError, SessionLayer, SessionSummary};

use crate::limiter::Limiter;
use crate::store_url::AnyStore;

/// Auth level a step-up grants, and for how long.
const ELEVATED_LEVEL: u32 = 2;
const ELEVATION: Duration = Duration::from_secs(5 * 60);

/// The demo's user directory: username → password. Demo only: plain text, in memory.
#[derive(Clone)]
pub(crate) struct Users(Arc<Mutex<HashMap<String, String>>>);

impl Users {
    fn demo() -> Self {
        let users = [("alice", "wonderland"), ("bob", "builder")]
            .into_iter()
            .map(|(u, p)| (u.to_owned(), p.to_owned()))
            .collect();
        Self(Arc::new(Mutex::new(users)))
    }

    fn check(&self, user: &str, password: &str) -> bool {
        let users = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        users
            .get(user)
            .is_some_and(|p| constant_time_eq(p.as_bytes(), password.as_bytes()))
    }

    fn set(&self, user: &str, password: &str) {
        let mut users = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        users.insert(user.to_owned(), password.to_owned());
    }
}

/// The demo's shared state: its users and its failed-attempt limiter.
#[derive(Clone)]
pub(crate) struct Demo {
    users: Users,
    limiter: Arc<Limiter>,
}

/// The client's address, when the server knows it (it does under `crate::serve`).
struct Client(Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Client(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

fn too_many(wait: Duration) -> Response {
    let minutes = wait.as_secs().div_ceil(60);
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        page(
            "Too many attempts",
            None,
            &format!(
                "<p class=\"err\">Too many failed attempts from this address. Try again in {minutes} minute(s).</p>"
            ),
        ),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&wait.as_secs().to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The demo's policy: the defaults, or a shorter idle timeout and absolute lifetime (the idle
/// timeout capped by the lifetime when only the lifetime is given, and the renewal throttle
/// kept below the idle timeout, as the policy requires).
pub(crate) fn policy(
    idle_timeout: Option<u64>,
    absolute: Option<u64>,
    device_bound: Option<u64>,
) -> anyhow::Result<Policy> {
    let defaults = Policy::default();
    if idle_timeout.is_none() && absolute.is_none() && device_bound.is_none() {
        return Ok(defaults);
    }
    let absolute = absolute.map_or(defaults.absolute_lifetime(), Duration::from_secs);
    let idle = idle_timeout.map_or(defaults.idle_timeout().min(absolute), Duration::from_secs);
    let throttle = defaults.renewal_throttle().min(idle / 2);
    Ok(Policy::builder()
        .idle_timeout(idle)
        .absolute_lifetime(absolute)
        .renewal_throttle(throttle)
        .device_bound_lifetime(
            device_bound.map_or(defaults.device_bound_lifetime(), Duration::from_secs),
        )
        .build()?)
}

pub(crate) fn app(store: AnyStore, policy: Policy, cookie: CookieConfig) -> Router {
    let engine = Engine::builder(store).policy(policy).build();
    engine.spawn_purge(Duration::from_secs(60));
    let state = Demo {
        users: Users::demo(),
        limiter: Arc::new(Limiter::default()),
    };
    Router::new()
        .route("/", get(|s: Session| async move { home(&s) }))
        .route("/login", get(login_page).post(login))
        .route("/account", get(account))
        .route("/logout", post(logout))
        .route("/password", get(password_page).post(change_password))
        .route("/elevate", post(elevate))
        .route("/sessions", get(sessions_page))
        .route("/sessions/revoke", post(revoke_one))
        .route("/sessions/revoke-others", post(revoke_others))
        .with_state(state)
        .layer(
            SessionLayer::new(engine)
                .with_cookie(cookie)
                .clear_site_data_on_logout(true)
                // Browsers with DBSC bind each sign-in to a device key; others are unaffected.
                .with_device_binding(tessera_tower::DeviceBindingConfig::new()),
        )
        // No framing (the one-click "sign out others" form must not be clickjackable), no
        // scripts, no MIME sniffing, no referrer.
        .layer(axum::middleware::map_response(
            tessera_tower::hardening::security_headers,
        ))
}

/// `tessera demo`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Session store: sqlite://PATH, memory://, redis://HOST:PORT/DB, rediss://…,
    /// redis+cluster://HOST:PORT,… or postgres://USER@HOST/DB (SQLite is durable by default;
    /// append ?durability=relaxed-loses-recent-writes-on-power-loss to trade that for speed;
    /// Redis takes ?prefix=NAME and PostgreSQL ?schema=NAME to keep apps apart)
    #[arg(long, default_value = "sqlite://tessera-demo.db")]
    store: String,
    /// Session cookie name (default __Host-session). Another name is still Secure,
    /// HttpOnly and host-only, but loses the __Host- prefix's guarantees.
    #[arg(long, value_name = "NAME")]
    cookie_name: Option<String>,
    /// Idle timeout in seconds (default: the policy's 30 minutes). Short values let
    /// `tessera inspect` check idle expiry without waiting half an hour.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(2..=86_400))]
    idle_timeout: Option<u64>,
    /// Absolute session lifetime in seconds (default: the policy's 8 hours), however active
    /// the session is. Short values let `tessera inspect --long` check it.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(2..=2_592_000))]
    absolute_timeout: Option<u64>,
    /// How long a device-bound (DBSC) session's cookie works before the browser must prove
    /// its key again, in seconds (default 600; 60 to 3600).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(60..=3_600))]
    device_bound_lifetime: Option<u64>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key). Browsers offer
    /// device-bound sessions (DBSC) only over HTTPS with a certificate they trust.
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
}

/// Runs the demo until Ctrl-C or SIGTERM.
pub(crate) fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    crate::init_logging("info");
    let policy = policy(
        args.idle_timeout,
        args.absolute_timeout,
        args.device_bound_lifetime,
    )?;
    let cookie = cookie(args.cookie_name.as_deref())?;
    let listen = args.listen;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tessera_serve::tls::load(cert, key)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    crate::block_on(async move {
        let store = crate::store_url::open(&args.store).await?;
        let described = store.describe();
        eprintln!("Tessera demo on {scheme}://{listen}  (store: {described})");
        eprintln!("Sign in as alice/wonderland or bob/builder. Ctrl-C stops it.");
        crate::serve_with(listen, app(store, policy, cookie), tls).await
    })??;
    Ok(std::process::ExitCode::SUCCESS)
}

/// The demo's cookie: the safe default, or another name (still `Secure`, `HttpOnly`, host-only).
pub(crate) fn cookie(name: Option<&str>) -> anyhow::Result<CookieConfig> {
    Ok(match name {
        None => CookieConfig::default(),
        Some(name) => CookieConfig::builder().name(name).build()?,
    })
}

fn home(session: &Session) -> Redirect {
    if session.subject().is_some() {
        Redirect::to("/account")
    } else {
        Redirect::to("/login")
    }
}

/// A page's frame. `signed_in` carries the CSRF token for the logout button every signed-in page
/// shows.
fn page(title: &str, signed_in: Option<(&str, &str)>, body: &str) -> Html<String> {
    let nav = match signed_in {
        Some((user, csrf)) => format!(
            r#"<nav><span>Signed in as <b>{user}</b></span>
<a href="/account">Account</a> <a href="/sessions">Sessions</a> <a href="/password">Password</a>
<form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="{csrf}">
<button type="submit">Log out</button></form></nav>"#,
            user = esc(user),
            csrf = esc(csrf)
        ),
        None => "<nav><span>Not signed in</span> <a href=\"/login\">Sign in</a></nav>".to_owned(),
    };
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title} · Tessera demo</title>
{guard}
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 54rem; margin: 2rem auto; padding: 0 1rem; color: #1d232a; }}
header {{ display: flex; justify-content: space-between; align-items: baseline; border-bottom: 1px solid #d6dbe1; margin-bottom: 1.5rem; }}
header h1 {{ font-size: 1.2rem; margin: .5rem 0; }}
nav {{ display: flex; gap: .8rem; align-items: center; flex-wrap: wrap; }}
form.inline {{ display: inline; }}
label {{ display: block; margin: .6rem 0; }}
input[type=text], input[type=password] {{ display: block; width: 18rem; padding: .4rem; border: 1px solid #aab3bd; border-radius: 4px; }}
a, a:visited {{ color: #2f5d8a; }}
td.when, .tag, button {{ white-space: nowrap; }}
td.ua {{ max-width: 12rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }}
button {{ font: inherit; padding: .4rem .9rem; border: 1px solid #2f5d8a; background: #2f6fae; color: #fff; border-radius: 4px; cursor: pointer; }}
button.secondary {{ background: #fff; color: #2f5d8a; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ text-align: left; padding: .4rem; border-bottom: 1px solid #e3e7eb; vertical-align: top; }}
.note {{ background: #fff8e1; border: 1px solid #f0d98c; padding: .6rem .8rem; border-radius: 4px; }}
.ok {{ background: #e8f5e9; border: 1px solid #a5d6a7; padding: .6rem .8rem; border-radius: 4px; }}
.err {{ background: #fdecea; border: 1px solid #f5b7b1; padding: .6rem .8rem; border-radius: 4px; }}
.tag {{ font-size: .8rem; background: #2f6fae; color: #fff; padding: 0 .4rem; border-radius: 3px; }}
</style></head>
<body><header><h1>Tessera demo</h1>{nav}</header>
<main><h2>{title}</h2>
{body}</main>
<footer><p class="note">Demo only: the accounts alice/wonderland and bob/builder are fixtures kept in memory.</p></footer>
</body></html>"#,
        title = esc(title),
        guard = tessera_tower::hardening::RESTORE_GUARD
    ))
}

/// Escapes text for HTML content and quoted attributes: the project's one escape.
fn esc(text: &str) -> String {
    tessera_inspect::report::escape_html(text)
}

fn when(t: Timestamp) -> String {
    // y-m-d h:m in UTC: the RFC 3339 form cut at the minute.
    let text = t.rfc3339();
    text.get(..16).unwrap_or(&text).replacen('T', " ", 1)
}

/// The signed-in user and a CSRF token, or a redirect to the login page.
async fn signed_in(session: &Session) -> Result<(String, String), Response> {
    let Some(user) = session.subject() else {
        return Err(Redirect::to("/login").into_response());
    };
    let csrf = session
        .csrf_token()
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((user, csrf))
}

fn refused(reason: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        page(
            "Request refused",
            None,
            &format!("<p class=\"err\">{}</p>", esc(reason)),
        ),
    )
        .into_response()
}

fn login_form(csrf: &str, message: &str) -> String {
    format!(
        r#"{message}<form method="post" action="/login">
<input type="hidden" name="csrf" value="{csrf}">
<label>Username <input type="text" name="username" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>"#,
        csrf = esc(csrf)
    )
}

async fn login_page(session: Session) -> Result<Html<String>, SessionError> {
    let csrf = session.csrf_token().await?;
    Ok(page("Sign in", None, &login_form(&csrf, "")))
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

async fn login(
    State(demo): State<Demo>,
    Client(client): Client,
    session: Session,
    Form(f): Form<LoginForm>,
) -> Response {
    if !session.verify_csrf(&f.csrf).await {
        return refused("The form expired or did not come from this site. Reload the sign-in page and try again.");
    }
    if let Err(wait) = demo.limiter.check("login", &f.username, client) {
        return too_many(wait);
    }
    // The ticket comes before the password check: if a password change ends this account's
    // sessions while we check, the login is refused instead of outliving the change.
    let ticket = match session.login_ticket(&f.username).await {
        Ok(t) => Some(t),
        Err(SessionError::Engine(Error::InvalidSubject(_))) => None,
        Err(e) => return e.into_response(),
    };
    let ticket = match ticket {
        Some(t) if demo.users.check(&f.username, &f.password) => t,
        _ => {
            demo.limiter.failed("login", &f.username, client);
            let csrf = session.csrf_token().await.unwrap_or_default();
            let form = login_form(&csrf, "<p class=\"err\">Wrong username or password.</p>");
            return (StatusCode::UNAUTHORIZED, page("Sign in", None, &form)).into_response();
        }
    };
    demo.limiter.succeeded("login", &f.username, client);
    match session.login(ticket).await {
        Ok(()) => Redirect::to("/account").into_response(),
        Err(SessionError::Engine(Error::SubjectRevoked)) => {
            let csrf = session.csrf_token().await.unwrap_or_default();
            let form = login_form(
                &csrf,
                "<p class=\"err\">This account's sessions were ended while you signed in (was the password just changed?). Sign in again.</p>",
            );
            (StatusCode::UNAUTHORIZED, page("Sign in", None, &form)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn account(session: Session) -> Response {
    let (user, csrf) = match signed_in(&session).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let level = if session.auth_level() >= ELEVATED_LEVEL {
        "<p class=\"ok\">Elevated: sensitive actions are allowed for a few minutes.</p>".to_owned()
    } else {
        format!(
            r#"<p>Step up before a sensitive action (the session token rotates):</p>
<form method="post" action="/elevate"><input type="hidden" name="csrf" value="{csrf}">
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit" class="secondary">Confirm it's me</button></form>"#,
            csrf = esc(&csrf)
        )
    };
    let body = format!(
        "<p>Welcome, <b>{}</b>. This page is only shown to a signed-in user.</p>{level}",
        esc(&user)
    );
    page("Account", Some((&user, &csrf)), &body).into_response()
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

async fn logout(session: Session, Form(f): Form<CsrfOnly>) -> Response {
    if session.subject().is_some() && !session.verify_csrf(&f.csrf).await {
        return refused("The logout form did not come from this site.");
    }
    match session.logout().await {
        LogoutOutcome::Ended => Redirect::to("/login").into_response(),
        LogoutOutcome::Failed => (
            StatusCode::SERVICE_UNAVAILABLE,
            page(
                "Signed out here only",
                None,
                "<p class=\"err\">You are signed out in this browser, but the server could not \
                 end the session. Sign in and out again when the service is back, or change your \
                 password to end every session.</p>",
            ),
        )
            .into_response(),
        _ => page(
            "Signed out",
            None,
            "<p class=\"note\">You are signed out in this browser. The server could not be reached \
             to end the session there; it will be ended as soon as it answers.</p>\
             <p><a href=\"/login\">Sign in again</a></p>",
        )
        .into_response(),
    }
}

fn password_form(csrf: &str, message: &str) -> String {
    format!(
        r#"{message}<p>Changing the password signs out every other session of this account.</p>
<form method="post" action="/password"><input type="hidden" name="csrf" value="{csrf}">
<label>Current password <input type="password" name="old_password" autocomplete="current-password" required></label>
<label>New password <input type="password" name="new_password" autocomplete="new-password" minlength="8" required></label>
<button type="submit">Change password</button></form>"#,
        csrf = esc(csrf)
    )
}

async fn password_page(session: Session) -> Response {
    match signed_in(&session).await {
        Ok((user, csrf)) => {
            page("Password", Some((&user, &csrf)), &password_form(&csrf, "")).into_response()
        }
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    old_password: String,
    new_password: String,
    #[serde(default)]
    csrf: String,
}

async fn change_password(
    State(demo): State<Demo>,
    Client(client): Client,
    session: Session,
    Form(f): Form<PasswordForm>,
) -> Response {
    let (user, csrf) = match signed_in(&session).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !session.verify_csrf(&f.csrf).await {
        return refused("The form did not come from this site.");
    }
    if let Err(wait) = demo.limiter.check("password", &user, client) {
        return too_many(wait);
    }
    let users = &demo.users;
    let wrong = !users.check(&user, &f.old_password);
    if wrong {
        demo.limiter.failed("password", &user, client);
    } else {
        demo.limiter.succeeded("password", &user, client);
    }
    let problem = if wrong {
        Some("The current password is wrong.")
    } else if f.new_password.chars().count() < 8 || f.new_password.len() > 128 {
        Some("The new password needs 8 to 128 characters.")
    } else {
        None
    };
    if let Some(problem) = problem {
        let body = password_form(&csrf, &format!("<p class=\"err\">{problem}</p>"));
        return (
            StatusCode::BAD_REQUEST,
            page("Password", Some((&user, &csrf)), &body),
        )
            .into_response();
    }
    // A credential change is a trust transition. End every other session first (if the store
    // cannot, the password stays as it was), change the password, then end them again: a login
    // whose ticket was taken between the two may have checked the old password, and the second
    // revocation refuses it (the engine's revocation epoch). Then rotate this session.
    let mut ended = match session.revoke_others().await {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    users.set(&user, &f.new_password);
    match session.revoke_others().await {
        Ok(n) => ended += n,
        Err(e) => {
            users.set(&user, &f.old_password);
            return e.into_response();
        }
    }
    if let Err(e) = session.rotate().await {
        return e.into_response();
    }
    let csrf = session.csrf_token().await.unwrap_or(csrf);
    let body = format!("<p class=\"ok\">Password changed. {ended} other session(s) ended.</p>");
    page("Password", Some((&user, &csrf)), &body).into_response()
}

#[derive(Deserialize)]
struct ElevateForm {
    password: String,
    #[serde(default)]
    csrf: String,
}

async fn elevate(
    State(demo): State<Demo>,
    Client(client): Client,
    session: Session,
    Form(f): Form<ElevateForm>,
) -> Response {
    let Some(user) = session.subject() else {
        return Redirect::to("/login").into_response();
    };
    if !session.verify_csrf(&f.csrf).await {
        return refused("The form did not come from this site.");
    }
    if let Err(wait) = demo.limiter.check("elevate", &user, client) {
        return too_many(wait);
    }
    if !demo.users.check(&user, &f.password) {
        demo.limiter.failed("elevate", &user, client);
        let csrf = session.csrf_token().await.unwrap_or_default();
        let body = "<p class=\"err\">Wrong password; the session was not elevated.</p>";
        return (
            StatusCode::UNAUTHORIZED,
            page("Account", Some((&user, &csrf)), body),
        )
            .into_response();
    }
    demo.limiter.succeeded("elevate", &user, client);
    match session.elevate(ELEVATED_LEVEL, ELEVATION).await {
        Ok(()) => Redirect::to("/account").into_response(),
        Err(e) => e.into_response(),
    }
}

fn sessions_table(list: &[SessionSummary], csrf: &str) -> String {
    let mut rows = String::new();
    for s in list {
        let action = if s.current {
            "<span class=\"tag\">this device</span>".to_owned()
        } else {
            format!(
                r#"<form method="post" action="/sessions/revoke" class="inline"><input type="hidden" name="csrf" value="{csrf}">
<input type="hidden" name="id" value="{id}"><button type="submit" class="secondary">Sign out</button></form>"#,
                csrf = esc(csrf),
                id = s.id.to_hex()
            )
        };
        let agent = esc(s.user_agent.as_deref().unwrap_or("unknown"));
        let bound = match (s.device_bound, s.current) {
            (true, true) => " <span class=\"tag\">bound to this device</span>",
            (true, false) => " <span class=\"tag\">bound to its device</span>",
            (false, _) => "",
        };
        rows.push_str(&format!(
            // The tag stays out of the browser cell: an ellipsis there would hide it.
            "<tr><td class=\"when\">{}</td><td class=\"when\">{}</td><td class=\"ua\" title=\"{agent}\">{agent}</td><td>{}</td><td>{action}{bound}</td></tr>\n",
            when(s.created_at),
            when(s.last_seen),
            esc(s.ip_prefix.as_deref().unwrap_or("unknown")),
        ));
    }
    format!(
        r#"<table><thead><tr><th>Created (UTC)</th><th>Last seen (UTC)</th><th>Browser</th><th>Network</th><th></th></tr></thead>
<tbody>
{rows}</tbody></table>
<form method="post" action="/sessions/revoke-others"><input type="hidden" name="csrf" value="{csrf}">
<p><button type="submit">Sign out all other sessions</button></p></form>"#,
        csrf = esc(csrf)
    )
}

async fn sessions_page(session: Session) -> Response {
    let (user, csrf) = match signed_in(&session).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match session.list().await {
        Ok(list) => page(
            "Sessions",
            Some((&user, &csrf)),
            &sessions_table(&list, &csrf),
        )
        .into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct RevokeForm {
    id: String,
    #[serde(default)]
    csrf: String,
}

async fn revoke_one(session: Session, Form(f): Form<RevokeForm>) -> Response {
    if session.subject().is_none() {
        return Redirect::to("/login").into_response();
    }
    if !session.verify_csrf(&f.csrf).await {
        return refused("The form did not come from this site.");
    }
    let Some(id) = tessera_core::SessionId::from_hex(&f.id) else {
        return Redirect::to("/sessions").into_response();
    };
    match session.revoke(&id).await {
        Ok(_) => Redirect::to("/sessions").into_response(),
        Err(e) => e.into_response(),
    }
}

async fn revoke_others(session: Session, Form(f): Form<CsrfOnly>) -> Response {
    if session.subject().is_none() {
        return Redirect::to("/login").into_response();
    }
    if !session.verify_csrf(&f.csrf).await {
        return refused("The form did not come from this site.");
    }
    match session.revoke_others().await {
        Ok(_) => Redirect::to("/sessions").into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_dates() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(when(Timestamp::from_millis(0)), "1970-01-01 00:00");
        assert_eq!(
            when(Timestamp::from_millis(1_709_251_199_000)),
            "2024-02-29 23:59"
        );
        assert!(
            constant_time_eq(b"abc", b"abc")
                && !constant_time_eq(b"abc", b"abd")
                && !constant_time_eq(b"ab", b"abc")
        );
    }
}
