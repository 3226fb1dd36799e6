//! The attack suite, layer side: each test is an attack the hardening review (issue 6, on main
//! d318b6c) confirmed against the layer, tried again through a real axum router over a real
//! memory store. Each failed on d318b6c, as its comment says; docs/security.md's "Attacks
//! tried" table points here. The look-alike names are the inspector's reproductions too
//! (`LOOK_ALIKES`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

mod support;

use std::sync::Arc;

use http::header::{CACHE_CONTROL, COOKIE};
use http::StatusCode;
use support::*;
use tessera_core::{Engine, EventKind, MemoryStore, RecordingSink};
use tessera_tower::CookieConfig;

/// Names a browser treats as a different cookie but a lax parser folds into `name`: the
/// "cookie chaos" prefix bypass. Leading/trailing ASCII space and tab are not among them:
/// RFC 6265 and browsers trim those too.
fn look_alikes(name: &str) -> Vec<String> {
    let rest = name.get(1..).unwrap_or_default();
    vec![
        format!("\u{2000}{name}"),
        format!("\u{00A0}{name}"),
        format!("\u{FEFF}{name}"),
        format!("\u{200B}{name}"),
        format!("{name}\u{3000}"),
        format!("{name}\u{85}"),
        format!("%{:02X}{rest}", name.as_bytes()[0]),
        name.to_ascii_lowercase(),
        name.to_ascii_uppercase(),
    ]
}

fn engine_with_events() -> (Engine<MemoryStore>, Arc<RecordingSink>) {
    let events = Arc::new(RecordingSink::default());
    let engine = Engine::builder(MemoryStore::new())
        .events(events.clone())
        .build();
    (engine, events)
}

fn tossing_events(events: &RecordingSink) -> usize {
    events
        .events()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::CookieTossingSuspected { .. }))
        .count()
}

async fn subject(app: &axum::Router, cookie_header: &[u8]) -> (StatusCode, String) {
    let resp = send_raw(app, "GET", "/me", &[("cookie", cookie_header)]).await;
    let status = resp.status();
    (status, body(resp).await)
}

/// Item 1 (HIGH). On d318b6c, `Cookie: \u{2000}__Host-session=<bob's token>` signed the
/// request in as bob (the `cookie` crate trims names with `str::trim`), and a sibling subdomain
/// can set that name, since browsers do not treat it as `__Host-` prefixed.
#[tokio::test]
async fn a_look_alike_name_never_signs_anyone_in() {
    let (engine, events) = engine_with_events();
    let app = app_on(engine, |l| l);
    let bob = cookie_pair(&send(&app, "POST", "/login-as/bob", None).await);
    let bob_token = bob.trim_start_matches("__Host-session=").to_owned();
    let mut expected_events = 0;
    for name in look_alikes("__Host-session") {
        let header = format!("{name}={bob_token}");
        let (status, who) = subject(&app, header.as_bytes()).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{name:?} signed in as {who}"
        );
        expected_events += 1;
        assert_eq!(
            tossing_events(&events),
            expected_events,
            "{name:?} not reported"
        );
    }
    // What browsers trim themselves (ASCII space and tab) is the same cookie, as for them.
    for same in [
        format!(" __Host-session={bob_token}"),
        format!("\t__Host-session = {bob_token}\t"),
    ] {
        assert_eq!(subject(&app, same.as_bytes()).await.1, "bob", "{same:?}");
    }
}

/// Item 1 (HIGH), second half. On d318b6c, the look-alike and the real cookie together were
/// called a duplicate and the real `__Host-session` was cleared, leaving the attacker's cookie
/// as the only one. Now the real cookie wins, nothing is cleared, and the attempt is reported.
#[tokio::test]
async fn a_look_alike_beside_the_real_cookie_neither_swaps_nor_signs_out() {
    let (engine, events) = engine_with_events();
    let app = app_on(engine, |l| l);
    let alice = cookie_pair(&send(&app, "POST", "/login-as/alice", None).await);
    let bob = cookie_pair(&send(&app, "POST", "/login-as/bob", None).await);
    let bob_token = bob.trim_start_matches("__Host-session=");
    for name in look_alikes("__Host-session") {
        for header in [
            format!("{name}={bob_token}; {alice}"),
            format!("{alice}; {name}={bob_token}"),
        ] {
            let resp = send_raw(&app, "GET", "/me", &[("cookie", header.as_bytes())]).await;
            assert!(
                set_cookies(&resp).is_empty(),
                "{name:?}: the real cookie was touched: {:?}",
                set_cookies(&resp)
            );
            assert_eq!(body(resp).await, "alice", "{name:?}");
        }
    }
    assert!(tossing_events(&events) >= 2 * look_alikes("__Host-session").len());
}

