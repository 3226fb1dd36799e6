//! The layer and extractor through a real axum router over a real (memory) store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::routing::{get, post};
use axum::Router;
use http::header::{CACHE_CONTROL, COOKIE};
use http::{Request, StatusCode};
use support::*;
use tessera_core::{Engine, MemoryStore};
use tessera_tower::{CookieConfig, OnStoreError, Session, SessionLayer};
use tower::ServiceExt;

#[tokio::test]
async fn login_sets_one_hardened_cookie_and_no_store() {
    let app = app(Arc::default());
    let resp = send(&app, "POST", "/login", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cookies = set_cookies(&resp);
    assert_eq!(cookies.len(), 1);
    let c = &cookies[0];
    assert!(c.starts_with("__Host-session="));
    let value = c
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("__Host-session=");
    assert_eq!(value.len(), 43);
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(c.split("; ").any(|a| a == attr), "{attr} missing: {c}");
    }
    assert!(!c.contains("Domain=") && !c.contains("Max-Age"), "{c}");
    assert_eq!(resp.headers().get(CACHE_CONTROL).unwrap(), "no-store");
    let me = send(&app, "GET", "/me", Some(&cookie_pair(&resp))).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        me.headers().get(CACHE_CONTROL).unwrap(),
        "no-store",
        "authenticated responses are not cacheable"
    );
    assert_eq!(body(me).await, "alice");
}

