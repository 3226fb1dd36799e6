//! The fixture app `tessera inspect` is tested against: a small axum web app with its own
//! server-side sessions, hardened by default, with each weakness a switch of its own.
//!
//! It uses none of Tessera's crates, so that every weakness can be switched on alone. Sessions
//! live in an in-memory map of id → {user, elevated, csrf, created, last_seen}.
//!
//! Routes (all pages are HTML; every POST needs the page's hidden `csrf` field):
//!
//! | route | what |
//! | --- | --- |
//! | `GET /login` | the sign-in form (`username`, `password`, hidden `csrf`); issues a pre-login session cookie |
//! | `POST /login` | alice / wonderland: 303 → `/account`; wrong credentials: 401 + the form; bad csrf: 403 |
//! | `GET /account` | 200 "Signed in as alice" with the logout and elevate forms; signed out: 303 → `/login` |
//! | `POST /logout` | (form page `/account`) ends the session and clears the cookie; 303 → `/login` |
//! | `GET /password`, `POST /password` | `old_password`, `new_password`; ends the user's other sessions; 303 → `/account` |
//! | `POST /elevate` | (form page `/account`) `password`; marks the session elevated and rotates its id; 303 → `/account` |
//! | `GET /public` | a page that needs no session (and sets no cookie) |
//! | `/api/…` | the same as a single-page app's JSON API (`fixture_api.rs`) |
//!
//! Hardened (every switch false): 256-bit ids from the OS RNG (base64url, 43 characters) in
//! `__Host-sid; Path=/; Secure; HttpOnly; SameSite=Lax`; a new id at login and at elevation;
//! logout deletes the server-side session and clears the cookie; a password change ends every
//! other session of the user; `Cache-Control: no-store` on every page that depends on the
//! session; an idle timeout ([`Weaknesses::idle_timeout`]); ids never in URLs, and accepted only
//! from the cookie; unknown ids are refused (a fresh id is issued instead).
//!
//! ## The cookie name, and the two switches that cannot keep the `__Host-` prefix
//!
//! A browser rejects a `__Host-` cookie that lacks `Secure` or carries `Domain`, and so does an
//! inspector that keeps cookies like one. So [`Weaknesses::no_secure`] and
//! [`Weaknesses::domain_scope`] also switch the cookie to the plain name `sid` (still `Path=/`),
//! exactly as [`Weaknesses::no_prefix`] does: with either of them, expect `cookie-prefix` to come
//! out as it does for `no_prefix`, on top of the check they exist for. [`SWITCHES`] lists this.
//! [`Weaknesses::cookie_name`] overrides the name outright.
//!
//! With the inspector's rules as they stand, a plain `sid` name makes `cookie-prefix` a **warn**
//! (not a fail), and `domain_scope`'s `Domain=127.0.0.1` makes `cookie-scope` a **warn** (a fail
//! needs a Domain broader than the host, which an IP address cannot have).
//!
//! ## `adopts_unknown_ids` and login rotation
//!
//! `fixation-strict` plants a forged id, signs in through it, and fails only when the planted id
//! is the signed-in session afterwards. Adoption alone would not show: the login rotation (on
//! unless `no_rotation_on_login`) would replace the adopted id. So under `adopts_unknown_ids` a
//! session created under a client-chosen id is marked *adopted*, and login keeps an adopted id
//! (the app takes it as the client's own). Ids the app issued are still rotated, so
//! `fixation-rotation` keeps passing: the switch flips `fixation-strict` alone.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use tokio::sync::oneshot;

#[path = "fixture_api.rs"]
mod api;

/// The only user.
pub(crate) const USER: &str = "alice";
/// Alice's password when the fixture starts.
pub(crate) const PASSWORD: &str = "wonderland";
/// A second account, for the inspector's `[second_user]` (its password never changes).
pub(crate) const SECOND_USER: (&str, &str) = ("bob", "builder");
/// The hardened cookie name.
pub(crate) const HOST_COOKIE: &str = "__Host-sid";
/// The cookie name when the `__Host-` prefix is dropped (`no_prefix`, `no_secure`, `domain_scope`).
pub(crate) const PLAIN_COOKIE: &str = "sid";

