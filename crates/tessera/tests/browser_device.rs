//! Device-bound sessions (W3C DBSC) with a real browser: Debian's headless Chromium registers
//! a device key with `tessera demo`, lets the short-lived bound cookie expire, and refreshes it
//! by itself with a proof; the cookie it had, replayed by another client after its lifetime,
//! is refused.
//!
//! What makes Chromium 156 do DBSC here (found by trial, see docs/security.md): the feature
//! `DeviceBoundSessions` forced on for testing (no origin trial), software device keys
//! (`EnableBoundSessionCredentialsSoftwareKeysForManualTesting`: Linux has no TPM-backed key
//! provider), and HTTPS with a certificate the browser trusts. Plain `http://localhost`, or a
//! certificate accepted with `--ignore-certificate-errors`, never registers; pinning the test
//! certificate's key (`--ignore-certificate-errors-spki-list`) makes it trusted.
//!
//! The certificate and key under `tests/support/localhost-test-only.*` protect nothing: they
//! exist for this test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

mod support;
#[path = "support/webdriver.rs"]
mod webdriver;

use std::time::{Duration, Instant};

use reqwest::header::COOKIE;
use support::{temp_dir, Server};
use webdriver::{require_browser, Browser, Driver};

const NAME: &str = "__Host-session";
/// The demo's shortest bound lifetime: the browser's cookie lasts it less 30 s.
const BOUND_SECS: u64 = 60;

fn support_file(name: &str) -> String {
    format!("{}/tests/support/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The DBSC switches, and trust in the test certificate.
fn dbsc_switches() -> Vec<String> {
    let pin = include_str!("support/localhost-test-only.spki").trim();
    vec![
        "--enable-features=DeviceBoundSessions:ForceEnableForTesting/true,\
         EnableBoundSessionCredentialsSoftwareKeysForManualTesting"
            .to_owned(),
        format!("--ignore-certificate-errors-spki-list={pin}"),
    ]
}

/// The session cookie's value in the browser.
async fn session_cookie(b: &Browser) -> String {
    let found = b.cookies_named(NAME).await;
    assert_eq!(found.len(), 1, "one {NAME} cookie expected: {found:?}");
    found[0].value.clone()
}

/// Reloads `/sessions` until it says the session is bound (the browser registers in the
/// background after the sign-in response), or fails after `limit`.
async fn wait_until_bound(b: &Browser, server: &Server, base: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        b.goto(&format!("{base}/sessions")).await;
        let text = b.text().await;
        if text.contains("bound to this device") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Chromium never registered a device key; /sessions says:\n{text}\nserver log:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Whether `/account` with this cookie, from a client that is not the browser, is signed in.
async fn signed_in_elsewhere(base: &str, token: &str) -> bool {
    tessera_inspect::agent::ensure_tls_provider();
    let thief = reqwest::Client::builder()
        .danger_accept_invalid_certs(true) // the test certificate; never outside tests
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = thief
        .get(format!("{base}/account"))
        .header(COOKIE, format!("{NAME}={token}"))
        .send()
        .await
        .unwrap();
    resp.status().is_success()
}

#[tokio::test]
async fn chromium_binds_its_session_refreshes_it_and_a_copied_cookie_dies() {
    require_browser();
    let (cert, key) = (
        support_file("localhost-test-only.cert.pem"),
        support_file("localhost-test-only.key.pem"),
    );
    let bound_secs = BOUND_SECS.to_string();
    let server = Server::start(&[
        "demo",
        "--store",
        "memory://",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--device-bound-lifetime",
        &bound_secs,
    ]);
    // Chromium keys DBSC sessions by site: a host name, not an IP address.
    let base = format!("https://localhost:{}", server.port);
    let mut driver = Driver::start(temp_dir("browser-dbsc")).await;
    let b = driver.browser_with(&dbsc_switches()).await;

    b.goto(&format!("{base}/login")).await;
    b.submit_login("alice", "wonderland").await;
    b.wait_for_path(&base, "/account").await;
    wait_until_bound(&b, &server, &base, Duration::from_secs(20)).await;
    let bound_at = Instant::now();
    let first = session_cookie(&b).await;
    assert!(
        signed_in_elsewhere(&base, &first).await,
        "the bound cookie works"
    );

    // The bound cookie's Max-Age ends 30 s before the server's deadline. Once it is gone, the
    // next navigation makes Chromium refresh with a proof of its key before sending it.
    tokio::time::sleep(Duration::from_secs(BOUND_SECS - 30 + 2)).await;
    b.goto(&format!("{base}/account")).await;
    let text = b.wait_for_text("Signed in as").await;
    assert!(text.contains("alice"), "{text}");
    let second = session_cookie(&b).await;
    assert_ne!(
        second, first,
        "Chromium refreshed: a rotated token in a fresh cookie"
    );

    // The first cookie, copied off this machine, dies at its bound lifetime. Presenting a
    // rotated-out token after its window is theft: the whole session ends, the browser's too.
    let past_deadline = Duration::from_secs(BOUND_SECS + 2);
    if let Some(wait) = past_deadline.checked_sub(bound_at.elapsed()) {
        tokio::time::sleep(wait).await;
    }
    assert!(
        !signed_in_elsewhere(&base, &first).await,
        "a copied bound cookie still works past its lifetime"
    );
    b.goto(&format!("{base}/account")).await;
    b.wait_for_path(&base, "/login").await;
    let log = server.log();
    assert!(log.contains("theft_suspected"), "{log}");
    assert!(
        !log.contains(&first) && !log.contains(&second),
        "a token in the log"
    );
}
