//! Prometheus metrics: what the service did (sessions created, resolved, rotated, ended by
//! reason, theft suspected), how fast its store answers, and which errors it gave. Counters are
//! plain atomics written in the text exposition format; no label ever holds a subject, a
//! session reference or a token.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tessera_core::keyring::SigningKey;
use tessera_core::store::StoreError;
use tessera_core::{
    Created, EndReason, Event, EventKind, EventSink, Record, SessionId, Store, Timestamp,
    TracingSink, Updated,
};

/// Upper bounds of the store latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// Every end reason, in the order of the `ended` counters.
pub(crate) const END_REASONS: [EndReason; 7] = [
    EndReason::Logout,
    EndReason::Idle,
    EndReason::Absolute,
    EndReason::Revoked,
    EndReason::Evicted,
    EndReason::Theft,
    EndReason::Login,
];
/// Every store operation, in the order of the latency histograms.
const OPERATIONS: [&str; 10] = [
    "create",
    "subject_epoch",
    "load",
    "update",
    "delete",
    "list_by_subject",
    "delete_by_subject",
    "signing_keys",
    "rotate_signing_key",
    "purge_expired",
];
/// Most distinct error codes counted (the codes are the service's own constants).
const MAX_CODES: usize = 64;

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, seconds: f64) {
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Relaxed);
            }
        }
        self.count.fetch_add(1, Relaxed);
        // Whole microseconds: f64 -> u64 saturates, never wraps.
        self.sum_micros.fetch_add((seconds * 1e6) as u64, Relaxed);
    }
}

/// The service's counters. Shared by the API, the event sink and the timed store.
#[derive(Default)]
pub struct Metrics {
    created: AtomicU64,
    resolved_live: AtomicU64,
    resolved_none: AtomicU64,
    rotated: AtomicU64,
    elevated: AtomicU64,
    renewed: AtomicU64,
    theft: AtomicU64,
    login_refused: AtomicU64,
    ended: [AtomicU64; END_REASONS.len()],
    store: [Histogram; OPERATIONS.len()],
    store_errors: AtomicU64,
    api_errors: Mutex<BTreeMap<&'static str, u64>>,
    active: Mutex<Active>,
}

/// How far back a session counts as active: resolved or created within this window.
pub const ACTIVE_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// Sessions remembered as active (about 60 bytes each): past it, the figure is a lower bound.
const MAX_ACTIVE: usize = 200_000;

/// The sessions this instance saw active lately, by when it last saw each.
#[derive(Default)]
struct Active {
    seen: std::collections::HashMap<tessera_core::SessionId, std::time::Instant>,
    full: bool,
}