/// Each weakness switch, the inspector check it exists to flip, and any other check it cannot
/// help flipping (see the module docs on the cookie name).
pub(crate) const SWITCHES: &[(&str, &str, &[&str])] = &[
    ("no_secure", "cookie-secure", &["cookie-prefix"]),
    ("no_httponly", "cookie-httponly", &[]),
    ("samesite_none", "cookie-samesite", &[]),
    ("no_samesite", "cookie-samesite", &[]),
    ("no_prefix", "cookie-prefix", &[]),
    ("lax_cookie_names", "cookie-name-lookalike", &[]),
    ("first_cookie_wins", "cookie-tossing", &[]),
    ("first_live_cookie_wins", "cookie-tossing", &[]),
    ("domain_scope", "cookie-scope", &["cookie-prefix"]),
    ("predictable_ids", "id-entropy", &[]),
    ("no_rotation_on_login", "fixation-rotation", &[]),
    ("no_login_csrf", "login-csrf", &[]),
    ("adopts_unknown_ids", "fixation-strict", &[]),
    ("logout_keeps_session", "logout-invalidation", &[]),
    (
        "password_change_keeps_others",
        "password-change-invalidation",
        &[],
    ),
    // Without a rotation there is nothing to race: rotation-race goes from warn to pass.
    (
        "no_rotation_on_elevate",
        "privilege-rotation",
        &["rotation-race"],
    ),
    ("id_in_url", "id-in-url", &[]),
    ("cacheable_pages", "cache-control", &[]),
    ("no_idle_timeout", "idle-timeout", &[]),
    ("no_absolute_timeout", "absolute-timeout", &[]),
];

/// What the fixture does wrong. `Weaknesses::default()` is the hardened app.
#[derive(Debug, Clone)]
pub(crate) struct Weaknesses {
    /// The cookie lacks `Secure` (and so is named `sid`, not `__Host-sid`).
    pub(crate) no_secure: bool,
    /// The cookie lacks `HttpOnly`.
    pub(crate) no_httponly: bool,
    /// The cookie says `SameSite=None`.
    pub(crate) samesite_none: bool,
    /// The cookie has no `SameSite` attribute.
    pub(crate) no_samesite: bool,
    /// The cookie is named `sid` (still `Secure`, `Path=/`, no `Domain`).
    pub(crate) no_prefix: bool,
    /// The cookie parser folds names a browser keeps apart into the session cookie's: Unicode
    /// whitespace trimmed (as `str::trim` does), names %-decoded and compared ignoring case.
    pub(crate) lax_cookie_names: bool,
    /// A request carrying the session cookie's name twice is served by the first copy (the
    /// hardened app serves neither).
    pub(crate) first_cookie_wins: bool,
    /// A request carrying the session cookie's name twice is served by the first copy that
    /// names a live session (whoever's it is): a dead copy is skipped, so only a second account
    /// shows the swap.
    pub(crate) first_live_cookie_wins: bool,
    /// The cookie carries `Domain=<request host>` (and so is named `sid`).
    pub(crate) domain_scope: bool,
    /// Ids are a counter: `sess-000001`, `sess-000002`, ...
    pub(crate) predictable_ids: bool,
    /// Login keeps the pre-login id.
    pub(crate) no_rotation_on_login: bool,
    /// Login takes a post without the form's `csrf` field (and from a browser that never loaded
    /// the form): login CSRF.
    pub(crate) no_login_csrf: bool,
    /// Any well-formed id a client sends (1–128 of `[A-Za-z0-9_-]`) is taken, and a session is
    /// created under it; the app counts such an id as the client's own, so login signs in under
    /// it instead of rotating it (ids the app issued itself are still rotated at login). See the
    /// module docs.
    pub(crate) adopts_unknown_ids: bool,
    /// Logout clears the cookie but keeps the server-side session, still signed in.
    pub(crate) logout_keeps_session: bool,
    /// A password change leaves the user's other sessions alive.
    pub(crate) password_change_keeps_others: bool,
    /// Elevation keeps the id.
    pub(crate) no_rotation_on_elevate: bool,
    /// Login redirects to `/account?sid=<id>`, and the id is accepted from the `sid` query
    /// parameter as well as from the cookie.
    pub(crate) id_in_url: bool,
    /// No `Cache-Control` header at all (so none on `/account`).
    pub(crate) cacheable_pages: bool,
    /// Sessions never expire from idleness, whatever `idle_timeout` says.
    pub(crate) no_idle_timeout: bool,
    /// Sessions kept active never end, whatever `absolute_timeout` says.
    pub(crate) no_absolute_timeout: bool,
    /// Not a weakness: how long a session may live, however active (default 12 hours).
    pub(crate) absolute_timeout: Duration,
    /// Not a weakness: how long a session may sit unused. Default 20 s; `None` is the same as
    /// `no_idle_timeout`.
    pub(crate) idle_timeout: Option<Duration>,
    /// Not a weakness: the cookie carries `s%3A<id>.<signature>` as express-session writes it
    /// (characters a redactor must handle: `%`, `.`, `/`, `+`), not the bare id.
    pub(crate) signed_cookie: bool,
    /// Not a weakness: overrides the cookie name (default `__Host-sid`, or `sid` when a switch
    /// rules the prefix out).
    pub(crate) cookie_name: Option<String>,
}

