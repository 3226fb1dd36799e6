//! Cross-site request forgery defences.
//!
//! 1. **The guard** (on by default in [`crate::SessionLayer`]): a request with an unsafe method
//!    (anything but GET, HEAD, OPTIONS, TRACE) is refused with 403 when the browser says it is
//!    cross-site: `Sec-Fetch-Site` other than `same-origin`/`none`, or, from browsers that do not
//!    send Fetch Metadata, an `Origin` that is not this request's own origin (or an allowed one).
//!    Requests carrying neither header come from non-browser clients, which hold no ambient
//!    cookies to abuse, and pass.
//! 2. **The synchronizer token** for forms: [`crate::Session::csrf_token`] puts a per-session
//!    random value in a hidden field, [`crate::Session::verify_csrf`] checks it in constant time.
//!    A visitor without a session (a login page) gets a **signed** token instead, so a page view
//!    costs no store write: a random nonce in the pre-session cookie
//!    ([`crate::CookieConfig::pre_session_name`]) and, in the form, the HMAC-SHA256 of that
//!    nonce under a key the store keeps and can rotate ([`tessera_core::keyring`]). A forger
//!    would need the key, and a login-CSRF attacker would need to plant the victim's
//!    `__Host-` pre-session cookie, which a sibling subdomain cannot.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::header::{HOST, ORIGIN};
use http::{HeaderMap, Method, Uri};
use subtle::ConstantTimeEq;

/// Policy of the Fetch-Metadata/Origin guard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsrfGuard {
    allowed_origins: Vec<String>,
    allow_same_site: bool,
}

/// Why the guard refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CsrfRefusal {
    /// `Sec-Fetch-Site` said the request came from another site (or sibling subdomain).
    FetchSite,
    /// `Origin` named another origin, or was `null`.
    Origin,
}

impl CsrfGuard {
    /// The default guard: same-origin only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also accepts unsafe requests whose `Origin` is exactly `origin` (e.g. a separate front
    /// end, `https://app.example.com`).
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        self.allowed_origins.push(origin.into());
        self
    }

    /// Accepts `Sec-Fetch-Site: same-site` (sibling subdomains). Off by default: a sibling
    /// subdomain can be a different, less trusted application.
    pub fn allow_same_site(mut self) -> Self {
        self.allow_same_site = true;
        self
    }

    /// Checks one request.
    pub fn check(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<(), CsrfRefusal> {
        self.check_with(method, uri, headers, false)
    }

    /// Checks one request; with `https_only`, an `Origin` must also be `https://` to count as
    /// this site's own (the layer asks for it whenever the cookie is `Secure` off loopback: the
    /// real site is then HTTPS, and a plain-HTTP page on the same host is another origin).
    pub fn check_with(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        https_only: bool,
    ) -> Result<(), CsrfRefusal> {
        if matches!(
            *method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        ) {
            return Ok(());
        }
        let origin = headers.get(ORIGIN).and_then(|v| v.to_str().ok());
        if let Some(site) = headers.get("sec-fetch-site") {
            let ok = match site.as_bytes() {
                b"same-origin" | b"none" => true,
                b"same-site" => {
                    self.allow_same_site || origin.is_some_and(|o| self.origin_allowed(o))
                }
                b"cross-site" => origin.is_some_and(|o| self.origin_allowed(o)),
                _ => false,
            };
            return if ok {
                Ok(())
            } else {
                Err(CsrfRefusal::FetchSite)
            };
        }
        let Some(origin) = origin else {
            return match headers.get(ORIGIN) {
                Some(_) => Err(CsrfRefusal::Origin), // present but not text
                None => Ok(()),
            };
        };
        let own = headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()));
        let authority = origin.strip_prefix("https://").or_else(|| {
            if https_only {
                None
            } else {
                origin.strip_prefix("http://")
            }
        });
        match (authority, own) {
            (Some(a), Some(own)) if a.eq_ignore_ascii_case(own) => Ok(()),
            _ if self.origin_allowed(origin) => Ok(()),
            _ => Err(CsrfRefusal::Origin),
        }
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|o| o == origin)
    }
}

/// Data key under which the synchronizer token lives in the session.
pub(crate) const CSRF_KEY: &str = "_tessera_csrf";

