//! Instruction counts of the hot paths, under Valgrind's Callgrind (gungraun): the one speed
//! figure that does not drift on a noisy machine, so CI can gate on it.
//!
//! `scripts/instructions.sh` runs this and compares each count with `bench/instructions.json`
//! (committed): more than 10 % above the baseline fails. `scripts/instructions.sh --update`
//! rewrites the baseline after a deliberate change (say why in the commit).
//!
//! Each benchmark's setup (a runtime, an engine, stores with sessions in them) runs outside the
//! measurement; the measured function does [`ROUNDS`] calls, so per-call noise (a hash map
//! growing, a tokio timer wheel tick) averages out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // a harness: a panic is a failed run
#![allow(missing_docs)] // gungraun's macros generate undocumented modules

use std::hint::black_box;

use gungraun::{library_benchmark, library_benchmark_group, main};
use tessera_core::{Engine, LoginOptions, MemoryStore, Store, Token};
use tessera_sqlite::SqliteStore;

/// Calls per measurement.
const ROUNDS: usize = 100;
/// Sessions in the store before measuring, so lookups hit a populated index.
const SESSIONS: usize = 200;

/// What a resolve or login benchmark needs, built outside the measurement.
struct Fixture<S: Store> {
    rt: tokio::runtime::Runtime,
    engine: Engine<S>,
    tokens: Vec<Token>,
    _dir: Option<std::path::PathBuf>,
}

