//! The service's configuration: a TOML file, then `TESSERA_*` environment variables, then
//! command-line flags, each overriding the one before. Nothing is required: with no file the
//! service listens on 127.0.0.1:7878 with the library's safe defaults. Unknown keys are
//! errors (a typo must not silently leave a default in place), and every unsafe choice has a
//! name that says so.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tessera_core::{Policy, PolicyError};
use tessera_tower::{CookieConfig, CookieConfigError};

use crate::api_keys::DEFAULT_KEY_LIFETIME;

/// Where the service listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";
/// Largest request body accepted, unless configured.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest config file read.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Why a configuration was refused. Each message names the key at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file is not valid TOML for this schema.
    #[error("{path}: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's words (line, column, key).
        reason: String,
    },
    /// A value is out of range or malformed.
    #[error("{key}: {reason}")]
    Invalid {
        /// The key, as `section.name`.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

/// The file's shape. Every field is optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `listen = "127.0.0.1:7878"`.
    pub listen: Option<String>,
    /// `store = "sqlite://tessera.db"` (or `redis://…`, `postgres://…`).
    pub store: Option<String>,
    /// `[tls]`: the service's own certificate.
    pub tls: Option<TlsFile>,
    /// Plain HTTP on a non-loopback address, because a TLS proxy sits in front. Unsafe if it
    /// does not: tokens and API keys would cross the network in the clear.
    pub dangerously_serve_plain_http_behind_tls_proxy: Option<bool>,
    /// `[cookie]`.
    pub cookie: Option<CookieFile>,
    /// `[session]`.
    pub session: Option<SessionFile>,
    /// `[api_keys]`.
    pub api_keys: Option<ApiKeysFile>,
    /// `[limits]`.
    pub limits: Option<LimitsFile>,
    /// `[console]`.
    pub console: Option<ConsoleFile>,
}

/// `[console]`: the admin console's own sessions.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleFile {
    /// Sign out after this long without use (default 900, 1 to 3600).
    pub idle_timeout_secs: Option<u64>,
}

/// `[tls]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// `[cookie]`: the attributes of the `Set-Cookie` values the API hands out.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CookieFile {
    /// Default `__Host-session`.
    pub name: Option<String>,
    /// Share with subdomains (not with a `__Host-` name).
    pub domain: Option<String>,
    /// Default `/`.
    pub path: Option<String>,
    /// `"lax"` (default) or `"strict"`.
    pub same_site: Option<String>,
    /// Drop `Secure` for plain-HTTP development on loopback (needs a name without a prefix).
    pub dangerously_allow_plain_http_on_loopback: Option<bool>,
}

/// `[session]`: the engine's policy, in seconds.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionFile {
    /// Default 1800.
    pub idle_timeout_secs: Option<u64>,
    /// Default 28800.
    pub absolute_lifetime_secs: Option<u64>,
    /// Default 60.
    pub renewal_throttle_secs: Option<u64>,
    /// Default 5.
    pub rotation_grace_secs: Option<u64>,
    /// Default unlimited.
    pub max_per_subject: Option<usize>,
    /// Accept an absolute lifetime over 30 days.
    pub dangerously_allow_long_lifetime: Option<bool>,
}

/// `[api_keys]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeysFile {
    /// How long a new key lives, in days (default 365).
    pub lifetime_days: Option<u64>,
}

/// `[limits]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    /// Largest request body, in bytes (default 65536, at most 1 MiB).
    pub max_body_bytes: Option<usize>,
}

/// Overrides from the environment and the command line (highest wins: flags).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--listen` / `TESSERA_LISTEN`.
    pub listen: Option<String>,
    /// `--store` / `TESSERA_STORE`.
    pub store: Option<String>,
    /// `--dangerously-serve-plain-http-behind-tls-proxy`.
    pub plain_http_behind_proxy: bool,
}

impl Overrides {
    /// `TESSERA_LISTEN` and `TESSERA_STORE`, when set and not empty.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            listen: var("TESSERA_LISTEN"),
            store: var("TESSERA_STORE"),
            plain_http_behind_proxy: false,
        }
    }

    /// `self` with `later`'s values where `later` has them.
    pub fn then(self, later: Overrides) -> Self {
        Self {
            listen: later.listen.or(self.listen),
            store: later.store.or(self.store),
            plain_http_behind_proxy: later.plain_http_behind_proxy || self.plain_http_behind_proxy,
        }
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The store URL; `None` means the default SQLite file in the working directory.
    pub store: Option<String>,
    /// The certificate and key, when the service terminates TLS itself.
    pub tls: Option<TlsFile>,
    /// Plain HTTP on a non-loopback address was explicitly accepted.
    pub plain_http_behind_proxy: bool,
    /// The cookie the API's `Set-Cookie` values describe.
    pub cookie: CookieConfig,
    /// The session policy.
    pub policy: Policy,
    /// How long a new API key lives.
    pub key_lifetime: Duration,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// The console's idle timeout.
    pub console_idle: Duration,
}

