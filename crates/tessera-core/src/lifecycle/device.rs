//! Device-bound sessions (W3C DBSC) in the engine: registration binds a session to a device key
//! in a rotation; a refresh is a rotation gated by a proof of possession of that key.
//!
//! Challenges are sealed, not stored: `issued-at ‖ nonce ‖ HMAC(purpose, session id ‖ issued-at
//! ‖ nonce)` under the store's signing key, so any server of a fleet opens them, an attacker
//! asking for challenges cannot evict the browser's, and a challenge of one session never
//! verifies for another. A registration challenge also seals the offer's `authorization` value
//! (its SHA-256), so the proof must carry exactly the value offered, or none if none was.
//! Challenges are single use all the same: a registration succeeds once per session (a bound
//! session refuses another key), and a refresh records the issue instant of the challenge it
//! spent in the same conditional write that rotates the token, so a challenge issued at or
//! before it is refused, even by a racing request. (Servers of a fleet are assumed to agree on
//! the time within seconds: a challenge from a server whose clock is behind the one that issued
//! the last spent challenge is refused until its clock passes it, and the browser simply gets a
//! new challenge.)

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::clock::Timestamp;
use crate::device::{proof, DeviceAuthorization, DeviceBinding, ProofError};
use crate::error::Error;
use crate::event::EventKind;
use crate::store::{Store, Updated};
use crate::token::{SessionId, Token, TokenError};

use super::{Engine, Issued, Session, MAX_CAS_RETRIES};

/// How much earlier than the server's deadline a bound cookie's `Max-Age` ends: the browser
/// lets go of a bound cookie before any server of the fleet stops honouring it (network delay,
/// clocks a little apart), so it refreshes instead of sending a token that has just died.
pub const BOUND_COOKIE_MARGIN: Duration = CLOCK_SPREAD;
/// How long a challenge may be answered: a browser answers within seconds.
pub const CHALLENGE_LIFETIME: Duration = Duration::from_secs(300);
/// How far in the future a challenge's issue instant may be: another server of the fleet may
/// have issued it, and their clocks differ a little.
const CLOCK_SPREAD: Duration = Duration::from_secs(30);
const REGISTRATION: &str = "dbsc-registration";
const REFRESH: &str = "dbsc-refresh";
/// issued-at (8) + nonce (16) + tag (32).
const CHALLENGE_BYTES: usize = 56;

impl<S: Store> Engine<S> {
    /// A registration challenge for `session`, for the `Secure-Session-Registration` header of
    /// the response that signed it in. Answerable once, within [`CHALLENGE_LIFETIME`], by a
    /// proof that carries `authorization` when one is given (the offer must then name it too),
    /// and none otherwise.
    pub async fn device_registration_challenge(
        &self,
        session: &Session,
        authorization: Option<&DeviceAuthorization>,
    ) -> Result<String, Error> {
        let authorization = authorization.map(DeviceAuthorization::as_str);
        self.challenge(REGISTRATION, &session.record.id, authorization)
            .await
    }

    /// Binds `token`'s session to the device key of a registration `proof` (the
    /// `Secure-Session-Response` JWT), rotating the token: the pre-binding token dies after the
    /// grace window, and the new one works for the policy's device-bound lifetime unless a
    /// refresh proves the key again. Refused, with nothing changed: a proof that fails any
    /// check of [`crate::device::proof`], a challenge not issued for this session or stale, and
    /// a session already bound ([`Error::DeviceAlreadyBound`]).
    pub async fn register_device(&self, token: &Token, proof: &str) -> Result<Issued, Error> {
        // The challenge (an HMAC) before the signature (a key the sender chose).
        let claimed = proof::unverified(proof)?;
        let authorization = claimed.authorization.as_deref();
        self.open_challenge(
            REGISTRATION,
            &token.session_id(),
            &claimed.jti,
            authorization,
        )
        .await?;
        let (key, claims) = proof::verify_registration(proof, self.now())?;
        if claims.jti != claimed.jti || claims.authorization != claimed.authorization {
            return Err(ProofError::Malformed.into());
        }
        let lifetime = self.inner.policy.device_bound_lifetime();
        let thumbprint = key.thumbprint();
        self.rotate_with(
            token,
            |record, now| {
                if record.device.is_some() {
                    return Err(Error::DeviceAlreadyBound);
                }
                record.device = Some(Box::new(DeviceBinding {
                    algorithm: key.algorithm,
                    public_key: key.canonical.clone(),
                    thumbprint: thumbprint.clone(),
                    bound_at: now,
                    token_until: now.plus(lifetime),
                    // Refresh challenges are another step; none is spent yet.
                    spent_until: Timestamp::from_millis(i64::MIN),
                }));
                Ok(())
            },
            EventKind::DeviceBound,
        )
        .await
    }

    /// A refresh challenge for the device-bound session named `identifier` (the
    /// `Sec-Secure-Session-Id` header), for a `403` with `Secure-Session-Challenge`.
    /// [`Error::NoSession`] when no live device-bound session has that name: the browser is
    /// then told to stop refreshing.
    pub async fn device_refresh_challenge(&self, identifier: &str) -> Result<String, Error> {
        let id = Token::for_selector(identifier)
            .map_err(|_| Error::NoSession)?
            .session_id();
        let Some(record) = self.inner.store.load_fresh(&id).await? else {
            return Err(Error::NoSession);
        };
        if record.device.is_none()
            || self.inner.pending.refuses_record(&record)
            || !self.check_deadlines(&record, self.now()).await?
        {
            return Err(Error::NoSession);
        }
        self.challenge(REFRESH, &id, None).await
    }

