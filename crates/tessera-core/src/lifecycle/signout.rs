//! Sign-out that never fails open: when the store cannot answer, the session's server-side end
//! is queued, honoured at once by this engine, and retried until it lands.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::clock::Timestamp;
use crate::event::{EndReason, EventKind};
use crate::store::Store;
use crate::token::{SessionId, Token};

use super::Engine;

/// Most sign-outs whose server-side end is waiting for the store at once; see
/// [`Engine::logout_or_defer`].
pub const MAX_PENDING_ENDS: usize = 10_000;
/// How long a sign-out waits for the store before it queues the server-side end and answers.
pub const LOGOUT_WAIT: Duration = Duration::from_secs(3);
/// What [`Engine::logout_or_defer`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum LogoutOutcome {
    /// The session ended on the server (or there was none).
    Ended,
    /// The store could not answer: the end is queued and retried, and this process already
    /// treats the session as ended.
    Pending,
}

/// Sign-outs whose server-side delete is waiting for the store: id → when it was asked for.
#[derive(Default)]
pub(super) struct PendingEnds {
    /// Read on every resolve without the lock; the lock is taken only while it is non-zero.
    count: AtomicUsize,
    ids: Mutex<HashMap<SessionId, Timestamp>>,
    retrying: AtomicBool,
}

impl PendingEnds {
    pub(super) fn contains(&self, id: &SessionId) -> bool {
        self.count.load(Ordering::Acquire) > 0
            && self
                .ids
                .lock()
                .map(|ids| ids.contains_key(id))
                .unwrap_or(true)
    }
}

impl<S: Store> Engine<S> {
    /// Signs out even when the store cannot answer: tries [`Engine::logout`]; if the store fails,
    /// the session's server-side end is queued (at most [`MAX_PENDING_ENDS`]) and retried in
    /// the background until it lands, and this engine already treats the session as ended. A
    /// user pressing "sign out" on a shared computer is signed out whatever the store does.
    ///
    /// Events: [`EventKind::EndPending`] when queued, `Ended(Logout)` when the delete lands,
    /// [`EventKind::EndDropped`] if the queue is full or the session's lifetime ran out first.
    /// Must be called from within a tokio runtime (it may spawn the retry task).
    pub async fn logout_or_defer(&self, token: &Token) -> LogoutOutcome {
        let id = token.session_id();
        match tokio::time::timeout(LOGOUT_WAIT, self.logout(token)).await {
            Ok(Ok(())) => LogoutOutcome::Ended,
            Ok(Err(e)) => {
                tracing::warn!(target: "tessera::session", error = %e, "sign-out could not reach the store; its server-side end is queued");
                self.defer_end(id);
                LogoutOutcome::Pending
            }
            Err(_) => {
                tracing::warn!(target: "tessera::session", "sign-out waited too long for the store; its server-side end is queued");
                self.defer_end(id);
                LogoutOutcome::Pending
            }
        }
    }

    fn defer_end(&self, id: SessionId) {
        let pending = &self.inner.pending;
        let queued = match pending.ids.lock() {
            Ok(mut ids) if ids.len() < MAX_PENDING_ENDS || ids.contains_key(&id) => {
                ids.insert(id, self.now());
                pending.count.store(ids.len(), Ordering::Release);
                true
            }
            _ => false,
        };
        if !queued {
            self.emit(EventKind::EndDropped, &id, None);
            return;
        }
        self.emit(EventKind::EndPending, &id, None);
        if !pending.retrying.swap(true, Ordering::AcqRel) {
            let engine = self.clone();
            tokio::spawn(async move { engine.retry_pending_ends().await });
        }
    }

    /// Retries queued ends with backoff until none is left.
    async fn retry_pending_ends(self) {
        let pending = &self.inner.pending;
        let mut delay = Duration::from_millis(100);
        loop {
            tokio::time::sleep(delay).await;
            let ids: Vec<(SessionId, Timestamp)> = match pending.ids.lock() {
                Ok(ids) => ids.iter().map(|(id, at)| (*id, *at)).collect(),
                Err(_) => Vec::new(),
            };
            let lifetime = self.inner.policy.absolute_lifetime();
            let mut failed = false;
            for (id, asked) in ids {
                let outcome = if self.now() >= asked.plus(lifetime) {
                    // The session has expired by now whatever the store holds.
                    Some(EventKind::EndDropped)
                } else {
                    match self.inner.store.delete(&id).await {
                        Ok(_) => Some(EventKind::Ended(EndReason::Logout)),
                        Err(_) => {
                            failed = true;
                            None
                        }
                    }
                };
                if let Some(kind) = outcome {
                    if let Ok(mut map) = pending.ids.lock() {
                        map.remove(&id);
                        pending.count.store(map.len(), Ordering::Release);
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
            if let Ok(map) = pending.ids.lock() {
                if map.is_empty() {
                    pending.retrying.store(false, Ordering::Release);
                    return;
                }
            }
        }
    }
}
