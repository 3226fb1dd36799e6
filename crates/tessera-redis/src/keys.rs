//! The key layout. The part in braces is the hash tag: it alone decides a key's Cluster slot, so
//! every script's keys share one slot.
//!
//! | key | holds | slot |
//! |---|---|---|
//! | `P:s:{ID}` | one session (hash `v`, `r`, `u`) or its tombstone | the session's own |
//! | `P:u:{TAG}:e` | the subject's revocation epoch (never expires) | the subject's |
//! | `P:u:{TAG}:i` | the subject's sessions, sorted set scored by absolute deadline | the subject's |
//! | `P:k:{keys}:PURPOSE` | the signing keys of a purpose, newest first | one for all keys |
//!
//! `ID` is the session id in hex (a hash of the token's selector, never the token); `TAG` is the
//! first 16 bytes of SHA-256 of the subject in hex, so a subject's characters (braces included)
//! cannot move its keys to another slot.

use sha2::{Digest, Sha256};
use tessera_core::SessionId;

/// Builds key names under one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// The session's key.
    pub(crate) fn session(&self, id: &SessionId) -> String {
        format!("{}:s:{{{}}}", self.prefix, id.to_hex())
    }

    /// The subject's tag, stored in each of its sessions (`u`) to tell them apart.
    pub(crate) fn subject_tag(subject: &str) -> String {
        let digest = Sha256::digest(subject.as_bytes());
        hex(digest.get(..16).unwrap_or_default())
    }

    /// The subject's epoch key.
    pub(crate) fn epoch(&self, tag: &str) -> String {
        format!("{}:u:{{{tag}}}:e", self.prefix)
    }

    /// The subject's index key.
    pub(crate) fn index(&self, tag: &str) -> String {
        format!("{}:u:{{{tag}}}:i", self.prefix)
    }

    /// The signing keys of `purpose`.
    pub(crate) fn signing_keys(&self, purpose: &str) -> String {
        format!("{}:k:{{keys}}:{}", self.prefix, hex(purpose.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_cannot_choose_its_slot() {
        let keys = Keys::new("p");
        let tag = Keys::subject_tag("}{evil");
        assert_eq!(tag.len(), 32);
        assert!(tag.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(keys.epoch(&tag), format!("p:u:{{{tag}}}:e"));
        let id = SessionId::from_bytes([7; 32]);
        assert_eq!(keys.session(&id), format!("p:s:{{{}}}", "07".repeat(32)));
        assert_eq!(keys.signing_keys("csrf"), "p:k:{keys}:63737266");
    }
}
