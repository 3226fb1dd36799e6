//! `tessera entropy FILE`: randomness analysis of a token list (see
//! `tessera_inspect::entropy` for the method and the verdict's thresholds).
//!
//! The file holds one token per line, in the order they were issued; blank lines are ignored,
//! CRLF line ends and surrounding spaces accepted. Exit codes: 0 pass or warn, 1 fail, 2 invalid
//! input or unreadable file (one line on stderr naming the file and line).

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::ExitCode;

use tessera_inspect::entropy::{
    self, EntropyError, EntropyReport, Verdict, HEADLINE_SIGNIFICANCE, MAX_TOKENS, MAX_TOKEN_BYTES,
};

/// Arguments of `tessera entropy`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A file with one token per line, in the order they were issued.
    pub(crate) file: std::path::PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

/// Output formats of `tessera entropy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// A readable report.
    Text,
    /// The full report as JSON.
    Json,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    Ok(analyse_and_report(args))
}

fn analyse_and_report(args: Args) -> ExitCode {
    let file = args.file.display().to_string();
    let (tokens, lines) = match read_tokens(&args.file) {
        Ok(read) => read,
        Err(message) => {
            eprintln!("tessera entropy: {message}");
            return ExitCode::from(2);
        }
    };
    let report = match entropy::analyse(&tokens) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("tessera entropy: {}", describe_error(&file, &e, &lines));
            return ExitCode::from(2);
        }
    };
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("tessera entropy: cannot write the JSON report: {e}");
                return ExitCode::from(2);
            }
        },
        Format::Text => print!("{}", render_text(&file, &report)),
    }
    match report.verdict {
        Verdict::Pass | Verdict::Warn => ExitCode::SUCCESS,
        Verdict::Fail => ExitCode::from(1),
    }
}

/// Reads the tokens and the file line of each. Errors are one line naming the file (and line).
fn read_tokens(path: &Path) -> Result<(Vec<String>, Vec<usize>), String> {
    let name = path.display();
    let file =
        std::fs::File::open(path).map_err(|e| format!("{name}: cannot read the file: {e}"))?;
    let mut reader = BufReader::new(file);
    // A line may carry "\r\n" and some surrounding blanks beyond the token's own limit.
    let limit = MAX_TOKEN_BYTES + 64;
    let mut tokens = Vec::new();
    let mut lines = Vec::new();
    let mut buf = Vec::new();
    let mut line = 0usize;
    loop {
        buf.clear();
        let read = (&mut reader)
            .take(limit as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| format!("{name}: cannot read the file: {e}"))?;
        if read == 0 {
            break;
        }
        line += 1;
        if buf.len() > limit {
            return Err(format!(
                "{name}:{line}: the line is longer than {MAX_TOKEN_BYTES} bytes; tokens are at most {MAX_TOKEN_BYTES} bytes"
            ));
        }
        let text = std::str::from_utf8(&buf).map_err(|_| {
            format!("{name}:{line}: the line is not UTF-8 text (is this a binary file?)")
        })?;
        let token = text.trim_matches(|c: char| c.is_ascii_whitespace());
        if token.is_empty() {
            continue;
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(format!(
                "{name}:{line}: the token has {} bytes, more than the {MAX_TOKEN_BYTES} allowed",
                token.len()
            ));
        }
        if let Some((column, c)) = token.char_indices().find(|(_, c)| !c.is_ascii_graphic()) {
            return Err(format!(
                "{name}:{line}: column {}: {} is not printable ASCII; tokens are cookie or URL values (printable ASCII, no spaces)",
                column + 1,
                c.escape_debug()
            ));
        }
        if tokens.len() == MAX_TOKENS {
            return Err(format!(
                "{name}:{line}: more than {MAX_TOKENS} tokens; at most {MAX_TOKENS} are analysed"
            ));
        }
        tokens.push(token.to_owned());
        lines.push(line);
    }
    if tokens.is_empty() {
        return Err(format!(
            "{name}: no tokens (the file is empty or has only blank lines); put one token per line"
        ));
    }
    Ok((tokens, lines))
}

/// The library numbers tokens 1, 2, …; report file lines instead.
fn describe_error(file: &str, e: &EntropyError, lines: &[usize]) -> String {
    let at = |token: usize| {
        lines.get(token.wrapping_sub(1)).map_or_else(
            || format!("{file}: token {token}"),
            |l| format!("{file}:{l}"),
        )
    };
    match e {
        EntropyError::Empty { line } => format!("{}: empty token", at(*line)),
        EntropyError::TooLong { line, len, max } => {
            format!(
                "{}: the token has {len} bytes, more than the {max} allowed",
                at(*line)
            )
        }
        EntropyError::NotPrintable { line, column, byte } => format!(
            "{}: column {column}: byte 0x{byte:02x} is not printable ASCII",
            at(*line)
        ),
        other => format!("{file}: {other}"),
    }
}

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

fn render_text(file: &str, r: &EntropyReport) -> String {
    let mut out = String::new();
    let verdict = match r.verdict {
        Verdict::Pass => "PASS",
        Verdict::Warn => "WARN",
        Verdict::Fail => "FAIL",
    };
    let _ = writeln!(out, "tessera entropy: {file}");
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
        let kind = format!("{:?}", p.kind);
        let _ = writeln!(
            out,
            "  {} {}: {}",
            if p.predictable { "✗" } else { "·" },
            pattern_name(&kind),
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

/// `ConstantPrefix` → `constant prefix`.
fn pattern_name(debug: &str) -> String {
    let mut out = String::new();
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push(' ');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
