//! The target file: which app to audit and how to sign in to it (format in docs/inspect.md).
//!
//! Every error names the file, the line and the key, so a typo is fixed in one look.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// Largest target file accepted.
pub const MAX_TARGET_BYTES: usize = 64 * 1024;

/// Why a target file was refused: `FILE:LINE: KEY: reason`, on one line, with any control or
/// bidi character of the file (a key can hold an escape sequence) shown escaped, never raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// The key at fault (dotted, e.g. `login.path`), or `-` for the file as a whole.
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::report::text::clean;
        write!(
            f,
            "{}:{}: {}: {}",
            clean(&self.file),
            self.line,
            clean(&self.key),
            clean(&self.reason)
        )
    }
}

impl std::error::Error for TargetError {}

/// A request the inspector makes as part of a flow (login, logout, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormStep {
    /// A page to GET first, keeping its cookies and the hidden inputs of its form.
    pub form_page: Option<String>,
    /// `GET` or `POST`.
    pub method: Method,
    /// Where the form is submitted.
    pub path: String,
    /// Fields to submit (on top of the form's hidden inputs, for a form body).
    pub fields: BTreeMap<String, String>,
    /// How the fields travel: form-encoded (a page's form) or as a JSON object (an API).
    pub body: Body,
    /// Where the step's anti-CSRF token comes from and where it goes, for APIs that do not
    /// use a form's hidden field.
    pub csrf: Option<Csrf>,
}

/// How a step's fields are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Body {
    /// `application/x-www-form-urlencoded`, with the form page's hidden inputs.
    #[default]
    Form,
    /// `application/json`: one object of the fields, as strings.
    Json,
}

/// An anti-CSRF token a step must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csrf {
    /// Where it is read.
    pub from: CsrfFrom,
    /// Where it is sent.
    pub send: CsrfSend,
}

/// Where an anti-CSRF token is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsrfFrom {
    /// A cookie the app set (double submit): its name.
    Cookie(String),
    /// A JSON endpoint: GET `path`, then the string at `field` (dots walk into objects).
    Json {
        /// The endpoint.
        path: String,
        /// The field, e.g. `csrfToken` or `data.csrf`.
        field: String,
    },
}

/// Where an anti-CSRF token is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsrfSend {
    /// In this request header.
    Header(String),
    /// As this field of the body.
    Field(String),
}

/// An HTTP method a flow may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET (fields go in the query string).
    Get,
    /// POST (fields form-encoded in the body).
    Post,
}

/// How to tell a signed-in request from a signed-out one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCheck {
    /// The page to request.
    pub path: String,
    /// The status a signed-in request gets (redirects are not followed for this check).
    pub expect_status: u16,
    /// Text the signed-in page contains.
    pub expect_body: Option<String>,
}

/// A destructive password change and its revert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordChange {
    /// The change.
    pub change: FormStep,
    /// Fields that change the password back.
    pub revert_fields: BTreeMap<String, String>,
}

/// A second account: its login fields, and text only its signed-in page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondUser {
    /// Fields for the login step (replacing `[login] fields`).
    pub fields: BTreeMap<String, String>,
    /// Text the second account's signed-in page contains and the first's does not.
    pub expect_body: String,
}

