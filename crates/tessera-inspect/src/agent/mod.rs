//! A browser-like HTTP user: a cookie jar, forms with their hidden inputs, same-origin redirects,
//! and a record of every URL and `Set-Cookie` it saw, for the checks to examine.
//!
//! Safety of the tool itself: only the target's origin is ever contacted (a redirect elsewhere is
//! recorded, not followed), every request has a timeout, and a shared limiter bounds both the
//! request rate and the total number of requests.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use tessera_core::device::wire;
use url::Url;

use crate::page::{hidden_inputs, links_in};

mod seen;
pub use seen::{
    Seen, SeenCookie, StackHints, MAX_SEEN_COOKIES, MAX_SEEN_URL_BYTES, MAX_STACK_HINTS,
};

use crate::target::{AuthCheck, Body, CsrfFrom, CsrfSend, FormStep, Method};

/// How a POST's fields are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-www-form-urlencoded`.
    Form,
    /// A JSON object of the fields, as `application/json`.
    Json,
    /// The same JSON object labelled `text/plain`: what a page on another site can post
    /// without a CORS preflight (a form with `enctype="text/plain"`, or `fetch` in no-cors
    /// mode), for the login-CSRF check.
    JsonAsPlainText,
}

impl From<Body> for Encoding {
    fn from(b: Body) -> Self {
        match b {
            Body::Form => Self::Form,
            Body::Json => Self::Json,
        }
    }
}

/// Largest response body read; the rest is ignored.
const MAX_BODY: usize = 2 * 1024 * 1024;
/// Most cookies one user's jar holds (Chromium keeps 180 per domain).
pub const MAX_JAR_COOKIES: usize = 180;
/// Largest cookie (name and value) a jar keeps, as browsers do.
const MAX_COOKIE_BYTES: usize = 4096;
/// Most redirects followed for one request.
const MAX_REDIRECTS: usize = 8;

/// Why a request could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// Connection refused, timeout, TLS failure...
    #[error("{url}: {reason}")]
    Unreachable {
        /// What was requested.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The request budget (`--max-requests`) is spent.
    #[error("request budget of {0} requests spent; raise it or run fewer checks")]
    Budget(usize),
    /// A path could not be joined to the base URL.
    #[error("invalid path {0:?}")]
    Path(String),
    /// A step's anti-CSRF token could not be found where the target file says it is.
    #[error("CSRF token: {0}")]
    Csrf(String),
}

/// Bounds on the inspector's own traffic.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most requests per second.
    pub max_rps: u32,
    /// Most requests in the whole run.
    pub max_requests: usize,
    /// Timeout of one request.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_rps: 50,
            max_requests: 5_000,
            timeout: Duration::from_secs(15),
        }
    }
}

struct Limiter {
    interval: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
    used: AtomicUsize,
    max: usize,
}

impl Limiter {
    async fn acquire(&self) -> Result<(), AgentError> {
        if self.used.fetch_add(1, Ordering::SeqCst) >= self.max {
            return Err(AgentError::Budget(self.max));
        }
        let mut next = self.next.lock().await;
        let now = tokio::time::Instant::now();
        if *next > now {
            tokio::time::sleep_until(*next).await;
        }
        *next = (*next).max(now) + self.interval;
        Ok(())
    }
}

