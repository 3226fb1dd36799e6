//! Device-bound sessions (W3C DBSC) on `tessera demo`, a real process over HTTP with a real
//! SQLite file: a spec-following client (`conformance::DeviceClient`) plays a DBSC browser
//! through registration and refresh, and an attacker replays, forges and copies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

mod support;

use reqwest::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use support::user::{account_with, client, User, NAME};
use support::Server;
use tessera_core::conformance::DeviceClient;

const REGISTRATION: &str = "Secure-Session-Registration";
const RESPONSE: &str = "Secure-Session-Response";
const CHALLENGE: &str = "Secure-Session-Challenge";
const SESSION_ID: &str = "Sec-Secure-Session-Id";

fn demo() -> Server {
    Server::start(&["demo", "--store", "sqlite://sessions.db"])
}

/// `(ES256 RS256);path="…";challenge="…"` → (path, challenge).
fn offer(resp: &Response) -> (String, String) {
    let value = resp.headers()[REGISTRATION].to_str().unwrap().to_owned();
    assert!(value.starts_with("(ES256 RS256);"), "{value}");
    let param = |name: &str| {
        let start = value.find(&format!(";{name}=\"")).unwrap() + name.len() + 3;
        value[start..].split('"').next().unwrap().to_owned()
    };
    (param("path"), param("challenge"))
}

/// The session cookie a response sets, with its `Max-Age`.
fn bound_cookie(resp: &Response) -> (String, u64) {
    let set = resp.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let value = set
        .split(';')
        .next()
        .unwrap()
        .strip_prefix(&format!("{NAME}="))
        .unwrap();
    let max_age = set
        .split("; ")
        .find_map(|a| a.strip_prefix("Max-Age="))
        .expect("a bound cookie has a Max-Age")
        .parse()
        .unwrap();
    (value.to_owned(), max_age)
}

/// `"…";id="…"` → the challenge.
fn challenge_of(resp: &Response) -> String {
    let value = resp.headers()[CHALLENGE].to_str().unwrap();
    value.split('"').nth(1).unwrap().to_owned()
}

