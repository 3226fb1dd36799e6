//! The exchanges a run made, kept as evidence an auditor can replay: every request and its
//! response, tagged with the check that made it, bounded in memory, and redacted on the way
//! out (session tokens to the short form the reports use, passwords to `[password]`).
//!
//! Each finding carries the last few exchanges of its check; `--har FILE` writes them all as
//! HAR 1.2, which browsers' developer tools and proxies (Burp, ZAP) import.
//!
//! Redaction works on what was seen, not on guesses: every cookie value the target set or the
//! inspector sent (8 to 4,096 bytes), every anti-CSRF token read from a JSON endpoint, and every
//! value of a target-file field whose name says password (`crate::target::is_password_field`)
//! is a secret. On the way out each is
//! replaced wherever it occurs as a substring (Aho-Corasick), in its raw form and in its
//! percent-encoded and percent-decoded forms (a probe re-encodes a token into a query string),
//! in URLs, headers and bodies alike. Values are redacted before they are cut to the display
//! limits, and a cut never ends in the middle of a run of token characters. Should the secrets
//! outgrow their budget, every run of 16 or more token characters is masked instead.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use aho_corasick::{AhoCorasick, MatchKind};

use serde::Serialize;
use serde_json::{json, Value};
use tessera_core::{Clock as _, SystemClock, Timestamp};

use crate::checks::CheckId;

/// Bytes of exchanges kept for the whole run; later ones are counted, not kept.
pub const MAX_RECORDED_BYTES: usize = 24 * 1024 * 1024;
/// Longest body shown of a request or response (the rest is cut, and the HAR says so); twice
/// as much is kept, so a secret straddling the display cut is still whole when redacted.
const MAX_BODY_KEPT: usize = 4 * 1024;
/// Headers kept per message, and the longest value shown of each (twice as much is kept).
const MAX_HEADERS: usize = 40;
const MAX_HEADER_VALUE: usize = 2 * 1024;
/// Longest value remembered as a secret (browsers keep cookies up to 4 KiB).
const MAX_SECRET_LEN: usize = 4096;
/// Bytes of secrets remembered in all (a run's session tokens take a few tens of KiB); past
/// it, redaction masks every long run of token characters instead.
const MAX_SECRET_BYTES: usize = 1024 * 1024;
/// Exchanges attached to each finding (its check's last ones, where the deciding requests are).
pub const EXCHANGES_PER_FINDING: usize = 8;

/// What part of a run made an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The baseline login (its `Set-Cookie` is what the cookie checks judge).
    Login,
    /// A check.
    Check(CheckId),
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Check(c) => c.as_str(),
        }
    }
}

tokio::task_local! {
    static STEP: Step;
}

/// Runs `f` with its requests tagged as `step`'s.
pub async fn scoped<F: std::future::Future>(step: Step, f: F) -> F::Output {
    STEP.scope(step, f).await
}

/// One request and its response, as sent and received (cut to the bounds above). Unredacted:
/// it never leaves this module but through a [`Redactor`], and has no `Debug`.
#[derive(Clone)]
pub struct Exchange {
    step: Option<Step>,
    started: Timestamp,
    millis: u64,
    method: &'static str,
    url: String,
    request_headers: Vec<(String, String)>,
    request_body: Option<(String, String)>,
    status: u16,
    response_headers: Vec<(String, String)>,
    response_mime: String,
    response_body: String,
    response_size: usize,
}

/// A request about to be sent, for [`Recorder::record`].
pub(crate) struct Sent<'a> {
    pub(crate) started: Timestamp,
    pub(crate) method: &'static str,
    pub(crate) url: &'a str,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<(&'static str, String)>,
}

/// The response to it.
pub(crate) struct Received<'a> {
    pub(crate) status: u16,
    pub(crate) headers: &'a reqwest::header::HeaderMap,
    pub(crate) body: &'a str,
    pub(crate) millis: u64,
}

/// All exchanges of a run, shared by every user of one agent.
#[derive(Default)]
pub struct Recorder {
    exchanges: Vec<Exchange>,
    bytes: usize,
    dropped: usize,
    secrets: HashSet<String>,
    secret_bytes: usize,
    secrets_overflowed: bool,
    passwords: Vec<String>,
}

