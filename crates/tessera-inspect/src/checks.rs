//! The checks. Each attacks one property and returns one [`Finding`]; docs/inspect.md explains
//! how each decides and what a black-box test cannot prove.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::agent::{Agent, AgentError, User};
pub use crate::check_id::{CheckId, UnknownCheck};
use crate::login::{login, Login, LoginError};
use crate::report::{Finding, Severity, Status};
use crate::target::{Method, Target};

/// What a check's finding says, before the id, title and references are attached.
pub(crate) struct CheckOutcome {
    pub(crate) status: Status,
    pub(crate) evidence: String,
}

fn verdict(status: Status, evidence: impl Into<String>) -> CheckOutcome {
    CheckOutcome {
        status,
        evidence: evidence.into(),
    }
}

/// Builds the finding for check `id`.
pub(crate) fn finding(id: CheckId, v: CheckOutcome) -> Finding {
    let (title, severity, refs) = (id.title(), id.severity(), id.references());
    Finding {
        id: id.as_str().to_owned(),
        status: v.status,
        severity: if matches!(v.status, Status::Fail | Status::Warn) {
            severity
        } else {
            Severity::Info
        },
        title: title.to_owned(),
        evidence: v.evidence,
        references: refs.iter().map(|r| (*r).to_owned()).collect(),
    }
}

/// A token as reports show it: its first four characters, a 24-bit fingerprint (so two tokens
/// can be told apart even when they share a prefix) and its length, never the whole value.
pub fn short(token: &str) -> String {
    use sha2::Digest as _;
    let head: String = token.chars().take(4).collect();
    let digest = sha2::Sha256::digest(token.as_bytes());
    let print: String = digest.iter().take(3).map(|b| format!("{b:02x}")).collect();
    format!("{head}…#{print} ({} chars)", token.chars().count())
}

fn error(e: impl std::fmt::Display) -> CheckOutcome {
    verdict(Status::Error, format!("could not complete: {e}"))
}

/// What the checks share: the agent, the target, the session cookie and a baseline login.
pub(crate) struct Ctx<'a> {
    pub(crate) agent: &'a Agent,
    pub(crate) target: &'a Target,
    pub(crate) cookie: String,
    pub(crate) baseline: Login,
}

impl Ctx<'_> {
    async fn fresh_login(&self) -> Result<Login, LoginError> {
        Ok(login(self.agent.user(), self.target, Some(&self.cookie))
            .await?
            .0)
    }

    /// The authenticated page as a freshly signed-in user gets it (the baseline session may
    /// have idled out by the time a late check runs).
    async fn signed_in_page(&self) -> Result<crate::agent::Page, CheckOutcome> {
        let mut user = self.fresh_login().await.map_err(error)?.user;
        let page = user
            .send(Method::Get, &self.target.authenticated.path, &[], false)
            .await
            .map_err(error)?;
        if crate::agent::authenticated(&page, &self.target.authenticated) {
            Ok(page)
        } else {
            Err(verdict(
                Status::Error,
                format!(
                    "a fresh login did not get the signed-in page (status {})",
                    page.status
                ),
            ))
        }
    }

    fn replay(&self, token: &str) -> User {
        let mut u = self.agent.user();
        u.set_cookie(&self.cookie, token);
        u
    }

    /// The attributes of the `Set-Cookie` that delivered the baseline token.
    fn set_cookie_header(&self) -> Option<String> {
        let (_, seen) = self.agent.seen();
        let prefix = format!("{}={}", self.cookie, self.baseline.token);
        seen.into_iter()
            .rev()
            .map(|c| c.header)
            .find(|h| h.trim_start().starts_with(&prefix))
    }
}

/// The attributes of a `Set-Cookie` header as written, lower-cased names. The `cookie` crate
/// drops attributes it finds invalid (e.g. `SameSite=Bogus`); an auditor must see them.
fn attributes(header: &str) -> Vec<(String, Option<String>)> {
    header
        .split(';')
        .skip(1)
        .map(|part| match part.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim().to_owned())),
            None => (part.trim().to_ascii_lowercase(), None),
        })
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

fn attr<'a>(attrs: &'a [(String, Option<String>)], name: &str) -> Option<&'a Option<String>> {
    attrs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v)
}

