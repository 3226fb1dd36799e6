//! The stack an app runs on, guessed from what it shows a browser (cookie names, `Server` and
//! `X-Powered-By`, the names of its forms' CSRF fields), and the concrete fix for each failing
//! check on that stack.
//!
//! A guess is only as good as its signals, so the report states the stack with its confidence
//! and the signals that led to it, and every fix names the stack it was written for: an auditor
//! can see at once when the guess is wrong and fall back to the generic advice, which every
//! finding that fails or warns carries when no stack is recognised.

use serde::Serialize;

use crate::agent::StackHints;
use crate::checks::CheckId;

/// A web stack the inspector has fixes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Stack {
    /// Flask (Werkzeug; Flask-Login, Flask-WTF).
    Flask,
    /// Django (`django.contrib.sessions`, `django.contrib.auth`).
    Django,
    /// Node.js Express with `express-session`.
    Express,
    /// PHP's native sessions.
    Php,
    /// Java servlets: Tomcat/Jetty, Spring Boot, Spring Security, Spring Session.
    Java,
    /// Ruby on Rails (and Devise).
    Rails,
    /// Laravel.
    Laravel,
    /// ASP.NET Core (cookie authentication, Identity).
    AspNetCore,
}

impl Stack {
    /// The stack's name as reports show it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Flask => "Flask",
            Self::Django => "Django",
            Self::Express => "Express (express-session)",
            Self::Php => "PHP sessions",
            Self::Java => "Java servlet / Spring",
            Self::Rails => "Ruby on Rails",
            Self::Laravel => "Laravel",
            Self::AspNetCore => "ASP.NET Core",
        }
    }
}

/// How sure the guess is. Weaker evidence (a generic cookie name such as `session` alone, or a
/// hint two stacks share) recognises no stack at all: advice for the wrong framework misleads
/// more than the generic advice does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Signals worth 3 or 4: one only this stack gives, or two hints that agree.
    Medium,
    /// Signals worth 5 or more, from at least two places, agree.
    High,
}

/// The recognised stack, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detected {
    /// The stack.
    pub stack: Stack,
    /// Its name, for readers of the JSON.
    pub name: &'static str,
    /// How sure.
    pub confidence: Confidence,
    /// What was seen, e.g. `session cookie "sessionid"`.
    pub signals: Vec<String>,
}

/// What to change so a check passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// The stack the advice is written for; `None` for the generic advice.
    pub stack: Option<Stack>,
    /// The setting, call or middleware option to change.
    pub advice: &'static str,
    /// Where its documentation is.
    pub docs: &'static str,
}

/// Where a signal is looked for.
#[derive(Clone, Copy)]
enum Place {
    /// The session cookie's name (any `__Host-`/`__Secure-` prefix set aside).
    SessionCookie,
    /// The session cookie's value: signed-cookie formats name their library.
    SessionValue,
    /// Any other cookie the app set.
    OtherCookie,
    /// A `Server` or `X-Powered-By` header, lower-cased, as `server: value`.
    Header,
    /// A hidden form field's name.
    FormField,
}

