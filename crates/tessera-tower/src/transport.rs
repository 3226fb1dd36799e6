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
        let value = token.map(Token::expose);
        self.build(&self.name, value.as_deref(), max_age)
    }

    /// The name of the pre-session cookie: the session cookie's name with `-pre` appended (so it
    /// keeps the `__Host-` prefix and its guarantees). It carries a random nonce that binds an
    /// anonymous visitor's signed CSRF token, so a login form costs no store write.
    pub fn pre_session_name(&self) -> String {
        format!("{}-pre", self.name)
    }

    /// The `Set-Cookie` value that delivers the pre-session `nonce`, or removes it with `None`.
    /// Same attributes as the session cookie, never persistent.
    pub fn set_pre_session_cookie(&self, nonce: Option<&str>) -> HeaderValue {
        self.build(&self.pre_session_name(), nonce, None)
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
const MAX_TOSS_DOMAINS: usize = 4;
const MAX_TOSS_PATHS: usize = 6;

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
        if self.name.to_ascii_lowercase().starts_with("__host-") {
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
        let labels: Vec<&str> = host.split('.').collect();
        let domains: Vec<String> = (0..labels.len().saturating_sub(1))
            .map(|i| labels.get(i..).unwrap_or_default().join("."))
            .take(MAX_TOSS_DOMAINS)
            .collect();
        let mut paths = vec!["/".to_owned()];
        let mut prefix = String::new();
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            if paths.len() >= MAX_TOSS_PATHS
                || !segment.bytes().all(|b| b.is_ascii_graphic() && b != b';')
            {
                break;
            }
            prefix.push('/');
            prefix.push_str(segment);
            paths.push(prefix.clone());
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
                let cookie = Cookie::build((self.name.as_str(), ""))
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

/// What the request presented as its session cookie.
#[derive(Debug, Clone)]
pub enum Presented {
    /// No session cookie.
    None,
    /// Exactly one session cookie, a well-formed token.
    Token(Token),
    /// One session cookie that is not a token (garbage, truncated, oversized).
    Malformed,
    /// More than one cookie with the session cookie's exact name: cookie tossing from a sibling
    /// domain or path. None is trusted.
    Duplicate,
}

/// The session cookie as the request carried it, and what imitated it.
#[derive(Debug, Clone)]
pub struct Reading {
    /// The cookie with exactly the session cookie's name.
    pub presented: Presented,
    /// Cookies whose name is not the session cookie's but normalises to it (Unicode spaces,
    /// zero-width characters, letter case, `%`-encoding). Never used; counted for the audit.
    pub look_alikes: u32,
    /// Cookies with exactly the session cookie's name (more than one is tossing).
    pub exact: u32,
}

impl Reading {
    /// True when the request carried cookies that imitate or duplicate the session cookie.
    pub fn tossing_suspected(&self) -> bool {
        self.look_alikes > 0 || self.exact > 1
    }
}

/// One `name=value` pair of a `Cookie` header, split as browsers and RFC 6265 §5.2 do: at the
/// first `=`, with only ASCII space and tab trimmed around name and value. A pair without `=`
/// has an empty name (a browser's "nameless" cookie), so it is never a named cookie.
pub fn cookie_pairs(header: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    header.split(|b| *b == b';').map(|pair| {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(eq) => (
                pair.get(..eq).unwrap_or_default(),
                pair.get(eq + 1..).unwrap_or_default(),
            ),
            None => (&[][..], pair),
        };
        (trim_sp_htab(name), trim_sp_htab(value))
    })
}

fn trim_sp_htab(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// The name a lax parser might fold `name` into: `%`-decoded, without Unicode whitespace or
/// zero-width and other invisible characters, ASCII-lowercased. A name whose folding equals the
/// session cookie's folding, but whose bytes differ, is a look-alike.
fn folded(name: &[u8]) -> String {
    let decoded = percent_decoded(name);
    String::from_utf8_lossy(&decoded)
        .chars()
        .filter(|c| !c.is_whitespace() && !is_invisible(*c))
        .collect::<String>()
        .to_ascii_lowercase()
}

/// True when `name` is not `wanted` but a lax parser could take it for it.
fn is_look_alike(name: &[u8], wanted: &[u8]) -> bool {
    if name.is_empty() || name.len() > 4 * wanted.len() + 64 {
        return false;
    }
    // Fast path, every ordinary cookie: printable ASCII without `%` folds only by case.
    if name.iter().all(|b| b.is_ascii_graphic() && *b != b'%') {
        return name.eq_ignore_ascii_case(wanted);
    }
    folded(name) == folded(wanted)
}

/// Characters that render as nothing: zero-width spaces and joiners, word joiner, BOM, soft
/// hyphen, and the other default-ignorable format characters a look-alike name can hide.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
        | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFF8}')
}