/// The shared half of the inspector's HTTP side: client, origin, limiter, observations.
#[derive(Clone)]
pub struct Agent {
    http: reqwest::Client,
    base: Url,
    limiter: Arc<Limiter>,
    seen: Arc<Mutex<Seen>>,
    recorder: crate::exchange::Shared,
    loopback: bool,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// A response, read. Its `Debug` shows the status and path only: headers, body and query may
/// carry the target's tokens.
#[derive(Clone)]
pub struct Page {
    /// Final status (after same-origin redirects, when followed).
    pub status: u16,
    /// Final URL.
    pub url: Url,
    /// Final headers.
    pub headers: HeaderMap,
    /// Body as text (lossy), at most 2 MiB.
    pub body: String,
    /// `Location` of the last response, when it was a redirect that was not followed.
    pub location: Option<String>,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("status", &self.status)
            .field("path", &self.url.path())
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Page {
    /// The `Cache-Control` header, lower-cased, or "".
    pub fn cache_control(&self) -> String {
        self.headers
            .get_all(reqwest::header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ")
            .to_ascii_lowercase()
    }
}

/// Installs ring as the process's rustls crypto provider, if none is installed yet.
///
/// This crate builds reqwest without a default provider (ring builds with a plain C compiler;
/// aws-lc-rs needs more), and Cargo unifies features: every reqwest client in a program that
/// links this crate then needs a provider installed before it is built. [`Agent::new`] calls
/// this itself; other code building reqwest clients in the same program calls it first.
pub fn ensure_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Agent {
    /// A client for `base`, bounded by `limits`.
    pub fn new(base: Url, tls_insecure: bool, limits: Limits) -> Result<Self, AgentError> {
        ensure_tls_provider();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(limits.timeout)
            .connect_timeout(limits.timeout.min(Duration::from_secs(5)))
            .danger_accept_invalid_certs(tls_insecure)
            .user_agent(concat!("tessera-inspect/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AgentError::Unreachable {
                url: base.to_string(),
                reason: format!("cannot build an HTTP client: {e}"),
            })?;
        let loopback = match base.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        let interval = Duration::from_secs(1) / limits.max_rps.max(1);
        Ok(Self {
            http,
            base,
            limiter: Arc::new(Limiter {
                interval,
                next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
                used: AtomicUsize::new(0),
                max: limits.max_requests,
            }),
            seen: Arc::new(Mutex::new(Seen::default())),
            recorder: crate::exchange::Recorder::new(Vec::new()),
            loopback,
        })
    }

    /// Values redacted as `[password]` wherever the recorded exchanges show them.
    pub fn redact_passwords(&mut self, passwords: Vec<String>) {
        self.recorder = crate::exchange::Recorder::new(passwords);
    }

    /// Runs `f` on the exchanges recorded so far.
    pub fn exchanges<T>(&self, f: impl FnOnce(&crate::exchange::Recorder) -> T) -> Option<T> {
        self.recorder.lock().ok().map(|r| f(&r))
    }

    /// A new user with an empty cookie jar.
    pub fn user(&self) -> User {
        User {
            agent: self.clone(),
            jar: BTreeMap::new(),
            set_order: BTreeMap::new(),
            next_set: 0,
        }
    }

    /// The target origin.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// How many requests were made.
    pub fn requests_made(&self) -> usize {
        self.limiter
            .used
            .load(Ordering::SeqCst)
            .min(self.limiter.max)
    }

    /// A copy of everything observed so far: the distinct URLs (sorted) and the `Set-Cookie`
    /// headers kept.
    pub fn seen(&self) -> (Vec<String>, Vec<SeenCookie>) {
        match self.seen.lock() {
            Ok(s) => (s.urls.iter().cloned().collect(), s.set_cookies.clone()),
            Err(_) => (Vec::new(), Vec::new()),
        }
    }

    /// The latest W3C DBSC registration offer the app sent, if any.
    pub fn dbsc_offer(&self) -> Option<String> {
        self.seen.lock().ok().and_then(|s| s.dbsc_offer.clone())
    }

    /// What the app has shown of its stack so far.
    pub fn hints(&self) -> StackHints {
        self.seen
            .lock()
            .map(|s| s.hints.clone())
            .unwrap_or_default()
    }

    /// URLs and `Set-Cookie` headers not kept because their budgets were spent.
    pub fn dropped(&self) -> (usize, usize) {
        self.seen
            .lock()
            .map(|s| (s.urls_dropped, s.cookies_dropped))
            .unwrap_or((0, 0))
    }

    fn record(&self, f: impl FnOnce(&mut Seen)) {
        if let Ok(mut s) = self.seen.lock() {
            f(&mut s);
        }
    }

    fn same_origin(&self, url: &Url) -> bool {
        url.scheme() == self.base.scheme()
            && url.host_str() == self.base.host_str()
            && url.port_or_known_default() == self.base.port_or_known_default()
    }

    fn join(&self, path: &str) -> Result<Url, AgentError> {
        let url = self
            .base
            .join(path)
            .map_err(|_| AgentError::Path(path.into()))?;
        if self.same_origin(&url) {
            Ok(url)
        } else {
            Err(AgentError::Path(path.into()))
        }
    }
}

/// One browser: a cookie jar over the shared [`Agent`]. Its `Debug` names the cookies, never
/// their values.
#[derive(Clone)]
pub struct User {
    agent: Agent,
    jar: BTreeMap<String, String>,
    /// When each cookie was last set (a counter), so a full jar evicts the oldest.
    set_order: BTreeMap<String, u64>,
    next_set: u64,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("cookies", &self.jar.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl User {
    /// A cookie's value in the jar.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.jar.get(name).map(String::as_str)
    }

    /// Names of the cookies in the jar.
    pub fn cookie_names(&self) -> Vec<String> {
        self.jar.keys().cloned().collect()
    }

    /// Sets a cookie as if the server had (for planting and replay attacks).
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.jar.insert(name.to_owned(), value.to_owned());
    }

    /// Removes a cookie from the jar.
    pub fn remove_cookie(&mut self, name: &str) {
        self.jar.remove(name);
        self.set_order.remove(name);
    }

    /// The agent this user runs on.
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    fn absorb(&mut self, path: &str, headers: &HeaderMap) {
        if let Some(offer) = headers
            .get(wire::REGISTRATION)
            .and_then(|v| v.to_str().ok())
        {
            self.agent.record(|s| s.dbsc_offer(offer));
        }
        for value in headers.get_all(SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            self.agent.record(|s| s.cookie(path, text));
            let Ok(c) = cookie::Cookie::parse(text) else {
                continue;
            };
            // Like a browser: a Secure cookie from plain HTTP is dropped, except on loopback.
            if c.secure() == Some(true)
                && self.agent.base.scheme() == "http"
                && !self.agent.loopback
            {
                continue;
            }
            let expired = c.max_age().is_some_and(|a| a.is_zero() || a.is_negative())
                || c.expires_datetime()
                    .is_some_and(|t| t < cookie::time::OffsetDateTime::now_utc());
            if expired || c.value().is_empty() {
                self.remove_cookie(c.name());
            } else if c.name().len() + c.value().len() <= MAX_COOKIE_BYTES {
                // Like a browser, a bounded jar: a flood of cookies cannot grow every later
                // request's `Cookie` header without end; the least recently set goes first.
                if self.jar.len() >= MAX_JAR_COOKIES && !self.jar.contains_key(c.name()) {
                    if let Some(oldest) = self
                        .set_order
                        .iter()
                        .min_by_key(|(_, n)| **n)
                        .map(|(k, _)| k.clone())
                    {
                        self.remove_cookie(&oldest);
                    }
                }
                self.next_set += 1;
                self.set_order.insert(c.name().to_owned(), self.next_set);
                self.jar.insert(c.name().to_owned(), c.value().to_owned());
            }
        }
    }

    fn cookie_header(&self) -> Option<String> {
        (!self.jar.is_empty()).then(|| {
            self.jar
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// One request; follows same-origin redirects (as GET) when `follow`.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        fields: &[(String, String)],
        follow: bool,
    ) -> Result<Page, AgentError> {
        self.send_with(method, path, fields, follow, &[]).await
    }

    /// [`User::send`] with extra request headers on the first request (a cross-site
    /// `Origin`, say); redirects are followed without them.
    pub async fn send_with(
        &mut self,
        method: Method,
        path: &str,
        fields: &[(String, String)],
        follow: bool,
        headers: &[(&str, &str)],
    ) -> Result<Page, AgentError> {
        self.send_as(method, path, fields, follow, headers, Encoding::Form)
            .await
    }

    /// [`User::send_with`], a POST's fields encoded as `encoding` says.
    pub async fn send_as(
        &mut self,
        method: Method,
        path: &str,
        fields: &[(String, String)],
        follow: bool,
        headers: &[(&str, &str)],
        encoding: Encoding,
    ) -> Result<Page, AgentError> {
        let mut extra = headers;
        let mut url = self.agent.join(path)?;
        let mut method = method;
        let mut fields = fields.to_vec();
        for _ in 0..=MAX_REDIRECTS {
            let page = self.once(method, &url, &fields, extra, encoding).await?;
            extra = &[];
            let target = page.location.as_ref().and_then(|l| url.join(l).ok());
            match target {
                Some(next) if follow && (300..400).contains(&page.status) => {
                    if !self.agent.same_origin(&next) {
                        return Ok(page); // recorded, never followed
                    }
                    url = next;
                    method = Method::Get;
                    fields.clear();
                }
                _ => return Ok(page),
            }
        }
        Err(AgentError::Unreachable {
            url: redacted(&url),
            reason: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }

    async fn once(
        &mut self,
        method: Method,
        url: &Url,
        fields: &[(String, String)],
        headers: &[(&str, &str)],
        encoding: Encoding,
    ) -> Result<Page, AgentError> {
        self.agent.limiter.acquire().await?;
        let mut url = url.clone();
        let mut sent_headers: Vec<(String, String)> = vec![(
            "user-agent".into(),
            concat!("tessera-inspect/", env!("CARGO_PKG_VERSION")).into(),
        )];
        let mut body = None;
        let mut req = match method {
            Method::Get => {
                if !fields.is_empty() {
                    url.query_pairs_mut().extend_pairs(fields.iter());
                }
                self.agent.http.get(url.clone())
            }
            Method::Post => {
                let (form, mime) = match encoding {
                    Encoding::Form => (
                        url::form_urlencoded::Serializer::new(String::new())
                            .extend_pairs(fields.iter())
                            .finish(),
                        "application/x-www-form-urlencoded",
                    ),
                    Encoding::Json | Encoding::JsonAsPlainText => {
                        let object: serde_json::Map<String, serde_json::Value> = fields
                            .iter()
                            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                            .collect();
                        let text = serde_json::Value::Object(object).to_string();
                        if encoding == Encoding::Json {
                            (text, "application/json")
                        } else {
                            (text, "text/plain;charset=UTF-8")
                        }
                    }
                };
                sent_headers.push(("content-type".into(), mime.into()));
                body = Some((mime, form.clone()));
                self.agent
                    .http
                    .post(url.clone())
                    .header(CONTENT_TYPE, mime)
                    .body(form)
            }
        };
        if let Some(cookies) = self.cookie_header() {
            sent_headers.push(("cookie".into(), cookies.clone()));
            req = req.header(COOKIE, cookies);
        }
        for (name, value) in headers {
            sent_headers.push(((*name).to_owned(), (*value).to_owned()));
            req = req.header(*name, *value);
        }
        let started = (crate::exchange::now(), std::time::Instant::now());
        let sent_body = body;
        self.agent.record(|s| s.url(url.to_string()));
        // Errors name the URL without its query: a probe may carry a session token there.
        let shown = redacted(&url);
        let unreachable = |e: reqwest::Error| AgentError::Unreachable {
            url: shown.clone(),
            reason: describe(&e),
        };
        let mut resp = req.send().await.map_err(unreachable)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        self.absorb(url.path(), &headers);
        self.agent.record(|s| {
            for name in ["server", "x-powered-by"] {
                for v in headers.get_all(name).iter().filter_map(|v| v.to_str().ok()) {
                    StackHints::add(&mut s.hints.headers, format!("{name}: {}", v.trim()));
                }
            }
        });
        let location = headers
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        if let Some(l) = &location {
            self.agent.record(|s| s.url(l.clone()));
        }
        let mut body_bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(unreachable)? {
            let room = MAX_BODY.saturating_sub(body_bytes.len());
            body_bytes.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
            if body_bytes.len() >= MAX_BODY {
                break;
            }
        }
        let body = String::from_utf8_lossy(&body_bytes).into_owned();
        if let Ok(mut r) = self.agent.recorder.lock() {
            r.record(
                crate::exchange::Sent {
                    started: started.0,
                    method: match method {
                        Method::Get => "GET",
                        Method::Post => "POST",
                    },
                    url: url.as_str(),
                    headers: sent_headers,
                    body: sent_body,
                },
                crate::exchange::Received {
                    status,
                    headers: &headers,
                    body: &body,
                    millis: u64::try_from(started.1.elapsed().as_millis()).unwrap_or(u64::MAX),
                },
            );
        }
        let is_html = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.contains("html"));
        if is_html {
            let links = links_in(&body);
            self.agent.record(|s| {
                for l in links {
                    s.url(l);
                }
            });
        }
        Ok(Page {
            status,
            url,
            headers,
            body,
            location,
        })
    }

    /// GETs a page, following same-origin redirects.
    pub async fn get(&mut self, path: &str) -> Result<Page, AgentError> {
        self.send(Method::Get, path, &[], true).await
    }

    /// Performs a form step as a browser would: GET its form page (keeping cookies), take the
    /// hidden inputs of the form that submits to `path` (else the first form), add `fields`,
    /// submit, follow same-origin redirects.
    pub async fn submit(
        &mut self,
        step: &FormStep,
        fields: &BTreeMap<String, String>,
    ) -> Result<Page, AgentError> {
        let mut form: Vec<(String, String)> = Vec::new();
        if let Some(page) = &step.form_page {
            let p = self.get(page).await?;
            if step.body == Body::Form {
                let action = self.agent.join(&step.path)?;
                let hidden = hidden_inputs(&p.body, &p.url, &action);
                self.agent.record(|s| {
                    for (k, _) in &hidden {
                        StackHints::add(&mut s.hints.form_fields, k.clone());
                    }
                });
                for (k, v) in hidden {
                    if !fields.contains_key(&k) {
                        form.push((k, v));
                    }
                }
            }
        }
        let mut headers: Vec<(String, String)> = Vec::new();
        if let Some(csrf) = &step.csrf {
            let token = self.csrf_token(&csrf.from).await?;
            // An anti-CSRF token is a secret of the session too: redacted like the cookies.
            if let Ok(mut r) = self.agent.recorder.lock() {
                r.remember(&token);
            }
            match &csrf.send {
                CsrfSend::Header(h) => headers.push((h.clone(), token)),
                CsrfSend::Field(f) => form.push((f.clone(), token)),
            }
        }
        form.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.send_as(
            step.method,
            &step.path,
            &form,
            true,
            &headers,
            step.body.into(),
        )
        .await
    }

    /// Reads an anti-CSRF token from where the target file says it is.
    async fn csrf_token(&mut self, from: &CsrfFrom) -> Result<String, AgentError> {
        let missing = |what: String| AgentError::Csrf(what);
        match from {
            // Sent decoded, as a page's script reads it from document.cookie and decodes it
            // (Angular's and axios' double-submit helpers do).
            CsrfFrom::Cookie(name) => self
                .cookie(name)
                .map(|v| {
                    url::form_urlencoded::parse(format!("v={}", v.replace('+', "%2B")).as_bytes())
                        .next()
                        .map_or_else(|| v.to_owned(), |(_, d)| d.into_owned())
                })
                .ok_or_else(|| missing(format!("no cookie {name:?} to take the CSRF token from"))),
            CsrfFrom::Json { path, field } => {
                let page = self.get(path).await?;
                let value: serde_json::Value = serde_json::from_str(&page.body).map_err(|_| {
                    missing(format!(
                        "{path} (status {}) did not answer JSON",
                        page.status
                    ))
                })?;
                field
                    .split('.')
                    .try_fold(&value, |v, key| v.get(key))
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| missing(format!("{path} has no string at {field:?}")))
            }
        }
    }

    /// True when the authenticated check passes for this user (redirects are not followed: a
    /// redirect to the login page is the usual "signed out" answer).
    pub async fn is_authenticated(&mut self, check: &AuthCheck) -> Result<bool, AgentError> {
        let page = self.send(Method::Get, &check.path, &[], false).await?;
        Ok(authenticated(&page, check))
    }
}

/// Whether `page` is what a signed-in user gets.
pub fn authenticated(page: &Page, check: &AuthCheck) -> bool {
    page.status == check.expect_status
        && check
            .expect_body
            .as_ref()
            .is_none_or(|needle| page.body.contains(needle.as_str()))
}

/// A URL as errors show it: without query or fragment.
fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.query().is_some() {
        shown.set_query(Some("…"));
    }
    shown.set_fragment(None);
    shown.to_string()
}

fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_cookie_value() {
        let token = "SecretTokenValue0123456789abcdefghijklmnopq";
        let agent = Agent::new(
            Url::parse("http://127.0.0.1:1/").unwrap(),
            false,
            Limits::default(),
        )
        .unwrap();
        let mut user = agent.user();
        user.set_cookie("sid", token);
        let login = crate::login::Login {
            user: user.clone(),
            pre_login: Some(token.into()),
            token: token.into(),
        };
        let cookie = SeenCookie {
            path: "/login".into(),
            header: format!("sid={token}; Path=/"),
        };
        let mut seen = Seen::default();
        seen.url(format!("/account?sid={token}"));
        let recorder = crate::exchange::Recorder::new(vec![token.into()]);
        for shown in [
            format!("{user:?}"),
            format!("{login:?}"),
            format!("{cookie:?}"),
            format!("{seen:?}"),
            format!("{:?}", recorder.lock().unwrap()),
        ] {
            assert!(!shown.contains("SecretTokenValue"), "{shown}");
        }
        assert!(format!("{user:?}").contains("sid"));
    }

    #[test]
    fn errors_never_show_the_query() {
        let url = Url::parse("http://h/account?sid=SECRETTOKENVALUE#frag").unwrap();
        let shown = redacted(&url);
        assert!(
            !shown.contains("SECRET") && !shown.contains("frag"),
            "{shown}"
        );
        assert!(shown.starts_with("http://h/account?"));
    }
}
