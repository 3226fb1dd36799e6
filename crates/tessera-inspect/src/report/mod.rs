//! Findings and the report that carries them; renderers for each output format live in the
//! submodules.

use serde::Serialize;

mod entropy_text;
mod html;
mod sarif;
pub(crate) mod text;

pub use html::escape as escape_html;

/// Renders an entropy report (`tessera entropy`) as text; `source` names where the tokens came
/// from. Control characters in it are shown as escapes.
pub fn render_entropy_text(source: &str, report: &crate::entropy::EntropyReport) -> String {
    entropy_text::render(source, report)
}

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The app resisted the attack.
    Pass,
    /// The app is vulnerable.
    Fail,
    /// A weakness short of a failure, or a result a black-box test cannot settle.
    Warn,
    /// Not run (not configured, or made meaningless by an earlier result).
    Skip,
    /// The check could not run to a conclusion (network error, unexpected answer).
    Error,
}

/// How much a failed check matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The check id, e.g. `cookie-secure`.
    pub id: String,
    /// Its outcome.
    pub status: Status,
    /// How much it matters if it failed.
    pub severity: Severity,
    /// One line saying what was checked.
    pub title: String,
    /// What was observed, as a reader needs it to believe the status. Tokens are truncated.
    pub evidence: String,
    /// WSTG / ASVS / CWE references.
    pub references: Vec<String>,
}

/// The tool that made the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tool {
    /// `tessera`.
    pub name: String,
    /// The version of `tessera` that ran.
    pub version: String,
}

/// Counts of findings by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Passed checks.
    pub pass: usize,
    /// Failed checks.
    pub fail: usize,
    /// Warnings.
    pub warn: usize,
    /// Skipped checks.
    pub skip: usize,
    /// Checks that could not conclude.
    pub error: usize,
}

impl Summary {
    /// Counts `findings` by status.
    pub fn of(findings: &[Finding]) -> Self {
        let mut s = Self::default();
        for f in findings {
            match f.status {
                Status::Pass => s.pass += 1,
                Status::Fail => s.fail += 1,
                Status::Warn => s.warn += 1,
                Status::Skip => s.skip += 1,
                Status::Error => s.error += 1,
            }
        }
        s
    }
}

/// A whole inspection: what `--format json` prints (documented in docs/inspect.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Who made it.
    pub tool: Tool,
    /// The target's base URL.
    pub target: String,
    /// The session cookie's name, when one was found.
    pub session_cookie: Option<String>,
    /// One finding per check, in a stable order.
    pub findings: Vec<Finding>,
    /// Counts by status.
    pub summary: Summary,
    /// Per-bit entropy estimates from `id-entropy`, for the HTML chart (absent from JSON when
    /// the check did not run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entropy_bits: Option<Vec<f64>>,
}

impl Report {
    /// A report over `findings`, with the summary computed.
    pub fn new(target: String, session_cookie: Option<String>, findings: Vec<Finding>) -> Self {
        Self {
            tool: Tool {
                name: "tessera".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            target,
            session_cookie,
            summary: Summary::of(&findings),
            findings,
            entropy_bits: None,
        }
    }

    /// True when any check failed: the command then exits 1.
    pub fn has_failures(&self) -> bool {
        self.summary.fail > 0
    }

    /// The JSON form. Bidi controls from the target are written as visible `\u{…}` text
    /// (JSON escapes control characters itself), so a viewer cannot be made to show evidence
    /// reordered.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.without_bidi()).unwrap_or_else(|_| "{}".into())
    }

    /// This report with every target-controlled string's bidi controls made visible.
    fn without_bidi(&self) -> Report {
        let fix = |s: &str| -> String {
            let mut out = String::with_capacity(s.len());
            for c in s.chars() {
                if !c.is_control() && text::is_hidden_control(c) {
                    out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
                } else {
                    out.push(c);
                }
            }
            out
        };
        let mut r = self.clone();
        r.target = fix(&r.target);
        r.session_cookie = r.session_cookie.as_deref().map(fix);
        for f in &mut r.findings {
            f.evidence = fix(&f.evidence);
            f.title = fix(&f.title);
        }
        r
    }
}

/// The human and machine renderers other than JSON (`text`, `sarif`, `html` submodules).
impl Report {
    /// The terminal form: a header with the target, one row per finding (status, check id,
    /// title) with its evidence wrapped beneath, and a summary line. ANSI colours only when
    /// `colour` is true; control characters from the target are always shown escaped.
    pub fn to_text(&self, colour: bool) -> String {
        text::render(self, colour)
    }

    /// The SARIF 2.1.0 form (pretty JSON), for code-scanning dashboards: one run, one rule per
    /// check, one result per failed or warning finding.
    pub fn to_sarif(&self) -> String {
        sarif::render(&self.without_bidi())
    }

    /// A self-contained HTML page (inline CSS, no scripts), with the per-bit entropy chart as
    /// inline SVG when `entropy_bits` is set. Every string from the report is escaped.
    pub fn to_html(&self) -> String {
        html::render(self)
    }
}

#[cfg(test)]
mod bidi_tests {
    use super::*;

    #[test]
    fn machine_formats_never_carry_a_raw_bidi_control() {
        let f = Finding {
            id: "cookie-secure".into(),
            status: Status::Fail,
            severity: Severity::High,
            title: "t".into(),
            evidence: "Set-Cookie: sid=\u{202e}gnp.exe\u{1b}[31m".into(),
            references: vec![],
        };
        let r = Report::new(
            "http://h/\u{2066}x".into(),
            Some("sid\u{202e}".into()),
            vec![f],
        );
        for out in [r.to_json(), r.to_sarif()] {
            assert!(
                !out.contains('\u{202e}') && !out.contains('\u{2066}') && !out.contains('\u{1b}'),
                "{out}"
            );
            assert!(out.contains("\\\\u{202e}"), "{out}");
        }
    }
}