#[tokio::test]
async fn pre_login_cookie_dies_at_login() {
    let app = app(Arc::default());
    // Storing data starts an anonymous session.
    let anon = send(&app, "POST", "/mark/1", None).await;
    let pre = cookie_pair(&anon);
    let resp = send(&app, "POST", "/login", Some(&pre)).await;
    let post = cookie_pair(&resp);
    assert_ne!(pre, post);
    assert_eq!(
        send(&app, "GET", "/me", Some(&pre)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app, "GET", "/me", Some(&post)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_kills_the_session_server_side_and_clears_the_cookie() {
    let app = app_with(Arc::default(), |l| l.clear_site_data_on_logout(true));
    let cookie = cookie_pair(&send(&app, "POST", "/login", None).await);
    let out = send(&app, "POST", "/logout", Some(&cookie)).await;
    let cleared = set_cookies(&out);
    assert_eq!(cleared.len(), 1);
    assert!(
        cleared[0].starts_with("__Host-session=;") && cleared[0].contains("Max-Age=0"),
        "{cleared:?}"
    );
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(
            cleared[0].split("; ").any(|a| a == attr),
            "removal cookie lacks {attr}"
        );
    }
    assert_eq!(
        out.headers().get("clear-site-data").unwrap(),
        "\"cache\", \"cookies\""
    );
    assert_eq!(out.headers().get(CACHE_CONTROL).unwrap(), "no-store");
    // Replaying the old cookie: the server-side session is gone.
    let replay = send(&app, "GET", "/me", Some(&cookie)).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    // A dead cookie is not cleared by other requests: that could race a login in flight and
    // delete the new cookie. Logout clears it; malformed and duplicated cookies are cleared.
    assert!(
        set_cookies(&replay).is_empty(),
        "{:?}",
        set_cookies(&replay)
    );
}

#[tokio::test]
async fn token_in_query_string_is_ignored() {
    let app = app(Arc::default());
    let cookie = cookie_pair(&send(&app, "POST", "/login", None).await);
    let token = cookie.trim_start_matches("__Host-session=");
    for uri in [
        format!("/me?__Host-session={token}"),
        format!("/me?session={token}"),
        format!("/me;__Host-session={token}"),
    ] {
        let resp = send(&app, "GET", &uri, None).await;
        assert_ne!(resp.status(), StatusCode::OK, "{uri}");
        assert!(!body(resp).await.contains("alice"), "{uri}");
    }
}

#[tokio::test]
async fn hostile_cookies_get_a_clean_unauthenticated_answer() {
    let app = app(Arc::default());
    let cookie = cookie_pair(&send(&app, "POST", "/login", None).await);
    let huge = format!("__Host-session={}", "A".repeat(6000));
    let cases = [
        "__Host-session=".to_owned(),
        "__Host-session=short".to_owned(),
        "__Host-session=../../etc/passwd%00".to_owned(),
        format!("{cookie}x"),
        huge,
        format!("{cookie}; {cookie}"), // duplicate, same value
        format!("{cookie}; __Host-session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), // tossing
        "=; ;;; =__Host-session".to_owned(),
    ];
    for c in &cases {
        let resp = send(&app, "GET", "/me", Some(c)).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "cookie {c:.60}");
        assert_eq!(body(resp).await, "not signed in\n");
    }
    // Duplicates are rejected even when one of them is the valid session, and the real
    // cookie is not cleared (that would promote a tossed one; see tests/attacks.rs).
    let dup = send(&app, "GET", "/me", Some(&format!("{cookie}; {cookie}"))).await;
    assert!(set_cookies(&dup).is_empty(), "{:?}", set_cookies(&dup));
    // Two Cookie headers count as duplicates too.
    let req = Request::builder()
        .uri("/me")
        .header("host", "app.test")
        .header(COOKIE, &cookie)
        .header(COOKIE, &cookie);
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // Binary junk in a Cookie header.
    let req = Request::builder()
        .uri("/me")
        .header("host", "app.test")
        .header(COOKIE, &b"__Host-session=\xff\xfe"[..]);
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn handlers_without_the_extractor_cause_no_store_access() {
    let store = Arc::new(Observed::default());
    let app = app(Arc::clone(&store));
    let cookie = cookie_pair(&send(&app, "POST", "/login", None).await);
    let before = store.ops();
    for _ in 0..10 {
        let resp = send(&app, "GET", "/static", Some(&cookie)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(set_cookies(&resp).is_empty());
    }
    assert_eq!(store.ops(), before, "the store was touched");
    send(&app, "GET", "/me", Some(&cookie)).await;
    assert_eq!(store.ops(), before + 1, "one resolve = one load");
}

#[tokio::test]
async fn store_outage_is_unauthenticated_by_default_and_503_when_chosen() {
    let store = Arc::new(Observed::default());
    let app = app(Arc::clone(&store));
    let cookie = cookie_pair(&send(&app, "POST", "/login", None).await);
    store.set_down(true);
    let resp = send(&app, "GET", "/me", Some(&cookie)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        set_cookies(&resp).is_empty(),
        "an outage must not clear the user's cookie"
    );
    let login = send(&app, "POST", "/login", None).await;
    assert_eq!(login.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body(login).await,
        "session store unavailable\n",
        "no internals in the body"
    );

    let strict = app_with(Arc::clone(&store), |l| {
        l.on_store_error(OnStoreError::ServiceUnavailable)
    });
    assert_eq!(
        send(&strict, "GET", "/me", Some(&cookie)).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    store.set_down(false);
    assert_eq!(
        send(&app, "GET", "/me", Some(&cookie)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn cross_site_unsafe_requests_are_refused() {
    let app = app(Arc::default());
    let post = |h: &'static [(&'static str, &'static str)]| {
        let app = app.clone();
        async move {
            let mut req = Request::builder()
                .method("POST")
                .uri("/login")
                .header("host", "app.test");
            for (k, v) in h {
                req = req.header(*k, *v);
            }
            app.oneshot(req.body(Body::empty()).unwrap())
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        post(&[("sec-fetch-site", "cross-site")]).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&[("origin", "https://evil.test")]).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", "https://app.test")
        ])
        .await,
        StatusCode::OK
    );
    assert_eq!(post(&[]).await, StatusCode::OK, "non-browser clients pass");
}

#[tokio::test]
async fn synchronizer_token_round_trip() {
    let app = app(Arc::default());
    let resp = send(&app, "GET", "/csrf", None).await;
    let cookie = cookie_pair(&resp);
    let token = body(resp).await;
    let check = |b: String| {
        let req = Request::builder()
            .method("POST")
            .uri("/csrf")
            .header("host", "app.test")
            .header(COOKIE, &cookie);
        app.clone().oneshot(req.body(Body::from(b)).unwrap())
    };
    assert_eq!(check(token.clone()).await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        check("forged".into()).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        check(String::new()).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn elevate_rotates_the_cookie() {
    let app = app(Arc::default());
    let cookie = cookie_pair(&send(&app, "POST", "/login", None).await);
    let resp = send(&app, "POST", "/elevate", Some(&cookie)).await;
    let rotated = cookie_pair(&resp);
    assert_ne!(cookie, rotated);
    assert_eq!(body(resp).await, "2");
    assert_eq!(
        send(&app, "POST", "/elevate", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn plain_http_cookie_is_refused_off_loopback() {
    let cookie = CookieConfig::builder()
        .name("dev-session")
        .dangerously_allow_plain_http_on_loopback()
        .build()
        .unwrap();
    let app = app_with(Arc::default(), |l| l.with_cookie(cookie));
    let resp = send(&app, "POST", "/login", None).await; // Host: app.test
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(set_cookies(&resp).is_empty());
    let login_from = |peer: Option<&str>| {
        let mut req = Request::builder()
            .method("POST")
            .uri("/login")
            .header("host", "127.0.0.1:8080")
            .body(Body::empty())
            .unwrap();
        if let Some(peer) = peer {
            req.extensions_mut().insert(axum::extract::ConnectInfo(
                peer.parse::<std::net::SocketAddr>().unwrap(),
            ));
        }
        app.clone().oneshot(req)
    };
    // Host alone is never trusted: a same-host proxy may rewrite it for a remote user.
    for peer in [None, Some("203.0.113.9:5555")] {
        let resp = login_from(peer).await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "peer {peer:?}");
        assert!(set_cookies(&resp).is_empty());
    }
    let resp = login_from(Some("127.0.0.1:5555")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let c = &set_cookies(&resp)[0];
    assert!(
        c.starts_with("dev-session=") && !c.contains("Secure"),
        "{c}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_do_not_lose_data_writes() {
    let app = app(Arc::default());
    let cookie = cookie_pair(&send(&app, "POST", "/login", None).await);
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let (app, cookie) = (app.clone(), cookie.clone());
            tokio::spawn(async move {
                send(&app, "POST", &format!("/mark/{i}"), Some(&cookie))
                    .await
                    .status()
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    // 32 requests each wrote their own key from a snapshot taken before the others wrote; with
    // whole-record last-writer-wins most keys would be lost. All 32 must be there.
    let resp = send(&app, "GET", "/marks", Some(&cookie)).await;
    assert_eq!(body(resp).await, "32");
}

type Captured = tessera_core::conformance::LogCapture;

#[tokio::test]
async fn no_token_in_logs_or_debug_output_of_the_layer() {
    let (captured, _guard) = Captured::install();
    let store = Arc::new(Observed::default());
    let app = app(Arc::clone(&store));
    let mut tokens = Vec::new();
    let c1 = cookie_pair(&send(&app, "POST", "/login", None).await);
    let c2 = cookie_pair(&send(&app, "POST", "/elevate", Some(&c1)).await);
    send(&app, "GET", "/me", Some(&format!("{c2}; {c2}"))).await;
    send(&app, "POST", "/logout", Some(&c2)).await;
    send(&app, "GET", "/me", Some(&c2)).await;
    store.set_down(true);
    send(&app, "GET", "/me", Some(&c1)).await;
    send(&app, "POST", "/login", Some(&c1)).await;
    tokens.push(c1);
    tokens.push(c2);
    let logs = captured.contents();
    assert!(
        logs.contains("cookie_tossing_suspected") && logs.contains("store"),
        "capture missed events: {logs}"
    );
    for t in &tokens {
        let value = t.trim_start_matches("__Host-session=");
        assert!(!logs.contains(&value[..20]), "a token reached the logs");
    }
}

#[tokio::test]
async fn remember_me_is_the_only_way_to_a_persistent_cookie() {
    let app = app(Arc::default());
    let plain = set_cookies(&send(&app, "POST", "/login", None).await);
    assert!(
        !plain[0].contains("Max-Age") && !plain[0].contains("Expires"),
        "{plain:?}"
    );
    let remembered = set_cookies(&send(&app, "POST", "/login-remembered", None).await);
    // Persistent for the absolute lifetime (8 h by default), never longer.
    assert!(remembered[0].contains("Max-Age=28800"), "{remembered:?}");
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(
            remembered[0].split("; ").any(|a| a == attr),
            "{attr} missing"
        );
    }
}

#[tokio::test]
async fn logout_during_a_store_outage_signs_out_here_and_ends_the_session_when_the_store_returns() {
    let store = Arc::new(Observed::default());
    let app = app_with(Arc::clone(&store), |l| l.clear_site_data_on_logout(true));
    let cookie = cookie_pair(&send(&app, "POST", "/login", None).await);
    let id = tessera_core::Token::parse(cookie.trim_start_matches("__Host-session="))
        .unwrap()
        .session_id();
    store.set_down(true);
    let out = send(&app, "POST", "/logout", Some(&cookie)).await;
    assert_eq!(out.status(), StatusCode::OK, "sign-out never fails open");
    let cleared = set_cookies(&out);
    assert!(
        cleared.len() == 1 && cleared[0].starts_with("__Host-session=;"),
        "the browser's cookie is cleared whatever the store does: {cleared:?}"
    );
    assert_eq!(
        out.headers().get("clear-site-data").unwrap(),
        "\"cache\", \"cookies\""
    );
    assert_eq!(
        body(out).await,
        "signed out here; server-side end pending",
        "the user is told plainly"
    );
    // A write that would start a fresh anonymous session is refused during the outage.
    let csrf = send(&app, "POST", "/mark/1", Some(&cookie)).await;
    assert_eq!(csrf.status(), StatusCode::SERVICE_UNAVAILABLE);
    store.set_down(false);
    // This process refuses the session at once, even before the retry lands.
    assert_eq!(
        send(&app, "GET", "/me", Some(&cookie)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // The queued end lands on the server (retried with backoff from 100 ms).
    let mut gone = false;
    for _ in 0..100 {
        if tessera_core::Store::load(&store.inner, &id)
            .await
            .unwrap()
            .is_none()
        {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "the server-side end never landed");
}

#[tokio::test]
async fn a_non_ascii_cookie_elsewhere_does_not_sign_the_user_out() {
    let app = app(Arc::default());
    let cookie = cookie_pair(&send(&app, "POST", "/login", None).await);
    let header = format!("pref=caf\u{e9}; {cookie}");
    let req = Request::builder()
        .uri("/me")
        .header("host", "app.test")
        .header(
            COOKIE,
            http::HeaderValue::from_bytes(header.as_bytes()).unwrap(),
        );
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(set_cookies(&resp).is_empty());
}

#[tokio::test]
async fn set_cookie_is_sensitive_so_debug_never_prints_the_token() {
    let app = app(Arc::default());
    let resp = send(&app, "POST", "/login", None).await;
    let value = cookie_pair(&resp);
    let token = value.trim_start_matches("__Host-session=").to_owned();
    let debug = format!("{:?}", resp.headers());
    assert!(!debug.contains(&token), "{debug}");
}

#[tokio::test]
async fn signed_in_responses_are_no_store_even_if_the_handler_says_otherwise() {
    async fn cached(session: Session) -> impl axum::response::IntoResponse {
        (
            [(CACHE_CONTROL, "public, max-age=3600")],
            session.subject().unwrap_or_default(),
        )
    }
    let layer = SessionLayer::new(Engine::new(MemoryStore::new()));
    let app = Router::new()
        .route("/login", post(login))
        .route("/cached", get(cached))
        .layer(layer);
    let cookie = cookie_pair(&send(&app, "POST", "/login", None).await);
    let resp = send(&app, "GET", "/cached", Some(&cookie)).await;
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    let anonymous = send(&app, "GET", "/cached", None).await;
    assert_eq!(anonymous.headers()[CACHE_CONTROL], "public, max-age=3600");
}

#[tokio::test]
async fn a_device_binding_offer_names_the_apps_authorization_and_the_proof_must_carry_it() {
    use tessera_core::conformance::DeviceClient;
    let app = app_with(Arc::default(), |l| {
        l.with_device_binding(tessera_tower::DeviceBindingConfig::new())
    });
    let resp = send(&app, "POST", "/login-authorized", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let offer = resp.headers()["secure-session-registration"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(offer.ends_with(";authorization=\"sso code 9\""), "{offer}");
    let challenge = offer
        .split(';')
        .find_map(|p| p.strip_prefix("challenge=\""))
        .unwrap()
        .trim_end_matches('"');
    let cookie = cookie_pair(&resp);
    let device = DeviceClient::es256().unwrap();
    let register = |proof: String| {
        let cookie = cookie.clone();
        let app = app.clone();
        async move {
            send_raw(
                &app,
                "POST",
                "/.tessera/dbsc/registration",
                &[
                    ("cookie", cookie.as_bytes()),
                    ("secure-session-response", proof.as_bytes()),
                ],
            )
            .await
        }
    };
    // Without the value, or with another: nothing bound, no cookie.
    for claim in [None, Some("sso code 8")] {
        let refused = register(device.registration_proof_with(challenge, claim)).await;
        assert!(refused.status().is_client_error(), "{}", refused.status());
        assert!(set_cookies(&refused).is_empty());
    }
    let bound = register(device.registration_proof_with(challenge, Some("sso code 9"))).await;
    assert_eq!(bound.status(), StatusCode::OK);
    let set = set_cookies(&bound);
    assert!(set.len() == 1 && set[0].contains("Max-Age="), "{set:?}");
    // A plain sign-in's offer names none.
    let plain = send(&app, "POST", "/login", None).await;
    let offer = plain.headers()["secure-session-registration"]
        .to_str()
        .unwrap();
    assert!(!offer.contains("authorization"), "{offer}");
}
