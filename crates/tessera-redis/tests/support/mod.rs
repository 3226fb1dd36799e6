//! Connecting the tests to the servers scripts/services.sh started, each store under a key
//! prefix of its own so that runs never see each other's data.
#![allow(dead_code, unreachable_pub)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tessera_redis::{Address, RedisStore};

/// The standalone server: `TESSERA_TEST_REDIS_URL`, else the usual local one.
pub fn standalone_url() -> String {
    std::env::var("TESSERA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// The Cluster. There is no default: scripts/test.sh always starts one.
pub fn cluster_url() -> String {
    std::env::var("TESSERA_TEST_REDIS_CLUSTER_URL").expect(
        "TESSERA_TEST_REDIS_CLUSTER_URL is not set: run scripts/test.sh, which starts a Redis \
         Cluster (or `source scripts/services.sh; start_services`)",
    )
}

/// A prefix no other store of any run has.
pub fn unique_prefix() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("tessera-test-{hex}")
}

pub async fn store_at(url: &str) -> RedisStore {
    let address = Address::parse(url)
        .unwrap()
        .with_prefix(&unique_prefix())
        .unwrap();
    RedisStore::connect_to(address).await.unwrap()
}

/// `host:port` of every node a URL names.
pub fn nodes(url: &str) -> Vec<String> {
    let rest = url.split_once("://").unwrap().1;
    let hosts = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let hosts = hosts.split(['/', '?']).next().unwrap();
    hosts.split(',').map(str::to_owned).collect()
}

/// Every key with `prefix` on the nodes of `url`, with its value, as bytes (SCAN and TYPE: for
/// tests only, never on a request path).
pub fn dump(url: &str, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for node in nodes(url) {
        let client = redis::Client::open(format!("redis://{node}")).unwrap();
        let mut c = client.get_connection().unwrap();
        if url.contains("+cluster://") {
            // Replicas answer reads too; they hold the same keys as their masters.
            let _: () = redis::cmd("READONLY").query(&mut c).unwrap();
        }
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{prefix}:*"))
                .arg("COUNT")
                .arg(1000)
                .query(&mut c)
                .unwrap();
            for key in keys {
                let kind: String = redis::cmd("TYPE").arg(&key).query(&mut c).unwrap();
                let parts: Vec<Vec<u8>> = match kind.as_str() {
                    "hash" => redis::cmd("HGETALL").arg(&key).query(&mut c).unwrap(),
                    "zset" => redis::cmd("ZRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES")
                        .query(&mut c)
                        .unwrap(),
                    "list" => redis::cmd("LRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .query(&mut c)
                        .unwrap(),
                    "string" => vec![redis::cmd("GET").arg(&key).query(&mut c).unwrap()],
                    _ => continue, // expired or deleted meanwhile
                };
                out.push((key, parts.concat()));
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    out
}

/// The live keys matching `pattern` on the nodes of `url` (SCAN, then EXISTS in one pipeline so
/// that keys past their expiry but not yet reclaimed do not count).
pub fn keys(url: &str, pattern: &str) -> Vec<String> {
    let mut found = Vec::new();
    for node in nodes(url) {
        let mut c = redis::Client::open(format!("redis://{node}"))
            .unwrap()
            .get_connection()
            .unwrap();
        let mut cursor = 0u64;
        let mut scanned = Vec::new();
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000)
                .query(&mut c)
                .unwrap();
            scanned.extend(keys);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        let mut pipe = redis::pipe();
        for key in &scanned {
            pipe.cmd("EXISTS").arg(key);
        }
        let exists: Vec<bool> = if scanned.is_empty() {
            Vec::new()
        } else {
            pipe.query(&mut c).unwrap()
        };
        found.extend(
            scanned
                .into_iter()
                .zip(exists)
                .filter_map(|(k, e)| e.then_some(k)),
        );
    }
    found.sort();
    found.dedup();
    found
}

/// Every byte under `prefix`, key names included.
pub fn persisted_bytes(url: &str, prefix: &str) -> Vec<u8> {
    dump(url, prefix)
        .into_iter()
        .flat_map(|(k, v)| k.into_bytes().into_iter().chain(v))
        .collect()
}

/// How many `HGET`s a server has answered since it started or its last `CONFIG RESETSTAT`.
pub fn hget_calls(c: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_hget:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

/// Resolves `token` until a resolve reaches Redis with no `HGET`: the local copy answered.
/// Panics if that does not happen within five seconds.
pub async fn until_served_locally<S: tessera_core::Store>(
    engine: &tessera_core::Engine<S>,
    token: &tessera_core::Token,
    server: &mut redis::Connection,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let before = hget_calls(server);
        assert!(engine.resolve(token).await.unwrap().is_some());
        if hget_calls(server) == before {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the local copy never answered a resolve"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A redis-server this test owns: started on a free loopback port, killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    dir: std::path::PathBuf,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    pub fn start(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    /// Starts a server with extra `redis-server` arguments.
    pub fn start_with(port: u16, extra: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("tessera-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
            ])
            .args(["--appendonly", "no", "--dir"])
            .arg(&dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is missing: run scripts/test.sh, which installs it");
        let server = Self { child, port, dir };
        for _ in 0..200 {
            if let Ok(c) = redis::Client::open(server.url()) {
                if let Ok(mut c) = c.get_connection() {
                    if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                        return server;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("redis-server on port {port} did not start");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn sync(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free port below 55536 whose +10000 (a Cluster node's bus port) is free too.
pub fn free_cluster_port() -> u16 {
    loop {
        let port = free_port();
        if port < 55_536 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
        let probe = 20_000 + (port % 10_000);
        if std::net::TcpListener::bind(("127.0.0.1", probe)).is_ok()
            && std::net::TcpListener::bind(("127.0.0.1", probe + 10_000)).is_ok()
        {
            return probe;
        }
    }
}

/// A Redis Cluster this test owns: 3 masters and 3 replicas, stopped on drop.
pub struct Cluster {
    pub nodes: Vec<Server>,
}

impl Cluster {
    pub fn start() -> Self {
        let nodes: Vec<Server> = (0..6)
            .map(|_| {
                let port = free_cluster_port();
                Server::start_with(
                    port,
                    &[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-node-timeout",
                        "1000",
                        "--cluster-config-file",
                        &format!("nodes-{port}.conf"),
                    ],
                )
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let status = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli is missing: run scripts/test.sh, which installs it");
        assert!(status.success(), "redis-cli --cluster create failed");
        let cluster = Self { nodes };
        cluster.wait_ok(None);
        // Every master has its replica attached and in sync before the test starts.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while cluster
            .nodes
            .iter()
            .map(|n| {
                let mut c = n.sync();
                redis::cmd("INFO")
                    .arg("replication")
                    .query::<String>(&mut c)
                    .unwrap()
            })
            .filter(|info| info.contains("role:master"))
            .any(|info| !info.contains("state=online"))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "replicas never synced"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        cluster
    }

    /// `redis+cluster://` URL naming every node.
    pub fn url(&self) -> String {
        let list: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", list.join(","))
    }

    /// Waits until every node but `except` reports `cluster_state:ok`.
    pub fn wait_ok(&self, except: Option<u16>) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let ok = self
                .nodes
                .iter()
                .filter(|n| Some(n.port) != except)
                .all(|n| {
                    redis::Client::open(n.url())
                        .and_then(|c| c.get_connection())
                        .and_then(|mut c| redis::cmd("CLUSTER").arg("INFO").query::<String>(&mut c))
                        .is_ok_and(|info| info.contains("cluster_state:ok"))
                });
            if ok {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the cluster never became ok"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The port of the master serving `key` now.
    pub fn master_of(&self, key: &str) -> u16 {
        let mut c = self
            .nodes
            .iter()
            .find_map(|n| {
                redis::Client::open(n.url())
                    .and_then(|c| c.get_connection())
                    .ok()
            })
            .expect("a node that answers");
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut c)
            .unwrap();
        let slots: Vec<redis::Value> = redis::cmd("CLUSTER").arg("SLOTS").query(&mut c).unwrap();
        for range in slots {
            let parts: Vec<redis::Value> = redis::from_redis_value(range).unwrap();
            let start: u16 = redis::from_redis_value(parts[0].clone()).unwrap();
            let end: u16 = redis::from_redis_value(parts[1].clone()).unwrap();
            if (start..=end).contains(&slot) {
                let master: Vec<redis::Value> = redis::from_redis_value(parts[2].clone()).unwrap();
                return redis::from_redis_value(master[1].clone()).unwrap();
            }
        }
        panic!("no master serves slot {slot}");
    }
}
