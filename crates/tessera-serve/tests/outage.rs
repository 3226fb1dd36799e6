//! A store that stops answering: the service fails closed everywhere (no session, no key, no
//! identity for the proxy), says so with 503 problems and `/readyz`, and heals by itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tessera_core::conformance::{Faulty, LogCapture};
use tessera_serve::{Config, Overrides, Service};
use tessera_sqlite::SqliteStore;

#[tokio::test]
async fn a_store_outage_fails_closed_and_heals() {
    let (logs, _guard) = LogCapture::install();
    let dir = std::env::temp_dir().join(format!("tessera-serve-outage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(Faulty::new(SqliteStore::open(dir.join("s.db")).unwrap()));
    let config = Config::load(None, Overrides::default()).unwrap();
    let service = Service::new(Arc::clone(&store), &config).unwrap();
    let key = service.keys().bootstrap().await.unwrap().unwrap().secret;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = service
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    let t: Value = post("/v1/login-tickets", json!({"subject": "alice"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issued: Value = post("/v1/sessions", json!({"ticket": t["ticket"]}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = issued["token"].as_str().unwrap().to_owned();
    let cookie = format!("__Host-session={token}");

    store.set_down(true);
    let r = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let r = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the process itself is fine");
    for (path, body) in [
        ("/v1/sessions/resolve", json!({"token": token})),
        ("/v1/login-tickets", json!({"subject": "bob"})),
        ("/v1/sessions/logout", json!({"token": token})),
    ] {
        let r = post(path, body).await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], "store-unavailable", "{path}: {v}");
        assert!(
            !v.to_string().contains("connection refused"),
            "no internals: {v}"
        );
    }
    let r = http
        .get(format!("{base}/v1/forward-auth"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "the proxy gets no identity"
    );
    assert!(r.headers().get("x-tessera-subject").is_none());

    store.set_down(false);
    let r = post("/v1/sessions/resolve", json!({"token": token}))
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "healed, and the failed logout ended nothing"
    );
    let r = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let log = logs.contents();
    assert!(log.contains("store error"), "{log}");
    assert!(!log.contains(&token) && !log.contains(&key[12..]));
    let _ = std::fs::remove_dir_all(&dir);
}
