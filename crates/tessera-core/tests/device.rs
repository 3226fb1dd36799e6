//! Device-bound sessions (W3C DBSC), engine side: the promises and the attacks of issue 12,
//! against a real memory store with a manual clock. A spec-following client
//! (`conformance::DeviceClient`) plays the browser; hand-built JWTs play the attacker. Every
//! refusal is checked to change nothing: the record's version stays where it was.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

use std::time::Duration;

mod support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::json;
use support::{fixture, settle, Fixture};
use tessera_core::conformance::{bind, refresh, sign_in, DeviceClient};
use tessera_core::device::{DeviceAuthorization, ProofError};
use tessera_core::{Error, EventKind, Store, Token, CHALLENGE_LIFETIME};

/// Whether a refusal is the one a case expects.
type Expect = fn(&ProofError) -> bool;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The stored record's version: a refused attempt must leave it alone.
async fn version(f: &Fixture, token: &Token) -> u64 {
    f.store
        .load(&token.session_id())
        .await
        .unwrap()
        .unwrap()
        .version
}

fn refused(result: Result<tessera_core::Issued, Error>) -> ProofError {
    match result {
        Err(Error::DeviceProof(e)) => e,
        Err(other) => panic!("expected a proof refusal, got {other}"),
        Ok(_) => panic!("expected a proof refusal, got a session"),
    }
}

#[tokio::test]
async fn a_bound_token_dies_at_its_lifetime_and_only_the_key_brings_the_session_back() {
    let f = fixture();
    let device = DeviceClient::es256().unwrap();
    let bound = bind(&f.engine, "alice", &device).await;
    assert!(f
        .events
        .events()
        .iter()
        .any(|e| e.kind == EventKind::DeviceBound));
    let stolen = bound.token.clone(); // what an infostealer copies off the machine
    let lifetime = f.engine.policy().device_bound_lifetime();
    let until = bound.session.record().device.as_ref().unwrap().token_until;
    assert_eq!(until, f.engine.now().plus(lifetime));
    f.clock.advance(lifetime - secs(1));
    assert!(f.engine.resolve(&stolen).await.unwrap().is_some());
    f.clock.advance(secs(1));
    assert!(
        f.engine.resolve(&stolen).await.unwrap().is_none(),
        "the copied cookie stops working at the bound lifetime, whatever its holder does"
    );
    // The thief cannot refresh: any key but the device's is refused, and nothing changes.
    let identifier = stolen.selector_text();
    let before = version(&f, &stolen).await;
    let thief = DeviceClient::es256().unwrap();
    assert_eq!(
        refused(refresh(&f.engine, &identifier, &thief).await),
        ProofError::Signature
    );
    assert_eq!(version(&f, &stolen).await, before);
    // The device can, within the idle timeout: a new token, good for another lifetime.
    let fresh = refresh(&f.engine, &identifier, &device).await.unwrap();
    assert!(f
        .events
        .events()
        .iter()
        .any(|e| e.kind == EventKind::DeviceRefreshed));
    assert!(f
        .engine
        .resolve(&fresh.token)
        .await
        .unwrap()
        .unwrap()
        .is_current_token());
    assert_ne!(fresh.token.expose(), stolen.expose());
    assert_eq!(
        fresh.token.session_id(),
        stolen.session_id(),
        "same session"
    );
    // The dead copy gets no grace window from the refresh: presenting it now is theft, which
    // ends the session (as for any rotated-out token presented late).
    assert!(f.engine.resolve(&stolen).await.unwrap().is_none());
    assert!(f
        .events
        .events()
        .iter()
        .any(|e| e.kind == EventKind::TheftSuspected));
}