fn percent_decoded(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'%'));
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Reads the session cookie from every `Cookie` header, by **exact byte comparison** of the
/// name (after trimming only ASCII space and tab, as browsers do). The URL is never consulted.
///
/// The `cookie` crate trims names with `str::trim`, which also strips Unicode whitespace: with
/// it, `\u{2000}__Host-session` (a cookie any sibling subdomain can set, since browsers do not
/// treat that name as prefixed) was read as `__Host-session`. Here such a name is a look-alike:
/// counted, never used.
pub fn read(headers: &HeaderMap, name: &str) -> Reading {
    let wanted = name.as_bytes();
    let mut reading = Reading {
        presented: Presented::None,
        look_alikes: 0,
        exact: 0,
    };
    for header in headers.get_all(COOKIE) {
        for (n, value) in cookie_pairs(header.as_bytes()) {
            if n == wanted {
                reading.exact = reading.exact.saturating_add(1);
                reading.presented = if reading.exact > 1 {
                    Presented::Duplicate
                } else {
                    match std::str::from_utf8(value).ok().map(Token::parse) {
                        Some(Ok(token)) => Presented::Token(token),
                        _ => Presented::Malformed,
                    }
                };
            } else if is_look_alike(n, wanted) {
                reading.look_alikes = reading.look_alikes.saturating_add(1);
            }
        }
    }
    reading
}

/// The value of the one cookie named exactly `name`, if there is exactly one (for the
/// pre-session cookie; a duplicate is not trusted).
pub fn single_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = None;
    for header in headers.get_all(COOKIE) {
        for (n, value) in cookie_pairs(header.as_bytes()) {
            if n == name.as_bytes() {
                if found.is_some() {
                    return None;
                }
                found = Some(String::from_utf8(value.to_vec()).ok()?);
            }
        }
    }
    found
}

/// Reads the session cookie; see [`read`].
pub fn presented(headers: &HeaderMap, name: &str) -> Presented {
    read(headers, name).presented
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

    /// The look-alike names the hardening review used ("cookie chaos"): the `cookie` crate reads
    /// the Unicode-whitespace ones as the session cookie (its `str::trim`), the reader here never
    /// does, and counts each as a look-alike.
    #[test]
    fn look_alikes_are_never_the_session_cookie_unlike_the_cookie_crate() {
        let t = Token::generate().unwrap();
        let crate_reads_it = |name: &str| {
            Cookie::split_parse(format!("{name}={}", t.expose()))
                .flatten()
                .any(|c| c.name() == DEFAULT_COOKIE_NAME)
        };
        assert!(
            crate_reads_it("\u{2000}__Host-session"),
            "the crate's flaw this guards against"
        );
        assert!(crate_reads_it("\u{00A0}__Host-session"));
        for name in [
            "\u{2000}__Host-session",
            "\u{00A0}__Host-session",
            "\u{FEFF}__Host-session",
            "\u{200B}__Host-session",
            "__Host-session\u{3000}",
            "__Host-\u{200D}session",
            "%5F_Host-session",
            "__Host%2Dsession",
            "__host-session",
            "__HOST-SESSION",
            "\u{0085}__Host-session",
        ] {
            let mut h = HeaderMap::new();
            h.append(
                COOKIE,
                HeaderValue::from_bytes(format!("{name}={}", t.expose()).as_bytes()).unwrap(),
            );
            let r = read(&h, DEFAULT_COOKIE_NAME);
            assert!(
                matches!(r.presented, Presented::None),
                "{name:?} was read as the session cookie"
            );
            assert_eq!((r.look_alikes, r.exact), (1, 0), "{name:?}");
            assert!(r.tossing_suspected());
        }
        // Other names are neither the cookie nor look-alikes.
        let r = read(
            &header("__Host-session2=x; session=y; __Host-sessio=z; a=1"),
            DEFAULT_COOKIE_NAME,
        );
        assert_eq!((r.look_alikes, r.exact), (0, 0));
        assert!(!r.tossing_suspected());
    }

    /// On ordinary headers (ASCII names, no look-alikes) the reader agrees with the `cookie`
    /// crate on every pair it finds.
    #[test]
    fn the_reader_agrees_with_the_cookie_crate_on_ordinary_headers() {
        for text in [
            "a=1; b=2",
            " a = 1 ;\tb=2\t",
            "a=; b",
            "a==1=2; c=\"q\"",
            "__Host-session=abc; x=y",
            ";;a=1;;",
        ] {
            let ours: Vec<(String, String)> = cookie_pairs(text.as_bytes())
                .filter(|(n, _)| !n.is_empty())
                .map(|(n, v)| {
                    (
                        String::from_utf8(n.to_vec()).unwrap(),
                        String::from_utf8(v.to_vec()).unwrap(),
                    )
                })
                .collect();
            let theirs: Vec<(String, String)> = Cookie::split_parse(text)
                .flatten()
                .filter(|c| !c.name().is_empty())
                .map(|c| (c.name().to_owned(), c.value().to_owned()))
                .collect();
            assert_eq!(ours, theirs, "{text:?}");
        }
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
        assert!(deep.len() <= 4 * 6);
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
