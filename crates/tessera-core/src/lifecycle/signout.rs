//! Sign-out that never fails open: when the store cannot answer, the session's server-side end
//! is queued, honoured at once by this engine, and retried until it lands.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::clock::Timestamp;
use crate::event::{EndReason, EventKind};
use crate::store::Store;
use crate::token::{SessionId, Token, VerifierHash};

use super::Engine;

/// Most sign-outs whose server-side end can wait for the store at once.
pub const MAX_PENDING_ENDS: usize = 100_000;
/// Of those, most whose token could not be checked (the store could not even read): during a
/// full outage anyone can present well-formed tokens, so they may take only half the queue and
/// never crowd out the sign-outs of sessions that were resolved.
pub const MAX_UNVERIFIED_PENDING_ENDS: usize = MAX_PENDING_ENDS / 2;
/// Most queued sign-outs of one subject's resolved sessions, so one account's many sessions
/// cannot take the queue from everyone else's.
pub const MAX_PENDING_ENDS_PER_SUBJECT: usize = 64;
/// How long a sign-out waits for the store before it queues the server-side end and answers.
pub const LOGOUT_WAIT: Duration = Duration::from_secs(3);

/// What [`Engine::logout_or_defer`] did. In every case the caller clears the browser's cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum LogoutOutcome {
    /// The session ended on the server (or there was none).
    Ended,
    /// The store could not answer: the end is queued and retried, and this engine already
    /// treats the session as ended.
    Pending,
    /// The store could not answer and the queue had no room: the session may still be live on
    /// the server. Tell the user to sign out again later (or change their password).
    Failed,
}

/// Most unchecked ends queued for one session id, each with its own verifier: a caller who
/// knows a session's selector can add wrong-verifier ends, but never take the real token's place.
const MAX_UNCHECKED_PER_SESSION: usize = 16;
/// Longest a retry waits for one store call.
const RETRY_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The queued ends of one session id.
#[derive(Default)]
struct Slot {
    /// Set when a sign-out resolved the session before the store failed: end it whatever token.
    resolved: Option<(String, Timestamp)>,
    /// Sign-outs whose token could not be checked: each ends the session only if its verifier
    /// is the session's.
    unchecked: Vec<(VerifierHash, Timestamp)>,
}

impl Slot {
    fn asked(&self) -> Option<Timestamp> {
        self.resolved
            .iter()
            .map(|(_, at)| *at)
            .chain(self.unchecked.iter().map(|(_, at)| *at))
            .min()
    }
}

#[derive(Default)]
struct Queue {
    slots: HashMap<SessionId, Slot>,
    /// Ends queued in all (resolved ones and unchecked verifiers).
    len: usize,
    unverified: usize,
    per_subject: HashMap<String, usize>,
}

impl Queue {
    /// Queues a resolved end (`subject`) or an unchecked one (`None`) if there is room; true
    /// when it is (or already was) queued.
    fn insert(
        &mut self,
        id: SessionId,
        verifier: VerifierHash,
        subject: Option<String>,
        at: Timestamp,
    ) -> bool {
        let slot = self.slots.entry(id).or_default();
        let already = slot.resolved.is_some()
            || (subject.is_none() && slot.unchecked.iter().any(|(v, _)| *v == verifier));
        if already {
            return true;
        }
        if self.len >= MAX_PENDING_ENDS {
            return false;
        }
        match subject {
            Some(subject) => {
                let n = self.per_subject.entry(subject.clone()).or_default();
                if *n >= MAX_PENDING_ENDS_PER_SUBJECT {
                    return false;
                }
                *n += 1;
                slot.resolved = Some((subject, at));
            }
            None => {
                if self.unverified >= MAX_UNVERIFIED_PENDING_ENDS
                    || slot.unchecked.len() >= MAX_UNCHECKED_PER_SESSION
                {
                    return false;
                }
                self.unverified += 1;
                slot.unchecked.push((verifier, at));
            }
        }
        self.len += 1;
        true
    }

