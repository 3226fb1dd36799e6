//! `tessera serve` as a process: first start and its one admin key, graceful shutdown, the
//! config checker, the key CLI, TLS, the Python and Node client examples, a real nginx in
//! front (forward-auth), and schemathesis driving the API from its own OpenAPI document.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::user::client;
use support::{temp_dir, Server};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
}

/// `tessera config check FILE` in `dir`.
fn check_in(dir: &Path, file: &str) -> std::process::Output {
    bin()
        .args(["config", "check", file])
        .current_dir(dir)
        .output()
        .unwrap()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The admin key a first start printed (waits for the stdout reader).
fn printed_key(server: &Server) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = server.stdout();
        if let Some(at) = out.find("tessera_key_") {
            return out[at..].split_whitespace().next().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no key printed: {out}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn post(base: &str, key: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let r = client()
        .post(format!("{base}{path}"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn login(base: &str, key: &str, subject: &str) -> Value {
    let (st, t) = post(base, key, "/v1/login-tickets", json!({"subject": subject})).await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    let (st, issued) = post(base, key, "/v1/sessions", json!({"ticket": t["ticket"]})).await;
    assert_eq!(st, StatusCode::CREATED, "{issued}");
    issued
}

#[tokio::test]
async fn first_start_prints_one_admin_key_and_sigterm_stops_it_cleanly() {
    let dir = temp_dir("serve-first");
    // No --store and no config: the SQLite file in the working directory.
    let mut first = Server::start_with(dir.clone(), &["serve"], &[]);
    let key = printed_key(&first);
    assert_eq!(key.len(), "tessera_key_".len() + 43);
    assert!(
        dir.join("tessera.db").exists(),
        "the default store is ./tessera.db"
    );
    let r = client()
        .get(format!("{}/v1/api-keys", first.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let issued = login(&first.base, &key, "alice").await;
    assert!(first.terminate().success(), "SIGTERM is a clean exit");
    assert!(
        !first.log().contains(&key[12..]),
        "the key never reaches the log"
    );
    let dir = std::mem::take(&mut first.dir);
    drop(first);

    // A restart on the same store prints no key; the old key and session still work.
    let second = Server::start_with(dir, &["serve"], &[]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !second.stdout().contains("tessera_key_"),
        "{}",
        second.stdout()
    );
    let (st, v) = post(
        &second.base,
        &key,
        "/v1/sessions/resolve",
        json!({"token": issued["token"]}),
    )
    .await;
    assert_eq!((st, v["subject"].as_str()), (StatusCode::OK, Some("alice")));
    let r = client()
        .get(format!("{}/readyz", second.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[test]
fn config_check_and_unsafe_listen_are_one_line_refusals() {
    let dir = temp_dir("serve-config");
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "listen = \"127.0.0.1:7999\"\n[session]\nidle_timeout_secs = 600\n",
    )
    .unwrap();
    let out = bin().args(["config", "check"]).arg(&good).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
    for (text, needle) in [
        ("[session]\nrotation_grace_secs = 600\n", "session"),
        ("listen = \"0.0.0.0:7999\"\n", "not a loopback address"),
        ("[cookie]\nsame_site = \"none\"\n", "cookie.same_site"),
        ("typo = 1\n", "typo"),
        ("listen = [\n", "bad.toml"),
    ] {
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, text).unwrap();
        let out = bin().args(["config", "check"]).arg(&bad).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {err}");
        assert!(
            err.contains(needle) && err.trim().lines().count() == 1,
            "{text:?}: {err}"
        );
    }
    // Plain HTTP off loopback is refused before anything listens.
    let out = bin()
        .args(["serve", "--listen", "0.0.0.0:7999", "--store", "memory://"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--dangerously-serve-plain-http-behind-tls-proxy"));
    let out = bin()
        .args(["config", "check"])
        .arg(dir.join("missing.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn the_key_cli_manages_the_keys_a_running_service_checks() {
    let server = Server::start(&["serve"]);
    let admin = printed_key(&server);
    let store = format!("sqlite://{}", server.dir.join("tessera.db").display());
    let out = bin()
        .args([
            "api-key",
            "create",
            "ci reader",
            "--scope",
            "read",
            "--store",
            &store,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let reader = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(reader.starts_with("tessera_key_"));
    let issued = login(&server.base, &admin, "bob").await;
    let (st, _) = post(
        &server.base,
        &reader,
        "/v1/sessions/resolve",
        json!({"token": issued["token"]}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = post(
        &server.base,
        &reader,
        "/v1/sessions/rotate",
        json!({"token": issued["token"]}),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "a read key cannot write");
    let out = bin()
        .args(["api-key", "list", "--store", &store])
        .output()
        .unwrap();
    let list = String::from_utf8(out.stdout).unwrap();
    assert!(
        list.contains("ci reader") && list.contains("first-admin"),
        "{list}"
    );
    assert!(!list.contains(&reader[12..]) && !list.contains(&admin[12..]));
    let id = list
        .lines()
        .find(|l| l.contains("ci reader"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let out = bin()
        .args(["api-key", "revoke", id, "--store", &store])
        .output()
        .unwrap();
    assert!(out.status.success());
    let (st, _) = post(
        &server.base,
        &reader,
        "/v1/sessions/resolve",
        json!({"token": issued["token"]}),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::UNAUTHORIZED,
        "revoked on the very next request"
    );
    let out = bin()
        .args([
            "api-key", "create", "x", "--scope", "root", "--store", &store,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "clap refuses an unknown scope");
}

#[test]
fn tls_from_the_config_file() {
    let dir = temp_dir("serve-tls");
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    std::fs::write(
        dir.join("tessera.toml"),
        "store = \"memory://\"\n[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n",
    )
    .unwrap();
    // With TLS, a non-loopback address is accepted.
    let wide = dir.join("wide.toml");
    std::fs::write(
        &wide,
        "listen = \"0.0.0.0:7999\"\n[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n",
    )
    .unwrap();
    let out = check_in(&dir, "wide.toml");
    assert!(out.status.success(), "{out:?}");
    let server = Server::start_with(dir.clone(), &["serve", "--config", "tessera.toml"], &[]);
    let https = format!("https://127.0.0.1:{}/healthz", server.port);
    let out = Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(dir.join("cert.pem"))
        .arg(&https)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"ok\""));
    // Plain HTTP to the TLS port gets no answer.
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .arg(format!("http://127.0.0.1:{}/healthz", server.port))
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("\"ok\""));
    // A key file that does not match is a one-line refusal.
    std::fs::write(
        dir.join("bad.toml"),
        "[tls]\ncert = \"cert.pem\"\nkey = \"cert.pem\"\n",
    )
    .unwrap();
    let out = check_in(&dir, "bad.toml");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_python_and_node_examples_run_against_the_service() {
    let server = Server::start(&["serve", "--store", "memory://"]);
    let key = printed_key(&server);
    let examples = repo().join("examples/clients");
    for (program, script) in [("python3", "python_client.py"), ("node", "node_client.mjs")] {
        let out = Command::new(program)
            .arg(examples.join(script))
            .env("TESSERA_URL", &server.base)
            .env("TESSERA_KEY", &key)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
    }
}

fn tool(var: &str, fallback: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        assert!(
            Path::new(fallback).exists(),
            "{var} is not set and {fallback} is missing: run scripts/test.sh (it installs nginx and schemathesis)"
        );
        fallback.to_owned()
    })
}

/// nginx on a loopback port, configured by `conf`; stopped on drop.
struct Nginx {
    child: std::process::Child,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_forward_auth_in_front_of_an_app() {
    let server = Server::start(&["serve", "--store", "memory://"]);
    let key = printed_key(&server);

    // The upstream app: echoes the identity nginx passed it.
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up_port = upstream.local_addr().unwrap().port();
    let app = axum::Router::new().fallback(|headers: axum::http::HeaderMap| async move {
        let who = headers
            .get("x-tessera-subject")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        format!("hello {who}")
    });
    tokio::spawn(async move { axum::serve(upstream, app).await });

    let dir = temp_dir("nginx");
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        r#"worker_processes 1;
error_log {d}/error.log;
pid {d}/nginx.pid;
daemon off;
master_process off;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location = /_tessera {{
      internal;
      proxy_pass http://127.0.0.1:{tp}/v1/forward-auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Host $host;
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
    }}
    location = /login {{ proxy_pass http://127.0.0.1:{up}; }}
    location / {{
      auth_request /_tessera;
      auth_request_set $tessera_subject $upstream_http_x_tessera_subject;
      auth_request_set $tessera_cookie $upstream_http_set_cookie;
      add_header Set-Cookie $tessera_cookie always;
      proxy_set_header X-Tessera-Subject $tessera_subject;
      proxy_pass http://127.0.0.1:{up};
      error_page 401 = @login;
    }}
    location @login {{ return 302 /login; }}
  }}
}}
"#,
        tp = server.port,
        up = up_port
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let nginx = tool("TESSERA_NGINX", "/usr/sbin/nginx");
    let child = Command::new(&nginx)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _nginx = Nginx { child };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not start: {:?}",
            std::fs::read_to_string(dir.join("error.log"))
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let http = client();
    let site = format!("http://127.0.0.1:{port}");
    // No cookie: to the login page. A forged identity header changes nothing.
    let r = http
        .get(format!("{site}/account"))
        .header("x-tessera-subject", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .ends_with("/login"));

    // A session made through the API: the upstream sees its subject, never a forged one.
    let issued = login(&server.base, &key, "alice").await;
    let cookie = format!("__Host-session={}", issued["token"].as_str().unwrap());
    let r = http
        .get(format!("{site}/account"))
        .header("cookie", &cookie)
        .header("x-tessera-subject", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "hello alice");
    // A cross-site form post through the proxy is refused.
    let r = http
        .post(format!("{site}/transfer"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Revoke-all through the API: the very next request through nginx is refused.
    let (st, _) = post(
        &server.base,
        &key,
        "/v1/subjects/alice/revoke-all",
        json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let r = http
        .get(format!("{site}/account"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let server = Server::start(&["serve", "--store", "memory://"]);
    let key = printed_key(&server);
    let schemathesis = tool(
        "TESSERA_SCHEMATHESIS",
        &format!(
            "{}/.cache/tessera/tools/schemathesis-venv/bin/schemathesis",
            std::env::var("HOME").unwrap_or_default()
        ),
    );
    let out = Command::new(schemathesis)
        .args(["run", &format!("{}/v1/openapi.json", server.base)])
        .args(["-H", &format!("Authorization: Bearer {key}")])
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"])
        // Revoking keys is exercised by the API tests; here it would revoke the key in use.
        .args(["--exclude-operation-id", "delete_v1_api_keys__id_"])
        .args(["--max-examples", "40", "--seed", "1", "--no-color"])
        .current_dir(&server.dir)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis failed:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("passed"), "{report}");
    assert!(!server.log().contains(&key[12..]));
}
