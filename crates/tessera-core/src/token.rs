//! Session tokens: what the cookie carries, and the only secret a client holds.
//!
//! A token is 32 bytes from the operating system's CSPRNG, written as 43 characters of base64url
//! without padding. It has two halves:
//!
//! * the **selector** (first 16 bytes) names the session. Stores never see it: they key the
//!   record by [`SessionId`], a SHA-256 of the selector. Because the selector survives rotation,
//!   every atomic step on one session (rotation with its grace record, theft detection) touches one
//!   record, which is what a Redis Cluster hash slot needs.
//! * the **verifier** (last 16 bytes) proves possession. Stores keep only a SHA-256 of the whole
//!   token, compared in constant time.
//!
//! `login` always draws a new selector and verifier; `rotate` and `elevate` keep the selector and
//! draw a new verifier, so the cookie value changes and the old value dies after the grace window.
//!
//! A token is never printed: it has no `Display`, its `Debug` shows only the session reference,
//! and it is not `Serialize`. The one way to read it is [`Token::expose`], named so it stands out
//! in review.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Length of a token in bytes (256 bits).
pub const TOKEN_BYTES: usize = 32;
/// Length of a token's text form: base64url without padding of 32 bytes.
pub const TOKEN_CHARS: usize = 43;
const SELECTOR_BYTES: usize = 16;
/// Length of a selector's text form ([`Token::selector_text`]).
pub const SELECTOR_CHARS: usize = 22;

const SESSION_ID_DOMAIN: &[u8] = b"tessera/v1/session-id\0";
const VERIFIER_DOMAIN: &[u8] = b"tessera/v1/verifier\0";

/// Why a presented value is not a token. Deliberately carries no part of the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The value does not have exactly 43 characters.
    #[error("a session token has exactly 43 characters, this value has {0}")]
    Length(usize),
    /// The value uses a character outside the base64url alphabet, or is not canonical base64url.
    #[error("a session token is canonical base64url without padding")]
    Alphabet,
    /// The operating system's random generator failed; no token can be issued.
    #[error("the operating system's random number generator failed")]
    Random,
}

/// A session token (see the module docs). Cloning copies the secret; keep copies short-lived.
#[derive(Clone)]
pub struct Token {
    bytes: [u8; TOKEN_BYTES],
}

impl Token {
    /// Draws a fresh token (new selector and verifier) from the OS CSPRNG.
    pub fn generate() -> Result<Self, TokenError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes).map_err(|_| TokenError::Random)?;
        Ok(Self { bytes })
    }

    /// A token for the same session with a fresh verifier: what rotation hands out.
    pub fn with_new_verifier(&self) -> Result<Self, TokenError> {
        let mut bytes = self.bytes;
        let (_, verifier) = bytes.split_at_mut(SELECTOR_BYTES);
        getrandom::fill(verifier).map_err(|_| TokenError::Random)?;
        Ok(Self { bytes })
    }

    /// The session's public name for a device-bound session (the DBSC `session_identifier`):
    /// the selector, base64url. Not a credential: resolving needs the verifier, and a
    /// device-bound refresh needs the device key. Stable across rotations, like the selector.
    pub fn selector_text(&self) -> String {
        let (selector, _) = self.bytes.split_at(SELECTOR_BYTES);
        URL_SAFE_NO_PAD.encode(selector)
    }

    /// A token for the session named by `text` (from [`Token::selector_text`]) with a fresh
    /// verifier: what a device-bound refresh hands out once the device proved itself. Parsed
    /// as strictly as a token: exactly 22 canonical base64url characters.
    pub fn for_selector(text: &str) -> Result<Self, TokenError> {
        if text.len() != SELECTOR_CHARS {
            return Err(TokenError::Length(text.chars().count()));
        }
        let mut bytes = [0u8; TOKEN_BYTES];
        let (selector, verifier) = bytes.split_at_mut(SELECTOR_BYTES);
        match URL_SAFE_NO_PAD.decode_slice(text, selector) {
            Ok(SELECTOR_BYTES) => {}
            _ => return Err(TokenError::Alphabet),
        }
        getrandom::fill(verifier).map_err(|_| TokenError::Random)?;
        Ok(Self { bytes })
    }

    /// Parses the text form strictly: exactly 43 base64url characters, canonical encoding.
    ///
    /// Runs before any store access, so malformed input never reaches a store.
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        if text.len() != TOKEN_CHARS {
            return Err(TokenError::Length(text.chars().count()));
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(TokenError::Alphabet);
        }
        let mut bytes = [0u8; TOKEN_BYTES];
        // The engine rejects non-zero trailing bits, so each token has exactly one text form.
        match URL_SAFE_NO_PAD.decode_slice(text, &mut bytes) {
            Ok(TOKEN_BYTES) => Ok(Self { bytes }),
            _ => Err(TokenError::Alphabet),
        }
    }

    /// The text form, for the `Set-Cookie` header and nothing else.
    pub fn expose(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.bytes)
    }

    /// The id stores key this session by: SHA-256 of the selector.
    pub fn session_id(&self) -> SessionId {
        let (selector, _) = self.bytes.split_at(SELECTOR_BYTES);
        let mut hash = Sha256::new();
        hash.update(SESSION_ID_DOMAIN);
        hash.update(selector);
        SessionId(hash.finalize().into())
    }

    /// The hash stores keep to check possession of the token.
    pub fn verifier_hash(&self) -> VerifierHash {
        let mut hash = Sha256::new();
        hash.update(VERIFIER_DOMAIN);
        hash.update(self.bytes);
        VerifierHash(hash.finalize().into())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(session {})", self.session_id().reference())
    }
}

