//! The text, SARIF and HTML renderers, on a report built by hand: several findings of each
//! status, hostile evidence, and per-bit entropy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

use serde_json::Value;
use tessera_inspect::report::{Finding, Report, Severity, Status};

const HOSTILE: &str =
    "Set-Cookie: sid=abc<script>alert(\"x\")</script>; \u{1b}[2J\u{1b}[31mOWNED & 'quoted'";

fn finding(id: &str, status: Status, severity: Severity, evidence: &str) -> Finding {
    Finding::new(
        id,
        status,
        severity,
        format!("Check {id} did its thing"),
        evidence,
        vec!["WSTG-SESS-02".into(), "CWE-614".into()],
    )
}

fn sample(with_entropy: bool) -> Report {
    let long = "The session cookie was re-issued on every response, and the value observed after \
                sign-in matched the value planted before sign-in for all twelve attempts; token \
                abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz…";
    let findings = vec![
        finding(
            "cookie-secure",
            Status::Pass,
            Severity::High,
            "Secure is set",
        ),
        finding(
            "cookie-httponly",
            Status::Pass,
            Severity::Medium,
            "HttpOnly is set",
        ),
        finding(
            "cookie-samesite",
            Status::Pass,
            Severity::Low,
            "SameSite=Lax",
        ),
        finding("session-fixation", Status::Fail, Severity::Critical, long),
        finding("logout-replay", Status::Fail, Severity::High, HOSTILE),
        finding(
            "cache-control",
            Status::Fail,
            Severity::Low,
            "no Cache-Control on /account",
        ),
        finding(
            "idle-timeout",
            Status::Warn,
            Severity::Medium,
            "still valid after 3600 s",
        ),
        finding(
            "id-in-url",
            Status::Warn,
            Severity::Info,
            "line one\nline two",
        ),
        finding(
            "password-change",
            Status::Skip,
            Severity::High,
            "no --password-change path",
        ),
        finding("privilege-change", Status::Skip, Severity::High, ""),
        finding(
            "id-entropy",
            Status::Error,
            Severity::Medium,
            "connection refused",
        ),
        finding(
            "id-entropy-extra",
            Status::Error,
            Severity::Low,
            "timed out",
        ),
    ];
    let mut report = Report::new(
        "https://app.example.test/".into(),
        Some("sid<b>".into()),
        findings,
    );
    if with_entropy {
        report.entropy_bits = Some(
            (0..64)
                .map(|i| match i % 13 {
                    0 => 0.35,
                    5 => 0.85,
                    _ => 0.995 - f64::from(i % 7) * 0.004,
                })
                .collect(),
        );
    }
    report
}

// ---- text ----

#[test]
fn text_lists_every_check_and_the_summary_without_ansi() {
    let report = sample(false);
    let text = report.to_text(false);
    for f in &report.findings {
        assert!(text.contains(&f.id), "missing {}", f.id);
        assert!(text.contains(&f.title), "missing title of {}", f.id);
    }
    assert!(text.contains("3 passed, 3 failed, 2 warnings, 2 skipped, 2 errors"));
    assert!(text.contains("https://app.example.test/"));
    assert!(text.contains("sid<b>"));
    for label in ["PASS", "FAIL", "WARN", "SKIP", "ERROR"] {
        assert!(text.contains(label), "missing {label}");
    }
    assert!(!text.contains('\u{1b}'), "ANSI escape in colourless text");
    // The hostile escape sequences are shown, not obeyed.
    assert!(text.contains("\\x1b[2J"));
}

#[test]
fn text_wraps_evidence_and_keeps_lines_short() {
    let text = sample(false).to_text(false);
    for line in text.lines() {
        // Header lines hold the report's own strings; every table line stays within 100.
        assert!(line.chars().count() <= 100, "too long: {line:?}");
    }
    // Evidence is indented under its row, and its own line breaks are kept.
    assert!(text.contains("\n        line one\n        line two\n"));
}

#[test]
fn text_with_colour_paints_statuses() {
    let text = sample(false).to_text(true);
    assert!(text.contains("\u{1b}[32mPASS"));
    assert!(text.contains("\u{1b}[1;31mFAIL"));
    assert!(text.contains("\u{1b}[0m"));
    // Still no escape from the evidence itself.
    assert!(!text.contains("\u{1b}[2J"));
    assert!(text.contains("3 passed, 3 failed, 2 warnings, 2 skipped, 2 errors"));
}

#[test]
fn text_summary_uses_singulars() {
    let report = Report::new(
        "http://127.0.0.1:8080".into(),
        None,
        vec![
            finding("a", Status::Warn, Severity::Low, "x"),
            finding("b", Status::Error, Severity::Low, "y"),
        ],
    );
    let text = report.to_text(false);
    assert!(text.contains("0 passed, 0 failed, 1 warning, 0 skipped, 1 error\n"));
    assert!(text.contains("(none found)"));
}

// ---- SARIF ----

fn schema_validator() -> jsonschema::Validator {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/sarif/sarif-schema-2.1.0.json"
    );
    let text = std::fs::read_to_string(path).expect("vendored schema");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    assert_eq!(
        schema["$schema"], "http://json-schema.org/draft-04/schema#",
        "the vendored schema changed draft: check the validator options"
    );
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let validator = schema_validator();
    for report in [sample(true), sample(false)] {
        let sarif: Value = serde_json::from_str(&report.to_sarif()).expect("SARIF is JSON");
        let errs = errors(&validator, &sarif);
        assert!(errs.is_empty(), "schema errors: {errs:#?}");
    }
    // An empty report is a valid log too.
    let empty = Report::new("http://localhost:3000/".into(), None, vec![]);
    let sarif: Value = serde_json::from_str(&empty.to_sarif()).expect("SARIF is JSON");
    assert!(errors(&validator, &sarif).is_empty());
}

