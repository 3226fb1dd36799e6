//! Sanity tests of the fixture app (tests/support/fixture.rs) by raw HTTP, independent of the
//! inspector: the hardened app behaves as documented, and a few weaknesses really are weak.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

#[path = "support/fixture.rs"]
mod fixture;

use std::time::Duration;

use fixture::{start, Fixture, Weaknesses};
use reqwest::header::{CACHE_CONTROL, COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};

/// One answer, read whole.
struct Answer {
    status: StatusCode,
    location: Option<String>,
    cache_control: Option<String>,
    set_cookie: Option<String>,
    body: String,
}

/// A user that keeps the fixture's session cookie by hand (no redirects followed).
struct User<'a> {
    fx: &'a Fixture,
    http: Client,
    id: Option<String>,
}

impl<'a> User<'a> {
    fn new(fx: &'a Fixture) -> Self {
        // reqwest is built here with `rustls-no-provider` (the inspector's feature), so a client
        // needs a process-wide crypto provider even for plain http.
        tessera_inspect::agent::ensure_tls_provider();
        Self {
            fx,
            http: Client::builder().redirect(Policy::none()).build().unwrap(),
            id: None,
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Answer {
        let req = match &self.id {
            Some(id) => req.header(COOKIE, format!("{}={id}", self.fx.cookie_name())),
            None => req,
        };
        let resp = req.send().await.unwrap();
        let header = |name| {
            resp.headers()
                .get(name)
                .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned())
        };
        let (location, cache_control, set_cookie) =
            (header(LOCATION), header(CACHE_CONTROL), header(SET_COOKIE));
        let status = resp.status();
        let body = resp.text().await.unwrap();
        if let Some(c) = &set_cookie {
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (name, value) = pair.split_once('=').unwrap();
            assert_eq!(name, self.fx.cookie_name(), "unexpected cookie {c}");
            self.id = if c.contains("Max-Age=0") {
                None
            } else {
                Some(value.to_owned())
            };
        }
        Answer {
            status,
            location,
            cache_control,
            set_cookie,
            body,
        }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let req = self.http.get(self.fx.url(path));
        self.send(req).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let req = self.http.post(self.fx.url(path)).form(fields);
        self.send(req).await
    }

    /// GETs `form_page` and POSTs `fields` plus its csrf field to `path`.
    async fn submit(&mut self, form_page: &str, path: &str, fields: &[(&str, &str)]) -> Answer {
        let page = self.get(form_page).await;
        assert_eq!(page.status, StatusCode::OK, "GET {form_page}");
        let csrf = csrf_in(&page.body);
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }

    async fn login(&mut self, password: &str) -> Answer {
        self.submit(
            "/login",
            "/login",
            &[("username", "alice"), ("password", password)],
        )
        .await
    }

    async fn signed_in(&mut self) -> bool {
        let a = self.get("/account").await;
        match a.status {
            StatusCode::OK => {
                assert!(a.body.contains("alice"));
                true
            }
            StatusCode::SEE_OTHER => {
                assert_eq!(a.location.as_deref(), Some("/login"));
                false
            }
            s => panic!("GET /account: {s}"),
        }
    }
}

fn csrf_in(html: &str) -> String {
    let start =
        html.find("name=\"csrf\" value=\"").expect("csrf field") + "name=\"csrf\" value=\"".len();
    let len = html[start..].find('"').unwrap();
    html[start..start + len].to_owned()
}

#[tokio::test]
async fn hardened_fixture_behaves() {
    let fx = start(Weaknesses::hardened()).await;
    assert!(fx.base_url.starts_with("http://127.0.0.1:"));
    assert_eq!(fx.cookie_name(), "__Host-sid");
    let mut u = User::new(&fx);

    let public = u.get("/public").await;
    assert_eq!(public.status, StatusCode::OK);
    assert!(public.set_cookie.is_none());

    // The login form issues a pre-login session with the hardened attributes.
    let form = u.get("/login").await;
    assert_eq!(form.status, StatusCode::OK);
    let c = form.set_cookie.unwrap();
    assert!(
        c.ends_with("; Path=/; Secure; HttpOnly; SameSite=Lax"),
        "{c}"
    );
    assert!(!c.contains("Domain"), "{c}");
    let pre = u.id.clone().unwrap();
    assert_eq!(pre.len(), 43, "256-bit base64url id: {pre}");
    assert!(form.body.contains("name=\"username\"") && form.body.contains("name=\"password\""));
    assert_eq!(form.cache_control.as_deref(), Some("no-store"));

    // Wrong password: 401 and the form again, no new session.
    let bad = u.login("nope").await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert!(bad.body.contains("<form"));
    assert_eq!(u.id.as_deref(), Some(pre.as_str()));
    // No csrf: 403.
    assert_eq!(
        u.post(
            "/login",
            &[("username", "alice"), ("password", "wonderland")]
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );

    // Sign in: 303 → /account with a new id; the pre-login id is gone.
    let ok = u.login("wonderland").await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.location.as_deref(), Some("/account"));
    let id = u.id.clone().unwrap();
    assert_ne!(id, pre, "rotated at login");
    let account = u.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.body.contains("alice"));
    assert_eq!(account.cache_control.as_deref(), Some("no-store"));
    assert!(!account.body.contains(&id), "id not in the page");
    let mut replay = User::new(&fx);
    replay.id = Some(pre.clone());
    assert!(!replay.signed_in().await, "pre-login id dead");

