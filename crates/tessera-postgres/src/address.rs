//! The store URL: a libpq-style `postgres://` URL, plus Tessera's own options.

use std::str::FromStr as _;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode};

/// The schema when the URL names none.
pub const DEFAULT_SCHEMA: &str = "tessera";

/// How long one operation may take (pool wait included) when the URL names no `timeout_ms`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Connections when the URL names no `pool_size`.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// The forms a store URL may take, for error messages.
pub const ACCEPTED: &str = "postgres://[USER[:PASSWORD]@]HOST[:PORT]/DATABASE or postgresql://…, \
with optional ?schema=NAME&pool_size=N&timeout_ms=N&sslmode=require (TLS is required for a \
host that is not loopback)";

/// A store URL that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{reason} (accepted forms: {ACCEPTED})")]
pub struct AddressError {
    reason: String,
}

fn refuse<T>(reason: impl Into<String>) -> Result<T, AddressError> {
    Err(AddressError {
        reason: reason.into(),
    })
}

/// A parsed store URL.
#[derive(Clone)]
pub struct Address {
    pub(crate) config: tokio_postgres::Config,
    pub(crate) schema: String,
    pub(crate) pool_size: usize,
    pub(crate) timeout: Duration,
}

impl std::fmt::Debug for Address {
    // The URL may carry a password: show where, never the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Address")
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .field("timeout", &self.timeout)
            .field("tls", &self.tls())
            .finish_non_exhaustive()
    }
}

fn is_loopback(host: &Host) -> bool {
    match host {
        Host::Unix(_) => true,
        Host::Tcp(name) => {
            name == "localhost"
                || name
                    .trim_matches(|c| c == '[' || c == ']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
    }
}

impl Address {
    /// Parses a store URL (see [`ACCEPTED`]).
    pub fn parse(url: &str) -> Result<Self, AddressError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return refuse("the URL does not start with postgres:// or postgresql://");
        }
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut schema = DEFAULT_SCHEMA.to_owned();
        let mut pool_size = DEFAULT_POOL_SIZE;
        let mut timeout = DEFAULT_TIMEOUT;
        let mut passed = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("schema", value)) => {
                    let ok = !value.is_empty()
                        && value.len() <= 48
                        && value
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                        && value
                            .bytes()
                            .next()
                            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
                    if !ok {
                        return refuse(
                            "schema must be 1 to 48 characters of a-z, 0-9 and '_', not starting with a digit",
                        );
                    }
                    value.clone_into(&mut schema);
                }
                Some(("pool_size", value)) => match value.parse::<usize>() {
                    Ok(n @ 1..=1024) => pool_size = n,
                    _ => return refuse("pool_size must be a whole number from 1 to 1024"),
                },
                Some(("timeout_ms", value)) => match value.parse::<u64>() {
                    Ok(ms @ 10..=60_000) => timeout = Duration::from_millis(ms),
                    _ => return refuse("timeout_ms must be a whole number from 10 to 60000"),
                },
                _ => passed.push(pair),
            }
        }
        let rebuilt = if passed.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", passed.join("&"))
        };
        let mut config = match tokio_postgres::Config::from_str(&rebuilt) {
            Ok(config) => config,
            // The driver's message may quote the URL, password included: say only what kind.
            Err(_) => return refuse("the URL is not a valid PostgreSQL connection URL"),
        };
        if config.get_hosts().is_empty() {
            return refuse("the URL names no host");
        }
        // tokio-postgres dials `hostaddr` when given: both must be this machine to skip TLS.
        let loopback = config.get_hosts().iter().all(is_loopback)
            && config.get_hostaddrs().iter().all(|ip| ip.is_loopback());
        let explicit_tls = passed.iter().any(|p| p.starts_with("sslmode="));
        match (loopback, explicit_tls, config.get_ssl_mode()) {
            // A loopback server needs no TLS unless asked for.
            (true, false, _) => {
                config.ssl_mode(SslMode::Disable);
            }
            (false, false, _) => {
                config.ssl_mode(SslMode::Require);
            }
            (false, true, SslMode::Require) | (true, true, _) => {}
            (false, true, _) => {
                return refuse(
                    "a host that is not loopback needs TLS: sslmode=require (disable and prefer would send session data in the clear)",
                )
            }
        }
        config.connect_timeout(timeout);
        config.application_name("tessera");
        // The server gives up too when the store does: no statement or lock wait outlives the
        // timeout and holds a pooled connection for the next caller.
        let ms = timeout.as_millis();
        let limits = format!("-c statement_timeout={ms} -c lock_timeout={ms}");
        let options = match config.get_options() {
            Some(existing) if !existing.is_empty() => format!("{existing} {limits}"),
            _ => limits,
        };
        config.options(&options);
        Ok(Self {
            config,
            schema,
            pool_size,
            timeout,
        })
    }

    /// The schema the store's tables live in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Whether the connection uses TLS.
    pub fn tls(&self) -> bool {
        self.config.get_ssl_mode() != SslMode::Disable
    }

    /// The same address with another schema (tests give each store its own).
    pub fn with_schema(mut self, schema: &str) -> Result<Self, AddressError> {
        let checked = Self::parse(&format!("postgres://localhost/x?schema={schema}"))?;
        self.schema = checked.schema;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        let a = Address::parse("postgres://postgres@127.0.0.1:5432/test").unwrap();
        assert_eq!(a.schema, DEFAULT_SCHEMA);
        assert!(!a.tls(), "loopback: no TLS unless asked");
        let a = Address::parse(
            "postgresql://app:s3cret@db.example/sessions?schema=app_1&pool_size=64&timeout_ms=500",
        )
        .unwrap();
        assert!(a.tls(), "a remote host gets TLS by default");
        assert_eq!((a.schema.as_str(), a.pool_size), ("app_1", 64));
        assert_eq!(a.timeout, Duration::from_millis(500));
        assert!(!format!("{a:?}").contains("s3cret"));
        let a = Address::parse("postgres://localhost/test?sslmode=require").unwrap();
        assert!(a.tls());
        let a = Address::parse("postgres://localhost/test?hostaddr=203.0.113.5").unwrap();
        assert!(a.tls(), "hostaddr decides where the connection goes");
        assert!(a
            .config
            .get_options()
            .is_some_and(|o| o.contains("statement_timeout=2000")));
    }

    #[test]
    fn refused_forms_say_why() {
        for (url, why) in [
            ("mysql://x/y", "postgres://"),
            ("postgres://db.example/x?sslmode=disable", "needs TLS"),
            ("postgres://db.example/x?sslmode=prefer", "needs TLS"),
            (
                "postgres://localhost/x?hostaddr=203.0.113.5&sslmode=disable",
                "needs TLS",
            ),
            ("postgres://localhost/x?schema=Bad-Name", "schema"),
            ("postgres://localhost/x?schema=1abc", "schema"),
            ("postgres://localhost/x?pool_size=0", "pool_size"),
            ("postgres://localhost/x?timeout_ms=5", "timeout_ms"),
            ("postgres://u:pw@localhost/x?nonsense=1", "not a valid"),
        ] {
            let err = Address::parse(url).unwrap_err().to_string();
            assert!(err.contains(why), "{url}: {err}");
            assert!(!err.contains("pw@"), "{url}: no password in the error");
        }
    }
}
