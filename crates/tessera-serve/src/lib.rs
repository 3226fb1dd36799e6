//! Tessera's session service: the engine over HTTP for back ends in any language.
//!
//! [`Service`] holds an engine on any [`Store`], the API key registry on the same store, the
//! cookie configuration and the metrics; [`Service::router`] is the axum router `tessera serve`
//! runs: the JSON API under `/v1` (see docs/api.md and `/v1/openapi.json`), forward-auth for
//! reverse proxies, the admin console at `/console`, `/metrics`, `/healthz` and `/readyz`.
//!
//! ```
//! use tessera_core::MemoryStore;
//! use tessera_serve::{Config, Overrides, Service};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let config = Config::load(None, Overrides::default())?;
//! let service = Service::new(MemoryStore::new(), &config)?;
//! if let Some(first) = service.keys().bootstrap().await? {
//!     // First start of this store: print first.secret once.
//!     assert!(first.secret.starts_with("tessera_key_"));
//! }
//! let app: axum::Router = service.router();
//! # let _ = app;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod api;
pub mod api_keys;
pub mod config;
pub mod console;
pub mod device;
pub mod forward_auth;
pub mod metrics;
pub mod problem;
pub mod routes;
pub mod tls;

use std::sync::Arc;

use serde_json::Value;
use tessera_core::{Clock, Engine, PolicyError, Store, SystemClock};
use tessera_tower::CookieConfig;

pub use api_keys::{ApiKey, ApiKeys, Caller, NewKey, Scope};
pub use config::{Config, ConfigError, Overrides};
pub use metrics::Metrics;
pub use problem::Problem;

/// The store as the service uses it: shared, and timed into the metrics.
pub type ServiceStore<S> = Arc<metrics::TimedStore<S>>;

/// Everything a request handler needs: one `Arc`, so a request's clone is one increment.
pub(crate) struct App<S>(Arc<AppInner<S>>);

impl<S> std::ops::Deref for App<S> {
    type Target = AppInner<S>;
    fn deref(&self) -> &AppInner<S> {
        &self.0
    }
}

impl<S> Clone for App<S> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

pub(crate) struct AppInner<S> {
    engine: Engine<ServiceStore<S>>,
    keys: ApiKeys<ServiceStore<S>>,
    cookie: Arc<CookieConfig>,
    metrics: Arc<Metrics>,
    openapi: Arc<Value>,
    max_body_bytes: usize,
    console: Engine<ServiceStore<S>>,
}

/// The session service over one store.
pub struct Service<S> {
    app: App<S>,
}

impl<S> std::fmt::Debug for Service<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").finish_non_exhaustive()
    }
}

impl<S: Store> Service<S> {
    /// A service on `store` with `config`'s policy, cookie, key lifetime and limits.
    pub fn new(store: S, config: &Config) -> Result<Self, PolicyError> {
        Self::with_clock(store, config, Arc::new(SystemClock))
    }

    /// [`Service::new`] with the sessions' deadlines read from `clock` (tests move a
    /// [`tessera_core::ManualClock`] instead of waiting). API keys and the console keep the
    /// system clock.
    pub fn with_clock(
        store: S,
        config: &Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, PolicyError> {
        let metrics = Arc::new(Metrics::default());
        let store = Arc::new(metrics::TimedStore::new(store, Arc::clone(&metrics)));
        let engine = Engine::builder(Arc::clone(&store))
            .policy(config.policy.clone())
            .clock(clock)
            .events(Arc::new(metrics::MetricsSink::new(Arc::clone(&metrics))))
            .build();
        let keys = ApiKeys::new(Arc::clone(&store), config.key_lifetime)?;
        let console = console::engine(store, config.console_idle)?;
        Ok(Self {
            app: App(Arc::new(AppInner {
                engine,
                keys,
                cookie: Arc::new(config.cookie.clone()),
                metrics,
                openapi: Arc::new(routes::openapi_document()),
                max_body_bytes: config.max_body_bytes,
                console,
            })),
        })
    }

    /// The engine (for background work such as the expired-session purge).
    pub fn engine(&self) -> &Engine<ServiceStore<S>> {
        &self.app.engine
    }

    /// The API key registry.
    pub fn keys(&self) -> &ApiKeys<ServiceStore<S>> {
        &self.app.keys
    }

    /// The counters `/metrics` shows.
    pub fn metrics(&self) -> &Metrics {
        &self.app.metrics
    }

    /// The HTTP router.
    pub fn router(&self) -> axum::Router {
        routes::router(self.app.clone())
    }
}
