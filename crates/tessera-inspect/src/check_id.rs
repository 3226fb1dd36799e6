//! The inspector's checks as a typed registry: each check's stable id, title, severity when it
//! fails, references and report order in one place. A new check is one variant here and one
//! file under `checks`; an id typo does not compile, and an unknown id on the command line is a
//! clear error listing the known ones.

use crate::report::Severity;

/// One check of the inspector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CheckId {
    /// `cookie-secure`
    CookieSecure,
    /// `cookie-httponly`
    CookieHttpOnly,
    /// `cookie-samesite`
    CookieSamesite,
    /// `cookie-prefix`
    CookiePrefix,
    /// `cookie-scope`
    CookieScope,
    /// `cookie-name-lookalike`
    CookieNameLookalike,
    /// `cookie-tossing`
    CookieTossing,
    /// `id-entropy`
    IdEntropy,
    /// `fixation-rotation`
    FixationRotation,
    /// `fixation-strict`
    FixationStrict,
    /// `login-csrf`
    LoginCsrf,
    /// `logout-invalidation`
    LogoutInvalidation,
    /// `logout-clears-cookie`
    LogoutClearsCookie,
    /// `password-change-invalidation`
    PasswordChangeInvalidation,
    /// `privilege-rotation`
    PrivilegeRotation,
    /// `rotation-race`
    RotationRace,
    /// `id-in-url`
    IdInUrl,
    /// `cache-control`
    CacheControl,
    /// `idle-timeout`
    IdleTimeout,
    /// `absolute-timeout`
    AbsoluteTimeout,
    /// `hsts`
    Hsts,
    /// `device-bound-sessions`
    DeviceBoundSessions,
}

/// An id that names no check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown check {0:?} (known: {known})", known = CheckId::ALL.map(CheckId::as_str).join(", "))]
pub struct UnknownCheck(pub String);

impl CheckId {
    /// Every check, in report order.
    pub const ALL: [CheckId; 22] = [
        Self::CookieSecure,
        Self::CookieHttpOnly,
        Self::CookieSamesite,
        Self::CookiePrefix,
        Self::CookieScope,
        Self::CookieNameLookalike,
        Self::CookieTossing,
        Self::IdEntropy,
        Self::FixationRotation,
        Self::FixationStrict,
        Self::LoginCsrf,
        Self::LogoutInvalidation,
        Self::LogoutClearsCookie,
        Self::PasswordChangeInvalidation,
        Self::PrivilegeRotation,
        Self::RotationRace,
        Self::IdInUrl,
        Self::CacheControl,
        Self::IdleTimeout,
        Self::AbsoluteTimeout,
        Self::Hsts,
        Self::DeviceBoundSessions,
    ];

