//! One multiplexed connection to a Redis server or Cluster, with reconnection, a bound on every
//! call, and one log line per outage.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Pipeline, RedisFuture, ScriptInvocation, Value};
use tessera_core::StoreError;

use crate::address::Address;

/// A standalone server (through redis-rs' `ConnectionManager`, which reconnects with backoff)
/// or a Cluster (which follows slot moves and failovers). Both multiplex every request over one
/// connection per node; cloning is cheap.
#[derive(Clone)]
pub(crate) enum Link {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Link {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// Why a connection could not be made at start.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The server did not answer within the timeout.
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    /// The server refused or the connection failed.
    #[error("cannot connect to Redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Installs ring as rustls' provider unless the program chose one already.
fn ensure_tls_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: a provider is in place either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Connects and checks the server answers, within the address's timeout.
pub(crate) async fn connect(address: &Address) -> Result<Link, ConnectError> {
    if address.tls {
        ensure_tls_provider();
    }
    let timeout = address.timeout;
    let link = async {
        if address.cluster {
            let client = ClusterClientBuilder::new(address.nodes.clone())
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .retries(2)
                .build()?;
            let config = ClusterConfig::new()
                .set_connection_timeout(timeout)
                .set_response_timeout(timeout);
            Ok::<_, redis::RedisError>(Link::Cluster(
                client.get_async_connection_with_config(config).await?,
            ))
        } else {
            let node = address
                .nodes
                .first()
                .map(String::as_str)
                .unwrap_or_default();
            let client = redis::Client::open(node)?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(2)
                .set_min_delay(Duration::from_millis(50))
                .set_max_delay(Duration::from_secs(2));
            Ok(Link::Single(
                client.get_connection_manager_with_config(config).await?,
            ))
        }
    };
    let mut link = tokio::time::timeout(timeout, link)
        .await
        .map_err(|_| ConnectError::Timeout(timeout))??;
    let ping = redis::cmd("PING");
    tokio::time::timeout(timeout, ping.query_async::<String>(&mut link))
        .await
        .map_err(|_| ConnectError::Timeout(timeout))??;
    Ok(link)
}

/// Whether the store is in an outage, so that it is logged once when it starts and once when
/// it ends, not once per request.
#[derive(Debug, Default)]
pub(crate) struct Health {
    down: AtomicBool,
}

impl Health {
    fn failed(&self, what: &str, error: &str) {
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::error!(
                operation = what,
                error,
                "session store (Redis) unavailable: requests are treated as signed out until it answers again"
            );
        }
    }

    fn answered(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::warn!("session store (Redis) answers again");
        }
    }
}

/// A link with its timeout and health: every call goes through [`Calls::run`].
#[derive(Clone)]
pub(crate) struct Calls {
    pub(crate) link: Link,
    pub(crate) timeout: Duration,
    pub(crate) health: Arc<Health>,
}

impl Calls {
    /// Runs one script invocation, bounded by the timeout; any failure is `Unavailable`.
    pub(crate) async fn run<T: FromRedisValue>(
        &self,
        what: &'static str,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let mut link = self.link.clone();
        self.settle(
            what,
            tokio::time::timeout(self.timeout, invocation.invoke_async(&mut link)).await,
        )
    }

    /// Runs one command, bounded by the timeout; any failure is `Unavailable`.
    pub(crate) async fn query<T: FromRedisValue>(
        &self,
        what: &'static str,
        cmd: &Cmd,
    ) -> Result<T, StoreError> {
        let mut link = self.link.clone();
        self.settle(
            what,
            tokio::time::timeout(self.timeout, cmd.query_async(&mut link)).await,
        )
    }

    fn settle<T>(
        &self,
        what: &'static str,
        outcome: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, StoreError> {
        match outcome {
            Ok(Ok(value)) => {
                self.health.answered();
                Ok(value)
            }
            Ok(Err(e)) => {
                self.health.failed(what, &e.to_string());
                Err(StoreError::unavailable(format!("redis {what} failed"), e))
            }
            Err(elapsed) => {
                self.health.failed(what, "timed out");
                Err(StoreError::unavailable(
                    format!("redis {what} took longer than {:?}", self.timeout),
                    elapsed,
                ))
            }
        }
    }
}
