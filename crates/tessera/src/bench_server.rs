//! The server scripts/bench.sh drives: exactly `POST /login?user=N`, `GET /me`, `POST /logout`.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tessera_core::{Engine, LoginOptions};
use tessera_tower::{Session, SessionError, SessionLayer};

use crate::store_url::AnyStore;

#[derive(Deserialize)]
struct LoginQuery {
    user: u64,
}

async fn login(session: Session, Query(q): Query<LoginQuery>) -> Result<StatusCode, SessionError> {
    let ticket = session.login_ticket(&q.user.to_string()).await?;
    session.login(ticket).await?;
    Ok(StatusCode::OK)
}

async fn me(session: Session) -> Result<String, SessionError> {
    session.subject().ok_or(SessionError::NotSignedIn)
}

async fn logout(session: Session) -> StatusCode {
    match session.logout().await {
        tessera_core::LogoutOutcome::Ended => StatusCode::OK,
        _ => StatusCode::ACCEPTED,
    }
}

pub(crate) fn app(engine: Engine<AnyStore>) -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .layer(SessionLayer::new(engine))
}

/// Signs in subjects 1..=`count` straight through the engine (64 at a time, no HTTP) and writes
/// one `__Host-session=TOKEN` line per session to `file`: the fast way to a million sessions for
/// the scale benchmark. The file holds live tokens: it is created 0600 and is the harness's.
async fn seed(engine: &Engine<AnyStore>, count: u64, file: &std::path::Path) -> anyhow::Result<()> {
    const WORKERS: u64 = 64;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WORKERS {
        let engine = engine.clone();
        tasks.spawn(async move {
            let mut lines = Vec::new();
            let mut user = w + 1;
            while user <= count {
                let ticket = engine.login_ticket(&user.to_string()).await?;
                let issued = engine.login(None, ticket, LoginOptions::default()).await?;
                lines.push(format!("__Host-session={}", issued.token.expose()));
                user += WORKERS;
            }
            Ok::<_, tessera_core::Error>(lines)
        });
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = std::io::BufWriter::new(
        options
            .open(file)
            .with_context(|| format!("--seed-cookies {}", file.display()))?,
    );
    while let Some(done) = tasks.join_next().await {
        for line in done.context("a seeding task failed")?? {
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `tessera bench-server`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Session store: sqlite://PATH, redis://…, redis+cluster://…, postgres://… or memory://
    #[arg(long, default_value = "memory://")]
    store: String,
    /// Before serving, sign in this many subjects straight through the engine (scale runs).
    #[arg(long, requires = "seed_cookies", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    seed: Option<u64>,
    /// Where --seed writes one cookie per line.
    #[arg(long, requires = "seed")]
    seed_cookies: Option<PathBuf>,
    /// How old a session's last renewal must be before a request renews its idle deadline
    /// (a write), in seconds (default: the policy's 60). The scale runs measure with and without
    /// renewals: seeding a million sessions takes longer than 60 s.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=900))]
    renewal_throttle: Option<u64>,
}

/// Serves the three benchmark routes until Ctrl-C or SIGTERM.
pub(crate) fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    crate::init_logging("warn");
    let listen = args.listen;
    crate::block_on(async move {
        let store = crate::store_url::open(&args.store).await?;
        let described = store.describe();
        let mut policy = tessera_core::Policy::builder();
        if let Some(secs) = args.renewal_throttle {
            policy = policy.renewal_throttle(std::time::Duration::from_secs(secs));
        }
        let engine = Engine::builder(store).policy(policy.build()?).build();
        if let (Some(count), Some(file)) = (args.seed, &args.seed_cookies) {
            let started = std::time::Instant::now();
            seed(&engine, count, file).await?;
            eprintln!(
                "seeded {count} sessions in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        eprintln!("tessera bench-server on http://{listen} (store: {described})");
        crate::serve(listen, app(engine)).await
    })??;
    Ok(std::process::ExitCode::SUCCESS)
}
