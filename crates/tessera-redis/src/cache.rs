//! The opt-in local copy of session records (`?accept_revocation_lag_ms=N`): Redis tells
//! this process when a key it read changes (RESP3 `CLIENT TRACKING`), and the copy is trusted
//! only under a lease, so a revocation made on another server is seen here within N
//! milliseconds even when invalidation messages stop arriving.
//!
//! # Why the bound holds
//!
//! Reads that may fill the copy go over one tracking connection. Redis queues an invalidation
//! for a key on that connection when the key is written, before it answers the writer, and
//! the connection's reader applies each invalidation (synchronously, in arrival order) before
//! it hands on any later reply. So when a `PING` sent at time `s` is answered, every write
//! acknowledged before `s` has been applied here. The copy answers only while the last answered
//! `PING` was sent less than N ms ago; a `PING` goes out every N/4 ms. A revocation
//! acknowledged at `t` is therefore seen by any read after `t + N`: by then a `PING` sent after
//! `t` has been answered, or the copy is not trusted and the read goes to Redis.
//!
//! A read in flight when its key is invalidated must not put the old value back: each shard
//! has a generation that every invalidation of one of its keys advances, and a value read
//! under one generation is kept only if the shard is still at it. A lost connection drops the
//! whole copy and the lease; nothing is trusted again until a new connection has tracking on
//! and has answered a `PING`.

use std::collections::hash_map::{HashMap, RandomState};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, PushInfo, PushKind, Value};
use tessera_core::Record;

/// Shards of the copy: locks taken per lookup are spread over these.
const SHARDS: usize = 16;

/// Entries kept at most (per process): a shard that reaches its share is emptied.
pub(crate) const CAPACITY: usize = 262_144;

/// The answer of [`Cache::lookup`].
pub(crate) enum Lookup {
    /// The copy holds the key, and the lease is current.
    Hit(Record),
    /// Read the key over this connection, then hand the value to [`Cache::fill`].
    Miss(MultiplexedConnection, Fill),
    /// Not trusted now (no tracking connection, or the lease lapsed): read as if uncached.
    Bypass,
}

/// A read that may fill the copy: the generation of its key's shard when it started.
pub(crate) struct Fill {
    shard: usize,
    generation: u64,
}

#[derive(Default)]
struct Shard {
    generation: u64,
    /// Session records by their key (`P:s:{ID}`).
    entries: HashMap<Box<[u8]>, Record>,
}

/// The tracking connection and what its last answered `PING` says.
#[derive(Default)]
struct Tracking {
    link: Option<MultiplexedConnection>,
    /// Which connection `link` is: a late message from an older one changes nothing.
    serial: u64,
    /// When the last `PING` answered on `link` was sent.
    fresh_since: Option<Instant>,
}

/// The local copy; shared by every clone of the store.
pub(crate) struct Cache {
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
    lease: Duration,
    tracking: RwLock<Tracking>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a shard leaves at worst a missing entry: keep going.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Cache {
    /// Starts the copy and the task that keeps its tracking connection and lease; the task
    /// ends when the last store clone is dropped.
    pub(crate) fn start(node: &str, lease: Duration, timeout: Duration) -> Arc<Self> {
        let cache = Arc::new(Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            lease,
            tracking: RwLock::default(),
        });
        let url = resp3_url(node);
        tokio::spawn(keep(Arc::downgrade(&cache), url, timeout));
        cache
    }

    fn shard_of(&self, key: &[u8]) -> usize {
        // SHARDS is a power of two; the low bits of a keyed hash pick the shard.
        (self.hasher.hash_one(key) as usize) & (SHARDS - 1)
    }

