//! The admin console over real HTTP on a real SQLite file: it signs in only with a live admin
//! key, runs on its own Tessera session (CSRF guard, synchronizer tokens, idle timeout), and
//! revokes what an operator asks. The Chromium test is crates/tessera/tests/browser.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::collections::BTreeMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use tessera_serve::Scope;

struct Console {
    base: String,
    admin: String,
    harness: support::Harness,
    http: Client,
}

async fn console(toml: &str) -> Console {
    let harness = support::start("console", toml).await;
    Console {
        base: harness.base.clone(),
        admin: harness.admin.clone(),
        harness,
        http: support::http(false),
    }
}

/// A browser's cookie jar and its last page's CSRF field, by hand.
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn take(&mut self, r: &reqwest::Response) {
        for c in r.headers().get_all(SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.0.remove(k);
            } else {
                self.0.insert(k.to_owned(), v.to_owned());
            }
        }
    }
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

impl Console {
    async fn get(
        &self,
        jar: &mut Jar,
        path: &str,
    ) -> (StatusCode, String, reqwest::header::HeaderMap) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, jar.header())
            .send()
            .await
            .unwrap();
        jar.take(&r);
        let (st, h) = (r.status(), r.headers().clone());
        (st, r.text().await.unwrap(), h)
    }

    async fn post(
        &self,
        jar: &mut Jar,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, String, Option<String>) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, jar.header())
            .header("sec-fetch-site", "same-origin")
            .form(form)
            .send()
            .await
            .unwrap();
        jar.take(&r);
        let st = r.status();
        let loc = r
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_owned());
        (st, r.text().await.unwrap(), loc)
    }

    async fn sign_in(&self, jar: &mut Jar, key: &str) -> StatusCode {
        let (_, page, _) = self.get(jar, "/console").await;
        let csrf = csrf_of(&page);
        self.post(jar, "/console/login", &[("key", key), ("csrf", &csrf)])
            .await
            .0
    }

    async fn user_session(&self, subject: &str) -> String {
        let call = |path: &'static str, body: Value| {
            let req = self
                .http
                .post(format!("{}{path}", self.base))
                .bearer_auth(&self.admin)
                .json(&body);
            async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
        };
        let t = call("/v1/login-tickets", json!({"subject": subject})).await;
        let s = call(
            "/v1/sessions",
            json!({"ticket": t["ticket"], "user_agent": "Firefox 140"}),
        )
        .await;
        s["token"].as_str().unwrap().to_owned()
    }

    async fn resolves(&self, token: &str) -> bool {
        self.http
            .post(format!("{}/v1/sessions/resolve", self.base))
            .bearer_auth(&self.admin)
            .json(&json!({"token": token}))
            .send()
            .await
            .unwrap()
            .status()
            == StatusCode::OK
    }
}

