//! One multiplexed connection to a Redis server or Cluster, with reconnection, a bound on every
//! call, and one log line per outage.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{
    MultipleNodeRoutingInfo, Route, RoutingInfo, SingleNodeRoutingInfo, Slot, SlotAddr,
};
use redis::{Cmd, FromRedisValue, Pipeline, RedisFuture, ScriptInvocation, Value};
use tessera_core::{OutageLog, StoreError};

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
    /// The server may evict keys under memory pressure.
    #[error(
        "Redis may evict keys when memory runs out (maxmemory-policy is {0}): an evicted subject \
         index or epoch undoes a revoke-all. Set maxmemory-policy noeviction, or accept that risk \
         explicitly with ?eviction=accept-lost-revocations"
    )]
    Evicts(String),
}

/// Every text in a reply (a Cluster answers a multi-node command with one reply per node).
fn texts(value: Value, out: &mut Vec<String>) {
    match value {
        Value::BulkString(bytes) => out.push(String::from_utf8_lossy(&bytes).into_owned()),
        Value::SimpleString(text) => out.push(text),
        Value::VerbatimString { text, .. } => out.push(text),
        Value::Array(items) | Value::Set(items) => items.into_iter().for_each(|v| texts(v, out)),
        Value::Map(pairs) => pairs.into_iter().for_each(|(_, v)| texts(v, out)),
        _ => {}
    }
}

/// Refuses a server (every master of a Cluster) whose `maxmemory-policy` may evict keys.
async fn check_no_eviction(link: &mut Link) -> Result<(), ConnectError> {
    let mut info = redis::cmd("INFO");
    info.arg("memory");
    let reply = match link {
        Link::Single(c) => info.query_async::<Value>(c).await?,
        Link::Cluster(c) => {
            c.route_command(
                info,
                RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None)),
            )
            .await?
        }
    };
    let mut replies = Vec::new();
    texts(reply, &mut replies);
    for reply in &replies {
        let policy = reply
            .lines()
            .find_map(|l| l.strip_prefix("maxmemory_policy:"))
            .map_or("not reported", str::trim);
        if policy != "noeviction" {
            return Err(ConnectError::Evicts(policy.to_owned()));
        }
    }
    if replies.is_empty() {
        return Err(ConnectError::Evicts("not reported".into()));
    }
    Ok(())
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
    if !address.allow_eviction {
        tokio::time::timeout(timeout, check_no_eviction(&mut link))
            .await
            .map_err(|_| ConnectError::Timeout(timeout))??;
    }
    Ok(link)
}

/// A link with its timeout and health: every call goes through [`Calls::run`].
#[derive(Clone)]
pub(crate) struct Calls {
    pub(crate) link: Link,
    pub(crate) timeout: Duration,
    pub(crate) health: Arc<OutageLog>,
    pub(crate) wait_replicas: u8,
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
        self.query_on(&mut self.link.clone(), what, cmd).await
    }

    /// Runs one command on another connection of this store (the cache's tracking one), with
    /// the same bound and the same health.
    pub(crate) async fn query_on<T: FromRedisValue>(
        &self,
        link: &mut (impl ConnectionLike + Send),
        what: &'static str,
        cmd: &Cmd,
    ) -> Result<T, StoreError> {
        self.settle(
            what,
            tokio::time::timeout(self.timeout, cmd.query_async(link)).await,
        )
    }

    /// With `wait_replicas`, waits (`WAIT`) until that many replicas of `key`'s master hold
    /// every write sent to it so far, so that a failover cannot undo an acknowledged
    /// revocation; fewer within the timeout is an error.
    pub(crate) async fn replicated(&self, key: &str) -> Result<(), StoreError> {
        if self.wait_replicas == 0 {
            return Ok(());
        }
        let millis = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX) / 2;
        let mut wait = redis::cmd("WAIT");
        wait.arg(self.wait_replicas).arg(millis.max(1));
        let reached: i64 = match &self.link {
            Link::Single(_) => self.query("wait", &wait).await?,
            Link::Cluster(c) => {
                let route = Route::with_slot(Slot::for_key(key), SlotAddr::Master);
                let routed = c
                    .clone()
                    .route_command(
                        wait,
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                    )
                    .await
                    .and_then(|v| redis::from_redis_value(v).map_err(redis::RedisError::from));
                self.settle(
                    "wait",
                    tokio::time::timeout(self.timeout, async { routed }).await,
                )?
            }
        };
        if reached < i64::from(self.wait_replicas) {
            return Err(StoreError::Unavailable {
                message: format!(
                    "a revocation reached {reached} of the {} replicas required (wait_replicas)",
                    self.wait_replicas
                ),
                source: None,
            });
        }
        Ok(())
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
                self.health.failed(what, &e);
                Err(StoreError::unavailable(format!("redis {what} failed"), e))
            }
            Err(elapsed) => {
                self.health.failed(what, &"timed out");
                Err(StoreError::unavailable(
                    format!("redis {what} took longer than {:?}", self.timeout),
                    elapsed,
                ))
            }
        }
    }
}