impl Default for Weaknesses {
    fn default() -> Self {
        Self {
            no_secure: false,
            no_httponly: false,
            samesite_none: false,
            no_samesite: false,
            no_prefix: false,
            lax_cookie_names: false,
            first_cookie_wins: false,
            first_live_cookie_wins: false,
            domain_scope: false,
            predictable_ids: false,
            no_rotation_on_login: false,
            no_login_csrf: false,
            adopts_unknown_ids: false,
            logout_keeps_session: false,
            password_change_keeps_others: false,
            no_rotation_on_elevate: false,
            id_in_url: false,
            cacheable_pages: false,
            no_idle_timeout: false,
            no_absolute_timeout: false,
            absolute_timeout: Duration::from_secs(12 * 3600),
            idle_timeout: Some(Duration::from_secs(20)),
            cookie_name: None,
            signed_cookie: false,
        }
    }
}

impl Weaknesses {
    /// The hardened app.
    pub(crate) fn hardened() -> Self {
        Self::default()
    }

    /// The hardened app with the one switch `name` (a name from [`SWITCHES`]) turned on; `None`
    /// for an unknown name.
    pub(crate) fn only(name: &str) -> Option<Self> {
        let mut w = Self::default();
        let flag = match name {
            "no_secure" => &mut w.no_secure,
            "no_httponly" => &mut w.no_httponly,
            "samesite_none" => &mut w.samesite_none,
            "no_samesite" => &mut w.no_samesite,
            "no_prefix" => &mut w.no_prefix,
            "lax_cookie_names" => &mut w.lax_cookie_names,
            "first_cookie_wins" => &mut w.first_cookie_wins,
            "first_live_cookie_wins" => &mut w.first_live_cookie_wins,
            "domain_scope" => &mut w.domain_scope,
            "predictable_ids" => &mut w.predictable_ids,
            "no_rotation_on_login" => &mut w.no_rotation_on_login,
            "no_login_csrf" => &mut w.no_login_csrf,
            "adopts_unknown_ids" => &mut w.adopts_unknown_ids,
            "logout_keeps_session" => &mut w.logout_keeps_session,
            "password_change_keeps_others" => &mut w.password_change_keeps_others,
            "no_rotation_on_elevate" => &mut w.no_rotation_on_elevate,
            "id_in_url" => &mut w.id_in_url,
            "cacheable_pages" => &mut w.cacheable_pages,
            "no_idle_timeout" => &mut w.no_idle_timeout,
            "no_absolute_timeout" => &mut w.no_absolute_timeout,
            _ => return None,
        };
        *flag = true;
        Some(w)
    }

    /// The session cookie's name under these switches.
    pub(crate) fn effective_cookie_name(&self) -> String {
        match &self.cookie_name {
            Some(name) => name.clone(),
            None if self.no_prefix || self.no_secure || self.domain_scope => PLAIN_COOKIE.into(),
            None => HOST_COOKIE.into(),
        }
    }

    /// The idle timeout in force (`None`: sessions never expire from idleness).
    pub(crate) fn effective_idle_timeout(&self) -> Option<Duration> {
        if self.no_idle_timeout {
            None
        } else {
            self.idle_timeout
        }
    }
}

