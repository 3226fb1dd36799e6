//! `bench-peer`: the comparison servers for Tessera's side-by-side benchmark (`scripts/bench.sh`).
//!
//! Every mode serves the same three routes as `tessera bench-server`:
//!
//! * `POST /login?user=N`: creates a session for subject `N` (the id is cycled, as a real login
//!   does), 200 with the `Set-Cookie`.
//! * `GET /me`: 200 with the subject as the whole body; 401 without a valid session.
//! * `POST /logout`: 200; the session is deleted server-side.
//!
//! Modes (`--mode`):
//!
//! * `none`: plain axum, no session layer. `/login` sets the fixed cookie `id=x`; `/me` answers
//!   `0` whenever any `Cookie` header is present. It is the raw-framework baseline.
//! * `ts-memory`: axum + tower-sessions 0.15 with its `MemoryStore`.
//! * `ts-sqlite`: axum + tower-sessions 0.14 with `tower-sessions-sqlx-store` 0.15 (`SqliteStore`)
//!   on a file database (`--db PATH`), WAL journal and `synchronous=NORMAL` (the same settings as
//!   Tessera's SQLite store), default sqlx pool. (`tower-sessions-sqlx-store` 0.15 only implements
//!   the store trait of tower-sessions 0.14.)
//! * `ts-redis`: axum + tower-sessions 0.14 with `tower-sessions-redis-store` 0.16 (fred 10, a
//!   pool of one multiplexed client) on the Redis at `--url`.
//! * `ts-postgres`: axum + tower-sessions 0.14 with `tower-sessions-sqlx-store` 0.15
//!   (`PostgresStore`, default sqlx pool) on the database at `--url`.
//!
//! The cookie is not `Secure`: the load generator talks plain HTTP on loopback.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{bail, Context};
use axum::{
    extract::Query,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use clap::{Parser, ValueEnum};
use serde::Deserialize;

/// Session key under which the subject is stored.
const SUBJECT: &str = "subject";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Plain axum, no session layer (baseline).
    None,
    /// tower-sessions with its in-memory store.
    TsMemory,
    /// tower-sessions with tower-sessions-sqlx-store (SQLite file).
    TsSqlite,
    /// tower-sessions with tower-sessions-redis-store.
    TsRedis,
    /// tower-sessions with tower-sessions-sqlx-store (PostgreSQL).
    TsPostgres,
}

/// Peer server for Tessera's side-by-side benchmark.
#[derive(Debug, Parser)]
#[command(name = "bench-peer")]
struct Args {
    /// Which server to run.
    #[arg(long, value_enum)]
    mode: Mode,
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long)]
    listen: SocketAddr,
    /// SQLite database file (created if missing); required for `--mode ts-sqlite`.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Redis or PostgreSQL URL; required for `--mode ts-redis` and `--mode ts-postgres`.
    #[arg(long)]
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    user: u64,
}

/// Handlers for one tower-sessions version; `$ts` is the crate (0.14 and 0.15 have the same API
/// but distinct types, so the handlers are stamped out once per version).
macro_rules! ts_handlers {
    ($module:ident, $ts:ident) => {
        mod $module {
            use super::*;
            use $ts::Session;

            pub(crate) async fn login(session: Session, Query(q): Query<LoginQuery>) -> Response {
                // A real login: fresh id (against fixation), then the subject.
                if let Err(e) = session.cycle_id().await {
                    return internal(e);
                }
                if let Err(e) = session.insert(SUBJECT, q.user).await {
                    return internal(e);
                }
                StatusCode::OK.into_response()
            }

            pub(crate) async fn me(session: Session) -> Response {
                match session.get::<u64>(SUBJECT).await {
                    Ok(Some(subject)) => (StatusCode::OK, subject.to_string()).into_response(),
                    Ok(None) => StatusCode::UNAUTHORIZED.into_response(),
                    Err(e) => internal(e),
                }
            }

            pub(crate) async fn logout(session: Session) -> Response {
                match session.flush().await {
                    Ok(()) => StatusCode::OK.into_response(),
                    Err(e) => internal(e),
                }
            }

            pub(crate) fn routes() -> Router {
                Router::new()
                    .route("/login", post(login))
                    .route("/me", get(me))
                    .route("/logout", post(logout))
            }
        }
    };
}

