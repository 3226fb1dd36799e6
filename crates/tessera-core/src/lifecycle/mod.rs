//! The session engine: every state change of a session goes through [`Engine`].

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::clock::{Clock, SystemClock, Timestamp};
use crate::error::Error;
use crate::event::{EndReason, Event, EventKind, EventSink, TracingSink};
use crate::policy::Policy;
use crate::record::{ClientInfo, PreviousVerifier, Record};
use crate::store::{Created, Store, Updated};
use crate::token::{SessionId, Token};

/// Longest subject accepted, in bytes.
pub const MAX_SUBJECT_BYTES: usize = 256;
/// Conditional-update retries before a data update gives up with [`Error::Conflict`].
const MAX_CAS_RETRIES: usize = 1000;
/// Records deleted per purge batch.
pub const PURGE_BATCH: usize = 500;

mod device;
mod rotation;
mod session;
mod signing;
mod signout;
mod ticket;

pub use device::{BOUND_COOKIE_MARGIN, CHALLENGE_LIFETIME};
pub use rotation::ROTATION_COMMIT_ALLOWANCE;
pub use session::{Issued, Session};
use signout::PendingEnds;
pub use signout::{
    LogoutOutcome, LOGOUT_WAIT, MAX_PENDING_ENDS, MAX_PENDING_ENDS_PER_SUBJECT,
    MAX_UNVERIFIED_PENDING_ENDS,
};
pub use ticket::SEALED_TICKET_LIFETIME;

/// Which data of the pre-login session survives `login`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CarryOver {
    /// Nothing (the default): the new session starts empty.
    #[default]
    Nothing,
    /// Only these keys (for example a shopping cart).
    Keys(Vec<String>),
}

/// Options for [`Engine::login`].
#[derive(Debug, Clone)]
pub struct LoginOptions {
    /// Data carried over from the pre-login session.
    pub carry_over: CarryOver,
    /// Assurance level of this login (default 1).
    pub auth_level: u32,
    /// The client, for the session list.
    pub client: ClientInfo,
    /// Ask the transport for a persistent cookie ("remember me") that lives for the absolute
    /// lifetime, instead of one that ends with the browser session. The engine stores nothing
    /// different; the layer reads it.
    pub remember_me: bool,
    /// An `authorization` value for the device-binding offer on this sign-in's response, when
    /// the layer offers one: the browser's registration proof must carry it. The engine stores
    /// nothing; the layer reads it.
    pub device_authorization: Option<crate::device::DeviceAuthorization>,
}

impl Default for LoginOptions {
    fn default() -> Self {
        Self {
            carry_over: CarryOver::Nothing,
            auth_level: 1,
            client: ClientInfo::default(),
            remember_me: false,
            device_authorization: None,
        }
    }
}

/// Permission to sign a subject in, taken **before** the credential check.
///
/// It records the subject's revocation epoch. If the subject's sessions are revoked (a password
/// change, "sign out everywhere") between the ticket and [`Engine::login`], the login is refused
/// with [`Error::SubjectRevoked`]: a password checked against the old credential cannot
/// outlive the change, and the application needs no lock of its own for it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "pass the ticket to login after the credential check"]
pub struct LoginTicket {
    subject: String,
    epoch: u64,
}

impl LoginTicket {
    /// The subject this ticket signs in.
    pub fn subject(&self) -> &str {
        &self.subject
    }
}

/// How `resolve` judged a presented token.
enum Verdict {
    /// The current token.
    Current,
    /// A rotated-out token inside its grace window, acting with the step-up it had then.
    InGrace(PreviousVerifier),
    Unknown,
    Theft,
}

/// The session engine. Cheap to clone; clones share everything.
pub struct Engine<S> {
    inner: Arc<Inner<S>>,
}

struct Inner<S> {
    store: S,
    policy: Policy,
    clock: Arc<dyn Clock>,
    events: Arc<dyn EventSink>,
    pending: PendingEnds,
    keys: crate::keyring::KeyCache,
}

