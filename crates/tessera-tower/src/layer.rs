//! The tower layer: reads the session cookie (without touching the store), hands the handler a
//! lazily resolved [`crate::Session`], guards unsafe methods against CSRF, and writes whatever
//! cookie the handler's session calls decided on.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, HOST, SET_COOKIE, USER_AGENT};
use http::{HeaderValue, Request, StatusCode};
use tessera_core::{ClientInfo, Engine, EventKind, Session as CoreSession, Store, Token};
use tower::{Layer, Service};

use crate::backend::Backend;
use crate::csrf::CsrfGuard;
use crate::device::DeviceBindingConfig;
use crate::transport::{host_is_loopback, read, CookieConfig, Presented};

/// Headers a reverse proxy adds. A loopback peer that sends one is a proxy on this machine
/// relaying a request from elsewhere: the plain-HTTP opt-in never applies to it. (A same-host
/// proxy that adds none of them cannot be told apart: do not use the opt-in behind one.)
const PROXY_HEADERS: [&str; 11] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-server",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "via",
];

/// What to do when the store cannot answer while resolving a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnStoreError {
    /// The request proceeds as unauthenticated (the app's sign-in path). The default.
    #[default]
    Unauthenticated,
    /// The request is answered 503 before the handler runs.
    ServiceUnavailable,
}

#[derive(Debug, Clone)]
pub(crate) struct LayerConfig {
    pub(crate) cookie: CookieConfig,
    pub(crate) on_store_error: OnStoreError,
    pub(crate) clear_site_data: bool,
    pub(crate) csrf: Option<CsrfGuard>,
    pub(crate) device: Option<DeviceBindingConfig>,
}

/// Adds Tessera sessions to a tower/axum service. See the crate docs for an example.
#[derive(Clone)]
pub struct SessionLayer {
    backend: Arc<dyn Backend>,
    config: Arc<LayerConfig>,
}

impl std::fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLayer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SessionLayer {
    /// A layer over `engine` with the safe defaults: `__Host-session` cookie, CSRF guard on,
    /// store failures treated as unauthenticated.
    pub fn new<S: Store>(engine: Engine<S>) -> Self {
        Self {
            backend: Arc::new(engine),
            config: Arc::new(LayerConfig {
                cookie: CookieConfig::default(),
                on_store_error: OnStoreError::default(),
                clear_site_data: false,
                csrf: Some(CsrfGuard::new()),
                device: None,
            }),
        }
    }

    fn config_mut(&mut self) -> &mut LayerConfig {
        Arc::make_mut(&mut self.config)
    }

    /// Uses a validated cookie configuration.
    pub fn with_cookie(mut self, cookie: CookieConfig) -> Self {
        self.config_mut().cookie = cookie;
        self
    }

    /// Chooses what a store failure means (default: unauthenticated).
    pub fn on_store_error(mut self, on: OnStoreError) -> Self {
        self.config_mut().on_store_error = on;
        self
    }

    /// Sends `Clear-Site-Data: "cache", "cookies"` on logout: the browser drops every cookie of
    /// the origin and its cached pages, including the back/forward cache, so the back button
    /// cannot show a signed-in page after sign-out. Off by default: it clears every cookie of
    /// the origin, which an application must choose knowingly.
    pub fn clear_site_data_on_logout(mut self, on: bool) -> Self {
        self.config_mut().clear_site_data = on;
        self
    }

    /// Replaces the CSRF guard's policy.
    pub fn with_csrf_guard(mut self, guard: CsrfGuard) -> Self {
        self.config_mut().csrf = Some(guard);
        self
    }

    /// Offers device-bound sessions (W3C DBSC) to browsers that support them: each sign-in's
    /// response carries `Secure-Session-Registration`, and the layer answers the registration
    /// and refresh endpoints at `config`'s paths. A bound session's cookie lives for the
    /// policy's device-bound lifetime (default 10 minutes) and only the device's key renews
    /// it; browsers without DBSC keep a plain session cookie. Off by default.
    pub fn with_device_binding(mut self, config: DeviceBindingConfig) -> Self {
        self.config_mut().device = Some(config);
        self
    }

    /// Turns the CSRF guard off. Only for apps that run an equivalent guard of their own.
    pub fn dangerously_disable_csrf_guard(mut self) -> Self {
        self.config_mut().csrf = None;
        self
    }
}