impl<S: Store> Drop for Fixture<S> {
    fn drop(&mut self) {
        if let Some(dir) = &self._dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn fixture<S: Store>(store: S, dir: Option<std::path::PathBuf>) -> Fixture<S> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let engine = Engine::new(store);
    let tokens = rt.block_on(async {
        let mut v = Vec::with_capacity(SESSIONS);
        for i in 0..SESSIONS {
            let ticket = engine.login_ticket(&format!("user{i}")).await.unwrap();
            let issued = engine
                .login(None, ticket, LoginOptions::default())
                .await
                .unwrap();
            v.push(issued.token);
        }
        // Warm what the first call would otherwise pay for (signing keys, statement caches).
        for t in v.iter().take(ROUNDS) {
            engine.resolve(t).await.unwrap();
        }
        v
    });
    Fixture {
        rt,
        engine,
        tokens,
        _dir: dir,
    }
}

fn memory() -> Fixture<MemoryStore> {
    fixture(MemoryStore::with_capacity(usize::MAX), None)
}

fn sqlite() -> Fixture<SqliteStore> {
    let dir = std::env::temp_dir().join(format!("tessera-instructions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::open(dir.join("bench.db")).unwrap();
    fixture(store, Some(dir))
}

fn resolve_rounds<S: Store>(f: Fixture<S>) -> Fixture<S> {
    f.rt.block_on(async {
        for t in f.tokens.iter().step_by(SESSIONS / ROUNDS).take(ROUNDS) {
            black_box(f.engine.resolve(black_box(t)).await.unwrap());
        }
    });
    f
}

fn login_rounds<S: Store>(f: Fixture<S>) -> Fixture<S> {
    f.rt.block_on(async {
        for i in 0..ROUNDS {
            let ticket = f.engine.login_ticket(&format!("bench{i}")).await.unwrap();
            black_box(
                f.engine
                    .login(None, ticket, LoginOptions::default())
                    .await
                    .unwrap(),
            );
        }
    });
    f
}

#[library_benchmark]
#[bench::memory(setup = memory)]
fn resolve_memory(f: Fixture<MemoryStore>) -> Fixture<MemoryStore> {
    resolve_rounds(f)
}

#[library_benchmark]
#[bench::sqlite(setup = sqlite)]
fn resolve_sqlite(f: Fixture<SqliteStore>) -> Fixture<SqliteStore> {
    resolve_rounds(f)
}

#[library_benchmark]
#[bench::memory(setup = memory)]
fn login_memory(f: Fixture<MemoryStore>) -> Fixture<MemoryStore> {
    login_rounds(f)
}

fn tokens() -> Vec<String> {
    (0..ROUNDS)
        .map(|_| Token::generate().unwrap().expose())
        .collect()
}

// Parsing a presented token and deriving what the store is asked for (its id) and checked
// against (its verifier hash): the work done before and around every store read.
#[library_benchmark]
#[bench::random(setup = tokens)]
fn token_parse_and_hash(texts: Vec<String>) -> Vec<String> {
    for t in &texts {
        let token = Token::parse(black_box(t)).unwrap();
        black_box((token.session_id(), token.verifier_hash()));
    }
    texts
}

fn cookie_headers() -> Vec<http::HeaderMap> {
    (0..ROUNDS)
        .map(|i| {
            let mut h = http::HeaderMap::new();
            let value = format!(
                "_ga=GA1.2.{i}; theme=dark; __Host-session={}; csrftoken=abcdef{i}",
                Token::generate().unwrap().expose()
            );
            h.insert(http::header::COOKIE, value.parse().unwrap());
            h
        })
        .collect()
}

// The layer's strict cookie reader on a typical `Cookie` header.
#[library_benchmark]
#[bench::typical(setup = cookie_headers)]
fn cookie_read(headers: Vec<http::HeaderMap>) -> Vec<http::HeaderMap> {
    for h in &headers {
        black_box(tessera_tower::transport::read(
            black_box(h),
            "__Host-session",
        ));
    }
    headers
}

/// Records as the layer leaves them after a login and one rotation: a subject, a CSRF token in
/// the data, the client info and the previous verifier.
fn records() -> Vec<(tessera_core::SessionId, Vec<u8>)> {
    let now = tessera_core::Timestamp::from_millis(1_800_000_000_000);
    (0..ROUNDS)
        .map(|i| {
            let token = Token::generate().unwrap();
            let mut r = tessera_core::Record::new(&token, Some(&format!("user{i}")), now, now, now);
            r.previous = Some(Box::new(tessera_core::record::PreviousVerifier {
                verifier: Token::generate().unwrap().verifier_hash(),
                grace_until: now,
                elevation: None,
                auth_time: Some(now),
            }));
            r.data.insert(
                "_csrf".into(),
                serde_json::Value::String(Token::generate().unwrap().expose()),
            );
            r.client = tessera_core::ClientInfo::new(
                Some("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"),
                Some("203.0.113.9".parse().unwrap()),
            );
            (r.id, tessera_core::encoding::encode(&r).unwrap())
        })
        .collect()
}

// What a Redis or PostgreSQL resolve does to the bytes it reads: decode the stored record.
#[library_benchmark]
#[bench::typical(setup = records)]
fn record_decode(
    records: Vec<(tessera_core::SessionId, Vec<u8>)>,
) -> Vec<(tessera_core::SessionId, Vec<u8>)> {
    for (id, bytes) in &records {
        black_box(tessera_core::encoding::decode(id, black_box(bytes)).unwrap());
    }
    records
}

/// Device-bound sessions (P-256 keys, as browsers make them), each with a refresh proof over a
/// fresh challenge: everything a refresh needs but the refresh.
struct Refreshes {
    fixture: Fixture<MemoryStore>,
    pending: Vec<(String, String)>,
}

fn refreshes() -> Refreshes {
    let fixture = memory();
    let pending = fixture.rt.block_on(async {
        let mut v = Vec::with_capacity(ROUNDS);
        for i in 0..ROUNDS {
            let device = tessera_core::conformance::DeviceClient::es256().unwrap();
            let bound =
                tessera_core::conformance::bind(&fixture.engine, &format!("dev{i}"), &device).await;
            let identifier = bound.token.selector_text();
            let challenge = fixture
                .engine
                .device_refresh_challenge(&identifier)
                .await
                .unwrap();
            v.push((identifier, device.refresh_proof(&challenge)));
        }
        v
    });
    Refreshes { fixture, pending }
}

// A device-bound refresh (W3C DBSC): the proof's ES256 signature checked with the stored key,
// the sealed challenge opened, and the rotation written.
#[library_benchmark]
#[bench::es256(setup = refreshes)]
fn device_refresh(r: Refreshes) -> Refreshes {
    r.fixture.rt.block_on(async {
        for (identifier, proof) in &r.pending {
            black_box(
                r.fixture
                    .engine
                    .refresh_device(black_box(identifier), black_box(proof))
                    .await
                    .unwrap(),
            );
        }
    });
    r
}

library_benchmark_group!(
    name = hot_paths;
    benchmarks = resolve_memory, resolve_sqlite, login_memory, token_parse_and_hash, cookie_read,
        record_decode, device_refresh
);

main!(library_benchmark_groups = hot_paths);
