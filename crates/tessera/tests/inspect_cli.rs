//! `tessera inspect` as a user runs it: the self-audit against `tessera demo`, every output
//! format, and the exit codes for bad target files, unreachable targets and failed logins.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{temp_dir, Server};

fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// The README's example target (examples/demo-target.toml) pointed at `base`.
fn demo_target(dir: &Path, base: &str) -> PathBuf {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/demo-target.toml"
    ))
    .unwrap();
    let text = example.replace("http://127.0.0.1:8080", base);
    assert_ne!(
        text, example,
        "the example target's base_url changed; update this test"
    );
    let path = dir.join("demo.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn self_audit_of_the_demo_reports_no_failure_in_any_format() {
    // A 3-second idle timeout and a 7-second lifetime, so the audit covers idle expiry and
    // (with --long) the absolute lifetime too.
    let server = Server::start(&[
        "demo",
        "--store",
        "memory://",
        "--idle-timeout",
        "3",
        "--absolute-timeout",
        "7",
    ]);
    let dir = temp_dir("self-audit");
    let target = demo_target(&dir, &server.base);
    let mut text = std::fs::read_to_string(&target).unwrap();
    text.push_str("\n[expiry]\nidle_timeout = 3\nabsolute_timeout = 7\n");
    std::fs::write(&target, text).unwrap();
    let t = target.to_str().unwrap();

    let json_path = dir.join("report.json");
    let out = tessera(&[
        "inspect",
        t,
        "--format",
        "json",
        "--out",
        json_path.to_str().unwrap(),
        "--max-rps",
        "500",
        "--long",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(report["tool"]["name"], "tessera");
    assert_eq!(report["session_cookie"], "__Host-session");
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), tessera_inspect::checks::CheckId::ALL.len());
    for f in findings {
        let status = f["status"].as_str().unwrap();
        // Only hsts is skipped (plain HTTP); every other check runs and passes.
        let want = if f["id"] == "hsts" { "skip" } else { "pass" };
        assert_eq!(status, want, "{f}");
        for key in ["id", "severity", "title", "evidence", "references"] {
            assert!(f.get(key).is_some(), "{key} missing in {f}");
        }
    }
    for id in [
        "fixation-rotation",
        "logout-invalidation",
        "password-change-invalidation",
        "privilege-rotation",
        "id-entropy",
        "absolute-timeout",
        // The demo offers DBSC; its refresh refuses a missing and a wrong proof.
        "device-bound-sessions",
    ] {
        let f = findings.iter().find(|f| f["id"] == id).unwrap();
        assert_eq!(f["status"], "pass", "{f}");
    }
    assert_eq!(report["summary"]["fail"], 0);
    // No token in the report: evidence shows tokens truncated (4 chars and a fingerprint).
    let text = std::fs::read_to_string(&json_path).unwrap();
    assert!(
        !text.contains("__Host-session=") || text.contains("…#"),
        "untruncated token?"
    );

    let out = tessera(&[
        "inspect",
        t,
        "--format",
        "sarif",
        "--checks",
        "cookie-secure,cache-control",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(
        sarif["runs"][0]["results"].as_array().unwrap().len(),
        0,
        "no fail or warn, no result"
    );

    let out = tessera(&["inspect", t, "--checks", "cookie-httponly"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("PASS") && text.contains("cookie-httponly") && !text.contains('\u{1b}'),
        "{text}"
    );

    let html = dir.join("r.html");
    let out = tessera(&[
        "inspect",
        t,
        "--format",
        "html",
        "--out",
        html.to_str().unwrap(),
        "--checks",
        "cookie-secure",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(std::fs::read_to_string(html)
        .unwrap()
        .starts_with("<!doctype html>"));
}

#[test]
fn a_failing_check_exits_1() {
    let server = Server::start(&["demo", "--store", "memory://"]);
    let dir = temp_dir("fail");
    let target = demo_target(&dir, &server.base);
    // The demo logs nothing as alice unless asked; claim it promises a 1-second idle timeout:
    // the session survives that, so idle-timeout fails.
    let mut text = std::fs::read_to_string(&target).unwrap();
    text.push_str("\n[expiry]\nidle_timeout = 1\n");
    std::fs::write(&target, text).unwrap();
    let out = tessera(&[
        "inspect",
        target.to_str().unwrap(),
        "--checks",
        "idle-timeout",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"][0]["status"], "fail");
    // The failing finding says how to fix it; the demo's cookie names no known stack, so the
    // advice is the generic one.
    assert!(report.get("stack").is_none(), "{report}");
    let fix = &report["findings"][0]["fix"];
    assert!(fix["stack"].is_null() && fix["advice"].as_str().unwrap().contains("idle"));
    let fingerprint = report["findings"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(fingerprint.len(), 32);

    // CI use: the failure is medium, so --fail-on high lets the run pass.
    let t = target.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["inspect", t, "--checks", "idle-timeout"];
        args.extend_from_slice(extra);
        tessera(&args)
    };
    let out = run(&["--fail-on", "high", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(run(&["--fail-on", "medium"]).status.code(), Some(1));

    // A baseline written from this run accepts the failure in the next run, which then
    // reports it as suppressed (with the same fingerprint in SARIF) and exits 0.
    let base = dir.join("baseline.json");
    let out = run(&[
        "--write-baseline",
        base.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "writing a baseline accepts nothing yet"
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    assert_eq!(written["accepted"][0]["fingerprint"], fingerprint.as_str());
    assert_eq!(written["accepted"][0]["check"], "idle-timeout");
    let out = run(&["--baseline", base.to_str().unwrap(), "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(
        result["partialFingerprints"]["tesseraFinding/v1"],
        fingerprint.as_str()
    );
    assert_eq!(result["suppressions"][0]["kind"], "external");
    assert_eq!(sarif["runs"][0]["properties"]["summary"]["suppressed"], 1);
    let out = run(&["--baseline", base.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Suppressed: accepted in the baseline")
            && text.contains("1 suppressed by the baseline"),
        "{text}"
    );

    // --har writes the run's exchanges as HAR 1.2, passwords redacted.
    let har_path = dir.join("run.har");
    let out = run(&["--har", har_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let har = std::fs::read_to_string(&har_path).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&har).unwrap();
    assert!(!parsed["log"]["entries"].as_array().unwrap().is_empty());
    assert!(
        !har.contains("wonderland"),
        "the demo password leaked into the HAR"
    );

    // A baseline that does not parse is an input error, before any request.
    std::fs::write(
        &base,
        "{\"tessera_baseline\": 1, \"accepted\": [{\"x\": 1}]}",
    )
    .unwrap();
    let out = run(&["--baseline", base.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("tessera inspect: baseline ") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn bad_target_files_exit_2_naming_file_line_and_key() {
    let dir = temp_dir("bad-target");
    let cases = [
        ("missing-login.toml", "base_url = \"http://127.0.0.1:1\"\n[authenticated]\npath = \"/a\"\n[logout]\npath = \"/l\"\n", ":1: login:"),
        ("bad-url.toml", "\n\nbase_url = \"gopher://x\"\n[login]\npath = \"/login\"\nfields = { u = \"a\" }\n[authenticated]\npath = \"/a\"\n[logout]\npath = \"/l\"\n", ":3: base_url:"),
        ("bad-path.toml", "base_url = \"http://127.0.0.1:1\"\n[login]\npath = \"login\"\nfields = { u = \"a\" }\n[authenticated]\npath = \"/a\"\n[logout]\npath = \"/l\"\n", ":3: login.path:"),
        ("not-toml.toml", "this is = = not toml\n", ":1: "),
        ("binary.toml", "\u{0}\u{1}\u{2}", "binary.toml:1: "),
    ];
    for (name, body, expect) in cases {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        let out = tessera(&["inspect", path.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(name) && err.contains(expect), "{name}: {err}");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{name}: one line wanted: {err}"
        );
        assert!(!err.contains("panicked"));
    }
    let out = tessera(&["inspect", dir.join("absent.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let out = tessera(&["inspect", "x.toml", "--samples", "1"]);
    assert_eq!(out.status.code(), Some(2), "bad --samples is a usage error");
    let out = tessera(&["inspect", "x.toml", "--format", "pdf"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unreachable_target_and_failed_login_exit_3_saying_which_step() {
    let dir = temp_dir("unreachable");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = demo_target(&dir, &format!("http://127.0.0.1:{port}"));
    let out = tessera(&["inspect", target.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("cannot be reached") && err.contains("/login"),
        "{err}"
    );

    let server = Server::start(&["demo", "--store", "memory://"]);
    let target = demo_target(&dir, &server.base);
    let text = std::fs::read_to_string(&target)
        .unwrap()
        .replace("password = \"wonderland\" }", "password = \"wrong\" }");
    std::fs::write(&target, text).unwrap();
    let out = tessera(&["inspect", target.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("login did not work")
            && err.contains("/account")
            && err.contains("Location /login"),
        "{err}"
    );
}

#[test]
fn unknown_check_is_a_usage_error() {
    let server = Server::start(&["demo", "--store", "memory://"]);
    let dir = temp_dir("unknown-check");
    let target = demo_target(&dir, &server.base);
    let out = tessera(&[
        "inspect",
        target.to_str().unwrap(),
        "--checks",
        "cookie-secure,no-such-check",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no-such-check"));
}
