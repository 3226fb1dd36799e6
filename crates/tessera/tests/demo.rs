//! Acceptance tests of `tessera demo`, run as a real process over HTTP with a real SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

mod support;

use reqwest::header::{CACHE_CONTROL, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use support::user::{account_with, client, csrf_of, User, NAME};
use support::Server;

fn demo() -> Server {
    Server::start(&["demo", "--store", "sqlite://sessions.db"])
}

#[tokio::test]
async fn login_sets_exactly_one_hardened_cookie_and_kills_the_pre_login_one() {
    let server = demo();
    let mut u = User::new(&server);
    let (_, html, headers) = u.get("/login").await;
    assert!(
        u.cookie.is_none(),
        "an anonymous page view must not start a session (no store write)"
    );
    assert_eq!(
        headers.headers()[CACHE_CONTROL],
        "no-store",
        "a page with a CSRF token must not be cached"
    );
    let pre = u
        .pre
        .clone()
        .expect("the login page sets its pre-session nonce");
    let resp = u
        .post(
            "/login",
            &[
                ("username", "alice"),
                ("password", "wonderland"),
                ("csrf", &csrf_of(&html)),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], "/account");
    let set: Vec<_> = resp
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .filter(|v| v.starts_with(&format!("{NAME}=")))
        .collect();
    assert_eq!(set.len(), 1);
    assert!(u.pre.is_none(), "login clears the pre-session cookie");
    let attrs: Vec<&str> = set[0].split("; ").collect();
    assert!(attrs[0].starts_with(&format!("{NAME}=")));
    for a in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(attrs.contains(&a), "{a} missing from {}", set[0]);
    }
    assert!(
        !set[0].to_ascii_lowercase().contains("domain"),
        "{}",
        set[0]
    );
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    let post = u.cookie.clone().unwrap();
    assert_ne!(pre, post);
    let (status, body, headers) = u.get("/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("alice") && body.contains("action=\"/logout\""));
    assert!(
        !body.contains(&post) && !body.contains(&pre),
        "the token must travel only in Set-Cookie"
    );
    assert_eq!(headers.headers()[CACHE_CONTROL], "no-store");
    for value in [&pre] {
        let (status, location) = account_with(&server, &format!("{NAME}={value}")).await;
        assert_eq!(
            (status, location.as_deref()),
            (StatusCode::SEE_OTHER, Some("/login")),
            "the pre-session nonce works as a session token"
        );
    }
    assert!(server.dir.join("sessions.db").exists());
}