    /// Shard `index` (from `shard_of`, so always there).
    fn shard(&self, index: usize) -> Option<MutexGuard<'_, Shard>> {
        self.shards.get(index).map(lock)
    }

    /// What the copy says about `key` right now.
    pub(crate) fn lookup(&self, key: &[u8]) -> Lookup {
        let link = {
            let tracking = self.tracking.read().unwrap_or_else(PoisonError::into_inner);
            let trusted = tracking
                .fresh_since
                .is_some_and(|since| since.elapsed() < self.lease);
            match &tracking.link {
                Some(link) if trusted => link.clone(),
                _ => return Lookup::Bypass,
            }
        };
        let index = self.shard_of(key);
        let Some(shard) = self.shard(index) else {
            return Lookup::Bypass;
        };
        match shard.entries.get(key) {
            Some(record) => Lookup::Hit(record.clone()),
            None => Lookup::Miss(
                link,
                Fill {
                    shard: index,
                    generation: shard.generation,
                },
            ),
        }
    }

    /// Keeps a value read for a [`Lookup::Miss`], unless its key was invalidated meanwhile.
    pub(crate) fn fill(&self, fill: Fill, key: &[u8], entry: Record) {
        let Some(mut shard) = self.shard(fill.shard) else {
            return;
        };
        if shard.generation != fill.generation {
            return;
        }
        if shard.entries.len() >= CAPACITY / SHARDS {
            // A full shard starts over: one clear per 16,384 fills. Forgetting one entry at a
            // time was slower: `keys().next()` scans from the table's start past every slot
            // emptied before (at 1M sessions the copy made resolves slower than no copy).
            shard.entries.clear();
        }
        shard.entries.insert(key.into(), entry);
    }

    /// Drops `key` (this process wrote it, or Redis says it changed).
    pub(crate) fn forget(&self, key: &[u8]) {
        match self.shard(self.shard_of(key)) {
            Some(mut shard) => {
                shard.generation += 1;
                shard.entries.remove(key);
            }
            None => self.forget_all(),
        }
    }

    fn forget_all(&self) {
        for shard in &self.shards {
            let mut shard = lock(shard);
            shard.generation += 1;
            shard.entries = HashMap::new();
        }
    }

    /// Applies one message from the tracking connection number `serial`.
    fn pushed(&self, serial: u64, push: &PushInfo) {
        match push.kind {
            PushKind::Invalidate => match push.data.first() {
                Some(Value::Array(keys)) => {
                    for key in keys {
                        if let Value::BulkString(key) = key {
                            self.forget(key);
                        }
                    }
                }
                // Redis sends no key list after FLUSHALL/FLUSHDB: everything is stale.
                _ => self.forget_all(),
            },
            PushKind::Disconnection => self.drop_link(serial),
            _ => {}
        }
    }

    /// Records that a `PING` sent at `sent` on connection `serial` was answered.
    fn answered(&self, serial: u64, sent: Instant) {
        let mut tracking = self
            .tracking
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if tracking.serial == serial && tracking.link.is_some() {
            tracking.fresh_since = Some(tracking.fresh_since.map_or(sent, |s| s.max(sent)));
        }
    }

    /// Gives up on connection `serial` (it closed, or did not answer): trust nothing until a new
    /// one does.
    fn drop_link(&self, serial: u64) {
        {
            let mut tracking = self
                .tracking
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if tracking.serial != serial {
                return;
            }
            tracking.link = None;
            tracking.fresh_since = None;
        }
        self.forget_all();
    }
}

/// The node URL with RESP3, which carries invalidation messages on the same connection.
fn resp3_url(node: &str) -> String {
    let separator = if node.contains('?') { '&' } else { '?' };
    format!("{node}{separator}protocol=resp3")
}

/// Opens a tracking connection whose messages go to `cache` under `serial`.
async fn open(
    url: &str,
    cache: Weak<Cache>,
    serial: u64,
    timeout: Duration,
) -> redis::RedisResult<MultiplexedConnection> {
    let client = redis::Client::open(url)?;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        // Called by the connection's reader, in order with the replies: see the module docs.
        .set_push_sender(move |push: PushInfo| {
            if let Some(cache) = cache.upgrade() {
                cache.pushed(serial, &push);
            }
            Ok::<(), std::convert::Infallible>(())
        });
    let mut link = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    redis::cmd("CLIENT")
        .arg("TRACKING")
        .arg("ON")
        .query_async::<()>(&mut link)
        .await?;
    Ok(link)
}