/// Replaces every secret a recorder knows in a text (built once per output).
pub struct Redactor {
    matcher: Option<AhoCorasick>,
    replacements: Vec<String>,
    mask_long_runs: bool,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("exchanges", &self.exchanges.len())
            .field("dropped", &self.dropped)
            .field("secrets", &self.secrets.len())
            .finish_non_exhaustive()
    }
}

/// A shared recorder.
pub(crate) type Shared = Arc<Mutex<Recorder>>;

/// `text` cut to at most `max` bytes; when cut, a trailing run of token characters (perhaps a
/// secret's first half) goes too.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let kept = text.get(..end).unwrap_or_default();
    kept.trim_end_matches(token_char).to_owned()
}

/// The characters a token is made of (base64, base64url, hex, %-encoding, signed-cookie dots).
fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.~%+/".contains(c)
}

impl Recorder {
    /// A recorder that redacts `passwords` (the target file's password-like values).
    pub(crate) fn new(passwords: Vec<String>) -> Shared {
        Arc::new(Mutex::new(Self {
            passwords: passwords.into_iter().filter(|p| !p.is_empty()).collect(),
            ..Self::default()
        }))
    }

    /// Keeps `value` as a secret to redact.
    pub(crate) fn remember(&mut self, value: &str) {
        let v = value.trim().trim_matches('"');
        if v.len() < 8 || v.len() > MAX_SECRET_LEN || self.secrets.contains(v) {
            return;
        }
        if self.secret_bytes + v.len() > MAX_SECRET_BYTES {
            self.secrets_overflowed = true;
            return;
        }
        self.secret_bytes += v.len();
        self.secrets.insert(v.to_owned());
    }

