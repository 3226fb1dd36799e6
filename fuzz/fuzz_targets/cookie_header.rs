//! Fuzzes the request-reading side of `tessera-tower`: the session-cookie reader
//! (`transport::presented`), the loopback check (`transport::host_is_loopback`) and the CSRF
//! guard (`CsrfGuard::check`).
//!
//! Input layout: the first byte holds flags; the rest is split on 0x00 into segments, consumed
//! in order:
//!
//! | flag bit | meaning                                                             |
//! |----------|---------------------------------------------------------------------|
//! | 0-1      | method: POST, GET, PUT, DELETE                                      |
//! | 2        | next segment is the `Host` header                                   |
//! | 3        | next segment is the `Origin` header                                 |
//! | 4        | next segment is the `Sec-Fetch-Site` header                         |
//! | 5        | next segment is the request URI (absolute-form gives an authority)  |
//! | 6        | next segment is an origin the second guard allows (`allow_origin`)  |
//! | 7        | the second guard also allows `same-site`                            |
//!
//! Every remaining segment is one `Cookie` header value. Values `HeaderValue::from_bytes`
//! rejects are skipped (as a server would never see them).
#![no_main]

use http::header::{COOKIE, HOST, ORIGIN};
use http::{HeaderMap, HeaderValue, Method, Uri};
use libfuzzer_sys::fuzz_target;
use tessera_tower::csrf::CsrfRefusal;
use tessera_tower::transport::{host_is_loopback, presented, read, Presented};
use tessera_tower::{CsrfGuard, DEFAULT_COOKIE_NAME};

const SEC_FETCH_SITE: &str = "sec-fetch-site";

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut segments = rest.split(|&b| b == 0);
    let mut take = |bit: u8| -> Option<&[u8]> {
        if flags & (1 << bit) != 0 {
            segments.next()
        } else {
            None
        }
    };
    let host = take(2);
    let origin = take(3);
    let fetch_site = take(4);
    let uri_bytes = take(5);
    let allowed_origin = take(6);
    let cookies: Vec<&[u8]> = segments.collect();

    let method = match flags & 0b11 {
        0 => Method::POST,
        1 => Method::GET,
        2 => Method::PUT,
        _ => Method::DELETE,
    };
    let uri = match uri_bytes {
        Some(bytes) => match Uri::try_from(bytes) {
            Ok(uri) => uri,
            Err(_) => Uri::from_static("/"),
        },
        None => Uri::from_static("/"),
    };

    let mut headers = HeaderMap::new();
    let mut cookie_count = 0usize;
    for value in &cookies {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.append(COOKIE, v);
            cookie_count += 1;
        }
    }
    let host_value = host.and_then(|h| HeaderValue::from_bytes(h).ok());
    let origin_value = origin.and_then(|o| HeaderValue::from_bytes(o).ok());
    let fetch_site_value = fetch_site.and_then(|s| HeaderValue::from_bytes(s).ok());
    if let Some(v) = &host_value {
        headers.insert(HOST, v.clone());
    }
    if let Some(v) = &origin_value {
        headers.insert(ORIGIN, v.clone());
    }
    if let Some(v) = &fetch_site_value {
        headers.insert(SEC_FETCH_SITE, v.clone());
    }

    check_presented(data, &headers, cookie_count);
    check_loopback(&headers, host_value.as_ref());
    check_csrf(
        &method,
        &uri,
        &headers,
        host_value.as_ref(),
        origin_value.as_ref(),
        fetch_site_value.as_ref(),
        allowed_origin,
        flags & 0x80 != 0,
    );
});

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// The reference reader, written apart from the layer's: RFC 6265 §5.2 as browsers apply it.
/// Each `Cookie` header is cut at `;`; a pair's name is what precedes its first `=` (no `=`:
/// no name); only ASCII space and tab are trimmed; the session cookie is the pair whose name
/// equals the configured name byte for byte.
fn reference(headers: &HeaderMap, name: &str) -> String {
    let mut values: Vec<Vec<u8>> = Vec::new();
    for header in headers.get_all(COOKIE) {
        let bytes = header.as_bytes();
        let mut start = 0;
        while start <= bytes.len() {
            let end = bytes[start..]
                .iter()
                .position(|&b| b == b';')
                .map_or(bytes.len(), |i| start + i);
            let pair = &bytes[start..end];
            if let Some(eq) = pair.iter().position(|&b| b == b'=') {
                let strip = |mut s: &[u8]| {
                    while s.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
                        s = &s[1..];
                    }
                    while s.last().is_some_and(|b| *b == b' ' || *b == b'\t') {
                        s = &s[..s.len() - 1];
                    }
                    s.to_vec()
                };
                if strip(&pair[..eq]) == name.as_bytes() {
                    values.push(strip(&pair[eq + 1..]));
                }
            }
            start = end + 1;
        }
    }
    match values.as_slice() {
        [] => "none".into(),
        [one] => match std::str::from_utf8(one).ok().map(tessera_core::Token::parse) {
            Some(Ok(t)) => format!("token {}", t.expose()),
            _ => "malformed".into(),
        },
        _ => "duplicate".into(),
    }
}