/// Item 1 (HIGH), an unprefixed name a sibling *can* toss with `Domain`. On d318b6c a request
/// carrying the name twice was answered with a host-only removal: it deleted the victim's
/// cookie and left the attacker's domain cookie, signing the victim into the attacker's session
/// on the next request. Now neither order is served, no removal targets the host-only cookie,
/// and the domain cookies a sibling could have set are expired.
#[tokio::test]
async fn a_tossed_duplicate_never_swaps_the_session_nor_deletes_the_real_cookie() {
    let (engine, events) = engine_with_events();
    let cookie = CookieConfig::builder().name("sid").build().unwrap();
    let app = app_on(engine, |l| l.with_cookie(cookie));
    let victim = cookie_pair(&send(&app, "POST", "/login-as/alice", None).await);
    let attacker = cookie_pair(&send(&app, "POST", "/login-as/mallory", None).await);
    for header in [
        format!("{victim}; {attacker}"),
        format!("{attacker}; {victim}"),
    ] {
        let resp = send_raw(
            &app,
            "GET",
            "/account/settings",
            &[("host", b"app.example.com"), ("cookie", header.as_bytes())],
        )
        .await;
        assert_ne!(resp.status(), StatusCode::OK);
        let removals = set_cookies(&resp);
        assert!(
            removals.iter().all(|c| c.contains("Domain=")),
            "a removal without Domain deletes the victim's host-only cookie: {removals:?}"
        );
        for (domain, path) in [
            ("example.com", "/"),
            ("example.com", "/account"),
            ("example.com", "/account/settings"),
            ("app.example.com", "/"),
        ] {
            assert!(
                removals.iter().any(|c| c.starts_with("sid=;")
                    && c.contains(&format!("Domain={domain}"))
                    && c.split("; ").any(|a| a == format!("Path={path}"))
                    && c.contains("Max-Age=0")),
                "no removal for Domain={domain} Path={path}: {removals:?}"
            );
        }
        assert!(
            !removals.iter().any(|c| c.contains("Domain=com")),
            "never a top-level domain: {removals:?}"
        );
        assert_eq!(resp.headers().get(CACHE_CONTROL).unwrap(), "no-store");
    }
    assert!(tossing_events(&events) >= 2);
    // With the tossed cookie expired, the victim's own cookie is theirs again.
    assert_eq!(subject(&app, victim.as_bytes()).await.1, "alice");
}

/// Item 1: a `__Host-` name cannot be tossed from a sibling (browsers refuse `Domain` on it);
/// a duplicate is refused and nothing is cleared, so nothing can be promoted either.
#[tokio::test]
async fn a_duplicated_host_prefixed_cookie_is_refused_and_nothing_is_cleared() {
    let app = app(Arc::default());
    let alice = cookie_pair(&send(&app, "POST", "/login-as/alice", None).await);
    let bob = cookie_pair(&send(&app, "POST", "/login-as/bob", None).await);
    for header in [format!("{alice}; {bob}"), format!("{bob}; {alice}")] {
        let resp = send_raw(&app, "GET", "/me", &[("cookie", header.as_bytes())]).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(set_cookies(&resp).is_empty(), "{:?}", set_cookies(&resp));
    }
    // Across two Cookie headers too.
    let resp = send_raw(
        &app,
        "GET",
        "/me",
        &[("cookie", alice.as_bytes()), ("cookie", bob.as_bytes())],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(subject(&app, alice.as_bytes()).await.1, "alice");
}

/// Item 3 (MEDIUM-LOW) through the layer: right after `/elevate`, the pre-elevation cookie
/// showed "Elevated" on d318b6c until its grace deadline.
#[tokio::test]
async fn the_pre_step_up_cookie_does_not_carry_the_step_up() {
    let app = app(Arc::default());
    let before = cookie_pair(&send(&app, "POST", "/login", None).await);
    let after = cookie_pair(&send(&app, "POST", "/elevate", Some(&before)).await);
    assert_eq!(
        body(send(&app, "GET", "/level", Some(&after)).await).await,
        "2"
    );
    assert_eq!(
        body(send(&app, "GET", "/level", Some(&before)).await).await,
        "1",
        "a token stolen before the step-up gained it"
    );
}

/// Item 8 (LOW). On d318b6c every `GET /login` stored an anonymous session for its CSRF token:
/// a flood filled the memory store until it refused real logins (503). Now an anonymous CSRF
/// token costs no store write, and logins go through whatever the anonymous traffic.
#[tokio::test]
async fn anonymous_page_views_cost_no_store_write_and_cannot_block_logins() {
    let store = Arc::new(Observed::new(MemoryStore::with_capacity(50)));
    let app = app(Arc::clone(&store));
    for _ in 0..2_000 {
        let resp = send(&app, "GET", "/csrf", None).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers().get(CACHE_CONTROL).unwrap(),
            "no-store",
            "a page embedding a CSRF token must not be cached"
        );
    }
    assert_eq!(store.inner.len(), 0, "anonymous visitors wrote sessions");
    let login = send(&app, "POST", "/login", None).await;
    assert_eq!(login.status(), StatusCode::OK, "the flood stopped a login");
    // The signed token still protects: it verifies only with its own pre-session cookie.
    let page = send(&app, "GET", "/csrf", None).await;
    let pre = cookie_pair(&page);
    assert!(pre.starts_with("__Host-session-pre="), "{pre}");
    let token = body(page).await;
    let other = cookie_pair(&send(&app, "GET", "/csrf", None).await);
    for (cookie, submitted, ok) in [
        (pre.clone(), token.clone(), true),
        (other.clone(), token.clone(), false),
        (pre.clone(), "A".repeat(43), false),
        (pre.clone(), String::new(), false),
    ] {
        let req = http::Request::builder()
            .method("POST")
            .uri("/csrf")
            .header("host", "app.test")
            .header(COOKIE, &cookie)
            .body(axum::body::Body::from(submitted))
            .unwrap();
        let resp = tower::ServiceExt::oneshot(app.clone(), req).await.unwrap();
        assert_eq!(resp.status() == StatusCode::OK, ok, "{cookie:.30}");
    }
}