    /// Keeps one exchange, if the budget allows, and learns the cookie values it carried.
    pub(crate) fn record(&mut self, sent: Sent<'_>, got: Received<'_>) {
        for (name, value) in &sent.headers {
            if name.eq_ignore_ascii_case("cookie") {
                for pair in value.split(';') {
                    if let Some((_, v)) = pair.split_once('=') {
                        self.remember(v);
                    }
                }
            }
        }
        for v in got
            .headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            if let Some((_, rest)) = v.split_once('=') {
                self.remember(rest.split(';').next().unwrap_or_default());
            }
        }
        let headers = |h: &reqwest::header::HeaderMap| -> Vec<(String, String)> {
            h.iter()
                .take(MAX_HEADERS)
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        cut(&String::from_utf8_lossy(v.as_bytes()), 2 * MAX_HEADER_VALUE),
                    )
                })
                .collect()
        };
        let e = Exchange {
            step: STEP.try_with(|s| *s).ok(),
            started: sent.started,
            millis: got.millis,
            method: sent.method,
            url: cut(sent.url, 2 * MAX_HEADER_VALUE),
            request_headers: sent
                .headers
                .into_iter()
                .take(MAX_HEADERS)
                .map(|(k, v)| (k, cut(&v, 2 * MAX_HEADER_VALUE)))
                .collect(),
            request_body: sent
                .body
                .map(|(mime, text)| (mime.to_owned(), cut(&text, 2 * MAX_BODY_KEPT))),
            status: got.status,
            response_headers: headers(got.headers),
            response_mime: got
                .headers
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned(),
            response_body: cut(got.body, 2 * MAX_BODY_KEPT),
            response_size: got.body.len(),
        };
        let size = e.url.len()
            + e.response_body.len()
            + e.request_body.as_ref().map_or(0, |(_, b)| b.len())
            + e.request_headers
                .iter()
                .chain(&e.response_headers)
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
            + 128;
        if self.bytes + size > MAX_RECORDED_BYTES {
            self.dropped += 1;
            return;
        }
        self.bytes += size;
        self.exchanges.push(e);
    }

    /// A redactor for every secret seen so far.
    pub fn redactor(&self) -> Redactor {
        let mut patterns: Vec<String> = Vec::new();
        let mut replacements: Vec<String> = Vec::new();
        for secret in &self.secrets {
            let shown = crate::checks::short(secret);
            for form in forms(secret) {
                patterns.push(form);
                replacements.push(shown.clone());
            }
        }
        for p in &self.passwords {
            let mut all = forms(p);
            // As a JSON string writes it.
            if let Ok(json) = serde_json::to_string(p) {
                all.push(json.trim_matches('"').to_owned());
            }
            for form in all {
                patterns.push(form);
                replacements.push("[password]".to_owned());
            }
        }
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .ok();
        Redactor {
            matcher,
            replacements,
            mask_long_runs: self.secrets_overflowed,
        }
    }

    /// `text` with every secret seen replaced (one-off; build a [`Redactor`] for many texts).
    pub fn redact(&self, text: &str) -> String {
        self.redactor().redact(text)
    }

    /// Exchanges not kept because the budget was spent.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// The last [`EXCHANGES_PER_FINDING`] exchanges of `step`, redacted, and how many it made.
    pub fn evidence(&self, step: Step, r: &Redactor) -> (Vec<Evidence>, usize) {
        let mine: Vec<&Exchange> = self
            .exchanges
            .iter()
            .filter(|e| e.step == Some(step))
            .collect();
        let total = mine.len();
        let shown = mine
            .into_iter()
            .rev()
            .take(EXCHANGES_PER_FINDING)
            .rev()
            .map(|e| evidence_of(e, r))
            .collect();
        (shown, total)
    }

    /// Every exchange kept, redacted, as a HAR 1.2 log.
    pub fn to_har(&self) -> String {
        let r = self.redactor();
        let entries: Vec<Value> = self.exchanges.iter().map(|e| har_entry(e, &r)).collect();
        let comment = if self.dropped > 0 {
            format!(
                "{} later exchanges were not kept (the {MAX_RECORDED_BYTES}-byte budget was spent); tokens and passwords are redacted",
                self.dropped
            )
        } else {
            "tokens and passwords are redacted".to_owned()
        };
        let har = json!({ "log": {
            "version": "1.2",
            "creator": { "name": "tessera inspect", "version": env!("CARGO_PKG_VERSION") },
            "entries": entries,
            "comment": comment,
        }});
        let text = serde_json::to_string_pretty(&har).unwrap_or_else(|_| "{}".into());
        // serde_json escapes control characters but writes bidi controls raw; escaping them
        // too keeps the same JSON value while no viewer of the file is made to reorder text.
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if !c.is_control() && crate::report::text::is_hidden_control(c) {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            } else {
                out.push(c);
            }
        }
        out
    }
}