impl<S> Clone for Engine<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S> std::fmt::Debug for Engine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Engine`].
pub struct EngineBuilder<S> {
    store: S,
    policy: Policy,
    clock: Arc<dyn Clock>,
    events: Arc<dyn EventSink>,
}

impl<S: Store> EngineBuilder<S> {
    /// Sets the policy (default [`Policy::default`]).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the clock (default the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the event sink (default [`TracingSink`]).
    pub fn events(mut self, events: Arc<dyn EventSink>) -> Self {
        self.events = events;
        self
    }

    /// Builds the engine.
    pub fn build(self) -> Engine<S> {
        Engine {
            inner: Arc::new(Inner {
                store: self.store,
                policy: self.policy,
                clock: self.clock,
                events: self.events,
                pending: PendingEnds::default(),
                keys: Default::default(),
            }),
        }
    }
}

impl<S: Store> Engine<S> {
    /// An engine over `store` with the default policy, system clock and tracing events.
    pub fn new(store: S) -> Self {
        Self::builder(store).build()
    }

    /// A builder over `store`.
    pub fn builder(store: S) -> EngineBuilder<S> {
        EngineBuilder {
            store,
            policy: Policy::default(),
            clock: Arc::new(SystemClock),
            events: Arc::new(TracingSink),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// The current time by the engine's clock.
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    fn emit(&self, kind: EventKind, id: &SessionId, subject: Option<&str>) {
        self.report(kind, Some(id), subject);
    }

    /// Sends an audit event to the engine's sink. For transports that see attacks the engine
    /// cannot (e.g. the layer's [`EventKind::CookieTossingSuspected`]).
    pub fn report(&self, kind: EventKind, session: Option<&SessionId>, subject: Option<&str>) {
        self.inner.events.emit(&Event {
            kind,
            session: session.map(SessionId::reference),
            subject: subject.map(str::to_owned),
            at: self.now(),
        });
    }

    /// Starts an anonymous (pre-login) session, e.g. to hold a CSRF token for the login form.
    pub async fn begin(&self, client: ClientInfo) -> Result<Issued, Error> {
        self.create(None, None, 0, Map::new(), client).await
    }

    /// Takes a [`LoginTicket`] for `subject`. Call it **before** checking the credential, then
    /// pass it to [`Engine::login`]: a revocation of the subject's sessions in between refuses
    /// the login.
    pub async fn login_ticket(&self, subject: &str) -> Result<LoginTicket, Error> {
        validate_subject(subject)?;
        let epoch = self.inner.store.subject_epoch(subject).await?;
        Ok(LoginTicket {
            subject: subject.to_owned(),
            epoch,
        })
    }

    /// Authenticates the ticket's subject: always issues a fresh token and destroys the session
    /// of `previous` (if any), carrying over only the data `options.carry_over` names.
    ///
    /// There is no way to log in under a token the engine did not just draw: no fixation. If
    /// the subject's sessions were revoked after the ticket was taken, nothing is created and
    /// the answer is [`Error::SubjectRevoked`].
    pub async fn login(
        &self,
        previous: Option<&Token>,
        ticket: LoginTicket,
        options: LoginOptions,
    ) -> Result<Issued, Error> {
        let subject = ticket.subject.as_str();
        validate_subject(subject)?;
        let mut data = Map::new();
        if let Some(old) = previous {
            if let Some(old_session) = self.resolve(old).await? {
                if let CarryOver::Keys(keys) = &options.carry_over {
                    for key in keys {
                        if let Some(v) = old_session.record.data.get(key) {
                            data.insert(key.clone(), v.clone());
                        }
                    }
                }
                if self.inner.store.delete(&old_session.record.id).await? {
                    self.emit(
                        EventKind::Ended(EndReason::Login),
                        &old_session.record.id,
                        old_session.subject(),
                    );
                }
            }
        }
        let issued = self
            .create(
                Some(subject),
                Some(ticket.epoch),
                options.auth_level,
                data,
                options.client,
            )
            .await?;
        if let Some(max) = self.inner.policy.max_sessions_per_subject() {
            self.evict_beyond(subject, max.get(), &issued.session.record.id)
                .await?;
        }
        Ok(issued)
    }

    async fn create(
        &self,
        subject: Option<&str>,
        epoch: Option<u64>,
        auth_level: u32,
        data: Map<String, Value>,
        client: ClientInfo,
    ) -> Result<Issued, Error> {
        let now = self.now();
        let policy = &self.inner.policy;
        let absolute_deadline = now.plus(policy.absolute_lifetime());
        for _ in 0..3 {
            let token = Token::generate()?;
            let record = Record {
                auth_level,
                data: data.clone(),
                client: client.clone(),
                ..Record::new(
                    &token,
                    subject,
                    now,
                    now.plus(policy.idle_timeout()).min(absolute_deadline),
                    absolute_deadline,
                )
            };
            match self.inner.store.create(&record, epoch).await? {
                Created::Inserted => {
                    self.emit(EventKind::Created, &record.id, subject);
                    return Ok(Issued {
                        token,
                        session: Session {
                            record,
                            now,
                            current: true,
                        },
                    });
                }
                Created::Revoked => {
                    self.report(EventKind::LoginRefused, None, subject);
                    return Err(Error::SubjectRevoked);
                }
                Created::Collision => {
                    tracing::error!(
                        target: "tessera::audit",
                        "a freshly drawn session id collided with a stored one"
                    );
                }
            }
        }
        Err(Error::IdCollision)
    }

    async fn evict_beyond(&self, subject: &str, max: usize, keep: &SessionId) -> Result<(), Error> {
        // Only live sessions count: an expired record the purge has not reached yet must not
        // push a live one out.
        let now = self.now();
        let mut records = self.inner.store.list_by_subject(subject).await?;
        records.retain(|r| now < r.expires_at());
        if records.len() <= max {
            return Ok(());
        }
        // Newest first. Only sessions older than the one just issued are evicted: two logins
        // racing under the cap must not delete each other's new session.
        let Some(own) = records
            .iter()
            .find(|r| r.id == *keep)
            .map(|r| (r.created_at, r.id))
        else {
            return Ok(());
        };
        records.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
        for r in records
            .iter()
            .skip(max)
            .filter(|r| (r.created_at, r.id) < own)
        {
            if self.inner.store.delete(&r.id).await? {
                self.emit(EventKind::Ended(EndReason::Evicted), &r.id, Some(subject));
            }
        }
        Ok(())
    }

    /// Resolves a presented token to its live session, enforcing both deadlines, the rotation
    /// grace window and theft detection, and renewing the idle deadline (throttled).
    ///
    /// `Ok(None)`: no session (unknown, expired, ended, or revoked just now for theft).
    /// `Err`: the store failed; callers must treat the request as unauthenticated.
    pub async fn resolve(&self, token: &Token) -> Result<Option<Session>, Error> {
        let id = token.session_id();
        if self.inner.pending.refuses(&id, token) {
            return Ok(None);
        }
        let mut renew = true;
        // Whether this read must come from the store itself, not a local copy (see
        // `Store::load`): a copy may serve a request, but only the store may refuse it.
        let mut fresh = false;
        for _ in 0..4 {
            let loaded = if fresh {
                self.inner.store.load_fresh(&id).await?
            } else {
                self.inner.store.load(&id).await?
            };
            let Some(record) = loaded else {
                self.emit(EventKind::UnknownToken, &id, None);
                return Ok(None);
            };
            let now = self.now();
            let verdict = self.judge(&record, token, now);
            if !fresh && !self.serves(&record, &verdict, now) {
                // Confirm a refusal on a fresh read before acting on it: another server may
                // have rotated or renewed the session after a local copy read it.
                fresh = true;
                continue;
            }
            if !self.check_deadlines(&record, now).await? {
                return Ok(None);
            }
            let grace = match verdict {
                // A device-bound token works only until its bound deadline; after it, only a
                // proof of the device key (a refresh) brings the session back.
                Verdict::Current
                    if record.device.as_ref().is_some_and(|d| now >= d.token_until) =>
                {
                    return Ok(None);
                }
                Verdict::Current => None,
                Verdict::InGrace(previous) => Some(previous),
                Verdict::Unknown => {
                    self.emit(EventKind::UnknownToken, &id, None);
                    return Ok(None);
                }
                Verdict::Theft => {
                    self.inner.store.delete(&id).await?;
                    self.emit(EventKind::TheftSuspected, &id, record.subject.as_deref());
                    self.emit(
                        EventKind::Ended(EndReason::Theft),
                        &id,
                        record.subject.as_deref(),
                    );
                    return Ok(None);
                }
            };
            let policy = &self.inner.policy;
            if !renew || now.since(record.last_seen) < policy.renewal_throttle() {
                return Ok(Some(Session::seen_with(record, now, grace)));
            }
            let mut renewed = record.clone();
            renewed.last_seen = now;
            renewed.idle_deadline = now
                .plus(policy.idle_timeout())
                .min(record.absolute_deadline);
            renewed.version = record.version.saturating_add(1);
            match self.inner.store.update(&renewed, record.version).await? {
                Updated::Written => {
                    self.emit(EventKind::Renewed, &id, renewed.subject.as_deref());
                    return Ok(Some(Session::seen_with(renewed, now, grace)));
                }
                // Ended meanwhile: revocation wins over an in-flight request.
                Updated::Missing => return Ok(None),
                // Someone else wrote (a renewal, data, or a rotation): judge the new state again.
                Updated::VersionMismatch => {
                    renew = false;
                    fresh = true;
                }
            }
        }
        Ok(None)
    }

    /// Whether `resolve` would serve `record` as judged: within both deadlines, a token it
    /// knows (current or in grace), and a device-bound token within its bound deadline.
    fn serves(&self, record: &Record, verdict: &Verdict, now: Timestamp) -> bool {
        let within = now < record.absolute_deadline && now < record.idle_deadline;
        within
            && match verdict {
                Verdict::Current => record.device.as_ref().is_none_or(|d| now < d.token_until),
                Verdict::InGrace(_) => true,
                Verdict::Unknown | Verdict::Theft => false,
            }
    }

    /// Deletes the record if a deadline has passed; true while the session is within both.
    async fn check_deadlines(&self, record: &Record, now: Timestamp) -> Result<bool, Error> {
        let reason = if now >= record.absolute_deadline {
            EndReason::Absolute
        } else if now >= record.idle_deadline {
            EndReason::Idle
        } else {
            return Ok(true);
        };
        if self.inner.store.delete(&record.id).await? {
            self.emit(
                EventKind::Ended(reason),
                &record.id,
                record.subject.as_deref(),
            );
        }
        Ok(false)
    }

    fn judge(&self, record: &Record, token: &Token, now: Timestamp) -> Verdict {
        let presented = token.verifier_hash();
        if presented == record.verifier {
            return Verdict::Current;
        }
        // Every rotated-out token keeps its own grace deadline, so two quick rotations do not
        // cut short the grace of the first one's token.
        match record.rotated_out().find(|p| p.verifier == presented) {
            Some(p) if now < p.grace_until => Verdict::InGrace(*p),
            Some(_) => Verdict::Theft,
            None => Verdict::Unknown,
        }
    }

    /// Ends the session of `token` on the server. A token that matches no live session is a
    /// no-op (logout is idempotent).
    pub async fn logout(&self, token: &Token) -> Result<(), Error> {
        if let Some(session) = self.resolve(token).await? {
            if self.inner.store.delete(&session.record.id).await? {
                self.emit(
                    EventKind::Ended(EndReason::Logout),
                    &session.record.id,
                    session.subject(),
                );
            }
        }
        Ok(())
    }

    /// Replaces the data if the session is still at `expected` version; returns the new version.
    /// A concurrent write gives [`Error::Conflict`], never a silent overwrite.
    pub async fn update_data(
        &self,
        id: &SessionId,
        expected: u64,
        data: Map<String, Value>,
    ) -> Result<u64, Error> {
        let Some(mut record) = self.live_record(id).await? else {
            return Err(Error::NoSession);
        };
        if record.version != expected {
            return Err(Error::Conflict { expected });
        }
        record.data = data;
        record.version = expected.saturating_add(1);
        match self.inner.store.update(&record, expected).await? {
            Updated::Written => Ok(record.version),
            Updated::VersionMismatch => Err(Error::Conflict { expected }),
            Updated::Missing => Err(Error::NoSession),
        }
    }

    /// Applies `change` to the latest data and writes it with compare-and-set, re-reading and
    /// re-applying on conflict, so concurrent modifications all land. Returns the session as
    /// written and what `change` returned.
    pub async fn modify<R>(
        &self,
        id: &SessionId,
        mut change: impl FnMut(&mut Map<String, Value>) -> R,
    ) -> Result<(Session, R), Error> {
        for _ in 0..MAX_CAS_RETRIES {
            let Some(mut record) = self.live_record(id).await? else {
                return Err(Error::NoSession);
            };
            let expected = record.version;
            let out = change(&mut record.data);
            record.version = expected.saturating_add(1);
            match self.inner.store.update(&record, expected).await? {
                Updated::Written => {
                    let now = self.now();
                    return Ok((
                        Session {
                            record,
                            now,
                            current: true,
                        },
                        out,
                    ));
                }
                Updated::Missing => return Err(Error::NoSession),
                Updated::VersionMismatch => tokio::task::yield_now().await,
            }
        }
        Err(Error::Conflict { expected: 0 })
    }

    /// Stores one typed value under `key`.
    pub async fn insert<T: Serialize>(
        &self,
        id: &SessionId,
        key: &str,
        value: &T,
    ) -> Result<Session, Error> {
        let value = serde_json::to_value(value).map_err(|source| data_error(key, source))?;
        let (session, ()) = self
            .modify(id, |data| {
                data.insert(key.to_owned(), value.clone());
            })
            .await?;
        Ok(session)
    }

    /// Removes `key`, returning the session as written.
    pub async fn remove(&self, id: &SessionId, key: &str) -> Result<Session, Error> {
        let (session, _) = self.modify(id, |data| data.remove(key)).await?;
        Ok(session)
    }

    async fn live_record(&self, id: &SessionId) -> Result<Option<Record>, Error> {
        let Some(record) = self.inner.store.load_fresh(id).await? else {
            return Ok(None);
        };
        if self.check_deadlines(&record, self.now()).await? {
            Ok(Some(record))
        } else {
            Ok(None)
        }
    }

    /// The live sessions of `subject`, newest first.
    pub async fn list(&self, subject: &str) -> Result<Vec<Session>, Error> {
        let now = self.now();
        let mut records: Vec<Record> = self
            .inner
            .store
            .list_by_subject(subject)
            .await?
            .into_iter()
            .filter(|r| now < r.expires_at())
            .collect();
        records.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        Ok(records
            .into_iter()
            .map(|record| Session {
                record,
                now,
                current: true,
            })
            .collect())
    }

    /// Revokes one session of `subject`; false if it is not theirs or already gone.
    pub async fn revoke(&self, subject: &str, id: &SessionId) -> Result<bool, Error> {
        let Some(record) = self.inner.store.load_fresh(id).await? else {
            return Ok(false);
        };
        if record.subject.as_deref() != Some(subject) {
            return Ok(false);
        }
        let deleted = self.inner.store.delete(id).await?;
        if deleted {
            self.emit(EventKind::Ended(EndReason::Revoked), id, Some(subject));
        }
        Ok(deleted)
    }

    /// Revokes every session of `subject` except `except` (the caller's own, after a password
    /// or role change), and refuses every login whose [`LoginTicket`] was taken before this call.
    /// Returns how many ended.
    pub async fn revoke_all(
        &self,
        subject: &str,
        except: Option<&SessionId>,
    ) -> Result<u64, Error> {
        let ended = self.inner.store.delete_by_subject(subject, except).await?;
        for id in &ended {
            self.emit(EventKind::Ended(EndReason::Revoked), id, Some(subject));
        }
        Ok(ended.len() as u64)
    }

    /// Deletes every expired record, in batches of [`PURGE_BATCH`]. Returns how many.
    pub async fn purge_expired(&self) -> Result<u64, Error> {
        let mut total = 0;
        loop {
            let n = self
                .inner
                .store
                .purge_expired(self.now(), PURGE_BATCH)
                .await?;
            total += n;
            if n < PURGE_BATCH as u64 {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }

    /// Runs [`Engine::purge_expired`] every `interval` until the returned handle is aborted.
    /// A failing store is logged and retried with backoff; the task never dies of an error.
    pub fn spawn_purge(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let mut delay = interval;
            loop {
                tokio::time::sleep(delay).await;
                match engine.purge_expired().await {
                    Ok(n) => {
                        if n > 0 {
                            tracing::debug!(target: "tessera::purge", purged = n, "expired sessions purged");
                        }
                        delay = interval;
                    }
                    Err(e) => {
                        tracing::warn!(target: "tessera::purge", error = %e, "purge failed; will retry");
                        delay = (delay * 2).min(interval.max(Duration::from_secs(1)) * 8);
                    }
                }
            }
        })
    }
}

fn data_error(key: &str, source: serde_json::Error) -> Error {
    Error::Data {
        key: key.to_owned(),
        source,
    }
}

/// Refuses a subject the engine would refuse: empty, over [`MAX_SUBJECT_BYTES`], or with
/// control characters. For front ends that take a subject before any engine call needs it.
pub fn validate_subject(subject: &str) -> Result<(), Error> {
    if subject.is_empty() {
        return Err(Error::InvalidSubject("empty"));
    }
    if subject.len() > MAX_SUBJECT_BYTES {
        return Err(Error::InvalidSubject("longer than 256 bytes"));
    }
    if subject.chars().any(char::is_control) {
        return Err(Error::InvalidSubject("contains control characters"));
    }
    Ok(())
}
