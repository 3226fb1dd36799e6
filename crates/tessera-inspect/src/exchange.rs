//! The exchanges a run made, kept as evidence an auditor can replay: every request and its
//! response, tagged with the check that made it, bounded in memory, and redacted on the way
//! out (session tokens to the short form the reports use, passwords to `[password]`).
//!
//! Each finding carries the last few exchanges of its check; `--har FILE` writes them all as
//! HAR 1.2, which browsers' developer tools and proxies (Burp, ZAP) import.
//!
//! Redaction works on what was seen, not on guesses: every cookie value the target set or the
//! inspector sent is a secret, and so is every value of a target-file field whose name says
//! password. On the way out each run of token characters that equals a secret is replaced, in
//! URLs, headers and bodies alike, so a token that travelled in a query string or a `Location`
//! is redacted too.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{json, Value};
use tessera_core::{Clock as _, SystemClock, Timestamp};

use crate::checks::CheckId;

/// Bytes of exchanges kept for the whole run; later ones are counted, not kept.
pub const MAX_RECORDED_BYTES: usize = 24 * 1024 * 1024;
/// Longest body kept of a request or response (the rest is cut, and the HAR says so).
const MAX_BODY_KEPT: usize = 4 * 1024;
/// Headers kept per message, and the longest value kept of each.
const MAX_HEADERS: usize = 40;
const MAX_HEADER_VALUE: usize = 2 * 1024;
/// Secrets remembered (cookie values are distinct per session; a run makes a few thousand).
const MAX_SECRETS: usize = 200_000;
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

/// One request and its response, as sent and received (cut to the bounds above).
#[derive(Debug, Clone)]
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
#[derive(Debug, Default)]
pub struct Recorder {
    exchanges: Vec<Exchange>,
    bytes: usize,
    dropped: usize,
    secrets: HashSet<String>,
    passwords: Vec<String>,
}

/// A shared recorder.
pub(crate) type Shared = Arc<Mutex<Recorder>>;

