//! Reading the `Cookie` header as browsers write it (RFC 6265 §5.2): pairs split at `;` and the
//! first `=`, only ASCII space and tab trimmed, names compared byte for byte. A small reader of
//! our own, because the `cookie` crate trims names with `str::trim` (Unicode whitespace too),
//! which let a look-alike name through as the session cookie.

use http::header::COOKIE;
use http::HeaderMap;
use tessera_core::Token;

/// What the request presented as its session cookie.
#[derive(Debug, Clone)]
pub enum Presented {
    /// No session cookie.
    None,
    /// Exactly one session cookie, a well-formed token.
    Token(Token),
    /// One session cookie that is not a token (garbage, truncated, oversized).
    Malformed,
    /// More than one cookie with the session cookie's exact name: cookie tossing from a sibling
    /// domain or path. None is trusted.
    Duplicate,
}

/// The session cookie as the request carried it, and what imitated it.
#[derive(Debug, Clone)]
pub struct Reading {
    /// The cookie with exactly the session cookie's name.
    pub presented: Presented,
    /// Cookies whose name is not the session cookie's but normalises to it (Unicode spaces,
    /// zero-width characters, letter case, `%`-encoding). Never used; counted for the audit.
    pub look_alikes: u32,
    /// Cookies with exactly the session cookie's name (more than one is tossing).
    pub exact: u32,
}

impl Reading {
    /// True when the request carried cookies that imitate or duplicate the session cookie.
    pub fn tossing_suspected(&self) -> bool {
        self.look_alikes > 0 || self.exact > 1
    }
}

/// One `name=value` pair of a `Cookie` header, split as browsers and RFC 6265 §5.2 do: at the
/// first `=`, with only ASCII space and tab trimmed around name and value. A pair without `=`
/// has an empty name (a browser's "nameless" cookie), so it is never a named cookie.
pub fn cookie_pairs(header: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    header.split(|b| *b == b';').map(|pair| {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(eq) => (
                pair.get(..eq).unwrap_or_default(),
                pair.get(eq + 1..).unwrap_or_default(),
            ),
            None => (&[][..], pair),
        };
        (trim_sp_htab(name), trim_sp_htab(value))
    })
}

fn trim_sp_htab(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// The name a lax parser might fold `name` into: `%`-decoded, without Unicode whitespace or
/// zero-width and other invisible characters, ASCII-lowercased. A name whose folding equals the
/// session cookie's folding, but whose bytes differ, is a look-alike.
fn folded(name: &[u8]) -> String {
    let decoded = percent_decoded(name);
    String::from_utf8_lossy(&decoded)
        .chars()
        .filter(|c| !c.is_whitespace() && !is_invisible(*c))
        .collect::<String>()
        .to_ascii_lowercase()
}

/// True when `name` is not `wanted` but a lax parser could take it for it.
fn is_look_alike(name: &[u8], wanted: &[u8]) -> bool {
    if name.is_empty() || name.len() > 4 * wanted.len() + 64 {
        return false;
    }
    // Fast path, every ordinary cookie: printable ASCII without `%` folds only by case.
    if name.iter().all(|b| b.is_ascii_graphic() && *b != b'%') {
        return name.eq_ignore_ascii_case(wanted);
    }
    folded(name) == folded(wanted)
}

/// Characters that render as nothing: zero-width spaces and joiners, word joiner, BOM, soft
/// hyphen, and the other default-ignorable format characters a look-alike name can hide.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
        | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFF8}')
}

fn percent_decoded(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'%'));
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Reads the session cookie from every `Cookie` header, by **exact byte comparison** of the
/// name (after trimming only ASCII space and tab, as browsers do). The URL is never consulted.
///
/// The `cookie` crate trims names with `str::trim`, which also strips Unicode whitespace: with
/// it, `\u{2000}__Host-session` (a cookie any sibling subdomain can set, since browsers do not
/// treat that name as prefixed) was read as `__Host-session`. Here such a name is a look-alike:
/// counted, never used.
pub fn read(headers: &HeaderMap, name: &str) -> Reading {
    let wanted = name.as_bytes();
    let mut reading = Reading {
        presented: Presented::None,
        look_alikes: 0,
        exact: 0,
    };
    for header in headers.get_all(COOKIE) {
        for (n, value) in cookie_pairs(header.as_bytes()) {
            if n == wanted {
                reading.exact = reading.exact.saturating_add(1);
                reading.presented = if reading.exact > 1 {
                    Presented::Duplicate
                } else {
                    match std::str::from_utf8(value).ok().map(Token::parse) {
                        Some(Ok(token)) => Presented::Token(token),
                        _ => Presented::Malformed,
                    }
                };
            } else if is_look_alike(n, wanted) {
                reading.look_alikes = reading.look_alikes.saturating_add(1);
            }
        }
    }
    reading
}

