//! Connecting the tests to the servers scripts/services.sh started, each store under a key
//! prefix of its own so that runs never see each other's data.
#![allow(dead_code, unreachable_pub)]

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

/// Every byte under `prefix`, key names included.
pub fn persisted_bytes(url: &str, prefix: &str) -> Vec<u8> {
    dump(url, prefix)
        .into_iter()
        .flat_map(|(k, v)| k.into_bytes().into_iter().chain(v))
        .collect()
}
