//! Audit events. Each names its session by a [`SessionRef`], never by token.

use std::sync::Arc;

use crate::clock::Timestamp;
use crate::token::SessionRef;

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// The user logged out.
    Logout,
    /// The idle timeout passed.
    Idle,
    /// The absolute lifetime passed.
    Absolute,
    /// Revoked by the user, an admin, or a password/role change.
    Revoked,
    /// Evicted because the subject exceeded its session limit.
    Evicted,
    /// A rotated-out token was presented after its grace window.
    Theft,
    /// Replaced by the session that `login` issued.
    Login,
}

impl EndReason {
    /// A stable lower-case name, for logs and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Idle => "idle",
            Self::Absolute => "absolute",
            Self::Revoked => "revoked",
            Self::Evicted => "evicted",
            Self::Theft => "theft",
            Self::Login => "login",
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// A session was created (anonymous, or by login).
    Created,
    /// The session's token was rotated.
    Rotated,
    /// The session was stepped up to a level.
    Elevated {
        /// The new level.
        level: u32,
    },
    /// The idle deadline was pushed back.
    Renewed,
    /// The session ended.
    Ended(EndReason),
    /// A rotated-out token was presented after its grace window; the session was revoked.
    TheftSuspected,
    /// A well-formed token matched no live session (guessing, or a stale cookie).
    UnknownToken,
    /// A request carried cookies that a sibling subdomain may have planted to swap or break the
    /// session: names that only look like the session cookie's (Unicode spaces, zero-width
    /// characters, case, `%`-encoding), or the session cookie's exact name more than once.
    /// Neither was trusted.
    CookieTossingSuspected {
        /// Cookies whose name normalises to the session cookie's but is not it.
        look_alikes: u32,
        /// Cookies with exactly the session cookie's name (more than one means tossing).
        exact: u32,
    },
    /// A sign-out could not reach the store; its server-side end is queued and retried, and
    /// the session is already treated as ended by this process.
    EndPending,
    /// A queued server-side end was given up (queue full, or the session's lifetime ran out).
    EndDropped,
    /// The session was bound to a device key (W3C DBSC registration).
    DeviceBound,
    /// A device-bound session's token was refreshed by a proof of its device key.
    DeviceRefreshed,
    /// A login was refused because the subject's sessions were revoked after its ticket was
    /// taken, i.e. after the credential it checked may have changed.
    LoginRefused,
}

impl EventKind {
    /// A stable lower-case name, for logs and APIs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Rotated => "rotated",
            Self::Elevated { .. } => "elevated",
            Self::Renewed => "renewed",
            Self::Ended(_) => "ended",
            Self::TheftSuspected => "theft_suspected",
            Self::UnknownToken => "unknown_token",
            Self::CookieTossingSuspected { .. } => "cookie_tossing_suspected",
            Self::LoginRefused => "login_refused",
            Self::DeviceBound => "device_bound",
            Self::DeviceRefreshed => "device_refreshed",
            Self::EndPending => "end_pending",
            Self::EndDropped => "end_dropped",
        }
    }
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// Which session; `None` for an event about a request rather than a session.
    pub session: Option<SessionRef>,
    /// Whose session, when known.
    pub subject: Option<String>,
    /// When.
    pub at: Timestamp,
}

/// Receives audit events. Called inline; keep it fast and never fail.
pub trait EventSink: Send + Sync + 'static {
    /// Handles one event.
    fn emit(&self, event: &Event);
}

/// Writes every event to `tracing` under the target `tessera::audit`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingSink;

impl EventSink for TracingSink {
    fn emit(&self, e: &Event) {
        let subject = e.subject.as_deref().unwrap_or("-");
        let session = match &e.session {
            Some(r) => r.to_string(),
            None => "-".to_owned(),
        };
        match e.kind {
            EventKind::CookieTossingSuspected { look_alikes, exact } => tracing::warn!(
                target: "tessera::audit", event = e.kind.name(), session = %session, look_alikes, exact,
                "cookies that imitate or duplicate the session cookie; none trusted"
            ),
            EventKind::LoginRefused => tracing::warn!(
                target: "tessera::audit", event = e.kind.name(), subject,
                "login refused: the subject's sessions were revoked after its ticket was taken"
            ),
            EventKind::TheftSuspected => tracing::warn!(
                target: "tessera::audit", event = e.kind.name(), session = %session, subject,
                "rotated-out session token replayed after its grace window; session revoked"
            ),
            EventKind::UnknownToken => tracing::info!(
                target: "tessera::audit", event = e.kind.name(), session = %session,
                "unknown session token presented"
            ),
            EventKind::Ended(reason) => tracing::info!(
                target: "tessera::audit", event = e.kind.name(), session = %session, subject,
                reason = reason.as_str(), "session ended"
            ),
            EventKind::Elevated { level } => tracing::info!(
                target: "tessera::audit", event = e.kind.name(), session = %session, subject,
                level, "session elevated"
            ),
            _ => tracing::info!(
                target: "tessera::audit", event = e.kind.name(), session = %session, subject,
                "session event"
            ),
        }
    }
}

/// Sends every event to several sinks.
impl EventSink for Vec<Arc<dyn EventSink>> {
    fn emit(&self, event: &Event) {
        for sink in self {
            sink.emit(event);
        }
    }
}

/// Keeps events in memory, for tests and admin views.
#[derive(Debug, Default)]
pub struct RecordingSink(std::sync::Mutex<Vec<Event>>);

impl RecordingSink {
    /// Every event received so far.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl EventSink for RecordingSink {
    fn emit(&self, event: &Event) {
        if let Ok(mut v) = self.0.lock() {
            v.push(event.clone());
        }
    }
}
