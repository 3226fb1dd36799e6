//! Signing in as a browser would, and finding which cookie carries the session.

use crate::agent::{AgentError, Page, User};
use crate::target::Target;

/// Why the inspector could not sign in (exit code 3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The target did not answer.
    #[error("the target cannot be reached: {0}")]
    Unreachable(#[from] AgentError),
    /// The login request was answered, but the authenticated check then failed.
    #[error("login did not work: {step} answered {received}")]
    Rejected {
        /// Which step failed.
        step: String,
        /// What it received.
        received: String,
    },
    /// Signed in, but no single cookie carries the session.
    #[error("signed in, but {0}")]
    NoSessionCookie(String),
}

/// The outcome of one login. Its `Debug` shows the token's short form only.
#[derive(Clone)]
pub struct Login {
    /// The signed-in user.
    pub user: User,
    /// The session cookie's value before the credentials were submitted, if the app set one.
    pub pre_login: Option<String>,
    /// The session cookie's value after login.
    pub token: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("user", &self.user)
            .field("token", &crate::checks::short(&self.token))
            .finish_non_exhaustive()
    }
}

/// Signs in a fresh or prepared `user` and returns the session cookie's value.
///
/// `cookie` is the session cookie's name when already known; otherwise it is detected as the
/// cookie whose removal makes the authenticated check fail, and returned as `detected`.
pub async fn login(
    mut user: User,
    target: &Target,
    cookie: Option<&str>,
) -> Result<(Login, String), LoginError> {
    if let Some(page) = &target.login.form_page {
        let p = user.get(page).await?;
        if p.status >= 400 {
            return Err(LoginError::Rejected {
                step: format!("GET {page}"),
                received: format!("status {}", p.status),
            });
        }
    }
    let pre_login_jar: Vec<(String, String)> = user
        .cookie_names()
        .into_iter()
        .filter_map(|n| user.cookie(&n).map(|v| (n.clone(), v.to_owned())))
        .collect();
    let answer = user.submit(&target.login, &target.login.fields).await?;
    if !user.is_authenticated(&target.authenticated).await? {
        return Err(rejected(target, &answer, &mut user).await);
    }
    let name = match cookie {
        Some(name) => {
            if user.cookie(name).is_none() {
                return Err(LoginError::NoSessionCookie(format!(
                    "the cookie jar has no cookie named {name:?} (it has: {})",
                    names(&user)
                )));
            }
            name.to_owned()
        }
        None => detect(&user, target).await?,
    };
    let token = user.cookie(&name).unwrap_or_default().to_owned();
    let pre_login = pre_login_jar
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v);
    Ok((
        Login {
            user,
            pre_login,
            token,
        },
        name,
    ))
}

async fn rejected(target: &Target, answer: &Page, user: &mut User) -> LoginError {
    let check = &target.authenticated;
    let received = match user
        .send(crate::target::Method::Get, &check.path, &[], false)
        .await
    {
        Ok(p) => match &p.location {
            // Without its query: a Location may carry a session id.
            Some(l) => match l.split_once('?') {
                Some((path, _)) => format!("{} with Location {path}?…", p.status),
                None => format!("{} with Location {l}", p.status),
            },
            None if p.status == check.expect_status => format!(
                "{} but without the expected text {:?}",
                p.status,
                check.expect_body.as_deref().unwrap_or("")
            ),
            None => format!("{}", p.status),
        },
        Err(e) => e.to_string(),
    };
    LoginError::Rejected {
        step: format!(
            "after the login request ({} {}, answered {}), GET {}",
            match target.login.method {
                crate::target::Method::Get => "GET",
                crate::target::Method::Post => "POST",
            },
            target.login.path,
            answer.status,
            check.path
        ),
        received,
    }
}

fn names(user: &User) -> String {
    let n = user.cookie_names();
    if n.is_empty() {
        "none".into()
    } else {
        n.join(", ")
    }
}

async fn detect(user: &User, target: &Target) -> Result<String, LoginError> {
    let mut carriers = Vec::new();
    for name in user.cookie_names() {
        let mut probe = user.clone();
        probe.remove_cookie(&name);
        if !probe.is_authenticated(&target.authenticated).await? {
            carriers.push(name);
        }
    }
    match carriers.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(LoginError::NoSessionCookie(format!(
            "removing any one cookie ({}) keeps the session alive; name it with session_cookie",
            names(user)
        ))),
        many => Err(LoginError::NoSessionCookie(format!(
            "several cookies are each needed ({}); name the session one with session_cookie",
            many.join(", ")
        ))),
    }
}