    /// The stable id, as reports, `--checks` and SARIF rules name it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CookieSecure => "cookie-secure",
            Self::CookieHttpOnly => "cookie-httponly",
            Self::CookieSamesite => "cookie-samesite",
            Self::CookiePrefix => "cookie-prefix",
            Self::CookieScope => "cookie-scope",
            Self::CookieNameLookalike => "cookie-name-lookalike",
            Self::CookieTossing => "cookie-tossing",
            Self::IdEntropy => "id-entropy",
            Self::FixationRotation => "fixation-rotation",
            Self::FixationStrict => "fixation-strict",
            Self::LoginCsrf => "login-csrf",
            Self::LogoutInvalidation => "logout-invalidation",
            Self::LogoutClearsCookie => "logout-clears-cookie",
            Self::PasswordChangeInvalidation => "password-change-invalidation",
            Self::PrivilegeRotation => "privilege-rotation",
            Self::RotationRace => "rotation-race",
            Self::IdInUrl => "id-in-url",
            Self::CacheControl => "cache-control",
            Self::IdleTimeout => "idle-timeout",
            Self::AbsoluteTimeout => "absolute-timeout",
            Self::Hsts => "hsts",
            Self::DeviceBoundSessions => "device-bound-sessions",
        }
    }

    /// What a passing check asserts.
    pub const fn title(self) -> &'static str {
        match self {
            Self::CookieSecure => "Session cookie has the Secure attribute",
            Self::CookieHttpOnly => "Session cookie has the HttpOnly attribute",
            Self::CookieSamesite => "Session cookie has SameSite=Lax or Strict",
            Self::CookiePrefix => "Session cookie name has the __Host- or __Secure- prefix",
            Self::CookieScope => "Session cookie is scoped to this host only",
            Self::CookieNameLookalike => "Only the exact session cookie name is read (no look-alike name signs anyone in)",
            Self::CookieTossing => "A duplicated session cookie is not served by position (no session swap by cookie tossing)",
            Self::IdEntropy => "Session tokens are unpredictable (at least 128 bits of entropy)",
            Self::FixationRotation => "Login issues a new session token and kills the pre-login one",
            Self::FixationStrict => "A token the app never issued is not adopted at login",
            Self::LoginCsrf => "A login posted from another site does not sign the browser in",
            Self::LogoutInvalidation => "Logout ends the session on the server",
            Self::LogoutClearsCookie => "Logout removes the session cookie from the browser",
            Self::PasswordChangeInvalidation => "A password change ends the user's other sessions",
            Self::PrivilegeRotation => "A privilege change issues a new session token",
            Self::RotationRace => "Requests in flight during a rotation are not signed out, and do not kill the session",
            Self::IdInUrl => "Session token never appears in or is accepted from a URL",
            Self::CacheControl => "Authenticated pages are sent with Cache-Control: no-store",
            Self::IdleTimeout => "An idle session expires within the promised timeout",
            Self::AbsoluteTimeout => "A session kept active still ends at the promised absolute lifetime",
            Self::Hsts => "HTTPS responses carry Strict-Transport-Security of at least a year",
            Self::DeviceBoundSessions => "Device-bound sessions (W3C DBSC) offered, and refresh refuses a missing or wrong proof",
        }
    }

    /// How bad a failure is.
    pub const fn severity(self) -> Severity {
        match self {
            Self::CookieSecure => Severity::High,
            Self::CookieHttpOnly => Severity::Medium,
            Self::CookieSamesite => Severity::Medium,
            Self::CookiePrefix => Severity::Low,
            Self::CookieScope => Severity::Medium,
            Self::CookieNameLookalike => Severity::High,
            Self::CookieTossing => Severity::High,
            Self::IdEntropy => Severity::Critical,
            Self::FixationRotation => Severity::High,
            Self::FixationStrict => Severity::High,
            Self::LoginCsrf => Severity::Medium,
            Self::LogoutInvalidation => Severity::High,
            Self::LogoutClearsCookie => Severity::Low,
            Self::PasswordChangeInvalidation => Severity::High,
            Self::PrivilegeRotation => Severity::Medium,
            Self::RotationRace => Severity::Low,
            Self::IdInUrl => Severity::High,
            Self::CacheControl => Severity::Medium,
            Self::IdleTimeout => Severity::Medium,
            Self::AbsoluteTimeout => Severity::Medium,
            Self::Hsts => Severity::Medium,
            Self::DeviceBoundSessions => Severity::Info,
        }
    }

    /// The standards the check tests.
    pub const fn references(self) -> &'static [&'static str] {
        match self {
            Self::CookieSecure => &["WSTG-SESS-02", "ASVS 5.0 3.3.1", "CWE-614"],
            Self::CookieHttpOnly => &["WSTG-SESS-02", "ASVS 5.0 3.3.4", "CWE-1004"],
            Self::CookieSamesite => &["WSTG-SESS-02", "ASVS 5.0 3.3.2", "CWE-1275"],
            Self::CookiePrefix => &["WSTG-SESS-02", "ASVS 5.0 3.3.1", "ASVS 5.0 3.3.3"],
            Self::CookieScope => &["WSTG-SESS-02", "ASVS 4.0.3 3.4.5", "CWE-565"],
            Self::CookieNameLookalike => &[
                "WSTG-SESS-02",
                "ASVS 5.0 3.3.1",
                "\"Cookie Chaos\" prefix bypass (Unicode whitespace in cookie names)",
                "CWE-565",
            ],
            Self::CookieTossing => &[
                "WSTG-SESS-02",
                "ASVS 5.0 3.3.1",
                "Cookie tossing (Squarcina et al., USENIX Security 2023)",
                "CWE-384",
            ],
            Self::IdEntropy => &["WSTG-SESS-01", "ASVS 5.0 7.2.3", "CWE-331"],
            Self::FixationRotation => &["WSTG-SESS-03", "ASVS 5.0 7.2.4", "CWE-384"],
            Self::FixationStrict => &[
                "WSTG-SESS-03",
                "OWASP Session Management Cheat Sheet: strict session management",
                "CWE-384",
            ],
            Self::LoginCsrf => &[
                "WSTG-SESS-05",
                "OWASP CSRF Prevention Cheat Sheet: login CSRF",
                "CWE-352",
            ],
            Self::LogoutInvalidation => &["WSTG-SESS-06", "ASVS 5.0 7.4.1", "CWE-613"],
            Self::LogoutClearsCookie => &["WSTG-SESS-06", "ASVS 5.0 14.3.1"],
            Self::PasswordChangeInvalidation => &["WSTG-SESS-06", "ASVS 5.0 7.4.3", "CWE-613"],
            Self::PrivilegeRotation => &["WSTG-SESS-03", "ASVS 5.0 7.2.4", "CWE-384"],
            Self::RotationRace => &[
                "OWASP Session Management Cheat Sheet: renewal safety interval",
                "ASVS 5.0 7.2.4",
            ],
            Self::IdInUrl => &["WSTG-SESS-04", "ASVS 5.0 14.2.1", "CWE-598"],
            Self::CacheControl => &["WSTG-SESS-04", "ASVS 5.0 14.3.2", "CWE-525"],
            Self::IdleTimeout => &["WSTG-SESS-07", "ASVS 5.0 7.3.1", "CWE-613"],
            Self::AbsoluteTimeout => &["WSTG-SESS-07", "ASVS 5.0 7.3.2", "CWE-613"],
            Self::Hsts => &["WSTG-SESS-09", "ASVS 5.0 3.4.1", "CWE-319"],
            Self::DeviceBoundSessions => {
                &["W3C Device Bound Session Credentials (draft)", "CWE-294"]
            }
        }
    }
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CheckId {
    type Err = UnknownCheck;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == id)
            .ok_or_else(|| UnknownCheck(id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        for (i, c) in CheckId::ALL.into_iter().enumerate() {
            assert_eq!(c.as_str().parse::<CheckId>(), Ok(c));
            assert_eq!(c.to_string(), c.as_str());
            assert!(!c.title().is_empty() && !c.references().is_empty());
            assert!(CheckId::ALL
                .iter()
                .skip(i + 1)
                .all(|o| o.as_str() != c.as_str()));
        }
        let err = "cookie-secur".parse::<CheckId>().unwrap_err().to_string();
        assert!(
            err.contains("cookie-secur") && err.contains("cookie-secure, cookie-httponly"),
            "{err}"
        );
    }
}
