//! `tessera serve` for the integration tests: the real service on a real SQLite file in a
//! private directory, over real HTTP on a loopback port, with its first admin key. The
//! sessions' clock is a manual one, so a test moves time instead of waiting.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use reqwest::Client;
use tessera_core::{Clock, ManualClock, SystemClock};
use tessera_serve::config::FileConfig;
use tessera_serve::{Config, Overrides, Service};
use tessera_sqlite::SqliteStore;

/// A running service; its directory goes when it is dropped.
pub struct Harness {
    pub base: String,
    pub admin: String,
    pub service: Service<SqliteStore>,
    /// The sessions' clock (API keys and the console keep the system's).
    pub clock: Arc<ManualClock>,
    dir: PathBuf,
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts a service configured by `toml` (a `tessera serve` config file's text).
pub async fn start(tag: &str, toml: &str) -> Harness {
    let mut suffix = [0u8; 6];
    getrandom::fill(&mut suffix).unwrap();
    let dir = std::env::temp_dir().join(format!(
        "tessera-serve-{tag}-{}-{}",
        std::process::id(),
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file: FileConfig = toml::from_str(toml).unwrap();
    let config = Config::from_parts(file, Overrides::default()).unwrap();
    let store = SqliteStore::open(dir.join("s.db")).unwrap();
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let service = Service::with_clock(store, &config, clock.clone()).unwrap();
    let admin = service.keys().bootstrap().await.unwrap().unwrap().secret;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = service
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Harness {
        base: format!("http://{addr}"),
        admin,
        service,
        clock,
        dir,
    }
}

/// An HTTP client that follows redirects or not. reqwest is built without a TLS provider in
/// this workspace (the inspector installs ring); install it here too, though these tests speak
/// plain HTTP.
pub fn http(follow_redirects: bool) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let policy = if follow_redirects {
        reqwest::redirect::Policy::default()
    } else {
        reqwest::redirect::Policy::none()
    };
    Client::builder().redirect(policy).build().unwrap()
}