fn check_presented(data: &[u8], headers: &HeaderMap, cookie_count: usize) {
    let result = presented(headers, DEFAULT_COOKIE_NAME);
    // The layer's choice of session cookie is the reference reader's, on every input: a name
    // that only looks like the session cookie's (Unicode spaces, zero-width characters, case,
    // %-encoding) is never chosen.
    assert_eq!(
        describe(&result),
        reference(headers, DEFAULT_COOKIE_NAME),
        "the layer and the exact-name reference reader disagree"
    );
    let reading = read(headers, DEFAULT_COOKIE_NAME);
    assert_eq!(describe(&reading.presented), describe(&result));
    assert_eq!(
        reading.exact as usize,
        headers
            .get_all(COOKIE)
            .iter()
            .map(|h| tessera_tower::transport::cookie_pairs(h.as_bytes())
                .filter(|(n, _)| *n == DEFAULT_COOKIE_NAME.as_bytes())
                .count())
            .sum::<usize>()
    );
    let name_present = headers
        .get_all(COOKIE)
        .iter()
        .any(|v| contains(v.as_bytes(), DEFAULT_COOKIE_NAME.as_bytes()));
    match &result {
        Presented::Token(t) => {
            let exposed = t.expose();
            assert_eq!(exposed.len(), 43);
            assert!(
                contains(data, exposed.as_bytes()),
                "presented token {exposed:?} does not appear in the input"
            );
            assert!(
                name_present,
                "token found without the cookie name in any header"
            );
            // A token from the cookie re-parses to itself.
            let again = tessera_core::Token::parse(&exposed).expect("exposed token re-parses");
            assert_eq!(again.expose(), exposed);
        }
        Presented::Malformed | Presented::Duplicate => {
            assert!(cookie_count > 0);
            assert!(
                name_present,
                "{result:?} without the cookie name in any header"
            );
        }
        Presented::None => {}
    }
    // Reading is deterministic and does not depend on the other headers.
    let mut only_cookies = HeaderMap::new();
    for v in headers.get_all(COOKIE) {
        only_cookies.append(COOKIE, v.clone());
    }
    let again = presented(&only_cookies, DEFAULT_COOKIE_NAME);
    assert_eq!(describe(&result), describe(&again));
}

fn describe(p: &Presented) -> String {
    match p {
        Presented::None => "none".into(),
        Presented::Token(t) => format!("token {}", t.expose()),
        Presented::Malformed => "malformed".into(),
        Presented::Duplicate => "duplicate".into(),
    }
}

