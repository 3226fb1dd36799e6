//! The server scripts/bench.sh drives: exactly `POST /login?user=N`, `GET /me`, `POST /logout`.

use std::net::SocketAddr;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tessera_core::Engine;
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

pub(crate) fn app(store: AnyStore) -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .layer(SessionLayer::new(Engine::new(store)))
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
}

/// Serves the three benchmark routes until Ctrl-C or SIGTERM.
pub(crate) fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    crate::init_logging("warn");
    let listen = args.listen;
    crate::block_on(async move {
        let store = crate::store_url::open(&args.store).await?;
        eprintln!(
            "tessera bench-server on http://{listen} (store: {})",
            store.describe()
        );
        crate::serve(listen, app(store)).await
    })??;
    Ok(std::process::ExitCode::SUCCESS)
}