/// Reads the session cookie; see [`read`].
pub fn presented(headers: &HeaderMap, name: &str) -> Presented {
    read(headers, name).presented
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::DEFAULT_COOKIE_NAME;
    use cookie::Cookie;
    use http::HeaderValue;

    fn header(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn presented_token_is_read_strictly_from_cookies_only() {
        let t = Token::generate().unwrap();
        let ok = header(&format!("a=1; __Host-session={}; b=2", t.expose()));
        assert!(
            matches!(presented(&ok, DEFAULT_COOKIE_NAME), Presented::Token(p) if p.expose() == t.expose())
        );
        assert!(matches!(
            presented(&header("a=1"), DEFAULT_COOKIE_NAME),
            Presented::None
        ));
        assert!(matches!(
            presented(&header("__Host-session=short"), DEFAULT_COOKIE_NAME),
            Presented::Malformed
        ));
        let huge = format!("__Host-session={}", "A".repeat(8000));
        assert!(matches!(
            presented(&header(&huge), DEFAULT_COOKIE_NAME),
            Presented::Malformed
        ));
        let dup = format!("__Host-session={0}; __Host-session={0}", t.expose());
        assert!(matches!(
            presented(&header(&dup), DEFAULT_COOKIE_NAME),
            Presented::Duplicate
        ));
        // Duplicates across two Cookie headers count too.
        let mut two = header(&format!("__Host-session={}", t.expose()));
        two.append(
            COOKIE,
            HeaderValue::from_str(&format!("__Host-session={}", t.expose())).unwrap(),
        );
        assert!(matches!(
            presented(&two, DEFAULT_COOKIE_NAME),
            Presented::Duplicate
        ));
        let mut binary = HeaderMap::new();
        binary.append(
            COOKIE,
            HeaderValue::from_bytes(b"__Host-session=\xff\xfe").unwrap(),
        );
        assert!(matches!(
            presented(&binary, DEFAULT_COOKIE_NAME),
            Presented::Malformed
        ));
        assert!(matches!(presented(&binary, ""), Presented::None));
        // A non-ASCII value in another cookie does not spoil ours.
        let mut mixed = HeaderMap::new();
        let raw = format!("pref=caf\u{e9}; __Host-session={}", t.expose());
        mixed.append(COOKIE, HeaderValue::from_bytes(raw.as_bytes()).unwrap());
        assert!(
            matches!(presented(&mixed, DEFAULT_COOKIE_NAME), Presented::Token(p) if p.expose() == t.expose())
        );
    }

    /// The look-alike names the hardening review used ("cookie chaos"): the `cookie` crate reads
    /// the Unicode-whitespace ones as the session cookie (its `str::trim`), the reader here never
    /// does, and counts each as a look-alike.
    #[test]
    fn look_alikes_are_never_the_session_cookie_unlike_the_cookie_crate() {
        let t = Token::generate().unwrap();
        let crate_reads_it = |name: &str| {
            Cookie::split_parse(format!("{name}={}", t.expose()))
                .flatten()
                .any(|c| c.name() == DEFAULT_COOKIE_NAME)
        };
        assert!(
            crate_reads_it("\u{2000}__Host-session"),
            "the crate's flaw this guards against"
        );
        assert!(crate_reads_it("\u{00A0}__Host-session"));
        for name in [
            "\u{2000}__Host-session",
            "\u{00A0}__Host-session",
            "\u{FEFF}__Host-session",
            "\u{200B}__Host-session",
            "__Host-session\u{3000}",
            "__Host-\u{200D}session",
            "%5F_Host-session",
            "__Host%2Dsession",
            "__host-session",
            "__HOST-SESSION",
            "\u{0085}__Host-session",
        ] {
            let mut h = HeaderMap::new();
            h.append(
                COOKIE,
                HeaderValue::from_bytes(format!("{name}={}", t.expose()).as_bytes()).unwrap(),
            );
            let r = read(&h, DEFAULT_COOKIE_NAME);
            assert!(
                matches!(r.presented, Presented::None),
                "{name:?} was read as the session cookie"
            );
            assert_eq!((r.look_alikes, r.exact), (1, 0), "{name:?}");
            assert!(r.tossing_suspected());
        }
        // Other names are neither the cookie nor look-alikes.
        let r = read(
            &header("__Host-session2=x; session=y; __Host-sessio=z; a=1"),
            DEFAULT_COOKIE_NAME,
        );
        assert_eq!((r.look_alikes, r.exact), (0, 0));
        assert!(!r.tossing_suspected());
    }

    /// On ordinary headers (ASCII names, no look-alikes) the reader agrees with the `cookie`
    /// crate on every pair it finds.
    #[test]
    fn the_reader_agrees_with_the_cookie_crate_on_ordinary_headers() {
        for text in [
            "a=1; b=2",
            " a = 1 ;\tb=2\t",
            "a=; b",
            "a==1=2; c=\"q\"",
            "__Host-session=abc; x=y",
            ";;a=1;;",
        ] {
            let ours: Vec<(String, String)> = cookie_pairs(text.as_bytes())
                .filter(|(n, _)| !n.is_empty())
                .map(|(n, v)| {
                    (
                        String::from_utf8(n.to_vec()).unwrap(),
                        String::from_utf8(v.to_vec()).unwrap(),
                    )
                })
                .collect();
            let theirs: Vec<(String, String)> = Cookie::split_parse(text)
                .flatten()
                .filter(|c| !c.name().is_empty())
                .map(|c| (c.name().to_owned(), c.value().to_owned()))
                .collect();
            assert_eq!(ours, theirs, "{text:?}");
        }
    }
}
