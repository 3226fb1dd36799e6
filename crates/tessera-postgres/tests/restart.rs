//! PostgreSQL restarted under load: while it is down every request fails closed (none served,
//! none told "signed out" for good), sessions survive the restart (they are on disk), and the
//! store heals by itself. The test owns its server (initdb on a free loopback port).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera_core::conformance::sign_in;
use tessera_core::{Engine, LogoutOutcome};
use tessera_postgres::PostgresStore;

/// A throwaway PostgreSQL; stopped and removed on drop.
struct OwnPostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
}

fn as_postgres(program: PathBuf) -> Command {
    // PostgreSQL refuses to run as root.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl OwnPostgres {
    fn start() -> Self {
        let bin = PathBuf::from(std::env::var("TESSERA_TEST_POSTGRES_BIN").expect(
            "TESSERA_TEST_POSTGRES_BIN is not set: run scripts/test.sh, which finds PostgreSQL",
        ));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("tessera-pg-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let _ = Command::new("chown").arg("postgres").arg(&dir).status();
        let data = dir.join("data");
        let status = as_postgres(bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "initdb failed");
        let pg = Self { bin, data, port };
        pg.ctl(&["start"]);
        pg
    }

    fn ctl(&self, action: &[&str]) {
        let status = as_postgres(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-t", "60", "-m", "fast", "-l"])
            .arg(self.data.with_file_name("log"))
            .args([
                "-o",
                &format!(
                    "-p {} -k {} -c listen_addresses=127.0.0.1",
                    self.port,
                    self.data.parent().unwrap().display()
                ),
            ])
            .args(action)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl {action:?} failed");
    }

    fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?timeout_ms=1000",
            self.port
        )
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = as_postgres(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(dir) = self.data.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_under_load_fails_closed_keeps_sessions_and_heals() {
    let pg = OwnPostgres::start();
    let engine = Arc::new(Engine::new(
        PostgresStore::connect(&pg.url()).await.unwrap(),
    ));
    let live = sign_in(&engine, "heidi").await;
    let ended = sign_in(&engine, "heidi").await;
    assert!(matches!(
        engine.logout_or_defer(&ended.token).await,
        LogoutOutcome::Ended
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (engine, stop) = (Arc::clone(&engine), Arc::clone(&stop));
        let (served, failed) = (Arc::clone(&served), Arc::clone(&failed));
        let (live, ended) = (live.token.clone(), ended.token.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                match engine.resolve(&live).await {
                    Ok(Some(_)) => served.fetch_add(1, Ordering::SeqCst),
                    Ok(None) => panic!("a live session was lost in the restart"),
                    Err(_) => failed.fetch_add(1, Ordering::SeqCst),
                };
                assert!(
                    !matches!(engine.resolve(&ended).await, Ok(Some(_))),
                    "an ended session came back"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = served.load(Ordering::SeqCst);
    assert!(before > 0);
    tokio::task::block_in_place(|| pg.ctl(&["restart"]));
    let restarted = Instant::now();
    // Served again, by the same store, within a few seconds of the server's return.
    while served.load(Ordering::SeqCst) == before || failed.load(Ordering::SeqCst) == 0 {
        if restarted.elapsed() > Duration::from_secs(30) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resumed = served.load(Ordering::SeqCst);
    assert!(
        failed.load(Ordering::SeqCst) > 0,
        "the restart was never seen"
    );
    eprintln!(
        "served {resumed}, failed closed {} (while the server was down)",
        failed.load(Ordering::SeqCst)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    load.await.unwrap();
    assert!(
        served.load(Ordering::SeqCst) > resumed,
        "the store did not heal after the restart"
    );
    assert!(engine.resolve(&live.token).await.unwrap().is_some());
}
