//! Starts the real `tessera` binary for integration tests and stops it on drop.
#![allow(dead_code)]

pub(crate) mod user;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `tessera` server process; killed when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
    pub(crate) port: u16,
    /// Everything the process wrote to stderr so far (its log).
    pub(crate) log: Arc<Mutex<String>>,
    /// Everything the process wrote to stdout so far.
    pub(crate) out: Arc<Mutex<String>>,
    pub(crate) dir: PathBuf,
}

/// A fresh private directory for one test.
pub(crate) fn temp_dir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("tessera-it-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// Runs `tessera <args> --listen 127.0.0.1:PORT` in a fresh directory and waits until it
    /// accepts connections.
    pub(crate) fn start(args: &[&str]) -> Server {
        Self::start_in(temp_dir(args.first().copied().unwrap_or("server")), args)
    }

    /// Like [`Server::start`], in `dir` (e.g. the directory of a server that crashed).
    pub(crate) fn start_in(dir: PathBuf, args: &[&str]) -> Server {
        Self::start_with(dir, args, &[])
    }

    /// Like [`Server::start_in`], with extra environment variables.
    pub(crate) fn start_with(dir: PathBuf, args: &[&str], env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(args)
            .args(["--listen", &listen])
            .current_dir(&dir)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tessera");
        let log = Arc::new(Mutex::new(String::new()));
        let out = Arc::new(Mutex::new(String::new()));
        for (stream, sink) in [
            (
                Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
                Arc::clone(&log),
            ),
            (Box::new(child.stdout.take().unwrap()), Arc::clone(&out)),
        ] {
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut l = sink.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&listen).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("tessera exited early ({status}): {}", log.lock().unwrap());
            }
            assert!(Instant::now() < deadline, "tessera did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            child,
            base: format!("http://{listen}"),
            port,
            log,
            out,
            dir,
        }
    }

    /// What the process wrote to stdout so far.
    pub(crate) fn stdout(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits (at most 20 s) for the process to exit; its exit status.
    pub(crate) fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "no exit within 20 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Kills the process with SIGKILL (no shutdown of any kind) and keeps its directory.
    pub(crate) fn crash(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::take(&mut self.dir)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
