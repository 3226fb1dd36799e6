//! `tessera inspect`'s target-file parser: any input gives a target or a `FILE:LINE: KEY:
//! reason` error, never a panic, and the line it names exists.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_inspect::target::Target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Target::parse(&text, "fuzz.toml") {
        Ok(t) => {
            assert!(matches!(t.base_url.scheme(), "http" | "https"));
            assert!(t.login.path.starts_with('/') && t.authenticated.path.starts_with('/'));
            assert!(!t.login.fields.is_empty());
        }
        Err(e) => {
            let lines = text.matches('\n').count() + 1;
            assert!(e.line >= 1 && e.line <= lines, "line {} of {lines}", e.line);
            assert!(!e.key.is_empty());
            assert!(e.to_string().starts_with("fuzz.toml:"));
        }
    }
});