ts_handlers!(ts15, tower_sessions);
ts_handlers!(ts14, tower_sessions_014);

fn internal(e: impl std::fmt::Display) -> Response {
    eprintln!("bench-peer: session error: {e}");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// Baseline: no session layer at all.
fn none_routes() -> Router {
    async fn login(Query(_q): Query<LoginQuery>) -> Response {
        (
            StatusCode::OK,
            [(header::SET_COOKIE, "id=x; Path=/; HttpOnly")],
        )
            .into_response()
    }
    async fn me(headers: HeaderMap) -> Response {
        if headers.contains_key(header::COOKIE) {
            (StatusCode::OK, "0").into_response()
        } else {
            StatusCode::UNAUTHORIZED.into_response()
        }
    }
    async fn logout() -> StatusCode {
        StatusCode::OK
    }
    Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/logout", post(logout))
}

async fn sqlite_app(db: &std::path::Path) -> anyhow::Result<Router> {
    use tower_sessions_sqlx_store::{
        sqlx::sqlite::{
            SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
        },
        SqliteStore,
    };
    let options = SqliteConnectOptions::new()
        .filename(db)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .connect_with(options)
        .await
        .with_context(|| format!("opening SQLite database {}", db.display()))?;
    let store = SqliteStore::new(pool);
    store
        .migrate()
        .await
        .context("migrating the session table")?;
    let layer = tower_sessions_014::SessionManagerLayer::new(store).with_secure(false);
    Ok(ts14::routes().layer(layer))
}

async fn redis_app(url: &str) -> anyhow::Result<Router> {
    use tower_sessions_redis_store::fred::prelude::*;
    use tower_sessions_redis_store::RedisStore;
    let config = Config::from_url(url).context("parsing the Redis URL")?;
    let pool = Pool::new(config, None, None, None, 1).context("creating the Redis pool")?;
    pool.init().await.context("connecting to Redis")?;
    let layer = tower_sessions_014::SessionManagerLayer::new(RedisStore::new(pool)).with_secure(false);
    Ok(ts14::routes().layer(layer))
}

async fn postgres_app(url: &str) -> anyhow::Result<Router> {
    use tower_sessions_sqlx_store::{sqlx::PgPool, PostgresStore};
    let pool = PgPool::connect(url).await.context("connecting to PostgreSQL")?;
    let store = PostgresStore::new(pool);
    store.migrate().await.context("migrating the session table")?;
    let layer = tower_sessions_014::SessionManagerLayer::new(store).with_secure(false);
    Ok(ts14::routes().layer(layer))
}

fn memory_app() -> Router {
    let store = tower_sessions::MemoryStore::default();
    let layer = tower_sessions::SessionManagerLayer::new(store).with_secure(false);
    ts15::routes().layer(layer)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let app = match args.mode {
        Mode::None => none_routes(),
        Mode::TsMemory => memory_app(),
        Mode::TsSqlite => {
            let Some(db) = args.db.as_deref() else {
                bail!("--mode ts-sqlite needs --db PATH");
            };
            sqlite_app(db).await?
        }
        Mode::TsRedis | Mode::TsPostgres => {
            let Some(url) = args.url.as_deref() else {
                bail!("--mode ts-redis and ts-postgres need --url URL");
            };
            if args.mode == Mode::TsRedis {
                redis_app(url).await?
            } else {
                postgres_app(url).await?
            }
        }
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    println!(
        "bench-peer ({:?}) listening on {}",
        args.mode,
        listener.local_addr()?
    );
    axum::serve(listener, app).await.context("serving")?;
    Ok(())
}
