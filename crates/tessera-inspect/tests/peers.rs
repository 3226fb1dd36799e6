//! The inspector against real apps from other ecosystems (Flask, express-session), each weak and
//! hardened, with the findings peers/EXPECTED.md predicts. scripts/ensure-peers.sh (run by the
//! test command) installs their pinned packages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tessera_inspect::agent::Limits;
use tessera_inspect::report::Status;
use tessera_inspect::stack::Stack;
use tessera_inspect::target::Target;
use tessera_inspect::{inspect, Options};

const PEERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers");

fn peers_dir() -> PathBuf {
    match std::env::var_os("TESSERA_PEERS_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
            .join(".cache/tessera/peers"),
    }
}

/// A peer app process, killed on drop.
struct Peer {
    child: Child,
    base_url: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(app: &str, hardened: bool) -> Peer {
    let dir = peers_dir();
    let mut cmd = match app {
        "flask" => {
            let python = dir.join("venv/bin/python");
            assert!(
                python.exists(),
                "{} is missing: run scripts/ensure-peers.sh",
                python.display()
            );
            let mut c = Command::new(python);
            c.arg(format!("{PEERS}/flask_app.py"));
            c
        }
        _ => {
            let modules = dir.join("node/node_modules");
            assert!(
                modules.join("express-session").exists(),
                "{} is missing: run scripts/ensure-peers.sh",
                modules.display()
            );
            let mut c = Command::new("node");
            c.arg(format!("{PEERS}/express_app.js"))
                .env("NODE_PATH", modules);
            c
        }
    };
    cmd.args(["--port", "0", "--quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if hardened {
        cmd.arg("--hardened");
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the {app} peer: {e}"));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
    let base_url = line
        .split_whitespace()
        .find(|w| w.starts_with("http"))
        .unwrap_or_else(|| panic!("the {app} peer did not say where it listens: {line:?}"))
        .trim_end_matches('/')
        .to_owned();
    Peer { child, base_url }
}

/// Each finding's status and evidence, and the stack the report recognised.
type Audit = (BTreeMap<String, (Status, String)>, Option<Stack>);

async fn audit(app: &str, hardened: bool) -> Audit {
    let peer = start(app, hardened);
    let file = format!("{app}-{}.toml", if hardened { "hardened" } else { "weak" });
    let text = std::fs::read_to_string(format!("{PEERS}/{file}")).unwrap();
    let original = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("base_url = \"")
                .and_then(|r| r.split('"').next())
        })
        .unwrap()
        .to_owned();
    let target = Target::parse(&text.replace(&original, &peer.base_url), &file).unwrap();
    let options = Options {
        samples: 120,
        limits: Limits {
            max_rps: 500,
            max_requests: 20_000,
            timeout: Duration::from_secs(15),
        },
        long: true,
        ..Options::default()
    };
    let report = inspect(&target, &options)
        .await
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let stack = report.stack.as_ref().map(|d| d.stack);
    // Every failing finding carries a fix, in the recognised stack's terms where one exists.
    for f in report.findings.iter().filter(|f| f.status == Status::Fail) {
        let fix = f
            .fix
            .as_ref()
            .unwrap_or_else(|| panic!("{file} {}: no fix", f.id));
        assert!(fix.stack.is_none() || fix.stack == stack, "{file} {}", f.id);
    }
    let found = report
        .findings
        .into_iter()
        .map(|f| (f.id.clone(), (f.status, f.evidence)))
        .collect();
    (found, stack)
}

fn expect(found: &BTreeMap<String, (Status, String)>, table: &[(&str, Status)], name: &str) {
    for (id, want) in table {
        let (got, evidence) = &found[*id];
        assert_eq!(got, want, "{name} {id}: {evidence}");
    }
}

use Status::{Fail, Pass, Skip, Warn};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flask_weak_and_hardened() {
    let ((weak, weak_stack), (hardened, hardened_stack)) =
        tokio::join!(audit("flask", false), audit("flask", true));
    assert_eq!(weak_stack, Some(Stack::Flask));
    assert_eq!(hardened_stack, Some(Stack::Flask));
    expect(
        &weak,
        &[
            ("cookie-secure", Fail),
            ("cookie-httponly", Pass),
            ("cookie-samesite", Fail),
            ("cookie-prefix", Warn),
            ("cookie-scope", Pass),
            ("cookie-name-lookalike", Pass),
            ("cookie-tossing", Fail),
            ("fixation-strict", Pass),
            ("login-csrf", Pass),
            ("logout-invalidation", Fail),
            ("password-change-invalidation", Fail),
            ("id-in-url", Pass),
            ("cache-control", Fail),
            ("idle-timeout", Fail),
            ("absolute-timeout", Fail),
            ("hsts", Skip),
            ("device-bound-sessions", Skip),
        ],
        "flask weak",
    );
    // The signed client-side cookie is data, not an identifier: reported as such, not scored.
    let (status, evidence) = &weak["id-entropy"];
    assert_eq!(*status, Warn, "{evidence}");
    assert!(evidence.contains("data, not an identifier"), "{evidence}");
    for (id, (status, evidence)) in &hardened {
        // The hardened app drops the old id at rotation: in-flight requests are signed out.
        // Werkzeug serves the first of two session cookies; __Host- keeps siblings from
        // tossing one, so that is a warning.
        // Neither peer offers device-bound sessions (W3C DBSC): information, skipped.
        let want = match id.as_str() {
            "hsts" | "device-bound-sessions" => Skip,
            "rotation-race" | "cookie-tossing" => Warn,
            _ => Pass,
        };
        assert_eq!(*status, want, "flask hardened {id}: {evidence}");
    }
    assert_eq!(weak["rotation-race"].0, Pass, "{}", weak["rotation-race"].1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn express_session_weak_and_hardened() {
    let ((weak, weak_stack), (hardened, hardened_stack)) =
        tokio::join!(audit("express", false), audit("express", true));
    assert_eq!(weak_stack, Some(Stack::Express));
    assert_eq!(hardened_stack, Some(Stack::Express));
    expect(
        &weak,
        &[
            ("cookie-secure", Fail),
            ("cookie-httponly", Pass),
            ("cookie-samesite", Fail),
            ("cookie-prefix", Warn),
            ("cookie-scope", Pass),
            ("cookie-name-lookalike", Pass),
            ("cookie-tossing", Fail),
            ("fixation-rotation", Fail),
            ("fixation-strict", Pass),
            ("login-csrf", Pass),
            ("logout-invalidation", Pass),
            ("logout-clears-cookie", Warn),
            ("password-change-invalidation", Fail),
            ("privilege-rotation", Fail),
            ("id-in-url", Pass),
            ("cache-control", Fail),
            ("idle-timeout", Fail),
            ("absolute-timeout", Fail),
            ("hsts", Skip),
            ("device-bound-sessions", Skip),
        ],
        "express weak",
    );
    for (id, (status, evidence)) in &hardened {
        // regenerate() destroys the old id at once: in-flight requests are signed out. The
        // `cookie` module keeps the first of two session cookies; __Host- keeps siblings from
        // tossing one, so that is a warning.
        let want = match id.as_str() {
            "rotation-race" | "cookie-tossing" => Warn,
            "device-bound-sessions" => Skip,
            _ => Pass,
        };
        assert_eq!(*status, want, "express hardened (HTTPS) {id}: {evidence}");
    }
    assert_eq!(
        weak["rotation-race"].0, Pass,
        "no rotation, nothing to race: {}",
        weak["rotation-race"].1
    );
}
