//! The store URL: where Redis is, whether it is a Cluster, and the key prefix.

use std::time::Duration;

/// The key prefix when the URL names none.
pub const DEFAULT_PREFIX: &str = "tessera";

/// How long one call to Redis may take when the URL names no `timeout_ms`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The forms a store URL may take, for error messages.
pub const ACCEPTED: &str = "redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://… (TLS), \
redis+cluster://[USER:PASSWORD@]HOST:PORT,HOST:PORT,… or rediss+cluster://…, each with \
optional ?prefix=NAME&timeout_ms=N&wait_replicas=N, and on a single server \
?accept_revocation_lag_ms=N (10 to 1000: a local copy of sessions that sees another server's \
revocation up to N ms late); a host that is not loopback needs TLS \
(rediss://) unless ?plaintext=accept-session-data-in-the-clear";

/// The opt-in that lets session records cross a network in the clear.
const PLAINTEXT: &str = "accept-session-data-in-the-clear";

/// The opt-in that accepts a server that may evict keys.
const EVICTION: &str = "accept-lost-revocations";

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
#[derive(Clone, PartialEq, Eq)]
pub struct Address {
    /// Connection URLs for redis-rs: one, or the Cluster's seed nodes.
    pub(crate) nodes: Vec<String>,
    /// Whether the nodes are a Redis Cluster.
    pub(crate) cluster: bool,
    /// Whether the connection uses TLS.
    pub(crate) tls: bool,
    /// Prefix of every key this store writes.
    pub(crate) prefix: String,
    /// The bound on each call.
    pub(crate) timeout: Duration,
    /// Replicas that must hold a revocation before it is acknowledged (`WAIT`).
    pub(crate) wait_replicas: u8,
    /// Whether a server that may evict keys is accepted (`?eviction=accept-lost-revocations`).
    pub(crate) allow_eviction: bool,
    /// How late a revocation made elsewhere may be seen, when a local copy is accepted
    /// (`?accept_revocation_lag_ms=N`); `None`, the default, keeps no copy.
    pub(crate) revocation_lag: Option<Duration>,
}

impl std::fmt::Debug for Address {
    // The URL may carry a password: show where, never the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Address")
            .field("cluster", &self.cluster)
            .field("tls", &self.tls)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("wait_replicas", &self.wait_replicas)
            .field("revocation_lag", &self.revocation_lag)
            .finish_non_exhaustive()
    }
}

