//! The inspector against the fixture app: the hardened fixture passes every check, and each
//! weakness switch flips exactly the check it exists for (plus the cookie-name side effects the
//! fixture documents), nothing else.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

#[path = "support/fixture.rs"]
mod fixture;

use std::collections::BTreeMap;
use std::time::Duration;

use fixture::{start, Weaknesses, SWITCHES};
use tessera_inspect::agent::Limits;
use tessera_inspect::report::{Report, Status};
use tessera_inspect::target::Target;
use tessera_inspect::{inspect, Options};

const IDLE: Duration = Duration::from_secs(2);
/// Longer than the idle check's wait (idle + 10% + 2 s), so only idleness ends its session.
const ABSOLUTE: Duration = Duration::from_secs(6);

fn target(base_url: &str) -> Target {
    target_with(base_url, "")
}

/// The target file, with `extra` TOML appended.
fn target_with(base_url: &str, extra: &str) -> Target {
    let mut text = format!(
        r#"base_url = "{base_url}"
[login]
form_page = "/login"
path = "/login"
fields = {{ username = "alice", password = "wonderland" }}
[authenticated]
path = "/account"
expect_status = 200
expect_body = "alice"
[logout]
form_page = "/account"
path = "/logout"
[password_change]
form_page = "/password"
path = "/password"
fields = {{ old_password = "wonderland", new_password = "looking-glass-1" }}
revert_fields = {{ old_password = "looking-glass-1", new_password = "wonderland" }}
[privilege]
form_page = "/account"
path = "/elevate"
fields = {{ password = "wonderland" }}
[expiry]
idle_timeout = {}
absolute_timeout = {}
"#,
        IDLE.as_secs(),
        ABSOLUTE.as_secs()
    );
    text.push_str(extra);
    Target::parse(&text, "fixture.toml").unwrap()
}

fn options() -> Options {
    Options {
        samples: 120,
        limits: Limits {
            max_rps: 2_000,
            max_requests: 20_000,
            timeout: Duration::from_secs(10),
        },
        long: true,
        ..Options::default()
    }
}

async fn audit(w: Weaknesses) -> (Report, BTreeMap<String, Status>, String) {
    let mut w = w;
    w.idle_timeout = Some(IDLE);
    w.absolute_timeout = ABSOLUTE;
    let fx = start(w).await;
    let report = inspect(&target(&fx.base_url), &options()).await.unwrap();
    assert_eq!(
        fx.password(),
        "wonderland",
        "the password change was not reverted"
    );
    let statuses = report
        .findings
        .iter()
        .map(|f| (f.id.clone(), f.status))
        .collect();
    (report, statuses, fx.cookie_name().to_owned())
}

fn explain(report: &Report) -> String {
    report
        .findings
        .iter()
        .map(|f| format!("{:?} {}: {}\n", f.status, f.id, f.evidence))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardened_fixture_passes_every_check() {
    let (report, statuses, cookie) = audit(Weaknesses::hardened()).await;
    assert_eq!(
        report.session_cookie.as_deref(),
        Some(cookie.as_str()),
        "session cookie detection"
    );
    assert_eq!(statuses.len(), tessera_inspect::checks::CheckId::ALL.len());
    for (id, status) in &statuses {
        // hsts: plain HTTP. rotation-race: the fixture drops the old id at once, so requests
        // still in flight with it are signed out (a warning; Tessera's grace window passes).
        // device-bound-sessions: the fixture offers no DBSC (information, not a weakness).
        let expected = match id.as_str() {
            "hsts" | "device-bound-sessions" => Status::Skip,
            "rotation-race" => Status::Warn,
            _ => Status::Pass,
        };
        assert_eq!(*status, expected, "{id}\n{}", explain(&report));
    }
    assert!(!report.has_failures());
}

/// `--max-time` bounds the whole run: what had not finished is reported as not run, every
/// check still has a finding, and the report is a report, not a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_deadline_cuts_checks_short_and_says_so() {
    let mut w = Weaknesses::hardened();
    w.idle_timeout = Some(IDLE);
    let fx = start(w).await;
    let options = Options {
        max_time: Duration::from_millis(1500),
        samples: 2_000,
        ..options()
    };
    // An absolute-lifetime wait the deadline could never cover is refused before any request.
    let refused = inspect(&target(&fx.base_url), &options).await.unwrap_err();
    assert!(
        refused.to_string().contains("raise --max-time") && refused.exit_code() == 2,
        "{refused}"
    );
    let options = Options {
        long: false,
        ..options
    };
    let report = inspect(&target(&fx.base_url), &options).await.unwrap();
    assert_eq!(
        fx.password(),
        "wonderland",
        "a cut run still reverts the password"
    );
    assert_eq!(
        report.findings.len(),
        tessera_inspect::checks::CheckId::ALL.len()
    );
    let cut: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.evidence.contains("--max-time"))
        .map(|f| f.id.as_str())
        .collect();
    assert!(!cut.is_empty(), "{}", explain(&report));
    assert!(cut.iter().all(|id| report
        .findings
        .iter()
        .any(|f| f.id == *id && f.status == Status::Error)));
}

