//! Device-bound sessions (W3C DBSC) through the service, for apps in any language: a
//! spec-following client (`conformance::DeviceClient`) plays the browser, the test plays the app
//! that relays its DBSC requests to `/v1/device/*`, and forward-auth checks the bound cookie.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use tessera_core::conformance::DeviceClient;

struct Server {
    base: String,
    admin: String,
    http: Client,
    harness: support::Harness,
}

async fn server() -> Server {
    let harness = support::start("device", "").await;
    Server {
        base: harness.base.clone(),
        admin: harness.admin.clone(),
        http: support::http(true),
        harness,
    }
}

impl Server {
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        assert!(!status.is_server_error(), "{path}: {status}");
        (status, resp.json().await.unwrap())
    }

    async fn forward(&self, token: &str) -> StatusCode {
        self.http
            .get(format!("{}/v1/forward-auth", self.base))
            .header("cookie", format!("__Host-session={token}"))
            .send()
            .await
            .unwrap()
            .status()
    }

    /// A relayed refresh request: the session's identifier, and a proof when answering.
    async fn refresh(&self, identifier: &str, proof: Option<&str>) -> Value {
        let mut body = json!({"session_identifier": identifier});
        if let Some(proof) = proof {
            body["proof"] = json!(proof);
        }
        self.post("/v1/device/refresh", body).await.1
    }

    /// The challenge of a first refresh request (403 with `Secure-Session-Challenge`).
    async fn refresh_challenge(&self, identifier: &str) -> String {
        let first = self.refresh(identifier, None).await;
        assert_eq!(first["status"], 403, "{first}");
        header(&first, "secure-session-challenge")
            .unwrap()
            .split('"')
            .nth(1)
            .unwrap()
            .to_owned()
    }
}

/// The answer's header `name`, if any.
fn header<'a>(answer: &'a Value, name: &str) -> Option<&'a str> {
    answer["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .and_then(|h| h["value"].as_str())
}

/// The token and Max-Age of the answer's bound cookie.
fn bound(answer: &Value) -> (String, u64) {
    let set = header(answer, "set-cookie").expect("a Set-Cookie");
    let token = set
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("__Host-session=")
        .unwrap();
    let max_age = set
        .split("; ")
        .find_map(|a| a.strip_prefix("Max-Age="))
        .unwrap()
        .parse()
        .unwrap();
    (token.to_owned(), max_age)
}

