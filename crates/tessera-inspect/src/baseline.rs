//! Baselines: the findings a team has looked at and accepted, so that later runs in CI report
//! them as suppressed instead of failing, while anything new, or anything that got worse, still
//! fails.
//!
//! A baseline is a small JSON file (`tessera inspect --write-baseline FILE` writes one from a
//! run; `--baseline FILE` applies it), meant to be committed and reviewed like code:
//!
//! ```json
//! { "tessera_baseline": 1,
//!   "accepted": [ { "fingerprint": "…32 hex…", "check": "cookie-prefix",
//!                   "status": "warn", "severity": "low", "reason": "legacy name, see TICKET-12" } ] }
//! ```
//!
//! An entry matches a finding by [`Finding::fingerprint`] (check, host and cookie name) and
//! accepts it only as it was: a finding that is now worse than the entry (a warning that became
//! a failure, or a higher severity) is not suppressed. "Worse" is judged by status and
//! severity, not by the evidence: an accepted idle-timeout failure stays accepted whatever the
//! timeout it measured next time. Writing a baseline from a run that applied one keeps the
//! reasons of the entries it still matched.

use std::io::Read as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::report::{Finding, Report, Severity, Status};

/// Largest baseline file read.
pub const MAX_BASELINE_BYTES: u64 = 1024 * 1024;

/// The format version this build reads and writes.
const VERSION: u32 = 1;

/// The accepted findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// The format version (1).
    tessera_baseline: u32,
    /// The entries.
    accepted: Vec<Accepted>,
}

/// One accepted finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accepted {
    /// The finding's fingerprint.
    pub fingerprint: String,
    /// Its check id (for the reader; matching is by fingerprint).
    pub check: String,
    /// The status accepted: `warn` accepts a warning only, `fail` a failure or a warning.
    pub status: Status,
    /// The highest severity accepted.
    pub severity: Severity,
    /// Why it was accepted (shown with the suppressed finding).
    #[serde(default)]
    pub reason: String,
}

/// Why a baseline file was refused: one line naming the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct BaselineError {
    /// The file, control characters escaped.
    pub file: String,
    /// What is wrong.
    pub reason: String,
}

impl Baseline {
    /// Every finding of `report` that fails or warns, accepted as it is now.
    pub fn of(report: &Report) -> Self {
        Self {
            tessera_baseline: VERSION,
            accepted: report
                .findings
                .iter()
                .filter(|f| matches!(f.status, Status::Fail | Status::Warn))
                .map(|f| Accepted {
                    fingerprint: f.fingerprint.clone(),
                    check: f.id.clone(),
                    status: f.status,
                    severity: f.severity,
                    // A reason given in the baseline this run applied stays with its entry.
                    reason: f
                        .suppressed
                        .as_ref()
                        .map(|s| s.reason.clone())
                        .unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// The entries.
    pub fn accepted(&self) -> &[Accepted] {
        &self.accepted
    }

    /// The baseline as the pretty JSON `--write-baseline` writes.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }

    /// Reads a baseline file (at most [`MAX_BASELINE_BYTES`], whatever size it reports).
    pub fn load(path: &Path) -> Result<Self, BaselineError> {
        let refuse = |reason: String| BaselineError {
            file: crate::report::text::clean(&path.display().to_string()),
            reason,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_BASELINE_BYTES + 1).read_to_end(&mut bytes))
            .map_err(|e| refuse(format!("cannot read: {e}")))?;
        if bytes.len() as u64 > MAX_BASELINE_BYTES {
            return Err(refuse(format!("larger than {MAX_BASELINE_BYTES} bytes")));
        }
        Self::parse(&bytes).map_err(refuse)
    }

    /// Parses baseline JSON; the error is one line.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let b: Self = serde_json::from_slice(bytes).map_err(|e| {
            format!(
                "not a tessera baseline (line {}, column {}: {})",
                e.line(),
                e.column(),
                match e.classify() {
                    serde_json::error::Category::Data => "unexpected field or value",
                    serde_json::error::Category::Syntax => "invalid JSON",
                    serde_json::error::Category::Eof => "ends too early",
                    serde_json::error::Category::Io => "unreadable",
                }
            )
        })?;
        if b.tessera_baseline != VERSION {
            return Err(format!(
                "baseline format {} is not the one this tessera reads ({VERSION})",
                b.tessera_baseline
            ));
        }
        if let Some(bad) = b.accepted.iter().find(|a| {
            a.fingerprint.len() != 32 || !a.fingerprint.bytes().all(|c| c.is_ascii_hexdigit())
        }) {
            return Err(format!(
                "entry for {:?}: a fingerprint is 32 hex digits",
                crate::report::text::clean(&bad.check)
            ));
        }
        Ok(b)
    }