    // Ids come only from the cookie.
    let mut by_url = User::new(&fx);
    let a = by_url.get(&format!("/account?sid={id}")).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);

    // An unknown id is refused: the login form issues another one.
    let mut planter = User::new(&fx);
    planter.id = Some("AttackerChosenId_0123456789abcdefghijklmnop".into());
    planter.get("/login").await;
    assert_ne!(
        planter.id.as_deref(),
        Some("AttackerChosenId_0123456789abcdefghijklmnop")
    );

    // Elevation rotates.
    let before = u.id.clone().unwrap();
    let e = u
        .submit("/account", "/elevate", &[("password", "wonderland")])
        .await;
    assert_eq!(e.status, StatusCode::SEE_OTHER);
    assert!(e.set_cookie.is_some());
    assert_ne!(u.id.as_deref(), Some(before.as_str()));
    assert!(u.get("/account").await.body.contains("elevated"));
    let mut old = User::new(&fx);
    old.id = Some(before);
    assert!(!old.signed_in().await);

    // A password change ends the other session, keeps this one; then change it back.
    let mut other = User::new(&fx);
    assert_eq!(
        other.login("wonderland").await.status,
        StatusCode::SEE_OTHER
    );
    assert!(other.signed_in().await);
    let ch = u
        .submit(
            "/password",
            "/password",
            &[
                ("old_password", "wonderland"),
                ("new_password", "looking-glass-1"),
            ],
        )
        .await;
    assert_eq!(ch.status, StatusCode::SEE_OTHER);
    assert_eq!(fx.password(), "looking-glass-1");
    assert!(u.signed_in().await);
    assert!(!other.signed_in().await);
    u.submit(
        "/password",
        "/password",
        &[
            ("old_password", "looking-glass-1"),
            ("new_password", "wonderland"),
        ],
    )
    .await;
    assert_eq!(fx.password(), "wonderland");

    // Logout deletes the session and clears the cookie.
    let id = u.id.clone().unwrap();
    let out = u.submit("/account", "/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.set_cookie.unwrap().contains("Max-Age=0"));
    assert!(u.id.is_none());
    let mut replay = User::new(&fx);
    replay.id = Some(id);
    assert!(!replay.signed_in().await, "logged-out id dead");
}

#[tokio::test]
async fn idle_timeout_ends_sessions_unless_switched_off() {
    for (off, expect_alive) in [(false, false), (true, true)] {
        let fx = start(Weaknesses {
            idle_timeout: Some(Duration::from_millis(600)),
            no_idle_timeout: off,
            ..Weaknesses::default()
        })
        .await;
        let mut u = User::new(&fx);
        u.login("wonderland").await;
        assert!(u.signed_in().await);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(u.signed_in().await, "use resets the idle clock");
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(u.signed_in().await, expect_alive, "no_idle_timeout = {off}");
    }
}

