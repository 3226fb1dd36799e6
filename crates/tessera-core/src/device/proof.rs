//! The proof JWTs a browser signs with its device key (`Secure-Session-Response`): parsing,
//! the refusals the draft and the issue ask for, and signature verification through
//! `jsonwebtoken` (ring underneath, the same crypto library as rustls here). Nothing here is
//! hand-written cryptography: this module only decides which key and which algorithm a proof
//! is checked with, before the library checks it.
//!
//! Refused: `alg: none` and every algorithm but ES256 and RS256; an `alg` that does not match
//! the key (algorithm confusion) or, on refresh, the algorithm the session was bound with (a
//! downgrade); a `typ` other than `dbsc+jwt`; a `jwk` with private members; RSA keys under 2048
//! bits or over 4096 (a key the sender chooses must not make verification expensive); a key in
//! a refresh proof (the draft forbids it; the stored key decides); an `iat` further than
//! [`MAX_CLOCK_SKEW`] from the server's clock, or an `exp` further than that in the past.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{wire, DeviceAlgorithm, DeviceBinding};
use crate::clock::Timestamp;

/// Longest proof accepted, in bytes: an RSA-4096 key and signature fit with room to spare.
pub const MAX_PROOF_BYTES: usize = 8 * 1024;
/// How far a proof's own `iat` or `exp` may be from the server's clock. The challenge's age is
/// measured on the server's clock alone; this only bounds what the client claims.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);
/// Members of a JWK that hold private key material: a key sent with any of them is refused.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a proof was refused. Carries no part of the proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// Not a compact JWS (three base64url parts, a JSON header) of at most 8 KiB.
    #[error("the proof is not a compact JWS of at most 8 KiB")]
    Malformed,
    /// The header's `typ` is not `dbsc+jwt`.
    #[error("the proof's typ is not dbsc+jwt")]
    Type,
    /// The algorithm is not accepted here.
    #[error("the proof's algorithm is refused: {0}")]
    Algorithm(&'static str),
    /// The key is missing, malformed, private, weak, or present where it must not be.
    #[error("the proof's key is refused: {0}")]
    Key(&'static str),
    /// The signature does not verify with the key.
    #[error("the proof's signature does not verify with the device key")]
    Signature,
    /// A claim is missing, malformed, or out of time.
    #[error("the proof's claims are refused: {0}")]
    Claims(&'static str),
    /// The challenge (`jti`) was not issued for this session, is stale, or was used already.
    #[error("the proof's challenge is refused: {0}")]
    Challenge(&'static str),
}

#[derive(Deserialize)]
struct Header {
    typ: Option<String>,
    alg: String,
    jwk: Option<Map<String, Value>>,
}

/// The claims a proof carries.
#[derive(Deserialize)]
pub(crate) struct Claims {
    /// The challenge the proof answers.
    pub(crate) jti: String,
    /// The registration offer's `authorization` value, copied by the browser.
    #[serde(default)]
    pub(crate) authorization: Option<String>,
    /// Seconds since the epoch, a number or (as the draft's example has it) a numeric string.
    #[serde(default)]
    iat: Option<Value>,
    #[serde(default)]
    exp: Option<Value>,
}

/// Just the challenge of a proof, read without checking the signature: a challenge is checked
/// (an HMAC, cheap) before a signature (with a key the sender chose, not cheap), so a flood of
/// proofs over made-up challenges costs little.
/// The claims the challenge covers: the challenge and, on registration, the `authorization`
/// value sealed into it.
#[derive(Deserialize)]
pub(crate) struct Unverified {
    pub(crate) jti: String,
    #[serde(default)]
    pub(crate) authorization: Option<String>,
}

/// The `jti` and `authorization` of a proof whose header passes the checks, unverified.
pub(crate) fn unverified(jwt: &str) -> Result<Unverified, ProofError> {
    header(jwt)?;
    let payload = jwt.split('.').nth(1).ok_or(ProofError::Malformed)?;
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| ProofError::Malformed)?;
    serde_json::from_slice::<Unverified>(&json)
        .map_err(|_| ProofError::Claims("jti is missing or a claim is malformed"))
}

/// A time claim in seconds: a JSON number or a numeric string; anything else is malformed.
fn seconds(claim: &Value) -> Result<i64, ProofError> {
    let malformed = ProofError::Claims("iat or exp is not a number of seconds");
    match claim {
        Value::Number(n) => n.as_i64().ok_or(malformed),
        Value::String(s) => s.parse().map_err(|_| malformed),
        _ => Err(malformed),
    }
}

/// A validated public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceKey {
    pub(crate) algorithm: DeviceAlgorithm,
    /// RFC 7638 canonical JWK.
    pub(crate) canonical: String,
    parts: KeyParts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyParts {
    Ec { x: String, y: String },
    Rsa { n: String, e: String },
}

impl DeviceKey {
    /// Reads and checks a JWK: P-256 or RSA of 2048 to 8192 bits, public members only.
    pub(crate) fn from_jwk(jwk: &Map<String, Value>) -> Result<Self, ProofError> {
        if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
            return Err(ProofError::Key("the jwk holds private key material"));
        }
        let text = |name: &'static str| {
            jwk.get(name)
                .and_then(Value::as_str)
                .ok_or(ProofError::Key("a required jwk member is missing"))
        };
        let bytes = |name: &'static str| {
            URL_SAFE_NO_PAD
                .decode(text(name)?)
                .map_err(|_| ProofError::Key("a jwk member is not base64url"))
        };
        match text("kty")? {
            "EC" => {
                if text("crv")? != "P-256" {
                    return Err(ProofError::Key("an EC key must be on P-256"));
                }
                let (x, y) = (bytes("x")?, bytes("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(ProofError::Key("a P-256 coordinate is 32 bytes"));
                }
                let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
                Ok(Self {
                    algorithm: DeviceAlgorithm::Es256,
                    canonical: format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#),
                    parts: KeyParts::Ec { x, y },
                })
            }
            "RSA" => {
                let n = bytes("n")?;
                let n = n
                    .get(n.iter().take_while(|b| **b == 0).count()..)
                    .unwrap_or_default();
                let bits = n
                    .first()
                    .map_or(0, |b| n.len() * 8 - b.leading_zeros() as usize);
                if !(2048..=4096).contains(&bits) {
                    return Err(ProofError::Key("an RSA key must have 2048 to 4096 bits"));
                }
                let e = bytes("e")?;
                let e = e
                    .get(e.iter().take_while(|b| **b == 0).count()..)
                    .unwrap_or_default();
                if e.is_empty() || e.len() > 4 || e.last().is_some_and(|b| b % 2 == 0) || e == [1] {
                    return Err(ProofError::Key(
                        "an RSA exponent must be odd, above 1, 32 bits",
                    ));
                }
                let (n, e) = (URL_SAFE_NO_PAD.encode(n), URL_SAFE_NO_PAD.encode(e));
                Ok(Self {
                    algorithm: DeviceAlgorithm::Rs256,
                    canonical: format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
                    parts: KeyParts::Rsa { n, e },
                })
            }
            _ => Err(ProofError::Key("kty must be EC (P-256) or RSA")),
        }
    }

    /// The key a binding stored.
    pub(crate) fn from_binding(binding: &DeviceBinding) -> Result<Self, ProofError> {
        let jwk: Map<String, Value> = serde_json::from_str(&binding.public_key)
            .map_err(|_| ProofError::Key("the stored key is not a JWK"))?;
        let key = Self::from_jwk(&jwk)?;
        if key.algorithm != binding.algorithm {
            return Err(ProofError::Key(
                "the stored key does not match its algorithm",
            ));
        }
        Ok(key)
    }

    /// RFC 7638 thumbprint: SHA-256 of the canonical JWK, base64url.
    pub(crate) fn thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.canonical.as_bytes()))
    }

    fn decoding_key(&self) -> Result<DecodingKey, ProofError> {
        match &self.parts {
            KeyParts::Ec { x, y } => DecodingKey::from_ec_components(x, y),
            KeyParts::Rsa { n, e } => DecodingKey::from_rsa_components(n, e),
        }
        .map_err(|_| ProofError::Key("the key cannot be used"))
    }
}

