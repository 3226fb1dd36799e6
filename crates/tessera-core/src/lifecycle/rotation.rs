//! Rotation at every trust transition: a new verifier for the same session, the old token kept
//! for a grace window measured from the commit, with the step-up it had then.

use std::time::Duration;

use crate::clock::Timestamp;
use crate::error::Error;
use crate::event::EventKind;
use crate::record::{Elevation, PreviousVerifier, Record};
use crate::store::{Store, Updated};
use crate::token::Token;

use super::{Engine, Issued, Session, MAX_CAS_RETRIES};

/// How long a rotation's write may take before its grace window is measured from the commit
/// instead: the rotated-out token stays usable for `rotation_grace` after the commit, never less
/// (a slow write must not turn an in-flight request into "theft"). The write carries a deadline
/// this much later; once it committed, a second write narrows it to commit + grace.
pub const ROTATION_COMMIT_ALLOWANCE: Duration = Duration::from_secs(30);

impl<S: Store> Engine<S> {
    /// Issues a new token for the session (same session, same data); the old token works only
    /// for the grace window. Exactly one of many racing rotations succeeds; the others get
    /// [`Error::AlreadyRotated`].
    pub async fn rotate(&self, token: &Token) -> Result<Issued, Error> {
        self.rotate_with(token, |_, _| Ok(()), EventKind::Rotated)
            .await
    }

    /// Steps the session up to `level` for `duration` (after the app re-checked a credential),
    /// rotating the token as every trust transition must.
    pub async fn elevate(
        &self,
        token: &Token,
        level: u32,
        duration: Duration,
    ) -> Result<Issued, Error> {
        self.rotate_with(
            token,
            |record, now| {
                record.elevation = Some(Elevation {
                    level,
                    until: now.plus(duration),
                });
                record.auth_time = Some(now);
                Ok(())
            },
            EventKind::Elevated { level },
        )
        .await
    }

    /// Rotates `token`'s session with `change` applied to the new record in the same write;
    /// `change` may refuse (its error is returned, nothing is written).
    pub(super) async fn rotate_with(
        &self,
        token: &Token,
        change: impl Fn(&mut Record, Timestamp) -> Result<(), Error>,
        kind: EventKind,
    ) -> Result<Issued, Error> {
        for _ in 0..MAX_CAS_RETRIES {
            let Some(session) = self.resolve(token).await? else {
                return Err(Error::NoSession);
            };
            if !session.current {
                return Err(Error::AlreadyRotated);
            }
            let now = self.now();
            let old = session.record;
            let new_token = token.with_new_verifier()?;
            let mut record = self.rotated(&old, &new_token, now);
            change(&mut record, now)?;
            match self.inner.store.update(&record, old.version).await? {
                Updated::Written => {
                    return Ok(self.committed(kind, record, &old, new_token, now).await);
                }
                Updated::Missing => return Err(Error::NoSession),
                // A concurrent write: if it was a rotation, the next resolve sees our token as
                // the previous one and reports AlreadyRotated; otherwise retry on fresh state.
                Updated::VersionMismatch => continue,
            }
        }
        Err(Error::AlreadyRotated)
    }

    /// The record `old` becomes when rotated to `new_token` at `now`: its current verifier is
    /// the previous one, with a grace deadline wide enough for a slow write
    /// ([`ROTATION_COMMIT_ALLOWANCE`]); the one before that moves to `retired`.
    pub(super) fn rotated(&self, old: &Record, new_token: &Token, now: Timestamp) -> Record {
        let mut record = old.clone();
        record.verifier = new_token.verifier_hash();
        let mut grace_until = now
            .plus(self.inner.policy.rotation_grace())
            .plus(ROTATION_COMMIT_ALLOWANCE);
        // A device-bound token's grace never outlives its own bound deadline: a copied cookie
        // that had died does not come back for a grace window after a refresh or a rotation.
        // (Its cookie's Max-Age ends `BOUND_COOKIE_MARGIN` earlier, so the browser has let go
        // of it by then.)
        if let Some(device) = &old.device {
            grace_until = grace_until.min(device.token_until);
        }
        record.previous = Some(Box::new(PreviousVerifier {
            verifier: old.verifier,
            grace_until,
            elevation: old.elevation,
            auth_time: old.auth_time,
        }));
        if let Some(before) = old.previous.as_deref() {
            record.retired.insert(0, *before);
            record.retired.truncate(crate::record::MAX_RETIRED);
        }
        record.version = old.version.saturating_add(1);
        record
    }

    /// Once a rotation from `old` to `written` committed: reports `kind`, and hands out the new
    /// token now, so the old one's grace runs from here. The narrowing write happens in its own
    /// task, so a slow store cannot delay the delivery (and so stretch the time the client must
    /// keep the old one).
    pub(super) async fn committed(
        &self,
        kind: EventKind,
        written: Record,
        old: &Record,
        token: Token,
        now: Timestamp,
    ) -> Issued {
        self.emit(kind, &written.id, written.subject.as_deref());
        let until = self.now().plus(self.inner.policy.rotation_grace());
        let (engine, narrowed, verifier) = (self.clone(), written.clone(), old.verifier);
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    engine.narrow_grace(narrowed, verifier, until, true).await;
                });
            }
            Err(_) => engine.narrow_grace(narrowed, verifier, until, false).await,
        }
        Issued {
            token,
            session: Session {
                record: written,
                now,
                current: true,
            },
        }
    }

    /// After a rotation committed, moves the rotated-out token's grace deadline from the wide
    /// one the write carried to `until` (commit + grace). A store failure is retried with
    /// backoff for about 6 s when `patient` (in its own task); if it still fails, or the
    /// record ended meanwhile, the wider deadline stays, which never calls an in-flight request
    /// theft (docs/security.md, "Known limits").
    async fn narrow_grace(
        &self,
        mut record: Record,
        old: crate::token::VerifierHash,
        until: Timestamp,
        patient: bool,
    ) {
        let mut backoff = Duration::from_millis(200);
        for _ in 0..8 {
            // The rotated-out token may have moved to `retired` by a later rotation.
            let rotated_out = record.rotated_out_mut().find(|p| p.verifier == old);
            let Some(p) = rotated_out else {
                return;
            };
            if p.grace_until <= until {
                return;
            }
            p.grace_until = until;
            let expected = record.version;
            record.version = expected.saturating_add(1);
            let reload = match self.inner.store.update(&record, expected).await {
                Ok(Updated::Written | Updated::Missing) => return,
                Ok(Updated::VersionMismatch) => true,
                Err(_) if patient => {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    true
                }
                Err(_) => return,
            };
            if reload {
                loop {
                    match self.inner.store.load_fresh(&record.id).await {
                        Ok(Some(fresh)) => {
                            record = fresh;
                            break;
                        }
                        Ok(None) => return,
                        Err(_) if patient && backoff < Duration::from_secs(4) => {
                            tokio::time::sleep(backoff).await;
                            backoff *= 2;
                        }
                        Err(_) => return,
                    }
                }
            }
        }
    }
}
