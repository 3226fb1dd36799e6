//! The `tessera` command: a thin shell over the library crates.

mod bench_server;
mod demo;
mod entropy_cmd;
mod inspect_cmd;
mod limiter;
mod store_url;

use std::net::SocketAddr;

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
    /// Run the demo web app (users alice/wonderland and bob/builder).
    Demo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Session store: sqlite://PATH or memory:// (SQLite is durable by default; append
        /// ?durability=relaxed-loses-recent-writes-on-power-loss to trade that for speed)
        #[arg(long, default_value = "sqlite://tessera-demo.db")]
        store: String,
        /// Session cookie name (default __Host-session). Another name is still Secure,
        /// HttpOnly and host-only, but loses the __Host- prefix's guarantees.
        #[arg(long, value_name = "NAME")]
        cookie_name: Option<String>,
        /// Idle timeout in seconds (default: the policy's 30 minutes). Short values let
        /// `tessera inspect` check idle expiry without waiting half an hour.
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(2..=86_400))]
        idle_timeout: Option<u64>,
    },
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
    BenchServer {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
        /// Session store: sqlite://PATH or memory://
        #[arg(long, default_value = "memory://")]
        store: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap's own exit code is 2 for usage errors, 0 for --help/--version.
            return std::process::ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let cli = match cli.command {
        Command::Entropy(args) => return entropy_cmd::run(args),
        Command::Inspect(args) => return inspect_cmd::run(args),
        other => Cli { command: other },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tessera: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Demo {
                listen,
                store,
                cookie_name,
                idle_timeout,
            } => {
                init_logging("info");
                let policy = demo::policy(idle_timeout)?;
                let cookie = demo::cookie(cookie_name.as_deref())?;
                demo::run(listen, store_url::open(&store)?, policy, cookie).await
            }
            Command::BenchServer { listen, store } => {
                init_logging("warn");
                bench_server::run(listen, store_url::open(&store)?).await
            }
            Command::Inspect(_) | Command::Entropy(_) => Ok(()),
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
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
    use anyhow::Context as _;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await
    .context("server failed")
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