    fn remove(&mut self, id: &SessionId) {
        let Some(slot) = self.slots.remove(id) else {
            return;
        };
        self.len = self
            .len
            .saturating_sub(slot.unchecked.len() + usize::from(slot.resolved.is_some()));
        self.unverified = self.unverified.saturating_sub(slot.unchecked.len());
        if let Some((subject, _)) = slot.resolved {
            if let Some(n) = self.per_subject.get_mut(&subject) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.per_subject.remove(&subject);
                }
            }
        }
    }
}

/// Sign-outs whose server-side delete is waiting for the store.
#[derive(Default)]
pub(super) struct PendingEnds {
    /// Read on every resolve without the lock; the lock is taken only while it is non-zero.
    count: AtomicUsize,
    queue: Mutex<Queue>,
    retrying: AtomicBool,
}

impl PendingEnds {
    /// True when `token` must be refused because its session's end is queued: any token of a
    /// resolved session, or a token whose own unchecked sign-out is queued.
    /// True when a queued end covers `record`'s session: a checked sign-out of it, or an
    /// unchecked one that named its current verifier. A device-bound refresh, which presents
    /// no token, asks this.
    pub(super) fn refuses_record(&self, record: &crate::record::Record) -> bool {
        if self.count.load(Ordering::Acquire) == 0 {
            return false;
        }
        match self.queue.lock() {
            Ok(q) => q.slots.get(&record.id).is_some_and(|slot| {
                slot.resolved.is_some() || slot.unchecked.iter().any(|(v, _)| *v == record.verifier)
            }),
            Err(_) => true,
        }
    }

    pub(super) fn refuses(&self, id: &SessionId, token: &Token) -> bool {
        if self.count.load(Ordering::Acquire) == 0 {
            return false;
        }
        match self.queue.lock() {
            Ok(q) => q.slots.get(id).is_some_and(|slot| {
                slot.resolved.is_some() || {
                    let presented = token.verifier_hash();
                    slot.unchecked.iter().any(|(v, _)| *v == presented)
                }
            }),
            Err(_) => true,
        }
    }
}

/// What one retry of a queued end found.
enum Retried {
    /// The session is gone (deleted now, or already).
    Ended,
    /// No queued verifier is the session's: nothing was ended (a wrong or forged token).
    NoMatch,
    /// The store failed again; try later.
    Later,
    /// The record cannot be read back (corrupt): give up on it, loudly.
    GiveUp,
}