#[tokio::test]
async fn only_a_live_admin_key_signs_in_and_the_console_is_its_own_hardened_session() {
    let c = console("").await;
    let mut jar = Jar::default();
    let (st, page, h) = c.get(&mut jar, "/console").await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("Admin API key"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(h["cache-control"], "no-store");
    assert!(
        jar.0.keys().all(|k| k != "__Host-tessera-console"),
        "no session before sign-in"
    );

    // Wrong key, a read key, a missing CSRF token: refused.
    assert_eq!(
        c.sign_in(&mut jar, "tessera_key_nope").await,
        StatusCode::UNAUTHORIZED
    );
    let reader = c
        .harness
        .service
        .keys()
        .create("reader", &[Scope::Read, Scope::Write])
        .await
        .unwrap();
    assert_eq!(
        c.sign_in(&mut jar, &reader.secret).await,
        StatusCode::UNAUTHORIZED
    );
    let (st, _, _) = c
        .post(&mut jar, "/console/login", &[("key", &c.admin)])
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "no CSRF token");
    // A cross-site form post is refused by the layer's guard before anything else.
    let (_, page, _) = c.get(&mut jar, "/console").await;
    let r = c
        .http
        .post(format!("{}/console/login", c.base))
        .header(COOKIE, jar.header())
        .header("sec-fetch-site", "cross-site")
        .form(&[("key", c.admin.as_str()), ("csrf", &csrf_of(&page))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The admin key signs in: a console session of its own, HttpOnly, Secure, __Host-.
    let r = {
        let (_, page, _) = c.get(&mut jar, "/console").await;
        let csrf = csrf_of(&page);
        c.http
            .post(format!("{}/console/login", c.base))
            .header(COOKIE, jar.header())
            .form(&[("key", c.admin.as_str()), ("csrf", &csrf)])
            .send()
            .await
            .unwrap()
    };
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set: Vec<&str> = r
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let console_cookie = set
        .iter()
        .find(|c| c.starts_with("__Host-tessera-console="))
        .unwrap();
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(console_cookie.contains(attr), "{console_cookie}");
    }
    jar.take(&r);
    let (st, page, _) = c.get(&mut jar, "/console").await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        page.contains("first-admin") && page.contains("sessions created"),
        "{page}"
    );
    // The console's cookie is not a session of the API, nor an API key.
    let token = jar.0["__Host-tessera-console"].clone();
    assert!(!c.resolves(&token).await);
    let r = c
        .http
        .get(format!("{}/v1/forward-auth", c.base))
        .header(COOKIE, format!("__Host-session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a console session is no user's session"
    );
    let r = c
        .http
        .get(format!("{}/v1/api-keys", c.base))
        .bearer_auth(format!("tessera_key_{token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Revoking the key ends the console sessions it signed in.
    let id = c
        .harness
        .service
        .keys()
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.name == "first-admin")
        .unwrap()
        .id;
    assert!(c.harness.service.keys().revoke(&id).await.unwrap());
    let (_, page, _) = c.get(&mut jar, "/console").await;
    assert!(
        page.contains("Admin API key"),
        "signed out when its key was revoked"
    );
}

#[tokio::test]
async fn the_console_lists_and_revokes_one_or_all_sessions_of_a_subject() {
    let c = console("").await;
    let mut jar = Jar::default();
    assert_eq!(
        c.sign_in(&mut jar, &c.admin.clone()).await,
        StatusCode::SEE_OTHER
    );
    let a = c.user_session("alice").await;
    let b = c.user_session("alice").await;
    let other = c.user_session("bob").await;

    let (st, page, _) = c.get(&mut jar, "/console/subjects?subject=alice").await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        page.contains("Firefox 140") && page.matches("action=\"/console/revoke\"").count() == 2,
        "{page}"
    );
    assert!(
        !page.contains(&a) && !page.contains(&b),
        "no token on the page"
    );
    let csrf = csrf_of(&page);
    let id = page
        .split("name=\"id\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    // Without the CSRF token nothing happens.
    let (st, _, _) = c
        .post(
            &mut jar,
            "/console/revoke",
            &[("subject", "alice"), ("id", &id)],
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(c.resolves(&a).await && c.resolves(&b).await);

    let (st, _, loc) = c
        .post(
            &mut jar,
            "/console/revoke",
            &[("subject", "alice"), ("id", &id), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert!(loc.unwrap().contains("done=one"));
    assert_eq!(
        [c.resolves(&a).await, c.resolves(&b).await]
            .iter()
            .filter(|x| **x)
            .count(),
        1
    );
    // Another subject's name with this id revokes nothing.
    let (_, _, loc) = c
        .post(
            &mut jar,
            "/console/revoke",
            &[("subject", "bob"), ("id", &id), ("csrf", &csrf)],
        )
        .await;
    assert!(loc.unwrap().contains("done=none"));

    let (st, _, _) = c
        .post(
            &mut jar,
            "/console/revoke-all",
            &[("subject", "alice"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert!(!c.resolves(&a).await && !c.resolves(&b).await);
    assert!(c.resolves(&other).await, "bob is untouched");

    // Reserved and hostile subjects are refused.
    for q in ["tessera:api-keys", "%00", ""] {
        let (st, _, _) = c
            .get(&mut jar, &format!("/console/subjects?subject={q}"))
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
    }
    let (st, _, _) = c
        .post(
            &mut jar,
            "/console/revoke-all",
            &[("subject", "tessera:api-keys"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(!c.harness.service.keys().list().await.unwrap().is_empty());
    // Subject text is escaped on the page.
    let (_, page, _) = c
        .get(&mut jar, "/console/subjects?subject=%3Cscript%3Ex")
        .await;
    assert!(page.contains("&lt;script&gt;x") && !page.contains("<script>x"));
}

#[tokio::test]
async fn signed_out_pages_redirect_and_an_idle_console_signs_out() {
    let c = console("[console]\nidle_timeout_secs = 1").await;
    let mut jar = Jar::default();
    let (st, _, _) = c.get(&mut jar, "/console/subjects?subject=alice").await;
    assert_eq!(st, StatusCode::SEE_OTHER, "not signed in");
    let (st, _, _) = c
        .post(&mut jar, "/console/revoke-all", &[("subject", "alice")])
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(
        c.sign_in(&mut jar, &c.admin.clone()).await,
        StatusCode::SEE_OTHER
    );
    let (_, page, _) = c.get(&mut jar, "/console").await;
    assert!(page.contains("sessions created"));
    assert!(
        page.contains(r#"<b id="active">0</b>"#),
        "no session used yet"
    );
    // Two users' sessions, one resolved twice: two sessions active, counted once each; the
    // console's own session and the admin key are not users' sessions and do not count.
    let alice = c.user_session("alice").await;
    c.user_session("bob").await;
    assert!(c.resolves(&alice).await && c.resolves(&alice).await);
    let (_, page, _) = c.get(&mut jar, "/console").await;
    assert!(page.contains(r#"<b id="active">2</b>"#), "{page}");
    let metrics = c
        .http
        .get(format!("{}/metrics", c.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tessera_sessions_active_recent 2"),
        "{metrics}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let (_, page, _) = c.get(&mut jar, "/console").await;
    assert!(
        page.contains("Admin API key"),
        "idle timeout signs the console out"
    );
}