#[tokio::test]
async fn wrong_password_and_missing_csrf_do_not_sign_in() {
    let server = demo();
    let mut u = User::new(&server);
    let resp = u.login("alice", "nope").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = u
        .post(
            "/login",
            &[("username", "alice"), ("password", "wonderland")],
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::FORBIDDEN,
        "login without the form's CSRF token"
    );
    let resp = u.post("/login", &[("username", "alice")]).await;
    assert!(
        resp.status().is_client_error(),
        "incomplete form: {}",
        resp.status()
    );
    assert_eq!(u.get("/account").await.0, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn logout_replay_is_sent_to_login() {
    let server = demo();
    let mut u = User::new(&server);
    u.login("alice", "wonderland").await;
    let old = u.cookie.clone().unwrap();
    let resp = u.submit("/account", "/logout", &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], "/login");
    assert_eq!(resp.headers()["clear-site-data"], "\"cache\", \"cookies\"");
    assert!(u.cookie.is_none(), "logout clears the cookie");
    let (status, location) = account_with(&server, &format!("{NAME}={old}")).await;
    assert_eq!(
        (status, location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/login"))
    );
}

#[tokio::test]
async fn password_change_ends_the_other_sessions() {
    let server = demo();
    let mut here = User::new(&server);
    let mut there = User::new(&server);
    let mut other_user = User::new(&server);
    here.login("bob", "builder").await;
    there.login("bob", "builder").await;
    other_user.login("alice", "wonderland").await;
    let resp = here
        .submit(
            "/password",
            "/password",
            &[
                ("old_password", "builder"),
                ("new_password", "looking-glass-1"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("1 other session(s) ended"));
    assert_eq!(
        there.get("/account").await.0,
        StatusCode::SEE_OTHER,
        "the other session survived"
    );
    assert_eq!(here.get("/account").await.0, StatusCode::OK);
    assert_eq!(
        other_user.get("/account").await.0,
        StatusCode::OK,
        "another user's session was ended"
    );
    let mut again = User::new(&server);
    assert_eq!(
        again.login("bob", "builder").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        again.login("bob", "looking-glass-1").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn elevate_changes_the_token() {
    let server = demo();
    let mut u = User::new(&server);
    u.login("alice", "wonderland").await;
    let before = u.cookie.clone().unwrap();
    let resp = u
        .submit("/account", "/elevate", &[("password", "wonderland")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let after = u.cookie.clone().unwrap();
    assert_ne!(before, after);
    let (status, body, _) = u.get("/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Elevated"));
    let wrong = u
        .submit("/account", "/elevate", &[("password", "nope")])
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn session_list_marks_this_device_and_revokes_others() {
    let server = demo();
    let mut a = User::new(&server);
    let mut b = User::new(&server);
    a.login("alice", "wonderland").await;
    b.login("alice", "wonderland").await;
    let (status, html, _) = a.get("/sessions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches("this device").count(), 1);
    assert_eq!(html.matches("action=\"/sessions/revoke\"").count(), 1);
    let id_marker = "name=\"id\" value=\"";
    let start = html.find(id_marker).unwrap() + id_marker.len();
    let id = html[start..].split('"').next().unwrap().to_owned();
    let resp = a
        .post(
            "/sessions/revoke",
            &[("id", &id), ("csrf", &csrf_of(&html))],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        b.get("/account").await.0,
        StatusCode::SEE_OTHER,
        "revoked session still works"
    );
    assert_eq!(a.get("/account").await.0, StatusCode::OK);
    // A forged revoke without the CSRF token does nothing.
    let mut c = User::new(&server);
    c.login("alice", "wonderland").await;
    let resp = a.post("/sessions/revoke-others", &[]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(c.get("/account").await.0, StatusCode::OK);
}

#[tokio::test]
async fn cookie_in_query_string_is_ignored() {
    let server = demo();
    let mut u = User::new(&server);
    u.login("alice", "wonderland").await;
    let token = u.cookie.clone().unwrap();
    for q in [
        format!("/account?{NAME}={token}"),
        format!("/account?session={token}"),
        format!("/account?id={token}"),
    ] {
        let resp = client()
            .get(format!("{}{q}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{q}");
    }
}

#[tokio::test]
async fn hostile_cookies_get_a_clean_unauthenticated_answer() {
    let server = demo();
    let mut u = User::new(&server);
    u.login("alice", "wonderland").await;
    let good = format!("{NAME}={}", u.cookie.clone().unwrap());
    let cases = vec![
        format!("{NAME}="),
        format!("{NAME}=short"),
        format!("{NAME}={}", "A".repeat(4000)),
        format!("{NAME}=%00%0a' OR 1=1 --"),
        format!("{good}; {good}"),
        format!("{good}; {NAME}=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        format!("{good}x"),
    ];
    for c in cases {
        let (status, location) = account_with(&server, &c).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "cookie {c:.50}");
        assert_eq!(location.as_deref(), Some("/login"));
    }
    // Oversized headers are refused by the HTTP layer with a 4xx, not a 500.
    let huge = format!("{NAME}={}", "A".repeat(200_000));
    let resp = client()
        .get(format!("{}/account", server.base))
        .header(COOKIE, huge)
        .send()
        .await;
    if let Ok(resp) = resp {
        assert!(
            resp.status().is_client_error() || resp.status() == StatusCode::SEE_OTHER,
            "{}",
            resp.status()
        );
    }
    // The real session is untouched by all of that.
    assert_eq!(u.get("/account").await.0, StatusCode::OK);
}

#[tokio::test]
async fn no_token_ever_reaches_the_log() {
    let server = demo();
    let mut seen = Vec::new();
    let mut u = User::new(&server);
    u.get("/login").await;
    seen.push(u.pre.clone().unwrap());
    u.login("alice", "wonderland").await;
    seen.push(u.cookie.clone().unwrap());
    u.submit("/account", "/elevate", &[("password", "wonderland")])
        .await;
    seen.push(u.cookie.clone().unwrap());
    u.submit("/account", "/logout", &[]).await;
    account_with(&server, &format!("{NAME}={}", seen[1])).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let log = server.log();
    assert!(
        log.contains("tessera::audit") && log.contains("reason=\"logout\""),
        "log capture failed: {log}"
    );
    for t in &seen {
        assert!(!log.contains(&t[..16]), "token in log");
    }
}

#[tokio::test]
async fn demo_defaults_to_a_sqlite_file_in_the_working_directory() {
    let server = Server::start(&["demo"]);
    let mut u = User::new(&server);
    assert_eq!(
        u.login("bob", "builder").await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(server.dir.join("tessera-demo.db").exists());
    assert!(server.log().contains("sqlite://tessera-demo.db"));
}

#[tokio::test]
async fn bench_server_routes() {
    let server = Server::start(&["bench-server", "--store", "sqlite://bench.db"]);
    let http = client();
    let base = &server.base;
    assert_eq!(
        http.get(format!("{base}/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let resp = http
        .post(format!("{base}/login?user=42"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let me = http
        .get(format!("{base}/me"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.text().await.unwrap(), "42");
    let out = http
        .post(format!("{base}/logout"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    let me = http
        .get(format!("{base}/me"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let bad = http
        .post(format!("{base}/login?user=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn bad_arguments_exit_non_zero_with_one_line() {
    for args in [
        vec!["demo", "--store", "redis://nope"],
        vec!["demo", "--store", "sqlite:///nonexistent-dir/x/y.db"],
        vec!["demo", "--listen", "not-an-address"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.trim().lines().count() <= 3, "{args:?}: {err}");
    }
}
