//! A spec-following DBSC client: what a browser does with its device key (a P-256 key,
//! registration and refresh proofs as the draft describes them), and hand-built variants for
//! attacks. The inspector probes a target's DBSC endpoints with it; tests play the browser.

#[cfg(feature = "conformance")]
use base64::engine::general_purpose::STANDARD;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use ring::rand::SystemRandom;
#[cfg(feature = "conformance")]
use ring::signature::RsaKeyPair;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

use super::{wire, DeviceAlgorithm};

/// A test-only RSA-2048 key (PKCS#1 DER, base64): ring cannot generate RSA keys.
#[cfg(feature = "conformance")]
const RSA_2048: &str = include_str!("../conformance/test-only-rsa2048-pkcs1.der.b64");

/// A browser's device key and the proofs it signs.
pub struct DeviceClient {
    algorithm: DeviceAlgorithm,
    key: EncodingKey,
    jwk: Value,
}

impl DeviceClient {
    /// A fresh P-256 key, as a browser makes one per session. `None` only if the operating
    /// system's random generator fails.
    pub fn es256() -> Option<Self> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).ok()?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .ok()?;
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(point.get(1..33)?),
            "y": URL_SAFE_NO_PAD.encode(point.get(33..65)?),
        });
        Some(Self {
            algorithm: DeviceAlgorithm::Es256,
            key: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk,
        })
    }

    /// The test suite's RSA-2048 key (ring cannot generate RSA keys); tests only.
    #[cfg(feature = "conformance")]
    #[allow(clippy::unwrap_used)] // a fixture compiled into this crate: it parses or the build is broken
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
        self.registration_proof_with(challenge, None)
    }

    /// The registration proof for an offer that named an `authorization` value: the browser
    /// copies it into the claims.
    pub fn registration_proof_with(&self, challenge: &str, authorization: Option<&str>) -> String {
        let mut claims = json!({"jti": challenge});
        if let (Some(value), Some(map)) = (authorization, claims.as_object_mut()) {
            map.insert(wire::AUTHORIZATION.to_owned(), json!(value));
        }
        self.sign(
            &json!({"alg": self.algorithm.name(), "typ": wire::JWT_TYPE, "jwk": self.jwk}),
            &claims,
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
    /// algorithm whatever the header says: what an attacker can hand-build. Empty if signing
    /// fails (a proof that will be refused).
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
        match jsonwebtoken::crypto::sign(input.as_bytes(), &self.key, algorithm) {
            Ok(signature) => format!("{input}.{signature}"),
            Err(_) => String::new(),
        }
    }
}
