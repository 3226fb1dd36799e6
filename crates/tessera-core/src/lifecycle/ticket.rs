//! Login tickets that leave the process: the service hands one to a back end before that back
//! end checks a password, and takes it back with the login. Sealed with the store's signing
//! keys, so a caller can neither forge one, edit it (another subject, an older revocation
//! epoch) nor keep it for long; any instance of a fleet on the same store opens it.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::error::Error;
use crate::store::Store;

use super::{validate_subject, Engine, LoginTicket};

/// How long a sealed ticket stays usable: a credential check takes seconds, not minutes.
pub const SEALED_TICKET_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Longest sealed ticket accepted, in bytes (a 256-byte subject in base64 plus the rest).
const MAX_SEALED_BYTES: usize = 512;
const PURPOSE: &str = "login-ticket";

impl<S: Store> Engine<S> {
    /// The ticket as text for a caller outside this process: `epoch.expiry.subject.tag`, all
    /// of it covered by an HMAC under the store's `login-ticket` key.
    pub async fn seal_ticket(&self, ticket: &LoginTicket) -> Result<String, Error> {
        let expires = self.now().plus(SEALED_TICKET_LIFETIME);
        let body = format!(
            "{}.{}.{}",
            ticket.epoch,
            expires.as_millis(),
            URL_SAFE_NO_PAD.encode(ticket.subject.as_bytes())
        );
        let tag = self.sign(PURPOSE, body.as_bytes()).await?;
        Ok(format!("{body}.{}", URL_SAFE_NO_PAD.encode(tag)))
    }

    /// Opens a ticket sealed by [`Engine::seal_ticket`] on any engine sharing this store.
    /// Refused with [`Error::InvalidTicket`] when malformed, not signed by the store's key,
    /// or past its [`SEALED_TICKET_LIFETIME`].
    pub async fn open_ticket(&self, sealed: &str) -> Result<LoginTicket, Error> {
        if sealed.len() > MAX_SEALED_BYTES {
            return Err(Error::InvalidTicket("too long"));
        }
        let malformed = Error::InvalidTicket("malformed");
        let Some((body, tag)) = sealed.rsplit_once('.') else {
            return Err(malformed);
        };
        let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else {
            return Err(malformed);
        };
        if !self
            .verify_signature(PURPOSE, body.as_bytes(), &tag)
            .await?
        {
            return Err(Error::InvalidTicket("not issued by this store"));
        }
        let mut parts = body.splitn(3, '.');
        let (Some(epoch), Some(expires), Some(subject)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed);
        };
        let (Ok(epoch), Ok(expires)) = (epoch.parse::<u64>(), expires.parse::<i64>()) else {
            return Err(malformed);
        };
        let Some(subject) = URL_SAFE_NO_PAD
            .decode(subject)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
        else {
            return Err(malformed);
        };
        if self.now().as_millis() >= expires {
            return Err(Error::InvalidTicket("expired"));
        }
        validate_subject(&subject)?;
        Ok(LoginTicket { subject, epoch })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::clock::{ManualClock, Timestamp};
    use crate::{Engine, Error, LoginOptions, MemoryStore};

    use super::SEALED_TICKET_LIFETIME;

    fn engine() -> (Engine<Arc<MemoryStore>>, Arc<ManualClock>, Arc<MemoryStore>) {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_700_000_000_000)));
        let engine = Engine::builder(Arc::clone(&store))
            .clock(clock.clone())
            .build();
        (engine, clock, store)
    }

    #[tokio::test]
    async fn a_sealed_ticket_opens_on_another_engine_of_the_same_store() {
        let (a, clock, store) = engine();
        let b = Engine::builder(store).clock(clock).build();
        let sealed = a
            .seal_ticket(&a.login_ticket("alice").await.unwrap())
            .await
            .unwrap();
        assert!(
            !sealed.contains("alice"),
            "the subject is encoded, not spelled out"
        );
        let ticket = b.open_ticket(&sealed).await.unwrap();
        assert_eq!(ticket.subject(), "alice");
        b.login(None, ticket, LoginOptions::default())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn an_edited_forged_or_foreign_ticket_is_refused() {
        let (a, _, _) = engine();
        let sealed = a
            .seal_ticket(&a.login_ticket("alice").await.unwrap())
            .await
            .unwrap();
        let (body, tag) = sealed.rsplit_once('.').unwrap();
        // Another subject under the same tag.
        let mut parts: Vec<&str> = body.splitn(3, '.').collect();
        let mallory = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            b"mallory",
        );
        parts[2] = &mallory;
        let edited = format!("{}.{tag}", parts.join("."));
        assert!(matches!(
            a.open_ticket(&edited).await,
            Err(Error::InvalidTicket("not issued by this store"))
        ));
        // A ticket sealed by an engine on another store.
        let (other, _, _) = engine();
        let foreign = other
            .seal_ticket(&other.login_ticket("alice").await.unwrap())
            .await
            .unwrap();
        assert!(matches!(
            a.open_ticket(&foreign).await,
            Err(Error::InvalidTicket(_))
        ));
        for junk in ["", ".", "a.b.c.d", &"x".repeat(600), "1.2.3.!!!"] {
            assert!(
                matches!(a.open_ticket(junk).await, Err(Error::InvalidTicket(_))),
                "{junk:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_ticket_expires_and_a_revocation_still_refuses_its_login() {
        let (a, clock, _) = engine();
        let sealed = a
            .seal_ticket(&a.login_ticket("alice").await.unwrap())
            .await
            .unwrap();
        // Revoked between the ticket and the login: the sealed epoch is the old one.
        a.revoke_all("alice", None).await.unwrap();
        let ticket = a.open_ticket(&sealed).await.unwrap();
        assert!(matches!(
            a.login(None, ticket, LoginOptions::default()).await,
            Err(Error::SubjectRevoked)
        ));
        clock.advance(SEALED_TICKET_LIFETIME);
        assert!(matches!(
            a.open_ticket(&sealed).await,
            Err(Error::InvalidTicket("expired"))
        ));
    }
}