pub(crate) fn cookie_checks(ctx: &Ctx<'_>) -> Vec<Finding> {
    let Some(header) = ctx.set_cookie_header() else {
        let why = "the Set-Cookie that delivered the session token was not seen (set by script?)";
        return [
            CheckId::CookieSecure,
            CheckId::CookieHttpOnly,
            CheckId::CookieSamesite,
            CheckId::CookiePrefix,
            CheckId::CookieScope,
        ]
        .iter()
        .map(|id| finding(*id, verdict(Status::Error, why)))
        .collect();
    };
    let attrs = attributes(&header);
    let name = ctx.cookie.as_str();
    let shown = format!("Set-Cookie: {}={}; {}", name, short(&ctx.baseline.token), {
        attrs
            .iter()
            .map(|(k, v)| v.as_ref().map_or(k.clone(), |v| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join("; ")
    });
    let secure = attr(&attrs, "secure").is_some();
    let mut out = Vec::new();
    out.push(finding(
        CheckId::CookieSecure,
        if secure {
            verdict(Status::Pass, shown.clone())
        } else {
            verdict(
                Status::Fail,
                format!("no Secure attribute: the token can travel over plain HTTP. {shown}"),
            )
        },
    ));
    out.push(finding(
        CheckId::CookieHttpOnly,
        if attr(&attrs, "httponly").is_some() {
            verdict(Status::Pass, shown.clone())
        } else {
            verdict(
                Status::Fail,
                format!("no HttpOnly attribute: scripts (XSS) can read the token. {shown}"),
            )
        },
    ));
    let samesite =
        attr(&attrs, "samesite").map(|v| v.clone().unwrap_or_default().to_ascii_lowercase());
    out.push(finding(
        CheckId::CookieSamesite,
        match samesite.as_deref() {
            Some("lax") | Some("strict") => verdict(Status::Pass, shown.clone()),
            Some("none") => verdict(Status::Fail, format!("SameSite=None: the cookie rides on cross-site requests. {shown}")),
            Some(other) => verdict(Status::Fail, format!("invalid SameSite value {other:?}: browsers differ in what they do with it. {shown}")),
            None => verdict(Status::Fail, format!("no SameSite attribute: protection depends on each browser's default. {shown}")),
        },
    ));
    let domain = attr(&attrs, "domain")
        .and_then(|v| v.clone())
        .filter(|d| !d.is_empty());
    let path = attr(&attrs, "path").and_then(|v| v.clone());
    let lower = name.to_ascii_lowercase();
    out.push(finding(
        CheckId::CookiePrefix,
        if lower.starts_with("__host-") {
            if secure && domain.is_none() && path.as_deref() == Some("/") {
                verdict(Status::Pass, format!("{name} with Secure, Path=/ and no Domain"))
            } else {
                verdict(Status::Fail, format!("{name} breaks the __Host- rules (Secure, Path=/, no Domain), so browsers reject it. {shown}"))
            }
        } else if lower.starts_with("__secure-") {
            verdict(Status::Warn, format!("{name} uses __Secure-; __Host- also locks the cookie to this host"))
        } else {
            verdict(Status::Warn, format!("{name} has no __Host- or __Secure- prefix: a sibling subdomain or a plain-HTTP page can set or overwrite it"))
        },
    ));
    let host = ctx
        .agent
        .base()
        .host_str()
        .unwrap_or("")
        .to_ascii_lowercase();
    out.push(finding(
        CheckId::CookieScope,
        match &domain {
            None => verdict(Status::Pass, format!("no Domain attribute: sent to {host} only; Path={}", path.as_deref().unwrap_or("(default)"))),
            Some(d) => {
                let d = d.trim_start_matches('.').to_ascii_lowercase();
                if d != host && host.ends_with(&format!(".{d}")) {
                    verdict(Status::Fail, format!("Domain={d} is broader than the host {host}: every subdomain of {d} receives the token"))
                } else {
                    verdict(Status::Warn, format!("Domain={d} set: the cookie is also sent to every subdomain of {d}; omit Domain"))
                }
            }
        },
    ));
    out
}

pub(crate) async fn fixation_rotation(ctx: &Ctx<'_>) -> CheckOutcome {
    let b = &ctx.baseline;
    let Some(pre) = &b.pre_login else {
        return verdict(Status::Pass, "the app issues no session cookie before login, so there is no pre-login token to fixate");
    };
    if *pre == b.token {
        return verdict(
            Status::Fail,
            format!(
                "login kept the pre-login token {}: an attacker who planted it is now signed in",
                short(pre)
            ),
        );
    }
    match ctx
        .replay(pre)
        .is_authenticated(&ctx.target.authenticated)
        .await
    {
        Ok(true) => verdict(
            Status::Fail,
            format!(
                "login issued a new token, but the pre-login token {} still authenticates",
                short(pre)
            ),
        ),
        Ok(false) => verdict(
            Status::Pass,
            format!(
                "pre-login token {} was replaced by {} and no longer authenticates",
                short(pre),
                short(&b.token)
            ),
        ),
        Err(e) => error(e),
    }
}

/// A well-formed token this app never issued: the shape (length, alphabet) of a real one.
fn forge_like(real: &str) -> String {
    let alphabet: Vec<char> = {
        let mut a: Vec<char> = real.chars().collect();
        a.sort_unstable();
        a.dedup();
        if a.len() < 2 {
            "abcdefghijklmnopqrstuvwxyz0123456789".chars().collect()
        } else {
            a
        }
    };
    let mut bytes = vec![0u8; real.chars().count().max(16)];
    if getrandom::fill(&mut bytes).is_err() {
        // Still unpredictable to the app: derived from the current time and the real token.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (seed >> (i % 16 * 8)) as u8 ^ i as u8;
        }
    }
    bytes
        .iter()
        .map(|b| {
            alphabet
                .get(usize::from(*b) % alphabet.len())
                .copied()
                .unwrap_or('a')
        })
        .collect()
}

pub(crate) async fn fixation_strict(ctx: &Ctx<'_>) -> CheckOutcome {
    let planted = forge_like(&ctx.baseline.token);
    let user = ctx.replay(&planted);
    let l = match login(user, ctx.target, Some(&ctx.cookie)).await {
        Ok((l, _)) => l,
        Err(e) => return error(e),
    };
    if l.token == planted {
        return verdict(Status::Fail, format!("a token the app never issued ({}) was planted before login and is now an authenticated session", short(&planted)));
    }
    match ctx
        .replay(&planted)
        .is_authenticated(&ctx.target.authenticated)
        .await
    {
        Ok(true) => verdict(
            Status::Fail,
            format!(
                "the planted token {} authenticates after login",
                short(&planted)
            ),
        ),
        Ok(false) => verdict(
            Status::Pass,
            format!(
                "planted token {} was not adopted; login issued {}",
                short(&planted),
                short(&l.token)
            ),
        ),
        Err(e) => error(e),
    }
}

/// Logs in, logs out, replays the old token. Returns (logout-invalidation, logout-clears-cookie).
pub(crate) async fn logout(ctx: &Ctx<'_>) -> (CheckOutcome, CheckOutcome) {
    let l = match ctx.fresh_login().await {
        Ok(l) => l,
        Err(e) => return (error(&e), error(e)),
    };
    let mut user = l.user;
    let token = l.token.clone();
    if let Err(e) = user
        .submit(&ctx.target.logout, &ctx.target.logout.fields)
        .await
    {
        return (error(&e), error(e));
    }
    let cleared = match user.cookie(&ctx.cookie) {
        None => verdict(Status::Pass, "the logout response removed the session cookie"),
        Some(v) if v != token => verdict(Status::Pass, format!("the logout response replaced the session cookie with a new value {}", short(v))),
        Some(_) => verdict(Status::Warn, "the session cookie was left in the browser after logout (harmless only if the server ended the session)"),
    };
    let replayed = match ctx.replay(&token).is_authenticated(&ctx.target.authenticated).await {
        Ok(true) => verdict(Status::Fail, format!("the token {} captured before logout still authenticates after it: logout only cleared the browser's cookie", short(&token))),
        Ok(false) => verdict(Status::Pass, format!("after logout, replaying {} no longer authenticates", short(&token))),
        Err(e) => error(e),
    };
    (replayed, cleared)
}

pub(crate) async fn password_change(ctx: &Ctx<'_>) -> CheckOutcome {
    let Some(pc) = &ctx.target.password_change else {
        return verdict(Status::Skip, "no [password_change] in the target file");
    };
    let (a, b) = match (ctx.fresh_login().await, ctx.fresh_login().await) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return error(e),
    };
    let mut changer = a.user;
    let changed = changer.submit(&pc.change, &pc.change.fields).await;
    let survived = ctx
        .replay(&b.token)
        .is_authenticated(&ctx.target.authenticated)
        .await;
    let reverted = revert(ctx, pc, changer).await;
    let revert_note = match &reverted {
        Ok(()) => String::new(),
        Err(e) => {
            format!(" WARNING: the password could not be changed back ({e}); restore it by hand.")
        }
    };
    match (changed, survived) {
        (Err(e), _) | (_, Err(e)) => verdict(Status::Error, format!("could not complete: {e}.{revert_note}")),
        (Ok(page), Ok(true)) => verdict(Status::Fail, format!("after a password change in one session (answered {}), another session of the same user ({}) still authenticates.{revert_note}", page.status, short(&b.token))),
        (Ok(page), Ok(false)) => verdict(
            if reverted.is_ok() { Status::Pass } else { Status::Error },
            format!("after a password change (answered {}), the user's other session {} no longer authenticates.{revert_note}", page.status, short(&b.token)),
        ),
    }
}