#[tokio::test]
async fn a_stolen_token_used_after_a_refresh_is_theft() {
    let f = fixture();
    let device = DeviceClient::es256().unwrap();
    let bound = bind(&f.engine, "bob", &device).await;
    let stolen = bound.token.clone();
    let fresh = refresh(&f.engine, &stolen.selector_text(), &device)
        .await
        .unwrap();
    settle().await;
    // Inside the grace window an in-flight request with the old cookie is still served.
    assert!(f.engine.resolve(&stolen).await.unwrap().is_some());
    f.clock
        .advance(f.engine.policy().rotation_grace() + secs(1));
    assert!(f.engine.resolve(&stolen).await.unwrap().is_none());
    assert!(f
        .events
        .events()
        .iter()
        .any(|e| e.kind == EventKind::TheftSuspected));
    assert!(
        f.engine.resolve(&fresh.token).await.unwrap().is_none(),
        "the session ended"
    );
}

#[tokio::test]
async fn rsa_keys_bind_and_refresh_too() {
    let f = fixture();
    let device = DeviceClient::rs256();
    let bound = bind(&f.engine, "carol", &device).await;
    let fresh = refresh(&f.engine, &bound.token.selector_text(), &device)
        .await
        .unwrap();
    assert!(f.engine.resolve(&fresh.token).await.unwrap().is_some());
}

#[tokio::test]
async fn sessions_without_a_device_key_keep_their_normal_lifetime() {
    let f = fixture();
    let plain = sign_in(&f.engine, "dora").await;
    f.clock.advance(secs(20 * 60)); // past a bound lifetime, inside the idle timeout
    assert!(f.engine.resolve(&plain.token).await.unwrap().is_some());
    // And a refresh of a session that never bound a key is no session at all.
    assert!(matches!(
        f.engine
            .device_refresh_challenge(&plain.token.selector_text())
            .await,
        Err(Error::NoSession)
    ));
}

#[tokio::test]
async fn a_replayed_refresh_proof_is_refused() {
    let f = fixture();
    let device = DeviceClient::es256().unwrap();
    let bound = bind(&f.engine, "erin", &device).await;
    let identifier = bound.token.selector_text();
    let challenge = f
        .engine
        .device_refresh_challenge(&identifier)
        .await
        .unwrap();
    let proof = device.refresh_proof(&challenge);
    let first = f.engine.refresh_device(&identifier, &proof).await.unwrap();
    let before = version(&f, &first.token).await;
    assert!(matches!(
        refused(f.engine.refresh_device(&identifier, &proof).await),
        ProofError::Challenge(_)
    ));
    assert_eq!(version(&f, &first.token).await, before);
    // An older challenge, issued before the one spent, is spent too.
    let old = f
        .engine
        .device_refresh_challenge(&identifier)
        .await
        .unwrap();
    f.clock.advance(Duration::from_millis(5));
    let newer = f
        .engine
        .device_refresh_challenge(&identifier)
        .await
        .unwrap();
    f.engine
        .refresh_device(&identifier, &device.refresh_proof(&newer))
        .await
        .unwrap();
    assert!(matches!(
        refused(
            f.engine
                .refresh_device(&identifier, &device.refresh_proof(&old))
                .await
        ),
        ProofError::Challenge(_)
    ));
}

#[tokio::test]
async fn a_challenge_of_another_session_or_step_or_age_is_refused() {
    let f = fixture();
    let (device, other_device) = (
        DeviceClient::es256().unwrap(),
        DeviceClient::es256().unwrap(),
    );
    let mine = bind(&f.engine, "fay", &device).await;
    let theirs = bind(&f.engine, "gus", &other_device).await;
    let (me, them) = (mine.token.selector_text(), theirs.token.selector_text());
    // Their challenge, signed with my key, for my session.
    let their_challenge = f.engine.device_refresh_challenge(&them).await.unwrap();
    assert!(matches!(
        refused(
            f.engine
                .refresh_device(&me, &device.refresh_proof(&their_challenge))
                .await
        ),
        ProofError::Challenge(_)
    ));
    // A registration challenge is not a refresh challenge.
    let plain = sign_in(&f.engine, "fay").await;
    let registration = f
        .engine
        .device_registration_challenge(&plain.session, None)
        .await
        .unwrap();
    assert!(matches!(
        refused(
            f.engine
                .refresh_device(&me, &device.refresh_proof(&registration))
                .await
        ),
        ProofError::Challenge(_)
    ));
    // A stale challenge.
    let stale = f.engine.device_refresh_challenge(&me).await.unwrap();
    f.clock.advance(CHALLENGE_LIFETIME + secs(1));
    assert!(matches!(
        refused(
            f.engine
                .refresh_device(&me, &device.refresh_proof(&stale))
                .await
        ),
        ProofError::Challenge(_)
    ));
    // A made-up one.
    let forged = URL_SAFE_NO_PAD.encode([7u8; 56]);
    assert!(matches!(
        refused(
            f.engine
                .refresh_device(&me, &device.refresh_proof(&forged))
                .await
        ),
        ProofError::Challenge(_)
    ));
}