/// A validated target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Scheme, host and port of the app; the only origin ever contacted.
    pub base_url: url::Url,
    /// Accept a self-signed certificate.
    pub tls_insecure: bool,
    /// The session cookie's name, if given.
    pub session_cookie: Option<String>,
    /// How to sign in.
    pub login: FormStep,
    /// How to tell signed in from signed out.
    pub authenticated: AuthCheck,
    /// How to sign out.
    pub logout: FormStep,
    /// A password change, if configured.
    pub password_change: Option<PasswordChange>,
    /// A trust transition (step-up, role change), if configured.
    pub privilege: Option<FormStep>,
    /// The idle timeout the app promises, if configured.
    pub idle_timeout: Option<Duration>,
    /// A second account, signed in through the same login step, for the checks that need an
    /// attacker's own valid session (`cookie-tossing`).
    pub second_user: Option<SecondUser>,
    /// The absolute session lifetime the app promises, if configured (checked only with
    /// `--long`: the check waits that long).
    pub absolute_timeout: Option<Duration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    base_url: Spanned<String>,
    #[serde(default)]
    tls_insecure: bool,
    session_cookie: Option<Spanned<String>>,
    login: Spanned<RawStep>,
    authenticated: Spanned<RawAuth>,
    logout: Spanned<RawStep>,
    password_change: Option<Spanned<RawPassword>>,
    privilege: Option<Spanned<RawStep>>,
    second_user: Option<Spanned<RawSecondUser>>,
    expiry: Option<RawExpiry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecondUser {
    fields: BTreeMap<String, String>,
    expect_body: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    form_page: Option<Spanned<String>>,
    method: Option<Spanned<String>>,
    path: Spanned<String>,
    #[serde(default)]
    fields: BTreeMap<String, String>,
    body: Option<Spanned<String>>,
    csrf: Option<Spanned<RawCsrf>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCsrf {
    from: String,
    name: Option<String>,
    path: Option<Spanned<String>>,
    field: Option<String>,
    header: Option<String>,
    body_field: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    path: Spanned<String>,
    expect_status: Option<Spanned<i64>>,
    expect_body: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPassword {
    form_page: Option<Spanned<String>>,
    method: Option<Spanned<String>>,
    path: Spanned<String>,
    fields: BTreeMap<String, String>,
    revert_fields: BTreeMap<String, String>,
    body: Option<Spanned<String>>,
    csrf: Option<Spanned<RawCsrf>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpiry {
    idle_timeout: Option<Spanned<i64>>,
    absolute_timeout: Option<Spanned<i64>>,
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text
            .get(..end)
            .map_or(1, |before| before.matches('\n').count() + 1)
    }

    fn err<T>(
        &self,
        offset: usize,
        key: &str,
        reason: impl Into<String>,
    ) -> Result<T, TargetError> {
        Err(TargetError {
            file: self.file.to_owned(),
            line: self.line_of(offset),
            key: key.to_owned(),
            reason: reason.into(),
        })
    }

    fn path(&self, s: &Spanned<String>, key: &str) -> Result<String, TargetError> {
        let p = s.get_ref();
        // A browser's URL parser reads `\` as `/` in http(s) URLs, so `/\\host` would be
        // `//host`: another origin. Refused here, as an input error, before any request.
        if !p.starts_with('/') || p.starts_with("//") || p.contains('\\') {
            return self.err(
                s.span().start,
                key,
                "must be a path on the target, starting with one / (and no \\)",
            );
        }
        if p.chars().any(|c| c.is_control() || c == ' ' || c == '#') {
            return self.err(
                s.span().start,
                key,
                "must not contain spaces, control characters or #",
            );
        }
        Ok(p.clone())
    }

    fn method(&self, s: Option<&Spanned<String>>, key: &str) -> Result<Method, TargetError> {
        match s.map(|m| (m.get_ref().to_ascii_uppercase(), m.span().start)) {
            None => Ok(Method::Post),
            Some((m, _)) if m == "POST" => Ok(Method::Post),
            Some((m, _)) if m == "GET" => Ok(Method::Get),
            Some((_, at)) => self.err(at, key, "must be GET or POST"),
        }
    }

    #[allow(clippy::too_many_arguments)] // one per key of a step table
    fn step(
        &self,
        table: &str,
        form_page: Option<&Spanned<String>>,
        method: Option<&Spanned<String>>,
        path: &Spanned<String>,
        fields: &BTreeMap<String, String>,
        body: Option<&Spanned<String>>,
        csrf: Option<&Spanned<RawCsrf>>,
    ) -> Result<FormStep, TargetError> {
        let method = self.method(method, &format!("{table}.method"))?;
        let body = match body.map(|b| (b.get_ref().as_str(), b.span().start)) {
            None | Some(("form", _)) => Body::Form,
            Some(("json", at)) if method == Method::Get => {
                return self.err(at, &format!("{table}.body"), "json needs method POST")
            }
            Some(("json", _)) => Body::Json,
            Some((_, at)) => return self.err(at, &format!("{table}.body"), "must be form or json"),
        };
        Ok(FormStep {
            form_page: form_page
                .map(|p| self.path(p, &format!("{table}.form_page")))
                .transpose()?,
            method,
            path: self.path(path, &format!("{table}.path"))?,
            fields: fields.clone(),
            body,
            csrf: csrf.map(|c| self.csrf(c, table)).transpose()?,
        })
    }

    /// A `[login]`, `[logout]` or `[privilege]` table as a step.
    fn raw_step(&self, table: &str, r: &RawStep) -> Result<FormStep, TargetError> {
        self.step(
            table,
            r.form_page.as_ref(),
            r.method.as_ref(),
            &r.path,
            &r.fields,
            r.body.as_ref(),
            r.csrf.as_ref(),
        )
    }

    /// Whole seconds from 1 to `max`, if given.
    fn seconds(
        &self,
        v: Option<&Spanned<i64>>,
        key: &str,
        max: u64,
    ) -> Result<Option<Duration>, TargetError> {
        let Some(v) = v else { return Ok(None) };
        match u64::try_from(*v.get_ref()) {
            Ok(secs) if (1..=max).contains(&secs) => Ok(Some(Duration::from_secs(secs))),
            _ => self.err(
                v.span().start,
                key,
                format!("must be whole seconds between 1 and {max}"),
            ),
        }
    }

    fn csrf(&self, c: &Spanned<RawCsrf>, table: &str) -> Result<Csrf, TargetError> {
        let (r, at) = (c.get_ref(), c.span().start);
        let key = format!("{table}.csrf");
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_graphic() && !b";,=\"\\:".contains(&b))
        };
        let from = match r.from.as_str() {
            "cookie" => match &r.name {
                Some(n) if name_ok(n) => CsrfFrom::Cookie(n.clone()),
                _ => return self.err(at, &key, "from = \"cookie\" needs name, a cookie name"),
            },
            "json" => match (&r.path, &r.field) {
                (Some(p), Some(f)) if !f.is_empty() => CsrfFrom::Json {
                    path: self.path(p, &format!("{key}.path"))?,
                    field: f.clone(),
                },
                _ => {
                    return self.err(
                        at,
                        &key,
                        "from = \"json\" needs path (the endpoint) and field",
                    )
                }
            },
            _ => return self.err(at, &key, "from must be \"cookie\" or \"json\""),
        };
        let send = match (&r.header, &r.body_field) {
            (Some(h), None) if name_ok(h) => CsrfSend::Header(h.clone()),
            (None, Some(f)) if !f.is_empty() => CsrfSend::Field(f.clone()),
            _ => {
                return self.err(
                    at,
                    &key,
                    "needs exactly one of header (a header name) or body_field",
                )
            }
        };
        Ok(Csrf { from, send })
    }
}

