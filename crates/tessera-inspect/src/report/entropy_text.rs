//! The text renderer of an entropy report (`tessera entropy`): the verdict, the effective
//! entropy, a map of bit scores, the patterns and the stream tests.

use std::fmt::Write as _;

use super::text::clean;
use crate::entropy::{EntropyReport, Verdict, HEADLINE_SIGNIFICANCE};

fn fmt_p(p: f64) -> String {
    if p <= 0.0 {
        "0".to_owned()
    } else if p >= 0.001 {
        format!("{p:.3}")
    } else {
        format!("{p:.1e}")
    }
}

fn fmt_opt(p: Option<f64>) -> String {
    p.map_or_else(|| "–".to_owned(), fmt_p)
}

fn fmt_level(level: f64) -> String {
    let percent = level * 100.0;
    if percent >= 1.0 {
        format!("{percent:.0}%")
    } else {
        let s = format!("{percent:.6}");
        format!("{}%", s.trim_end_matches('0'))
    }
}

/// Renders an entropy report as text; `source` names where the tokens came from (a file name).
pub(super) fn render(source: &str, r: &EntropyReport) -> String {
    let mut out = String::new();
    let verdict = match r.verdict {
        Verdict::Pass => "PASS",
        Verdict::Warn => "WARN",
        Verdict::Fail => "FAIL",
    };
    let _ = writeln!(out, "tessera entropy: {}", clean(source));
    let _ = writeln!(out, "Verdict: {verdict}: {}", r.reason);
    if let Some(data) = &r.data_format {
        let _ = writeln!(out, "Data, not an identifier: {}", data.detail);
    }

    let _ = writeln!(out, "\nSample");
    let _ = writeln!(
        out,
        "  tokens             {} ({} distinct, {} duplicates)",
        r.samples, r.distinct, r.duplicates
    );
    let _ = writeln!(
        out,
        "  length             {}–{} characters (mean {:.1})",
        r.lengths.min, r.lengths.max, r.lengths.mean
    );
    let _ = writeln!(
        out,
        "  encoding           {} → {} bits per token{}",
        r.encoding.name(),
        r.bits_per_token,
        if r.bits_truncated { " (truncated)" } else { "" }
    );

    let _ = writeln!(
        out,
        "\nEffective entropy (bit positions that look random; an upper-bound estimate)"
    );
    let _ = writeln!(
        out,
        "  at 1%              {} bits (Burp's headline figure)",
        r.effective_bits
    );
    let _ = writeln!(
        out,
        "  for the verdict    {} bits (at {}, corrected for testing every bit several times)",
        r.verdict_bits,
        fmt_level(r.verdict_significance)
    );
    let levels: Vec<String> = r
        .effective_bits_by_level
        .iter()
        .map(|l| format!("{}: {}", fmt_level(l.significance), l.bits))
        .collect();
    let _ = writeln!(out, "  by level           {}", levels.join(" · "));
    let _ = writeln!(
        out,
        "  character level    {} bits at most over {} positions, {} at 1%",
        r.char_bits,
        r.char_positions.len(),
        r.char_effective_bits
    );

    if !r.bit_scores.is_empty() {
        let _ = writeln!(
            out,
            "\nBit scores, one per bit position: '#' ≥ 1%, '+' ≥ {}, 'x' below, '-' constant",
            fmt_level(r.verdict_significance)
        );
        for (row, chunk) in r.bit_positions.chunks(64).enumerate() {
            let marks: String = chunk
                .iter()
                .map(|b| {
                    if b.constant {
                        '-'
                    } else if b.score >= HEADLINE_SIGNIFICANCE {
                        '#'
                    } else if b.score >= r.verdict_significance {
                        '+'
                    } else {
                        'x'
                    }
                })
                .collect();
            let _ = writeln!(out, "  {:>5}  {marks}", row * 64);
        }
    }

    let _ = writeln!(out, "\nPatterns");
    if r.patterns.is_empty() {
        let _ = writeln!(out, "  none found");
    }
    for p in &r.patterns {
        let _ = writeln!(
            out,
            "  {} {}: {}",
            if p.predictable { "✗" } else { "·" },
            p.kind.name(),
            p.detail
        );
    }

    const SHOWN: usize = 64;
    let _ = writeln!(
        out,
        "\nCharacter positions (distinct characters, bits, p uniform use, p transitions)"
    );
    for c in r.char_positions.iter().take(SHOWN) {
        let _ = writeln!(
            out,
            "  {:>4}: {:>3} chars {:>2} bits   p {:>7} {:>7}{}",
            c.position + 1,
            c.distinct,
            c.bits,
            fmt_opt(c.uniformity_p),
            fmt_opt(c.transition_p),
            if c.distinct < 2 {
                "   constant"
            } else if c.score < HEADLINE_SIGNIFICANCE {
                "   < 1%"
            } else {
                ""
            }
        );
    }
    if r.char_positions.len() > SHOWN {
        let _ = writeln!(
            out,
            "  … {} more positions (see --format json)",
            r.char_positions.len() - SHOWN
        );
    }

    let s = &r.stream;
    let _ = writeln!(
        out,
        "\nStream tests on the {} concatenated bits{} (informational: they mix structure and randomness)",
        s.bits,
        if s.truncated { " (truncated)" } else { "" }
    );
    match &s.fips {
        Some(f) => {
            let b = &f.first_block;
            let ok = |pass: bool| if pass { "ok" } else { "FAIL" };
            let _ = writeln!(
                out,
                "  FIPS 140-2: {} blocks of 20,000 bits, {} failed; first block: monobit {} {}, poker {:.2} {}, runs {}, long run {} {}",
                f.blocks,
                f.failed_blocks,
                b.ones,
                ok(b.monobit_pass),
                b.poker,
                ok(b.poker_pass),
                ok(b.runs_pass),
                b.longest_run,
                ok(b.long_run_pass)
            );
        }
        None => {
            let _ = writeln!(out, "  FIPS 140-2: needs at least 20,000 bits");
        }
    }
    let n = &s.nist;
    let _ = writeln!(
        out,
        "  NIST SP 800-22 p-values: frequency {}, block frequency{} {}, runs {}, longest run {}, cusum {} / {}",
        fmt_opt(n.frequency_p),
        n.block_size.map_or_else(String::new, |m| format!(" (M={m})")),
        fmt_opt(n.block_frequency_p),
        fmt_opt(n.runs_p),
        fmt_opt(n.longest_run_p),
        fmt_opt(n.cusum_forward_p),
        fmt_opt(n.cusum_reverse_p)
    );

    let _ = writeln!(out, "\nCaveats");
    for c in &r.caveats {
        let _ = writeln!(out, "  - {c}");
    }
    out
}