/// Picking a duplicated, unprefixed session cookie by position is a session swap: fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_cookie_wins_on_a_plain_name_is_a_session_swap() {
    let w = Weaknesses {
        first_cookie_wins: true,
        no_prefix: true,
        ..Weaknesses::hardened()
    };
    let (report, statuses, cookie) = audit(w).await;
    assert_eq!(cookie, "sid");
    assert_eq!(
        statuses["cookie-tossing"],
        Status::Fail,
        "{}",
        explain(&report)
    );
    // The plain name alone (hardened parser): duplicates are refused, a pass.
    let plain = Weaknesses {
        no_prefix: true,
        ..Weaknesses::hardened()
    };
    let (report, statuses, _) = audit(plain).await;
    assert_eq!(
        statuses["cookie-tossing"],
        Status::Pass,
        "{}",
        explain(&report)
    );
}

/// With `[second_user]` the check plays the swap out with the attacker's real session. An app
/// that serves the first *live* copy skips a dead token, so inference can only warn; the second
/// account shows the attacker's session served: a fail on a plain name (a warning under
/// `__Host-`, which siblings cannot toss).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_account_decides_what_inference_cannot() {
    let second = "[second_user]\nfields = { username = \"bob\", password = \"builder\" }\nexpect_body = \"bob\"\n";
    let cases = [
        ("first_live_cookie_wins", true, "", Status::Warn),
        ("first_live_cookie_wins", true, second, Status::Fail),
        ("first_cookie_wins", true, second, Status::Fail),
        ("first_live_cookie_wins", false, second, Status::Warn),
        ("hardened", true, second, Status::Pass),
    ];
    for (switch, plain, extra, want) in cases {
        let mut w = Weaknesses::only(switch).unwrap_or_else(Weaknesses::hardened);
        w.no_prefix = plain;
        w.idle_timeout = Some(IDLE);
        let fx = start(w).await;
        let options = Options {
            checks: Some(vec![tessera_inspect::checks::CheckId::CookieTossing]),
            ..options()
        };
        let report = inspect(&target_with(&fx.base_url, extra), &options)
            .await
            .unwrap();
        let f = &report.findings[0];
        assert_eq!(
            f.status,
            want,
            "{switch} plain={plain} second={}: {}",
            !extra.is_empty(),
            f.evidence
        );
        if !extra.is_empty() && want != Status::Pass {
            assert!(
                f.evidence.contains("SERVED AS THE ATTACKER"),
                "{}",
                f.evidence
            );
        }
    }
}