impl<S: Store> Engine<S> {
    /// Signs out even when the store cannot answer. It resolves the token and deletes its
    /// session, waiting at most [`LOGOUT_WAIT`]; if the store fails or is too slow, the
    /// session's server-side end is queued and retried in the background until it lands, and
    /// this engine already refuses the session. A user pressing "sign out" on a shared computer
    /// is signed out whatever the store does.
    ///
    /// The queue is bounded ([`MAX_PENDING_ENDS`]) and fair: ends of tokens the store could not
    /// check take at most half of it, one subject's at most [`MAX_PENDING_ENDS_PER_SUBJECT`];
    /// when there is no room the answer is [`LogoutOutcome::Failed`], never a silent drop. An
    /// unchecked end deletes the record only if the token's verifier matches it.
    ///
    /// Events: [`EventKind::EndPending`] when queued, `Ended(Logout)` when the delete lands,
    /// [`EventKind::EndDropped`] when there was no room, or the session's lifetime ran out first.
    /// Must be called from within a tokio runtime (it may spawn the retry task).
    pub async fn logout_or_defer(&self, token: &Token) -> LogoutOutcome {
        let id = token.session_id();
        let started = tokio::time::Instant::now();
        let subject = match tokio::time::timeout(LOGOUT_WAIT, self.resolve(token)).await {
            Ok(Ok(None)) => return LogoutOutcome::Ended,
            Ok(Ok(Some(session))) => session.subject().map(str::to_owned),
            Ok(Err(e)) => {
                tracing::warn!(target: "tessera::session", error = %e, "sign-out could not check the session; its end is queued");
                return self.defer_end(id, token, None);
            }
            Err(_) => {
                tracing::warn!(target: "tessera::session", "sign-out waited too long to check the session; its end is queued");
                return self.defer_end(id, token, None);
            }
        };
        let left = LOGOUT_WAIT.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, self.inner.store.delete(&id)).await {
            Ok(Ok(deleted)) => {
                if deleted {
                    self.emit(EventKind::Ended(EndReason::Logout), &id, subject.as_deref());
                }
                LogoutOutcome::Ended
            }
            Ok(Err(e)) => {
                tracing::warn!(target: "tessera::session", error = %e, "sign-out could not delete the session; its end is queued");
                // An anonymous session is queued as resolved too, under an empty subject.
                self.defer_end(id, token, Some(subject.unwrap_or_default()))
            }
            Err(_) => {
                tracing::warn!(target: "tessera::session", "sign-out waited too long to delete the session; its end is queued");
                self.defer_end(id, token, Some(subject.unwrap_or_default()))
            }
        }
    }

    fn defer_end(&self, id: SessionId, token: &Token, subject: Option<String>) -> LogoutOutcome {
        let pending = &self.inner.pending;
        let queued = match pending.queue.lock() {
            Ok(mut q) => {
                let queued = q.insert(id, token.verifier_hash(), subject, self.now());
                pending.count.store(q.len, Ordering::Release);
                queued
            }
            Err(_) => false,
        };
        if !queued {
            tracing::error!(target: "tessera::session", "the pending sign-out queue has no room; this session may stay live on the server");
            self.emit(EventKind::EndDropped, &id, None);
            return LogoutOutcome::Failed;
        }
        self.emit(EventKind::EndPending, &id, None);
        if !pending.retrying.swap(true, Ordering::AcqRel) {
            let engine = self.clone();
            tokio::spawn(async move { engine.retry_pending_ends().await });
        }
        LogoutOutcome::Pending
    }

    /// One retry of a session's queued ends, each store call bounded by [`RETRY_CALL_TIMEOUT`].
    async fn end_queued(
        &self,
        id: &SessionId,
        resolved: bool,
        verifiers: &[VerifierHash],
    ) -> Retried {
        if !resolved {
            // No sign-out checked its token: end the session only if one of them is its token.
            let record =
                match tokio::time::timeout(RETRY_CALL_TIMEOUT, self.inner.store.load_fresh(id))
                    .await
                {
                    Ok(Ok(record)) => record,
                    Ok(Err(crate::StoreError::Corrupt(_))) => return Retried::GiveUp,
                    Ok(Err(_)) | Err(_) => return Retried::Later,
                };
            let Some(record) = record else {
                return Retried::Ended;
            };
            let known =
                std::iter::once(&record.verifier).chain(record.rotated_out().map(|p| &p.verifier));
            let matched = known.into_iter().any(|k| verifiers.iter().any(|v| v == k));
            if !matched {
                return Retried::NoMatch;
            }
        }
        match tokio::time::timeout(RETRY_CALL_TIMEOUT, self.inner.store.delete(id)).await {
            Ok(Ok(_)) => Retried::Ended,
            Ok(Err(_)) | Err(_) => Retried::Later,
        }
    }

    /// Retries queued ends with backoff until none is left. Every queued session is tried in
    /// every round: one that keeps failing does not hold up the others.
    async fn retry_pending_ends(self) {
        let pending = &self.inner.pending;
        let mut delay = Duration::from_millis(100);
        loop {
            tokio::time::sleep(delay).await;
            type Work = (SessionId, bool, Vec<VerifierHash>, Option<Timestamp>);
            let work: Vec<Work> = match pending.queue.lock() {
                Ok(q) => q
                    .slots
                    .iter()
                    .map(|(id, slot)| {
                        (
                            *id,
                            slot.resolved.is_some(),
                            slot.unchecked.iter().map(|(v, _)| *v).collect(),
                            slot.asked(),
                        )
                    })
                    .collect(),
                Err(_) => Vec::new(),
            };
            let lifetime = self.inner.policy.absolute_lifetime();
            let mut failed = false;
            for (id, resolved, verifiers, asked) in work {
                let expired = asked.is_none_or(|at| self.now() >= at.plus(lifetime));
                let outcome = if expired {
                    // The session has expired by now whatever the store holds.
                    Some(EventKind::EndDropped)
                } else {
                    match self.end_queued(&id, resolved, &verifiers).await {
                        Retried::Ended => Some(EventKind::Ended(EndReason::Logout)),
                        Retried::NoMatch => Some(EventKind::UnknownToken),
                        Retried::GiveUp => Some(EventKind::EndDropped),
                        Retried::Later => {
                            failed = true;
                            None
                        }
                    }
                };
                if let Some(kind) = outcome {
                    if let Ok(mut q) = pending.queue.lock() {
                        q.remove(&id);
                        pending.count.store(q.len, Ordering::Release);
                    }
                    self.emit(kind, &id, None);
                }
            }
            delay = if failed {
                (delay * 2).min(Duration::from_secs(5))
            } else {
                Duration::from_millis(100)
            };
            // Stop when empty; checked under the lock together with the flag, so an end queued
            // right now either is seen here or starts a new task.
            if let Ok(q) = pending.queue.lock() {
                if q.slots.is_empty() {
                    pending.retrying.store(false, Ordering::Release);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> SessionId {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&(n as u64).to_le_bytes());
        SessionId::from_bytes(b)
    }

    fn v(n: u8) -> VerifierHash {
        VerifierHash::from_bytes([n; 32])
    }

    const T: Timestamp = Timestamp::from_millis(0);

    /// The queue-flood attack (independent review, F1): unchecked tokens and one subject's
    /// sessions cannot take the room another user's sign-out needs.
    #[test]
    fn the_queue_is_fair_and_says_when_it_is_full() {
        let mut q = Queue::default();
        for n in 0..MAX_UNVERIFIED_PENDING_ENDS {
            assert!(q.insert(id(n), v(1), None, T));
        }
        assert!(
            !q.insert(id(usize::MAX), v(1), None, T),
            "unchecked ends take half at most"
        );
        for n in 0..MAX_PENDING_ENDS_PER_SUBJECT {
            assert!(q.insert(id(1_000_000 + n), v(1), Some("bob".into()), T));
        }
        assert!(
            !q.insert(id(2_000_000), v(1), Some("bob".into()), T),
            "one subject's share"
        );
        assert!(
            q.insert(id(3_000_000), v(1), Some("alice".into()), T),
            "alice gets a slot"
        );
        assert!(
            q.insert(id(3_000_000), v(2), Some("alice".into()), T),
            "queued twice is fine"
        );
        q.remove(&id(1_000_000));
        assert!(q.insert(id(2_000_000), v(1), Some("bob".into()), T));
        q.remove(&id(0));
        assert_eq!(q.unverified, MAX_UNVERIFIED_PENDING_ENDS - 1);
        assert_eq!(
            q.len,
            MAX_UNVERIFIED_PENDING_ENDS - 1 + MAX_PENDING_ENDS_PER_SUBJECT + 1
        );
    }

    /// The second review's selector squatting: a wrong-verifier end queued first never takes
    /// the place of the real token's, checked or resolved.
    #[test]
    fn a_squatted_session_id_still_takes_the_real_end() {
        let mut q = Queue::default();
        assert!(q.insert(id(1), v(9), None, T), "the squatter");
        assert!(q.insert(id(1), v(1), None, T), "the victim, unchecked");
        let slot = q.slots.get(&id(1)).unwrap();
        assert_eq!(slot.unchecked.len(), 2);
        assert!(
            q.insert(id(1), v(1), Some("alice".into()), T),
            "the victim, resolved"
        );
        assert!(q.slots.get(&id(1)).unwrap().resolved.is_some());
        // A squatter can fill one session's unchecked list, but that is said, not hidden.
        for n in 10..(10 + MAX_UNCHECKED_PER_SESSION as u8) {
            q.insert(id(2), v(n), None, T);
        }
        assert!(!q.insert(id(2), v(1), None, T));
        assert!(
            q.insert(id(2), v(1), Some("alice".into()), T),
            "a resolved end still fits"
        );
    }
}
