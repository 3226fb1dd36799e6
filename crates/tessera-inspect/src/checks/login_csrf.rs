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
    // A form login is forged as a form on another site. A JSON login is forged as another site
    // can send it without a CORS preflight: the same JSON labelled text/plain (a form with
    // enctype="text/plain", or fetch in no-cors mode), and the fields form-encoded (many JSON
    // endpoints parse forms too); with no CSRF header or field either way.
    use crate::agent::Encoding;
    let forgeries: &[(Encoding, &str, &str)] = match login.body {
        crate::target::Body::Form => &[(
            Encoding::Form,
            "navigate",
            "without the form's hidden fields",
        )],
        crate::target::Body::Json => &[
            (
                Encoding::JsonAsPlainText,
                "no-cors",
                "the JSON body as text/plain, without the CSRF token",
            ),
            (
                Encoding::Form,
                "navigate",
                "the fields form-encoded, without the CSRF token",
            ),
        ],
    };
    let mut tried = Vec::new();
    for (encoding, mode, how) in forgeries {
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
                *encoding,
            )
            .await
        {
            Ok(p) => p,
            Err(e) => return error(e),
        };
        match victim.is_authenticated(&ctx.target.authenticated).await {
            Ok(true) => {
                return verdict(
                    Status::Fail,
                    format!(
                        "a login posted from {ATTACKER} (Sec-Fetch-Site: cross-site, {how}) \
                         signed the browser in (the login answered {}): an attacker's page can \
                         sign a victim in to the attacker's account",
                        answer.status
                    ),
                )
            }
            Ok(false) => tried.push(format!("{how}: refused (answered {})", answer.status)),
            Err(e) => return error(e),
        }
    }
    verdict(
        Status::Pass,
        format!(
            "a login posted from {ATTACKER} (Sec-Fetch-Site: cross-site) did not sign the browser \
             in: {}",
            tried.join("; ")
        ),
    )
}