async fn post(server: &Server, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = client().post(format!("{}{path}", server.base));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn a_dbsc_browser_binds_refreshes_and_an_attacker_gets_nothing() {
    let server = demo();
    let mut u = User::new(&server);
    let login = u.login("alice", "wonderland").await;
    let (path, challenge) = offer(&login);
    let plain = u.cookie.clone().unwrap();
    let device = DeviceClient::es256().unwrap();

    // Registration: the sign-in's cookie and a proof over the offered challenge.
    let resp = post(
        &server,
        &path,
        &[
            ("cookie", &format!("{NAME}={plain}")),
            (RESPONSE, &device.registration_proof(&challenge)),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    let (bound, max_age) = bound_cookie(&resp);
    // The default bound lifetime less the 30 s margin, cut to whole seconds: the browser lets go
    // of the cookie before any server stops honouring it.
    assert!((569..=570).contains(&max_age), "Max-Age {max_age}");
    let instructions: Value = resp.json().await.unwrap();
    let identifier = instructions["session_identifier"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh_url = instructions["refresh_url"].as_str().unwrap().to_owned();
    assert_eq!(instructions["credentials"][0]["name"], NAME);
    assert_eq!(instructions["credentials"][0]["type"], "cookie");
    assert_eq!(instructions["scope"]["include_site"], false);
    assert!(
        !instructions.to_string().contains(&bound),
        "no token in the instructions"
    );
    assert_eq!(
        account_with(&server, &format!("{NAME}={bound}")).await.0,
        StatusCode::OK
    );

    // The session list says so.
    u.cookie = Some(bound.clone());
    let (_, html, _) = u.get("/sessions").await;
    assert!(html.contains("bound to this device"), "{html}");

    // Registering again, with another key, is refused.
    let again = post(
        &server,
        &path,
        &[
            ("cookie", &format!("{NAME}={bound}")),
            (
                RESPONSE,
                &DeviceClient::es256()
                    .unwrap()
                    .registration_proof(&challenge),
            ),
        ],
    )
    .await;
    assert!(again.status().is_client_error());
    assert!(again.headers().get(SET_COOKIE).is_none());

    // Refresh: a challenge first, then the proof.
    let first = post(&server, &refresh_url, &[(SESSION_ID, &identifier)]).await;
    assert_eq!(first.status(), StatusCode::FORBIDDEN);
    let c1 = challenge_of(&first);

    // An attacker with the identifier and a challenge, but another key: refused, no cookie,
    // and a fresh challenge for the honest browser.
    let thief = DeviceClient::es256().unwrap();
    let forged = post(
        &server,
        &refresh_url,
        &[
            (SESSION_ID, &identifier),
            (RESPONSE, &thief.refresh_proof(&c1)),
        ],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged.headers().get(SET_COOKIE).is_none());
    assert!(forged.headers().get(CHALLENGE).is_some());
    // alg none, unsigned.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "dbsc+jwt"})),
        b64(&json!({"jti": c1}))
    );
    let unsigned = post(
        &server,
        &refresh_url,
        &[(SESSION_ID, &identifier), (RESPONSE, &none)],
    )
    .await;
    assert_eq!(unsigned.status(), StatusCode::FORBIDDEN);
    assert!(unsigned.headers().get(SET_COOKIE).is_none());

    // The device's proof works, once; sent as the draft sends it, a structured-header string.
    let proof = format!("\"{}\"", device.refresh_proof(&c1));
    let ok = post(
        &server,
        &refresh_url,
        &[(SESSION_ID, &identifier), (RESPONSE, &proof)],
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let (fresh, max_age) = bound_cookie(&ok);
    assert!((569..=570).contains(&max_age), "Max-Age {max_age}");
    assert_ne!(fresh, bound);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["session_identifier"], identifier.as_str());
    assert_eq!(
        account_with(&server, &format!("{NAME}={fresh}")).await.0,
        StatusCode::OK
    );
    let replay = post(
        &server,
        &refresh_url,
        &[(SESSION_ID, &identifier), (RESPONSE, &proof)],
    )
    .await;
    assert_eq!(replay.status(), StatusCode::FORBIDDEN, "a spent challenge");
    assert!(replay.headers().get(SET_COOKIE).is_none());

    // Sign out: the browser is told to stop refreshing.
    let mut v = User::new(&server);
    v.cookie = Some(fresh.clone());
    v.submit("/account", "/logout", &[]).await;
    let over = post(&server, &refresh_url, &[(SESSION_ID, &identifier)]).await;
    assert_eq!(over.status(), StatusCode::OK);
    let body: Value = over.json().await.unwrap();
    assert_eq!(body["continue"], false);
    assert_ne!(
        account_with(&server, &format!("{NAME}={fresh}")).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn hostile_input_at_the_device_endpoints_gets_a_clear_4xx() {
    let server = demo();
    let refresh = "/.tessera/dbsc/refresh";
    let registration = "/.tessera/dbsc/registration";
    let long = "x".repeat(20_000);
    for (path, headers) in [
        (refresh, vec![]),
        (refresh, vec![(SESSION_ID, "not-an-id")]),
        (refresh, vec![(SESSION_ID, long.as_str())]),
        (registration, vec![]),
        (registration, vec![(RESPONSE, "a.b.c")]),
        (
            registration,
            vec![("cookie", "__Host-session=AAAA"), (RESPONSE, long.as_str())],
        ),
    ] {
        let resp = post(&server, path, &headers).await;
        let status = resp.status();
        let body = resp.text().await.unwrap();
        // A refresh for no session says "stop" (200, continue false); everything else is 4xx.
        assert!(
            status.is_client_error()
                || (status == StatusCode::OK && body.contains("\"continue\":false")),
            "{path} {headers:?}: {status} {body}"
        );
        assert!(
            !body.contains("not-an-id") && !body.contains("xxxx"),
            "input reflected: {body}"
        );
    }
    // A plain browser (no DBSC) is unaffected: its session cookie has no Max-Age.
    let mut u = User::new(&server);
    let login = u.login("alice", "wonderland").await;
    let set = login.headers()[SET_COOKIE].to_str().unwrap();
    assert!(!set.contains("Max-Age"), "{set}");
    let _ = COOKIE;
}

fn b64(v: &Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}