impl<Inner> Layer<Inner> for SessionLayer {
    type Service = SessionService<Inner>;
    fn layer(&self, inner: Inner) -> Self::Service {
        SessionService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`SessionLayer`] wraps around an inner service.
#[derive(Clone, Debug)]
pub struct SessionService<Inner> {
    inner: Inner,
    layer: SessionLayer,
}

/// What the response must do with the cookie.
#[derive(Debug, Default)]
pub(crate) enum CookieAction {
    #[default]
    Keep,
    Set {
        token: Token,
        max_age: Option<Duration>,
    },
    Clear,
}

/// What the response must do with the pre-session cookie (anonymous CSRF nonce).
#[derive(Debug, Default)]
pub(crate) enum PreCookieAction {
    #[default]
    Keep,
    Set(String),
    Clear,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) pre_cookie: PreCookieAction,
    /// A CSRF token was handed out: the page embedding it must not be cached.
    pub(crate) csrf_issued: bool,
    pub(crate) resolved: bool,
    /// The token valid for the rest of this request (presented and live, or just issued).
    pub(crate) token: Option<Token>,
    pub(crate) session: Option<CoreSession>,
    pub(crate) store_failed: bool,
    pub(crate) cookie: CookieAction,
    pub(crate) authenticated: bool,
    pub(crate) logged_out: bool,
    /// A sign-in's `Secure-Session-Registration` offer (device binding on).
    pub(crate) device_offer: Option<HeaderValue>,
}

/// Per-request session state, shared between the layer and the extractor.
pub(crate) struct Shared {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) config: Arc<LayerConfig>,
    pub(crate) presented: Presented,
    /// The pre-session nonce the request carried (well-formed, exactly one).
    pub(crate) pre_nonce: Option<String>,
    /// Removals of cookies a sibling may have tossed under the session cookie's name, sent with
    /// the response to a request that carried that name twice.
    tossed_removals: Vec<HeaderValue>,
    /// Raw client metadata; turned into [`ClientInfo`] only when a session is created.
    user_agent: Option<HeaderValue>,
    ip: Option<std::net::IpAddr>,
    /// False when `Secure` is off and the request is not on loopback: no session handling.
    pub(crate) transport_ok: bool,
    pub(crate) state: Mutex<State>,
}

impl Shared {
    /// The client's metadata as the session list shows it.
    pub(crate) fn client(&self) -> ClientInfo {
        ClientInfo::new(
            self.user_agent.as_ref().and_then(|v| v.to_str().ok()),
            self.ip,
        )
    }
}

impl<Inner, B> Service<Request<B>> for SessionService<Inner>
where
    Inner: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    Inner::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = Inner::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Inner::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let config = Arc::clone(&self.layer.config);
        if let Some(response) = self.device_endpoint(&req, &config) {
            return response;
        }
        if let Some(guard) = &config.csrf {
            let https_only = config.cookie.is_secure() && !host_is_loopback(req.headers());
            if let Err(refusal) =
                guard.check_with(req.method(), req.uri(), req.headers(), https_only)
            {
                tracing::warn!(target: "tessera::csrf", ?refusal, method = %req.method(), "cross-site request refused");
                let response =
                    (StatusCode::FORBIDDEN, "cross-site request refused\n").into_response();
                return Box::pin(async move { Ok(response) });
            }
        }
        let transport_ok = transport_ok(&req, &config);
        if !transport_ok {
            tracing::error!(
                target: "tessera::transport",
                "session cookie without Secure is only allowed on loopback (Host and peer address); sessions disabled for this request"
            );
        }
        let (presented, pre_nonce, tossed_removals) = if transport_ok {
            let reading = read(req.headers(), config.cookie.name());
            if reading.tossing_suspected() {
                let session = match &reading.presented {
                    Presented::Token(t) => Some(t.session_id()),
                    _ => None,
                };
                self.layer.backend.report(
                    EventKind::CookieTossingSuspected {
                        look_alikes: reading.look_alikes,
                        exact: reading.exact,
                    },
                    session.as_ref(),
                );
            }
            let mut removals = if matches!(reading.presented, Presented::Duplicate) {
                let host = req.headers().get(HOST).and_then(|h| h.to_str().ok());
                config.cookie.tossed_cookie_removals(host, req.uri().path())
            } else {
                Vec::new()
            };
            // The pre-session nonce has a token's shape and is read by the same exact-name
            // reader; a duplicate is never trusted, and its tossed copies are expired too.
            let pre_reading = read(req.headers(), config.cookie.pre_session_name());
            let pre = match pre_reading.presented {
                Presented::Token(nonce) => Some(nonce.expose()),
                Presented::Duplicate => {
                    let host = req.headers().get(HOST).and_then(|h| h.to_str().ok());
                    removals.extend(
                        config
                            .cookie
                            .tossed_pre_session_removals(host, req.uri().path()),
                    );
                    None
                }
                Presented::None | Presented::Malformed => None,
            };
            (reading.presented, pre, removals)
        } else {
            (Presented::None, None, Vec::new())
        };
        let shared = Arc::new(Shared {
            backend: Arc::clone(&self.layer.backend),
            config: Arc::clone(&config),
            presented,
            pre_nonce,
            tossed_removals,
            user_agent: req.headers().get(USER_AGENT).cloned(),
            ip: req
                .extensions()
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
            transport_ok,
            state: Mutex::new(State::default()),
        });
        req.extensions_mut().insert(Arc::clone(&shared));
        // Take the clone that was driven to readiness, leave a fresh one in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let mut response = inner.call(req).await?;
            finish(&shared, &config, &mut response);
            Ok(response)
        })
    }
}

