//! The target file's parser: the documented example, errors naming file, line and key, JSON
//! steps, and hostile files.

use super::*;

const GOOD: &str = r#"base_url = "http://127.0.0.1:18001"
[login]
form_page = "/login"
method = "POST"
path = "/login"
fields = { username = "alice", password = "wonderland" }
[authenticated]
path = "/account"
expect_status = 200
expect_body = "alice"
[logout]
method = "POST"
path = "/logout"
form_page = "/account"
[password_change]
form_page = "/password"
path = "/password"
fields = { old_password = "wonderland", new_password = "looking-glass-1" }
revert_fields = { old_password = "looking-glass-1", new_password = "wonderland" }
[privilege]
method = "POST"
path = "/elevate"
[second_user]
fields = { username = "bob", password = "builder" }
expect_body = "bob"
[expiry]
idle_timeout = 20
absolute_timeout = 3600
"#;

#[test]
fn the_documented_example_parses() {
    let t = Target::parse(GOOD, "t.toml").unwrap();
    assert_eq!(t.base_url.as_str(), "http://127.0.0.1:18001/");
    assert_eq!(
        t.login.fields.get("username").map(String::as_str),
        Some("alice")
    );
    assert_eq!(t.logout.form_page.as_deref(), Some("/account"));
    assert_eq!(t.idle_timeout, Some(Duration::from_secs(20)));
    assert_eq!(t.absolute_timeout, Some(Duration::from_secs(3600)));
    assert_eq!(
        t.second_user.as_ref().map(|u| u.expect_body.as_str()),
        Some("bob")
    );
    let t = Target::parse(&GOOD.replace("idle_timeout = 20\n", ""), "t.toml").unwrap();
    assert_eq!((t.idle_timeout, t.absolute_timeout.is_some()), (None, true));
    assert!(t.password_change.is_some() && t.privilege.is_some());
    assert!(!t.tls_insecure);
}

fn error(text: &str) -> TargetError {
    Target::parse(text, "t.toml").unwrap_err()
}

#[test]
fn errors_name_file_line_and_key() {
    let e = error(&GOOD.replace("path = \"/login\"", "path = \"login\""));
    assert_eq!((e.line, e.key.as_str()), (5, "login.path"), "{e}");
    assert!(e.to_string().starts_with("t.toml:5: login.path: "), "{e}");
    let e = error(&GOOD.replace("http://127.0.0.1:18001", "ftp://x"));
    assert_eq!((e.line, e.key.as_str()), (1, "base_url"));
    let e = error(&GOOD.replace("idle_timeout = 20", "idle_timeout = -5"));
    assert_eq!((e.line, e.key.as_str()), (27, "expiry.idle_timeout"), "{e}");
    let e = error(&GOOD.replace("absolute_timeout = 3600", "absolute_timeout = 0"));
    assert_eq!(
        (e.line, e.key.as_str()),
        (28, "expiry.absolute_timeout"),
        "{e}"
    );
    let e = error(&GOOD.replace("expect_body = \"bob\"", "expect_body = \"alice\""));
    assert_eq!(e.key, "second_user.expect_body", "{e}");
    let e = error(&GOOD.replace("expect_body = \"alice\"\n", ""));
    assert_eq!(e.key, "authenticated.expect_body", "{e}");
    let e = error(&GOOD.replace(
        "username = \"bob\", password = \"builder\"",
        "username = \"alice\", password = \"wonderland\"",
    ));
    assert_eq!(e.key, "second_user.fields", "{e}");
    let e = error(&GOOD.replace("expect_status = 200", "expect_status = 999"));
    assert_eq!((e.line, e.key.as_str()), (9, "authenticated.expect_status"));
    let e = error(&GOOD.replace(
        "method = \"POST\"\npath = \"/elevate\"",
        "method = \"DELETE\"\npath = \"/elevate\"",
    ));
    assert_eq!(e.key, "privilege.method", "{e}");
    let e = error(&GOOD.replace("[expiry]", "colour = true\n[expiry]"));
    assert_eq!(e.key, "colour", "{e}");
    let e = error(&GOOD.replace(
        "[logout]\nmethod = \"POST\"\npath = \"/logout\"\n",
        "[logout]\nmethod = \"POST\"\n",
    ));
    assert!(e.key == "path" && e.reason.contains("missing"), "{e}");
    let e = error("base_url = ");
    assert_eq!(e.line, 1, "{e}");
    // Found by the target_file fuzzer: an empty key still gets a name.
    let e = error("''=''");
    assert_eq!(e.key, "\"\"", "{e}");
    let e = error(&GOOD.replace(
        "base_url = \"http://127.0.0.1:18001\"",
        "base_url = \"http://127.0.0.1:18001/app?x=1\"",
    ));
    assert_eq!(e.key, "base_url");
    let e = error(&GOOD.replace("path = \"/account\"", "path = \"//evil.example/account\""));
    assert_eq!(e.key, "authenticated.path");
    // `/\\host` is `//host` to a URL parser: another origin, refused before any request.
    for p in ["/\\evil.example/account", "/\\/evil.example", "/a\\b"] {
        let e = error(&GOOD.replace("path = \"/account\"", &format!("path = '{p}'")));
        assert_eq!(e.key, "authenticated.path", "{p}: {e}");
    }
}