/// ASVS 5.0 3.3.1 asks for `__Host-` or `__Secure-`: a `Secure` `__Secure-` cookie passes
/// (the evidence says `__Host-` is stricter); only a name with neither prefix warns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secure_prefixed_cookie_meets_the_prefix_check() {
    let w = Weaknesses {
        cookie_name: Some("__Secure-sid".into()),
        ..Weaknesses::hardened()
    };
    let (report, statuses, cookie) = audit(w).await;
    assert_eq!(cookie, "__Secure-sid");
    assert_eq!(
        statuses["cookie-prefix"],
        Status::Pass,
        "{}",
        explain(&report)
    );
    let evidence = report
        .findings
        .iter()
        .find(|f| f.id == "cookie-prefix")
        .map(|f| f.evidence.clone())
        .unwrap_or_default();
    assert!(evidence.contains("__Host- is stricter"), "{evidence}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_weakness_flips_exactly_its_check() {
    let (_, baseline, _) = audit(Weaknesses::hardened()).await;
    // All switches at once, each on its own fixture.
    let runs = SWITCHES.iter().map(|(name, check, extra)| async move {
        let w = Weaknesses::only(name).unwrap();
        let (report, statuses, _) = audit(w).await;
        (*name, *check, *extra, report, statuses)
    });
    let results = futures_join_all(runs).await;
    for (name, check, extra, report, statuses) in results {
        let flipped: Vec<&str> = statuses
            .iter()
            .filter(|(id, s)| baseline.get(*id) != Some(*s))
            .map(|(id, _)| id.as_str())
            .collect();
        let mut expected: Vec<&str> = std::iter::once(check)
            .chain(extra.iter().copied())
            .collect();
        expected.sort_unstable();
        let mut got = flipped.clone();
        got.sort_unstable();
        assert_eq!(
            got,
            expected,
            "switch {name} flipped the wrong checks\n{}",
            explain(&report)
        );
        // The flipped check now reports the weakness: fail, or warn where the rule is a warning
        // (a missing prefix; a Domain equal to the host, as an IP address allows no broader one;
        // picking a duplicated __Host- cookie by position, which siblings cannot exploit).
        let want = match check {
            "cookie-prefix" | "cookie-scope" | "cookie-tossing" => Status::Warn,
            _ => Status::Fail,
        };
        assert_eq!(statuses[check], want, "switch {name}\n{}", explain(&report));
    }
}

/// Runs futures concurrently (a handful; no need for the futures crate).
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futs: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// Every finding carries the exchanges that decided it, and `har` the whole run, all redacted:
/// no session id the app ever issued and no password appears anywhere, even with ids in URLs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_and_har_show_the_exchanges_with_every_secret_redacted() {
    for signed_cookie in [false, true] {
        evidence_and_har_redacted(signed_cookie).await;
    }
}

/// With `signed_cookie` the cookie values hold `%`, `.`, `/` and `+`, which a probe re-encodes
/// when it puts a token in a query string.
async fn evidence_and_har_redacted(signed_cookie: bool) {
    let w = Weaknesses {
        signed_cookie,
        id_in_url: true,
        idle_timeout: Some(IDLE),
        absolute_timeout: ABSOLUTE,
        ..Weaknesses::hardened()
    };
    let fx = start(w).await;
    let options = Options {
        har: true,
        samples: 20,
        ..options()
    };
    let report = inspect(&target(&fx.base_url), &options).await.unwrap();
    let har = report.har.clone().expect("a HAR when asked for");
    let outputs = [
        har.clone(),
        report.to_json(),
        report.to_html(),
        report.to_text(false),
        report.to_sarif(),
    ];
    let issued = fx.issued_ids();
    assert!(issued.len() > 20, "{}", issued.len());
    for out in &outputs {
        for id in &issued {
            if let Some(at) = out.find(id.as_str()) {
                let from = (0..=at.saturating_sub(120))
                    .rev()
                    .find(|i| out.is_char_boundary(*i))
                    .unwrap_or(0);
                let to = ((at + id.len() + 60).min(out.len())..=out.len())
                    .find(|i| out.is_char_boundary(*i))
                    .unwrap_or(out.len());
                panic!("session id {id} leaked: …{}…", &out[from..to]);
            }
        }
        for password in ["wonderland", "looking-glass-1"] {
            assert!(!out.contains(password), "password {password} leaked");
        }
    }
    // HAR 1.2: a log with entries, each a request and a response, tagged with its step.
    let har: serde_json::Value = serde_json::from_str(&har).unwrap();
    assert_eq!(har["log"]["version"], "1.2");
    let entries = har["log"]["entries"].as_array().unwrap();
    assert!(entries.len() > 50, "{}", entries.len());
    for e in entries {
        assert!(e["startedDateTime"].as_str().unwrap().ends_with('Z'));
        assert!(e["request"]["method"].is_string() && e["request"]["url"].is_string());
        assert!(e["response"]["status"].as_u64().unwrap() >= 100);
        assert!(e["response"]["content"]["text"].is_string());
    }
    assert!(entries.iter().any(|e| e["comment"] == "login"));
    assert!(entries.iter().any(|e| e["comment"] == "cookie-tossing"));
    // The redacted forms are there instead: the short token form, and [password].
    let text = serde_json::to_string(&har).unwrap();
    assert!(
        text.contains("…#") && text.contains("%5Bpassword%5D"),
        "no redaction marks"
    );
    // Each finding that sent requests shows its last ones; the cookie checks show the login's.
    let f = |id: &str| report.findings.iter().find(|f| f.id == id).unwrap();
    let tossing = f("cookie-tossing");
    assert!(!tossing.exchanges.is_empty() && tossing.exchanges_total >= tossing.exchanges.len());
    assert!(tossing
        .exchanges
        .iter()
        .any(|e| e.request_headers.iter().any(|h| h.starts_with("cookie:"))));
    let secure = f("cookie-secure");
    assert!(secure.exchanges.iter().any(|e| e
        .response_headers
        .iter()
        .any(|h| h.starts_with("set-cookie:"))));
    assert!(report.to_html().contains("<details class=\"exchanges\">"));
}