fn cut(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default().to_owned()
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

    fn remember(&mut self, value: &str) {
        let v = value.trim().trim_matches('"').trim_end_matches('=');
        if v.len() >= 8 && self.secrets.len() < MAX_SECRETS {
            self.secrets.insert(v.to_owned());
        }
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
                        cut(&String::from_utf8_lossy(v.as_bytes()), MAX_HEADER_VALUE),
                    )
                })
                .collect()
        };
        let e = Exchange {
            step: STEP.try_with(|s| *s).ok(),
            started: sent.started,
            millis: got.millis,
            method: sent.method,
            url: cut(sent.url, MAX_HEADER_VALUE),
            request_headers: sent
                .headers
                .into_iter()
                .take(MAX_HEADERS)
                .map(|(k, v)| (k, cut(&v, MAX_HEADER_VALUE)))
                .collect(),
            request_body: sent
                .body
                .map(|(mime, text)| (mime.to_owned(), cut(&text, MAX_BODY_KEPT))),
            status: got.status,
            response_headers: headers(got.headers),
            response_mime: got
                .headers
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned(),
            response_body: cut(got.body, MAX_BODY_KEPT),
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

    /// `text` with every secret seen replaced: tokens by their short form, passwords by
    /// `[password]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut run = String::new();
        // `=` ends a run: it separates names from values, and base64 padding is trimmed from
        // the secrets as they are remembered.
        let flush = |run: &mut String, out: &mut String| {
            if run.len() >= 8 && self.secrets.contains(run.as_str()) {
                out.push_str(&crate::checks::short(run));
            } else {
                out.push_str(run);
            }
            run.clear();
        };
        for c in text.chars() {
            if token_char(c) {
                run.push(c);
            } else {
                flush(&mut run, &mut out);
                out.push(c);
            }
        }
        flush(&mut run, &mut out);
        for p in &self.passwords {
            if out.contains(p.as_str()) {
                out = out.replace(p.as_str(), "[password]");
            }
        }
        out
    }

    /// Exchanges not kept because the budget was spent.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// The last [`EXCHANGES_PER_FINDING`] exchanges of `step`, redacted, and how many it made.
    pub fn evidence(&self, step: Step) -> (Vec<Evidence>, usize) {
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
            .map(|e| self.evidence_of(e))
            .collect();
        (shown, total)
    }

    fn evidence_of(&self, e: &Exchange) -> Evidence {
        let pick = |headers: &[(String, String)], names: &[&str]| -> Vec<String> {
            headers
                .iter()
                .filter(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
                .map(|(k, v)| format!("{k}: {}", self.redact(v)))
                .collect()
        };
        Evidence {
            request: format!("{} {}", e.method, self.redact(&e.url)),
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

    /// Every exchange kept, redacted, as a HAR 1.2 log.
    pub fn to_har(&self) -> String {
        let entries: Vec<Value> = self.exchanges.iter().map(|e| self.har_entry(e)).collect();
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

    fn har_entry(&self, e: &Exchange) -> Value {
        let headers = |h: &[(String, String)]| -> Vec<Value> {
            h.iter()
                .map(|(k, v)| json!({ "name": k, "value": self.redact(v) }))
                .collect()
        };
        let url = self.redact(&e.url);
        let query: Vec<Value> = url::Url::parse(&url)
            .map(|u| {
                u.query_pairs()
                    .map(|(k, v)| json!({ "name": k, "value": v }))
                    .collect()
            })
            .unwrap_or_default();
        let mut request = json!({
            "method": e.method,
            "url": url,
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
                json!({ "mimeType": mime, "text": self.redact_form(body) }),
            );
        }
        let cut_note = if e.response_size > e.response_body.len() {
            format!(
                "body cut to its first {} of {} bytes",
                e.response_body.len(),
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
                    "text": self.redact(&e.response_body),
                    "comment": cut_note,
                },
                "redirectURL": e.response_headers.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("location"))
                    .map(|(_, v)| self.redact(v))
                    .unwrap_or_default(),
                "headersSize": -1,
                "bodySize": e.response_size,
            },
            "cache": {},
            "timings": { "send": 0, "wait": e.millis, "receive": 0 },
            "comment": e.step.map_or("", Step::name),
        })
    }

    /// A form body with every password-like field's value replaced, then redacted.
    fn redact_form(&self, body: &str) -> String {
        let fields: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
            .map(|(k, v)| {
                let v = if k.to_ascii_lowercase().contains("pass") {
                    "[password]".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.redact(&encoded)
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
        let r = Recorder::new(vec!["wonder land!".into()]);
        let mut r = r.lock().unwrap();
        let token = "AbCdEfGh1234567890_-xyz";
        r.remember(token);
        r.remember("s%3Aabcdefgh.ijklmnop");
        r.remember("short");
        for text in [
            format!("/account?sid={token}&x=1"),
            format!("__Host-sid={token}; Path=/"),
            format!("<a href=\"/a?sid={token}\">"),
            format!("sid={token}=="),
            "sid=s%3Aabcdefgh.ijklmnop; Path=/".to_owned(),
        ] {
            let out = r.redact(&text);
            assert!(
                !out.contains(token) && !out.contains("s%3Aabcdefgh.ijklmnop"),
                "{out}"
            );
            assert!(out.contains("…#"), "{out}");
        }
        // Short values and unknown tokens are left alone; passwords go wherever they are.
        assert_eq!(r.redact("short AbCdEfGh-unknown"), "short AbCdEfGh-unknown");
        assert_eq!(r.redact("pw=wonder land!"), "pw=[password]");
        let form = r.redact_form("username=alice&password=hunter22&csrf=x");
        assert!(
            form.contains("password=%5Bpassword%5D") && !form.contains("hunter22"),
            "{form}"
        );
    }
}