/// The forms a secret travels in: as sent, percent-decoded (and form-decoded, `+` as a
/// space, as a query string parser reads it), and percent-encoded (as a form or query string
/// encodes it, and as a path segment does).
fn forms(secret: &str) -> Vec<String> {
    let decoded = percent_decode(secret);
    let form_decoded: String = url::form_urlencoded::parse(format!("v={secret}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let mut all = vec![secret.to_owned(), form_decoded];
    for base in [secret, decoded.as_str()] {
        all.push(base.to_owned());
        all.push(url::form_urlencoded::byte_serialize(base.as_bytes()).collect());
        all.push(path_encode(base));
    }
    all.sort();
    all.dedup();
    all.retain(|f| f.len() >= 8);
    all
}

/// `%XX` sequences decoded (lossy UTF-8; `+` kept).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every byte outside the unreserved set as `%XX` (how a client puts a value in a path).
fn path_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Redactor {
    /// `text` with every secret replaced.
    pub fn redact(&self, text: &str) -> String {
        let replaced = match &self.matcher {
            Some(m) => m.replace_all(text, &self.replacements),
            None => text.to_owned(),
        };
        if !self.mask_long_runs {
            return replaced;
        }
        // Past the secrets' budget: mask what could be a token we did not keep.
        let mut out = String::with_capacity(replaced.len());
        let mut run = String::new();
        for c in replaced.chars().chain(std::iter::once(' ')) {
            if token_char(c) {
                run.push(c);
                continue;
            }
            if run.len() >= 16 {
                out.push_str("[masked]");
            } else {
                out.push_str(&run);
            }
            run.clear();
            out.push(c);
        }
        out.pop();
        out
    }

    /// Redacted, then cut to `max` bytes for display.
    fn shown(&self, text: &str, max: usize) -> String {
        cut(&self.redact(text), max)
    }

    /// A request body as shown: a form or JSON body with every password-like field's value
    /// replaced, then redacted and cut.
    fn body(&self, mime: &str, body: &str) -> String {
        let is_password = crate::target::is_password_field;
        let blanked = if mime.starts_with("application/x-www-form-urlencoded") {
            let fields: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
                .map(|(k, v)| {
                    let v = if is_password(&k) {
                        "[password]".to_owned()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields)
                .finish()
        } else {
            match serde_json::from_str::<Value>(body) {
                Ok(Value::Object(mut o)) => {
                    for (k, v) in o.iter_mut() {
                        if is_password(k) {
                            *v = Value::String("[password]".into());
                        }
                    }
                    Value::Object(o).to_string()
                }
                _ => body.to_owned(),
            }
        };
        self.shown(&blanked, MAX_BODY_KEPT)
    }
}

fn har_entry(e: &Exchange, r: &Redactor) -> Value {
    let headers = |h: &[(String, String)]| -> Vec<Value> {
        h.iter()
            .map(|(k, v)| json!({ "name": k, "value": r.shown(v, MAX_HEADER_VALUE) }))
            .collect()
    };
    // The query string from the URL as sent, each value redacted (the redacted URL itself may
    // no longer parse: the short form holds `#` and spaces).
    let query: Vec<Value> = url::Url::parse(&e.url)
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| json!({ "name": r.redact(&k), "value": r.redact(&v) }))
                .collect()
        })
        .unwrap_or_default();
    let mut request = json!({
        "method": e.method,
        "url": r.shown(&e.url, MAX_HEADER_VALUE),
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": headers(&e.request_headers),
        "queryString": query,
        "headersSize": -1,
        "bodySize": e.request_body.as_ref().map_or(0, |(_, b)| b.len()),
    });
    if let (Some((mime, body)), Some(obj)) = (&e.request_body, request.as_object_mut()) {
        obj.insert(
            "postData".into(),
            json!({ "mimeType": mime, "text": r.body(mime, body) }),
        );
    }
    let shown_body = r.shown(&e.response_body, MAX_BODY_KEPT);
    let cut_note = if e.response_size > shown_body.len() {
        format!(
            "body cut to its first {} of {} bytes",
            shown_body.len(),
            e.response_size
        )
    } else {
        String::new()
    };
    json!({
        "startedDateTime": e.started.rfc3339(),
        "time": e.millis,
        "request": request,
        "response": {
            "status": e.status,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": headers(&e.response_headers),
            "content": {
                "size": e.response_size,
                "mimeType": e.response_mime,
                "text": shown_body,
                "comment": cut_note,
            },
            "redirectURL": e.response_headers.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("location"))
                .map(|(_, v)| r.shown(v, MAX_HEADER_VALUE))
                .unwrap_or_default(),
            "headersSize": -1,
            "bodySize": e.response_size,
        },
        "cache": {},
        "timings": { "send": 0, "wait": e.millis, "receive": 0 },
        "comment": e.step.map_or("", Step::name),
    })
}

fn evidence_of(e: &Exchange, r: &Redactor) -> Evidence {
    let pick = |headers: &[(String, String)], names: &[&str]| -> Vec<String> {
        headers
            .iter()
            .filter(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
            .map(|(k, v)| format!("{k}: {}", r.shown(v, MAX_HEADER_VALUE)))
            .collect()
    };
    Evidence {
        request: format!("{} {}", e.method, r.shown(&e.url, MAX_HEADER_VALUE)),
        request_headers: pick(
            &e.request_headers,
            &["cookie", "origin", "sec-fetch-site", "content-type"],
        ),
        status: e.status,
        response_headers: pick(
            &e.response_headers,
            &[
                "set-cookie",
                "location",
                "cache-control",
                "strict-transport-security",
            ],
        ),
    }
}

/// An exchange as a finding shows it: the request line, the headers that matter to sessions,
/// the status. Redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// `GET http://host/path?query`.
    pub request: String,
    /// `Cookie`, `Origin`, `Sec-Fetch-Site`, `Content-Type`, as sent.
    pub request_headers: Vec<String>,
    /// The response status.
    pub status: u16,
    /// `Set-Cookie`, `Location`, `Cache-Control`, `Strict-Transport-Security`, as received.
    pub response_headers: Vec<String>,
}