/// The fixture's JSON API, as a single-page app drives it: JSON bodies, the CSRF token from a
/// JSON endpoint (login, logout) or a cookie (double submit: password change, elevation). The
/// hardened API passes what the HTML app passes; a login that takes any content type and no
/// token fails login-csrf, forged as a cross-site text/plain post.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_api_is_audited_like_the_pages() {
    let api = |base_url: &str| {
        let text = format!(
            r#"base_url = "{base_url}"
[login]
path = "/api/login"
body = "json"
fields = {{ username = "alice", password = "wonderland" }}
csrf = {{ from = "json", path = "/api/csrf", field = "csrfToken", header = "X-CSRF-Token" }}
[authenticated]
path = "/api/me"
expect_status = 200
expect_body = "alice"
[logout]
path = "/api/logout"
body = "json"
csrf = {{ from = "json", path = "/api/csrf", field = "csrfToken", header = "X-CSRF-Token" }}
[password_change]
path = "/api/password"
body = "json"
fields = {{ old_password = "wonderland", new_password = "looking-glass-1" }}
revert_fields = {{ old_password = "looking-glass-1", new_password = "wonderland" }}
csrf = {{ from = "cookie", name = "XSRF-TOKEN", header = "X-XSRF-TOKEN" }}
[privilege]
path = "/api/elevate"
body = "json"
fields = {{ password = "wonderland" }}
csrf = {{ from = "cookie", name = "XSRF-TOKEN", header = "X-XSRF-TOKEN" }}
[expiry]
idle_timeout = {}
"#,
            IDLE.as_secs()
        );
        Target::parse(&text, "api.toml").unwrap()
    };
    for (w, login_csrf) in [
        (Weaknesses::hardened(), Status::Pass),
        (Weaknesses::only("no_login_csrf").unwrap(), Status::Fail),
    ] {
        let mut w = w;
        w.idle_timeout = Some(IDLE);
        let fx = start(w).await;
        let report = inspect(&api(&fx.base_url), &options()).await.unwrap();
        assert_eq!(
            fx.password(),
            "wonderland",
            "the password change was not reverted"
        );
        for f in &report.findings {
            let want = match f.id.as_str() {
                "hsts" | "absolute-timeout" | "device-bound-sessions" => Status::Skip,
                "rotation-race" => Status::Warn,
                "login-csrf" => login_csrf,
                _ => Status::Pass,
            };
            assert_eq!(
                f.status,
                want,
                "{}: {}\n{}",
                f.id,
                f.evidence,
                explain(&report)
            );
        }
        let forged = report
            .findings
            .iter()
            .find(|f| f.id == "login-csrf")
            .unwrap();
        assert!(
            forged.evidence.contains("text/plain"),
            "{}",
            forged.evidence
        );
    }
}