fn check_loopback(headers: &HeaderMap, host: Option<&HeaderValue>) {
    let result = host_is_loopback(headers);
    if result {
        let host = host.expect("loopback without a Host header");
        let text = host.to_str().expect("loopback from a non-text Host");
        let lower = text.to_ascii_lowercase();
        assert!(
            lower.contains("localhost") || lower.contains("127.") || lower.contains(':'),
            "Host {text:?} judged loopback"
        );
    }
    // Only the Host header matters.
    let mut only_host = HeaderMap::new();
    if let Some(h) = host {
        only_host.insert(HOST, h.clone());
    }
    assert_eq!(host_is_loopback(&only_host), result);
}

#[allow(clippy::too_many_arguments)]
fn check_csrf(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    host: Option<&HeaderValue>,
    origin: Option<&HeaderValue>,
    fetch_site: Option<&HeaderValue>,
    allowed_origin: Option<&[u8]>,
    allow_same_site: bool,
) {
    let strict = CsrfGuard::new();
    let result = strict.check(method, uri, headers);
    let safe = matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );

    if safe {
        assert_eq!(result, Ok(()), "safe method refused");
    } else if let Some(site) = fetch_site {
        // Fetch Metadata decides alone; the default guard trusts only same-origin and none.
        match site.as_bytes() {
            b"same-origin" | b"none" => assert_eq!(result, Ok(())),
            _ => assert_eq!(
                result,
                Err(CsrfRefusal::FetchSite),
                "Sec-Fetch-Site {site:?}"
            ),
        }
    } else if let Some(origin) = origin {
        match origin.to_str() {
            Err(_) => assert_eq!(result, Err(CsrfRefusal::Origin), "non-text Origin accepted"),
            Ok(origin_text) => {
                let own = host
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_owned)
                    .or_else(|| uri.authority().map(|a| a.as_str().to_owned()));
                // Browsers serialize Origin with a lowercase scheme; the host part is compared
                // case-insensitively. A mixed-case scheme ("htTps://") is refused: fail-closed.
                let same = own.is_some_and(|own| {
                    origin_text
                        .strip_prefix("https://")
                        .or_else(|| origin_text.strip_prefix("http://"))
                        .is_some_and(|authority| authority.eq_ignore_ascii_case(&own))
                });
                if result.is_ok() {
                    assert!(
                        same,
                        "default guard accepted Origin {origin_text:?} for host {host:?} / uri {uri}"
                    );
                    assert_ne!(origin_text, "null");
                } else {
                    assert_eq!(result, Err(CsrfRefusal::Origin));
                    assert!(!same, "same-origin request refused: {origin_text:?}");
                }
            }
        }
    } else {
        assert_eq!(
            result,
            Ok(()),
            "request without Origin or Fetch Metadata refused"
        );
    }

    // A configured guard only ever widens what the default guard accepts.
    let mut guard = CsrfGuard::new();
    let allowed = allowed_origin.map(|o| String::from_utf8_lossy(o).into_owned());
    if let Some(o) = &allowed {
        guard = guard.allow_origin(o.clone());
    }
    if allow_same_site {
        guard = guard.allow_same_site();
    }
    let wide = guard.check(method, uri, headers);
    if result.is_ok() {
        assert_eq!(
            wide,
            Ok(()),
            "a wider guard refused what the default guard accepts"
        );
    }
    if wide.is_ok() && result.is_err() {
        // Only the configured allowances may explain the difference.
        let site = fetch_site.map(HeaderValue::as_bytes);
        let origin_is_allowed = match (origin.and_then(|o| o.to_str().ok()), &allowed) {
            (Some(o), Some(a)) => o == a,
            _ => false,
        };
        assert!(
            origin_is_allowed || (allow_same_site && site == Some(b"same-site".as_slice())),
            "wider guard accepted without a matching allowance: site {site:?}, origin {origin:?}"
        );
        if site == Some(b"cross-site".as_slice()) {
            assert!(
                origin_is_allowed,
                "cross-site accepted without an allowed Origin"
            );
        }
    }
}