    /// The reason `finding` is accepted, when an entry covers it as it is now.
    pub fn accepts(&self, finding: &Finding) -> Option<&str> {
        let rank = |s: Status| match s {
            Status::Warn => 1,
            Status::Fail => 2,
            _ => 0,
        };
        if rank(finding.status) == 0 {
            return None;
        }
        self.accepted
            .iter()
            .find(|a| {
                a.fingerprint.eq_ignore_ascii_case(&finding.fingerprint)
                    && rank(finding.status) <= rank(a.status)
                    && finding.severity <= a.severity
            })
            .map(|a| a.reason.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(status: Status, severity: Severity) -> Report {
        let f = Finding::new("cookie-prefix", status, severity, "t", "", vec![]);
        Report::new("http://127.0.0.1:4000/".into(), Some("sid".into()), vec![f])
    }

    #[test]
    fn an_accepted_finding_is_suppressed_until_it_gets_worse() {
        let base = Baseline::parse(
            Baseline::of(&report(Status::Warn, Severity::Low))
                .to_json()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(base.accepted().len(), 1);
        let mut same = report(Status::Warn, Severity::Low);
        same.apply_baseline(&base);
        assert!(same.findings[0].suppressed.is_some());
        assert_eq!((same.summary.warn, same.summary.suppressed), (0, 1));
        // Worse: a failure where a warning was accepted.
        let mut worse = report(Status::Fail, Severity::Low);
        worse.apply_baseline(&base);
        assert!(worse.findings[0].suppressed.is_none() && worse.has_failures());
        // Worse: a higher severity.
        let mut higher = report(Status::Warn, Severity::High);
        higher.apply_baseline(&base);
        assert!(higher.findings[0].suppressed.is_none());
        // An accepted failure no longer fails the run.
        let base = Baseline::of(&report(Status::Fail, Severity::Low));
        let mut fail = report(Status::Fail, Severity::Low);
        fail.apply_baseline(&base);
        assert!(!fail.has_failures() && fail.summary.fail == 0);
    }

    #[test]
    fn hostile_baselines_get_one_line_errors() {
        for bad in [
            &b"{"[..],
            b"[]",
            b"{\"tessera_baseline\": 2, \"accepted\": []}",
            b"{\"tessera_baseline\": 1, \"accepted\": [], \"x\": 1}",
            b"{\"tessera_baseline\": 1, \"accepted\": [{\"fingerprint\": \"zz\", \"check\": \"\\u001b[31m\", \"status\": \"fail\", \"severity\": \"low\"}]}",
            b"{\"tessera_baseline\": 1, \"accepted\": [{\"fingerprint\": \"00000000000000000000000000000000\", \"check\": \"c\", \"status\": \"bad\", \"severity\": \"low\"}]}",
        ] {
            let e = Baseline::parse(bad).unwrap_err();
            assert!(!e.contains('\n') && !e.contains('\u{1b}'), "{e:?}");
        }
        #[cfg(unix)]
        {
            let e = Baseline::load(Path::new("/dev/zero")).unwrap_err();
            assert!(e.to_string().contains("larger than"), "{e}");
        }
    }
}