impl Config {
    /// Reads `path` (if any), applies `overrides`, and validates everything.
    pub fn load(path: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let file = match path {
            Some(p) => read_file(p)?,
            None => FileConfig::default(),
        };
        Self::from_parts(file, overrides)
    }

    /// Validates a parsed file with overrides applied.
    pub fn from_parts(file: FileConfig, overrides: Overrides) -> Result<Self, ConfigError> {
        let listen_text = overrides
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            invalid(
                "listen",
                format!("{listen_text:?} is not an address like 127.0.0.1:7878 or [::1]:7878"),
            )
        })?;
        let plain_http_behind_proxy = overrides.plain_http_behind_proxy
            || file
                .dangerously_serve_plain_http_behind_tls_proxy
                .unwrap_or(false);
        if file.tls.is_none() && !listen.ip().is_loopback() && !plain_http_behind_proxy {
            return Err(invalid(
                "listen",
                format!(
                    "{listen} is not a loopback address, so tokens and API keys would cross the \
                     network in plain HTTP: configure [tls] cert and key, or, if a TLS proxy sits \
                     in front, set dangerously_serve_plain_http_behind_tls_proxy = true \
                     (flag --dangerously-serve-plain-http-behind-tls-proxy)"
                ),
            ));
        }
        if let Some(tls) = &file.tls {
            crate::tls::load(&tls.cert, &tls.key).map_err(|e| invalid("tls", e.to_string()))?;
        }
        let store = overrides.store.or(file.store);
        if let Some(s) = &store {
            if s.trim().is_empty() {
                return Err(invalid("store", "empty store URL"));
            }
        }
        Ok(Self {
            listen,
            store,
            tls: file.tls,
            plain_http_behind_proxy,
            cookie: cookie(file.cookie.unwrap_or_default())?,
            policy: policy(file.session.unwrap_or_default())?,
            key_lifetime: key_lifetime(file.api_keys.unwrap_or_default())?,
            max_body_bytes: max_body(file.limits.unwrap_or_default())?,
            console_idle: console_idle(file.console.unwrap_or_default())?,
        })
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let shown = path.display().to_string();
    let read_error = |reason: String| ConfigError::Read {
        path: shown.clone(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| read_error(e.kind().to_string()))?;
    if !meta.is_file() {
        return Err(read_error("not a regular file".into()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(read_error("larger than 1 MiB".into()));
    }
    let bytes = std::fs::read(path).map_err(|e| read_error(e.kind().to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| read_error("not UTF-8".into()))?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: shown.clone(),
        // The parser's message, on one line; it quotes the offending key, never a secret's value.
        reason: e.message().replace('\n', " ")
            + &e.span()
                .map(|s| {
                    let line = text.get(..s.start).map_or(0, |t| t.lines().count().max(1));
                    format!(" (line {line})")
                })
                .unwrap_or_default(),
    })
}

fn cookie(c: CookieFile) -> Result<CookieConfig, ConfigError> {
    let mut b = CookieConfig::builder();
    if let Some(name) = c.name {
        b = b.name(name);
    }
    if let Some(domain) = c.domain {
        b = b.domain(domain);
    }
    if let Some(path) = c.path {
        b = b.path(path);
    }
    match c.same_site.as_deref() {
        None | Some("lax") => {}
        Some("strict") => b = b.same_site_strict(),
        Some(other) => {
            return Err(invalid(
                "cookie.same_site",
                format!("{other:?}: use \"lax\" or \"strict\" (None is refused: it sends the cookie cross-site)"),
            ))
        }
    }
    if c.dangerously_allow_plain_http_on_loopback.unwrap_or(false) {
        b = b.dangerously_allow_plain_http_on_loopback();
    }
    b.build()
        .map_err(|e: CookieConfigError| invalid("cookie", e.to_string()))
}

fn policy(s: SessionFile) -> Result<Policy, ConfigError> {
    let mut b = Policy::builder();
    let secs = Duration::from_secs;
    if let Some(v) = s.idle_timeout_secs {
        b = b.idle_timeout(secs(v));
    }
    if let Some(v) = s.absolute_lifetime_secs {
        b = b.absolute_lifetime(secs(v));
    }
    if let Some(v) = s.renewal_throttle_secs {
        b = b.renewal_throttle(secs(v));
    }
    if let Some(v) = s.rotation_grace_secs {
        b = b.rotation_grace(secs(v));
    }
    if let Some(v) = s.max_per_subject {
        let n = std::num::NonZeroUsize::new(v)
            .ok_or_else(|| invalid("session.max_per_subject", "must be at least 1"))?;
        b = b.max_sessions_per_subject(n);
    }
    if s.dangerously_allow_long_lifetime.unwrap_or(false) {
        b = b.allow_long_lifetime();
    }
    b.build()
        .map_err(|e: PolicyError| invalid("session", e.to_string()))
}

fn key_lifetime(k: ApiKeysFile) -> Result<Duration, ConfigError> {
    match k.lifetime_days {
        None => Ok(DEFAULT_KEY_LIFETIME),
        Some(d @ 1..=3650) => Ok(Duration::from_secs(d * 24 * 3600)),
        Some(d) => Err(invalid(
            "api_keys.lifetime_days",
            format!("{d}: must be 1 to 3650"),
        )),
    }
}

fn console_idle(c: ConsoleFile) -> Result<Duration, ConfigError> {
    match c.idle_timeout_secs {
        None => Ok(crate::console::CONSOLE_IDLE),
        Some(s @ 1..=3600) => Ok(Duration::from_secs(s)),
        Some(s) => Err(invalid(
            "console.idle_timeout_secs",
            format!("{s}: must be 1 to 3600 (an admin console must not stay open long)"),
        )),
    }
}

fn max_body(l: LimitsFile) -> Result<usize, ConfigError> {
    match l.max_body_bytes {
        None => Ok(DEFAULT_MAX_BODY_BYTES),
        Some(n @ 1024..=1_048_576) => Ok(n),
        Some(n) => Err(invalid(
            "limits.max_body_bytes",
            format!("{n}: must be 1024 to 1048576"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: "t".into(),
            reason: e.to_string(),
        })?;
        Config::from_parts(file, Overrides::default())
    }

    #[test]
    fn nothing_configured_is_safe() {
        let c = parse("").unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert!(c.cookie.is_secure());
        assert_eq!(c.cookie.name(), "__Host-session");
        assert_eq!(c.policy, Policy::default());
        assert!(c.tls.is_none() && !c.plain_http_behind_proxy);
    }

    #[test]
    fn plain_http_off_loopback_is_refused_unless_named() {
        let e = parse("listen = \"0.0.0.0:7878\"").unwrap_err().to_string();
        assert!(
            e.starts_with("listen:") && e.contains("dangerously_serve_plain_http"),
            "{e}"
        );
        let ok = parse(
            "listen = \"0.0.0.0:7878\"\ndangerously_serve_plain_http_behind_tls_proxy = true",
        )
        .unwrap();
        assert!(ok.plain_http_behind_proxy);
        let flag = Config::from_parts(
            FileConfig::default(),
            Overrides {
                listen: Some("10.0.0.1:80".into()),
                plain_http_behind_proxy: true,
                ..Overrides::default()
            },
        );
        assert!(flag.is_ok());
    }

    #[test]
    fn weak_or_unknown_values_are_refused_by_name() {
        for (text, key) in [
            ("lisen = \"x\"", "lisen"),
            ("[session]\nrotation_grace_secs = 3600", "session"),
            ("[session]\nabsolute_lifetime_secs = 99999999", "session"),
            ("[session]\nmax_per_subject = 0", "session.max_per_subject"),
            ("[cookie]\nsame_site = \"none\"", "cookie.same_site"),
            (
                "[cookie]\nname = \"__Host-s\"\ndomain = \"example.com\"",
                "cookie",
            ),
            (
                "[cookie]\ndangerously_allow_plain_http_on_loopback = true",
                "cookie",
            ),
            ("[api_keys]\nlifetime_days = 0", "api_keys.lifetime_days"),
            ("[limits]\nmax_body_bytes = 1", "limits.max_body_bytes"),
            (
                "[console]\nidle_timeout_secs = 86400",
                "console.idle_timeout_secs",
            ),
            ("listen = \"nowhere\"", "listen"),
            (
                "[tls]\ncert = \"/nonexistent.pem\"\nkey = \"/nonexistent.key\"",
                "tls",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text:?} gave {e:?}");
        }
    }

    #[test]
    fn flags_override_env_override_file() {
        let env = Overrides {
            listen: Some("127.0.0.1:1".into()),
            store: Some("memory://".into()),
            plain_http_behind_proxy: false,
        };
        let flags = Overrides {
            listen: Some("127.0.0.1:2".into()),
            ..Overrides::default()
        };
        let file: FileConfig = toml::from_str("listen = \"127.0.0.1:3\"\nstore = \"x\"").unwrap();
        let c = Config::from_parts(file, env.then(flags)).unwrap();
        assert_eq!(c.listen.port(), 2);
        assert_eq!(c.store.as_deref(), Some("memory://"));
    }

    #[test]
    fn a_missing_or_hostile_file_is_one_clear_line() {
        let e = Config::load(
            Some(Path::new("/nonexistent/tessera.toml")),
            Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("/nonexistent/tessera.toml") && !e.contains('\n'),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!("tessera-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("bad.toml");
        std::fs::write(&f, "listen = \"127.0.0.1:1\"\n[session]\nidle = [1,\n").unwrap();
        let e = Config::load(Some(&f), Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(!e.contains('\n') && e.contains("bad.toml"), "{e}");
        std::fs::write(&f, [0xff, 0xfe, 0x00]).unwrap();
        let e = Config::load(Some(&f), Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not UTF-8"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