/// Item 9 (LOW). On d318b6c, with the plain-HTTP opt-in, a request without a peer address
/// (or from a same-host proxy that rewrote `Host` to localhost) was trusted as loopback and
/// the non-`Secure` cookie went over the network. Now the peer address must be loopback too.
#[tokio::test]
async fn the_plain_http_opt_in_never_trusts_host_alone() {
    let cookie = CookieConfig::builder()
        .name("dev")
        .dangerously_allow_plain_http_on_loopback()
        .build()
        .unwrap();
    let app = app_with(Arc::default(), |l| l.with_cookie(cookie));
    for host in ["localhost", "127.0.0.1:8080", "[::1]:80"] {
        let resp = send_raw(&app, "POST", "/login", &[("host", host.as_bytes())]).await;
        assert_eq!(
            resp.status(),
            StatusCode::FORBIDDEN,
            "{host} without a peer"
        );
        assert!(set_cookies(&resp).is_empty());
    }
    // A proxy on this machine (loopback peer, Host: localhost) relaying a remote client: the
    // independent review's F4. Any proxy header makes the request non-local.
    let from_local_proxy = |header: &'static str| {
        let mut req = http::Request::builder()
            .method("POST")
            .uri("/login")
            .header("host", "localhost:8080")
            .header(header, "203.0.113.9")
            .body(axum::body::Body::empty())
            .unwrap();
        req.extensions_mut().insert(axum::extract::ConnectInfo(
            "127.0.0.1:40000".parse::<std::net::SocketAddr>().unwrap(),
        ));
        tower::ServiceExt::oneshot(app.clone(), req)
    };
    for header in ["x-forwarded-for", "forwarded", "x-real-ip", "via"] {
        let resp = from_local_proxy(header).await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{header}");
        assert!(set_cookies(&resp).is_empty(), "{header}");
    }
}

/// The independent review's F6: with an unprefixed cookie name, a sibling tossed its own
/// `sid-pre` nonce for the parent domain. Beside the victim's, the duplicate refused every
/// sign-in for good; now the duplicate is refused once and the tossed copies are expired.
#[tokio::test]
async fn a_tossed_pre_session_cookie_is_expired_not_trusted() {
    let cookie = CookieConfig::builder().name("sid").build().unwrap();
    let app = app_with(Arc::default(), |l| l.with_cookie(cookie));
    let host: &[u8] = b"victim.example.com";
    let page = send_raw(&app, "GET", "/csrf", &[("host", host)]).await;
    let victim_pre = cookie_pair(&page);
    assert!(victim_pre.starts_with("sid-pre="), "{victim_pre}");
    let token = body(page).await;
    let attacker_pre = cookie_pair(&send_raw(&app, "GET", "/csrf", &[("host", host)]).await);
    let both = format!("{attacker_pre}; {victim_pre}");
    let resp = send_raw(
        &app,
        "GET",
        "/csrf",
        &[("host", host), ("cookie", both.as_bytes())],
    )
    .await;
    let removals = set_cookies(&resp);
    assert!(
        removals.iter().any(|c| c.starts_with("sid-pre=;")
            && c.contains("Domain=example.com")
            && c.contains("Max-Age=0")),
        "{removals:?}"
    );
    assert!(
        removals
            .iter()
            .filter(|c| c.starts_with("sid-pre=;"))
            .all(|c| c.contains("Domain=")),
        "the victim's host-only nonce must not be removed: {removals:?}"
    );
    // The victim's own nonce still verifies once the tossed copy is gone.
    let req = http::Request::builder()
        .method("POST")
        .uri("/csrf")
        .header("host", "victim.example.com")
        .header(COOKIE, &victim_pre)
        .body(axum::body::Body::from(token))
        .unwrap();
    let resp = tower::ServiceExt::oneshot(app.clone(), req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}
