//! Findings and the report that carries them; renderers for each output format live in the
//! submodules.

use serde::{Deserialize, Serialize};

use crate::stack::{Detected, Fix};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    /// Names this finding across runs: a digest of the check id, the target's host and the
    /// session cookie's name (not the port, which test servers pick at random, and not the
    /// evidence, which holds fresh tokens). Baselines and SARIF dashboards match on it.
    pub fingerprint: String,
    /// What to change, for a finding that fails or warns: in the recognised stack's terms
    /// when there is one (see [`Report::stack`]), else the generic advice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
    /// The last exchanges of the step that decided this finding (redacted), oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exchanges: Vec<crate::exchange::Evidence>,
    /// How many exchanges that step made in all (`--har` has every one).
    #[serde(skip_serializing_if = "is_zero")]
    pub exchanges_total: usize,
    /// Set when a baseline accepted this finding: it is reported, but neither counted as a
    /// failure or warning nor able to fail the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppression>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Why a finding was suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    /// The reason the baseline gives (may be empty).
    pub reason: String,
}

impl Finding {
    /// A finding as a check states it; its fingerprint and fix are filled in by
    /// [`Report::new`], which knows the target, and a baseline may suppress it later.
    pub fn new(
        id: impl Into<String>,
        status: Status,
        severity: Severity,
        title: impl Into<String>,
        evidence: impl Into<String>,
        references: Vec<String>,
    ) -> Self {
        Self {
            id: id.into(),
            status,
            severity,
            title: title.into(),
            evidence: evidence.into(),
            references,
            fingerprint: String::new(),
            fix: None,
            exchanges: Vec::new(),
            exchanges_total: 0,
            suppressed: None,
        }
    }

    /// Fails or warns, and no baseline accepted it.
    pub fn needs_attention(&self) -> bool {
        matches!(self.status, Status::Fail | Status::Warn) && self.suppressed.is_none()
    }
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
    /// Fails and warnings a baseline accepted (counted here, not under `fail` or `warn`).
    pub suppressed: usize,
}

impl Summary {
    /// Counts `findings` by status.
    pub fn of(findings: &[Finding]) -> Self {
        let mut s = Self::default();
        for f in findings {
            if f.suppressed.is_some() {
                s.suppressed += 1;
                continue;
            }
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
    /// The stack the app seems to run on, with the signals seen; absent when none was
    /// recognised (the fixes are then the generic ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<Detected>,
    /// The whole exchange as HAR 1.2, redacted, when asked for (`--har`); not part of the JSON.
    #[serde(skip)]
    pub har: Option<String>,
    /// Per-bit entropy estimates from `id-entropy`, for the HTML chart (absent from JSON when
    /// the check did not run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entropy_bits: Option<Vec<f64>>,
}

impl Report {
    /// A report over `findings`, with their fingerprints, generic fixes and the summary
    /// computed.
    pub fn new(target: String, session_cookie: Option<String>, mut findings: Vec<Finding>) -> Self {
        let host = url::Url::parse(&target)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| target.clone());
        for f in &mut findings {
            f.fingerprint = fingerprint(&f.id, &host, session_cookie.as_deref());
        }
        let mut report = Self {
            tool: Tool {
                name: "tessera".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            target,
            session_cookie,
            summary: Summary::default(),
            findings,
            stack: None,
            har: None,
            entropy_bits: None,
        };
        report.set_stack(None);
        report
    }

    /// Records the recognised stack and gives every finding that fails or warns the fix for
    /// it (the generic one when `stack` is `None` or has none for that check).
    pub fn set_stack(&mut self, stack: Option<Detected>) {
        let which = stack.as_ref().map(|d| d.stack);
        for f in &mut self.findings {
            f.fix = match (
                matches!(f.status, Status::Fail | Status::Warn),
                f.id.parse(),
            ) {
                (true, Ok(id)) => Some(crate::stack::fix(id, which)),
                _ => None,
            };
        }
        self.stack = stack;
        self.summary = Summary::of(&self.findings);
    }

    /// Suppresses the findings `baseline` accepts (see [`crate::baseline`]) and recounts.
    pub fn apply_baseline(&mut self, baseline: &crate::baseline::Baseline) {
        for f in &mut self.findings {
            f.suppressed = baseline.accepts(f).map(|reason| Suppression {
                reason: reason.to_owned(),
            });
        }
        self.summary = Summary::of(&self.findings);
    }

    /// True when a check failed at `threshold` or above and no baseline accepted it: the
    /// command then exits 1 (`--fail-on`).
    pub fn fails_at(&self, threshold: Severity) -> bool {
        self.findings
            .iter()
            .any(|f| f.status == Status::Fail && f.suppressed.is_none() && f.severity >= threshold)
    }

    /// True when any check failed and no baseline accepted it.
    pub fn has_failures(&self) -> bool {
        self.fails_at(Severity::Info)
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
            for e in &mut f.exchanges {
                e.request = fix(&e.request);
                for h in e
                    .request_headers
                    .iter_mut()
                    .chain(e.response_headers.iter_mut())
                {
                    *h = fix(h);
                }
            }
            if let Some(s) = &mut f.suppressed {
                s.reason = fix(&s.reason);
            }
        }
        if let Some(d) = &mut r.stack {
            for s in &mut d.signals {
                *s = fix(s);
            }
        }
        r
    }
}

/// A finding's fingerprint: 128 bits of SHA-256 over a versioned, NUL-separated list of what
/// stays the same between runs against the same app.
fn fingerprint(id: &str, host: &str, cookie: Option<&str>) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for part in ["tessera-inspect/finding/v1", id, host, cookie.unwrap_or("")] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
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
        let f = Finding::new(
            "cookie-secure",
            Status::Fail,
            Severity::High,
            "t",
            "Set-Cookie: sid=\u{202e}gnp.exe\u{1b}[31m",
            vec![],
        );
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

#[cfg(test)]
mod fingerprint_tests {
    use super::*;

    fn report(target: &str, cookie: &str) -> Report {
        let f = Finding::new(
            "cookie-secure",
            Status::Fail,
            Severity::High,
            "t",
            "a fresh token each run",
            vec![],
        );
        Report::new(target.into(), Some(cookie.into()), vec![f])
    }

    #[test]
    fn fingerprints_ignore_the_port_and_the_evidence_but_not_the_host_or_cookie() {
        let fp = |t: &str, c: &str| report(t, c).findings[0].fingerprint.clone();
        let a = fp("http://127.0.0.1:41001/", "sid");
        assert_eq!(a.len(), 32);
        assert_eq!(a, fp("http://127.0.0.1:52002/", "sid"));
        assert_ne!(a, fp("http://app.example/", "sid"));
        assert_ne!(a, fp("http://127.0.0.1:41001/", "other"));
    }

    #[test]
    fn failing_findings_carry_a_fix_and_the_threshold_decides_the_exit() {
        let r = report("http://h/", "sid");
        let fix = r.findings[0].fix.as_ref().unwrap();
        assert_eq!(fix.stack, None);
        assert!(fix.advice.contains("Secure"));
        assert!(r.fails_at(Severity::High) && !r.fails_at(Severity::Critical));
        assert!(r.has_failures());
    }
}