impl Target {
    /// Reads and validates a target file.
    pub fn load(path: &Path) -> Result<Self, TargetError> {
        let file = path.display().to_string();
        let whole = |reason: String| TargetError {
            file: file.clone(),
            line: 1,
            key: "-".into(),
            reason,
        };
        // Read at most one byte past the limit whatever the file claims: /dev/zero and pipes
        // report a size of 0.
        use std::io::Read as _;
        let file_handle =
            std::fs::File::open(path).map_err(|e| whole(format!("cannot read: {e}")))?;
        let mut bytes = Vec::new();
        file_handle
            .take(MAX_TARGET_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| whole(format!("cannot read: {e}")))?;
        if bytes.len() > MAX_TARGET_BYTES {
            return Err(whole(format!("larger than {MAX_TARGET_BYTES} bytes")));
        }
        let text = String::from_utf8(bytes).map_err(|_| whole("is not UTF-8 text".into()))?;
        Self::parse(&text, &file)
    }

    /// Parses and validates target-file text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, TargetError> {
        let ctx = Ctx { file, text };
        if text.len() > MAX_TARGET_BYTES {
            return ctx.err(0, "-", format!("larger than {MAX_TARGET_BYTES} bytes"));
        }
        let raw: Raw = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                let at = e.span().map_or(0, |s| s.start);
                let message = e.message().trim().replace('\n', " ");
                let key = key_in(&message).unwrap_or_else(|| "-".into());
                return ctx.err(at, &key, message);
            }
        };
        let base_url = {
            let s = &raw.base_url;
            let at = s.span().start;
            let url = match url::Url::parse(s.get_ref()) {
                Ok(u) => u,
                Err(e) => return ctx.err(at, "base_url", format!("not a URL ({e})")),
            };
            if !matches!(url.scheme(), "http" | "https") {
                return ctx.err(at, "base_url", "must be an http:// or https:// URL");
            }
            if url.host_str().is_none_or(str::is_empty) {
                return ctx.err(at, "base_url", "must name a host");
            }
            if !url.username().is_empty() || url.password().is_some() {
                return ctx.err(at, "base_url", "must not carry credentials");
            }
            if url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
                return ctx.err(
                    at,
                    "base_url",
                    "must be an origin only (scheme, host, port), with paths in the tables",
                );
            }
            url
        };
        let session_cookie = match &raw.session_cookie {
            Some(s)
                if s.get_ref().is_empty()
                    || !s
                        .get_ref()
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && !b";,=\"\\".contains(&b)) =>
            {
                return ctx.err(
                    s.span().start,
                    "session_cookie",
                    "is not a valid cookie name",
                );
            }
            Some(s) => Some(s.get_ref().clone()),
            None => None,
        };
        let login = ctx.raw_step("login", raw.login.get_ref())?;
        if login.fields.is_empty() {
            return ctx.err(
                raw.login.span().start,
                "login.fields",
                "must give the credentials to submit",
            );
        }
        let a = raw.authenticated.get_ref();
        let expect_status = match &a.expect_status {
            None => 200,
            Some(s) => match u16::try_from(*s.get_ref()) {
                Ok(code @ 100..=599) => code,
                _ => {
                    return ctx.err(
                        s.span().start,
                        "authenticated.expect_status",
                        "must be an HTTP status (100-599)",
                    )
                }
            },
        };
        let authenticated = AuthCheck {
            path: ctx.path(&a.path, "authenticated.path")?,
            expect_status,
            expect_body: a.expect_body.clone().filter(|b| !b.is_empty()),
        };
        let logout = ctx.raw_step("logout", raw.logout.get_ref())?;
        let password_change = match &raw.password_change {
            None => None,
            Some(p) => {
                let r = p.get_ref();
                if r.fields.is_empty() || r.revert_fields.is_empty() {
                    return ctx.err(
                        p.span().start,
                        "password_change",
                        "needs both fields and revert_fields (the change is always reverted)",
                    );
                }
                Some(PasswordChange {
                    change: ctx.step(
                        "password_change",
                        r.form_page.as_ref(),
                        r.method.as_ref(),
                        &r.path,
                        &r.fields,
                        r.body.as_ref(),
                        r.csrf.as_ref(),
                    )?,
                    revert_fields: r.revert_fields.clone(),
                })
            }
        };
        let privilege = raw
            .privilege
            .as_ref()
            .map(|p| ctx.raw_step("privilege", p.get_ref()))
            .transpose()?;
        let second_user =
            match &raw.second_user {
                None => None,
                Some(u) => {
                    let r = u.get_ref();
                    let at = u.span().start;
                    if r.fields.is_empty() {
                        return ctx.err(
                            at,
                            "second_user.fields",
                            "must give the second account's login fields",
                        );
                    }
                    if r.expect_body.is_empty() {
                        return ctx.err(
                            at,
                            "second_user.expect_body",
                            "must be text only the second account's page shows",
                        );
                    }
                    match &authenticated.expect_body {
                        None => return ctx.err(
                            at,
                            "authenticated.expect_body",
                            "is needed with [second_user], to tell the two accounts' pages apart",
                        ),
                        Some(first)
                            if first.contains(&r.expect_body)
                                || r.expect_body.contains(first.as_str()) =>
                        {
                            return ctx.err(
                                at,
                                "second_user.expect_body",
                                "must not contain, or be contained in, authenticated.expect_body",
                            )
                        }
                        Some(_) => {}
                    }
                    if r.fields == login.fields {
                        return ctx.err(
                            at,
                            "second_user.fields",
                            "are the first account's: give another account's",
                        );
                    }
                    Some(SecondUser {
                        fields: r.fields.clone(),
                        expect_body: r.expect_body.clone(),
                    })
                }
            };
        let expiry = raw.expiry.as_ref();
        let idle_timeout = ctx.seconds(
            expiry.and_then(|e| e.idle_timeout.as_ref()),
            "expiry.idle_timeout",
            86_400,
        )?;
        // Up to a week: lifetimes of a working day or a day are common.
        let absolute_timeout = ctx.seconds(
            expiry.and_then(|e| e.absolute_timeout.as_ref()),
            "expiry.absolute_timeout",
            604_800,
        )?;
        Ok(Self {
            base_url,
            tls_insecure: raw.tls_insecure,
            session_cookie,
            login,
            authenticated,
            logout,
            password_change,
            privilege,
            second_user,
            idle_timeout,
            absolute_timeout,
        })
    }
}

