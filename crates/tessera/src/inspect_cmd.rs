//! `tessera inspect TARGET.toml`: the black-box session auditor (docs/inspect.md).

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tessera_inspect::agent::Limits;
use tessera_inspect::baseline::Baseline;
use tessera_inspect::checks::CheckId;
use tessera_inspect::report::Severity;
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
    #[arg(long, value_name = "SECS", default_value_t = 1800, value_parser = clap::value_parser!(u64).range(1..=691_200))]
    pub(crate) max_time: u64,
    /// Also run the checks that wait by design for as long as the app promises a session may
    /// live (absolute-timeout, from `[expiry] absolute_timeout`); raise --max-time to match.
    #[arg(long)]
    pub(crate) long: bool,
    /// Accept a self-signed TLS certificate (same as tls_insecure = true in the target file).
    #[arg(long)]
    pub(crate) insecure: bool,
    /// Exit 1 only when a check fails at this severity or above (default: any failure).
    #[arg(long, value_enum, value_name = "SEVERITY", default_value = "info")]
    pub(crate) fail_on: FailOn,
    /// Suppress the findings this baseline file accepts (they are reported as suppressed and
    /// cannot fail the run; one that got worse is not suppressed).
    #[arg(long, value_name = "FILE")]
    pub(crate) baseline: Option<PathBuf>,
    /// Write every request and response of the run to FILE as HAR 1.2 (tokens and passwords
    /// redacted), for replay in a browser's developer tools or a proxy.
    #[arg(long, value_name = "FILE")]
    pub(crate) har: Option<PathBuf>,
    /// Write this run's failures and warnings to FILE as a baseline to review and commit.
    #[arg(long, value_name = "FILE")]
    pub(crate) write_baseline: Option<PathBuf>,
}

/// The lowest severity of a failure that fails the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FailOn {
    /// Any failure (the default).
    Info,
    /// Low and above.
    Low,
    /// Medium and above.
    Medium,
    /// High and above.
    High,
    /// Critical only.
    Critical,
}

impl FailOn {
    fn severity(self) -> Severity {
        match self {
            Self::Info => Severity::Info,
            Self::Low => Severity::Low,
            Self::Medium => Severity::Medium,
            Self::High => Severity::High,
            Self::Critical => Severity::Critical,
        }
    }
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
    // Read before the run: a bad baseline is an input error, found before any request.
    let baseline = match args.baseline.as_deref().map(Baseline::load).transpose() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("tessera inspect: baseline {e}");
            return ExitCode::from(2);
        }
    };
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
        long: args.long,
        har: args.har.is_some(),
    };
    let mut report = match crate::block_on(inspect(&target, &options)) {
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
    if let Some(b) = &baseline {
        report.apply_baseline(b);
    }
    if let (Some(path), Some(har)) = (&args.har, &report.har) {
        if let Err(e) = std::fs::write(path, har.as_bytes()) {
            eprintln!("tessera inspect: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if let Some(path) = &args.write_baseline {
        let written = Baseline::of(&report);
        if let Err(e) = std::fs::write(path, written.to_json().as_bytes()) {
            eprintln!("tessera inspect: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
        eprintln!(
            "tessera inspect: wrote a baseline of {} accepted findings to {}",
            written.accepted().len(),
            path.display()
        );
    }
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
    if report.fails_at(args.fail_on.severity()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
