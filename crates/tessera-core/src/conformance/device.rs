//! A spec-following DBSC client that plays the browser (a P-256 or RSA key, registration and
//! refresh proofs as the draft describes them, and hand-built variants for attacks), and the
//! device-binding properties every store must keep.

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

use super::{engine, sign_in, suite_clock};
use crate::device::{wire, DeviceAlgorithm, ProofError};
use crate::lifecycle::{Engine, Issued};
use crate::store::Store;
use crate::Error;

/// A test-only RSA-2048 key (PKCS#1 DER, base64): ring cannot generate RSA keys.
const RSA_2048: &str = include_str!("test-only-rsa2048-pkcs1.der.b64");

/// A browser's device key and the proofs it signs.
pub struct DeviceClient {
    algorithm: DeviceAlgorithm,
    key: EncodingKey,
    jwk: Value,
}

impl DeviceClient {
    /// A fresh P-256 key, as a browser makes one per session.
    pub fn es256() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        Self {
            algorithm: DeviceAlgorithm::Es256,
            key: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk,
        }
    }

    /// The suite's RSA-2048 key.
    pub fn rs256() -> Self {
        let der = STANDARD.decode(RSA_2048.trim()).unwrap();
        let pair = RsaKeyPair::from_der(&der).unwrap();
        let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
        let (n, e) = (public.n, public.e);
        Self {
            algorithm: DeviceAlgorithm::Rs256,
            key: EncodingKey::from_rsa_der(&der),
            jwk: json!({
                "kty": "RSA",
                "n": URL_SAFE_NO_PAD.encode(n),
                "e": URL_SAFE_NO_PAD.encode(e),
            }),
        }
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        self.jwk.clone()
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> DeviceAlgorithm {
        self.algorithm
    }

    /// The registration proof for `challenge`: `typ` `dbsc+jwt`, the key in `jwk`.
    pub fn registration_proof(&self, challenge: &str) -> String {
        self.sign(
            &json!({"alg": self.algorithm.name(), "typ": wire::JWT_TYPE, "jwk": self.jwk}),
            &json!({"jti": challenge}),
        )
    }

    /// The refresh proof for `challenge`: no key in the header, as the draft requires.
    pub fn refresh_proof(&self, challenge: &str) -> String {
        self.sign(
            &json!({"alg": self.algorithm.name(), "typ": wire::JWT_TYPE}),
            &json!({"jti": challenge}),
        )
    }

    /// A compact JWS of exactly this header and payload, signed with this key in its own
    /// algorithm whatever the header says: what an attacker can hand-build.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let algorithm = match self.algorithm {
            DeviceAlgorithm::Es256 => Algorithm::ES256,
            DeviceAlgorithm::Rs256 => Algorithm::RS256,
        };
        let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &self.key, algorithm).unwrap();
        format!("{input}.{signature}")
    }
}

/// Signs in and binds the session to `client`'s key; returns the bound session's issue.
pub async fn bind<S: Store>(e: &Engine<S>, subject: &str, client: &DeviceClient) -> Issued {
    let issued = sign_in(e, subject).await;
    let challenge = e
        .device_registration_challenge(&issued.session)
        .await
        .unwrap();
    e.register_device(&issued.token, &client.registration_proof(&challenge))
        .await
        .unwrap()
}

/// Refreshes `issued`'s bound session with `client`'s key.
pub async fn refresh<S: Store>(
    e: &Engine<S>,
    identifier: &str,
    client: &DeviceClient,
) -> Result<Issued, Error> {
    let challenge = e.device_refresh_challenge(identifier).await?;
    e.refresh_device(identifier, &client.refresh_proof(&challenge))
        .await
}

pub async fn device_binding_survives_rotation_and_refresh<S: Store>(store: Arc<S>) {
    let e = engine(store.clone(), suite_clock());
    for client in [DeviceClient::es256(), DeviceClient::rs256()] {
        let bound = bind(&e, "hana", &client).await;
        let stored = store
            .load(&bound.session.record().id)
            .await
            .unwrap()
            .unwrap();
        let binding = stored.device.clone().expect("the binding is stored");
        assert_eq!(binding.algorithm, client.algorithm());
        let rotated = e.rotate(&bound.token).await.unwrap();
        let after = store.load(&stored.id).await.unwrap().unwrap();
        assert_eq!(
            after.device.as_ref().map(|d| &d.thumbprint),
            Some(&binding.thumbprint)
        );
        let identifier = rotated.token.selector_text();
        let refreshed = refresh(&e, &identifier, &client).await.unwrap();
        assert!(e
            .resolve(&refreshed.token)
            .await
            .unwrap()
            .unwrap()
            .is_current_token());
        let kept = store
            .load(&stored.id)
            .await
            .unwrap()
            .unwrap()
            .device
            .unwrap();
        assert_eq!(
            kept.public_key, binding.public_key,
            "the key survives the refresh"
        );
        assert!(kept.spent_until > binding.spent_until);
    }
}

pub async fn device_challenge_is_single_use_under_race<S: Store>(store: Arc<S>) {
    let e = engine(store.clone(), suite_clock());
    let client = DeviceClient::es256();
    let bound = bind(&e, "ines", &client).await;
    let identifier = bound.token.selector_text();
    let challenge = e.device_refresh_challenge(&identifier).await.unwrap();
    let proof = client.refresh_proof(&challenge);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (e, id, p) = (e.clone(), identifier.clone(), proof.clone());
        tasks.push(tokio::spawn(async move { e.refresh_device(&id, &p).await }));
    }
    let mut winners = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => winners += 1,
            Err(Error::DeviceProof(ProofError::Challenge(_)) | Error::AlreadyRotated) => {}
            Err(other) => panic!("unexpected refresh error: {other}"),
        }
    }
    assert_eq!(winners, 1, "one challenge, one refresh");
    // And later, once the race is long over, it is still spent.
    assert!(matches!(
        e.refresh_device(&identifier, &proof).await,
        Err(Error::DeviceProof(ProofError::Challenge(_)))
    ));
}

pub async fn revocation_ends_device_refresh<S: Store>(store: Arc<S>) {
    let e = engine(store.clone(), suite_clock());
    let client = DeviceClient::es256();
    let bound = bind(&e, "jon", &client).await;
    let identifier = bound.token.selector_text();
    let challenge = e.device_refresh_challenge(&identifier).await.unwrap();
    e.revoke_all("jon", None).await.unwrap();
    assert!(matches!(
        e.refresh_device(&identifier, &client.refresh_proof(&challenge))
            .await,
        Err(Error::NoSession)
    ));
    assert!(matches!(
        e.device_refresh_challenge(&identifier).await,
        Err(Error::NoSession)
    ));
    // Logout too.
    let bound = bind(&e, "jon", &client).await;
    let identifier = bound.token.selector_text();
    let challenge = e.device_refresh_challenge(&identifier).await.unwrap();
    e.logout(&bound.token).await.unwrap();
    assert!(matches!(
        e.refresh_device(&identifier, &client.refresh_proof(&challenge))
            .await,
        Err(Error::NoSession)
    ));
}
