//! The verdict: the rules that turn the measurements into pass, warn or fail.

use super::*;

pub(super) fn count_at(bits: &[BitPosition], level: f64) -> usize {
    bits.iter().filter(|b| b.score >= level).count()
}

pub(super) fn decide(
    n: usize,
    duplicates: usize,
    patterns: &[Pattern],
    data: Option<&DataFormat>,
    verdict_bits: usize,
    bits_per_token: usize,
) -> (Verdict, String) {
    if duplicates > 0 {
        return (
            Verdict::Fail,
            format!("{duplicates} duplicate tokens among {n}: tokens must be unique"),
        );
    }
    if let Some(data) = data {
        return (
            Verdict::Warn,
            format!(
                "the tokens look like data ({}), not random identifiers: their randomness is not scored",
                data.kind.name()
            ),
        );
    }
    if let Some(p) = patterns
        .iter()
        .find(|p| p.predictable && p.kind != PatternKind::Duplicates)
    {
        let what = match p.kind {
            PatternKind::Timestamp => "a timestamp",
            _ => "a counter",
        };
        return (
            Verdict::Fail,
            format!("the tokens contain {what}: {}", p.detail),
        );
    }
    if verdict_bits < FAIL_BELOW_BITS {
        return (
            Verdict::Fail,
            format!(
                "only {verdict_bits} of {bits_per_token} bits look random (at 10⁻⁶); at least {FAIL_BELOW_BITS} are required (ASVS 4.0.3 3.2.2)"
            ),
        );
    }
    if verdict_bits < WARN_BELOW_BITS {
        return (
            Verdict::Warn,
            format!(
                "{verdict_bits} of {bits_per_token} bits look random (at 10⁻⁶): at least {FAIL_BELOW_BITS}, but fewer than the {WARN_BELOW_BITS} ASVS 5.0 7.2.3 asks for"
            ),
        );
    }
    if n < MIN_TOKENS_FOR_PASS {
        return (
            Verdict::Warn,
            format!(
                "{verdict_bits} of {bits_per_token} bits look random, but {n} tokens are too few to pass: collect at least {MIN_TOKENS_FOR_PASS}"
            ),
        );
    }
    (
        Verdict::Pass,
        format!(
            "{verdict_bits} of {bits_per_token} bits look random (at 10⁻⁶; ≥ {WARN_BELOW_BITS} wanted) and no predictable pattern was found"
        ),
    )
}