/// A running fixture; the server stops when this is dropped.
pub(crate) struct Fixture {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub(crate) base_url: String,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Fixture {
    /// `base_url` + `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The session cookie's name.
    pub(crate) fn cookie_name(&self) -> &str {
        &self.app.cookie
    }

    /// How many sessions the server holds (expired ones included until they are next touched).
    pub(crate) fn session_count(&self) -> usize {
        self.app.lock().sessions.len()
    }

    /// Alice's current password (the inspector changes it and changes it back).
    pub(crate) fn password(&self) -> String {
        self.app.lock().password.clone()
    }

    /// Every session id the fixture has issued so far.
    #[allow(dead_code)] // used by some of the test crates that include this file
    pub(crate) fn issued_ids(&self) -> Vec<String> {
        self.app.lock().issued.clone()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts the fixture on 127.0.0.1 (a free port) with the given weaknesses.
pub(crate) async fn start(w: Weaknesses) -> Fixture {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let app = Arc::new(App {
        cookie: w.effective_cookie_name(),
        idle: w.effective_idle_timeout(),
        w,
        inner: Mutex::new(Inner {
            sessions: HashMap::new(),
            counter: 0,
            created_since_sweep: 0,
            issued: Vec::new(),
            password: PASSWORD.into(),
        }),
    });
    let router = Router::new()
        .route("/", get(root))
        .route("/public", get(public))
        .route("/login", get(login_form).post(login))
        .route("/account", get(account))
        .route("/logout", axum::routing::post(logout))
        .route("/password", get(password_form).post(change_password))
        .route("/elevate", axum::routing::post(elevate))
        .merge(api::routes())
        .with_state(app.clone());
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Fixture {
        base_url: format!("http://{addr}"),
        addr,
        app,
        shutdown: Some(tx),
    }
}

// ---------------------------------------------------------------------------------------------
// Sessions

struct Session {
    user: Option<String>,
    elevated: bool,
    /// Created under an id the client chose (`adopts_unknown_ids`).
    adopted: bool,
    csrf: String,
    created: Instant,
    last_seen: Instant,
}

impl Session {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            user: None,
            elevated: false,
            adopted: false,
            csrf: random_token(),
            created: now,
            last_seen: now,
        }
    }
}

struct Inner {
    sessions: HashMap<String, Session>,
    counter: u64,
    created_since_sweep: u32,
    /// Every id ever issued, for tests that check no token leaks into a report.
    issued: Vec<String>,
    password: String,
}

struct App {
    w: Weaknesses,
    cookie: String,
    idle: Option<Duration>,
    inner: Mutex<Inner>,
}

type Params = HashMap<String, String>;

/// 256 bits from the OS RNG, base64url without padding (43 characters).
fn random_token() -> String {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).expect("OS RNG");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// The cookie value of `id` with `signed_cookie`: as express-session writes its cookie,
/// `s%3A<id>.<signature>` (URL-encoded `s:`), the signature holding `/` and `+`.
fn signed(id: &str) -> String {
    let sig: String = id.chars().rev().take(10).collect();
    format!("s%3A{id}.{}/{}+x", &sig[..5], &sig[5..])
}

/// The id inside a `signed_cookie` value (the value itself when it is not one).
fn unsigned(value: &str) -> String {
    let value = value.replace("s:", "s%3A");
    value
        .strip_prefix("s%3A")
        .and_then(|rest| rest.split_once('.'))
        .map_or(value.clone(), |(id, _)| id.to_owned())
}

/// What `adopts_unknown_ids` accepts from a client.
fn well_formed(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What the app does with a request that carries its session cookie's name more than once.
#[derive(Clone, Copy)]
enum Duplicates {
    /// Serves none of them (the hardened app).
    Refuse,
    /// Serves the first copy (`first_cookie_wins`).
    First,
    /// Tries each copy in turn and serves the first live session (`first_live_cookie_wins`).
    FirstLive,
}

/// The values of cookie `name` in the request's `Cookie` headers that the app will try, in
/// order: by exact name, or, with `lax`, as a lax parser reads it (Unicode whitespace and a BOM
/// trimmed, %-decoded, any case); a name present twice is handled as `duplicates` says.
fn cookie_values(
    headers: &HeaderMap,
    name: &str,
    lax: bool,
    duplicates: Duplicates,
) -> Vec<String> {
    let fold = |k: &str| -> String {
        let k = k.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        let decoded: String = match k
            .strip_prefix('%')
            .and_then(|r| r.get(..2).map(|h| (h, &r[2..])))
        {
            Some((hex, rest)) => u8::from_str_radix(hex, 16)
                .map(|b| format!("{}{rest}", char::from(b)))
                .unwrap_or_else(|_| k.to_owned()),
            None => k.to_owned(),
        };
        decoded.to_ascii_lowercase()
    };
    let all: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| {
            if lax {
                Some(String::from_utf8_lossy(v.as_bytes()).into_owned())
            } else {
                v.to_str().ok().map(str::to_owned)
            }
        })
        .flat_map(|v| v.split(';').map(str::to_owned).collect::<Vec<_>>())
        .filter_map(|pair| {
            pair.trim_matches([' ', '\t'])
                .split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .filter(|(k, _)| {
            if lax {
                fold(k) == name.to_ascii_lowercase()
            } else {
                k == name
            }
        })
        .map(|(_, v)| v.trim().to_owned())
        .collect();
    match (all.len(), duplicates) {
        (0 | 1, _) | (_, Duplicates::FirstLive) => all,
        (_, Duplicates::First) => all.into_iter().take(1).collect(),
        (_, Duplicates::Refuse) => Vec::new(),
    }
}

/// The request's host name, without the port (for `domain_scope`).
fn request_host(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        return rest.split(']').next().unwrap_or(rest).to_owned();
    }
    host.split(':').next().unwrap_or(host).to_owned()
}

impl App {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh id, never equal to `avoid` (the unknown id the client sent) nor to a live one.
    fn new_id(&self, inner: &mut Inner, avoid: Option<&str>) -> String {
        loop {
            let id = if self.w.predictable_ids {
                inner.counter += 1;
                format!("sess-{:06}", inner.counter)
            } else {
                random_token()
            };
            if Some(id.as_str()) != avoid && !inner.sessions.contains_key(&id) {
                return id;
            }
        }
    }

    /// Stores `session` under a fresh id and returns the id.
    fn create(&self, inner: &mut Inner, session: Session, avoid: Option<&str>) -> String {
        inner.created_since_sweep += 1;
        if inner.created_since_sweep >= 256 {
            inner.created_since_sweep = 0;
            let now = Instant::now();
            inner.sessions.retain(|_, s| !self.expired(s, now));
        }
        let id = self.new_id(inner, avoid);
        inner.sessions.insert(id.clone(), session);
        inner.issued.push(id.clone());
        id
    }

    fn expired(&self, s: &Session, now: Instant) -> bool {
        let idle = self
            .idle
            .is_some_and(|t| now.duration_since(s.last_seen) > t);
        let absolute =
            !self.w.no_absolute_timeout && now.duration_since(s.created) > self.w.absolute_timeout;
        idle || absolute
    }

    /// How this app handles a duplicated session cookie.
    fn duplicates(&self) -> Duplicates {
        if self.w.first_cookie_wins {
            Duplicates::First
        } else if self.w.first_live_cookie_wins {
            Duplicates::FirstLive
        } else {
            Duplicates::Refuse
        }
    }

    /// The ids the request presents, in the order they are tried: the cookie, then (only with
    /// `id_in_url`) the `sid` query parameter.
    fn presented(&self, headers: &HeaderMap, query: &Params) -> Vec<String> {
        let mut ids: Vec<String> = cookie_values(
            headers,
            &self.cookie,
            self.w.lax_cookie_names,
            self.duplicates(),
        );
        if self.w.id_in_url {
            ids.extend(query.get("sid").cloned());
        }
        if self.w.signed_cookie {
            ids = ids.iter().map(|v| unsigned(v)).collect();
        }
        ids
    }

    /// The live session the request presents, touching it; expired ones are deleted on the way.
    /// With `adopts_unknown_ids`, an unknown well-formed cookie id becomes a new session.
    fn current(&self, inner: &mut Inner, headers: &HeaderMap, query: &Params) -> Option<String> {
        let now = Instant::now();
        let presented = self.presented(headers, query);
        for id in &presented {
            let Some(s) = inner.sessions.get_mut(id) else {
                continue;
            };
            if self.expired(s, now) {
                inner.sessions.remove(id);
                continue;
            }
            s.last_seen = now;
            return Some(id.clone());
        }
        if self.w.adopts_unknown_ids {
            if let Some(id) = cookie_values(
                headers,
                &self.cookie,
                self.w.lax_cookie_names,
                self.duplicates(),
            )
            .into_iter()
            .next()
            .filter(|id| well_formed(id))
            {
                let s = Session {
                    adopted: true,
                    ..Session::new()
                };
                inner.sessions.insert(id.clone(), s);
                return Some(id);
            }
        }
        None
    }

    /// The current session, or a new pre-login one. Returns the id and whether the client must
    /// be sent a cookie for it.
    fn current_or_new(
        &self,
        inner: &mut Inner,
        headers: &HeaderMap,
        query: &Params,
    ) -> (String, bool) {
        if let Some(id) = self.current(inner, headers, query) {
            return (id, false);
        }
        let avoid = cookie_values(
            headers,
            &self.cookie,
            self.w.lax_cookie_names,
            self.duplicates(),
        )
        .into_iter()
        .next();
        (self.create(inner, Session::new(), avoid.as_deref()), true)
    }

    /// Moves the session at `old` to a fresh id (a fresh CSRF token too) and returns the new id.
    fn rotate(&self, inner: &mut Inner, old: &str) -> String {
        let mut s = inner.sessions.remove(old).unwrap_or_else(Session::new);
        s.csrf = random_token();
        self.create(inner, s, Some(old))
    }

    /// The `Set-Cookie` value carrying `id` (or clearing the cookie when `id` is `None`).
    fn set_cookie(&self, headers: &HeaderMap, id: Option<&str>) -> String {
        let value = match id {
            Some(id) if self.w.signed_cookie => signed(id),
            Some(id) => id.to_owned(),
            None => String::new(),
        };
        let mut c = format!("{}={value}; Path=/", self.cookie);
        if self.w.domain_scope {
            c.push_str("; Domain=");
            c.push_str(&request_host(headers));
        }
        if !self.w.no_secure {
            c.push_str("; Secure");
        }
        if !self.w.no_httponly {
            c.push_str("; HttpOnly");
        }
        if self.w.samesite_none {
            c.push_str("; SameSite=None");
        } else if !self.w.no_samesite {
            c.push_str("; SameSite=Lax");
        }
        if id.is_none() {
            c.push_str("; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        }
        c
    }

    /// A response with the caching header the switches call for, plus `Set-Cookie` if given.
    fn respond(
        &self,
        status: StatusCode,
        set_cookie: Option<String>,
        location: Option<String>,
        body: Option<String>,
    ) -> Response {
        let mut b = Response::builder().status(status);
        if !self.w.cacheable_pages {
            b = b.header(header::CACHE_CONTROL, "no-store");
        }
        if let Some(c) = set_cookie {
            b = b.header(header::SET_COOKIE, c);
        }
        if let Some(l) = location {
            b = b.header(header::LOCATION, l);
        }
        let body = match body {
            Some(html) => {
                b = b.header(header::CONTENT_TYPE, "text/html; charset=utf-8");
                html
            }
            None => String::new(),
        };
        b.body(axum::body::Body::from(body))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    }

    fn redirect(&self, to: &str, set_cookie: Option<String>) -> Response {
        self.respond(StatusCode::SEE_OTHER, set_cookie, Some(to.into()), None)
    }
}

/// The `csrf` field matches the session's token.
fn csrf_ok(inner: &Inner, id: &str, form: &Params) -> bool {
    match (inner.sessions.get(id), form.get("csrf")) {
        (Some(s), Some(t)) => !t.is_empty() && s.csrf == *t,
        _ => false,
    }
}

/// The signed-in user of session `id`.
fn user_of(inner: &Inner, id: &str) -> Option<String> {
    inner.sessions.get(id).and_then(|s| s.user.clone())
}

fn csrf_of(inner: &Inner, id: &str) -> String {
    inner
        .sessions
        .get(id)
        .map(|s| s.csrf.clone())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Pages

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body><h1>{title}</h1>\n{body}\n</body></html>\n"
    )
}

fn login_page(csrf: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\">{e}</p>\n"))
        .unwrap_or_default();
    page(
        "Sign in",
        &format!(
            "{error}<form method=\"post\" action=\"/login\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
             <label>Username <input type=\"text\" name=\"username\" autocomplete=\"username\"></label>\n\
             <label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\"></label>\n\
             <button type=\"submit\">Sign in</button>\n</form>\n<p><a href=\"/public\">Public page</a></p>"
        ),
    )
}

fn account_page(user: &str, elevated: bool, csrf: &str) -> String {
    let level = if elevated { "elevated" } else { "standard" };
    page(
        "Account",
        &format!(
            "<p>Signed in as <b>{user}</b> ({level} privileges).</p>\n\
             <form method=\"post\" action=\"/elevate\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
             <label>Confirm password <input type=\"password\" name=\"password\"></label>\n\
             <button type=\"submit\">Elevate</button>\n</form>\n\
             <form method=\"post\" action=\"/logout\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
             <button type=\"submit\">Sign out</button>\n</form>\n\
             <p><a href=\"/password\">Change password</a> · <a href=\"/public\">Public page</a></p>"
        ),
    )
}

fn password_page(csrf: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\">{e}</p>\n"))
        .unwrap_or_default();
    page(
        "Change password",
        &format!(
            "{error}<form method=\"post\" action=\"/password\">\n\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
             <label>Current password <input type=\"password\" name=\"old_password\"></label>\n\
             <label>New password <input type=\"password\" name=\"new_password\"></label>\n\
             <button type=\"submit\">Change</button>\n</form>\n<p><a href=\"/account\">Back</a></p>"
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// Handlers

type AppState = State<Arc<App>>;

async fn root(State(app): AppState) -> Response {
    app.redirect("/account", None)
}

async fn public() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page("Public", "<p>Anyone may read this page.</p>"),
    )
        .into_response()
}