/// Without Secure, both the Host and the peer address must be loopback: a same-host proxy may
/// rewrite Host to localhost for a request that crossed a real network, so Host alone is never
/// trusted. Without the peer address (no ConnectInfo) it is refused.
fn transport_ok<B>(req: &Request<B>, config: &LayerConfig) -> bool {
    let peer_is_loopback = req
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .is_some_and(|c| c.0.ip().is_loopback())
        && !PROXY_HEADERS.iter().any(|h| req.headers().contains_key(*h));
    config.cookie.is_secure() || (host_is_loopback(req.headers()) && peer_is_loopback)
}

/// A response the layer gives without calling the inner service.
type Answer<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

impl<Inner> SessionService<Inner> {
    /// The layer's own answer when `req` is a `POST` to a device-binding endpoint.
    fn device_endpoint<B, E>(
        &self,
        req: &Request<B>,
        config: &Arc<LayerConfig>,
    ) -> Option<Answer<E>> {
        let device = config.device.as_ref()?;
        let path = req.uri().path();
        let registration = path == device.registration_path();
        if req.method() != http::Method::POST || !(registration || path == device.refresh_path()) {
            return None;
        }
        let (backend, config) = (Arc::clone(&self.layer.backend), Arc::clone(config));
        if !transport_ok(req, &config) {
            let response = (
                StatusCode::FORBIDDEN,
                "device binding needs a secure transport\n",
            )
                .into_response();
            return Some(Box::pin(async move { Ok(response) }));
        }
        let headers = req.headers().clone();
        let token = match read(&headers, config.cookie.name()).presented {
            Presented::Token(t) => Some(t),
            _ => None,
        };
        Some(Box::pin(async move {
            let Some(device) = config.device.as_ref() else {
                return Ok(StatusCode::NOT_FOUND.into_response());
            };
            Ok(if registration {
                crate::device::register(&*backend, device, &config.cookie, token, &headers).await
            } else {
                crate::device::refresh(&*backend, device, &config.cookie, &headers).await
            })
        }))
    }
}

/// Writes the cookie decisions and the cache headers into the response.
fn finish(shared: &Shared, config: &LayerConfig, response: &mut Response) {
    let (action, pre, authenticated, logged_out, csrf_issued, poisoned, offer) =
        match shared.state.lock() {
            Ok(mut state) => (
                std::mem::take(&mut state.cookie),
                std::mem::take(&mut state.pre_cookie),
                state.authenticated,
                state.logged_out,
                state.csrf_issued,
                false,
                state.device_offer.take(),
            ),
            Err(_) => (
                CookieAction::Clear,
                PreCookieAction::Keep,
                false,
                false,
                false,
                true,
                None,
            ),
        };
    // A malformed session cookie is cleared even when the handler never looked at it. A
    // duplicated one is not: clearing the host-only cookie would leave the tossed one as the
    // only cookie, and the victim would be signed into the attacker's session. The tossed
    // cookies are expired instead (tossed_removals), which cannot touch the real one.
    let action = match (action, &shared.presented) {
        (CookieAction::Keep, Presented::Malformed) => CookieAction::Clear,
        (a, _) => a,
    };
    let mut set = Vec::new();
    match &action {
        CookieAction::Keep => {}
        CookieAction::Set { token, max_age } => {
            set.push(config.cookie.set_cookie(Some(token), *max_age));
        }
        CookieAction::Clear => set.push(config.cookie.set_cookie(None, None)),
    }
    match &pre {
        PreCookieAction::Keep => {}
        PreCookieAction::Set(nonce) => set.push(config.cookie.set_pre_session_cookie(Some(nonce))),
        PreCookieAction::Clear => set.push(config.cookie.set_pre_session_cookie(None)),
    }
    set.extend(shared.tossed_removals.iter().cloned());
    let headers = response.headers_mut();
    let no_store = !set.is_empty() || authenticated || csrf_issued || poisoned;
    if shared.transport_ok {
        for value in set {
            headers.append(SET_COOKIE, value);
        }
    }
    if let Some(offer) = offer.filter(|_| shared.transport_ok) {
        headers.append(tessera_core::device::wire::REGISTRATION, offer);
    }
    if no_store {
        // A signed-in response, or a page that embeds a CSRF token, is never cacheable,
        // whatever the handler set.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if logged_out && config.clear_site_data {
        headers.insert(
            "clear-site-data",
            HeaderValue::from_static("\"cache\", \"cookies\""),
        );
    }
}
