//! A small failed-attempt limiter for the demo's credential checks (sign-in, step-up, password
//! change). It counts **failures** in a fixed window, per client address and per (account,
//! client address); a success clears the pair's count.
//!
//! Deliberately there is no limit per account alone: anyone could then lock the real user out
//! by failing on purpose. Guessing one account is slowed to [`PER_ACCOUNT_AND_CLIENT`] tries
//! per window per address, and one address to [`PER_CLIENT`] tries across all accounts. A
//! production deployment pairs this with a second factor or a per-account slow-down that does
//! not refuse; the library leaves the choice to the application.
//!
//! The client is the TCP peer: an IPv4 address or an IPv6 /64. Rotating addresses within
//! larger blocks (or a botnet) still buys more tries; that is what the per-account second
//! factor or slow-down of a production deployment is for. Behind a reverse proxy every client has the proxy's address, so
//! a deployment there must key by the address the proxy forwards instead, or the per-address
//! limit applies to everyone at once. Memory is bounded: at most 10,000 keys, account names cut
//! to 256 bytes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per window for one account from one client address.
pub(crate) const PER_ACCOUNT_AND_CLIENT: u32 = 5;
/// Failures allowed per window from one client address, whatever the account.
pub(crate) const PER_CLIENT: u32 = 20;
/// The window.
pub(crate) const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Most keys tracked; beyond it, expired windows are dropped first, then the oldest.
const CAPACITY: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Counts failed attempts; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    windows: Mutex<HashMap<String, Window>>,
}

/// Longest account name kept in a key: a form field is attacker-sized, the table must not be.
const MAX_ACCOUNT_BYTES: usize = 256;

/// The client as the limiter counts it: an IPv4 address, or an IPv6 /64 (one customer's
/// network: counting single IPv6 addresses would give an attacker 2^64 fresh budgets).
fn client_key(client: Option<IpAddr>) -> String {
    match client {
        None => "unknown".to_owned(),
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Keys of one attempt: the client, and the account from that client.
fn keys(action: &str, account: &str, client: Option<IpAddr>) -> [(String, u32); 2] {
    let client = client_key(client);
    let mut end = account.len().min(MAX_ACCOUNT_BYTES);
    while !account.is_char_boundary(end) {
        end -= 1;
    }
    let account = account.get(..end).unwrap_or_default();
    [
        (format!("{action}\u{0}{client}"), PER_CLIENT),
        (
            format!("{action}\u{0}{client}\u{0}{account}"),
            PER_ACCOUNT_AND_CLIENT,
        ),
    ]
}

impl Limiter {
    /// `Err(wait)` when this attempt must be refused for `wait`; checked before the credential.
    pub(crate) fn check(
        &self,
        action: &str,
        account: &str,
        client: Option<IpAddr>,
    ) -> Result<(), Duration> {
        let now = Instant::now();
        let windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (key, limit) in keys(action, account, client) {
            if let Some(w) = windows.get(&key) {
                let elapsed = now.saturating_duration_since(w.started);
                if elapsed < WINDOW && w.failures >= limit {
                    return Err(WINDOW - elapsed);
                }
            }
        }
        Ok(())
    }

    /// Records a failed attempt.
    pub(crate) fn failed(&self, action: &str, account: &str, client: Option<IpAddr>) {
        let now = Instant::now();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() >= CAPACITY {
            windows.retain(|_, w| now.saturating_duration_since(w.started) < WINDOW);
            if windows.len() >= CAPACITY {
                let mut by_age: Vec<(String, Instant)> = windows
                    .iter()
                    .map(|(k, w)| (k.clone(), w.started))
                    .collect();
                by_age.sort_by_key(|(_, started)| *started);
                for (key, _) in by_age.into_iter().take(CAPACITY / 2) {
                    windows.remove(&key);
                }
            }
        }
        for (key, _) in keys(action, account, client) {
            let w = windows.entry(key).or_insert(Window {
                started: now,
                failures: 0,
            });
            if now.saturating_duration_since(w.started) >= WINDOW {
                *w = Window {
                    started: now,
                    failures: 0,
                };
            }
            w.failures = w.failures.saturating_add(1);
        }
    }

    /// Records a success: the account's count from this client starts again.
    pub(crate) fn succeeded(&self, action: &str, account: &str, client: Option<IpAddr>) {
        let [_, (pair, _)] = keys(action, account, client);
        self.windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&pair);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_limited_per_pair_and_per_client_but_never_per_account_alone() {
        let l = Limiter::default();
        let attacker: Option<IpAddr> = Some("203.0.113.7".parse().unwrap());
        let user: Option<IpAddr> = Some("198.51.100.1".parse().unwrap());
        for _ in 0..PER_ACCOUNT_AND_CLIENT {
            assert!(l.check("login", "alice", attacker).is_ok());
            l.failed("login", "alice", attacker);
        }
        assert!(l.check("login", "alice", attacker).is_err(), "pair limit");
        assert!(
            l.check("login", "alice", user).is_ok(),
            "the real user is not locked out"
        );
        assert!(l.check("login", "bob", attacker).is_ok());
        for i in 0..PER_CLIENT {
            l.failed("login", &format!("u{i}"), attacker);
        }
        assert!(l.check("login", "carol", attacker).is_err(), "client limit");
        assert!(
            l.check("elevate", "carol", attacker).is_ok(),
            "actions are apart"
        );
        l.failed("login", "alice", user);
        l.succeeded("login", "alice", user);
        assert!(l.check("login", "alice", user).is_ok());
    }

    /// The independent review's F3: fresh IPv6 addresses from one /64 are one client.
    #[test]
    fn an_ipv6_64_is_one_client() {
        let l = Limiter::default();
        for i in 0..PER_ACCOUNT_AND_CLIENT {
            let ip: IpAddr = format!("2001:db8:1:2::{:x}", i + 1).parse().unwrap();
            l.failed("login", "alice", Some(ip));
        }
        let next: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert!(l.check("login", "alice", Some(next)).is_err());
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(l.check("login", "alice", Some(other)).is_ok());
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(client_key(Some(mapped)), "192.0.2.1");
    }

    #[test]
    fn memory_is_bounded_whatever_the_names() {
        let l = Limiter::default();
        let huge = "x".repeat(1 << 20);
        for i in 0..(CAPACITY + 100) {
            let ip: IpAddr = std::net::Ipv4Addr::from(u32::try_from(i).unwrap()).into();
            l.failed("login", &huge, Some(ip));
        }
        let windows = l.windows.lock().unwrap();
        assert!(windows.len() <= CAPACITY + 2);
        assert!(windows.keys().all(|k| k.len() < MAX_ACCOUNT_BYTES + 64));
    }
}
