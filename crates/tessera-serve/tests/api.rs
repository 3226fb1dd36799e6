//! The service over real HTTP on a real SQLite file: every API promise, attacked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use support::Harness;
use tessera_core::conformance::LogCapture;
use tessera_serve::Scope;

struct Server {
    base: String,
    admin: String,
    http: Client,
    harness: Harness,
}

async fn server_with(toml: &str) -> Server {
    let service = support::start("api", toml).await;
    // A second bootstrap on the same store makes nothing.
    assert!(service.service.keys().bootstrap().await.unwrap().is_none());
    Server {
        base: service.base.clone(),
        admin: service.admin.clone(),
        http: http(),
        harness: service,
    }
}

/// `st`/`v` is the problem `code` with `status`.
fn assert_problem(st: StatusCode, v: &Value, status: StatusCode, code: &str) {
    assert_eq!((st, v["code"].as_str()), (status, Some(code)), "{v}");
}

async fn server() -> Server {
    server_with("").await
}

fn http() -> Client {
    support::http(true)
}

impl Server {
    async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        assert!(
            !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {status} {value}"
        );
        if !status.is_success() {
            assert_eq!(
                headers["content-type"], "application/problem+json",
                "{path}: every error is a problem document"
            );
            assert_eq!(value["status"], status.as_u16(), "{value}");
            assert!(
                value["code"].as_str().is_some_and(|c| !c.is_empty()),
                "{value}"
            );
        }
        (status, value, headers)
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let admin = self.admin.clone();
        let (s, v, _) = self
            .call(Method::POST, path, Some(&admin), Some(body))
            .await;
        (s, v)
    }

    async fn login(&self, subject: &str) -> Value {
        let (s, t) = self
            .post("/v1/login-tickets", json!({"subject": subject}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{t}");
        let (s, issued) = self
            .post(
                "/v1/sessions",
                json!({"ticket": t["ticket"], "user_agent": "Firefox", "ip": "203.0.113.77"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{issued}");
        issued
    }

    async fn forward(&self, cookie: Option<&str>, extra: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.http.get(format!("{}/v1/forward-auth", self.base));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }
}

#[tokio::test]
async fn a_session_lives_and_ends_through_the_api() {
    let s = server().await;
    let issued = s.login("alice").await;
    let token = issued["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 43);
    // The ready-made cookie carries the library's safe attributes.
    let cookie = issued["set_cookie"].as_str().unwrap();
    assert!(
        cookie.starts_with(&format!("__Host-session={token}")),
        "{cookie}"
    );
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    assert!(
        !cookie.contains("Domain") && !cookie.contains("Max-Age"),
        "{cookie}"
    );
    assert_eq!(issued["session"]["ip_prefix"], "203.0.113.0/24");

    let (st, v) = s
        .post("/v1/sessions/resolve", json!({"token": token}))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["subject"], "alice");
    assert_eq!(v["auth_level"], 1);
    let version = v["version"].as_u64().unwrap();

    // Data with a version: the second writer at the same version gets 409.
    let (st, v) = s
        .post(
            "/v1/sessions/data",
            json!({"token": token, "version": version, "data": {"cart": [1, 2]}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["cart"], json!([1, 2]));
    let (st, v) = s
        .post(
            "/v1/sessions/data",
            json!({"token": token, "version": version, "data": {"cart": []}}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(v["code"], "version-conflict");

    // Rotation: a new token; the old one only inside the grace window, and not as current.
    let (st, rotated) = s.post("/v1/sessions/rotate", json!({"token": token})).await;
    assert_eq!(st, StatusCode::OK);
    let new = rotated["token"].as_str().unwrap().to_owned();
    assert_ne!(new, token);
    let (_, v) = s
        .post("/v1/sessions/resolve", json!({"token": token}))
        .await;
    assert_eq!(v["current_token"], false);
    let (st, v) = s.post("/v1/sessions/rotate", json!({"token": token})).await;
    assert_problem(st, &v, StatusCode::CONFLICT, "already-rotated");

    // Step-up rotates too and raises the level.
    let (st, up) = s
        .post(
            "/v1/sessions/elevate",
            json!({"token": new, "level": 2, "duration_secs": 300}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{up}");
    assert_eq!(up["session"]["auth_level"], 2);
    let newest = up["token"].as_str().unwrap().to_owned();
    for bad in [0, 86_401] {
        let (st, v) = s
            .post(
                "/v1/sessions/elevate",
                json!({"token": newest, "level": 2, "duration_secs": bad}),
            )
            .await;
        assert_problem(st, &v, StatusCode::UNPROCESSABLE_ENTITY, "invalid-duration");
    }

    // Logout ends it server-side and hands back the clearing cookie.
    let (st, v) = s
        .post("/v1/sessions/logout", json!({"token": newest}))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["ended"], true);
    assert!(v["set_cookie"].as_str().unwrap().contains("Max-Age=0"));
    for t in [&token, &new, &newest] {
        let (st, v) = s.post("/v1/sessions/resolve", json!({"token": t})).await;
        assert_problem(st, &v, StatusCode::NOT_FOUND, "no-session");
    }
    let (_, v) = s
        .post("/v1/sessions/logout", json!({"token": newest}))
        .await;
    assert_eq!(v["ended"], false, "a second logout ends nothing");
}

#[tokio::test]
async fn remember_me_is_a_persistent_cookie() {
    let s = server().await;
    let (_, t) = s.post("/v1/login-tickets", json!({"subject": "bob"})).await;
    let (_, issued) = s
        .post(
            "/v1/sessions",
            json!({"ticket": t["ticket"], "remember_me": true}),
        )
        .await;
    let cookie = issued["set_cookie"].as_str().unwrap();
    let max_age: u64 = cookie
        .split(';')
        .find_map(|a| a.trim().strip_prefix("Max-Age="))
        .unwrap()
        .parse()
        .unwrap();
    assert!((28_000..=28_800).contains(&max_age), "{cookie}");
}

#[tokio::test]
async fn a_ticket_taken_before_a_revocation_cannot_sign_in() {
    let s = server().await;
    let (_, old) = s
        .post("/v1/login-tickets", json!({"subject": "carol"}))
        .await;
    // The password changes while the old ticket's credential check runs.
    let (st, v) = s.post("/v1/subjects/carol/revoke-all", json!({})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = s
        .post("/v1/sessions", json!({"ticket": old["ticket"]}))
        .await;
    assert_problem(st, &v, StatusCode::CONFLICT, "subject-revoked");
    // An edited ticket (another subject under the same tag) is refused.
    let ticket = s.login("dave").await;
    let _ = ticket;
    let (_, t) = s
        .post("/v1/login-tickets", json!({"subject": "dave"}))
        .await;
    let sealed = t["ticket"].as_str().unwrap();
    let mut parts: Vec<&str> = sealed.split('.').collect();
    parts[2] = "Y2Fyb2w"; // "carol"
    let forged = parts.join(".");
    let (st, v) = s.post("/v1/sessions", json!({"ticket": forged})).await;
    assert_problem(st, &v, StatusCode::UNPROCESSABLE_ENTITY, "invalid-ticket");
}

#[tokio::test]
async fn revoke_one_all_and_all_but_current() {
    let s = server().await;
    let a = s.login("erin").await;
    let b = s.login("erin").await;
    let c = s.login("erin").await;
    let (st, list) = s
        .call(
            Method::GET,
            "/v1/subjects/erin/sessions",
            Some(&s.admin.clone()),
            None,
        )
        .await
        .into_pair();
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list["sessions"].as_array().unwrap().len(), 3);
    assert!(
        list["sessions"][0].get("data").is_none(),
        "lists carry no data"
    );
    // Revoke one by id.
    let id = b["session"]["id"].as_str().unwrap();
    let admin = s.admin.clone();
    let (st, _, _) = s
        .call(
            Method::DELETE,
            &format!("/v1/subjects/erin/sessions/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _, _) = s
        .call(
            Method::DELETE,
            &format!("/v1/subjects/erin/sessions/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Another subject's session id does not revoke across subjects.
    let f = s.login("frank").await;
    let fid = f["session"]["id"].as_str().unwrap();
    let (st, _, _) = s
        .call(
            Method::DELETE,
            &format!("/v1/subjects/erin/sessions/{fid}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // All but the current one (a password change from session c).
    let (st, v) = s
        .post(
            "/v1/subjects/erin/revoke-all",
            json!({"except_token": c["token"]}),
        )
        .await;
    assert_eq!((st, v["revoked"].as_u64()), (StatusCode::OK, Some(1)));
    let (st, _) = s
        .post("/v1/sessions/resolve", json!({"token": a["token"]}))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = s
        .post("/v1/sessions/resolve", json!({"token": c["token"]}))
        .await;
    assert_eq!(st, StatusCode::OK);
    // except_token of another subject is refused, and revokes nothing.
    let (st, v) = s
        .post(
            "/v1/subjects/erin/revoke-all",
            json!({"except_token": f["token"]}),
        )
        .await;
    assert_problem(st, &v, StatusCode::UNPROCESSABLE_ENTITY, "not-this-subject");
    let (st, _) = s
        .post("/v1/sessions/resolve", json!({"token": c["token"]}))
        .await;
    assert_eq!(st, StatusCode::OK);
}

trait Pair {
    fn into_pair(self) -> (StatusCode, Value);
}
impl Pair for (StatusCode, Value, reqwest::header::HeaderMap) {
    fn into_pair(self) -> (StatusCode, Value) {
        (self.0, self.1)
    }
}

#[tokio::test]
async fn api_keys_are_required_scoped_revocable_and_never_logged() {
    let (logs, _guard) = LogCapture::install();
    let s = server().await;
    let admin = s.admin.clone();
    assert!(admin.starts_with("tessera_key_") && admin.len() == 12 + 43);
    let body = json!({"subject": "gina"});
    // Missing, malformed, unknown: one and the same 401.
    let unknown = format!("tessera_key_{}", "A".repeat(43));
    let mut answers = Vec::new();
    for key in [
        None,
        Some("nonsense"),
        Some(unknown.as_str()),
        Some(&admin[12..]),
    ] {
        let (st, v, h) = s
            .call(Method::POST, "/v1/login-tickets", key, Some(body.clone()))
            .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        assert!(h.contains_key("www-authenticate"));
        answers.push(v);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");

    // The scheme is case-insensitive.
    let r = s
        .http
        .get(format!("{}/v1/api-keys", s.base))
        .header("authorization", format!("bearer {admin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Scopes: a read key resolves but cannot write; admin makes keys.
    let (st, made) = s
        .post(
            "/v1/api-keys",
            json!({"name": "reader", "scopes": ["read"]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{made}");
    let reader = made["secret"].as_str().unwrap().to_owned();
    let (st, v, _) = s
        .call(
            Method::POST,
            "/v1/login-tickets",
            Some(&reader),
            Some(body.clone()),
        )
        .await;
    assert_problem(st, &v, StatusCode::FORBIDDEN, "insufficient-scope");
    let (st, _, _) = s
        .call(Method::GET, "/v1/api-keys", Some(&reader), None)
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let g = s.login("gina").await;
    let (st, _, _) = s
        .call(
            Method::POST,
            "/v1/sessions/resolve",
            Some(&reader),
            Some(json!({"token": g["token"]})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);

    // Listed without secrets; revoked keys stop at once.
    let (_, list, _) = s
        .call(Method::GET, "/v1/api-keys", Some(&admin), None)
        .await;
    let text = list.to_string();
    assert!(!text.contains(&reader[12..]) && !text.contains(&admin[12..]));
    assert_eq!(list["keys"].as_array().unwrap().len(), 2);
    let id = made["key"]["id"].as_str().unwrap();
    let (st, _, _) = s
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _, _) = s
        .call(
            Method::POST,
            "/v1/sessions/resolve",
            Some(&reader),
            Some(json!({"token": g["token"]})),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // A key is not a session, and a session token is not a key.
    let (st, _) = s
        .post("/v1/sessions/resolve", json!({"token": &admin[12..]}))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let session_as_key = format!("tessera_key_{}", g["token"].as_str().unwrap());
    let (st, _, _) = s
        .call(Method::GET, "/v1/api-keys", Some(&session_as_key), None)
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // Nobody signs in as the key registry.
    let (st, v) = s
        .post("/v1/login-tickets", json!({"subject": "tessera:api-keys"}))
        .await;
    assert_problem(st, &v, StatusCode::UNPROCESSABLE_ENTITY, "reserved-subject");
    let (st, _, _) = s
        .call(
            Method::GET,
            "/v1/subjects/tessera:api-keys/sessions",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);

    // Bad key requests are 422s.
    for bad in [
        json!({"name": "", "scopes": ["read"]}),
        json!({"name": "x", "scopes": []}),
        json!({"name": "x\ny", "scopes": ["read"]}),
        json!({"name": "x", "scopes": ["root"]}),
    ] {
        let (st, v) = s.post("/v1/api-keys", bad.clone()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{bad} gave {v}");
    }

    let log = logs.contents();
    assert!(log.contains("API request refused"), "{log}");
    for secret in [
        &admin[12..],
        &reader[12..],
        g["token"].as_str().unwrap(),
        "A".repeat(43).as_str(),
    ] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
}

#[tokio::test]
async fn hostile_requests_get_problems_never_a_500() {
    let s = server().await;
    let admin = s.admin.clone();
    let url = |p: &str| format!("{}{p}", s.base);
    // Malformed JSON, wrong type, missing field, unknown field, wrong content type.
    for (body, ctype, code) in [
        ("{", "application/json", "invalid-json"),
        ("[]", "application/json", "invalid-body"),
        ("{}", "application/json", "invalid-body"),
        (
            r#"{"token": "x", "extra": 1}"#,
            "application/json",
            "invalid-body",
        ),
        (r#"{"token": "x"}"#, "text/plain", "unsupported-media-type"),
    ] {
        let r = s
            .http
            .post(url("/v1/sessions/resolve"))
            .bearer_auth(&admin)
            .header("content-type", ctype)
            .body(body)
            .send()
            .await
            .unwrap();
        let st = r.status();
        let v: Value = r.json().await.unwrap();
        assert!(st.is_client_error(), "{body}: {st}");
        assert_eq!(v["code"], code, "{body}: {v}");
    }
    // A token in the wrong field is not echoed back.
    let token = s.login("hank").await["token"].as_str().unwrap().to_owned();
    let r = s
        .http
        .post(url("/v1/sessions/elevate"))
        .bearer_auth(&admin)
        .json(&json!({"token": token, "level": token, "duration_secs": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = r.text().await.unwrap();
    assert!(!text.contains(&token), "{text}");
    // A malformed token is a 422, not a lookup.
    let (st, v) = s
        .post("/v1/sessions/resolve", json!({"token": "short"}))
        .await;
    assert_problem(st, &v, StatusCode::UNPROCESSABLE_ENTITY, "invalid-token");
    // Oversized body.
    let big = json!({"token": token, "version": 1, "data": {"x": "y".repeat(100_000)}});
    let (st, v) = s.post("/v1/sessions/data", big).await;
    assert_problem(st, &v, StatusCode::PAYLOAD_TOO_LARGE, "body-too-large");
    // Unknown route and method.
    let (st, v, _) = s.call(Method::GET, "/v1/nope", Some(&admin), None).await;
    assert_problem(st, &v, StatusCode::NOT_FOUND, "no-such-route");
    let (st, v, _) = s
        .call(Method::PUT, "/v1/sessions/resolve", Some(&admin), None)
        .await;
    assert_problem(st, &v, StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed");
    // Hostile path parameters.
    for path in [
        "/v1/subjects/%FF%FE/sessions",
        "/v1/subjects/a/sessions/zz",
        "/v1/subjects/%00/sessions",
    ] {
        let (st, v, _) = s.call(Method::GET, path, Some(&admin), None).await;
        assert!(st.is_client_error(), "{path}: {st} {v}");
        let (st, _, _) = s.call(Method::DELETE, path, Some(&admin), None).await;
        assert!(st.is_client_error(), "{path}: {st}");
    }
    // A subject of control characters or over 256 bytes.
    for subject in ["a\u{0}b".to_owned(), "x".repeat(300)] {
        let (st, v) = s
            .post("/v1/login-tickets", json!({"subject": subject}))
            .await;
        assert_problem(st, &v, StatusCode::UNPROCESSABLE_ENTITY, "invalid-subject");
    }
    // A bad IP address.
    let (_, t) = s.post("/v1/login-tickets", json!({"subject": "ivy"})).await;
    let (st, v) = s
        .post(
            "/v1/sessions",
            json!({"ticket": t["ticket"], "ip": "999.1.1.1"}),
        )
        .await;
    assert_problem(st, &v, StatusCode::UNPROCESSABLE_ENTITY, "invalid-ip");
}

#[tokio::test]
async fn forward_auth_trusts_only_the_exact_cookie_of_a_live_session() {
    let s = server().await;
    let issued = s.login("zoë").await;
    let token = issued["token"].as_str().unwrap();
    let r = s.forward(None, &[]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = s
        .forward(Some(&format!("__Host-session={token}")), &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-tessera-subject"], "zo%C3%AB");
    assert_eq!(r.headers()["x-tessera-auth-level"], "1");
    assert_eq!(r.headers()["cache-control"], "no-store");
    // Look-alike names and duplicates are never the session cookie.
    for cookie in [
        format!("__host-session={token}"),
        format!("__Host-session%20={token}"),
        format!("\u{2000}__Host-session={token}"),
        format!("__Host-session={token}; __Host-session={token}"),
        format!("__Host-session={token}x"),
    ] {
        let r = s
            .http
            .get(format!("{}/v1/forward-auth", s.base))
            .header(
                "cookie",
                reqwest::header::HeaderValue::from_bytes(cookie.as_bytes()).unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{cookie:?}");
    }
    // An API key presented as a session cookie is not a session.
    let r = s
        .forward(Some(&format!("__Host-session={}", &s.admin[12..])), &[])
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // A cross-site unsafe request is refused; a same-origin one passes.
    let cookie = format!("__Host-session={token}");
    let r = s
        .forward(
            Some(&cookie),
            &[
                ("x-forwarded-method", "POST"),
                ("sec-fetch-site", "cross-site"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = s
        .forward(
            Some(&cookie),
            &[
                ("x-original-method", "POST"),
                ("sec-fetch-site", "same-origin"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // After revoke-all, the very next request is refused and the cookie cleared.
    s.post("/v1/subjects/zoë/revoke-all", json!({})).await;
    let r = s.forward(Some(&cookie), &[]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
}

#[tokio::test]
async fn a_late_rotated_token_is_theft_and_ends_the_session() {
    let s = server_with("[session]\nrotation_grace_secs = 1").await;
    let issued = s.login("jill").await;
    let old = issued["token"].as_str().unwrap().to_owned();
    let (_, rotated) = s.post("/v1/sessions/rotate", json!({"token": old})).await;
    let new = rotated["token"].as_str().unwrap().to_owned();
    // The write that narrows the old token's window to commit + grace runs in the background
    // after the rotation answers (before it, the window is commit + 31 s): let it land, then
    // move the sessions' clock past the grace.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    s.harness
        .clock
        .advance(std::time::Duration::from_millis(2600));
    let (st, _) = s.post("/v1/sessions/resolve", json!({"token": old})).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = s.post("/v1/sessions/resolve", json!({"token": new})).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "theft ends the whole session");
    let metrics = s
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tessera_theft_suspected_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("tessera_sessions_ended_total{reason=\"theft\"} 1"));
}

#[tokio::test]
async fn metrics_count_without_naming_anyone() {
    let s = server().await;
    let a = s.login("kim").await;
    s.post("/v1/sessions/resolve", json!({"token": a["token"]}))
        .await;
    s.post("/v1/sessions/logout", json!({"token": a["token"]}))
        .await;
    s.post("/v1/sessions/resolve", json!({"token": a["token"]}))
        .await;
    let r = s
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let m = r.text().await.unwrap();
    for line in [
        "tessera_sessions_created_total 1",
        "tessera_sessions_resolved_total{result=\"live\"} 1",
        "tessera_sessions_resolved_total{result=\"none\"} 1",
        "tessera_sessions_ended_total{reason=\"logout\"} 1",
        "tessera_api_errors_total{code=\"no-session\"} 1",
    ] {
        assert!(m.contains(line), "missing {line:?} in\n{m}");
    }
    assert!(m.contains("tessera_store_seconds_count{operation=\"load\"}"));
    assert!(!m.contains("kim") && !m.contains(a["token"].as_str().unwrap()));
    let (st, v, _) = s.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((st, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (st, _, _) = s.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(st, StatusCode::OK);
}

#[tokio::test]
async fn the_openapi_document_covers_every_route_and_no_token_rides_a_url() {
    let s = server().await;
    let (st, doc, _) = s.call(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let docs = tessera_serve::routes::docs();
    assert_eq!(
        paths
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum::<usize>(),
        docs.len()
    );
    let admin = s.admin.clone();
    for d in &docs {
        let op = &paths[d.path][d.method];
        assert!(op.is_object(), "{} {} is undocumented", d.method, d.path);
        assert!(!d.path.contains("token"), "a token in a URL: {}", d.path);
        assert_eq!(op["x-tessera-scope"].as_str(), d.scope.map(Scope::as_str));
        // Every documented route exists: it answers something other than no-such-route.
        let path = d.path.replace("{subject}", "someone").replace("{id}", "00");
        let method = Method::from_bytes(d.method.to_uppercase().as_bytes()).unwrap();
        let (st, v, _) = s.call(method, &path, Some(&admin), None).await;
        assert!(
            st != StatusCode::METHOD_NOT_ALLOWED && v["code"] != "no-such-route",
            "{} {}: {st} {v}",
            d.method,
            d.path
        );
        // Every referenced schema exists.
        let text = op.to_string();
        for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = r.split('"').next().unwrap();
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "missing schema {name}"
            );
        }
    }
}
