//! `tessera inspect TARGET.toml`: the black-box session auditor (docs/inspect.md).

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tessera_inspect::agent::Limits;
use tessera_inspect::checks::CheckId;
use tessera_inspect::target::Target;
use tessera_inspect::{inspect, Options};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// A readable table (colour on a terminal).
    Text,
    /// Stable JSON (docs/inspect.md).
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// One self-contained HTML page.
    Html,
}

/// Arguments of `tessera inspect`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The target file (TOML; see docs/inspect.md).
    pub(crate) target: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Tokens to sample for id-entropy.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(2..=20_000))]
    pub(crate) samples: u32,
    /// Only these checks (comma-separated ids; an unknown id is refused with the known ones).
    #[arg(long, value_delimiter = ',', value_name = "ID,...", value_parser = parse_check)]
    pub(crate) checks: Option<Vec<CheckId>>,
    /// Most requests per second sent to the target.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) max_rps: u32,
    /// Most requests in the whole run.
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(10..=1_000_000))]
    pub(crate) max_requests: u64,
    /// Stop the whole run after this many seconds (from the login); checks still running are
    /// reported as not run, and the report says it is partial.
    #[arg(long, value_name = "SECS", default_value_t = 1800, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) max_time: u64,
    /// Accept a self-signed TLS certificate (same as tls_insecure = true in the target file).
    #[arg(long)]
    pub(crate) insecure: bool,
}

fn parse_check(id: &str) -> Result<CheckId, String> {
    id.parse::<CheckId>().map_err(|e| e.to_string())
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    Ok(inspect_and_report(args))
}

fn inspect_and_report(args: Args) -> ExitCode {
    let mut target = match Target::load(&args.target) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("tessera inspect: {e}");
            return ExitCode::from(2);
        }
    };
    target.tls_insecure |= args.insecure;
    let options = Options {
        samples: args.samples as usize,
        sample_budget: Duration::from_secs(180),
        checks: args.checks.clone(),
        limits: Limits {
            max_rps: args.max_rps,
            max_requests: usize::try_from(args.max_requests).unwrap_or(usize::MAX),
            timeout: Duration::from_secs(15),
        },
        progress: std::io::stderr().is_terminal(),
        max_time: Duration::from_secs(args.max_time),
    };
    let report = match crate::block_on(inspect(&target, &options)) {
        Ok(Ok(r)) => r,
        Err(e) => {
            eprintln!("tessera inspect: {e:#}");
            return ExitCode::from(1);
        }
        Ok(Err(e)) => {
            eprintln!("tessera inspect: {e}");
            return ExitCode::from(e.exit_code());
        }
    };
    let colour = args.out.is_none()
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    let text = match args.format {
        Format::Text => report.to_text(colour),
        Format::Json => report.to_json(),
        Format::Sarif => report.to_sarif(),
        Format::Html => report.to_html(),
    };
    let written = match &args.out {
        Some(path) => std::fs::write(path, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| {
                    if text.ends_with('\n') {
                        Ok(())
                    } else {
                        out.write_all(b"\n")
                    }
                })
                .map_err(|e| format!("cannot write the report: {e}"))
        }
    };
    if let Err(e) = written {
        eprintln!("tessera inspect: {e}");
        return ExitCode::from(2);
    }
    if report.has_failures() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