async fn login_form(State(app): AppState, headers: HeaderMap, Query(q): Query<Params>) -> Response {
    let mut inner = app.lock();
    let (id, new) = app.current_or_new(&mut inner, &headers, &q);
    let csrf = csrf_of(&inner, &id);
    let cookie = new.then(|| app.set_cookie(&headers, Some(&id)));
    app.respond(StatusCode::OK, cookie, None, Some(login_page(&csrf, None)))
}

async fn login(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Params>,
    Form(f): Form<Params>,
) -> Response {
    let mut inner = app.lock();
    let (id, new) = app.current_or_new(&mut inner, &headers, &q);
    let cookie = new.then(|| app.set_cookie(&headers, Some(&id)));
    if !app.w.no_login_csrf && (new || !csrf_ok(&inner, &id, &f)) {
        let csrf = csrf_of(&inner, &id);
        let body = login_page(&csrf, Some("The form expired; please try again."));
        return app.respond(StatusCode::FORBIDDEN, cookie, None, Some(body));
    }
    let username = f.get("username").map(String::as_str).unwrap_or_default();
    let password = f.get("password").map(String::as_str).unwrap_or_default();
    let signed_in = match username {
        USER => (password == inner.password).then_some(USER),
        u if u == SECOND_USER.0 => (password == SECOND_USER.1).then_some(SECOND_USER.0),
        _ => None,
    };
    let Some(user) = signed_in else {
        let csrf = csrf_of(&inner, &id);
        let body = login_page(&csrf, Some("Wrong username or password."));
        return app.respond(StatusCode::UNAUTHORIZED, None, None, Some(body));
    };
    let adopted = inner.sessions.get(&id).is_some_and(|s| s.adopted);
    let (id, cookie) = if app.w.no_rotation_on_login || adopted {
        if let Some(s) = inner.sessions.get_mut(&id) {
            s.csrf = random_token();
        }
        (id, None)
    } else {
        let new_id = app.rotate(&mut inner, &id);
        let c = app.set_cookie(&headers, Some(&new_id));
        (new_id, Some(c))
    };
    if let Some(s) = inner.sessions.get_mut(&id) {
        s.user = Some(user.into());
        s.elevated = false;
    }
    let to = if app.w.id_in_url {
        // The token as the cookie carries it.
        let token = if app.w.signed_cookie {
            signed(&id)
        } else {
            id.clone()
        };
        format!("/account?sid={token}")
    } else {
        "/account".into()
    };
    app.redirect(&to, cookie)
}

