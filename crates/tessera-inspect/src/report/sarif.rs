//! The SARIF 2.1.0 renderer, for code-scanning dashboards.
//!
//! The log has one run. Its `tool.driver.rules` holds one reporting descriptor per check id
//! present in the report (in first-seen order), with the check's title as `shortDescription`,
//! its references in `properties.references` and in `help`, and `helpUri` when one reference
//! is a link (CWE ids are turned into their MITRE page). Results exist only for findings that
//! need attention, `fail` and `warn`; passes, skips and errors are not results in SARIF's sense
//! (the run's `properties.summary` still counts them).
//!
//! Level mapping (SARIF `result.level`):
//!
//! | status | severity           | level     |
//! |--------|--------------------|-----------|
//! | fail   | medium and above   | `error`   |
//! | fail   | info, low          | `warning` |
//! | warn   | low and above      | `warning` |
//! | warn   | info               | `note`    |
//!
//! Every result carries `partialFingerprints["tesseraFinding/v1"]` (the finding's fingerprint:
//! check, host and cookie name, stable across runs), `suppressions` (external, accepted) when a
//! baseline accepted it, and its fix in the message and in `properties.fix`.
//!
//! Every result also carries `properties.severity` (tessera's own five-step scale) and
//! `properties.references`; each rule carries GitHub's `security-severity` score for its most
//! severe finding (critical 9.5, high 8.0, medium 5.5, low 3.0; none for info) and the
//! `security` tag, which is how GitHub code scanning ranks security alerts.
//!
//! The output is checked against the official OASIS schema in
//! `tests/data/sarif/sarif-schema-2.1.0.json` by `tests/report_formats.rs`.

use serde::Serialize;

use super::{Finding, Report, Severity, Status, Summary};

/// The `$schema` the log names: the OASIS SARIF 2.1.0 (errata 01) schema, the one vendored for
/// the tests.
const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// Renders `report` as a pretty-printed SARIF 2.1.0 log.
pub(super) fn render(report: &Report) -> String {
    serde_json::to_string_pretty(&log(report)).unwrap_or_else(|_| "{}".into())
}

// The subset of the SARIF object model this renderer writes, in the spec's field order.

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
struct Run<'a> {
    tool: Tool<'a>,
    results: Vec<SarifResult<'a>>,
    properties: RunProperties<'a>,
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
struct Driver<'a> {
    name: &'a str,
    version: &'a str,
    rules: Vec<Rule<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule<'a> {
    id: &'a str,
    short_description: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
    properties: RuleProperties<'a>,
}

#[derive(Serialize)]
struct RuleProperties<'a> {
    tags: [&'static str; 1],
    references: Vec<&'a str>,
    #[serde(rename = "security-severity", skip_serializing_if = "Option::is_none")]
    security_severity: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: [Location<'a>; 1],
    partial_fingerprints: PartialFingerprints<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<SarifSuppression<'a>>,
    properties: ResultProperties<'a>,
}

/// Stable across runs against the same app (check, host, cookie name), so a dashboard tracks
/// one alert, not a new one per run.
#[derive(Serialize)]
struct PartialFingerprints<'a> {
    #[serde(rename = "tesseraFinding/v1")]
    finding: &'a str,
}

#[derive(Serialize)]
struct SarifSuppression<'a> {
    kind: &'static str,
    status: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    justification: &'a str,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    physical_location: PhysicalLocation<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation<'a> {
    artifact_location: ArtifactLocation<'a>,
}

#[derive(Serialize)]
struct ArtifactLocation<'a> {
    uri: &'a str,
}

#[derive(Serialize)]
struct ResultProperties<'a> {
    status: Status,
    severity: Severity,
    references: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<&'a crate::stack::Fix>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunProperties<'a> {
    target: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_cookie: Option<&'a str>,
    summary: Summary,
}

fn log(report: &Report) -> Log<'_> {
    // One rule per check id, in the order the checks ran; results point at theirs by index.
    let mut rule_ids: Vec<&str> = Vec::new();
    for f in &report.findings {
        if !rule_ids.contains(&f.id.as_str()) {
            rule_ids.push(&f.id);
        }
    }
    let rules = rule_ids.iter().map(|id| rule(report, id)).collect();
    let results = report
        .findings
        .iter()
        .filter(|f| matches!(f.status, Status::Fail | Status::Warn))
        .map(|f| {
            let index = rule_ids.iter().position(|id| *id == f.id).unwrap_or(0);
            result(report, f, index)
        })
        .collect();
    Log {
        schema: SCHEMA_URI,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: &report.tool.name,
                    version: &report.tool.version,
                    rules,
                },
            },
            results,
            properties: RunProperties {
                target: &report.target,
                session_cookie: report.session_cookie.as_deref(),
                summary: report.summary,
            },
        }],
    }
}

