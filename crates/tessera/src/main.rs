//! The `tessera` command: a thin shell over the library crates.

mod bench_server;
mod demo;
mod entropy_cmd;
mod inspect_cmd;
mod limiter;
mod serve_cmd;
mod store_url;

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tessera: secure session management.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the session service: the JSON API for back ends in any language, forward-auth for
    /// reverse proxies, metrics (see docs/api.md). No configuration needed.
    Serve(serve_cmd::Args),
    /// Manage the service's API keys.
    #[command(subcommand)]
    ApiKey(serve_cmd::KeyCommand),
    /// Check the service's configuration.
    #[command(subcommand)]
    Config(serve_cmd::ConfigCommand),
    /// Run the demo web app (users alice/wonderland and bob/builder).
    Demo(demo::Args),
    /// Audit a running web app's session handling (see docs/inspect.md).
    ///
    /// Exit codes: 0 nothing failed, 1 a check failed, 2 invalid target file or arguments,
    /// 3 target unreachable or login not working.
    Inspect(inspect_cmd::Args),
    /// Analyse the randomness of a list of tokens, one per line (like Burp Sequencer's manual
    /// load). Exit codes: 0 random enough, 1 predictable or too short, 2 invalid input.
    Entropy(entropy_cmd::Args),
    /// Run the minimal server used by scripts/bench.sh (POST /login?user=N, GET /me, POST /logout).
    /// A benchmark harness, not a product command: hidden from --help.
    #[command(hide = true)]
    BenchServer(bench_server::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap's own exit code is 2 for usage errors, 0 for --help/--version.
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tessera: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs one subcommand. Each owns its arguments and its exit codes.
fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => serve_cmd::run(args),
        Command::ApiKey(command) => serve_cmd::keys(command),
        Command::Config(command) => serve_cmd::config(command),
        Command::Demo(args) => demo::run(args),
        Command::Inspect(args) => inspect_cmd::run(args),
        Command::Entropy(args) => entropy_cmd::run(args),
        Command::BenchServer(args) => bench_server::run(args),
    }
}

/// The one tokio runtime a command runs on.
fn block_on<T>(work: impl std::future::Future<Output = T>) -> anyhow::Result<T> {
    use anyhow::Context as _;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(work))
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Binds `addr` and serves `app` with client addresses available to the session layer, until
/// Ctrl-C or SIGTERM.
async fn serve(addr: SocketAddr, app: axum::Router) -> anyhow::Result<()> {
    serve_with(addr, app, None).await
}

/// [`serve`], over TLS when `tls` is given.
async fn serve_with(
    addr: SocketAddr,
    app: axum::Router,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use axum::serve::ListenerExt as _;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => axum::serve(listener, app)
            .with_graceful_shutdown(shutdown())
            .await
            .context("server failed"),
        Some(config) => {
            // tap_io gives the TLS listener axum's SocketAddr connect info.
            let listener = tessera_serve::tls::TlsListener::new(listener, config)
                .context("cannot start TLS")?
                .tap_io(|_| {});
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown())
                .await
                .context("server failed")
        }
    }
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
