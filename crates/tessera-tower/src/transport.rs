//! Cookie transport: the one place that reads the session cookie from a request and writes the
//! `Set-Cookie` that sets or removes it. The removal cookie is built by the same function as the
//! setting cookie, so their attributes cannot drift apart (a bug tower-sessions and
//! actix-session each shipped and fixed more than once).

use std::time::Duration;

use cookie::{Cookie, SameSite};
use http::header::{COOKIE, HOST};
use http::{HeaderMap, HeaderValue};
use tessera_core::Token;

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
    secure: bool,
    same_site: SameSite,
    path: String,
    domain: Option<String>,
}

impl Default for CookieConfig {
    fn default() -> Self {
        Self {
            name: DEFAULT_COOKIE_NAME.to_owned(),
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
    #[doc(hidden)]
    pub fn same_site_none_for_tests(mut self) -> Self {
        self.config.same_site = SameSite::None;
        self
    }

    /// Validates and returns the configuration.
    pub fn build(self) -> Result<CookieConfig, CookieConfigError> {
        let c = self.config;
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
        let value = token.map(Token::expose).unwrap_or_default();
        let mut cookie = Cookie::build((self.name.as_str(), value))
            .http_only(true)
            .secure(self.secure)
            .same_site(self.same_site)
            .path(self.path.as_str());
        if let Some(domain) = &self.domain {
            cookie = cookie.domain(domain.as_str());
        }
        match (token, max_age) {
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

/// What the request presented as its session cookie.
#[derive(Debug, Clone)]
pub enum Presented {
    /// No session cookie.
    None,
    /// Exactly one session cookie, a well-formed token.
    Token(Token),
    /// One session cookie that is not a token (garbage, truncated, oversized).
    Malformed,
    /// More than one session cookie: cookie tossing from a sibling domain or path. Rejected.
    Duplicate,
}

/// Reads the session cookie from every `Cookie` header. The URL is never consulted.
pub fn presented(headers: &HeaderMap, name: &str) -> Presented {
    let mut found: Option<Result<Token, ()>> = None;
    for header in headers.get_all(COOKIE) {
        // Other cookies may carry non-ASCII bytes; decode lossily so that only a pair named like
        // ours can spoil the session cookie (a U+FFFD in it fails the token parse).
        let text = String::from_utf8_lossy(header.as_bytes());
        for cookie in Cookie::split_parse(text.as_ref()).flatten() {
            if cookie.name() != name {
                continue;
            }
            if found.is_some() {
                return Presented::Duplicate;
            }
            found = Some(Token::parse(cookie.value()).map_err(|_| ()));
        }
    }
    match found {
        None => Presented::None,
        Some(Ok(token)) => Presented::Token(token),
        Some(Err(())) => Presented::Malformed,
    }
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

    fn header(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_str(v).unwrap());
        h
    }

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
    fn presented_token_is_read_strictly_from_cookies_only() {
        let t = Token::generate().unwrap();
        let ok = header(&format!("a=1; __Host-session={}; b=2", t.expose()));
        assert!(
            matches!(presented(&ok, DEFAULT_COOKIE_NAME), Presented::Token(p) if p.expose() == t.expose())
        );
        assert!(matches!(
            presented(&header("a=1"), DEFAULT_COOKIE_NAME),
            Presented::None
        ));
        assert!(matches!(
            presented(&header("__Host-session=short"), DEFAULT_COOKIE_NAME),
            Presented::Malformed
        ));
        let huge = format!("__Host-session={}", "A".repeat(8000));
        assert!(matches!(
            presented(&header(&huge), DEFAULT_COOKIE_NAME),
            Presented::Malformed
        ));
        let dup = format!("__Host-session={0}; __Host-session={0}", t.expose());
        assert!(matches!(
            presented(&header(&dup), DEFAULT_COOKIE_NAME),
            Presented::Duplicate
        ));
        // Duplicates across two Cookie headers count too.
        let mut two = header(&format!("__Host-session={}", t.expose()));
        two.append(
            COOKIE,
            HeaderValue::from_str(&format!("__Host-session={}", t.expose())).unwrap(),
        );
        assert!(matches!(
            presented(&two, DEFAULT_COOKIE_NAME),
            Presented::Duplicate
        ));
        let mut binary = HeaderMap::new();
        binary.append(
            COOKIE,
            HeaderValue::from_bytes(b"__Host-session=\xff\xfe").unwrap(),
        );
        assert!(matches!(
            presented(&binary, DEFAULT_COOKIE_NAME),
            Presented::Malformed
        ));
        assert!(matches!(presented(&binary, ""), Presented::None));
        // A non-ASCII value in another cookie does not spoil ours (found in review).
        let mut mixed = HeaderMap::new();
        let raw = format!("pref=caf\u{e9}; __Host-session={}", t.expose());
        mixed.append(COOKIE, HeaderValue::from_bytes(raw.as_bytes()).unwrap());
        assert!(
            matches!(presented(&mixed, DEFAULT_COOKIE_NAME), Presented::Token(p) if p.expose() == t.expose())
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