/// Keeps the tracking connection open and its lease current while the cache lives.
async fn keep(cache: Weak<Cache>, url: String, timeout: Duration) {
    let mut serial = 0u64;
    let mut backoff = Duration::from_millis(50);
    // One log line per stretch without a copy, not one per attempt.
    let mut warned = false;
    loop {
        let Some(strong) = cache.upgrade() else {
            return;
        };
        let pause = strong.lease / 4;
        let current = {
            let tracking = strong
                .tracking
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            tracking.link.clone().map(|link| (link, tracking.serial))
        };
        let wait = match current {
            Some((mut link, serial)) => {
                let sent = Instant::now();
                let ping = redis::cmd("PING");
                match tokio::time::timeout(timeout, ping.query_async::<Value>(&mut link)).await {
                    Ok(Ok(_)) => strong.answered(serial, sent),
                    _ => strong.drop_link(serial),
                }
                pause
            }
            None => {
                serial += 1;
                let opened = tokio::time::timeout(
                    timeout,
                    open(&url, Arc::downgrade(&strong), serial, timeout),
                )
                .await;
                if let Ok(Ok(link)) = opened {
                    if warned {
                        tracing::info!("Redis local copy: tracking connection open again");
                        warned = false;
                    }
                    {
                        let mut tracking = strong
                            .tracking
                            .write()
                            .unwrap_or_else(PoisonError::into_inner);
                        tracking.link = Some(link);
                        tracking.serial = serial;
                        tracking.fresh_since = None;
                    }
                    // Values read before this connection are not tracked by it.
                    strong.forget_all();
                    backoff = Duration::from_millis(50);
                    Duration::ZERO
                } else {
                    if !warned {
                        let why = match opened {
                            Ok(Err(e)) => e.to_string(),
                            _ => format!("no answer within {timeout:?}"),
                        };
                        tracing::warn!(
                            "Redis local copy: cannot open the tracking connection ({why}); every read goes to Redis until it opens"
                        );
                        warned = true;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    backoff
                }
            }
        };
        drop(strong);
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy with a lease that does not lapse during a test, and no connection.
    fn cache() -> Cache {
        Cache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            lease: Duration::from_secs(60),
            tracking: RwLock::default(),
        }
    }

    fn record() -> Record {
        tessera_core::conformance::sample_record(
            Some("alice"),
            tessera_core::Timestamp::from_millis(1),
        )
        .1
    }

    /// A fill as `lookup` would hand out for `key` now.
    fn fill_for(cache: &Cache, key: &[u8]) -> Fill {
        let shard = cache.shard_of(key);
        let generation = cache.shard(shard).unwrap().generation;
        Fill { shard, generation }
    }

    fn holds(cache: &Cache, key: &[u8]) -> bool {
        let shard = cache.shard(cache.shard_of(key)).unwrap();
        shard.entries.contains_key(key)
    }

    fn invalidate(keys: &[&[u8]]) -> PushInfo {
        PushInfo {
            kind: PushKind::Invalidate,
            data: vec![Value::Array(
                keys.iter().map(|k| Value::BulkString(k.to_vec())).collect(),
            )],
        }
    }

    #[test]
    fn the_protocol_is_added_to_the_url() {
        assert_eq!(resp3_url("redis://h:1"), "redis://h:1?protocol=resp3");
        assert_eq!(resp3_url("redis://h:1/2"), "redis://h:1/2?protocol=resp3");
    }

    #[test]
    fn without_a_tracking_connection_nothing_is_trusted() {
        let cache = cache();
        cache.fill(fill_for(&cache, b"k"), b"k", record());
        assert!(holds(&cache, b"k"));
        assert!(matches!(cache.lookup(b"k"), Lookup::Bypass));
    }

    #[test]
    fn a_value_read_before_an_invalidation_is_not_kept() {
        let cache = cache();
        let before = fill_for(&cache, b"k");
        // The invalidation is applied while the read is in flight, for a key not yet held.
        cache.pushed(0, &invalidate(&[b"k"]));
        cache.fill(before, b"k", record());
        assert!(!holds(&cache, b"k"), "the old value came back");
        cache.fill(fill_for(&cache, b"k"), b"k", record());
        assert!(holds(&cache, b"k"), "a read after the invalidation is kept");
    }

    #[test]
    fn an_invalidation_message_drops_its_keys_and_a_flush_drops_all() {
        let cache = cache();
        for key in [&b"a"[..], b"b", b"c"] {
            cache.fill(fill_for(&cache, key), key, record());
        }
        cache.pushed(0, &invalidate(&[b"a", b"b"]));
        assert!(!holds(&cache, b"a") && !holds(&cache, b"b"));
        assert!(holds(&cache, b"c"));
        cache.pushed(
            0,
            &PushInfo {
                kind: PushKind::Invalidate,
                data: vec![Value::Nil],
            },
        );
        assert!(!holds(&cache, b"c"));
    }

    #[test]
    fn a_lost_connection_drops_everything_but_an_older_one_changes_nothing() {
        let cache = cache();
        cache.tracking.write().unwrap().serial = 2;
        cache.fill(fill_for(&cache, b"k"), b"k", record());
        let lost = PushInfo {
            kind: PushKind::Disconnection,
            data: Vec::new(),
        };
        cache.pushed(1, &lost);
        assert!(
            holds(&cache, b"k"),
            "a message from connection 1 about itself"
        );
        cache.pushed(2, &lost);
        assert!(!holds(&cache, b"k"));
    }

    #[test]
    fn a_full_copy_makes_room() {
        let cache = cache();
        for n in 0..CAPACITY + 100 {
            let key = n.to_le_bytes();
            cache.fill(fill_for(&cache, &key), &key, record());
        }
        let held: usize = cache
            .shards
            .iter()
            .map(|s| s.lock().unwrap().entries.len())
            .sum();
        assert!(held <= CAPACITY, "{held} entries");
    }
}