/// Now, for an exchange's start.
pub(crate) fn now() -> Timestamp {
    SystemClock.now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_wherever_they_travel() {
        let r = Recorder::new(vec!["p@ss w0rd!".into()]);
        let mut r = r.lock().unwrap();
        let token = "AbCdEfGh1234567890_-xyz";
        let express = "s%3Aab/cd+ef.GHIJKLmnop";
        for v in [token, express, "short", "abc:defghijklmnop!,x"] {
            r.remember(v);
        }
        let red = r.redactor();
        for text in [
            format!("/account?sid={token}&x=1"),
            format!("__Host-sid={token}; Path=/"),
            format!("<a href=\"/a?sid={token}\">"),
            format!("sid={token}=="),
            format!("/s/{token}/view and /x{token}y"),
            format!("/login?next=%2Faccount%3Fsid%3D{token}"),
            format!("sid={express}; Path=/"),
            // What a probe makes of it in a query string, and decoded.
            format!(
                "/a?sid={}",
                url::form_urlencoded::byte_serialize(express.as_bytes()).collect::<String>()
            ),
            "s:ab/cd+ef.GHIJKLmnop".to_owned(),
            "id abc:defghijklmnop!,x.".to_owned(),
        ] {
            let out = red.redact(&text);
            for secret in [token, "ab/cd+ef.GHIJKLmnop", "abc:defghijklmnop"] {
                assert!(!out.contains(secret), "{secret} in {out}");
            }
            assert!(out.contains("…#") || out.contains("chars"), "{out}");
        }
        // Short values are left alone; passwords go wherever they are, raw or encoded.
        assert_eq!(
            red.redact("short AbCdEfGh-unknown"),
            "short AbCdEfGh-unknown"
        );
        assert_eq!(red.redact("pw=p@ss w0rd!"), "pw=[password]");
        assert_eq!(red.redact("pw=p%40ss+w0rd%21"), "pw=[password]");
        let form = red.body(
            "application/x-www-form-urlencoded",
            "username=alice&password=hunter22&csrf=x",
        );
        assert!(
            form.contains("password=%5Bpassword%5D") && !form.contains("hunter22"),
            "{form}"
        );
        let wp = red.body(
            "application/x-www-form-urlencoded",
            "log=alice&pwd=hunter22",
        );
        assert!(!wp.contains("hunter22"), "{wp}");
        let json = red.body(
            "application/json",
            r#"{"username":"alice","password":"p@ss w0rd!"}"#,
        );
        assert!(
            json.contains(r#""password":"[password]""#) && !json.contains("w0rd"),
            "{json}"
        );
        let plain = red.body("text/plain;charset=UTF-8", r#"{"password":"p@ss w0rd!"}"#);
        assert!(!plain.contains("w0rd"), "{plain}");
        // A cut never leaves the first half of a token behind.
        let long = format!("{}{token}", "x ".repeat(100));
        let shown = cut(&long, 210);
        assert!(!shown.contains("AbCd"), "{shown}");
    }

    #[test]
    fn past_their_budget_secrets_give_way_to_masking_every_long_run() {
        let r = Recorder::new(Vec::new());
        let mut r = r.lock().unwrap();
        for i in 0..300 {
            r.remember(&format!("{i:04}{}", "v".repeat(4000)));
        }
        r.remember("NeverKeptTokenValue1234");
        let out = r.redact("sid=NeverKeptTokenValue1234; theme=dark");
        assert!(
            !out.contains("NeverKept") && out.contains("theme=dark"),
            "{out}"
        );
    }
}
