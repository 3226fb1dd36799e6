//! Fuzzes `Token::parse` and `SessionId::from_hex` with arbitrary text.
//!
//! Properties checked (beyond "never panics"):
//! * `Token::parse` accepts exactly the canonical forms: 43 base64url characters whose last
//!   character carries no trailing bits; an accepted token's `expose()` is the input, byte for
//!   byte, and its `Debug` output never contains the input.
//! * `SessionId::from_hex` accepts exactly 64 lowercase hex characters and round-trips through
//!   `to_hex`, `Display` and `from_bytes`/`as_bytes`; its `Debug` output never shows the full id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::{SessionId, Token, TokenError};

const TOKEN_CHARS: usize = 43;
const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fuzz_target!(|data: &[u8]| {
    match std::str::from_utf8(data) {
        Ok(text) => check(text),
        // Invalid UTF-8 cannot reach a `&str` API as is; still exercise the lossy form, which
        // brings U+FFFD (three bytes, one char) into play.
        Err(_) => check(&String::from_utf8_lossy(data)),
    }
});

fn check(text: &str) {
    check_token(text);
    check_session_id(text);
}

/// Independent model of the canonical text form of a 32-byte token.
fn is_canonical_token(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != TOKEN_CHARS || !bytes.iter().all(|b| BASE64URL.contains(b)) {
        return false;
    }
    // 43 characters carry 258 bits; the last character's two low bits must be zero.
    let last = bytes[TOKEN_CHARS - 1];
    let value = BASE64URL.iter().position(|&c| c == last).unwrap();
    value & 0b11 == 0
}

fn check_token(text: &str) {
    let parsed = Token::parse(text);
    assert_eq!(
        parsed.is_ok(),
        is_canonical_token(text),
        "Token::parse acceptance disagrees with the canonical-form model for {text:?}: {parsed:?}"
    );
    match parsed {
        Ok(token) => {
            let exposed = token.expose();
            assert_eq!(exposed, text, "expose() is not the parsed input");
            assert_eq!(exposed.len(), TOKEN_CHARS);
            let debug = format!("{token:?}");
            assert!(
                !debug.contains(text),
                "Debug output {debug:?} contains the token"
            );
            // Re-parsing the exposed form gives the same token.
            let again = Token::parse(&exposed).expect("exposed form re-parses");
            assert_eq!(again.session_id(), token.session_id());
            assert!(again.verifier_hash() == token.verifier_hash());
            // The session id derived from it is itself a valid hex id.
            let id = token.session_id();
            assert_eq!(SessionId::from_hex(&id.to_hex()), Some(id));
        }
        Err(TokenError::Random) => panic!("parse reported a random-generator failure"),
        Err(TokenError::Length(_)) => {
            assert_ne!(text.len(), TOKEN_CHARS, "Length error for a 43-byte input");
        }
        Err(TokenError::Alphabet) => {
            assert_eq!(
                text.len(),
                TOKEN_CHARS,
                "Alphabet error for a non-43-byte input"
            );
        }
        Err(other) => panic!("unexpected error variant {other:?}"),
    }
}

fn check_session_id(text: &str) {
    let expected = text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let parsed = SessionId::from_hex(text);
    assert_eq!(
        parsed.is_some(),
        expected,
        "SessionId::from_hex acceptance wrong for {text:?}"
    );
    if let Some(id) = parsed {
        assert_eq!(id.to_hex(), text, "to_hex does not round-trip");
        assert_eq!(id.to_string(), text, "Display does not round-trip");
        assert_eq!(SessionId::from_bytes(*id.as_bytes()), id);
        let debug = format!("{id:?}");
        assert!(!debug.contains(text), "Debug shows the whole id: {debug:?}");
        assert!(
            text.starts_with(&id.reference().to_string()),
            "reference is not the id's prefix"
        );
    }
}
