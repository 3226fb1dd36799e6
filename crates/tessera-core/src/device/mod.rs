//! Device-bound sessions (W3C Device Bound Session Credentials, DBSC): a session whose token
//! dies within minutes unless the browser proves, with a key that never leaves the device, that
//! it is the one the session was bound to. A cookie copied off the machine stops working at its
//! bound lifetime, and cannot be refreshed without the private key.
//!
//! What lives here: the binding a record carries ([`DeviceBinding`]), the draft's header and
//! field names ([`wire`], in one place: the draft renamed them once already), and the
//! verification of the proof JWTs ([`proof`]). The engine's registration and refresh steps are
//! in `lifecycle::device`.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

pub mod client;
pub mod proof;

pub use proof::ProofError;

/// The draft's names, in one place. Draft of 2026-02 (w3c/webappsec-dbsc, spec.bs).
pub mod wire {
    /// Response header offering registration: `(ES256 RS256);path="…";challenge="…"`.
    pub const REGISTRATION: &str = "Secure-Session-Registration";
    /// Request header carrying a proof JWT.
    pub const RESPONSE: &str = "Secure-Session-Response";
    /// Response header carrying a refresh challenge: `"…";id="…"`.
    pub const CHALLENGE: &str = "Secure-Session-Challenge";
    /// Request header naming the session a refresh is for.
    pub const SESSION_ID: &str = "Sec-Secure-Session-Id";
    /// The proof JWT's `typ`.
    pub const JWT_TYPE: &str = "dbsc+jwt";
    /// The algorithms offered, in order of preference, as the registration header lists them.
    pub const ALGORITHMS: &str = "(ES256 RS256)";
    /// Session instructions: the session's identifier.
    pub const SESSION_IDENTIFIER: &str = "session_identifier";
    /// Session instructions: where refreshes go.
    pub const REFRESH_URL: &str = "refresh_url";
    /// Session instructions: false ends the browser's session (after logout or revocation).
    pub const CONTINUE: &str = "continue";
    /// Session instructions: which requests the session covers.
    pub const SCOPE: &str = "scope";
    /// Session instructions: the cookies the session keeps alive.
    pub const CREDENTIALS: &str = "credentials";
    /// Registration header parameter (and proof claim): the app's own value, copied by the
    /// browser into the registration proof.
    pub const AUTHORIZATION: &str = "authorization";
}

/// The optional `authorization` value of a registration offer: the draft has the browser copy
/// it into the registration proof (and an `Authorization` header), so an app can tie a binding
/// to something of its own, such as a one-time code from its sign-in. Tessera seals it into
/// the registration challenge, so a proof without it, or with another value, is refused.
///
/// It may be a credential, so `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceAuthorization(String);

/// Why an authorization value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a device-binding authorization value must be 1 to 1024 visible ASCII characters or spaces, without '\"' or '\\'")]
pub struct DeviceAuthorizationError;

impl DeviceAuthorization {
    /// Longest value accepted, in bytes.
    pub const MAX_BYTES: usize = 1024;

    /// `value`, if it can go into a structured header as is: 1 to [`Self::MAX_BYTES`] printable
    /// ASCII characters (space included) without `"` or `\`.
    pub fn new(value: &str) -> Result<Self, DeviceAuthorizationError> {
        let printable = value
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\');
        if value.is_empty() || value.len() > Self::MAX_BYTES || !printable {
            return Err(DeviceAuthorizationError);
        }
        Ok(Self(value.to_owned()))
    }

    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceAuthorization({} bytes)", self.0.len())
    }
}

/// The signature algorithms a device key may use; nothing else is accepted (`none` never).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceAlgorithm {
    /// ECDSA on P-256 with SHA-256.
    #[serde(rename = "ES256")]
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, keys of 2048 to 4096 bits.
    #[serde(rename = "RS256")]
    Rs256,
}

impl DeviceAlgorithm {
    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
        }
    }
}

/// What a device-bound session's record holds about its device. Nothing here is secret: the
/// public key, and deadlines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceBinding {
    /// The key's algorithm, fixed at registration: a proof in another is refused.
    pub algorithm: DeviceAlgorithm,
    /// The public key as its RFC 7638 canonical JWK (required members only, sorted).
    pub public_key: String,
    /// The key's RFC 7638 SHA-256 thumbprint, base64url.
    pub thumbprint: String,
    /// When the session was bound.
    pub bound_at: Timestamp,
    /// The current token stops working at this instant unless a proof refreshes it.
    pub token_until: Timestamp,
    /// Refresh challenges issued at or before this instant are spent (single use).
    pub spent_until: Timestamp,
}
