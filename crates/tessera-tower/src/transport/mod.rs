//! Cookie transport: the one place that reads the session cookie from a request and writes the
//! `Set-Cookie` that sets or removes it. The removal cookie is built by the same function as the
//! setting cookie, so their attributes cannot drift apart (a bug tower-sessions and
//! actix-session each shipped and fixed more than once).

use std::time::Duration;

use cookie::{Cookie, SameSite};
use http::header::HOST;
use http::{HeaderMap, HeaderValue};
use tessera_core::Token;

mod reader;

// The reader: the one place that finds the session cookie in a request. `tessera serve`'s
// forward-auth reads proxied requests with it, so they are judged exactly as the layer judges.
pub use reader::{cookie_pairs, presented, read, Presented, Reading};

/// The default cookie name: `__Host-` makes browsers insist on `Secure`, `Path=/` and no
/// `Domain`, so a sibling subdomain cannot set or overwrite it.
pub const DEFAULT_COOKIE_NAME: &str = "__Host-session";

/// Why a cookie configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieConfigError {
    /// The name is empty or has characters a cookie name cannot have.
    #[error("invalid cookie name {0:?}")]
    InvalidName(String),
    /// `__Host-` and `__Secure-` names need `Secure`; `__Host-` also needs `Path=/`, no Domain.
    #[error("cookie name {0:?} breaks its prefix's rules (Secure, and for __Host- Path=/ and no Domain)")]
    PrefixRules(String),
    /// `SameSite=None` sends the cookie on cross-site requests; Tessera refuses it.
    #[error("SameSite=None is refused for a session cookie; use Lax or Strict")]
    SameSiteNone,
    /// The path does not start with `/` or contains `;` or control characters.
    #[error("invalid cookie path {0:?}")]
    InvalidPath(String),
    /// The domain contains characters a domain cannot have.
    #[error("invalid cookie domain {0:?}")]
    InvalidDomain(String),
}

/// How the session cookie is named and scoped. Safe by default; see [`CookieConfig::builder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieConfig {
    name: String,
    /// `name` + `-pre`, kept so the hot path does not format it per request.
    pre_name: String,
    secure: bool,
    same_site: SameSite,
    path: String,
    domain: Option<String>,
}

impl Default for CookieConfig {
    fn default() -> Self {
        Self {
            name: DEFAULT_COOKIE_NAME.to_owned(),
            pre_name: format!("{DEFAULT_COOKIE_NAME}-pre"),
            secure: true,
            same_site: SameSite::Lax,
            path: "/".to_owned(),
            domain: None,
        }
    }
}

/// Builds a [`CookieConfig`], refusing unsafe combinations.
#[derive(Debug, Clone)]
pub struct CookieConfigBuilder {
    config: CookieConfig,
}

impl CookieConfigBuilder {
    /// Sets the cookie name (default `__Host-session`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// `SameSite=Strict` instead of the default `Lax`.
    pub fn same_site_strict(mut self) -> Self {
        self.config.same_site = SameSite::Strict;
        self
    }

    /// Restricts the cookie to a path (not allowed with a `__Host-` name).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.config.path = path.into();
        self
    }

    /// Shares the cookie with subdomains of `domain` (not allowed with a `__Host-` name).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.config.domain = Some(domain.into());
        self
    }

    /// Drops `Secure` so the cookie works over plain HTTP **on loopback only**. The layer
    /// refuses to handle sessions for any request whose `Host` is not a loopback name, so this
    /// cannot leak a token over a real network. Needs a name without a prefix.
    pub fn dangerously_allow_plain_http_on_loopback(mut self) -> Self {
        self.config.secure = false;
        self
    }

    /// Only for tests of the refusal: `SameSite=None`.
    #[cfg(test)]
    fn same_site_none_for_tests(mut self) -> Self {
        self.config.same_site = SameSite::None;
        self
    }

    /// Validates and returns the configuration.
    pub fn build(self) -> Result<CookieConfig, CookieConfigError> {
        let mut c = self.config;
        c.pre_name = format!("{}-pre", c.name);
        let name_ok = !c.name.is_empty()
            && c.name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
        if !name_ok {
            return Err(CookieConfigError::InvalidName(c.name));
        }
        if !c.path.starts_with('/') || c.path.bytes().any(|b| b == b';' || b.is_ascii_control()) {
            return Err(CookieConfigError::InvalidPath(c.path));
        }
        if let Some(d) = &c.domain {
            if d.is_empty()
                || !d
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            {
                return Err(CookieConfigError::InvalidDomain(d.clone()));
            }
        }
        let lower = c.name.to_ascii_lowercase();
        let host_rules = c.secure && c.path == "/" && c.domain.is_none();
        if (lower.starts_with("__host-") && !host_rules)
            || (lower.starts_with("__secure-") && !c.secure)
        {
            return Err(CookieConfigError::PrefixRules(c.name));
        }
        if c.same_site == SameSite::None {
            return Err(CookieConfigError::SameSiteNone);
        }
        Ok(c)
    }
}