#[test]
fn the_validator_rejects_broken_sarif() {
    let validator = schema_validator();
    let good: Value = serde_json::from_str(&sample(true).to_sarif()).expect("SARIF is JSON");
    assert!(validator.is_valid(&good));

    let mut bad_level = good.clone();
    bad_level["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&bad_level), "level \"fatal\" accepted");

    let mut bad_version = good.clone();
    bad_version["version"] = "2.2.0".into();
    assert!(!validator.is_valid(&bad_version), "version 2.2.0 accepted");

    let mut no_message = good.clone();
    if let Some(result) = no_message["runs"][0]["results"][0].as_object_mut() {
        result.remove("message");
    }
    assert!(
        !validator.is_valid(&no_message),
        "result without message accepted"
    );

    let mut no_driver_name = good.clone();
    if let Some(driver) = no_driver_name["runs"][0]["tool"]["driver"].as_object_mut() {
        driver.remove("name");
    }
    assert!(
        !validator.is_valid(&no_driver_name),
        "driver without name accepted"
    );

    let mut stray = good;
    stray["runs"][0]["results"][0]["colour"] = "red".into();
    assert!(
        !validator.is_valid(&stray),
        "unknown result property accepted"
    );
}

#[test]
fn sarif_has_one_result_per_fail_and_warn() {
    let report = sample(true);
    let sarif: Value = serde_json::from_str(&report.to_sarif()).expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let runs = sarif["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "tessera");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));

    // One rule per check id present, titled by the finding.
    let rules = driver["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), report.findings.len());
    for (rule, f) in rules.iter().zip(&report.findings) {
        assert_eq!(rule["id"], f.id.as_str());
        assert_eq!(rule["shortDescription"]["text"], f.title.as_str());
        assert_eq!(rule["properties"]["references"][1], "CWE-614");
        assert_eq!(
            rule["helpUri"],
            "https://cwe.mitre.org/data/definitions/614.html"
        );
    }

    let results = run["results"].as_array().expect("results");
    let wanted: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| matches!(f.status, Status::Fail | Status::Warn))
        .collect();
    assert_eq!(results.len(), wanted.len());
    assert_eq!(results.len(), 5);
    for (r, f) in results.iter().zip(&wanted) {
        assert_eq!(r["ruleId"], f.id.as_str());
        let index = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], f.id.as_str());
        let text = r["message"]["text"].as_str().expect("message");
        assert!(text.contains(&f.title) && text.contains(&f.evidence));
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "https://app.example.test/"
        );
        assert_eq!(
            r["properties"]["severity"],
            serde_json::to_value(f.severity).expect("severity")
        );
        assert_eq!(r["properties"]["references"][0], "WSTG-SESS-02");
    }
    let levels: Vec<&str> = results
        .iter()
        .map(|r| r["level"].as_str().expect("level"))
        .collect();
    // fail/critical, fail/high, fail/low, warn/medium, warn/info.
    assert_eq!(levels, ["error", "error", "warning", "warning", "note"]);
    // GitHub's severity score sits on the rule.
    assert_eq!(rules[3]["properties"]["security-severity"], "9.5");
    assert!(rules[7]["properties"].get("security-severity").is_none());
}

// ---- HTML ----

#[test]
fn html_escapes_everything_from_the_report() {
    let html = sample(true).to_html();
    assert!(!html.contains("<script"), "unescaped script tag");
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
    assert!(html.contains("OWNED &amp; &#39;quoted&#39;"));
    assert!(html.contains("sid&lt;b&gt;"));
    assert!(!html.contains("sid<b>"));
    assert!(html.contains("Content-Security-Policy"));
    // Control characters from the target are shown, not passed on.
    assert!(!html.contains('\u{1b}'));
    assert!(html.contains("\\x1b[2J"));
}

#[test]
fn html_is_self_contained_and_lists_findings() {
    let report = sample(false);
    let html = report.to_html();
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.trim_end().ends_with("</html>"));
    for f in &report.findings {
        assert!(html.contains(&format!("<code>{}</code>", f.id)), "{}", f.id);
    }
    for class in [
        "status pass",
        "status fail",
        "status warn",
        "status skip",
        "status error",
    ] {
        assert!(html.contains(class), "{class}");
    }
    assert!(html.contains("<b>3</b> passed"));
    assert!(html.contains("<b>2</b> warnings"));
    assert!(html.contains("https://cwe.mitre.org/data/definitions/614.html"));
    // No external assets, no scripts.
    assert!(!html.contains("<link"));
    assert!(!html.contains("src="));
    assert!(!html.contains("<script"));
}

#[test]
fn html_has_the_entropy_chart_only_when_bits_are_set() {
    let without = sample(false).to_html();
    assert!(!without.contains("<svg"));
    assert!(!without.contains("entropy per bit"));

    let report = sample(true);
    let with = report.to_html();
    assert!(with.contains("<svg"));
    let bars = with.matches("<rect class=\"bit\"").count();
    assert_eq!(Some(bars), report.entropy_bits.as_ref().map(Vec::len));
    assert!(with.contains("class=\"threshold\""));
    assert!(with.contains("bit position"));
    assert!(with.contains("entropy (bits)"));
    assert!(with.contains("<title>bit 0: 0.350</title>"));

    if std::env::var_os("TESSERA_WRITE_SAMPLE_HTML").is_some() {
        let path = std::env::temp_dir().join("tessera-report-sample.html");
        std::fs::write(&path, &with).expect("write sample");
        eprintln!("wrote {}", path.display());
    }
}
