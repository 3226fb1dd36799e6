//! `tessera inspect` against hostile targets: an auditor is pointed at apps it does not trust.
//!
//! A raw HTTP server (hand-written, so it can misbehave in ways a framework would not let it)
//! plays one hostile mode per case. Each case runs the real binary, bounded in time, and
//! asserts its exit code, its peak memory (under 200 MB) and that nothing it printed or wrote
//! carries a raw control or bidi character from the target.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

mod support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::temp_dir;

/// How a hostile server misbehaves.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// The login page is a 50 MB body.
    Huge,
    /// The login page never ends.
    Endless,
    /// Every answer takes 30 s.
    Slow,
    /// The login page is 1,000,000 nested `<div>`s after the form.
    Deep,
    /// A working app whose account page links 100,000 distinct URLs.
    LinkFlood,
    /// A working app that sets 90 cookies of 3.9 KB on every response.
    CookieFlood,
    /// The login answers with a redirect to another origin.
    OffOrigin,
    /// A working app that puts bidi overrides, escape sequences and markup everywhere it can.
    Injection,
    /// Plain bytes where TLS is expected.
    BadTls,
}

const EVIL: &str = "\u{202e}gnp.exe\u{1b}[2J\u{1b}[31m<script>alert(1)</script>";

struct Hostile {
    sessions: Mutex<HashSet<String>>,
    mode: Mode,
    n: Mutex<u64>,
}

fn serve(mode: Mode) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Arc::new(Hostile {
        sessions: Mutex::new(HashSet::new()),
        mode,
        n: Mutex::new(0),
    });
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let app = app.clone();
            std::thread::spawn(move || {
                let _ = app.connection(stream);
            });
        }
    });
    port
}