impl CookieConfig {
    /// A builder starting from the safe defaults.
    pub fn builder() -> CookieConfigBuilder {
        CookieConfigBuilder {
            config: Self::default(),
        }
    }

    /// The cookie name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the cookie carries `Secure`.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The `Set-Cookie` value that delivers `token`, or, with `None`, removes the cookie.
    /// `max_age` makes a persistent ("remember me") cookie; without it the cookie dies with the
    /// browser session.
    pub fn set_cookie(&self, token: Option<&Token>, max_age: Option<Duration>) -> HeaderValue {
        let value = token.map(Token::expose);
        self.build(&self.name, value.as_deref(), max_age)
    }

    /// The cookie's attributes as a `Set-Cookie` line lists them (no `Max-Age`), for the
    /// credentials of device-bound session instructions.
    pub fn attributes(&self) -> String {
        let mut out = String::new();
        if let Some(domain) = &self.domain {
            out.push_str(&format!("Domain={domain}; "));
        }
        out.push_str(&format!("Path={}", self.path));
        if self.secure {
            out.push_str("; Secure");
        }
        out.push_str("; HttpOnly; SameSite=");
        out.push_str(match self.same_site {
            SameSite::Strict => "Strict",
            SameSite::None => "None",
            SameSite::Lax => "Lax",
        });
        out
    }

    /// The name of the pre-session cookie: the session cookie's name with `-pre` appended (so it
    /// keeps the `__Host-` prefix and its guarantees). It carries a random nonce that binds an
    /// anonymous visitor's signed CSRF token, so a login form costs no store write.
    pub fn pre_session_name(&self) -> &str {
        &self.pre_name
    }

    /// The `Set-Cookie` value that delivers the pre-session `nonce`, or removes it with `None`.
    /// Same attributes as the session cookie, never persistent.
    pub fn set_pre_session_cookie(&self, nonce: Option<&str>) -> HeaderValue {
        self.build(&self.pre_name, nonce, None)
    }

    /// One cookie with this configuration's attributes; `None` removes it.
    fn build(&self, name: &str, value: Option<&str>, max_age: Option<Duration>) -> HeaderValue {
        let mut cookie = Cookie::build((name, value.unwrap_or_default()))
            .http_only(true)
            .secure(self.secure)
            .same_site(self.same_site)
            .path(self.path.as_str());
        if let Some(domain) = &self.domain {
            cookie = cookie.domain(domain.as_str());
        }
        match (value, max_age) {
            (None, _) => {
                cookie = cookie
                    .max_age(cookie::time::Duration::ZERO)
                    .expires(cookie::time::OffsetDateTime::UNIX_EPOCH);
            }
            (Some(_), Some(age)) => {
                let secs = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
                cookie = cookie.max_age(cookie::time::Duration::seconds(secs));
            }
            (Some(_), None) => {}
        }
        // Every part is validated ASCII (name, path, domain) or base64url (value).
        let mut value = HeaderValue::from_str(&cookie.build().to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"));
        // Sensitive: `Debug` of the headers prints "Sensitive", and HTTP/2 never indexes it.
        value.set_sensitive(true);
        value
    }
}

/// Most parent domains and path prefixes [`CookieConfig::tossed_cookie_removals`] targets.
const MAX_TOSS_DOMAINS: usize = 5;
const MAX_TOSS_PATHS: usize = 11;

impl CookieConfig {
    /// `Set-Cookie` values that expire cookies a sibling subdomain may have planted under the
    /// session cookie's exact name (cookie tossing), answering a request that carried the name
    /// twice.
    ///
    /// A sibling can only plant a `Domain` cookie: one per parent domain of `host` (and the host
    /// itself as a domain) and per path prefix of `path` (the tossed cookie was sent with this
    /// request, so its path is one of them). A `Domain` cookie is a different cookie from the
    /// host-only one this configuration sets, so none of these removals can delete the real
    /// cookie and leave the tossed one: the victim is never signed into the attacker's session,
    /// and after this response the real cookie is the only one left. A configuration with its
    /// own `Domain` skips its own domain and path. A `__Host-` name gets none: browsers refuse
    /// a `Domain` on it, so no sibling can toss it (and nothing the server sends could target
    /// such a duplicate without also deleting the real cookie).
    pub fn tossed_cookie_removals(&self, host: Option<&str>, path: &str) -> Vec<HeaderValue> {
        self.tossed_removals_of(&self.name, host, path)
    }