/// Whether `host[:port]` names this machine.
fn is_loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        // An IPv6 literal is bracketed; a bare one has colons of its own.
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => {
            name
        }
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Address {
    /// Parses a store URL (see [`ACCEPTED`]).
    pub fn parse(url: &str) -> Result<Self, AddressError> {
        let (scheme, rest) = match url.split_once("://") {
            Some(split) => split,
            None => return refuse("the URL has no scheme"),
        };
        let (cluster, tls) = match scheme {
            "redis" | "valkey" => (false, false),
            "rediss" | "valkeys" => (false, true),
            "redis+cluster" | "valkey+cluster" => (true, false),
            "rediss+cluster" | "valkeys+cluster" => (true, true),
            other => return refuse(format!("unknown scheme {other:?}")),
        };
        if rest.contains('#') {
            return refuse(
                "the URL has a fragment; `#insecure` (TLS without certificate checks) is not supported",
            );
        }
        // Credentials first: a `?` inside a password must not start the query.
        let (credentials, rest) = match rest.rsplit_once('@') {
            Some((credentials, rest)) => (Some(credentials), rest),
            None => (None, rest),
        };
        let (hosts, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut prefix = DEFAULT_PREFIX.to_owned();
        let mut timeout = DEFAULT_TIMEOUT;
        let mut wait_replicas = 0;
        let mut plaintext = false;
        let mut allow_eviction = false;
        let mut revocation_lag = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("prefix", value)) => {
                    if value.is_empty()
                        || value.len() > 64
                        || !value
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b))
                    {
                        return refuse(
                            "prefix must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '-', '.', ':'",
                        );
                    }
                    value.clone_into(&mut prefix);
                }
                Some(("timeout_ms", value)) => match value.parse::<u64>() {
                    Ok(ms @ 10..=60_000) => timeout = Duration::from_millis(ms),
                    _ => return refuse("timeout_ms must be a whole number from 10 to 60000"),
                },
                Some(("wait_replicas", value)) => match value.parse::<u8>() {
                    Ok(n @ 0..=8) => wait_replicas = n,
                    _ => return refuse("wait_replicas must be a whole number from 0 to 8"),
                },
                Some(("accept_revocation_lag_ms", value)) => match value.parse::<u64>() {
                    Ok(ms @ 10..=1000) => revocation_lag = Some(Duration::from_millis(ms)),
                    _ => {
                        return refuse(
                            "accept_revocation_lag_ms must be a whole number from 10 to 1000 (a PING goes out every N/4 ms)",
                        )
                    }
                },
                Some(("plaintext", PLAINTEXT)) => plaintext = true,
                Some(("eviction", EVICTION)) => allow_eviction = true,
                other => {
                    // Name the option, never echo its value.
                    let name = other.map_or(pair, |(name, _)| name);
                    let name: String = name.chars().take(32).collect();
                    return refuse(format!("unknown option or value for {name:?}"));
                }
            }
        }
        let (hosts, database) = match hosts.split_once('/') {
            Some((hosts, db)) if !db.is_empty() => (hosts, Some(db)),
            Some((hosts, _)) => (hosts, None),
            None => (hosts, None),
        };
        if let Some(db) = database {
            if cluster {
                return refuse("a Redis Cluster has only database 0; drop the /DB part");
            }
            if db.parse::<u16>().is_err() {
                return refuse(format!("the database {db:?} is not a number"));
            }
        }
        let hosts: Vec<&str> = hosts.split(',').collect();
        if hosts.iter().any(|h| h.is_empty()) {
            return refuse("the URL names no host");
        }
        if !tls && !plaintext && !hosts.iter().all(|h| is_loopback(h)) {
            return refuse(format!(
                "a host that is not loopback needs TLS (rediss://): session records would cross the network in the clear; add ?plaintext={PLAINTEXT} to accept that"
            ));
        }
        if cluster && revocation_lag.is_some() {
            return refuse(
                "accept_revocation_lag_ms is for a single server; a Cluster keeps no local copy",
            );
        }
        if !cluster && hosts.len() > 1 {
            return refuse("several hosts need the redis+cluster:// scheme");
        }
        let node_scheme = if tls { "rediss" } else { "redis" };
        let nodes = hosts
            .iter()
            .map(|host| {
                let mut node = format!("{node_scheme}://");
                if let Some(c) = credentials {
                    node.push_str(c);
                    node.push('@');
                }
                node.push_str(host);
                if let Some(db) = database {
                    node.push('/');
                    node.push_str(db);
                }
                node
            })
            .collect();
        Ok(Self {
            nodes,
            cluster,
            tls,
            prefix,
            timeout,
            wait_replicas,
            allow_eviction,
            revocation_lag,
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether this is a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    /// The same address with another key prefix (tests give each store its own).
    pub fn with_prefix(mut self, prefix: &str) -> Result<Self, AddressError> {
        Self::parse(&format!("redis://localhost?prefix={prefix}"))?;
        prefix.clone_into(&mut self.prefix);
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        let a = Address::parse("redis://127.0.0.1:6379").unwrap();
        assert_eq!(a.nodes, ["redis://127.0.0.1:6379"]);
        assert!(!a.cluster && !a.tls);
        assert_eq!(a.prefix, DEFAULT_PREFIX);
        assert_eq!(a.timeout, DEFAULT_TIMEOUT);
        let a = Address::parse(
            "rediss://u:p%40ss@cache.example:6380/3?prefix=app1&timeout_ms=500&wait_replicas=1",
        )
        .unwrap();
        assert_eq!(a.wait_replicas, 1);
        assert_eq!(a.nodes, ["rediss://u:p%40ss@cache.example:6380/3"]);
        assert!(a.tls);
        assert_eq!(a.prefix, "app1");
        assert_eq!(a.timeout, Duration::from_millis(500));
        let a = Address::parse(
            "redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001?plaintext=accept-session-data-in-the-clear",
        )
        .unwrap();
        assert!(a.cluster);
        assert_eq!(
            a.nodes,
            ["redis://:pw@10.0.0.1:7000", "redis://:pw@10.0.0.2:7001"]
        );
        assert!(!format!("{a:?}").contains("pw"), "Debug shows no password");
        assert!(!a.allow_eviction);
        let a = Address::parse("redis://[::1]:6379?eviction=accept-lost-revocations").unwrap();
        assert!(a.allow_eviction && !a.tls, "IPv6 loopback needs no TLS");
        assert_eq!(a.revocation_lag, None, "no local copy unless asked for");
        let a = Address::parse("redis://localhost?accept_revocation_lag_ms=100").unwrap();
        assert_eq!(a.revocation_lag, Some(Duration::from_millis(100)));
    }

    #[test]
    fn refused_forms_say_why() {
        for (url, why) in [
            ("127.0.0.1:6379", "no scheme"),
            ("http://x", "unknown scheme"),
            ("rediss://x#insecure", "insecure"),
            ("redis://localhost?prefix=a{b}", "prefix"),
            ("redis://localhost?prefix=", "prefix"),
            ("redis://localhost?timeout_ms=0", "timeout_ms"),
            ("redis://cache.example:6379", "needs TLS"),
            ("redis://10.1.2.3", "needs TLS"),
            ("redis://localhost?plaintext=yes", "unknown option"),
            ("redis://u:pa?ss@localhost/x", "not a number"),
            ("redis://localhost?wait_replicas=9", "wait_replicas"),
            ("redis://localhost?ttl=3", "unknown option"),
            ("redis+cluster://a:1,b:2/1", "database 0"),
            ("redis://localhost/abc", "not a number"),
            ("redis://", "no host"),
            ("redis://127.0.0.1:1,127.0.0.2:2", "redis+cluster"),
            ("redis://localhost?accept_revocation_lag_ms=9", "10 to 1000"),
            (
                "redis://localhost?accept_revocation_lag_ms=1001",
                "10 to 1000",
            ),
            ("redis://localhost?cache=on", "unknown option"),
            (
                "redis+cluster://a:1,b:2?accept_revocation_lag_ms=5",
                "single server",
            ),
        ] {
            let err = Address::parse(url).unwrap_err().to_string();
            assert!(err.contains(why), "{url}: {err}");
            assert!(err.contains("redis+cluster://"), "{url}: names the forms");
            assert!(
                !err.contains("pa?ss") && !err.contains("ss@"),
                "{url}: no password: {err}"
            );
        }
    }
}