#[tokio::test]
async fn weak_session_handling_is_weak() {
    let fx = start(Weaknesses {
        predictable_ids: true,
        no_rotation_on_login: true,
        adopts_unknown_ids: true,
        logout_keeps_session: true,
        password_change_keeps_others: true,
        no_rotation_on_elevate: true,
        id_in_url: true,
        cacheable_pages: true,
        ..Weaknesses::default()
    })
    .await;
    let mut u = User::new(&fx);
    u.get("/login").await;
    let pre = u.id.clone().unwrap();
    assert!(pre.starts_with("sess-") && pre.len() == 11, "{pre}");
    let ok = u.login("wonderland").await;
    assert_eq!(
        ok.location,
        Some(format!("/account?sid={pre}")),
        "same id, in the URL"
    );
    assert!(ok.set_cookie.is_none());
    assert_eq!(u.id.as_deref(), Some(pre.as_str()));
    let account = u.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.cache_control.is_none());

    // The id works from the query string alone.
    let mut by_url = User::new(&fx);
    assert_eq!(
        by_url.get(&format!("/account?sid={pre}")).await.status,
        StatusCode::OK
    );

    // Unknown ids are adopted.
    let mut planter = User::new(&fx);
    planter.id = Some("planted-by-attacker".into());
    let form = planter.get("/login").await;
    assert!(form.set_cookie.is_none());
    assert_eq!(
        planter.login("wonderland").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(planter.id.as_deref(), Some("planted-by-attacker"));
    assert!(planter.signed_in().await);

    // Elevation and password change leave ids and other sessions alone.
    let e = u
        .submit("/account", "/elevate", &[("password", "wonderland")])
        .await;
    assert!(e.set_cookie.is_none());
    u.submit(
        "/password",
        "/password",
        &[("old_password", "wonderland"), ("new_password", "x")],
    )
    .await;
    assert!(planter.signed_in().await);

    // Logout clears the cookie but the session lives on.
    let out = u.submit("/account", "/logout", &[]).await;
    assert!(out.set_cookie.unwrap().contains("Max-Age=0"));
    let mut replay = User::new(&fx);
    replay.id = Some(pre);
    assert!(replay.signed_in().await);
}

#[tokio::test]
async fn adopted_ids_survive_login_but_issued_ones_rotate() {
    let fx = start(Weaknesses::only("adopts_unknown_ids").unwrap()).await;
    let planted = "Zq3x_forged-by-an-attacker-0123456789abcdef";
    let mut victim = User::new(&fx);
    victim.id = Some(planted.into());
    assert!(
        victim.get("/login").await.set_cookie.is_none(),
        "adopted, no new cookie"
    );
    let ok = victim.login("wonderland").await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert!(ok.set_cookie.is_none());
    assert_eq!(victim.id.as_deref(), Some(planted));
    let mut attacker = User::new(&fx);
    attacker.id = Some(planted.into());
    assert!(
        attacker.signed_in().await,
        "the attacker rides the planted id"
    );

    // An id the app issued itself is still rotated at login.
    let mut u = User::new(&fx);
    u.get("/login").await;
    let pre = u.id.clone().unwrap();
    assert!(u.login("wonderland").await.set_cookie.is_some());
    assert_ne!(u.id.as_deref(), Some(pre.as_str()));
}

#[tokio::test]
async fn cookie_switches_change_the_attributes() {
    let cases: [(Weaknesses, &str, &str); 5] = [
        (
            Weaknesses::only("no_secure").unwrap(),
            "sid",
            "; Path=/; HttpOnly; SameSite=Lax",
        ),
        (
            Weaknesses::only("no_httponly").unwrap(),
            "__Host-sid",
            "; Path=/; Secure; SameSite=Lax",
        ),
        (
            Weaknesses::only("samesite_none").unwrap(),
            "__Host-sid",
            "; Path=/; Secure; HttpOnly; SameSite=None",
        ),
        (
            Weaknesses::only("no_prefix").unwrap(),
            "sid",
            "; Path=/; Secure; HttpOnly; SameSite=Lax",
        ),
        (
            Weaknesses::only("domain_scope").unwrap(),
            "sid",
            "; Path=/; Domain=127.0.0.1; Secure; HttpOnly; SameSite=Lax",
        ),
    ];
    for (w, name, attrs) in cases {
        let fx = start(w).await;
        assert_eq!(fx.cookie_name(), name);
        let mut u = User::new(&fx);
        let c = u.get("/login").await.set_cookie.unwrap();
        let id = u.id.clone().unwrap();
        assert_eq!(c, format!("{name}={id}{attrs}"));
        assert_eq!(u.login("wonderland").await.status, StatusCode::SEE_OTHER);
        assert!(u.signed_in().await);
    }
    let no_samesite = start(Weaknesses::only("no_samesite").unwrap()).await;
    let c = User::new(&no_samesite)
        .get("/login")
        .await
        .set_cookie
        .unwrap();
    assert!(c.ends_with("; Path=/; Secure; HttpOnly"), "{c}");
    for (switch, check, _) in fixture::SWITCHES {
        assert!(Weaknesses::only(switch).is_some(), "{switch} ({check})");
    }
}
