//! `tessera entropy FILE`: the real binary on token files written by the tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Writes `content` to a fresh file under the test target's temporary folder.
fn write(name: &str, content: &[u8]) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("entropy_cli");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!(
        "{}-{}-{name}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, content).unwrap();
    path
}

fn lines(tokens: &[String]) -> Vec<u8> {
    let mut out = tokens.join("\n");
    out.push('\n');
    out.into_bytes()
}

fn run(path: &PathBuf, json: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.arg("entropy").arg(path);
    if json {
        cmd.args(["--format", "json"]);
    }
    cmd.output().unwrap()
}

/// Runs with `--format json`; returns the exit code and the parsed report.
fn report(path: &PathBuf) -> (i32, Value) {
    let out = run(path, true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), json)
}

fn text(path: &PathBuf) -> (i32, String) {
    let out = run(path, false);
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Exit code and stderr of a run expected to be rejected.
fn rejected(path: &PathBuf) -> (i32, String) {
    let out = run(path, false);
    assert!(out.stdout.is_empty(), "nothing on stdout");
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn pattern_kinds(report: &Value) -> Vec<String> {
    report["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn uint(report: &Value, field: &str) -> u64 {
    report[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {report}"))
}

fn csprng_token() -> String {
    tessera_core::Token::generate().unwrap().expose()
}

/// `n` bytes from the OS CSPRNG (decoded from fresh tokens).
fn random_bytes(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 32);
    while out.len() < n {
        let mut acc = 0u32;
        let mut bits = 0;
        for c in csprng_token().bytes() {
            let v = B64URL.iter().position(|&a| a == c).unwrap() as u32;
            acc = (acc << 6) | v;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
    }
    out.truncate(n);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn b64url(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let v = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(B64URL[(v >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn csprng_tokens_pass() {
    let tokens: Vec<String> = (0..200).map(|_| csprng_token()).collect();
    let path = write("csprng.txt", &lines(&tokens));
    let (code, r) = report(&path);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["verdict"], "pass", "{}", r["reason"]);
    assert_eq!(r["encoding"], "base64url");
    assert_eq!(uint(&r, "samples"), 200);
    assert_eq!(uint(&r, "bits_per_token"), 256);
    assert!(uint(&r, "verdict_bits") >= 250, "{}", r["verdict_bits"]);
    assert!(uint(&r, "effective_bits") >= 200, "{}", r["effective_bits"]);
    assert_eq!(r["bit_scores"].as_array().unwrap().len(), 256);
    assert!(r["stream"]["fips"]["blocks"].as_u64().unwrap() >= 2);

    let (code, out) = text(&path);
    assert_eq!(code, 0);
    assert!(out.contains("Verdict: PASS"), "{out}");
    assert!(out.contains("Effective entropy"), "{out}");
}

#[test]
fn crlf_blank_lines_and_spaces_are_accepted() {
    let tokens: Vec<String> = (0..150).map(|_| csprng_token()).collect();
    let mut content = String::from("\r\n\r\n");
    for t in &tokens {
        content.push_str(&format!("  {t} \r\n\r\n"));
    }
    let path = write("crlf.txt", content.as_bytes());
    let (code, r) = report(&path);
    assert_eq!(code, 0, "{r}");
    assert_eq!(uint(&r, "samples"), 150);
    assert_eq!(r["lengths"]["max"], 43);
    assert_eq!(r["verdict"], "pass", "{}", r["reason"]);
}

#[test]
fn a_counter_fails_and_is_named() {
    let tokens: Vec<String> = (1..=200).map(|i| format!("session{i}")).collect();
    let path = write("counter.txt", &lines(&tokens));
    let (code, r) = report(&path);
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["verdict"], "fail");
    assert!(
        pattern_kinds(&r).contains(&"counter".to_owned()),
        "{}",
        r["patterns"]
    );
    let (code, out) = text(&path);
    assert_eq!(code, 1);
    assert!(
        out.contains("Verdict: FAIL: the tokens contain a counter"),
        "{out}"
    );
    assert!(out.contains("\n  ✗ counter: "), "{out}");
}

#[test]
fn timestamps_fail_as_timestamps() {
    let start = now_ms();
    let decimal: Vec<String> = (0..200u64).map(|i| (start + 250 * i).to_string()).collect();
    let hexa: Vec<String> = (0..200u64)
        .map(|i| format!("{:x}", start + 37 * i))
        .collect();
    for (name, tokens) in [("ms-decimal.txt", decimal), ("ms-hex.txt", hexa)] {
        let path = write(name, &lines(&tokens));
        let (code, r) = report(&path);
        assert_eq!(code, 1, "{name}: {r}");
        let kinds = pattern_kinds(&r);
        assert!(kinds.contains(&"timestamp".to_owned()), "{name}: {kinds:?}");
        assert!(
            r["reason"].as_str().unwrap().contains("timestamp"),
            "{name}"
        );
    }
}

#[test]
fn a_constant_prefix_costs_its_bits() {
    // 64 constant bits then 32 random ones, as hex; and a non-hex prefix with 8 hex characters.
    let hex_prefixed: Vec<String> = (0..200)
        .map(|_| format!("deadbeefcafebabe{}", hex(&random_bytes(4))))
        .collect();
    let named: Vec<String> = (0..200)
        .map(|_| format!("SESSIONID-{}", hex(&random_bytes(4))))
        .collect();
    for (name, tokens, width) in [
        ("prefix-hex.txt", hex_prefixed, 96),
        ("prefix-name.txt", named, 32),
    ] {
        let path = write(name, &lines(&tokens));
        let (code, r) = report(&path);
        assert_eq!(code, 1, "{name}: {r}");
        assert_eq!(uint(&r, "bits_per_token"), width, "{name}");
        let verdict_bits = uint(&r, "verdict_bits");
        assert!((30..=32).contains(&verdict_bits), "{name}: {verdict_bits}");
        let effective = uint(&r, "effective_bits");
        assert!((24..=32).contains(&effective), "{name}: {effective}");
        assert!(pattern_kinds(&r).contains(&"constant_prefix".to_owned()));
        assert!(
            r["reason"].as_str().unwrap().contains("bits look random"),
            "{}",
            r["reason"]
        );
    }
}

#[test]
fn a_short_random_token_fails_for_bits() {
    let tokens: Vec<String> = (0..200).map(|_| hex(&random_bytes(3))).collect();
    let path = write("short.txt", &lines(&tokens));
    let (code, r) = report(&path);
    assert_eq!(code, 1, "{r}");
    assert_eq!(uint(&r, "bits_per_token"), 24);
    assert!(uint(&r, "verdict_bits") <= 24);
    assert!(pattern_kinds(&r).contains(&"short_tokens".to_owned()));
}

#[test]
fn jwts_are_reported_as_data() {
    let header = b64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let iat = now_ms() / 1000;
    let tokens: Vec<String> = (0..100)
        .map(|i| {
            let payload = b64url(format!(r#"{{"sub":"user{i}","iat":{iat}}}"#).as_bytes());
            format!("{header}.{payload}.{}", csprng_token())
        })
        .collect();
    let path = write("jwt.txt", &lines(&tokens));
    let (code, r) = report(&path);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["verdict"], "warn");
    assert_eq!(r["data_format"]["kind"], "jwt");
    let (_, out) = text(&path);
    assert!(out.contains("Data, not an identifier"), "{out}");
    assert!(out.contains("JWT"), "{out}");
}

#[test]
fn invalid_input_exits_2_with_one_line() {
    let one_line = |stderr: &str| {
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    };

    let empty = write("empty.txt", b"");
    let (code, err) = rejected(&empty);
    assert_eq!(code, 2);
    one_line(&err);
    assert!(
        err.contains(&empty.display().to_string()) && err.contains("no tokens"),
        "{err}"
    );

    let blank = write("blank.txt", b"\n\r\n   \n");
    assert_eq!(rejected(&blank).0, 2);

    let one = write("one.txt", format!("{}\n", csprng_token()).as_bytes());
    let (code, err) = rejected(&one);
    assert_eq!(code, 2);
    one_line(&err);
    assert!(err.contains("at least 2 tokens"), "{err}");

    let mut garbage = random_bytes(4096);
    garbage.extend([0xff, 0xfe, 0x00, b'\n', 0xc3]);
    let binary = write("garbage.bin", &garbage);
    let (code, err) = rejected(&binary);
    assert_eq!(code, 2);
    one_line(&err);
    assert!(err.contains(&binary.display().to_string()), "{err}");

    let mut content = lines(&[csprng_token(), csprng_token()]);
    content.extend(b"abc\xff\xfedef\n");
    let non_utf8 = write("latin1.txt", &content);
    let (code, err) = rejected(&non_utf8);
    assert_eq!(code, 2);
    one_line(&err);
    assert!(err.contains(":3: ") && err.contains("not UTF-8"), "{err}");

    let control = write("control.txt", b"abcdef\nab\x01cd\n");
    let (code, err) = rejected(&control);
    assert_eq!(code, 2);
    assert!(err.contains(":2: column 3"), "{err}");

    let huge = write(
        "huge.txt",
        format!("abc\n{}\n", "A".repeat(1 << 20)).as_bytes(),
    );
    let (code, err) = rejected(&huge);
    assert_eq!(code, 2);
    one_line(&err);
    assert!(err.contains(":2: ") && err.contains("4096"), "{err}");

    let missing = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-such-file.txt");
    let (code, err) = rejected(&missing);
    assert_eq!(code, 2);
    one_line(&err);
    assert!(
        err.contains("no-such-file.txt") && err.contains("cannot read"),
        "{err}"
    );
}
