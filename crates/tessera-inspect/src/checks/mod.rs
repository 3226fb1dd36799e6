//! The checks. Each attacks one property and returns one [`Finding`]; docs/inspect.md explains
//! how each decides and what a black-box test cannot prove.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::agent::{Agent, AgentError, User};
pub use crate::check_id::{CheckId, UnknownCheck};
use crate::login::{login, Login, LoginError};
use crate::report::{Finding, Severity, Status};
use crate::target::{Method, Target};

mod absolute_timeout;
mod cache_control;
mod cookie;
mod dbsc;
pub(crate) mod entropy;
mod fixation;
mod hsts;
mod id_in_url;
mod idle_timeout;
mod login_csrf;
mod logout;
mod lookalike;
mod password_change;
mod rotation;
mod tossing;

pub(crate) use absolute_timeout::absolute_timeout;
pub(crate) use cache_control::cache_control;
pub(crate) use cookie::cookie_checks;
pub(crate) use dbsc::device_bound_sessions;
pub(crate) use entropy::sample_tokens;
pub(crate) use fixation::{fixation_rotation, fixation_strict};
pub(crate) use hsts::hsts;
pub(crate) use id_in_url::id_in_url;
pub(crate) use idle_timeout::idle_timeout;
pub(crate) use login_csrf::login_csrf;
pub(crate) use logout::logout;
pub(crate) use lookalike::cookie_name_lookalike;
pub(crate) use password_change::password_change;
pub(crate) use rotation::{privilege_rotation, rotation_race};
pub(crate) use tossing::cookie_tossing;

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
    Finding::new(
        id.as_str(),
        v.status,
        if matches!(v.status, Status::Fail | Status::Warn) {
            severity
        } else {
            Severity::Info
        },
        title,
        v.evidence,
        refs.iter().map(|r| (*r).to_owned()).collect(),
    )
}

/// A token as reports show it: a 24-bit fingerprint (so two tokens can be told apart even
/// when they share a prefix) and its length, with its first four characters when it is long
/// enough that they give nothing away; never the whole value.
///
/// The fingerprint is salted with a random value per run: a short, weak token (what this tool
/// exists to find) cannot be brute-forced offline from a report by its unsalted hash.
pub fn short(token: &str) -> String {
    use sha2::Digest as _;
    static SALT: std::sync::OnceLock<[u8; 16]> = std::sync::OnceLock::new();
    let salt = SALT.get_or_init(|| {
        let mut s = [0u8; 16];
        // Without an RNG the salt stays zero: still no head on short tokens.
        let _ = getrandom::fill(&mut s);
        s
    });
    let chars = token.chars().count();
    let head: String = if chars >= 24 {
        token.chars().take(4).collect()
    } else {
        String::new()
    };
    let mut h = sha2::Sha256::new();
    h.update(salt);
    h.update(token.as_bytes());
    let print: String = h
        .finalize()
        .iter()
        .take(3)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{head}…#{print} ({chars} chars)")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_never_shows_the_whole_token() {
        let long = "abcdefghijklmnopqrstuvwxyz012345";
        let s = short(long);
        assert!(
            s.starts_with("abcd…#") && !s.contains("efgh") && s.contains("32 chars"),
            "{s}"
        );
        assert_eq!(short(long), s, "stable within a run");
        assert_ne!(short("abcdefghijklmnop"), short("abcdefghijklmnoq"));
        // A short token shows no characters at all, and its fingerprint is salted.
        let weak = short("abcdefghijk");
        assert!(
            weak.starts_with("…#") && weak.contains("11 chars"),
            "{weak}"
        );
        use sha2::Digest as _;
        let unsalted: String = sha2::Sha256::digest(b"abcdefghijk")
            .iter()
            .take(3)
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!weak.contains(&unsalted), "{weak}");
    }
}