async fn account(State(app): AppState, headers: HeaderMap, Query(q): Query<Params>) -> Response {
    let mut inner = app.lock();
    let Some(id) = app.current(&mut inner, &headers, &q) else {
        return app.redirect("/login", None);
    };
    let Some(user) = user_of(&inner, &id) else {
        return app.redirect("/login", None);
    };
    let elevated = inner.sessions.get(&id).is_some_and(|s| s.elevated);
    let body = account_page(&user, elevated, &csrf_of(&inner, &id));
    app.respond(StatusCode::OK, None, None, Some(body))
}

async fn logout(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Params>,
    Form(f): Form<Params>,
) -> Response {
    let mut inner = app.lock();
    let clear = app.set_cookie(&headers, None);
    let Some(id) = app.current(&mut inner, &headers, &q) else {
        return app.redirect("/login", Some(clear));
    };
    if !csrf_ok(&inner, &id, &f) {
        return app.respond(
            StatusCode::FORBIDDEN,
            None,
            None,
            Some(page("Forbidden", "<p>Bad CSRF token.</p>")),
        );
    }
    if !app.w.logout_keeps_session {
        inner.sessions.remove(&id);
    }
    app.redirect("/login", Some(clear))
}

async fn password_form(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Params>,
) -> Response {
    let mut inner = app.lock();
    match app.current(&mut inner, &headers, &q) {
        Some(id) if user_of(&inner, &id).is_some() => {
            let body = password_page(&csrf_of(&inner, &id), None);
            app.respond(StatusCode::OK, None, None, Some(body))
        }
        _ => app.redirect("/login", None),
    }
}

