//! Signing with the store's keys: values the engine must recognise later without storing them.

use crate::error::Error;
use crate::store::Store;

use super::Engine;

impl<S: Store> Engine<S> {
    /// The signing keys for `purpose`, newest first, read from the store at most once per
    /// [`crate::keyring::KEY_CACHE_TTL`] (the store creates them on first use).
    pub async fn signing_keys(
        &self,
        purpose: &str,
    ) -> Result<Vec<crate::keyring::SigningKey>, Error> {
        let now = self.now();
        if let Some(keys) = self.inner.keys.get(purpose, now) {
            return Ok(keys);
        }
        let fresh = crate::keyring::fresh_key()?;
        let keys = self.inner.store.signing_keys(purpose, &fresh).await?;
        self.inner.keys.put(purpose, keys.clone(), now);
        Ok(keys)
    }

    /// Signs `message` for `purpose` with the newest key (HMAC-SHA256).
    pub async fn sign(&self, purpose: &str, message: &[u8]) -> Result<[u8; 32], Error> {
        let keys = self.signing_keys(purpose).await?;
        let key = keys.first().ok_or_else(|| {
            Error::Store(crate::StoreError::Corrupt(
                "the store returned no signing key".into(),
            ))
        })?;
        Ok(crate::keyring::sign(key, purpose, message))
    }

    /// True when `tag` signs `message` for `purpose` under the newest key or the one before it.
    pub async fn verify_signature(
        &self,
        purpose: &str,
        message: &[u8],
        tag: &[u8],
    ) -> Result<bool, Error> {
        let keys = self.signing_keys(purpose).await?;
        Ok(crate::keyring::verify(&keys, purpose, message, tag))
    }

    /// Replaces the newest signing key for `purpose` with a fresh one; values signed with the
    /// previous key keep verifying until the next rotation.
    pub async fn rotate_signing_key(&self, purpose: &str) -> Result<(), Error> {
        let fresh = crate::keyring::fresh_key()?;
        self.inner.store.rotate_signing_key(purpose, &fresh).await?;
        self.inner.keys.forget(purpose);
        Ok(())
    }
}
