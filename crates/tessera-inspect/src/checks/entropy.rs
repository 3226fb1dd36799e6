//! `id-entropy`: samples the app's tokens and turns their statistics ([`crate::entropy`]) into
//! a finding.

use super::*;
use crate::checks::CheckOutcome;
use crate::entropy::{analyse, DataKind, EntropyReport, Verdict};
use crate::report::Status;

/// Judges sampled tokens. Also returns, for the HTML chart, the Shannon entropy of each bit
/// position estimated from its frequency of ones (1.0 for a fair bit, 0 for a constant one).
pub(crate) fn judge(samples: &[String], wanted: usize) -> (CheckOutcome, Option<Vec<f64>>) {
    let report = match analyse(samples) {
        Ok(r) => r,
        Err(e) => {
            return (
                CheckOutcome {
                    status: Status::Error,
                    evidence: format!("could not analyse {} sampled tokens: {e}", samples.len()),
                },
                None,
            )
        }
    };
    // express-session's `s:<id>.<signature>` is a signed identifier: judge the id itself.
    if report
        .data_format
        .as_ref()
        .is_some_and(|d| d.kind == DataKind::ExpressSigned)
    {
        if let Some(ids) = express_ids(samples) {
            let (mut verdict, chart) = judge(&ids, wanted);
            verdict.evidence = format!(
                "express-session signed ids (s:<id>.<signature>); the id part: {}",
                verdict.evidence
            );
            return (verdict, chart);
        }
    }
    let chart = per_bit_entropy(&report);
    let shortfall = if samples.len() < wanted {
        format!(
            " Only {} of the {wanted} requested samples were collected within the time budget.",
            samples.len()
        )
    } else {
        String::new()
    };
    if let Some(data) = &report.data_format {
        return (
            CheckOutcome {
                status: Status::Warn,
                evidence: format!(
                    "the session cookie carries data, not an identifier ({}: {}); it is not scored as a random id. \
                     A client-side session cannot be ended by the server: see logout-invalidation.{shortfall}",
                    data.kind.name(),
                    data.detail
                ),
            },
            Some(chart),
        );
    }
    let status = match report.verdict {
        Verdict::Pass => Status::Pass,
        Verdict::Warn => Status::Warn,
        Verdict::Fail => Status::Fail,
    };
    let patterns: Vec<&str> = report
        .patterns
        .iter()
        .filter(|p| p.predictable)
        .map(|p| p.detail.as_str())
        .collect();
    let evidence = format!(
        "{} tokens of {} chars ({} encoding): {}; {} of {} bit positions pass at the 1% level.{}{}",
        report.samples,
        report.lengths.max,
        report.encoding.name(),
        report.reason,
        report.effective_bits,
        report.bits_per_token,
        if patterns.is_empty() {
            String::new()
        } else {
            format!(" Patterns: {}.", patterns.join("; "))
        },
        shortfall,
    );
    (CheckOutcome { status, evidence }, Some(chart))
}

/// The `<id>` of each `s:<id>.<signature>` (the colon possibly percent-encoded), if all have one.
fn express_ids(samples: &[String]) -> Option<Vec<String>> {
    samples
        .iter()
        .map(|t| {
            let rest = t.strip_prefix("s%3A").or_else(|| t.strip_prefix("s:"))?;
            let (id, _signature) = rest.rsplit_once('.')?;
            (!id.is_empty()).then(|| id.to_owned())
        })
        .collect()
}

fn per_bit_entropy(report: &EntropyReport) -> Vec<f64> {
    report
        .bit_positions
        .iter()
        .map(|b| {
            if b.samples == 0 {
                return 0.0;
            }
            let q = b.ones as f64 / b.samples as f64;
            let h = |x: f64| if x <= 0.0 { 0.0 } else { -x * x.log2() };
            h(q) + h(1.0 - q)
        })
        .collect()
}

/// Collects `n` fresh session tokens from repeated logins, within `budget`.
pub(crate) async fn sample_tokens(
    ctx: &Ctx<'_>,
    n: usize,
    budget: Duration,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<String>, AgentError> {
    let deadline = tokio::time::Instant::now() + budget;
    let mut out = vec![ctx.baseline.token.clone()];
    while out.len() < n && tokio::time::Instant::now() < deadline {
        match login(ctx.agent.user(), ctx.target, Some(&ctx.cookie)).await {
            Ok((l, _)) => out.push(l.token),
            Err(LoginError::Unreachable(e)) => return Err(e),
            Err(_) => break,
        }
        progress(out.len(), n);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn express_signed_ids_are_unwrapped() {
        let ids = express_ids(&["s%3AabcDEF.sig%2Bx".into(), "s:xyz.q".into()]).unwrap();
        assert_eq!(ids, vec!["abcDEF", "xyz"]);
        assert!(express_ids(&["plain".into()]).is_none());
    }
}