fn header(jwt: &str) -> Result<(Header, DeviceAlgorithm), ProofError> {
    if jwt.len() > MAX_PROOF_BYTES || jwt.split('.').count() != 3 {
        return Err(ProofError::Malformed);
    }
    let encoded = jwt.split('.').next().ok_or(ProofError::Malformed)?;
    let json = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| ProofError::Malformed)?;
    let header: Header = serde_json::from_slice(&json).map_err(|_| ProofError::Malformed)?;
    if header.typ.as_deref() != Some(wire::JWT_TYPE) {
        return Err(ProofError::Type);
    }
    let algorithm = match header.alg.as_str() {
        "ES256" => DeviceAlgorithm::Es256,
        "RS256" => DeviceAlgorithm::Rs256,
        a if a.eq_ignore_ascii_case("none") => {
            return Err(ProofError::Algorithm("alg none is never accepted"))
        }
        _ => return Err(ProofError::Algorithm("only ES256 and RS256 are accepted")),
    };
    Ok((header, algorithm))
}

/// Checks a registration proof: signed by the key in its own header. Returns the key and the
/// claims; the caller checks the challenge.
pub(crate) fn verify_registration(
    jwt: &str,
    now: Timestamp,
) -> Result<(DeviceKey, Claims), ProofError> {
    let (header, algorithm) = header(jwt)?;
    let jwk = header.jwk.ok_or(ProofError::Key(
        "a registration proof carries its public key as jwk",
    ))?;
    let key = DeviceKey::from_jwk(&jwk)?;
    if key.algorithm != algorithm {
        return Err(ProofError::Algorithm("alg does not match the key's type"));
    }
    let claims = verify_with(jwt, &key, now)?;
    Ok((key, claims))
}

