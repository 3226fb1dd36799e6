//! The admin console at `/console`: server-rendered HTML, no scripts, no front-end build.
//!
//! It eats its own cooking: signing in with an admin API key starts a Tessera session (its own
//! `__Host-tessera-console` cookie, the tower layer's CSRF guard and synchronizer tokens, a
//! 15-minute idle timeout, an 8-hour lifetime), of the reserved subject
//! `tessera:console:KEY_ID`, which revoking the key ends. From it an operator searches a
//! subject, sees its sessions (created, last seen, user agent, IP prefix, auth level) and
//! revokes one or all; the front page shows this instance's session figures.

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tessera_core::{EndReason, Engine, Policy, PolicyError, SessionId, Store};
use tessera_tower::{CookieConfig, Session, SessionLayer};

use crate::api_keys::{console_subject, is_reserved, Scope, CONSOLE_SUBJECT_PREFIX};
use crate::{App, ServiceStore};

/// The console's cookie: its own name, so it never mixes with the sessions it manages.
pub const CONSOLE_COOKIE: &str = "__Host-tessera-console";
/// A console left alone this long signs out (unless `[console] idle_timeout_secs` says less).
pub const CONSOLE_IDLE: Duration = Duration::from_secs(15 * 60);
const CONSOLE_LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// The engine the console's own sessions run on (same store, a stricter policy).
pub(crate) fn engine<S: Store>(
    store: ServiceStore<S>,
    idle: Duration,
) -> Result<Engine<ServiceStore<S>>, PolicyError> {
    let policy = Policy::builder()
        .idle_timeout(idle)
        .absolute_lifetime(CONSOLE_LIFETIME)
        .renewal_throttle(Duration::from_secs(30).min(idle / 2))
        .build()?;
    Ok(Engine::builder(store).policy(policy).build())
}

/// The console's routes, behind its own session layer.
pub(crate) fn router<S: Store>(app: App<S>, engine: Engine<ServiceStore<S>>) -> Router {
    let cookie = CookieConfig::builder().name(CONSOLE_COOKIE).build();
    let layer = SessionLayer::new(engine);
    let layer = match cookie {
        Ok(c) => layer.with_cookie(c),
        Err(_) => layer,
    };
    Router::new()
        .route("/console", get(home::<S>))
        .route("/console/login", post(login::<S>))
        .route("/console/subjects", get(subject_page::<S>))
        .route("/console/revoke", post(revoke::<S>))
        .route("/console/revoke-all", post(revoke_all::<S>))
        .route("/console/logout", post(logout))
        .with_state(app)
        .layer(layer)
        .layer(axum::middleware::map_response(
            tessera_tower::hardening::security_headers,
        ))
}

fn esc(text: &str) -> String {
    tessera_inspect::report::escape_html(text)
}

/// The signed-in operator's key name, when this is a console session.
fn operator(session: &Session) -> Option<String> {
    let subject = session.subject()?;
    subject.starts_with(CONSOLE_SUBJECT_PREFIX).then(|| {
        session
            .get::<String>("key_name")
            .ok()
            .flatten()
            .unwrap_or_default()
    })
}

