//! A small W3C WebDriver client for the browser tests: starts Debian's `chromedriver` on a free
//! loopback port and drives headless Chromium through it, spoken directly over HTTP with reqwest
//! and serde_json. Only the commands the tests need are here.
//!
//! Every process it starts is stopped when the [`Driver`] is dropped: the open browser sessions
//! are deleted (which quits their Chromium), then chromedriver's whole process group is killed by
//! its id, so no stray Chromium survives a failed test.
#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Where Debian installs Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Where Debian's `chromium-driver` package installs chromedriver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The W3C key under which an element reference is returned.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long to wait for a page to reach an expected URL or for chromedriver to start.
pub const WAIT: Duration = Duration::from_secs(20);

/// Fails the test, with how to fix it, when Chromium or chromedriver is not installed.
pub fn require_browser() {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "browser test needs Debian's headless Chromium and chromedriver, but {} missing: \
         run `scripts/ensure-browser.sh` (as root) to install them",
        missing.join(" and ")
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running chromedriver; stops it (and every browser it started) on drop.
pub struct Driver {
    child: Child,
    port: u16,
    base: String,
    http: reqwest::Client,
    /// Ids of WebDriver sessions not yet deleted.
    open: Arc<Mutex<Vec<String>>>,
    dir: PathBuf,
    browsers: usize,
}

impl Driver {
    /// Starts chromedriver on a free loopback port, in its own process group, and waits until
    /// it reports ready. `dir` is a private directory for its log and the browsers' profiles;
    /// it is removed on drop unless the test is failing.
    pub async fn start(dir: PathBuf) -> Driver {
        require_browser();
        let port = free_port();
        let log = dir.join("chromedriver.log");
        // Build the HTTP client first: a panic after the spawn below would leak chromedriver.
        tessera_inspect::agent::ensure_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(90))
            .build()
            .unwrap();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {CHROMEDRIVER}: {e}"));
        let mut driver = Driver {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
            http,
            open: Arc::new(Mutex::new(Vec::new())),
            dir,
            browsers: 0,
        };
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!(
                    "chromedriver exited early ({status}); log: {}",
                    log.display()
                );
            }
            let ready = async {
                let resp = driver
                    .http
                    .get(format!("{}/status", driver.base))
                    .send()
                    .await
                    .ok()?;
                let v: Value = resp.json().await.ok()?;
                v["value"]["ready"].as_bool()
            }
            .await;
            if ready == Some(true) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready on port {port}; log: {}",
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        driver
    }

    /// Opens a new headless Chromium with a fresh profile directory of its own.
    pub async fn browser(&mut self) -> Browser {
        self.browser_with(&[]).await
    }

    /// [`Driver::browser`] with more command-line switches.
    pub async fn browser_with(&mut self, extra: &[String]) -> Browser {
        self.browsers += 1;
        let profile = self.dir.join(format!("profile-{}", self.browsers));
        std::fs::create_dir_all(&profile).unwrap();
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1100,800".to_owned(),
            // Sibling host names for the cookie-tossing tests (Chromium resolves *.localhost to
            // loopback itself; the rule keeps it so whatever the resolver).
            "--host-resolver-rules=MAP *.localhost 127.0.0.1".to_owned(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let args: Vec<String> = args.into_iter().chain(extra.iter().cloned()).collect();
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "timeouts": { "implicit": 5000, "pageLoad": 60000, "script": 30000 },
                    "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
                }
            }
        });
        let resp = self
            .http
            .post(format!("{}/session", self.base))
            .json(&caps)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /session to chromedriver failed: {e}"));
        let status = resp.status();
        let v: Value = resp.json().await.unwrap();
        assert!(
            status.is_success(),
            "chromedriver could not start Chromium ({status}): {v}\nlog: {}",
            self.dir.join("chromedriver.log").display()
        );
        let id = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {v}"))
            .to_owned();
        self.open.lock().unwrap().push(id.clone());
        Browser {
            http: self.http.clone(),
            session: format!("{}/session/{id}", self.base),
            id,
            open: Arc::clone(&self.open),
        }
    }

    /// Deletes a WebDriver session with a plain blocking HTTP request (usable from `drop`).
    fn delete_session_blocking(&self, id: &str) {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
        let req = format!(
            "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            self.port
        );
        if s.write_all(req.as_bytes()).is_ok() {
            // chromedriver answers once Chromium has quit; the first bytes of the answer are
            // enough (it may keep the connection open, so do not read to the end).
            let mut answer = [0u8; 1024];
            let _ = s.read(&mut answer);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let open = std::mem::take(&mut *self.open.lock().unwrap_or_else(|e| e.into_inner()));
        for id in open {
            self.delete_session_blocking(&id);
        }
        // chromedriver leads its own process group (process_group(0) above), and the Chromium
        // processes it started are in it: kill that group, by its id, then reap chromedriver.
        let pgid = self.child.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "browser test failed: chromedriver log and profiles kept in {}",
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A cookie as WebDriver reports it.
#[derive(Debug, Clone)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    pub path: Option<String>,
    pub domain: Option<String>,
    pub secure: Option<bool>,
    pub http_only: Option<bool>,
    pub same_site: Option<String>,
    pub raw: Value,
}

/// One WebDriver session: one Chromium window with its own profile.
pub struct Browser {
    http: reqwest::Client,
    session: String,
    pub id: String,
    open: Arc<Mutex<Vec<String>>>,
}

/// A reference to an element on the current page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    /// Sends one command; a WebDriver error comes back as `Err((error code, message))`.
    async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, (String, String)> {
        let url = format!("{}{path}", self.session);
        let mut req = self.http.request(method.clone(), &url);
        // W3C: POST commands carry a JSON body, even an empty one.
        if method == reqwest::Method::POST {
            req = req.json(&body.unwrap_or_else(|| json!({})));
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = resp.status();
        let v: Value = resp
            .json()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: bad JSON: {e}"));
        if status.is_success() {
            Ok(v["value"].clone())
        } else {
            let err = &v["value"];
            Err((
                err["error"].as_str().unwrap_or_default().to_owned(),
                format!("({status}) {}", err["message"].as_str().unwrap_or_default()),
            ))
        }
    }

    /// Sends one command, failing the test on a WebDriver error.
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method.clone(), path, body).await {
            Ok(v) => v,
            Err((error, message)) => panic!("WebDriver {method} {path} failed: {error} {message}"),
        }
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    /// Resizes the window (its viewport, headless) to `width` × `height` CSS pixels.
    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({ "width": width, "height": height }))
            .await;
    }

    /// Goes back one page in the history, as the browser's back button does.
    pub async fn back(&self) {
        self.post("/back", json!({})).await;
    }

    /// Reloads the current page.
    pub async fn refresh(&self) {
        self.post("/refresh", json!({})).await;
    }

    /// The current page's URL.
    pub async fn url(&self) -> String {
        self.get("/url")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the current URL's path is `path` (query and fragment ignored).
    pub async fn wait_for_path(&self, base: &str, path: &str) -> String {
        let want = format!("{base}{path}");
        let deadline = Instant::now() + WAIT;
        loop {
            let url = self.url().await;
            let bare = url.split(['?', '#']).next().unwrap_or_default();
            if bare == want {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "browser stayed on {url}, expected {want}; page text:\n{}",
                self.text().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page's visible text contains `needle` and returns that text (for a form
    /// that posts back to the URL it is on, where the URL alone does not show the new page).
    pub async fn wait_for_text(&self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self.text().await;
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "page {} never showed {needle:?}; its text:\n{text}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The current page's HTML source.
    pub async fn source(&self) -> String {
        self.get("/source")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The current page's title.
    pub async fn title(&self) -> String {
        self.get("/title")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The visible text of the page's `<body>`.
    ///
    /// A page that is being replaced (a form just submitted) can make the `<body>` found a
    /// moment ago stale ("stale element reference", or Chromium's "node does not belong to the
    /// document"); such errors are retried, on the new page, until [`WAIT`] runs out.
    pub async fn text(&self) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self
                .try_call(
                    reqwest::Method::POST,
                    "/element",
                    Some(json!({ "using": "css selector", "value": "body" })),
                )
                .await;
            let result = match found {
                Ok(v) => match v[ELEMENT_KEY].as_str() {
                    Some(id) => {
                        self.try_call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
                            .await
                    }
                    None => Err(("no element reference".to_owned(), v.to_string())),
                },
                Err(e) => Err(e),
            };
            match result {
                Ok(v) => return v.as_str().unwrap_or_default().to_owned(),
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err((error, message)) => panic!("WebDriver get text of <body>: {error} {message}"),
            }
        }
    }

    /// Finds the first element matching a CSS selector (waiting up to the implicit timeout).
    pub async fn find(&self, css: &str) -> Element {
        let v = self
            .post("/element", json!({ "using": "css selector", "value": css }))
            .await;
        Element(
            v[ELEMENT_KEY]
                .as_str()
                .unwrap_or_else(|| panic!("no element reference for {css:?}: {v}"))
                .to_owned(),
        )
    }

    /// Every element matching a CSS selector, possibly none.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let v = self
            .post(
                "/elements",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str())
                    .map(|s| Element(s.to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Types `text` into an element.
    pub async fn send_keys(&self, el: &Element, text: &str) {
        self.post(&format!("/element/{}/value", el.0), json!({ "text": text }))
            .await;
    }

    /// Fills in and submits the demo's login form on the current page.
    pub async fn submit_login(&self, user: &str, password: &str) {
        let form = "main form[action=\"/login\"]";
        self.send_keys(
            &self.find(&format!("{form} input[name=username]")).await,
            user,
        )
        .await;
        self.send_keys(
            &self.find(&format!("{form} input[name=password]")).await,
            password,
        )
        .await;
        self.click(&self.find(&format!("{form} button[type=submit]")).await)
            .await;
    }

    /// Clicks an element.
    pub async fn click(&self, el: &Element) {
        self.post(&format!("/element/{}/click", el.0), json!({}))
            .await;
    }

    /// An element's visible text.
    pub async fn element_text(&self, el: &Element) -> String {
        self.get(&format!("/element/{}/text", el.0))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Every cookie visible to the current page.
    pub async fn cookies(&self) -> Vec<Cookie> {
        let v = self.get("/cookie").await;
        v.as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|c| Cookie {
                name: c["name"].as_str().unwrap_or_default().to_owned(),
                value: c["value"].as_str().unwrap_or_default().to_owned(),
                path: c["path"].as_str().map(str::to_owned),
                domain: c["domain"].as_str().map(str::to_owned),
                secure: c["secure"].as_bool(),
                http_only: c["httpOnly"].as_bool(),
                same_site: c["sameSite"].as_str().map(str::to_owned),
                raw: c,
            })
            .collect()
    }

    /// The cookies named `name`.
    pub async fn cookies_named(&self, name: &str) -> Vec<Cookie> {
        self.cookies()
            .await
            .into_iter()
            .filter(|c| c.name == name)
            .collect()
    }

    /// Adds a cookie for the current page's origin.
    pub async fn add_cookie(&self, cookie: Value) {
        self.post("/cookie", json!({ "cookie": cookie })).await;
    }

    /// Runs `script` in the current page (as that page's own script would) and returns its
    /// result.
    pub async fn execute(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": [] }))
            .await
    }

    /// A PNG screenshot of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let v = self.get("/screenshot").await;
        base64_decode(v.as_str().expect("screenshot is a base64 string"))
    }

    /// Deletes this WebDriver session, quitting its Chromium.
    pub async fn quit(self) {
        self.call(reqwest::Method::DELETE, "", None).await;
        self.open.lock().unwrap().retain(|id| *id != self.id);
    }
}

/// Standard base64 (with or without padding) to bytes.
fn base64_decode(text: &str) -> Vec<u8> {
    fn sextet(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => panic!("invalid base64 byte {c:#x}"),
        }
    }
    let bytes: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= sextet(c) << (18 - 6 * i);
        }
        let [_, a, b, c] = n.to_be_bytes();
        out.push(a);
        if chunk.len() > 2 {
            out.push(b);
        }
        if chunk.len() > 3 {
            out.push(c);
        }
    }
    out
}

#[test]
fn base64_roundtrip_of_known_values() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGVsbG8h"), b"hello!");
    assert_eq!(base64_decode("aGk"), b"hi");
    assert_eq!(base64_decode("iVBORw0KGgo="), b"\x89PNG\r\n\x1a\n");
}