/// Checks a refresh proof: signed by the session's stored key, in the session's algorithm.
pub(crate) fn verify_refresh(
    jwt: &str,
    binding: &DeviceBinding,
    now: Timestamp,
) -> Result<Claims, ProofError> {
    let (header, algorithm) = header(jwt)?;
    if header.jwk.is_some() {
        return Err(ProofError::Key("a refresh proof must not carry a key"));
    }
    if algorithm != binding.algorithm {
        return Err(ProofError::Algorithm(
            "not the algorithm the session was bound with",
        ));
    }
    verify_with(jwt, &DeviceKey::from_binding(binding)?, now)
}

fn verify_with(jwt: &str, key: &DeviceKey, now: Timestamp) -> Result<Claims, ProofError> {
    let algorithm = match key.algorithm {
        DeviceAlgorithm::Es256 => Algorithm::ES256,
        DeviceAlgorithm::Rs256 => Algorithm::RS256,
    };
    let mut validation = Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Claims>(jwt, &key.decoding_key()?, &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidAlgorithm => ProofError::Algorithm("alg does not match the key"),
            ErrorKind::Json(_) => ProofError::Claims("jti is missing or a claim is malformed"),
            ErrorKind::Base64(_) | ErrorKind::InvalidToken | ErrorKind::Utf8(_) => {
                ProofError::Malformed
            }
            _ => ProofError::Signature,
        })?
        .claims;
    let skew = i64::try_from(MAX_CLOCK_SKEW.as_secs()).unwrap_or(i64::MAX);
    let now_secs = now.as_millis() / 1000;
    if let Some(iat) = claims.iat.as_ref().map(seconds).transpose()? {
        if iat.abs_diff(now_secs) > skew.unsigned_abs() {
            return Err(ProofError::Claims(
                "iat is further from the server's clock than allowed",
            ));
        }
    }
    if let Some(exp) = claims.exp.as_ref().map(seconds).transpose()? {
        if exp.saturating_add(skew) < now_secs {
            return Err(ProofError::Claims("the proof has expired"));
        }
    }
    Ok(claims)
}