fn page(title: &str, signed_in: Option<(&str, &str)>, body: &str) -> Html<String> {
    let nav = match signed_in {
        Some((name, csrf)) => format!(
            r#"<nav><span>Signed in with key <b>{name}</b></span> <a href="/console">Overview</a>
<form method="post" action="/console/logout" class="inline"><input type="hidden" name="csrf" value="{csrf}">
<button type="submit" class="secondary">Sign out</button></form></nav>"#,
            name = esc(name),
            csrf = esc(csrf)
        ),
        None => "<nav><span>Not signed in</span></nav>".to_owned(),
    };
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title} · Tessera console</title>
{guard}
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 64rem; margin: 2rem auto; padding: 0 1rem; color: #1d232a; }}
header {{ display: flex; justify-content: space-between; align-items: baseline; border-bottom: 1px solid #d6dbe1; margin-bottom: 1.5rem; flex-wrap: wrap; gap: .5rem; }}
header h1 {{ font-size: 1.15rem; margin: .5rem 0; }}
nav {{ display: flex; gap: .8rem; align-items: center; flex-wrap: wrap; }}
form.inline {{ display: inline; }}
input[type=text], input[type=password] {{ padding: .4rem; border: 1px solid #aab3bd; border-radius: 4px; width: 22rem; max-width: 100%; }}
button {{ font: inherit; padding: .35rem .85rem; border: 1px solid #2f5d8a; background: #2f6fae; color: #fff; border-radius: 4px; cursor: pointer; white-space: nowrap; }}
button.secondary {{ background: #fff; color: #2f5d8a; }}
button.danger {{ background: #b3261e; border-color: #8c1d18; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ text-align: left; padding: .4rem; border-bottom: 1px solid #e3e7eb; vertical-align: top; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
td.ua {{ max-width: 16rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }}
.figures {{ display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0; }}
.figure {{ border: 1px solid #d6dbe1; border-radius: 6px; padding: .6rem 1rem; min-width: 9rem; }}
.figure b {{ display: block; font-size: 1.6rem; }}
.err {{ background: #fdecea; border: 1px solid #f5c2c0; padding: .6rem .8rem; border-radius: 4px; }}
.ok {{ background: #e8f5e9; border: 1px solid #a5d6a7; padding: .6rem .8rem; border-radius: 4px; }}
.muted {{ color: #5b6570; }}
</style></head>
<body><header><h1>Tessera console</h1>{nav}</header><main>
{body}
</main></body></html>"#,
        title = esc(title),
        guard = tessera_tower::hardening::RESTORE_GUARD
    ))
}

fn sign_in_form(csrf: &str, message: &str) -> String {
    format!(
        r#"{message}<p>Sign in with an API key that has the <b>admin</b> scope.</p>
<form method="post" action="/console/login">
<input type="hidden" name="csrf" value="{csrf}">
<p><label>Admin API key<br><input type="password" name="key" autocomplete="off" required></label></p>
<button type="submit">Sign in</button></form>
<p class="muted">The console signs out when left unused.</p>"#,
        csrf = esc(csrf),
    )
}

fn search_form(subject: &str) -> String {
    format!(
        r#"<form method="get" action="/console/subjects">
<label>Subject <input type="text" name="subject" value="{}" required maxlength="256"></label>
<button type="submit">Show sessions</button></form>"#,
        esc(subject)
    )
}

async fn home<S: Store>(State(app): State<App<S>>, session: Session) -> Response {
    let Ok(csrf) = session.csrf_token().await else {
        return unavailable();
    };
    let Some(name) = operator(&session) else {
        return page("Sign in", None, &sign_in_form(&csrf, "")).into_response();
    };
    let m = &app.metrics;
    let ended: String = crate::metrics::END_REASONS
        .iter()
        .map(|r| {
            format!(
                "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
                r.as_str(),
                m.ended(*r)
            )
        })
        .collect();
    let (live, none) = m.resolves();
    let (active, capped) = m.active_recently();
    let body = format!(
        r#"{search}
<h2>This instance, since it started</h2>
<div class="figures">
<div class="figure"><b id="active">{active}{more}</b>sessions active in the last 15 minutes</div>
<div class="figure"><b id="created">{created}</b>sessions created</div>
<div class="figure"><b>{live}</b>resolves of a live session</div>
<div class="figure"><b>{none}</b>resolves that found none</div>
<div class="figure"><b>{theft}</b>thefts suspected</div>
</div>
<h3>Sessions ended, by reason</h3>
<table><tr><th>reason</th><th>sessions</th></tr>{ended}</table>
<p class="muted">Figures count what this process did; with several instances on one store, each
shows its own (sum them from <code>/metrics</code>). Reload to update.</p>"#,
        search = search_form(""),
        created = m.created(),
        theft = m.ended(EndReason::Theft),
        more = if capped { "+" } else { "" },
    );
    page("Overview", Some((&name, &csrf)), &body).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    csrf: String,
}

async fn login<S: Store>(
    State(app): State<App<S>>,
    session: Session,
    Form(f): Form<LoginForm>,
) -> Response {
    if !session.verify_csrf(&f.csrf).await {
        return refused("The form expired or did not come from this page. Reload and try again.");
    }
    let key = match app.keys.verify(f.key.trim()).await {
        Ok(Some(k)) if k.allows(Scope::Admin) => k,
        Ok(_) => {
            tracing::warn!(target: "tessera::serve", "console sign-in refused: not a live admin key");
            let csrf = session.csrf_token().await.unwrap_or_default();
            let form = sign_in_form(
                &csrf,
                "<p class=\"err\">That is not a live API key with the admin scope.</p>",
            );
            return (StatusCode::UNAUTHORIZED, page("Sign in", None, &form)).into_response();
        }
        Err(_) => return unavailable(),
    };
    let signed_in = async {
        let ticket = session
            .login_ticket(&console_subject(&key.id.to_hex()))
            .await?;
        session.login(ticket).await?;
        session.insert("key_name", &key.name).await
    };
    match signed_in.await {
        Ok(()) => {
            tracing::info!(target: "tessera::serve", key = %key.name, "console sign-in");
            Redirect::to("/console").into_response()
        }
        Err(_) => unavailable(),
    }
}

#[derive(Deserialize)]
struct SubjectQuery {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    done: Option<String>,
}

async fn subject_page<S: Store>(
    State(app): State<App<S>>,
    session: Session,
    Query(q): Query<SubjectQuery>,
) -> Response {
    let Some(name) = operator(&session) else {
        return Redirect::to("/console").into_response();
    };
    let Ok(csrf) = session.csrf_token().await else {
        return unavailable();
    };
    let who = q.subject.as_str();
    let valid = tessera_core::validate_subject(who).is_ok() && !is_reserved(who);
    if !valid {
        let body = format!(
            "{}<p class=\"err\">Not a subject: 1 to 256 bytes, no control characters, not starting with <code>tessera:</code>.</p>",
            search_form("")
        );
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            page("Subject", Some((&name, &csrf)), &body),
        )
            .into_response();
    }
    let Ok(sessions) = app.engine.list(who).await else {
        return unavailable();
    };
    let done = match q.done.as_deref() {
        Some("one") => "<p class=\"ok\">The session was revoked. Its next request is refused.</p>",
        Some("all") => "<p class=\"ok\">Every session of this subject was revoked, and any login whose ticket was taken before it is refused.</p>",
        Some("none") => "<p class=\"err\">That session was already gone.</p>",
        _ => "",
    };
    let rows: String = sessions
        .iter()
        .map(|s| {
            let r = s.record();
            format!(
                r#"<tr><td><code>{reference}</code></td><td>{created}</td><td>{seen}</td><td class="ua" title="{ua}">{ua}</td><td>{ip}</td><td class="num">{level}</td>
<td><form method="post" action="/console/revoke" class="inline"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="subject" value="{subject}"><input type="hidden" name="id" value="{id}"><button type="submit" class="danger">Revoke</button></form></td></tr>"#,
                reference = s.reference(),
                created = esc(&r.created_at.rfc3339()),
                seen = esc(&r.last_seen.rfc3339()),
                ua = esc(r.client.user_agent.as_deref().unwrap_or("—")),
                ip = esc(&r.client.ip_prefix.map_or_else(|| "—".to_owned(), |p| p.to_string())),
                level = s.auth_level(),
                csrf = esc(&csrf),
                subject = esc(who),
                id = r.id.to_hex(),
            )
        })
        .collect();
    let table = if sessions.is_empty() {
        "<p>No live sessions.</p>".to_owned()
    } else {
        format!(
            r#"<table><tr><th>session</th><th>created (UTC)</th><th>last seen</th><th>user agent</th><th>IP prefix</th><th>level</th><th></th></tr>{rows}</table>
<form method="post" action="/console/revoke-all"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="subject" value="{subject}">
<p><button type="submit" class="danger">Revoke all {n} sessions</button></p></form>"#,
            csrf = esc(&csrf),
            subject = esc(who),
            n = sessions.len()
        )
    };
    let body = format!(
        "{search}{done}<h2>Sessions of <code>{who}</code></h2>{table}",
        search = search_form(who),
        who = esc(who)
    );
    page("Subject", Some((&name, &csrf)), &body).into_response()
}

#[derive(Deserialize)]
struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    id: String,
}

fn back_to(subject: &str, done: &str) -> Redirect {
    let query =
        serde_urlencoded::to_string([("subject", subject), ("done", done)]).unwrap_or_default();
    Redirect::to(&format!("/console/subjects?{query}"))
}

/// What every revoking form needs first: a signed-in operator (their key's name), a valid
/// CSRF token, and a subject the console manages.
async fn operator_form(session: &Session, f: &RevokeForm) -> Result<String, Response> {
    let Some(name) = operator(session) else {
        return Err(Redirect::to("/console").into_response());
    };
    if !session.verify_csrf(&f.csrf).await {
        return Err(refused(
            "The form expired or did not come from this page. Reload and try again.",
        ));
    }
    if is_reserved(&f.subject) || tessera_core::validate_subject(&f.subject).is_err() {
        return Err(refused("Not a subject this console manages."));
    }
    Ok(name)
}

async fn revoke<S: Store>(
    State(app): State<App<S>>,
    session: Session,
    Form(f): Form<RevokeForm>,
) -> Response {
    let name = match operator_form(&session, &f).await {
        Ok(name) => name,
        Err(answer) => return answer,
    };
    let Some(id) = SessionId::from_hex(&f.id) else {
        return back_to(&f.subject, "none").into_response();
    };
    match app.engine.revoke(&f.subject, &id).await {
        Ok(true) => {
            tracing::info!(target: "tessera::serve", key = %name, session = %id.reference(), "console revoked a session");
            back_to(&f.subject, "one").into_response()
        }
        Ok(false) => back_to(&f.subject, "none").into_response(),
        Err(_) => unavailable(),
    }
}

async fn revoke_all<S: Store>(
    State(app): State<App<S>>,
    session: Session,
    Form(f): Form<RevokeForm>,
) -> Response {
    let name = match operator_form(&session, &f).await {
        Ok(name) => name,
        Err(answer) => return answer,
    };
    match app.engine.revoke_all(&f.subject, None).await {
        Ok(n) => {
            tracing::info!(target: "tessera::serve", key = %name, sessions = n, "console revoked all sessions of a subject");
            back_to(&f.subject, "all").into_response()
        }
        Err(_) => unavailable(),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(session: Session, Form(f): Form<CsrfForm>) -> Response {
    if !session.verify_csrf(&f.csrf).await {
        return refused("The form expired or did not come from this page. Reload and try again.");
    }
    let _ = session.logout().await;
    Redirect::to("/console").into_response()
}

fn refused(reason: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        page(
            "Refused",
            None,
            &format!(
                "<p class=\"err\">{}</p><p><a href=\"/console\">Back</a></p>",
                esc(reason)
            ),
        ),
    )
        .into_response()
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        page(
            "Unavailable",
            None,
            "<p class=\"err\">The session store did not answer. Try again in a moment.</p>",
        ),
    )
        .into_response()
}