/// Changes the password back: with the changer's session if it is still alive, else by logging in
/// with the new password.
async fn revert(
    ctx: &Ctx<'_>,
    pc: &crate::target::PasswordChange,
    mut changer: User,
) -> Result<(), String> {
    if !changer
        .is_authenticated(&ctx.target.authenticated)
        .await
        .unwrap_or(false)
    {
        // Log in with the new password: a login field holding the change's old value (found
        // under key k in the change's fields) takes the revert's value under k, which is the
        // new password (the revert changes it back "from" there).
        let mut with_new: BTreeMap<String, String> = ctx.target.login.fields.clone();
        for v in with_new.values_mut() {
            let replacement = pc
                .change
                .fields
                .iter()
                .find(|(_, old)| *old == v)
                .and_then(|(k, _)| pc.revert_fields.get(k));
            if let Some(new) = replacement {
                *v = new.clone();
            }
        }
        let mut target = ctx.target.clone();
        target.login.fields = with_new;
        changer = login(ctx.agent.user(), &target, Some(&ctx.cookie))
            .await
            .map_err(|e| e.to_string())?
            .0
            .user;
    }
    let page = changer
        .submit(&pc.change, &pc.revert_fields)
        .await
        .map_err(|e| e.to_string())?;
    if page.status >= 400 {
        return Err(format!("the revert request was answered {}", page.status));
    }
    // Prove it: the original credentials work again.
    ctx.fresh_login()
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

pub(crate) async fn privilege_rotation(ctx: &Ctx<'_>) -> CheckOutcome {
    let Some(step) = &ctx.target.privilege else {
        return verdict(Status::Skip, "no [privilege] in the target file");
    };
    let l = match ctx.fresh_login().await {
        Ok(l) => l,
        Err(e) => return error(e),
    };
    let mut user = l.user;
    let page = match user.submit(step, &step.fields).await {
        Ok(p) => p,
        Err(e) => return error(e),
    };
    if page.status >= 400 {
        return verdict(
            Status::Error,
            format!(
                "the privilege request {} was answered {}",
                step.path, page.status
            ),
        );
    }
    match user.cookie(&ctx.cookie) {
        Some(after) if after != l.token => verdict(Status::Pass, format!("the token changed across the privilege request: {} → {}", short(&l.token), short(after))),
        Some(_) => verdict(Status::Fail, format!("the token {} is unchanged across the privilege request {}: a token stolen before the step-up carries the raised privilege", short(&l.token), step.path)),
        None => verdict(Status::Error, "the session cookie disappeared after the privilege request"),
    }
}

/// Requests a page fires in parallel (images, XHR) still carry the old token for a moment after
/// a rotation. Sends a burst with the old token alongside the privilege request and right after
/// its response: the session must survive (fail if the new token stops working), and the
/// requests sent right after should still be served (warn if they are signed out).
pub(crate) async fn rotation_race(ctx: &Ctx<'_>) -> CheckOutcome {
    const BURST: usize = 6;
    let Some(step) = &ctx.target.privilege else {
        return verdict(Status::Skip, "no [privilege] in the target file");
    };
    let l = match ctx.fresh_login().await {
        Ok(l) => l,
        Err(e) => return error(e),
    };
    let old = l.token.clone();
    let burst = |n: usize| {
        let users: Vec<User> = (0..n).map(|_| ctx.replay(&old)).collect();
        async move {
            let mut handles = Vec::new();
            for mut u in users {
                let check = ctx.target.authenticated.clone();
                handles.push(async move { u.is_authenticated(&check).await });
            }
            let mut ok = 0;
            for h in handles {
                if matches!(h.await, Ok(true)) {
                    ok += 1;
                }
            }
            ok
        }
    };
    let mut stepper = l.user;
    let (page, _during) = tokio::join!(stepper.submit(step, &step.fields), burst(BURST));
    if let Err(e) = page {
        return error(e);
    }
    let Some(new) = stepper.cookie(&ctx.cookie).map(str::to_owned) else {
        return verdict(
            Status::Error,
            "the session cookie disappeared after the privilege request",
        );
    };
    if new == old {
        return verdict(Status::Pass, "the privilege request did not rotate the token, so there is no rotation to race (see privilege-rotation)");
    }
    let after = burst(BURST).await;
    match ctx.replay(&new).is_authenticated(&ctx.target.authenticated).await {
        Ok(false) => verdict(Status::Fail, format!("requests with the old token {} racing the rotation ended the whole session: the new token {} no longer authenticates", short(&old), short(&new))),
        Err(e) => error(e),
        Ok(true) if after < BURST => verdict(
            Status::Warn,
            format!("{} of {BURST} requests sent with the old token right after the rotation were signed out: a page's parallel requests can log the user out at a step-up (a few seconds' grace for the old token avoids it)", BURST - after),
        ),
        Ok(true) => verdict(Status::Pass, format!("all {BURST} requests sent with the old token right after the rotation were served, and the new token {} works", short(&new))),
    }
}

/// Names under which apps commonly accept a session id from the URL.
const URL_PARAM_NAMES: &[&str] = &[
    "session",
    "sessionid",
    "session_id",
    "sid",
    "token",
    "id",
    "jsessionid",
    "phpsessid",
];

pub(crate) async fn id_in_url(ctx: &Ctx<'_>, tokens: &[String]) -> CheckOutcome {
    let (urls, _) = ctx.agent.seen();
    let leaked = urls.iter().find_map(|u| {
        tokens
            .iter()
            .filter(|t| t.len() >= 8)
            .find(|t| u.contains(t.as_str()))
            .map(|t| (u, t))
    });
    if let Some((url, token)) = leaked {
        let shown = url.replace(token.as_str(), &short(token));
        return verdict(
            Status::Fail,
            format!("a session token appears in a URL: {shown}"),
        );
    }
    // A fresh session: the baseline may have idled out by now, and an expired token proves
    // nothing about whether the URL is accepted.
    let token = match ctx.fresh_login().await {
        Ok(l) => l.token,
        Err(e) => return error(e),
    };
    let token = &token;
    let path = &ctx.target.authenticated.path;
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut names: Vec<String> = vec![ctx.cookie.clone()];
    names.extend(URL_PARAM_NAMES.iter().map(|n| (*n).to_owned()));
    for name in &names {
        let mut probe = ctx.agent.user();
        let encoded: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
        let p = format!("{path}{sep}{name}={encoded}");
        match probe.send(Method::Get, &p, &[], false).await {
            Ok(page) if crate::agent::authenticated(&page, &ctx.target.authenticated) => {
                return verdict(Status::Fail, format!("the app accepts the session token from the query string: GET {path}{sep}{name}=… authenticates without a cookie"));
            }
            Ok(_) => {}
            Err(e) => return error(e),
        }
    }
    verdict(Status::Pass, format!("no token in {} URLs seen; the token is not accepted from the query string ({} parameter names tried)", urls.len(), names.len()))
}

pub(crate) async fn cache_control(ctx: &Ctx<'_>) -> CheckOutcome {
    let page = match ctx.signed_in_page().await {
        Ok(p) => p,
        Err(v) => return v,
    };
    let path = &ctx.target.authenticated.path;
    let cc = page.cache_control();
    if cc.split(',').any(|d| d.trim() == "no-store") {
        verdict(Status::Pass, format!("GET {path} → Cache-Control: {cc}"))
    } else if cc.is_empty() {
        verdict(Status::Fail, format!("GET {path} has no Cache-Control header: browsers and proxies may store the signed-in page (back button after logout)"))
    } else {
        verdict(
            Status::Fail,
            format!("GET {path} → Cache-Control: {cc} (no-store missing)"),
        )
    }
}

/// Logs in, idles past the promised timeout, and checks the session died.
pub(crate) async fn idle_timeout(agent: &Agent, target: &Target, cookie: &str) -> CheckOutcome {
    let Some(idle) = target.idle_timeout else {
        return verdict(Status::Skip, "no [expiry] idle_timeout in the target file");
    };
    let (l, _) = match login(agent.user(), target, Some(cookie)).await {
        Ok(v) => v,
        Err(e) => return error(e),
    };
    let wait = idle + idle / 10 + Duration::from_secs(2);
    tokio::time::sleep(wait).await;
    let mut user = l.user;
    match user.is_authenticated(&target.authenticated).await {
        Ok(true) => verdict(
            Status::Fail,
            format!(
                "the session was still alive after {} s idle (promised: {} s)",
                wait.as_secs(),
                idle.as_secs()
            ),
        ),
        Ok(false) => verdict(
            Status::Pass,
            format!(
                "after {} s idle (promised: {} s) the session no longer authenticates",
                wait.as_secs(),
                idle.as_secs()
            ),
        ),
        Err(e) => error(e),
    }
}

pub(crate) async fn hsts(ctx: &Ctx<'_>) -> CheckOutcome {
    if ctx.agent.base().scheme() != "https" {
        return verdict(
            Status::Skip,
            "plain-HTTP target: HSTS applies to HTTPS deployments",
        );
    }
    let mut user = ctx.baseline.user.clone();
    let page = match user
        .send(Method::Get, &ctx.target.authenticated.path, &[], false)
        .await
    {
        Ok(p) => p,
        Err(e) => return error(e),
    };
    let Some(value) = page
        .headers
        .get("strict-transport-security")
        .and_then(|v| v.to_str().ok())
    else {
        return verdict(Status::Fail, "no Strict-Transport-Security header: a network attacker can downgrade the first visit and take the cookie");
    };
    let max_age = value
        .split(';')
        .find_map(|d| {
            d.trim()
                .to_ascii_lowercase()
                .strip_prefix("max-age=")
                .map(|v| v.trim_matches('"').parse::<u64>().unwrap_or(0))
        })
        .unwrap_or(0);
    if max_age >= 31_536_000 {
        verdict(Status::Pass, format!("Strict-Transport-Security: {value}"))
    } else {
        verdict(
            Status::Warn,
            format!("Strict-Transport-Security: {value} (max-age below one year)"),
        )
    }
}

/// Collects `n` fresh session tokens from repeated logins, within `budget`.
pub(crate) async fn sample_tokens(
    ctx: &Ctx<'_>,
    n: usize,
    budget: Duration,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<String>, AgentError> {
    let deadline = tokio::time::Instant::now() + budget;
    let mut out = vec![ctx.baseline.token.clone()];
    while out.len() < n && tokio::time::Instant::now() < deadline {
        match login(ctx.agent.user(), ctx.target, Some(&ctx.cookie)).await {
            Ok((l, _)) => out.push(l.token),
            Err(LoginError::Unreachable(e)) => return Err(e),
            Err(_) => break,
        }
        progress(out.len(), n);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_read_as_written() {
        let a = attributes("sid=abc; Path=/; SameSite=Bogus; HttpOnly; domain=.example.com");
        assert_eq!(attr(&a, "samesite"), Some(&Some("Bogus".into())));
        assert_eq!(attr(&a, "httponly"), Some(&None));
        assert_eq!(attr(&a, "domain"), Some(&Some(".example.com".into())));
        assert_eq!(attr(&a, "secure"), None);
    }

    #[test]
    fn forged_tokens_keep_the_shape() {
        let real = "Q6bUtsyLyNUPNuWjQpgtms8savkDcC1oZkrj2mU2ZuU";
        let f = forge_like(real);
        assert_eq!(f.len(), real.len());
        assert_ne!(f, real);
        assert!(f.chars().all(|c| real.contains(c)));
    }

    #[test]
    fn short_never_shows_the_whole_token() {
        let s = short("abcdefghijklmnop");
        assert!(
            s.starts_with("abcd…#") && !s.contains("efgh") && s.contains("16 chars"),
            "{s}"
        );
        assert_ne!(short("abcdefghijklmnop"), short("abcdefghijklmnoq"));
    }
}
