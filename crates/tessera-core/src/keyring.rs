//! Signing keys kept by the store, for values the engine must recognise without storing them
//! (e.g. the CSRF token of an anonymous visitor, so a page view costs no store write).
//!
//! Each purpose has at most two keys, newest first: values are signed with the newest and
//! verified against both, so [`crate::Engine::rotate_signing_key`] does not break a form a user
//! loaded a moment before. The store generates nothing itself: the first caller's fresh random
//! key is inserted if absent, so every process sharing a store signs with the same key.

use std::sync::Mutex;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::clock::Timestamp;

/// A 256-bit signing key.
pub type SigningKey = [u8; 32];

/// How long a process uses the keys it read before reading them again. A rotation elsewhere
/// reaches this process within this bound; signatures made meanwhile still verify everywhere,
/// since the store keeps the key before the newest.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(60);

/// Keys per purpose the store keeps (the newest and the one before it).
pub const KEYS_KEPT: usize = 2;

/// HMAC-SHA256 of `message` under `key`, with `purpose` bound in so a value signed for one
/// purpose never verifies for another.
pub fn sign(key: &SigningKey, purpose: &str, message: &[u8]) -> [u8; 32] {
    let mut mac = mac(key, purpose);
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// True when `tag` is the HMAC of `message` under any of `keys` (constant-time per key).
pub fn verify(keys: &[SigningKey], purpose: &str, message: &[u8], tag: &[u8]) -> bool {
    keys.iter().any(|key| {
        let mut mac = mac(key, purpose);
        mac.update(message);
        mac.verify_slice(tag).is_ok()
    })
}

fn mac(key: &SigningKey, purpose: &str) -> Hmac<Sha256> {
    // HMAC takes a key of any length; a 32-byte key never fails.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
    mac.update(purpose.as_bytes());
    mac.update(&[0]);
    mac
}

/// A fresh random key from the OS CSPRNG.
pub fn fresh_key() -> Result<SigningKey, crate::TokenError> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|_| crate::TokenError::Random)?;
    Ok(key)
}

/// The keys one engine read from its store, per purpose, and when.
#[derive(Default)]
pub(crate) struct KeyCache(Mutex<Vec<(String, Vec<SigningKey>, Timestamp)>>);

impl KeyCache {
    pub(crate) fn get(&self, purpose: &str, now: Timestamp) -> Option<Vec<SigningKey>> {
        let cache = self.0.lock().ok()?;
        cache
            .iter()
            .find(|(p, _, at)| p == purpose && now < at.plus(KEY_CACHE_TTL))
            .map(|(_, keys, _)| keys.clone())
    }

    pub(crate) fn put(&self, purpose: &str, keys: Vec<SigningKey>, now: Timestamp) {
        if let Ok(mut cache) = self.0.lock() {
            cache.retain(|(p, _, _)| p != purpose);
            cache.push((purpose.to_owned(), keys, now));
        }
    }

    pub(crate) fn forget(&self, purpose: &str) {
        if let Ok(mut cache) = self.0.lock() {
            cache.retain(|(p, _, _)| p != purpose);
        }
    }
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyCache(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_key_purpose_and_message() {
        let (a, b) = (fresh_key().unwrap(), fresh_key().unwrap());
        let tag = sign(&a, "csrf", b"nonce");
        assert!(verify(&[a], "csrf", b"nonce", &tag));
        assert!(
            verify(&[b, a], "csrf", b"nonce", &tag),
            "the older key still verifies"
        );
        assert!(!verify(&[b], "csrf", b"nonce", &tag));
        assert!(!verify(&[a], "other", b"nonce", &tag));
        assert!(!verify(&[a], "csrf", b"nonce2", &tag));
        assert!(!verify(&[a], "csrf", b"nonce", &tag[..31]));
        assert!(!verify(&[], "csrf", b"nonce", &tag));
    }
}