impl Hostile {
    fn connection(&self, stream: TcpStream) -> std::io::Result<()> {
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        if self.mode == Mode::BadTls {
            let mut s = stream;
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")?;
            return Ok(());
        }
        let mut reader = BufReader::new(stream.try_clone()?);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let mut parts = line.split_whitespace();
            let (method, target) = (
                parts.next().unwrap_or("").to_owned(),
                parts.next().unwrap_or("").to_owned(),
            );
            let (mut length, mut cookie) = (0usize, String::new());
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h)? == 0 {
                    return Ok(());
                }
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    match k.trim().to_ascii_lowercase().as_str() {
                        "content-length" => length = v.trim().parse().unwrap_or(0),
                        "cookie" => cookie = v.trim().to_owned(),
                        _ => {}
                    }
                }
            }
            let mut body = vec![0; length.min(1 << 20)];
            reader.read_exact(&mut body)?;
            let path = target.split('?').next().unwrap_or("").to_owned();
            self.answer(&stream, &method, &path, &cookie)?;
        }
    }

    fn signed_in(&self, cookie: &str) -> bool {
        let sessions = self.sessions.lock().unwrap();
        cookie.split(';').any(|p| {
            p.trim()
                .strip_prefix("sid=")
                .is_some_and(|v| sessions.contains(v))
        })
    }

    fn answer(
        &self,
        stream: &TcpStream,
        method: &str,
        path: &str,
        cookie: &str,
    ) -> std::io::Result<()> {
        let mut s = stream;
        let mode = self.mode;
        if mode == Mode::Slow {
            std::thread::sleep(Duration::from_secs(30));
        }
        let mut extra = String::new();
        if mode == Mode::CookieFlood {
            let n = {
                let mut n = self.n.lock().unwrap();
                *n += 1;
                *n
            };
            for i in 0..90 {
                // Distinct values: each one a secret the recorder would remember.
                extra.push_str(&format!(
                    "Set-Cookie: flood{n}x{i}={n}x{i}{}; Path=/\r\n",
                    "v".repeat(3_900)
                ));
            }
        }
        if mode == Mode::Injection {
            // Header values may carry UTF-8 (obs-text), so bidi controls travel there; escape
            // sequences ride in bodies.
            extra.push_str("Server: werkzeug\u{202e}evil\r\nX-Powered-By: PHP/\u{2066}8\r\n");
        }
        let page = |title: &str, body: &str| {
            format!("<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>")
        };
        let form = "<form method=post action=/login><input type=hidden name=csrf value=1>\
                    <input name=username><input type=password name=password></form>";
        match (method, path) {
            ("GET", "/login") => match mode {
                Mode::Huge => {
                    let len = 50 * 1024 * 1024;
                    write!(s, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len}\r\n{extra}\r\n{form}")?;
                    let chunk = "<div>".repeat(8192);
                    let mut sent = form.len();
                    while sent + chunk.len() <= len {
                        s.write_all(chunk.as_bytes())?;
                        sent += chunk.len();
                    }
                    Ok(())
                }
                Mode::Endless => {
                    write!(s, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n{extra}\r\n")?;
                    let chunk = "<a href=/x>x</a>".repeat(4096);
                    loop {
                        write!(s, "{:x}\r\n{chunk}\r\n", chunk.len())?;
                    }
                }
                Mode::Deep => {
                    let body = format!("{form}{}", "<div>".repeat(1_000_000));
                    write!(s, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n{extra}\r\n{body}", body.len())
                }
                _ => {
                    let body = page(
                        if mode == Mode::Injection {
                            EVIL
                        } else {
                            "Sign in"
                        },
                        form,
                    );
                    write!(s, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n{extra}\r\n{body}", body.len())
                }
            },
            ("POST", "/login") => {
                if mode == Mode::OffOrigin {
                    return write!(s, "HTTP/1.1 303 See Other\r\nLocation: http://evil.example:1/steal?x={EVIL}\r\nContent-Length: 0\r\n\r\n");
                }
                let mut raw = [0u8; 24];
                getrandom::fill(&mut raw).unwrap();
                let id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
                self.sessions.lock().unwrap().insert(id.clone());
                let value = if mode == Mode::Injection {
                    // Markup in the cookie value (clients keep it; it reaches the evidence).
                    format!("{id}<i>")
                } else {
                    id
                };
                if mode == Mode::Injection {
                    self.sessions.lock().unwrap().insert(value.clone());
                }
                write!(s, "HTTP/1.1 303 See Other\r\nLocation: /account\r\nSet-Cookie: sid={value}; Path=/; HttpOnly\r\nContent-Length: 0\r\n{extra}\r\n")
            }
            ("GET", "/account") if self.signed_in(cookie) => {
                let body = match mode {
                    Mode::LinkFlood => {
                        let n = *self.n.lock().unwrap();
                        let mut b = String::from("Signed in as alice");
                        for i in 0..100_000 {
                            b.push_str(&format!("<a href=/p/{n}/{i}>l</a>"));
                        }
                        b
                    }
                    Mode::Injection => format!("Signed in as alice {EVIL}"),
                    _ => "Signed in as alice".to_owned(),
                };
                let body = page("Account", &body);
                write!(s, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n{extra}\r\n{body}", body.len())
            }
            ("POST", "/logout") => {
                write!(s, "HTTP/1.1 303 See Other\r\nLocation: /login\r\nSet-Cookie: sid=; Max-Age=0; Path=/\r\nContent-Length: 0\r\n{extra}\r\n")
            }
            _ => write!(
                s,
                "HTTP/1.1 303 See Other\r\nLocation: /login\r\nContent-Length: 0\r\n{extra}\r\n"
            ),
        }
    }
}

fn target_file(dir: &Path, scheme: &str, port: u16) -> std::path::PathBuf {
    let text = format!(
        "base_url = \"{scheme}://127.0.0.1:{port}\"\n\
         session_cookie = \"sid\"\n\
         [login]\nform_page = \"/login\"\npath = \"/login\"\n\
         fields = {{ username = \"alice\", password = \"wonderland\" }}\n\
         [authenticated]\npath = \"/account\"\nexpect_body = \"Signed in as alice\"\n\
         [logout]\npath = \"/logout\"\n"
    );
    let path = dir.join("hostile.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// What one run did.
struct Run {
    code: Option<i32>,
    peak_kib: u64,
    elapsed: Duration,
    stdout: String,
    stderr: String,
    files: Vec<String>,
}

/// Runs `tessera inspect` with `args`, killing it past `bound`, polling its peak RSS.
fn inspect(target: &Path, dir: &Path, args: &[&str], bound: Duration) -> Run {
    let json = dir.join("report.json");
    let html = dir.join("report.html");
    let har = dir.join("run.har");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("inspect")
        .arg(target)
        .arg("--har")
        .arg(&har)
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let start = Instant::now();
    let mut peak_kib = 0;
    let code = loop {
        if let Ok(status) = std::fs::read_to_string(&status_path) {
            if let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak_kib = peak_kib.max(kib);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            panic!("inspect still running after {bound:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let files = [json, html, har]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    Run {
        code,
        peak_kib,
        elapsed: start.elapsed(),
        stdout,
        stderr,
        files,
    }
}

/// A raw control (other than newline, carriage return and tab) or bidi character.
fn raw_control(text: &str) -> Option<char> {
    text.chars().find(|c| {
        (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
    })
}

fn check(mode: Mode, args: &[&str], bound: Duration, codes: &[i32]) -> Run {
    let port = serve(mode);
    let dir = temp_dir(&format!("hostile-{mode:?}"));
    let scheme = if mode == Mode::BadTls {
        "https"
    } else {
        "http"
    };
    let target = target_file(&dir, scheme, port);
    let mut args = args.to_vec();
    args.extend(["--format", "text"]);
    let run = inspect(&target, &dir, &args, bound);
    let code = run.code.unwrap_or(-1);
    assert!(
        codes.contains(&code),
        "{mode:?}: exit {code}, wanted one of {codes:?}\nstdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.peak_kib < 200 * 1024,
        "{mode:?}: peak RSS {} KiB, over 200 MB",
        run.peak_kib
    );
    for (what, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)]
        .into_iter()
        .chain(run.files.iter().map(|f| ("a written file", f)))
    {
        if let Some(c) = raw_control(text) {
            panic!("{mode:?}: {what} carries a raw {:?}", c);
        }
    }
    if code != 0 && code != 1 {
        // A refusal is one clear line.
        assert_eq!(
            run.stderr.trim().lines().count(),
            1,
            "{mode:?}: {}",
            run.stderr
        );
    }
    run
}

const QUICK: &[&str] = &["--samples", "20", "--max-rps", "1000", "--max-time", "60"];
/// The checks that read the most of what a target sends (pages, cookies, URLs), for the cases
/// whose point is the target's size, not every check.
const READERS: &str =
    "cookie-secure,id-entropy,fixation-rotation,logout-invalidation,cookie-tossing,id-in-url";

#[test]
fn huge_endless_or_deeply_nested_login_pages_are_read_only_up_to_the_cap() {
    // The form comes first, so the login still works on the first 2 MiB; the run goes on.
    // (Each such page costs a tokenizer pass over 2 MiB, slow in a debug build: few checks.)
    let mut args = QUICK.to_vec();
    args.extend(["--checks", "cookie-secure,fixation-rotation"]);
    for mode in [Mode::Huge, Mode::Endless, Mode::Deep] {
        let run = check(mode, &args, Duration::from_secs(120), &[0, 1]);
        assert!(
            run.stdout.contains("fixation-rotation"),
            "{mode:?}: {}",
            run.stdout
        );
    }
}

#[test]
fn a_target_that_never_answers_is_cut_at_max_time() {
    let run = check(
        Mode::Slow,
        &["--max-time", "3"],
        Duration::from_secs(40),
        &[3],
    );
    assert!(run.elapsed < Duration::from_secs(20), "{:?}", run.elapsed);
    assert!(run.stderr.contains("--max-time"), "{}", run.stderr);
}

#[test]
fn link_and_cookie_floods_are_survived() {
    let mut args = QUICK.to_vec();
    args.extend(["--checks", READERS]);
    let run = check(Mode::LinkFlood, &args, Duration::from_secs(240), &[0, 1]);
    assert!(run.stdout.contains("passed"), "{}", run.stdout);
    // A cookie bomb: the jar keeps 180 cookies of at most 4 KiB, evicting the least recently
    // set, as a browser does; the flood then evicts the session cookie itself, as it would in
    // a browser, so the login may not hold. Either way the run ends, bounded.
    check(
        Mode::CookieFlood,
        &args,
        Duration::from_secs(240),
        &[0, 1, 3],
    );
}

#[test]
fn an_off_origin_redirect_is_not_followed_and_bad_tls_is_a_clear_error() {
    let run = check(Mode::OffOrigin, QUICK, Duration::from_secs(60), &[3]);
    assert!(
        !run.stderr.contains("evil.example:1/steal?x="),
        "{}",
        run.stderr
    );
    let run = check(Mode::BadTls, QUICK, Duration::from_secs(60), &[3]);
    assert!(run.stderr.contains("cannot be reached"), "{}", run.stderr);
}

#[test]
fn injected_controls_and_markup_never_reach_an_output_raw() {
    let port = serve(Mode::Injection);
    let dir = temp_dir("hostile-injection-formats");
    let target = target_file(&dir, "http", port);
    for format in ["text", "json", "sarif", "html"] {
        let out_file = dir.join(format!("report.{format}"));
        let mut args = QUICK.to_vec();
        args.extend(["--format", format, "--out", out_file.to_str().unwrap()]);
        if format != "json" {
            // Every check once (the JSON run); the other renderers on the readers' findings.
            args.extend(["--checks", READERS]);
        }
        let run = inspect(&target, &dir, &args, Duration::from_secs(240));
        assert!(
            matches!(run.code, Some(0 | 1)),
            "{format}: {:?} {}",
            run.code,
            run.stderr
        );
        let written = std::fs::read_to_string(&out_file).unwrap();
        for (what, text) in [("report", &written), ("stderr", &run.stderr)]
            .into_iter()
            .chain(run.files.iter().map(|f| ("HAR", f)))
        {
            if let Some(c) = raw_control(text) {
                panic!("{format}: the {what} carries a raw {c:?}");
            }
        }
        if format == "html" {
            assert!(
                !written.contains("<script>alert"),
                "markup from the target ran"
            );
        }
        if format == "json" {
            let v: serde_json::Value = serde_json::from_str(&written).unwrap();
            assert!(v["findings"].as_array().is_some_and(|f| !f.is_empty()));
        }
    }
}
