//! A network partition, not a stopped server: Redis runs in a network namespace of its own
//! behind a veth link, and the link goes down under the store. Requests fail closed within the
//! configured timeout (none hangs, none is served), and the store heals by itself when the link
//! comes back. Needs root and iproute2 (`ip netns`), as CI has.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tessera_core::conformance::sign_in;
use tessera_core::Engine;
use tessera_redis::RedisStore;

mod support;

fn ip(args: &[&str]) {
    let status = Command::new("ip")
        .args(args)
        .status()
        .expect("iproute2 (ip) is missing");
    assert!(status.success(), "ip {}", args.join(" "));
}

/// A namespace with Redis inside, reachable over a veth link; torn down on drop.
struct FarRedis {
    ns: String,
    host_if: String,
    redis: Child,
    address: String,
}

impl FarRedis {
    fn start() -> Self {
        // One namespace, link and subnet per instance: the tests of this file run at once.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 10;
        let tag = (std::process::id() % 100_000) * 10 + n;
        let ns = format!("tessera-part-{tag}");
        let (host_if, far_if) = (format!("tsh{tag}"), format!("tsf{tag}"));
        let net = 16 + tag % 200; // 10.253.NET.0/30, one per instance
        let (near, far) = (format!("10.253.{net}.1"), format!("10.253.{net}.2"));
        let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        ip(&["netns", "add", &ns]);
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &far_if,
        ]);
        ip(&["link", "set", &far_if, "netns", &ns]);
        ip(&["addr", "add", &format!("{near}/30"), "dev", &host_if]);
        ip(&["link", "set", &host_if, "up"]);
        ip(&[
            "netns",
            "exec",
            &ns,
            "ip",
            "addr",
            "add",
            &format!("{far}/30"),
            "dev",
            &far_if,
        ]);
        ip(&["netns", "exec", &ns, "ip", "link", "set", &far_if, "up"]);
        ip(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"]);
        let dir = std::env::temp_dir().join(format!("tessera-part-{tag}"));
        std::fs::create_dir_all(&dir).unwrap();
        let redis = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns,
                "redis-server",
                "--bind",
                &far,
                "--port",
                "6379",
            ])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
                "--dir",
            ])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let address = format!("redis://{far}:6379");
        let far_redis = Self {
            ns,
            host_if,
            redis,
            address,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while redis::Client::open(far_redis.address.as_str())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "Redis in the namespace did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        far_redis
    }

    fn link(&self, up: bool) {
        ip(&["link", "set", &self.host_if, if up { "up" } else { "down" }]);
    }
}

impl Drop for FarRedis {
    fn drop(&mut self) {
        let _ = self.redis.kill();
        let _ = self.redis.wait();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .status();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

#[tokio::test]
async fn a_partition_fails_closed_within_the_timeout_and_heals() {
    let far = FarRedis::start();
    let timeout = Duration::from_millis(500);
    // A veth address is not loopback: the test accepts plaintext by name, as a user would.
    let store = RedisStore::connect(&format!(
        "{}?timeout_ms=500&plaintext=accept-session-data-in-the-clear",
        far.address
    ))
    .await
    .unwrap();
    let engine = Engine::new(store);
    let issued = sign_in(&engine, "grace").await;
    assert!(engine.resolve(&issued.token).await.unwrap().is_some());

    far.link(false);
    for _ in 0..10 {
        let started = Instant::now();
        let resolved = engine.resolve(&issued.token).await;
        let took = started.elapsed();
        assert!(
            !matches!(resolved, Ok(Some(_))),
            "served across a partition"
        );
        // One bounded call: the timeout, plus scheduling slack, never a TCP retransmit cycle.
        assert!(
            took < timeout * 4,
            "a request hung for {took:?} behind the partition"
        );
    }

    far.link(true);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(_)) = engine.resolve(&issued.token).await {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the store never healed after the partition"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A local copy cut off from Redis' invalidation messages stops answering within its lag: the
/// sessions it holds are revoked on the far side of the partition (by a FLUSHALL from inside
/// the namespace), and no resolve later than the lag after that may still be served.
#[tokio::test]
async fn a_partitioned_local_copy_stops_answering_within_its_lag() {
    let far = FarRedis::start();
    let lag = Duration::from_millis(200);
    let engine = Engine::new(
        RedisStore::connect(&format!(
            "{}?timeout_ms=300&plaintext=accept-session-data-in-the-clear&accept_revocation_lag_ms={}",
            far.address,
            lag.as_millis()
        ))
        .await
        .unwrap(),
    );
    let issued = sign_in(&engine, "heidi").await;
    let mut server = redis::Client::open(far.address.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    support::until_served_locally(&engine, &issued.token, &mut server).await;

    far.link(false);
    let host = far.address.trim_start_matches("redis://");
    let (host, port) = host.split_once(':').unwrap();
    let flushed = Command::new("ip")
        .args([
            "netns",
            "exec",
            &far.ns,
            "redis-cli",
            "-h",
            host,
            "-p",
            port,
        ])
        .arg("FLUSHALL")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&flushed.stdout).contains("OK"),
        "FLUSHALL inside the namespace: {flushed:?}"
    );
    let revoked = Instant::now();
    let mut late = 0;
    while revoked.elapsed() < lag * 5 {
        let asked = Instant::now();
        if let Ok(Some(_)) = engine.resolve(&issued.token).await {
            assert!(
                asked.duration_since(revoked) < lag,
                "served from the copy {:?} after the revocation",
                asked.duration_since(revoked)
            );
        } else if asked.duration_since(revoked) >= lag {
            late += 1;
        }
    }
    assert!(late > 0, "no resolve was tried after the lag");
}