impl Active {
    fn forget_old(&mut self, now: std::time::Instant) {
        self.seen
            .retain(|_, at| now.duration_since(*at) <= ACTIVE_WINDOW);
        self.full = self.seen.len() >= MAX_ACTIVE;
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Notes that session `id` was just used (resolved live or created).
    pub fn active(&self, id: tessera_core::SessionId) {
        let now = std::time::Instant::now();
        let Ok(mut a) = self.active.lock() else {
            return;
        };
        if a.seen.len() >= MAX_ACTIVE && !a.seen.contains_key(&id) {
            a.forget_old(now);
            if a.full {
                return;
            }
        }
        a.seen.insert(id, now);
    }

    /// Distinct sessions this instance saw active within [`ACTIVE_WINDOW`], and whether that
    /// is only a lower bound (more than it remembers).
    pub fn active_recently(&self) -> (u64, bool) {
        let Ok(mut a) = self.active.lock() else {
            return (0, true);
        };
        a.forget_old(std::time::Instant::now());
        (a.seen.len() as u64, a.full)
    }

    /// Counts one resolve by whether it found a live session.
    pub fn resolved(&self, live: bool) {
        if live {
            self.resolved_live.fetch_add(1, Relaxed);
        } else {
            self.resolved_none.fetch_add(1, Relaxed);
        }
    }

    /// Counts one error answer by its problem code.
    pub fn api_error(&self, code: &'static str) {
        if let Ok(mut codes) = self.api_errors.lock() {
            if codes.len() < MAX_CODES || codes.contains_key(code) {
                *codes.entry(code).or_default() += 1;
            }
        }
    }

    /// Sessions ended for `reason` so far.
    pub fn ended(&self, reason: EndReason) -> u64 {
        END_REASONS
            .iter()
            .position(|r| *r == reason)
            .and_then(|i| self.ended.get(i))
            .map_or(0, |c| c.load(Relaxed))
    }

    /// Resolves so far: (found a live session, found none).
    pub fn resolves(&self) -> (u64, u64) {
        (
            self.resolved_live.load(Relaxed),
            self.resolved_none.load(Relaxed),
        )
    }

    /// Sessions created so far.
    pub fn created(&self) -> u64 {
        self.created.load(Relaxed)
    }

    fn record_event(&self, kind: &EventKind) {
        let counter = match kind {
            EventKind::Created => &self.created,
            EventKind::Rotated => &self.rotated,
            EventKind::Elevated { .. } => &self.elevated,
            EventKind::Renewed => &self.renewed,
            EventKind::TheftSuspected => &self.theft,
            EventKind::LoginRefused => &self.login_refused,
            EventKind::Ended(reason) => {
                match END_REASONS
                    .iter()
                    .position(|r| r == reason)
                    .and_then(|i| self.ended.get(i))
                {
                    Some(c) => c,
                    None => return,
                }
            }
            _ => return,
        };
        counter.fetch_add(1, Relaxed);
    }

    fn observe(&self, operation: usize, started: Instant, failed: bool) {
        if let Some(h) = self.store.get(operation) {
            h.observe(started.elapsed().as_secs_f64());
        }
        if failed {
            self.store_errors.fetch_add(1, Relaxed);
        }
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, samples: &[(String, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, v) in samples {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        let one = |c: &AtomicU64| vec![(String::new(), c.load(Relaxed))];
        counter(
            "tessera_sessions_created_total",
            "Sessions created (logins).",
            &one(&self.created),
        );
        counter(
            "tessera_sessions_resolved_total",
            "Tokens resolved, by whether a live session answered.",
            &[
                ("{result=\"live\"}".into(), self.resolved_live.load(Relaxed)),
                ("{result=\"none\"}".into(), self.resolved_none.load(Relaxed)),
            ],
        );
        counter(
            "tessera_sessions_rotated_total",
            "Token rotations (on demand).",
            &one(&self.rotated),
        );
        counter(
            "tessera_sessions_elevated_total",
            "Step-ups (each rotates the token).",
            &one(&self.elevated),
        );
        counter(
            "tessera_sessions_renewed_total",
            "Idle deadlines pushed back (throttled writes).",
            &one(&self.renewed),
        );
        counter(
            "tessera_theft_suspected_total",
            "Rotated-out tokens presented after their grace window; each revoked its session.",
            &one(&self.theft),
        );
        counter(
            "tessera_logins_refused_total",
            "Logins refused because the subject was revoked after the ticket was taken.",
            &one(&self.login_refused),
        );
        let ended: Vec<(String, u64)> = END_REASONS
            .iter()
            .zip(&self.ended)
            .map(|(r, c)| (format!("{{reason=\"{}\"}}", r.as_str()), c.load(Relaxed)))
            .collect();
        counter(
            "tessera_sessions_ended_total",
            "Sessions ended, by reason.",
            &ended,
        );
        counter(
            "tessera_store_errors_total",
            "Store calls that failed (each answered as no session).",
            &one(&self.store_errors),
        );
        let errors: Vec<(String, u64)> = self
            .api_errors
            .lock()
            .map(|codes| {
                codes
                    .iter()
                    .map(|(code, n)| (format!("{{code=\"{code}\"}}"), *n))
                    .collect()
            })
            .unwrap_or_default();
        counter(
            "tessera_api_errors_total",
            "Error answers, by problem code.",
            &errors,
        );
        let (active, _) = self.active_recently();
        let _ = writeln!(
            out,
            "# HELP tessera_sessions_active_recent Distinct sessions this instance saw resolved or created in the last 15 minutes.\n\
             # TYPE tessera_sessions_active_recent gauge\ntessera_sessions_active_recent {active}"
        );
        let name = "tessera_store_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Store call latency, by operation.\n# TYPE {name} histogram"
        );
        for (op, h) in OPERATIONS.iter().zip(&self.store) {
            for (bound, bucket) in BUCKETS.iter().zip(&h.buckets) {
                let _ = writeln!(
                    out,
                    "{name}_bucket{{operation=\"{op}\",le=\"{bound}\"}} {}",
                    bucket.load(Relaxed)
                );
            }
            let count = h.count.load(Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{operation=\"{op}\",le=\"+Inf\"}} {count}\n\
                 {name}_sum{{operation=\"{op}\"}} {}\n\
                 {name}_count{{operation=\"{op}\"}} {count}",
                h.sum_micros.load(Relaxed) as f64 / 1e6
            );
        }
        out
    }
}

/// Counts every engine event and passes it on to the audit log.
#[derive(Debug)]
pub struct MetricsSink {
    metrics: Arc<Metrics>,
}

impl MetricsSink {
    /// A sink feeding `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl EventSink for MetricsSink {
    fn emit(&self, event: &Event) {
        self.metrics.record_event(&event.kind);
        TracingSink.emit(event);
    }
}

/// A store that times every call into the latency histograms.
#[derive(Debug)]
pub struct TimedStore<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> TimedStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

impl<S: Store> TimedStore<S> {
    async fn timed<T>(
        &self,
        operation: usize,
        call: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let out = call.await;
        self.metrics.observe(operation, started, out.is_err());
        out
    }
}

impl<S: Store> Store for TimedStore<S> {
    async fn create(&self, r: &Record, epoch: Option<u64>) -> Result<Created, StoreError> {
        self.timed(0, self.inner.create(r, epoch)).await
    }
    async fn subject_epoch(&self, s: &str) -> Result<u64, StoreError> {
        self.timed(1, self.inner.subject_epoch(s)).await
    }
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        self.timed(2, self.inner.load(id)).await
    }
    async fn load_fresh(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        self.timed(2, self.inner.load_fresh(id)).await
    }
    async fn update(&self, r: &Record, expected: u64) -> Result<Updated, StoreError> {
        self.timed(3, self.inner.update(r, expected)).await
    }
    async fn delete(&self, id: &SessionId) -> Result<bool, StoreError> {
        self.timed(4, self.inner.delete(id)).await
    }
    async fn list_by_subject(&self, s: &str) -> Result<Vec<Record>, StoreError> {
        self.timed(5, self.inner.list_by_subject(s)).await
    }
    async fn delete_by_subject(
        &self,
        s: &str,
        except: Option<&SessionId>,
    ) -> Result<Vec<SessionId>, StoreError> {
        self.timed(6, self.inner.delete_by_subject(s, except)).await
    }
    async fn signing_keys(
        &self,
        purpose: &str,
        fresh: &SigningKey,
    ) -> Result<Vec<SigningKey>, StoreError> {
        self.timed(7, self.inner.signing_keys(purpose, fresh)).await
    }
    async fn rotate_signing_key(
        &self,
        purpose: &str,
        fresh: &SigningKey,
    ) -> Result<(), StoreError> {
        self.timed(8, self.inner.rotate_signing_key(purpose, fresh))
            .await
    }
    async fn purge_expired(&self, now: Timestamp, limit: usize) -> Result<u64, StoreError> {
        self.timed(9, self.inner.purge_expired(now, limit)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_render() {
        let m = Metrics::default();
        m.observe(2, Instant::now(), false);
        if let Some(h) = m.store.get(2) {
            h.observe(0.003);
        }
        m.api_error("no-session");
        m.api_error("no-session");
        m.record_event(&EventKind::Ended(EndReason::Theft));
        let text = m.render();
        assert!(text.contains("tessera_store_seconds_bucket{operation=\"load\",le=\"0.005\"} 2"));
        assert!(text.contains("tessera_store_seconds_bucket{operation=\"load\",le=\"0.0025\"} 1"));
        assert!(text.contains("tessera_store_seconds_count{operation=\"load\"} 2"));
        assert!(text.contains("tessera_api_errors_total{code=\"no-session\"} 2"));
        assert!(text.contains("tessera_sessions_ended_total{reason=\"theft\"} 1"));
        assert_eq!(m.ended(EndReason::Theft), 1);
    }
}