    /// [`CookieConfig::tossed_cookie_removals`] for the pre-session cookie: a sibling that
    /// tosses its own nonce under that name would otherwise block every sign-in (a duplicate
    /// is never trusted) or, alone, hand the victim a nonce the attacker knows.
    pub fn tossed_pre_session_removals(&self, host: Option<&str>, path: &str) -> Vec<HeaderValue> {
        self.tossed_removals_of(&self.pre_name, host, path)
    }

    fn tossed_removals_of(&self, name: &str, host: Option<&str>, path: &str) -> Vec<HeaderValue> {
        if name.to_ascii_lowercase().starts_with("__host-") {
            return Vec::new();
        }
        let Some(host) = host.map(host_without_port) else {
            return Vec::new();
        };
        if host.parse::<std::net::IpAddr>().is_ok()
            || host.starts_with('[')
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            return Vec::new();
        }
        // Shortest first: the registrable domain is where a sibling tosses; the host itself
        // last (a child host can toss for it).
        let labels: Vec<&str> = host.split('.').collect();
        let domains: Vec<String> = (0..labels.len().saturating_sub(1))
            .rev()
            .map(|i| labels.get(i..).unwrap_or_default().join("."))
            .take(MAX_TOSS_DOMAINS)
            .collect();
        // Every prefix of the request path a tossed cookie's `Path` can be: `/`, `/a`, `/a/`,
        // `/a/b`, `/a/b/`, ... (a browser sends `Path=/a/` to `/a/b`).
        let mut paths = vec!["/".to_owned()];
        let mut prefix = String::new();
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            if paths.len() + 2 > MAX_TOSS_PATHS
                || !segment.bytes().all(|b| b.is_ascii_graphic() && b != b';')
            {
                break;
            }
            prefix.push('/');
            prefix.push_str(segment);
            paths.push(prefix.clone());
            paths.push(format!("{prefix}/"));
        }
        let mut out = Vec::new();
        for domain in &domains {
            for p in &paths {
                let own = self
                    .domain
                    .as_deref()
                    .is_some_and(|d| d.trim_start_matches('.').eq_ignore_ascii_case(domain))
                    && *p == self.path;
                if own {
                    continue;
                }
                let cookie = Cookie::build((name, ""))
                    .http_only(true)
                    .secure(self.secure)
                    .same_site(self.same_site)
                    .domain(domain.as_str())
                    .path(p.as_str())
                    .max_age(cookie::time::Duration::ZERO)
                    .expires(cookie::time::OffsetDateTime::UNIX_EPOCH);
                if let Ok(mut v) = HeaderValue::from_str(&cookie.build().to_string()) {
                    v.set_sensitive(true);
                    out.push(v);
                }
            }
        }
        out
    }
}

fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host;
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// True when the request's `Host` names this machine (`localhost`, `127.0.0.0/8`, `[::1]`).
pub fn host_is_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cookie_has_every_safe_attribute() {
        let t = Token::generate().unwrap();
        let v = CookieConfig::default().set_cookie(Some(&t), None);
        assert!(
            v.is_sensitive() && !format!("{v:?}").contains(&t.expose()),
            "Debug shows the token"
        );
        let v = v.to_str().unwrap();
        assert!(v.starts_with(&format!("__Host-session={}", t.expose())));
        for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
            assert!(v.split("; ").any(|a| a == attr), "{attr} missing in {v}");
        }
        assert!(
            !v.contains("Domain") && !v.contains("Max-Age") && !v.contains("Expires"),
            "{v}"
        );
    }

    #[test]
    fn removal_cookie_mirrors_the_setting_cookie() {
        for config in [
            CookieConfig::default(),
            CookieConfig::builder()
                .name("sid")
                .path("/app")
                .domain("example.com")
                .same_site_strict()
                .build()
                .unwrap(),
            CookieConfig::builder()
                .name("dev")
                .dangerously_allow_plain_http_on_loopback()
                .build()
                .unwrap(),
        ] {
            let t = Token::generate().unwrap();
            let set = config
                .set_cookie(Some(&t), None)
                .to_str()
                .unwrap()
                .to_owned();
            let clear = config.set_cookie(None, None).to_str().unwrap().to_owned();
            let attrs = |s: &str| -> Vec<String> {
                s.split("; ")
                    .skip(1)
                    .filter(|a| !a.starts_with("Max-Age") && !a.starts_with("Expires"))
                    .map(str::to_owned)
                    .collect()
            };
            assert_eq!(attrs(&set), attrs(&clear));
            assert!(
                clear.starts_with(&format!("{}=;", config.name())),
                "{clear}"
            );
            assert!(
                clear.contains("Max-Age=0") && clear.contains("Expires=Thu, 01 Jan 1970"),
                "{clear}"
            );
        }
    }

    #[test]
    fn remember_me_sets_max_age() {
        let t = Token::generate().unwrap();
        let v = CookieConfig::default().set_cookie(Some(&t), Some(Duration::from_secs(3600)));
        assert!(v.to_str().unwrap().contains("Max-Age=3600"));
    }

    #[test]
    fn unsafe_configurations_are_refused() {
        let b = CookieConfig::builder;
        assert!(matches!(
            b().path("/app").build(),
            Err(CookieConfigError::PrefixRules(_))
        ));
        assert!(matches!(
            b().domain("example.com").build(),
            Err(CookieConfigError::PrefixRules(_))
        ));
        assert!(matches!(
            b().dangerously_allow_plain_http_on_loopback().build(),
            Err(CookieConfigError::PrefixRules(_))
        ));
        assert!(matches!(
            b().name("__Secure-s")
                .dangerously_allow_plain_http_on_loopback()
                .build(),
            Err(CookieConfigError::PrefixRules(_))
        ));
        assert!(matches!(
            b().same_site_none_for_tests().build(),
            Err(CookieConfigError::SameSiteNone)
        ));
        assert!(matches!(
            b().name("a;b").build(),
            Err(CookieConfigError::InvalidName(_))
        ));
        assert!(matches!(
            b().name("").build(),
            Err(CookieConfigError::InvalidName(_))
        ));
        assert!(matches!(
            b().name("s").path("x").build(),
            Err(CookieConfigError::InvalidPath(_))
        ));
        assert!(matches!(
            b().name("s").domain("a b").build(),
            Err(CookieConfigError::InvalidDomain(_))
        ));
    }

    #[test]
    fn tossed_cookie_removals_never_target_the_host_only_cookie() {
        let sid = CookieConfig::builder().name("sid").build().unwrap();
        let r = sid.tossed_cookie_removals(Some("a.b.example.com:8443"), "/x/y");
        let text: Vec<String> = r.iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        assert!(
            !text.is_empty()
                && text
                    .iter()
                    .all(|c| c.contains("Domain=") && c.contains("Max-Age=0"))
        );
        assert!(text
            .iter()
            .any(|c| c.contains("Domain=example.com") && c.contains("Path=/x/y")));
        assert!(!text
            .iter()
            .any(|c| c.contains("Domain=com;") || c.ends_with("Domain=com")));
        assert!(r.iter().all(HeaderValue::is_sensitive));
        // Nothing for __Host- names, IP hosts, or no Host.
        assert!(CookieConfig::default()
            .tossed_cookie_removals(Some("app.example.com"), "/")
            .is_empty());
        assert!(sid
            .tossed_cookie_removals(Some("10.0.0.1:80"), "/")
            .is_empty());
        assert!(sid.tossed_cookie_removals(None, "/").is_empty());
        // A configuration with its own Domain never removes its own cookie.
        let shared = CookieConfig::builder()
            .name("sid")
            .domain("example.com")
            .build()
            .unwrap();
        let r = shared.tossed_cookie_removals(Some("app.example.com"), "/");
        assert!(!r.is_empty());
        for c in r.iter().map(|v| v.to_str().unwrap()) {
            let attrs: Vec<&str> = c.split("; ").collect();
            assert!(
                !(attrs.contains(&"Domain=example.com") && attrs.contains(&"Path=/")),
                "removes its own cookie: {c}"
            );
        }
        // Bounded, whatever the path.
        let deep = sid.tossed_cookie_removals(Some("a.b.c.d.e.f.example.com"), &"/p".repeat(100));
        assert!(deep.len() <= MAX_TOSS_DOMAINS * MAX_TOSS_PATHS);
        // The second review: the registrable domain is targeted however deep the host, and
        // trailing-slash paths too.
        let text: Vec<&str> = deep.iter().map(|v| v.to_str().unwrap()).collect();
        assert!(
            text.iter()
                .any(|c| c.contains("Domain=example.com;") || c.ends_with("Domain=example.com")),
            "{text:?}"
        );
        let r = sid.tossed_cookie_removals(Some("app.example.com"), "/app/login");
        let text: Vec<&str> = r.iter().map(|v| v.to_str().unwrap()).collect();
        assert!(
            text.iter()
                .any(|c| c.split("; ").any(|a| a == "Path=/app/")),
            "{text:?}"
        );
    }

    #[test]
    fn loopback_hosts() {
        let host = |h: &str| {
            let mut m = HeaderMap::new();
            m.insert(HOST, HeaderValue::from_str(h).unwrap());
            host_is_loopback(&m)
        };
        for yes in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:1",
            "127.9.9.9",
            "[::1]:80",
            "app.localhost",
        ] {
            assert!(host(yes), "{yes}");
        }
        for no in [
            "example.com",
            "10.0.0.1:80",
            "localhost.example.com",
            "[2001:db8::1]:443",
            "127.0.0.1.nip.io",
        ] {
            assert!(!host(no), "{no}");
        }
        assert!(!host_is_loopback(&HeaderMap::new()));
    }
}
