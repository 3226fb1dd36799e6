//! `tessera entropy FILE`: reads a token list, runs the randomness analysis and prints its report (see
//! `tessera_inspect::entropy` for the method and the verdict's thresholds).
//!
//! The file holds one token per line, in the order they were issued; blank lines are ignored,
//! CRLF line ends and surrounding spaces accepted. Exit codes: 0 pass or warn, 1 fail, 2 invalid
//! input or unreadable file (one line on stderr naming the file and line).

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::ExitCode;

use tessera_inspect::entropy::{self, EntropyError, Verdict, MAX_TOKENS, MAX_TOKEN_BYTES};
use tessera_inspect::report;

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
        Format::Text => print!("{}", report::render_entropy_text(&file, &report)),
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