/// A session's stable identifier in stores: SHA-256 of the token's selector.
///
/// It is not a credential: knowing it does not let anyone resolve the session. It is what admin
/// interfaces name a session by (for example in a "revoke" form).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId([u8; 32]);

impl SessionId {
    /// Wraps 32 bytes read back from a store.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes, for stores.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Parses the 64-character hex form, for admin interfaces.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let (hi, lo) = match pair {
                [hi, lo] => (hex_value(*hi)?, hex_value(*lo)?),
                _ => return None,
            };
            *slot = hi << 4 | lo;
        }
        Some(Self(out))
    }

    /// The short reference that logs and events name this session by.
    pub fn reference(&self) -> SessionRef {
        let mut short = [0u8; 6];
        short.copy_from_slice(self.0.get(..6).unwrap_or(&[0; 6]));
        SessionRef(short)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.reference())
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Serialized as its 64-character hex form, the one admin interfaces show.
impl serde::Serialize for SessionId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

/// A short (48-bit), non-reversible name of a session for logs and audit events.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionRef([u8; 6]);

impl fmt::Display for SessionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for SessionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionRef({self})")
    }
}

/// SHA-256 of a token, as stores keep it. Compared in constant time.
#[derive(Clone, Copy, Eq)]
pub struct VerifierHash([u8; 32]);

impl VerifierHash {
    /// Wraps 32 bytes read back from a store.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes, for stores.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq for VerifierHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for VerifierHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerifierHash(..)")
    }
}

fn hex(bytes: &[u8]) -> String {
    // Two table lookups a byte: ids are written on every API answer, and `write!` per byte
    // showed in the profile.
    let digit = |d: u8| char::from_digit(u32::from(d), 16).unwrap_or('0');
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(digit(b >> 4));
        out.push(digit(b & 0xf));
    }
    out
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn generated_tokens_are_43_base64url_chars_and_round_trip() {
        let token = Token::generate().unwrap();
        let text = token.expose();
        assert_eq!(text.len(), TOKEN_CHARS);
        let parsed = Token::parse(&text).unwrap();
        assert_eq!(parsed.expose(), text);
        assert_eq!(parsed.session_id(), token.session_id());
        assert!(parsed.verifier_hash() == token.verifier_hash());
    }

    #[test]
    fn tokens_do_not_repeat_and_use_all_bits() {
        let mut seen = HashSet::new();
        let mut ones = [0u32; TOKEN_BYTES * 8];
        let n = 2000;
        for _ in 0..n {
            let t = Token::generate().unwrap();
            assert!(seen.insert(t.expose()));
            for (i, byte) in t.bytes.iter().enumerate() {
                for bit in 0..8 {
                    if byte >> bit & 1 == 1 {
                        ones[i * 8 + bit] += 1;
                    }
                }
            }
        }
        // Every one of the 256 bit positions varies: none is stuck (a constant part would be).
        // With n = 2000 a fair bit lies in 1000 ± 5σ (σ ≈ 22) except with negligible probability.
        for count in ones {
            assert!((890..=1110).contains(&count), "biased bit: {count}");
        }
    }

    #[test]
    fn parse_is_strict() {
        let good = Token::generate().unwrap().expose();
        assert!(matches!(Token::parse(""), Err(TokenError::Length(0))));
        assert!(matches!(
            Token::parse(&good[..42]),
            Err(TokenError::Length(42))
        ));
        assert!(matches!(
            Token::parse(&format!("{good}A")),
            Err(TokenError::Length(44))
        ));
        let mut padded = good[..42].to_string();
        padded.push('=');
        assert!(matches!(Token::parse(&padded), Err(TokenError::Alphabet)));
        let plus = format!("+{}", &good[1..]);
        assert!(matches!(Token::parse(&plus), Err(TokenError::Alphabet)));
        // 43 multibyte characters are not 43 bytes.
        assert!(Token::parse(&"é".repeat(43)).is_err());
        // Non-canonical: the last character carries trailing bits that must be zero.
        let mut bytes = good.into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = b'B'; // value 1: a non-zero trailing bit
        assert!(matches!(
            Token::parse(std::str::from_utf8(&bytes).unwrap()),
            Err(TokenError::Alphabet)
        ));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let token = Token::generate().unwrap();
        let text = token.expose();
        let debug = format!(
            "{token:?} {:?} {:?}",
            token.session_id(),
            token.verifier_hash()
        );
        assert!(!debug.contains(&text));
        assert!(!debug.contains(&text[..16]));
        assert!(debug.contains(&token.session_id().reference().to_string()));
    }

    #[test]
    fn rotation_keeps_selector_and_changes_verifier() {
        let token = Token::generate().unwrap();
        let rotated = token.with_new_verifier().unwrap();
        assert_eq!(token.session_id(), rotated.session_id());
        assert!(token.verifier_hash() != rotated.verifier_hash());
        assert_ne!(token.expose(), rotated.expose());
    }

    #[test]
    fn session_id_hex_round_trips_and_rejects_garbage() {
        let id = Token::generate().unwrap().session_id();
        assert_eq!(SessionId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(SessionId::from_hex("zz"), None);
        assert_eq!(SessionId::from_hex(&"G".repeat(64)), None);
        assert_eq!(SessionId::from_hex(&id.to_hex().to_uppercase()), None);
    }
}