/// A fresh synchronizer token: 256 random bits, base64url.
pub(crate) fn new_synchronizer_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// The purpose anonymous CSRF tokens are signed for.
pub(crate) const ANONYMOUS_CSRF_PURPOSE: &str = "tessera/csrf/anonymous/v1";

/// The form value of an anonymous CSRF token: its signature, base64url.
pub(crate) fn encode_signature(tag: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(tag)
}

/// The signature a submitted anonymous token carries, if it is one at all.
pub(crate) fn decode_signature(submitted: &str) -> Option<Vec<u8>> {
    if submitted.len() != 43 {
        return None;
    }
    URL_SAFE_NO_PAD.decode(submitted).ok()
}

/// Compares a submitted token with the session's, in constant time.
pub(crate) fn synchronizer_matches(expected: &str, presented: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn guard_decisions() {
        let g = CsrfGuard::new();
        let post = Method::POST;
        let uri: Uri = "/transfer".parse().unwrap();
        let check = |h: &[(&str, &str)]| g.check(&post, &uri, &headers(h));
        assert_eq!(check(&[]), Ok(()), "non-browser clients pass");
        assert_eq!(check(&[("sec-fetch-site", "same-origin")]), Ok(()));
        assert_eq!(check(&[("sec-fetch-site", "none")]), Ok(()));
        assert_eq!(
            check(&[("sec-fetch-site", "cross-site")]),
            Err(CsrfRefusal::FetchSite)
        );
        assert_eq!(
            check(&[("sec-fetch-site", "same-site")]),
            Err(CsrfRefusal::FetchSite)
        );
        assert_eq!(
            check(&[("sec-fetch-site", "bogus")]),
            Err(CsrfRefusal::FetchSite)
        );
        assert_eq!(
            check(&[("host", "app.test"), ("origin", "https://app.test")]),
            Ok(())
        );
        assert_eq!(
            check(&[
                ("host", "app.test:8080"),
                ("origin", "http://app.test:8080")
            ]),
            Ok(())
        );
        assert_eq!(
            check(&[("host", "app.test"), ("origin", "https://evil.test")]),
            Err(CsrfRefusal::Origin)
        );
        assert_eq!(
            check(&[("host", "app.test"), ("origin", "null")]),
            Err(CsrfRefusal::Origin)
        );
        assert_eq!(
            check(&[
                ("host", "app.test"),
                ("origin", "https://app.test.evil.test")
            ]),
            Err(CsrfRefusal::Origin)
        );
        assert_eq!(
            g.check(
                &Method::GET,
                &uri,
                &headers(&[("sec-fetch-site", "cross-site")])
            ),
            Ok(())
        );
        let allowed = CsrfGuard::new().allow_origin("https://front.test");
        assert_eq!(
            allowed.check(
                &post,
                &uri,
                &headers(&[("host", "api.test"), ("origin", "https://front.test")])
            ),
            Ok(())
        );
        assert_eq!(
            allowed.check(
                &post,
                &uri,
                &headers(&[
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "https://front.test")
                ])
            ),
            Ok(())
        );
        assert_eq!(
            CsrfGuard::new().allow_same_site().check(
                &post,
                &uri,
                &headers(&[("sec-fetch-site", "same-site")])
            ),
            Ok(())
        );
    }

    #[test]
    fn https_only_refuses_a_plain_http_origin_on_the_same_host() {
        let g = CsrfGuard::new();
        let uri: Uri = "/transfer".parse().unwrap();
        let h = headers(&[("host", "app.test"), ("origin", "http://app.test")]);
        assert_eq!(g.check_with(&Method::POST, &uri, &h, false), Ok(()));
        assert_eq!(
            g.check_with(&Method::POST, &uri, &h, true),
            Err(CsrfRefusal::Origin)
        );
        let h = headers(&[("host", "app.test"), ("origin", "https://app.test")]);
        assert_eq!(g.check_with(&Method::POST, &uri, &h, true), Ok(()));
    }

    #[test]
    fn synchronizer_tokens() {
        let a = new_synchronizer_token().unwrap();
        let b = new_synchronizer_token().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(synchronizer_matches(&a, &a));
        assert!(!synchronizer_matches(&a, &b));
        assert!(!synchronizer_matches(&a, ""));
        assert!(!synchronizer_matches("", ""));
    }
}
