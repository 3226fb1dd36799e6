//! A browser-like HTTP user of `tessera demo` for the integration tests.
#![allow(dead_code)]

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode};

use super::Server;

pub(crate) const NAME: &str = "__Host-session";
pub(crate) const PRE: &str = "__Host-session-pre";

pub(crate) fn client() -> Client {
    tessera_inspect::agent::ensure_tls_provider();
    Client::builder().redirect(Policy::none()).build().unwrap()
}

/// A browser-like user: the session cookie and the pre-session cookie (the login page's CSRF
/// nonce), forms with their CSRF field.
pub(crate) struct User<'a> {
    server: &'a Server,
    http: Client,
    pub(crate) cookie: Option<String>,
    pub(crate) pre: Option<String>,
}

impl<'a> User<'a> {
    pub(crate) fn new(server: &'a Server) -> Self {
        User {
            server,
            http: client(),
            cookie: None,
            pre: None,
        }
    }

    /// The `Cookie` header this user sends, if any.
    pub(crate) fn cookie_header(&self) -> Option<String> {
        let pairs: Vec<String> = [(NAME, &self.cookie), (PRE, &self.pre)]
            .into_iter()
            .filter_map(|(n, v)| v.as_ref().map(|v| format!("{n}={v}")))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base)
    }

    /// Applies the response's Set-Cookies to the jar: at most one per cookie, and no other
    /// cookie than the session and pre-session ones.
    pub(crate) fn absorb(&mut self, resp: &Response) {
        let set: Vec<_> = resp.headers().get_all(SET_COOKIE).iter().collect();
        assert!(set.len() <= 2, "more than two Set-Cookies: {set:?}");
        let mut seen = Vec::new();
        for v in set {
            let pair = v.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').expect("name=value");
            assert!(!seen.contains(&name.to_owned()), "{name} set twice");
            seen.push(name.to_owned());
            let value = (!value.is_empty()).then(|| value.to_owned());
            match name {
                NAME => self.cookie = value,
                PRE => self.pre = value,
                other => panic!("unexpected cookie {other}"),
            }
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> (StatusCode, String, Response) {
        let mut req = self.http.get(self.url(path));
        if let Some(c) = self.cookie_header() {
            req = req.header(COOKIE, c);
        }
        let resp = req.send().await.unwrap();
        self.absorb(&resp);
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.text().await.unwrap();
        (status, body, fake_response(status, headers))
    }

    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some(c) = self.cookie_header() {
            req = req.header(COOKIE, c);
        }
        let resp = req.send().await.unwrap();
        self.absorb(&resp);
        resp
    }

    /// GETs `page`, then POSTs its form with `fields` and the page's CSRF token.
    pub(crate) async fn submit(
        &mut self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> Response {
        let (status, html, _) = self.get(page).await;
        assert_eq!(status, StatusCode::OK, "GET {page}");
        let csrf = csrf_of(&html);
        let mut form = fields.to_vec();
        form.push(("csrf", &csrf));
        self.post(action, &form).await
    }

    pub(crate) async fn login(&mut self, user: &str, password: &str) -> Response {
        self.submit(
            "/login",
            "/login",
            &[("username", user), ("password", password)],
        )
        .await
    }
}

pub(crate) fn fake_response(status: StatusCode, headers: reqwest::header::HeaderMap) -> Response {
    let mut b = http::Response::builder().status(status);
    for (k, v) in &headers {
        b = b.header(k, v);
    }
    Response::from(b.body(Vec::<u8>::new()).unwrap())
}

pub(crate) fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a csrf field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// What /account says to a bare cookie value, without following redirects.
pub(crate) async fn account_with(server: &Server, cookie: &str) -> (StatusCode, Option<String>) {
    let resp = client()
        .get(format!("{}/account", server.base))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    let location = resp
        .headers()
        .get(LOCATION)
        .map(|l| l.to_str().unwrap().to_owned());
    (resp.status(), location)
}
