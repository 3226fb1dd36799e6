//! What an agent remembers of a run for the checks to examine (URLs, `Set-Cookie` headers,
//! stack hints), bounded whatever the target sends and counted where it was cut.

/// One `Set-Cookie` header as received. Its `Debug` shows the path and the cookie's name only.
#[derive(Clone, PartialEq, Eq)]
pub struct SeenCookie {
    /// The request path that got it.
    pub path: String,
    /// The header value, verbatim.
    pub header: String,
}

impl std::fmt::Debug for SeenCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.header.split_once('=').map_or("", |(n, _)| n.trim());
        f.debug_struct("SeenCookie")
            .field("path", &self.path)
            .field("name", &name)
            .finish_non_exhaustive()
    }
}

/// Bytes of distinct URLs kept for the whole run (a hostile target can link millions).
pub const MAX_SEEN_URL_BYTES: usize = 32 * 1024 * 1024;
/// Longest URL kept whole; a longer one is cut (at a character boundary).
const MAX_URL_BYTES: usize = 64 * 1024;
/// `Set-Cookie` headers kept for the whole run (the earliest: the login's are what the cookie
/// checks read).
pub const MAX_SEEN_COOKIES: usize = 2_000;
/// Longest `Set-Cookie` header kept whole (browsers store at most 4,096 bytes of a cookie).
const MAX_COOKIE_HEADER_BYTES: usize = 8 * 1024;

/// Everything observed so far, shared by all users of one agent; bounded whatever the target
/// sends, and counted where it was cut. Its `Debug` shows counts: URLs may carry tokens.
#[derive(Default)]
pub struct Seen {
    /// Every distinct URL seen (requested, redirected to, or linked from a page), up to
    /// [`MAX_SEEN_URL_BYTES`].
    pub urls: std::collections::BTreeSet<String>,
    url_bytes: usize,
    /// URLs not kept because the budget was spent.
    pub urls_dropped: usize,
    /// The first [`MAX_SEEN_COOKIES`] `Set-Cookie` headers received.
    pub set_cookies: Vec<SeenCookie>,
    /// `Set-Cookie` headers not kept.
    pub cookies_dropped: usize,
    /// What the app says about its stack: distinct `Server` / `X-Powered-By` values (as
    /// `name: value`) and the names of the hidden fields its forms carry, the first
    /// [`MAX_STACK_HINTS`] of each, for [`crate::stack::detect`].
    pub hints: StackHints,
    /// The latest `Secure-Session-Registration` header (a W3C DBSC offer), cut at 1 KiB.
    pub dbsc_offer: Option<String>,
}

impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seen")
            .field("urls", &self.urls.len())
            .field("set_cookies", &self.set_cookies.len())
            .finish_non_exhaustive()
    }
}

/// Distinct values kept per kind of stack hint.
pub const MAX_STACK_HINTS: usize = 16;
/// Longest stack hint kept whole.
const MAX_HINT_BYTES: usize = 200;

/// What the app shows of the stack it runs on (see [`Seen::hints`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackHints {
    /// `Server` and `X-Powered-By` headers, as `server: gunicorn`.
    pub headers: std::collections::BTreeSet<String>,
    /// Names of hidden form fields (CSRF tokens name their framework).
    pub form_fields: std::collections::BTreeSet<String>,
}

impl StackHints {
    pub(super) fn add(set: &mut std::collections::BTreeSet<String>, value: String) {
        if set.len() < MAX_STACK_HINTS {
            set.insert(cut(value, MAX_HINT_BYTES));
        }
    }
}

fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

impl Seen {
    /// Keeps `url` if it is new and the budget allows.
    pub(super) fn url(&mut self, url: String) {
        let url = cut(url, MAX_URL_BYTES);
        if self.urls.contains(&url) {
            return;
        }
        if self.url_bytes + url.len() > MAX_SEEN_URL_BYTES {
            self.urls_dropped += 1;
            return;
        }
        self.url_bytes += url.len();
        self.urls.insert(url);
    }

    /// Keeps the latest DBSC registration offer.
    pub(super) fn dbsc_offer(&mut self, header: &str) {
        self.dbsc_offer = Some(cut(header.to_owned(), 1024));
    }

    /// Keeps a `Set-Cookie` header while there is room.
    pub(super) fn cookie(&mut self, path: &str, header: &str) {
        if self.set_cookies.len() >= MAX_SEEN_COOKIES {
            self.cookies_dropped += 1;
            return;
        }
        self.set_cookies.push(SeenCookie {
            path: cut(path.to_owned(), MAX_URL_BYTES),
            header: cut(header.to_owned(), MAX_COOKIE_HEADER_BYTES),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_seen_stays_bounded_whatever_the_target_sends() {
        let mut seen = Seen::default();
        // A link flood: a million distinct 100-byte URLs, and the same one a million times.
        for i in 0..1_000_000 {
            seen.url(format!("/{i:099}"));
            seen.url("/same".into());
        }
        let kept: usize = seen.urls.iter().map(String::len).sum();
        assert!(kept <= MAX_SEEN_URL_BYTES, "{kept}");
        assert!(seen.urls_dropped > 0 && seen.urls.contains("/same"));
        // One 1 MB URL is cut, not kept whole.
        seen.urls.clear();
        seen.url_bytes = 0;
        seen.url("x".repeat(1 << 20));
        assert!(seen.urls.iter().all(|u| u.len() <= MAX_URL_BYTES));
        // A cookie flood: 90 cookies of 3.9 KB on each of 5,000 responses.
        let big = format!("c={}", "v".repeat(3_900));
        for _ in 0..(90 * 5_000) {
            seen.cookie("/", &big);
        }
        assert_eq!(seen.set_cookies.len(), MAX_SEEN_COOKIES);
        assert_eq!(seen.cookies_dropped, 90 * 5_000 - MAX_SEEN_COOKIES);
        // A header flood: every response a new 64 KB `Server` value.
        for i in 0..10_000 {
            StackHints::add(
                &mut seen.hints.headers,
                format!("server: {i}{}", "x".repeat(64 * 1024)),
            );
        }
        assert_eq!(seen.hints.headers.len(), MAX_STACK_HINTS);
        assert!(seen.hints.headers.iter().all(|h| h.len() <= MAX_HINT_BYTES));
    }
}