#[test]
fn json_steps_and_their_csrf_tokens_parse_and_bad_ones_are_refused() {
    let api = |login: &str| {
        format!(
            "base_url = \"http://h\"\n[login]\npath = \"/api/login\"\nfields = {{ username = \"a\", password = \"b\" }}\n{login}\n\
             [authenticated]\npath = \"/api/me\"\n[logout]\npath = \"/api/logout\"\nbody = \"json\"\n"
        )
    };
    let t = Target::parse(
        &api("body = \"json\"\ncsrf = { from = \"json\", path = \"/api/csrf\", field = \"data.token\", header = \"X-CSRF-Token\" }"),
        "t.toml",
    )
    .unwrap();
    assert_eq!(t.login.body, Body::Json);
    assert_eq!(
        t.login.csrf,
        Some(Csrf {
            from: CsrfFrom::Json {
                path: "/api/csrf".into(),
                field: "data.token".into()
            },
            send: CsrfSend::Header("X-CSRF-Token".into()),
        })
    );
    assert_eq!((t.logout.body, t.logout.csrf.is_none()), (Body::Json, true));
    let t = Target::parse(
        &api("body = \"json\"\ncsrf = { from = \"cookie\", name = \"XSRF-TOKEN\", body_field = \"_csrf\" }"),
        "t.toml",
    )
    .unwrap();
    assert_eq!(
        t.login.csrf.unwrap().from,
        CsrfFrom::Cookie("XSRF-TOKEN".into())
    );
    for (bad, key) in [
        ("body = \"xml\"", "login.body"),
        ("method = \"GET\"\nbody = \"json\"", "login.body"),
        ("csrf = { from = \"cookie\", header = \"X\" }", "login.csrf"),
        (
            "csrf = { from = \"json\", path = \"/c\", header = \"X\" }",
            "login.csrf",
        ),
        ("csrf = { from = \"cookie\", name = \"c\" }", "login.csrf"),
        (
            "csrf = { from = \"cookie\", name = \"c\", header = \"X\", body_field = \"f\" }",
            "login.csrf",
        ),
        (
            "csrf = { from = \"cookie\", name = \"c\", header = \"X: y\" }",
            "login.csrf",
        ),
        (
            "csrf = { from = \"json\", path = \"//evil/c\", field = \"t\", header = \"X\" }",
            "login.csrf.path",
        ),
        ("csrf = { from = \"url\" }", "login.csrf"),
    ] {
        let e = Target::parse(&api(bad), "t.toml").unwrap_err();
        assert_eq!(e.key, key, "{bad}: {e}");
    }
}

#[test]
fn hostile_files_are_refused_cleanly() {
    assert!(Target::parse(&"a".repeat(MAX_TARGET_BYTES + 1), "t.toml").is_err());
    // An escape sequence or a bidi override in a key reaches no terminal raw.
    // (TOML's own escapes put ESC and U+202E into the key.)
    let e = Target::parse("\"\\u001b[31mevil\\u202e\" = 1\n", "t.toml").unwrap_err();
    let shown = e.to_string();
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\u{202e}'),
        "{shown:?}"
    );
    assert!(
        shown.contains("\\x1b") && !shown.contains('\n'),
        "{shown:?}"
    );
    // A file that reports no size and never ends is read only up to the limit.
    #[cfg(unix)]
    {
        let e = Target::load(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
    }
    assert!(Target::parse("[[[[", "t.toml").is_err());
    assert!(Target::parse("base_url = \"http://x\"\n".repeat(3).as_str(), "t.toml").is_err());
    assert!(Target::parse(
        &format!("x = {}1{}", "[".repeat(5000), "]".repeat(5000)),
        "t.toml"
    )
    .is_err());
}