#[tokio::test]
async fn an_app_in_any_language_binds_and_refreshes_through_the_service() {
    let s = server().await;
    let (_, ticket) = s
        .post("/v1/login-tickets", json!({"subject": "alice"}))
        .await;
    let (st, issued) = s
        .post("/v1/sessions", json!({"ticket": ticket["ticket"]}))
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let plain = issued["token"].as_str().unwrap().to_owned();

    // The sign-in response's header, for the app's own registration path.
    let (st, offer) = s
        .post(
            "/v1/device/offer",
            json!({"token": plain, "registration_path": "/auth/dbsc/start"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{offer}");
    assert_eq!(offer["header"], "Secure-Session-Registration");
    let value = offer["value"].as_str().unwrap();
    assert!(
        value.starts_with("(ES256 RS256);path=\"/auth/dbsc/start\";challenge=\""),
        "{value}"
    );
    let challenge = value
        .rsplit("challenge=\"")
        .next()
        .unwrap()
        .trim_end_matches('"');

    // The browser's registration, relayed.
    let device = DeviceClient::rs256();
    let (st, answer) = s
        .post(
            "/v1/device/registration",
            json!({"token": plain, "proof": device.registration_proof(challenge), "refresh_path": "/auth/dbsc/refresh"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(header(&answer, "cache-control"), Some("no-store"));
    let (token, max_age) = bound(&answer);
    assert!((569..=570).contains(&max_age), "Max-Age {max_age}");
    assert_eq!(answer["body"]["refresh_url"], "/auth/dbsc/refresh");
    assert_eq!(answer["body"]["credentials"][0]["name"], "__Host-session");
    let identifier = answer["body"]["session_identifier"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        s.forward(&token).await,
        StatusCode::OK,
        "forward-auth honours the bound cookie"
    );

    // Refresh: first a challenge, then the proof.
    let challenge = s.refresh_challenge(&identifier).await;
    let thief = DeviceClient::es256().unwrap();
    let stolen = s
        .refresh(&identifier, Some(&thief.refresh_proof(&challenge)))
        .await;
    assert_eq!(stolen["status"], 403, "another key is refused: {stolen}");
    assert!(header(&stolen, "set-cookie").is_none());
    let fresh = s
        .refresh(&identifier, Some(&device.refresh_proof(&challenge)))
        .await;
    assert_eq!(fresh["status"], 200, "{fresh}");
    let (renewed, _) = bound(&fresh);
    assert_ne!(renewed, token);
    assert_eq!(s.forward(&renewed).await, StatusCode::OK);

    // Sign out: the browser is told to stop.
    let (st, _) = s
        .post("/v1/sessions/logout", json!({"token": renewed}))
        .await;
    assert_eq!(st, StatusCode::OK);
    let over = s.refresh(&identifier, None).await;
    assert_eq!(over["status"], 200);
    assert_eq!(over["body"]["continue"], false);
    assert_ne!(s.forward(&renewed).await, StatusCode::OK);
}

/// The challenge in a `Secure-Session-Registration` value.
fn challenge_of(offer: &str) -> &str {
    offer
        .split(';')
        .find_map(|p| p.strip_prefix("challenge=\""))
        .unwrap()
        .trim_end_matches('"')
}

#[tokio::test]
async fn an_offered_authorization_is_required_and_a_copied_bound_cookie_dies_at_its_lifetime() {
    let s = server().await;
    let (_, ticket) = s.post("/v1/login-tickets", json!({"subject": "cy"})).await;
    let (_, issued) = s
        .post("/v1/sessions", json!({"ticket": ticket["ticket"]}))
        .await;
    let plain = issued["token"].as_str().unwrap().to_owned();
    let offer = |authorization: &str| {
        s.post(
            "/v1/device/offer",
            json!({"token": plain, "authorization": authorization}),
        )
    };
    // A value that cannot go into the header as it is: a problem, not an offer.
    let (st, problem) = offer("a\"b").await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (st, answer) = offer("code-7f3a").await;
    assert_eq!(st, StatusCode::OK, "{answer}");
    let value = answer["value"].as_str().unwrap().to_owned();
    assert!(value.ends_with(";authorization=\"code-7f3a\""), "{value}");
    let device = DeviceClient::es256().unwrap();
    let register = |proof: String| {
        s.post(
            "/v1/device/registration",
            json!({"token": plain, "proof": proof}),
        )
    };
    // The browser must copy the value: without it, or with another, nothing is bound.
    for claim in [None, Some("code-0000")] {
        let (_, refused) =
            register(device.registration_proof_with(challenge_of(&value), claim)).await;
        assert_ne!(refused["status"], 200, "{refused}");
        assert!(header(&refused, "set-cookie").is_none(), "{refused}");
    }
    let (_, ok) =
        register(device.registration_proof_with(challenge_of(&value), Some("code-7f3a"))).await;
    assert_eq!(ok["status"], 200, "{ok}");
    let (token, _) = bound(&ok);
    let identifier = ok["body"]["session_identifier"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(s.forward(&token).await, StatusCode::OK);

    // The bound cookie, copied off the device: forward-auth refuses it at the bound lifetime
    // (10 minutes by default), long before the 30-minute idle timeout.
    s.harness.clock.advance(Duration::from_secs(599));
    assert_eq!(s.forward(&token).await, StatusCode::OK);
    s.harness.clock.advance(Duration::from_secs(1));
    assert_eq!(s.forward(&token).await, StatusCode::UNAUTHORIZED);
    // The device's key brings the session back.
    let challenge = s.refresh_challenge(&identifier).await;
    let fresh = s
        .refresh(&identifier, Some(&device.refresh_proof(&challenge)))
        .await;
    assert_eq!(fresh["status"], 200, "{fresh}");
    let (renewed, _) = bound(&fresh);
    assert_eq!(s.forward(&renewed).await, StatusCode::OK);
    assert_eq!(s.forward(&token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn hostile_device_calls_get_problems() {
    let s = server().await;
    let (_, ticket) = s.post("/v1/login-tickets", json!({"subject": "bob"})).await;
    let (_, issued) = s
        .post("/v1/sessions", json!({"ticket": ticket["ticket"]}))
        .await;
    let token = issued["token"].as_str().unwrap();
    for (path, body, status) in [
        (
            "/v1/device/offer",
            json!({"token": token, "registration_path": "no-slash"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/v1/device/offer",
            json!({"token": token, "registration_path": "/a\"b"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/v1/device/offer",
            json!({"token": token, "extra": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/v1/device/offer",
            json!({"token": "A".repeat(43)}),
            StatusCode::NOT_FOUND,
        ),
        (
            "/v1/device/registration",
            json!({"token": token, "proof": "a.b.c"}),
            StatusCode::OK,
        ),
        (
            "/v1/device/refresh",
            json!({"session_identifier": "x\ny"}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (st, v) = s.post(path, body.clone()).await;
        assert_eq!(st, status, "{path} {body}: {v}");
        assert!(!v.to_string().contains("no-slash"), "input echoed: {v}");
    }
    // A relayed refusal is an answer with a 4xx status for the browser, not a problem.
    let (_, v) = s
        .post(
            "/v1/device/registration",
            json!({"token": token, "proof": "a.b.c"}),
        )
        .await;
    assert_eq!(v["status"], 403, "{v}");
}