async fn change_password(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Params>,
    Form(f): Form<Params>,
) -> Response {
    let mut inner = app.lock();
    let Some((id, user)) = app
        .current(&mut inner, &headers, &q)
        .and_then(|id| user_of(&inner, &id).map(|u| (id, u)))
    else {
        return app.redirect("/login", None);
    };
    let csrf = csrf_of(&inner, &id);
    if !csrf_ok(&inner, &id, &f) {
        return app.respond(
            StatusCode::FORBIDDEN,
            None,
            None,
            Some(password_page(&csrf, Some("Bad CSRF token."))),
        );
    }
    let old_ok = f.get("old_password").is_some_and(|p| *p == inner.password);
    let new = f.get("new_password").cloned().unwrap_or_default();
    if !old_ok || new.is_empty() {
        let body = password_page(
            &csrf,
            Some("Wrong current password, or empty new password."),
        );
        return app.respond(StatusCode::FORBIDDEN, None, None, Some(body));
    }
    inner.password = new;
    if !app.w.password_change_keeps_others {
        inner
            .sessions
            .retain(|sid, s| *sid == id || s.user.as_deref() != Some(user.as_str()));
    }
    app.redirect("/account", None)
}

async fn elevate(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Params>,
    Form(f): Form<Params>,
) -> Response {
    let mut inner = app.lock();
    let Some(id) = app
        .current(&mut inner, &headers, &q)
        .filter(|id| user_of(&inner, id).is_some())
    else {
        return app.redirect("/login", None);
    };
    if !csrf_ok(&inner, &id, &f) {
        return app.respond(
            StatusCode::FORBIDDEN,
            None,
            None,
            Some(page("Forbidden", "<p>Bad CSRF token.</p>")),
        );
    }
    let password_ok = f.get("password").is_some_and(|p| *p == inner.password);
    if !password_ok {
        return app.respond(
            StatusCode::FORBIDDEN,
            None,
            None,
            Some(page("Forbidden", "<p>Wrong password.</p>")),
        );
    }
    let (id, cookie) = if app.w.no_rotation_on_elevate {
        (id, None)
    } else {
        let new_id = app.rotate(&mut inner, &id);
        let c = app.set_cookie(&headers, Some(&new_id));
        (new_id, Some(c))
    };
    if let Some(s) = inner.sessions.get_mut(&id) {
        s.elevated = true;
    }
    app.redirect("/account", cookie)
}