#[tokio::test]
async fn registration_refuses_every_malformed_or_hostile_proof() {
    let f = fixture();
    let device = DeviceClient::es256().unwrap();
    let issued = sign_in(&f.engine, "hal").await;
    let challenge = f
        .engine
        .device_registration_challenge(&issued.session, None)
        .await
        .unwrap();
    let before = version(&f, &issued.token).await;
    let jwk = device.jwk();
    let claims = json!({"jti": challenge});
    let with_private = {
        let mut k = jwk.clone();
        k["d"] = json!(URL_SAFE_NO_PAD.encode([1u8; 32]));
        k
    };
    let small_rsa = json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xC5u8; 128]), "e": "AQAB"});
    let none_header =
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "dbsc+jwt", "jwk": jwk}).to_string());
    let cases: Vec<(&str, String, Expect)> = vec![
        (
            "alg none, unsigned",
            format!(
                "{none_header}.{}.",
                URL_SAFE_NO_PAD.encode(claims.to_string())
            ),
            |e| matches!(e, ProofError::Algorithm(_)),
        ),
        (
            "alg HS256 (the public key as an HMAC secret)",
            device.sign(
                &json!({"alg": "HS256", "typ": "dbsc+jwt", "jwk": jwk}),
                &claims,
            ),
            |e| matches!(e, ProofError::Algorithm(_)),
        ),
        (
            "RS256 claimed for a P-256 key",
            device.sign(
                &json!({"alg": "RS256", "typ": "dbsc+jwt", "jwk": jwk}),
                &claims,
            ),
            |e| matches!(e, ProofError::Algorithm(_)),
        ),
        (
            "wrong typ",
            device.sign(&json!({"alg": "ES256", "typ": "JWT", "jwk": jwk}), &claims),
            |e| *e == ProofError::Type,
        ),
        (
            "no key",
            device.sign(&json!({"alg": "ES256", "typ": "dbsc+jwt"}), &claims),
            |e| matches!(e, ProofError::Key(_)),
        ),
        (
            "a private key in the jwk",
            device.sign(
                &json!({"alg": "ES256", "typ": "dbsc+jwt", "jwk": with_private}),
                &claims,
            ),
            |e| matches!(e, ProofError::Key(_)),
        ),
        (
            "RSA-5000 (costly to verify, chosen by the sender)",
            device.sign(
                &json!({"alg": "RS256", "typ": "dbsc+jwt", "jwk": {"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xC5u8; 625]), "e": "AQAB"}}),
                &claims,
            ),
            |e| matches!(e, ProofError::Key(_)),
        ),
        (
            "iat not a number",
            device.sign(
                &json!({"alg": "ES256", "typ": "dbsc+jwt", "jwk": jwk}),
                &json!({"jti": challenge, "iat": "yesterday"}),
            ),
            |e| matches!(e, ProofError::Claims(_)),
        ),
        (
            "RSA-1024",
            device.sign(
                &json!({"alg": "RS256", "typ": "dbsc+jwt", "jwk": small_rsa}),
                &claims,
            ),
            |e| matches!(e, ProofError::Key(_)),
        ),
        (
            "signed by another key than the one it presents",
            DeviceClient::es256().unwrap().sign(
                &json!({"alg": "ES256", "typ": "dbsc+jwt", "jwk": jwk}),
                &claims,
            ),
            |e| *e == ProofError::Signature,
        ),
        (
            "no jti",
            device.sign(
                &json!({"alg": "ES256", "typ": "dbsc+jwt", "jwk": jwk}),
                &json!({}),
            ),
            |e| matches!(e, ProofError::Claims(_)),
        ),
        (
            "iat an hour off",
            device.sign(
                &json!({"alg": "ES256", "typ": "dbsc+jwt", "jwk": jwk}),
                &json!({"jti": challenge, "iat": f.engine.now().as_millis() / 1000 - 3600}),
            ),
            |e| matches!(e, ProofError::Claims(_)),
        ),
        ("not a JWS", "a.b".to_string(), |e| {
            *e == ProofError::Malformed
        }),
        ("oversized", "a".repeat(9000) + ".b.c", |e| {
            *e == ProofError::Malformed
        }),
    ];
    for (what, proof, expected) in cases {
        let e = refused(f.engine.register_device(&issued.token, &proof).await);
        assert!(expected(&e), "{what}: refused for the wrong reason: {e}");
        let message = e.to_string();
        assert!(
            !message.contains(&challenge) && !message.contains(&proof[..proof.len().min(40)]),
            "{what}: the error echoes the proof: {message}"
        );
        assert_eq!(
            version(&f, &issued.token).await,
            before,
            "{what}: changed the session"
        );
    }
    // Another session's registration challenge.
    let other = sign_in(&f.engine, "ivy").await;
    let theirs = f
        .engine
        .device_registration_challenge(&other.session, None)
        .await
        .unwrap();
    assert!(matches!(
        refused(
            f.engine
                .register_device(&issued.token, &device.registration_proof(&theirs))
                .await
        ),
        ProofError::Challenge(_)
    ));
    // The honest proof then binds, once; its `iat` as the draft's example writes it, a string.
    let honest = device.sign(
        &json!({"alg": "ES256", "typ": "dbsc+jwt", "jwk": jwk}),
        &json!({"jti": challenge, "iat": (f.engine.now().as_millis() / 1000).to_string()}),
    );
    let bound = f
        .engine
        .register_device(&issued.token, &honest)
        .await
        .unwrap();
    let again = f
        .engine
        .device_registration_challenge(&bound.session, None)
        .await
        .unwrap();
    assert!(matches!(
        f.engine
            .register_device(
                &bound.token,
                &DeviceClient::es256().unwrap().registration_proof(&again)
            )
            .await,
        Err(Error::DeviceAlreadyBound)
    ));
}

#[tokio::test]
async fn refresh_refuses_a_downgrade_a_key_in_the_proof_and_a_bad_identifier() {
    let f = fixture();
    let device = DeviceClient::es256().unwrap();
    let bound = bind(&f.engine, "jay", &device).await;
    let identifier = bound.token.selector_text();
    let before = version(&f, &bound.token).await;
    let challenge = f
        .engine
        .device_refresh_challenge(&identifier)
        .await
        .unwrap();
    let claims = json!({"jti": challenge});
    // Signed with an RSA key in RS256: not the algorithm the session was bound with.
    let downgrade = DeviceClient::rs256().refresh_proof(&challenge);
    assert!(matches!(
        refused(f.engine.refresh_device(&identifier, &downgrade).await),
        ProofError::Algorithm(_)
    ));
    // The right key, but carrying a key of its own.
    let with_key = device.sign(
        &json!({"alg": "ES256", "typ": "dbsc+jwt", "jwk": DeviceClient::es256().unwrap().jwk()}),
        &claims,
    );
    assert!(matches!(
        refused(f.engine.refresh_device(&identifier, &with_key).await),
        ProofError::Key(_)
    ));
    assert_eq!(version(&f, &bound.token).await, before);
    for bad in ["", "short", &"A".repeat(23), "!!!!!!!!!!!!!!!!!!!!!!"] {
        assert!(matches!(
            f.engine
                .refresh_device(bad, &device.refresh_proof(&challenge))
                .await,
            Err(Error::NoSession)
        ));
        assert!(matches!(
            f.engine.device_refresh_challenge(bad).await,
            Err(Error::NoSession)
        ));
    }
    // The honest proof still works after all that.
    f.engine
        .refresh_device(&identifier, &device.refresh_proof(&challenge))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_bound_session_still_ends_at_its_idle_and_absolute_deadlines() {
    let f = fixture();
    let device = DeviceClient::es256().unwrap();
    let bound = bind(&f.engine, "kim", &device).await;
    let identifier = bound.token.selector_text();
    f.clock.advance(f.engine.policy().idle_timeout() + secs(1));
    assert!(matches!(
        refresh(&f.engine, &identifier, &device).await,
        Err(Error::NoSession)
    ));
}

/// Found by review: a refresh presents no token, so the queue of sign-outs waiting for the
/// store (an outage) must be asked by session; otherwise a refresh during the outage's retry
/// window minted a fresh token for a session its user had signed out of.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_queued_during_an_outage_stops_refreshes_at_once() {
    use std::sync::Arc;
    use tessera_core::conformance::Faulty;
    use tessera_core::{Engine, LogoutOutcome, MemoryStore};
    let store = Arc::new(Faulty::new(MemoryStore::new()));
    let engine = Engine::new(Arc::clone(&store));
    let device = DeviceClient::es256().unwrap();
    let bound = bind(&engine, "lou", &device).await;
    let identifier = bound.token.selector_text();
    let challenge = engine.device_refresh_challenge(&identifier).await.unwrap();
    // Reads work, writes fail: the sign-out is queued, the record still there.
    store.set_writes_down(true);
    assert_eq!(
        engine.logout_or_defer(&bound.token).await,
        LogoutOutcome::Pending
    );
    // Still during the outage (so the queued delete cannot have landed): refused before any
    // write is tried, not a store error.
    assert!(matches!(
        engine
            .refresh_device(&identifier, &device.refresh_proof(&challenge))
            .await,
        Err(Error::NoSession)
    ));
    assert!(matches!(
        engine.device_refresh_challenge(&identifier).await,
        Err(Error::NoSession)
    ));
    store.set_writes_down(false);
}

#[tokio::test]
async fn an_offered_authorization_must_come_back_in_the_proof_exactly() {
    let f = fixture();
    let device = DeviceClient::es256().unwrap();
    let code = DeviceAuthorization::new("one-time code 42").unwrap();
    assert!(!format!("{code:?}").contains("42"), "Debug shows the value");
    let s = sign_in(&f.engine, "hal").await;
    let offer = || {
        f.engine
            .device_registration_challenge(&s.session, Some(&code))
    };
    let before = version(&f, &s.token).await;
    // Without the value, with another one, and with it in another case: refused, unchanged.
    for claim in [None, Some("one-time code 43"), Some("ONE-TIME CODE 42")] {
        let challenge = offer().await.unwrap();
        let proof = device.registration_proof_with(&challenge, claim);
        assert!(matches!(
            refused(f.engine.register_device(&s.token, &proof).await),
            ProofError::Challenge(_)
        ));
        assert_eq!(version(&f, &s.token).await, before);
    }
    // A value in the proof when the offer named none: refused too.
    let plain = f
        .engine
        .device_registration_challenge(&s.session, None)
        .await
        .unwrap();
    let proof = device.registration_proof_with(&plain, Some("one-time code 42"));
    assert!(matches!(
        refused(f.engine.register_device(&s.token, &proof).await),
        ProofError::Challenge(_)
    ));
    // The offered value binds.
    let challenge = offer().await.unwrap();
    let proof = device.registration_proof_with(&challenge, Some("one-time code 42"));
    let bound = f.engine.register_device(&s.token, &proof).await.unwrap();
    assert!(bound.session.record().device.is_some());
    // Values that cannot go into a structured header as they are.
    for bad in ["", "a\"b", "a\\b", "tab\there", "é", &"x".repeat(1025)] {
        assert!(DeviceAuthorization::new(bad).is_err(), "{bad:?} accepted");
    }
    assert!(DeviceAuthorization::new(&"x".repeat(1024)).is_ok());
}