    /// Refreshes the device-bound session named `identifier` with a `proof` signed by its
    /// device key over a refresh challenge: a rotation (the previous token keeps its grace
    /// window, theft detection stays armed) whose new token works for the device-bound
    /// lifetime, and which renews the idle deadline. Refused, with nothing changed: no live
    /// bound session ([`Error::NoSession`]), a proof failing any check (a key in the proof,
    /// another algorithm, another key), a challenge of another session, stale, or already
    /// spent.
    pub async fn refresh_device(&self, identifier: &str, proof: &str) -> Result<Issued, Error> {
        let new_token = match Token::for_selector(identifier) {
            Ok(t) => t,
            Err(TokenError::Random) => return Err(TokenError::Random.into()),
            Err(_) => return Err(Error::NoSession),
        };
        let id = new_token.session_id();
        let Some(mut old) = self.inner.store.load_fresh(&id).await? else {
            return Err(Error::NoSession);
        };
        let Some(binding) = old.device.clone() else {
            return Err(Error::NoSession);
        };
        // The challenge (an HMAC) before the signature, and the signature once: the key never
        // changes after registration (a bound session refuses another).
        // A refresh has no authorization value (the draft sends none): any claim is ignored.
        let jti = proof::unverified(proof)?.jti;
        let issued = self.open_challenge(REFRESH, &id, &jti, None).await?;
        let claims = proof::verify_refresh(proof, &binding, self.now())?;
        if claims.jti != jti {
            return Err(ProofError::Malformed.into());
        }
        let key = binding.thumbprint;
        for _ in 0..MAX_CAS_RETRIES {
            let now = self.now();
            // A sign-out waiting in this process's queue (the store was down) ends it already.
            if self.inner.pending.refuses_record(&old) || !self.check_deadlines(&old, now).await? {
                return Err(Error::NoSession);
            }
            let Some(binding) = old.device.clone().filter(|b| b.thumbprint == key) else {
                return Err(Error::NoSession);
            };
            if issued <= binding.spent_until {
                return Err(ProofError::Challenge("the challenge was already used").into());
            }
            let policy = &self.inner.policy;
            let mut record = self.rotated(&old, &new_token, now);
            record.device = Some(Box::new(DeviceBinding {
                token_until: now.plus(policy.device_bound_lifetime()),
                spent_until: issued,
                ..*binding
            }));
            record.last_seen = now;
            record.idle_deadline = now
                .plus(policy.idle_timeout())
                .min(record.absolute_deadline);
            match self.inner.store.update(&record, old.version).await? {
                Updated::Written => {
                    let kind = EventKind::DeviceRefreshed;
                    return Ok(self.committed(kind, record, &old, new_token, now).await);
                }
                Updated::Missing => return Err(Error::NoSession),
                // Another write landed first; if it was a refresh with this challenge, the next
                // round sees it spent.
                Updated::VersionMismatch => match self.inner.store.load_fresh(&id).await? {
                    Some(fresh) => old = fresh,
                    None => return Err(Error::NoSession),
                },
            }
        }
        Err(Error::AlreadyRotated)
    }

    async fn challenge(
        &self,
        purpose: &str,
        id: &SessionId,
        authorization: Option<&str>,
    ) -> Result<String, Error> {
        let mut body = [0u8; CHALLENGE_BYTES];
        let (head, tag) = body.split_at_mut(24);
        let (issued, nonce) = head.split_at_mut(8);
        issued.copy_from_slice(&self.now().as_millis().to_be_bytes());
        getrandom::fill(nonce).map_err(|_| TokenError::Random)?;
        tag.copy_from_slice(&self.sign(purpose, &signed(id, head, authorization)).await?);
        Ok(URL_SAFE_NO_PAD.encode(body))
    }

    /// The issue instant of a challenge sealed for `purpose`, `id` and `authorization`, if it
    /// is still fresh.
    async fn open_challenge(
        &self,
        purpose: &str,
        id: &SessionId,
        text: &str,
        authorization: Option<&str>,
    ) -> Result<Timestamp, Error> {
        let refused = |why| Error::DeviceProof(ProofError::Challenge(why));
        let mut body = [0u8; CHALLENGE_BYTES];
        if text.len() != 75 || URL_SAFE_NO_PAD.decode_slice(text, &mut body) != Ok(CHALLENGE_BYTES)
        {
            return Err(refused("not a challenge this server issued"));
        }
        let (head, tag) = body.split_at(24);
        if !self
            .verify_signature(purpose, &signed(id, head, authorization), tag)
            .await?
        {
            return Err(refused(
                "not issued for this session and step, or with another authorization",
            ));
        }
        let mut millis = [0u8; 8];
        millis.copy_from_slice(head.get(..8).unwrap_or_default());
        let issued = Timestamp::from_millis(i64::from_be_bytes(millis));
        let now = self.now();
        if issued > now.plus(CLOCK_SPREAD) {
            return Err(refused("issued in the future"));
        }
        if now.since(issued) > CHALLENGE_LIFETIME {
            return Err(refused("expired"));
        }
        Ok(issued)
    }
}

/// What a challenge's tag covers: the session it is for, its issue instant and nonce, then the
/// SHA-256 of the offer's authorization value if it had one. (Session ids and heads have fixed
/// lengths, so the two forms never collide; without a value the message is the previous
/// build's, and challenges in flight during an upgrade still open.)
fn signed(id: &SessionId, head: &[u8], authorization: Option<&str>) -> Vec<u8> {
    let mut message = Vec::with_capacity(32 + head.len() + 32);
    message.extend_from_slice(id.as_bytes());
    message.extend_from_slice(head);
    if let Some(value) = authorization {
        message.extend_from_slice(&Sha256::digest(value.as_bytes()));
    }
    message
}