/// Whether a form or JSON field's name says it holds a password (or a secret like one):
/// `password`, `old_password`, `passwd`, WordPress' `pwd`, `secret`, `pin`.
pub fn is_password_field(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("pass") || n.contains("pwd") || n.contains("secret") || n == "pin"
}

impl Target {
    /// Every value of a field whose name says password, in every step of the file: what the
    /// recorded exchanges show as `[password]`.
    pub fn password_values(&self) -> Vec<String> {
        let mut maps = vec![&self.login.fields, &self.logout.fields];
        if let Some(p) = &self.password_change {
            maps.extend([&p.change.fields, &p.revert_fields]);
        }
        if let Some(p) = &self.privilege {
            maps.push(&p.fields);
        }
        if let Some(u) = &self.second_user {
            maps.push(&u.fields);
        }
        let mut values: Vec<String> = maps
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(|(k, _)| is_password_field(k))
            .map(|(_, v)| v.clone())
            // Shorter ones would blank out unrelated text; form fields named like a password
            // are redacted whatever their length.
            .filter(|v| v.chars().count() >= 4)
            .collect();
        values.sort();
        values.dedup();
        values
    }
}

/// The key a serde message names, e.g. "missing field `path`" → `path`.
fn key_in(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message.get(start..)?.find('`')?;
    match message.get(start..start + len)? {
        "" => Some("\"\"".to_owned()), // an empty key, as TOML writes it
        key => Some(key.to_owned()),
    }
}

#[cfg(test)]
mod tests;