/// How a signal's text is matched.
#[derive(Clone, Copy)]
enum Pattern {
    Exact(&'static str),
    Prefix(&'static str),
    /// `_…_session`, the Rails default `_appname_session`.
    RailsSession,
    /// itsdangerous' signed cookie, as Flask writes its session: `payload.timestamp.signature`
    /// in URL-safe base64, the payload JSON (`eyJ`, `{"`) or zlib-compressed JSON (`.eJ`).
    Itsdangerous,
}

impl Pattern {
    fn matches(self, text: &str) -> bool {
        match self {
            Self::Exact(p) => text == p,
            Self::Prefix(p) => text.starts_with(p),
            Self::RailsSession => {
                text.len() > "__session".len()
                    && text.starts_with('_')
                    && text.ends_with("_session")
            }
            Self::Itsdangerous => {
                let body = text.strip_prefix('.').unwrap_or(text);
                let parts: Vec<&str> = body.split('.').collect();
                (text.starts_with("eyJ") || text.starts_with(".eJ"))
                    && parts.len() == 3
                    && parts.iter().all(|p| {
                        !p.is_empty()
                            && p.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    })
            }
        }
    }
}

/// (where, what, which stack, weight): 3 is a signal only that stack gives by default, 2 a
/// strong hint, 1 a hint another stack can give too.
const SIGNALS: &[(Place, Pattern, Stack, u32)] = {
    use Pattern::{Exact, Itsdangerous, Prefix, RailsSession};
    use Place::{FormField, Header, OtherCookie, SessionCookie, SessionValue};
    use Stack::*;
    &[
        (SessionCookie, Exact("session"), Flask, 2),
        (SessionCookie, Exact("connect.sid"), Express, 3),
        (SessionCookie, Exact("sessionid"), Django, 3),
        (SessionCookie, Exact("PHPSESSID"), Php, 3),
        (SessionCookie, Exact("JSESSIONID"), Java, 3),
        (SessionCookie, Exact("SESSION"), Java, 2),
        (SessionCookie, Exact("laravel_session"), Laravel, 3),
        (SessionCookie, RailsSession, Rails, 3),
        (SessionCookie, Prefix(".AspNetCore."), AspNetCore, 3),
        (SessionValue, Itsdangerous, Flask, 3),
        // express-session signs with cookie-signature: `s:` + id + `.` + MAC, URL-encoded.
        (SessionValue, Prefix("s%3A"), Express, 3),
        // Laravel encrypts its cookies: base64 of `{"iv":`.
        (SessionValue, Prefix("eyJpdiI6"), Laravel, 2),
        (OtherCookie, Exact("csrftoken"), Django, 2),
        (OtherCookie, Exact("XSRF-TOKEN"), Laravel, 1),
        (
            OtherCookie,
            Prefix(".AspNetCore.Antiforgery."),
            AspNetCore,
            2,
        ),
        (OtherCookie, Exact("_csrf"), Express, 1),
        (Header, Prefix("x-powered-by: express"), Express, 3),
        (Header, Prefix("x-powered-by: php"), Php, 3),
        (Header, Prefix("x-powered-by: asp.net"), AspNetCore, 2),
        (Header, Prefix("server: kestrel"), AspNetCore, 3),
        // Werkzeug's server is what `flask run` and `app.run()` serve with.
        (Header, Prefix("server: werkzeug"), Flask, 3),
        (Header, Prefix("server: wsgiserver"), Django, 1),
        (Header, Prefix("server: apache-coyote"), Java, 2),
        (Header, Prefix("server: jetty"), Java, 2),
        (Header, Prefix("x-powered-by: servlet"), Java, 2),
        (Header, Prefix("x-powered-by: phusion passenger"), Rails, 1),
        (FormField, Exact("csrfmiddlewaretoken"), Django, 3),
        (FormField, Exact("csrf_token"), Flask, 2),
        (FormField, Exact("authenticity_token"), Rails, 3),
        (FormField, Exact("_token"), Laravel, 3),
        (
            FormField,
            Exact("__RequestVerificationToken"),
            AspNetCore,
            3,
        ),
        (FormField, Exact("_csrf"), Express, 1),
        (FormField, Exact("_csrf"), Java, 1),
    ]
};

/// Recognises the stack from the session cookie (`(name, value)`), the other cookies' names and
/// what the agent saw. `None` when the signals are too weak, or when two stacks score the same.
pub fn detect(
    session: Option<(&str, &str)>,
    other_cookies: &[String],
    hints: &StackHints,
) -> Option<Detected> {
    let session_cookie = session.map(|(name, _)| name);
    let unprefixed = session_cookie.map(|c| {
        c.strip_prefix("__Host-")
            .or_else(|| c.strip_prefix("__Secure-"))
            .unwrap_or(c)
    });
    let headers: Vec<String> = hints
        .headers
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let mut scores: Vec<(Stack, u32, Vec<String>)> = Vec::new();
    for &(place, pattern, stack, weight) in SIGNALS {
        let seen: Option<String> = match place {
            Place::SessionCookie => unprefixed
                .filter(|c| pattern.matches(c))
                .map(|c| format!("session cookie {c:?}")),
            Place::SessionValue => session
                .filter(|(_, v)| pattern.matches(v))
                .map(|_| "the session cookie's value format".to_owned()),
            Place::OtherCookie => other_cookies
                .iter()
                .find(|c| Some(c.as_str()) != session_cookie && pattern.matches(c))
                .map(|c| format!("cookie {c:?}")),
            Place::Header => headers
                .iter()
                .find(|h| pattern.matches(h))
                .map(|h| format!("header {h:?}")),
            Place::FormField => hints
                .form_fields
                .iter()
                .find(|f| pattern.matches(f))
                .map(|f| format!("form field {f:?}")),
        };
        let Some(signal) = seen else { continue };
        match scores.iter_mut().find(|(s, _, _)| *s == stack) {
            Some((_, score, signals)) => {
                *score += weight;
                signals.push(signal);
            }
            None => scores.push((stack, weight, vec![signal])),
        }
    }
    scores.sort_by_key(|s| std::cmp::Reverse(s.1));
    let mut ranked = scores.into_iter();
    let (stack, score, signals) = ranked.next()?;
    if ranked
        .next()
        .is_some_and(|(_, runner_up, _)| runner_up == score)
    {
        return None;
    }
    let confidence = match (score, signals.len()) {
        (5.., 2..) => Confidence::High,
        (3.., _) => Confidence::Medium,
        _ => return None,
    };
    Some(Detected {
        stack,
        name: stack.name(),
        confidence,
        signals,
    })
}

/// The fix for `check` on `stack`: the stack's own when there is one, else the generic advice.
pub fn fix(check: CheckId, stack: Option<Stack>) -> Fix {
    stack
        .and_then(|s| {
            FIXES
                .iter()
                .find(|(c, st, _, _)| *c == check && *st == s)
                .map(|&(_, st, advice, docs)| Fix {
                    stack: Some(st),
                    advice,
                    docs,
                })
        })
        .unwrap_or_else(|| generic(check))
}

/// The fix table as docs/inspect.md shows it (Markdown, one row per stack and check), so the
/// documentation is generated from this one table and a test keeps the two the same.
pub fn fix_table_markdown() -> String {
    let mut out = String::from("| stack | check | fix | docs |\n|---|---|---|---|\n");
    let stacks = [
        Stack::Flask,
        Stack::Django,
        Stack::Express,
        Stack::Php,
        Stack::Java,
        Stack::Rails,
        Stack::Laravel,
        Stack::AspNetCore,
    ];
    for stack in stacks {
        for id in CheckId::ALL {
            if let Some((_, _, advice, docs)) =
                FIXES.iter().find(|(c, s, _, _)| *c == id && *s == stack)
            {
                out.push_str(&format!(
                    "| {} | `{}` | {} | <{}> |\n",
                    stack.name(),
                    id.as_str(),
                    advice.replace('|', "\\|"),
                    docs
                ));
            }
        }
    }
    out
}

const OWASP_SESSIONS: &str =
    "https://cheatsheetseries.owasp.org/cheatsheets/Session_Management_Cheat_Sheet.html";
const MDN_SET_COOKIE: &str =
    "https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Set-Cookie";

/// The advice that holds on any stack.
fn generic(check: CheckId) -> Fix {
    let (advice, docs) = match check {
        CheckId::CookieSecure => ("Send the session cookie with the Secure attribute, and serve the app over HTTPS only.", MDN_SET_COOKIE),
        CheckId::CookieHttpOnly => ("Send the session cookie with the HttpOnly attribute, so page scripts (and an XSS) cannot read it.", MDN_SET_COOKIE),
        CheckId::CookieSamesite => ("Send the session cookie with SameSite=Lax (or Strict), so cross-site requests do not carry it.", MDN_SET_COOKIE),
        CheckId::CookiePrefix => ("Name the session cookie __Host-… (with Secure, Path=/ and no Domain), so no sibling subdomain or plain-HTTP page can set or shadow it.", MDN_SET_COOKIE),
        CheckId::CookieScope => ("Drop the Domain attribute from the session cookie (host-only), and keep Path=/.", MDN_SET_COOKIE),
        CheckId::CookieNameLookalike => ("Read cookies by their exact name: do not trim Unicode spaces, decode %-escapes or fold case in cookie names (upgrade the framework's cookie parser, or reject such names).", "https://www.rfc-editor.org/rfc/rfc6265#section-5.2"),
        CheckId::CookieTossing => ("Name the session cookie __Host-… so sibling subdomains cannot toss one, and when a request carries the session cookie twice, serve neither.", MDN_SET_COOKIE),
        CheckId::IdEntropy => ("Make session ids from a CSPRNG with at least 128 bits of entropy (64+ bits as OWASP's floor); never from counters, time, or user data.", OWASP_SESSIONS),
        CheckId::FixationRotation => ("Issue a new session id at login and end the pre-login session on the server.", OWASP_SESSIONS),
        CheckId::FixationStrict => ("Refuse session ids the server never issued (strict session management): start a fresh session instead of adopting one.", OWASP_SESSIONS),
        CheckId::LoginCsrf => ("Protect the login form with an anti-CSRF token (or check Origin / Sec-Fetch-Site), as for any state-changing form.", "https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html"),
        CheckId::LogoutInvalidation => ("Delete the session on the server at logout, not only the cookie in the browser; a client-side (signed cookie) session needs a server-side revocation list or version.", OWASP_SESSIONS),
        CheckId::LogoutClearsCookie => ("At logout, send the session cookie again with an empty value and Max-Age=0 (same name, path and domain).", MDN_SET_COOKIE),
        CheckId::PasswordChangeInvalidation => ("On a password change, end every other session of the user (keep a per-user session version or list, and check it on each request).", OWASP_SESSIONS),
        CheckId::PrivilegeRotation => ("Issue a new session id whenever the user's privilege changes (step-up, role change), as at login.", OWASP_SESSIONS),
        CheckId::RotationRace => ("When rotating the session id, accept the previous id for a short grace period (seconds), so requests already in flight are not signed out.", OWASP_SESSIONS),
        CheckId::IdInUrl => ("Carry the session id only in a cookie: never in a URL, and never accept one from a query string or path parameter.", OWASP_SESSIONS),
        CheckId::CacheControl => ("Send Cache-Control: no-store on every page a signed-in user gets.", "https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Cache-Control"),
        CheckId::IdleTimeout => ("Expire idle sessions on the server at the promised timeout (store the last-seen time with the session; do not rely on the cookie's expiry).", OWASP_SESSIONS),
        CheckId::AbsoluteTimeout => ("Store each session's creation time on the server and end the session at the promised absolute lifetime, however active it is (renewing the idle deadline must not extend it).", OWASP_SESSIONS),
        CheckId::Hsts => ("Send Strict-Transport-Security: max-age=31536000 (a year or more) on every HTTPS response.", "https://cheatsheetseries.owasp.org/cheatsheets/HTTP_Strict_Transport_Security_Cheat_Sheet.html"),
        CheckId::DeviceBoundSessions => ("Offer W3C Device Bound Session Credentials at sign-in (Tessera: SessionLayer::with_device_binding, or tessera serve's /v1/device/*), and renew the bound cookie only for a proof signed by the registered key.", "https://github.com/w3c/webappsec-dbsc"),
    };
    Fix {
        stack: None,
        advice,
        docs,
    }
}

/// (check, stack, advice, documentation): the fix in the stack's own terms.
#[rustfmt::skip]
const FIXES: &[(CheckId, Stack, &str, &str)] = {
    use CheckId::*;
    use Stack::*;
    const FLASK_CONFIG: &str = "https://flask.palletsprojects.com/en/stable/config/";
    const DJANGO_SETTINGS: &str = "https://docs.djangoproject.com/en/stable/ref/settings/";
    const EXPRESS_SESSION: &str = "https://github.com/expressjs/session#options";
    const PHP_INI: &str = "https://www.php.net/manual/en/session.configuration.php";
    const SPRING_PROPS: &str = "https://docs.spring.io/spring-boot/appendix/application-properties/index.html";
    const SPRING_SESSIONS: &str = "https://docs.spring.io/spring-security/reference/servlet/authentication/session-management.html";
    const RAILS_SECURITY: &str = "https://guides.rubyonrails.org/security.html#sessions";
    const LARAVEL_SESSION: &str = "https://laravel.com/docs/session#configuration";
    const LARAVEL_AUTH: &str = "https://laravel.com/docs/authentication";
    const ASPNET_COOKIE: &str = "https://learn.microsoft.com/aspnet/core/security/authentication/cookie";
    &[
        // Flask
        (CookieSecure, Flask, "Set SESSION_COOKIE_SECURE = True in the app config.", FLASK_CONFIG),
        (CookieHttpOnly, Flask, "Set SESSION_COOKIE_HTTPONLY = True (the default; something turned it off).", FLASK_CONFIG),
        (CookieSamesite, Flask, "Set SESSION_COOKIE_SAMESITE = \"Lax\" in the app config.", FLASK_CONFIG),
        (CookiePrefix, Flask, "Set SESSION_COOKIE_NAME = \"__Host-session\" with SESSION_COOKIE_SECURE = True, SESSION_COOKIE_PATH = \"/\" and no SESSION_COOKIE_DOMAIN.", FLASK_CONFIG),
        (CookieScope, Flask, "Leave SESSION_COOKIE_DOMAIN unset (None), so the cookie is host-only.", FLASK_CONFIG),
        (CookieTossing, Flask, "Werkzeug serves the first of two same-named cookies: rename the cookie with SESSION_COOKIE_NAME = \"__Host-session\" (Secure, Path=/, no Domain) so a sibling subdomain cannot plant one.", FLASK_CONFIG),
        (FixationRotation, Flask, "Call session.clear() before storing the user at login; with Flask-Session's server-side store, call app.session_interface.regenerate(session) as well.", "https://flask-session.readthedocs.io/"),
        (LogoutInvalidation, Flask, "Flask's default session is a signed cookie that stays valid wherever it was copied: use a server-side store (Flask-Session) and session.clear() at logout, or put a per-user session version in the session and check it on each request.", "https://flask-session.readthedocs.io/"),
        (PasswordChangeInvalidation, Flask, "With Flask-Login, make get_id() return an alternative token that changes with the password, so every older session stops loading its user.", "https://flask-login.readthedocs.io/en/latest/#alternative-tokens"),
        (IdleTimeout, Flask, "Set session.permanent = True at login and PERMANENT_SESSION_LIFETIME to the idle timeout, with SESSION_REFRESH_EACH_REQUEST = True (Flask checks the signed timestamp against the lifetime).", FLASK_CONFIG),
        (LoginCsrf, Flask, "Enable Flask-WTF's CSRFProtect(app) and render {{ csrf_token() }} in the login form too.", "https://flask-wtf.readthedocs.io/en/stable/csrf.html"),
        (CacheControl, Flask, "Add an @app.after_request hook that sets response.headers[\"Cache-Control\"] = \"no-store\" for signed-in users.", "https://flask.palletsprojects.com/en/stable/api/#flask.Flask.after_request"),
        (Hsts, Flask, "Send HSTS from the TLS proxy, or with Flask-Talisman: Talisman(app, strict_transport_security_max_age=31536000).", "https://github.com/wntrblm/flask-talisman"),
        // Django
        (CookieSecure, Django, "Set SESSION_COOKIE_SECURE = True (and CSRF_COOKIE_SECURE = True) in settings.py.", DJANGO_SETTINGS),
        (CookieHttpOnly, Django, "Set SESSION_COOKIE_HTTPONLY = True (the default; something turned it off).", DJANGO_SETTINGS),
        (CookieSamesite, Django, "Set SESSION_COOKIE_SAMESITE = \"Lax\" (the default; do not set it to None).", DJANGO_SETTINGS),
        (CookiePrefix, Django, "Set SESSION_COOKIE_NAME = \"__Host-sessionid\" with SESSION_COOKIE_SECURE = True, SESSION_COOKIE_PATH = \"/\" and SESSION_COOKIE_DOMAIN = None.", DJANGO_SETTINGS),
        (CookieScope, Django, "Set SESSION_COOKIE_DOMAIN = None (host-only).", DJANGO_SETTINGS),
        (CookieTossing, Django, "Rename the cookie with SESSION_COOKIE_NAME = \"__Host-sessionid\" (Secure, Path=/, no Domain) so a sibling subdomain cannot plant a second one.", DJANGO_SETTINGS),
        (FixationRotation, Django, "Sign users in with django.contrib.auth.login(), which calls request.session.cycle_key(); custom login code must call cycle_key() itself.", "https://docs.djangoproject.com/en/stable/topics/http/sessions/"),
        (LogoutInvalidation, Django, "Sign out with django.contrib.auth.logout(request) (it flushes the session), and do not use the signed_cookies session engine.", "https://docs.djangoproject.com/en/stable/topics/auth/default/#how-to-log-a-user-out"),
        (PasswordChangeInvalidation, Django, "Change passwords with user.set_password() and keep AuthenticationMiddleware: Django then ends every session whose stored password hash no longer matches; call update_session_auth_hash() to keep only the current one.", "https://docs.djangoproject.com/en/stable/topics/auth/default/#session-invalidation-on-password-change"),
        (IdleTimeout, Django, "Set SESSION_COOKIE_AGE to the idle timeout and SESSION_SAVE_EVERY_REQUEST = True, with a server-side session engine (db, cache).", DJANGO_SETTINGS),
        (LoginCsrf, Django, "Keep CsrfViewMiddleware on, render {% csrf_token %} in the login form, and do not mark the login view @csrf_exempt.", "https://docs.djangoproject.com/en/stable/ref/csrf/"),
        (CacheControl, Django, "Decorate signed-in views with @never_cache (django.views.decorators.cache).", "https://docs.djangoproject.com/en/stable/topics/http/decorators/#caching"),
        (Hsts, Django, "Set SECURE_HSTS_SECONDS = 31536000 with SecurityMiddleware enabled.", DJANGO_SETTINGS),
        // Express
        (CookieSecure, Express, "Pass session({ cookie: { secure: true } }), and app.set('trust proxy', 1) behind a TLS proxy.", EXPRESS_SESSION),
        (CookieHttpOnly, Express, "Pass session({ cookie: { httpOnly: true } }) (the default; something turned it off).", EXPRESS_SESSION),
        (CookieSamesite, Express, "Pass session({ cookie: { sameSite: 'lax' } }).", EXPRESS_SESSION),
        (CookiePrefix, Express, "Pass session({ name: '__Host-sid', cookie: { secure: true, path: '/' } }) without cookie.domain.", EXPRESS_SESSION),
        (CookieScope, Express, "Do not set cookie.domain in the session options (host-only).", EXPRESS_SESSION),
        (CookieTossing, Express, "The cookie module serves the first of two same-named cookies: name the session cookie '__Host-sid' (secure, path '/', no domain) so a sibling subdomain cannot plant one.", EXPRESS_SESSION),
        (FixationRotation, Express, "Call req.session.regenerate() at login, then store the user in the new session.", "https://github.com/expressjs/session#sessionregeneratecallback"),
        (LogoutInvalidation, Express, "Call req.session.destroy() at logout (not only res.clearCookie()).", "https://github.com/expressjs/session#sessiondestroycallback"),
        (LogoutClearsCookie, Express, "After req.session.destroy(), call res.clearCookie() with the session cookie's name and the same path.", "https://expressjs.com/en/api.html#res.clearCookie"),
        (PasswordChangeInvalidation, Express, "express-session has no per-user index: keep each user's session ids (or a per-user version checked by a middleware) and store.destroy() the others on a password change.", EXPRESS_SESSION),
        (IdleTimeout, Express, "Set cookie.maxAge to the idle timeout with rolling: true, on a store that expires sessions at that time (the store's TTL, not the cookie, is what ends them).", EXPRESS_SESSION),
        (LoginCsrf, Express, "Protect the login route with a CSRF token (e.g. csrf-csrf's double-submit middleware) and keep sameSite: 'lax'.", "https://github.com/Psifi-Solutions/csrf-csrf"),
        (Hsts, Express, "Use helmet(), whose strictTransportSecurity sends a year's max-age.", "https://helmetjs.github.io/"),
        // PHP
        (CookieSecure, Php, "Set session.cookie_secure = 1 in php.ini (or 'secure' => true in session_set_cookie_params()).", PHP_INI),
        (CookieHttpOnly, Php, "Set session.cookie_httponly = 1.", PHP_INI),
        (CookieSamesite, Php, "Set session.cookie_samesite = \"Lax\" (PHP 7.3+).", PHP_INI),
        (CookiePrefix, Php, "Call session_name('__Host-PHPSESSID') with session.cookie_secure = 1, session.cookie_path = / and an empty session.cookie_domain.", PHP_INI),
        (CookieScope, Php, "Leave session.cookie_domain empty (host-only).", PHP_INI),
        (FixationRotation, Php, "Call session_regenerate_id(true) right after a successful login.", "https://www.php.net/manual/en/function.session-regenerate-id.php"),
        (FixationStrict, Php, "Set session.use_strict_mode = 1, so PHP refuses ids it never issued.", "https://www.php.net/manual/en/session.security.ini.php"),
        (LogoutInvalidation, Php, "At logout: $_SESSION = []; session_destroy(); and expire the cookie with setcookie(session_name(), '', time() - 3600, ...).", "https://www.php.net/manual/en/function.session-destroy.php"),
        (IdleTimeout, Php, "session.gc_maxlifetime is probabilistic: keep a last_activity time in $_SESSION and destroy the session when it is older than the timeout.", PHP_INI),
        (IdInUrl, Php, "Set session.use_only_cookies = 1 and session.use_trans_sid = 0.", "https://www.php.net/manual/en/session.security.ini.php"),
        (CacheControl, Php, "Keep session.cache_limiter = nocache (the default), or send header('Cache-Control: no-store') on signed-in pages.", PHP_INI),
        // Java
        (CookieSecure, Java, "Set server.servlet.session.cookie.secure=true (Spring Boot), or <secure>true</secure> in web.xml's <cookie-config>.", SPRING_PROPS),
        (CookieHttpOnly, Java, "Set server.servlet.session.cookie.http-only=true, or <http-only>true</http-only> in web.xml.", SPRING_PROPS),
        (CookieSamesite, Java, "Set server.servlet.session.cookie.same-site=lax (Spring Boot).", SPRING_PROPS),
        (CookiePrefix, Java, "Set server.servlet.session.cookie.name=__Host-JSESSIONID with the cookie secure, path / and no domain.", SPRING_PROPS),
        (CookieScope, Java, "Do not set server.servlet.session.cookie.domain (host-only).", SPRING_PROPS),
        (FixationRotation, Java, "Keep Spring Security's sessionFixation().changeSessionId() (the default), or call request.changeSessionId() after a servlet login.", SPRING_SESSIONS),
        (LogoutInvalidation, Java, "Keep Spring Security's logout().invalidateHttpSession(true) (the default), or call session.invalidate().", "https://docs.spring.io/spring-security/reference/servlet/authentication/logout.html"),
        (PasswordChangeInvalidation, Java, "Find the user's sessions with Spring Session's FindByIndexNameSessionRepository (or a SessionRegistry) and delete them on a password change.", "https://docs.spring.io/spring-session/reference/api.html"),
        (IdleTimeout, Java, "Set server.servlet.session.timeout (or <session-timeout> in web.xml) to the idle timeout.", SPRING_PROPS),
        (IdInUrl, Java, "Set server.servlet.session.tracking-modes=cookie, so no ;jsessionid= ever goes into a URL.", SPRING_PROPS),
        (LoginCsrf, Java, "Keep Spring Security's CSRF protection on for the login form (the default) and render its _csrf field.", "https://docs.spring.io/spring-security/reference/servlet/exploits/csrf.html"),
        (CacheControl, Java, "Keep Spring Security's default cache-control headers (do not disable headers().cacheControl()).", "https://docs.spring.io/spring-security/reference/servlet/exploits/headers.html"),
        (Hsts, Java, "Keep Spring Security's HSTS header on and set maxAgeInSeconds(31536000).", "https://docs.spring.io/spring-security/reference/servlet/exploits/headers.html"),
        // Rails
        (CookieSecure, Rails, "Set config.force_ssl = true (it marks cookies Secure), or pass secure: true to config.session_store.", RAILS_SECURITY),
        (CookieSamesite, Rails, "Set config.action_dispatch.cookies_same_site_protection = :lax.", "https://guides.rubyonrails.org/configuring.html"),
        (CookiePrefix, Rails, "Pass key: '__Host-app_session' (with secure: true and no domain:) to config.session_store.", RAILS_SECURITY),
        (CookieScope, Rails, "Remove domain: (e.g. domain: :all) from config.session_store.", RAILS_SECURITY),
        (FixationRotation, Rails, "Call reset_session before signing the user in (Devise/Warden renew the session themselves).", RAILS_SECURITY),
        (LogoutInvalidation, Rails, "The default CookieStore cannot revoke a copied cookie: use a server-side store (activerecord-session_store, cache_store) and reset_session at logout.", RAILS_SECURITY),
        (PasswordChangeInvalidation, Rails, "With Devise, keep its default session serialisation (it binds the session to the password's salt); otherwise store a per-user version in the session and check it.", "https://github.com/heartcombo/devise"),
        (IdleTimeout, Rails, "Use Devise's :timeoutable with config.timeout_in, or expire_after: on a server-side session store.", "https://github.com/heartcombo/devise"),
        (LoginCsrf, Rails, "Keep protect_from_forgery on (the default) and do not skip it for the sessions controller.", "https://guides.rubyonrails.org/security.html#cross-site-request-forgery-csrf"),
        (Hsts, Rails, "Set config.force_ssl = true (it sends HSTS with a long max-age).", "https://guides.rubyonrails.org/configuring.html"),
        // Laravel
        (CookieSecure, Laravel, "Set SESSION_SECURE_COOKIE=true ('secure' in config/session.php).", LARAVEL_SESSION),
        (CookieHttpOnly, Laravel, "Keep 'http_only' => true in config/session.php.", LARAVEL_SESSION),
        (CookieSamesite, Laravel, "Set 'same_site' => 'lax' in config/session.php.", LARAVEL_SESSION),
        (CookiePrefix, Laravel, "Set SESSION_COOKIE=__Host-laravel_session with SESSION_SECURE_COOKIE=true, path / and SESSION_DOMAIN=null.", LARAVEL_SESSION),
        (CookieScope, Laravel, "Set SESSION_DOMAIN=null (host-only).", LARAVEL_SESSION),
        (FixationRotation, Laravel, "Call $request->session()->regenerate() after Auth::attempt() succeeds.", LARAVEL_AUTH),
        (LogoutInvalidation, Laravel, "At logout: Auth::logout(); $request->session()->invalidate(); $request->session()->regenerateToken();", LARAVEL_AUTH),
        (PasswordChangeInvalidation, Laravel, "Add the auth.session (AuthenticateSession) middleware and call Auth::logoutOtherDevices($password) on a password change.", "https://laravel.com/docs/authentication#invalidating-sessions-on-other-devices"),
        (IdleTimeout, Laravel, "Set SESSION_LIFETIME (minutes of inactivity) in the environment / config/session.php.", LARAVEL_SESSION),
        (LoginCsrf, Laravel, "Keep the web middleware group's CSRF check and put @csrf in the login form.", "https://laravel.com/docs/csrf"),
        // ASP.NET Core
        (CookieSecure, AspNetCore, "Set options.Cookie.SecurePolicy = CookieSecurePolicy.Always on the cookie (and session) options.", ASPNET_COOKIE),
        (CookieHttpOnly, AspNetCore, "Set options.Cookie.HttpOnly = true.", ASPNET_COOKIE),
        (CookieSamesite, AspNetCore, "Set options.Cookie.SameSite = SameSiteMode.Lax.", ASPNET_COOKIE),
        (CookiePrefix, AspNetCore, "Set options.Cookie.Name = \"__Host-auth\" with SecurePolicy Always, Path / and no Domain.", ASPNET_COOKIE),
        (LogoutInvalidation, AspNetCore, "SignOutAsync() only clears the browser's cookie: keep tickets server-side (CookieAuthenticationOptions.SessionStore) or validate Identity's security stamp on each request.", ASPNET_COOKIE),
        (PasswordChangeInvalidation, AspNetCore, "Call UserManager.UpdateSecurityStampAsync(user) and set SecurityStampValidatorOptions.ValidationInterval = TimeSpan.Zero.", ASPNET_COOKIE),
        (AbsoluteTimeout, AspNetCore, "Set options.ExpireTimeSpan to the absolute lifetime with SlidingExpiration = false (or check AuthenticationProperties.IssuedUtc in OnValidatePrincipal).", ASPNET_COOKIE),
        (IdleTimeout, AspNetCore, "Set options.ExpireTimeSpan to the idle timeout with SlidingExpiration = true (and a server-side SessionStore to enforce it).", ASPNET_COOKIE),
        (LoginCsrf, AspNetCore, "Validate the antiforgery token on the login action ([ValidateAntiForgeryToken]; Razor Pages do it by default).", "https://learn.microsoft.com/aspnet/core/security/anti-request-forgery"),
        (Hsts, AspNetCore, "Call app.UseHsts() with HstsOptions.MaxAge of at least 365 days.", "https://learn.microsoft.com/aspnet/core/security/enforcing-ssl"),
    ]
};

#[cfg(test)]
mod tests {
    use super::*;

    fn hints(headers: &[&str], fields: &[&str]) -> StackHints {
        StackHints {
            headers: headers.iter().map(|s| (*s).to_owned()).collect(),
            form_fields: fields.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn each_stack_is_recognised_from_what_it_shows() {
        let none = StackHints::default();
        let flask = "eyJ1c2VyIjoiYWxpY2UifQ.Z0mQxw.3vB8lTq1fS0Hf2o6mA1b2c3d4e5";
        type Case<'a> = (
            &'a str,
            &'a str,
            &'a [&'a str],
            StackHints,
            Stack,
            Confidence,
        );
        let cases: &[Case] = &[
            (
                "sessionid",
                "x",
                &["csrftoken"],
                hints(&[], &["csrfmiddlewaretoken"]),
                Stack::Django,
                Confidence::High,
            ),
            (
                "connect.sid",
                "s%3Aabc.def",
                &[],
                none.clone(),
                Stack::Express,
                Confidence::High,
            ),
            (
                "sid",
                "s%3Aabc.def",
                &[],
                hints(&["X-Powered-By: Express"], &[]),
                Stack::Express,
                Confidence::High,
            ),
            (
                "session",
                "x",
                &[],
                hints(&["Server: Werkzeug/3.0.1 Python/3.11"], &["csrf_token"]),
                Stack::Flask,
                Confidence::High,
            ),
            (
                "session",
                flask,
                &[],
                none.clone(),
                Stack::Flask,
                Confidence::High,
            ),
            (
                "__Host-session",
                &format!(".eJ{}", &flask[3..]),
                &[],
                none.clone(),
                Stack::Flask,
                Confidence::High,
            ),
            (
                "PHPSESSID",
                "x",
                &[],
                none.clone(),
                Stack::Php,
                Confidence::Medium,
            ),
            (
                "__Host-PHPSESSID",
                "x",
                &[],
                hints(&["X-Powered-By: PHP/8.2.1"], &[]),
                Stack::Php,
                Confidence::High,
            ),
            (
                "JSESSIONID",
                "x",
                &[],
                hints(&[], &["_csrf"]),
                Stack::Java,
                Confidence::Medium,
            ),
            (
                "_shop_session",
                "x",
                &[],
                hints(&[], &["authenticity_token"]),
                Stack::Rails,
                Confidence::High,
            ),
            (
                "laravel_session",
                "eyJpdiI6Ijk",
                &["XSRF-TOKEN"],
                hints(&[], &["_token"]),
                Stack::Laravel,
                Confidence::High,
            ),
            (
                ".AspNetCore.Cookies",
                "x",
                &[],
                hints(&["Server: Kestrel"], &[]),
                Stack::AspNetCore,
                Confidence::High,
            ),
        ];
        for (cookie, value, others, h, stack, confidence) in cases {
            let others: Vec<String> = others.iter().map(|s| (*s).to_owned()).collect();
            let d = detect(Some((cookie, value)), &others, h).unwrap_or_else(|| panic!("{cookie}"));
            assert_eq!(
                (d.stack, d.confidence),
                (*stack, *confidence),
                "{cookie}: {d:?}"
            );
            assert!(!d.signals.is_empty());
        }
    }

    #[test]
    fn nothing_or_a_tie_recognises_no_stack() {
        let none = StackHints::default();
        assert_eq!(detect(Some(("__Host-tessera", "AAAA")), &[], &none), None);
        assert_eq!(detect(None, &[], &none), None);
        // A generic name alone is too weak: Tessera's own demo calls its cookie
        // `__Host-session`, and its tokens are not itsdangerous-shaped.
        assert_eq!(
            detect(Some(("__Host-session", "tsr1.abc.def")), &[], &none),
            None
        );
        assert_eq!(detect(Some(("session", "eyJ.a")), &[], &none), None);
        // `_csrf` alone names Express and Spring equally.
        assert_eq!(
            detect(Some(("sid", "x")), &[], &hints(&[], &["_csrf"])),
            None
        );
        // `__session` is not a Rails name (nothing between the underscores).
        assert_eq!(detect(Some(("__session", "x")), &[], &none), None);
    }

    /// docs/inspect.md carries the fix table generated from [`FIXES`];
    /// `TESSERA_UPDATE_DOCS=1` rewrites it after a change.
    #[test]
    fn the_documented_fix_table_is_this_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/inspect.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let (start, end) = ("<!-- fix-table:start -->\n", "<!-- fix-table:end -->");
        let from = doc.find(start).unwrap() + start.len();
        let to = doc.find(end).unwrap();
        let table = fix_table_markdown();
        if std::env::var_os("TESSERA_UPDATE_DOCS").is_some() {
            let updated = format!("{}{table}{}", &doc[..from], &doc[to..]);
            std::fs::write(path, updated).unwrap();
        } else {
            assert_eq!(
                &doc[from..to],
                table,
                "run with TESSERA_UPDATE_DOCS=1 to update docs/inspect.md"
            );
        }
    }

    #[test]
    fn a_fix_is_the_stacks_own_or_else_the_generic_one() {
        let f = fix(CheckId::FixationRotation, Some(Stack::Php));
        assert_eq!(f.stack, Some(Stack::Php));
        assert!(
            f.advice.contains("session_regenerate_id(true)"),
            "{}",
            f.advice
        );
        let f = fix(CheckId::IdEntropy, Some(Stack::Php));
        assert_eq!(f.stack, None);
        assert!(!f.advice.is_empty() && f.docs.starts_with("https://"));
        for id in CheckId::ALL {
            assert!(fix(id, None).docs.starts_with("https://"), "{id}");
        }
        // One entry per (check, stack) pair, each with a link.
        for (i, (c, s, advice, docs)) in FIXES.iter().enumerate() {
            assert!(
                !advice.is_empty() && docs.starts_with("https://"),
                "{c} {s:?}"
            );
            assert!(
                FIXES
                    .iter()
                    .skip(i + 1)
                    .all(|(c2, s2, _, _)| (c2, s2) != (c, s)),
                "{c} {s:?} twice"
            );
        }
    }
}