/// The reporting descriptor for check `id`, from the findings that carry it.
fn rule<'a>(report: &'a Report, id: &'a str) -> Rule<'a> {
    let findings: Vec<&Finding> = report.findings.iter().filter(|f| f.id == id).collect();
    let title = findings.first().map_or("", |f| f.title.as_str());
    let mut references: Vec<&str> = Vec::new();
    for r in findings.iter().flat_map(|f| f.references.iter()) {
        if !references.contains(&r.as_str()) {
            references.push(r);
        }
    }
    let worst = findings.iter().map(|f| f.severity).max();
    Rule {
        id,
        short_description: Text {
            text: title.to_owned(),
        },
        help: (!references.is_empty()).then(|| Text {
            text: format!("References: {}", references.join(", ")),
        }),
        help_uri: references.iter().find_map(|r| help_uri(r)),
        properties: RuleProperties {
            tags: ["security"],
            references,
            security_severity: worst.and_then(security_severity),
        },
    }
}

fn result<'a>(report: &'a Report, f: &'a Finding, rule_index: usize) -> SarifResult<'a> {
    let mut text = if f.evidence.is_empty() {
        f.title.clone()
    } else {
        format!("{}\nEvidence: {}", f.title, f.evidence)
    };
    if let Some(fix) = &f.fix {
        text.push_str(&format!(
            "\nFix{}: {} ({})",
            fix.stack
                .map(|s| format!(" ({})", s.name()))
                .unwrap_or_default(),
            fix.advice,
            fix.docs
        ));
    }
    SarifResult {
        rule_id: &f.id,
        rule_index,
        level: level(f.status, f.severity),
        message: Text { text },
        // Code-scanning dashboards (GitHub's among them) reject or hide a result without a
        // location, but a black-box finding is about the running app, not a line of source:
        // the app's base URL is the truest "artifact" there is, so every result points at it.
        locations: [Location {
            physical_location: PhysicalLocation {
                artifact_location: ArtifactLocation {
                    uri: &report.target,
                },
            },
        }],
        partial_fingerprints: PartialFingerprints {
            finding: &f.fingerprint,
        },
        // A baseline is an external, reviewed record of accepted findings.
        suppressions: f
            .suppressed
            .iter()
            .map(|s| SarifSuppression {
                kind: "external",
                status: "accepted",
                justification: &s.reason,
            })
            .collect(),
        properties: ResultProperties {
            status: f.status,
            severity: f.severity,
            references: &f.references,
            fix: f.fix.as_ref(),
        },
    }
}

/// The `result.level` for a finding (the table in the module docs).
fn level(status: Status, severity: Severity) -> &'static str {
    match (status, severity) {
        (Status::Fail, s) if s >= Severity::Medium => "error",
        (Status::Warn, Severity::Info) => "note",
        _ => "warning",
    }
}

/// GitHub's `security-severity` score (a string holding a number in 0.0..=10.0).
fn security_severity(severity: Severity) -> Option<&'static str> {
    match severity {
        Severity::Info => None,
        Severity::Low => Some("3.0"),
        Severity::Medium => Some("5.5"),
        Severity::High => Some("8.0"),
        Severity::Critical => Some("9.5"),
    }
}

/// A link for a reference: itself when it is an http(s) URL, MITRE's page for `CWE-n`.
pub(super) fn help_uri(reference: &str) -> Option<String> {
    let r = reference.trim();
    if let Ok(url) = url::Url::parse(r) {
        return matches!(url.scheme(), "http" | "https").then(|| url.to_string());
    }
    let n = r.strip_prefix("CWE-")?;
    if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
        Some(format!("https://cwe.mitre.org/data/definitions/{n}.html"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_documented_mapping() {
        assert_eq!(level(Status::Fail, Severity::Critical), "error");
        assert_eq!(level(Status::Fail, Severity::Medium), "error");
        assert_eq!(level(Status::Fail, Severity::Low), "warning");
        assert_eq!(level(Status::Fail, Severity::Info), "warning");
        assert_eq!(level(Status::Warn, Severity::High), "warning");
        assert_eq!(level(Status::Warn, Severity::Low), "warning");
        assert_eq!(level(Status::Warn, Severity::Info), "note");
    }

    #[test]
    fn help_uris() {
        assert_eq!(
            help_uri("CWE-384").as_deref(),
            Some("https://cwe.mitre.org/data/definitions/384.html")
        );
        assert_eq!(help_uri("CWE-"), None);
        assert_eq!(help_uri("WSTG-SESS-03"), None);
        assert_eq!(
            help_uri("https://owasp.org/x").as_deref(),
            Some("https://owasp.org/x")
        );
        assert_eq!(help_uri("http://"), None);
        assert_eq!(help_uri("javascript:alert(1)"), None);
    }
}
