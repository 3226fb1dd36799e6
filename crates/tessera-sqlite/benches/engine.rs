//! Engine operations per store: `cargo bench -p tessera-sqlite --bench engine`.
//!
//! Each iteration is one engine call (a login is its ticket and the login) on a current-thread runtime, against a store that already
//! holds 10,000 sessions (so lookups hit a realistic index, not an empty table).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // a harness: a panic is a failed run

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use tessera_core::{Engine, LoginOptions, MemoryStore, Store, Token};
use tessera_sqlite::SqliteStore;

const SESSIONS: usize = 10_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn bench_store<S: Store>(c: &mut Criterion, name: &str, store: S) {
    let rt = runtime();
    let engine = Engine::new(store); // no tracing subscriber: audit events cost nothing here
    let tokens: Vec<Token> = rt.block_on(async {
        let mut v = Vec::with_capacity(SESSIONS);
        for i in 0..SESSIONS {
            let ticket = engine.login_ticket(&i.to_string()).await.unwrap();
            v.push(
                engine
                    .login(None, ticket, LoginOptions::default())
                    .await
                    .unwrap()
                    .token,
            );
        }
        v
    });
    let mut i = 0usize;
    c.bench_function(&format!("{name}/resolve"), |b| {
        b.iter(|| {
            i = (i + 7919) % SESSIONS;
            let s = rt.block_on(engine.resolve(&tokens[i])).unwrap();
            black_box(s);
        })
    });
    let mut n = 0u64;
    c.bench_function(&format!("{name}/login"), |b| {
        b.iter(|| {
            n += 1;
            let issued = rt
                .block_on(async {
                    let ticket = engine.login_ticket(&n.to_string()).await?;
                    engine.login(None, ticket, LoginOptions::default()).await
                })
                .unwrap();
            black_box(issued);
        })
    });
    let resolve_miss = || {
        rt.block_on(engine.resolve(&Token::generate().unwrap()))
            .unwrap()
    };
    c.bench_function(&format!("{name}/resolve_unknown"), |b| {
        b.iter(|| black_box(resolve_miss()))
    });
}

fn memory(c: &mut Criterion) {
    // Login adds a session per iteration: room for the millions criterion runs.
    bench_store(c, "memory", MemoryStore::with_capacity(usize::MAX));
}

fn sqlite(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("tessera-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    bench_store(
        c,
        "sqlite",
        SqliteStore::open(dir.join("bench.db")).unwrap(),
    );
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, memory, sqlite);
criterion_main!(benches);
