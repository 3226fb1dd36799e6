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

/// One queued end.
struct PendingEnd {
    /// The presented token's verifier. An unverified end deletes the record only if it matches.
    verifier: VerifierHash,
    asked: Timestamp,
    /// The session's subject when it was resolved before the store failed; `None` when the
    /// token could not be checked at all.
    subject: Option<String>,
}

#[derive(Default)]
struct Queue {
    ends: HashMap<SessionId, PendingEnd>,
    unverified: usize,
    per_subject: HashMap<String, usize>,
}

impl Queue {
    /// Queues an end if there is room for it; true when it is (or already was) queued.
    fn insert(&mut self, id: SessionId, end: PendingEnd) -> bool {
        if self.ends.contains_key(&id) {
            return true;
        }
        if self.ends.len() >= MAX_PENDING_ENDS {
            return false;
        }
        match &end.subject {
            None if self.unverified >= MAX_UNVERIFIED_PENDING_ENDS => return false,
            None => self.unverified += 1,
            Some(subject) => {
                let n = self.per_subject.entry(subject.clone()).or_default();
                if *n >= MAX_PENDING_ENDS_PER_SUBJECT {
                    return false;
                }
                *n += 1;
            }
        }
        self.ends.insert(id, end);
        true
    }

    fn remove(&mut self, id: &SessionId) {
        let Some(end) = self.ends.remove(id) else {
            return;
        };
        match end.subject {
            None => self.unverified = self.unverified.saturating_sub(1),
            Some(subject) => {
                if let Some(n) = self.per_subject.get_mut(&subject) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.per_subject.remove(&subject);
                    }
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
    /// resolved session, or exactly the token that asked, for an unverified end.
    pub(super) fn refuses(&self, id: &SessionId, token: &Token) -> bool {
        if self.count.load(Ordering::Acquire) == 0 {
            return false;
        }
        match self.queue.lock() {
            Ok(q) => q
                .ends
                .get(id)
                .is_some_and(|e| e.subject.is_some() || e.verifier == token.verifier_hash()),
            Err(_) => true,
        }
    }
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
        let end = PendingEnd {
            verifier: token.verifier_hash(),
            asked: self.now(),
            subject,
        };
        let queued = match pending.queue.lock() {
            Ok(mut q) => {
                let queued = q.insert(id, end);
                pending.count.store(q.ends.len(), Ordering::Release);
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

    /// Ends one queued session: `Ok` when it is gone (or was never there), `Err` when the
    /// store failed again.
    async fn end_queued(
        &self,
        id: &SessionId,
        verifier: &VerifierHash,
        checked: bool,
    ) -> Result<(), ()> {
        if !checked {
            // The token was never checked: end the session only if it really is its token.
            let record = self.inner.store.load(id).await.map_err(|_| ())?;
            let Some(record) = record else {
                return Ok(());
            };
            let matches = record.verifier == *verifier
                || record
                    .previous
                    .iter()
                    .chain(record.retired.iter())
                    .any(|p| p.verifier == *verifier);
            if !matches {
                return Ok(());
            }
        }
        self.inner
            .store
            .delete(id)
            .await
            .map(|_| ())
            .map_err(|_| ())
    }

    /// Retries queued ends with backoff until none is left.
    async fn retry_pending_ends(self) {
        let pending = &self.inner.pending;
        let mut delay = Duration::from_millis(100);
        loop {
            tokio::time::sleep(delay).await;
            let ends: Vec<(SessionId, VerifierHash, Timestamp, bool)> = match pending.queue.lock() {
                Ok(q) => q
                    .ends
                    .iter()
                    .map(|(id, e)| (*id, e.verifier, e.asked, e.subject.is_some()))
                    .collect(),
                Err(_) => Vec::new(),
            };
            let lifetime = self.inner.policy.absolute_lifetime();
            let mut failed = false;
            for (id, verifier, asked, checked) in ends {
                let outcome = if self.now() >= asked.plus(lifetime) {
                    // The session has expired by now whatever the store holds.
                    Some(EventKind::EndDropped)
                } else {
                    match self.end_queued(&id, &verifier, checked).await {
                        Ok(()) => Some(EventKind::Ended(EndReason::Logout)),
                        Err(()) => {
                            failed = true;
                            None
                        }
                    }
                };
                if let Some(kind) = outcome {
                    if let Ok(mut q) = pending.queue.lock() {
                        q.remove(&id);
                        pending.count.store(q.ends.len(), Ordering::Release);
                    }
                    self.emit(kind, &id, None);
                }
                if failed {
                    break;
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
                if q.ends.is_empty() {
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

    fn end(subject: Option<&str>) -> PendingEnd {
        PendingEnd {
            verifier: crate::token::VerifierHash::from_bytes([7; 32]),
            asked: Timestamp::from_millis(0),
            subject: subject.map(str::to_owned),
        }
    }

    fn id(n: usize) -> SessionId {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&(n as u64).to_le_bytes());
        SessionId::from_bytes(b)
    }

    /// The queue-flood attack (independent review, F1): unchecked tokens and one subject's
    /// sessions cannot take the room another user's sign-out needs.
    #[test]
    fn the_queue_is_fair_and_says_when_it_is_full() {
        let mut q = Queue::default();
        for n in 0..MAX_UNVERIFIED_PENDING_ENDS {
            assert!(q.insert(id(n), end(None)));
        }
        assert!(
            !q.insert(id(usize::MAX), end(None)),
            "unchecked ends take half at most"
        );
        for n in 0..MAX_PENDING_ENDS_PER_SUBJECT {
            assert!(q.insert(id(1_000_000 + n), end(Some("bob"))));
        }
        assert!(
            !q.insert(id(2_000_000), end(Some("bob"))),
            "one subject's share is bounded"
        );
        assert!(
            q.insert(id(3_000_000), end(Some("alice"))),
            "alice still gets a slot"
        );
        assert!(
            q.insert(id(3_000_000), end(Some("alice"))),
            "queuing twice is fine"
        );
        q.remove(&id(1_000_000));
        assert!(q.insert(id(2_000_000), end(Some("bob"))));
        q.remove(&id(0));
        assert_eq!(q.unverified, MAX_UNVERIFIED_PENDING_ENDS - 1);
    }
}
