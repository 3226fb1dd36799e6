//! `login-csrf`: a login posted from another site must not sign the browser in.
//!
//! Login CSRF: an attacker's page auto-submits the app's login form with the attacker's own
//! credentials, and the victim's browser ends up signed in to the attacker's account, where
//! whatever the victim enters (a card, a search history, a document) lands. The app must refuse
//! a login that a browser marks cross-site (`Sec-Fetch-Site`, `Origin`) and that lacks the
//! form's anti-CSRF field (OWASP CSRF Prevention Cheat Sheet, "Login CSRF").

use super::*;

/// The origin the forged login claims to come from.
const ATTACKER: &str = "https://attacker.example";

pub(crate) async fn login_csrf(ctx: &Ctx<'_>) -> CheckOutcome {
    let login = &ctx.target.login;
    // As the attacker's page would post it: the configured fields only (no hidden field of the
    // real form, whose token the attacker cannot read), from a browser that never loaded the
    // login page.
    let fields: Vec<(String, String)> = login
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // A JSON login is forged as another site can send it without a CORS preflight: the same
    // JSON labelled text/plain (a form with enctype="text/plain", or fetch in no-cors mode),
    // with no CSRF header or field.
    let (encoding, mode) = match login.body {
        crate::target::Body::Form => (crate::agent::Encoding::Form, "navigate"),
        crate::target::Body::Json => (crate::agent::Encoding::JsonAsPlainText, "no-cors"),
    };
    let mut victim = ctx.agent.user();
    let answer = match victim
        .send_as(
            login.method,
            &login.path,
            &fields,
            true,
            &[
                ("origin", ATTACKER),
                ("sec-fetch-site", "cross-site"),
                ("sec-fetch-mode", mode),
            ],
            encoding,
        )
        .await
    {
        Ok(p) => p,
        Err(e) => return error(e),
    };
    match victim.is_authenticated(&ctx.target.authenticated).await {
        Ok(true) => verdict(
            Status::Fail,
            format!(
                "a login posted from {ATTACKER} (Sec-Fetch-Site: cross-site, {}) \
                 signed the browser in (the login answered {}): an attacker's page can sign a victim in to the \
                 attacker's account",
                forged(login.body),
                answer.status
            ),
        ),
        Ok(false) => verdict(
            Status::Pass,
            format!(
                "a login posted from {ATTACKER} (Sec-Fetch-Site: cross-site, {}) \
                 was refused (answered {}); the browser is not signed in",
                forged(login.body),
                answer.status
            ),
        ),
        Err(e) => error(e),
    }
}

/// How the forged login was sent, for the evidence.
fn forged(body: crate::target::Body) -> &'static str {
    match body {
        crate::target::Body::Form => "without the form's hidden fields",
        crate::target::Body::Json => "the JSON body as text/plain, without the CSRF token",
    }
}
