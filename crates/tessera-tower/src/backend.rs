//! The engine behind a trait object, so handlers take a plain `Session` whatever the store.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::{Map, Value};
use tessera_core::device::DeviceAuthorization;
use tessera_core::{
    ClientInfo, Engine, Error, EventKind, Issued, LoginOptions, LoginTicket, LogoutOutcome,
    Session, SessionId, Store, Timestamp, Token,
};

pub(crate) type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;
pub(crate) type DataChange<'a> = Box<dyn FnMut(&mut Map<String, Value>) + Send + 'a>;

pub(crate) trait Backend: Send + Sync + 'static {
    fn resolve<'a>(&'a self, token: &'a Token) -> BoxFut<'a, Option<Session>>;
    fn begin(&self, client: ClientInfo) -> BoxFut<'_, Issued>;
    fn login_ticket<'a>(&'a self, subject: &'a str) -> BoxFut<'a, LoginTicket>;
    fn login<'a>(
        &'a self,
        prev: Option<&'a Token>,
        ticket: LoginTicket,
        o: LoginOptions,
    ) -> BoxFut<'a, Issued>;
    fn rotate<'a>(&'a self, token: &'a Token) -> BoxFut<'a, Issued>;
    fn elevate<'a>(&'a self, token: &'a Token, level: u32, d: Duration) -> BoxFut<'a, Issued>;
    fn logout_or_defer<'a>(
        &'a self,
        token: &'a Token,
    ) -> Pin<Box<dyn Future<Output = LogoutOutcome> + Send + 'a>>;
    fn sign<'a>(&'a self, purpose: &'a str, message: &'a [u8]) -> BoxFut<'a, [u8; 32]>;
    fn verify_signature<'a>(
        &'a self,
        purpose: &'a str,
        message: &'a [u8],
        tag: &'a [u8],
    ) -> BoxFut<'a, bool>;
    fn report(&self, kind: EventKind, session: Option<&SessionId>);
    fn modify<'a>(&'a self, id: &'a SessionId, change: DataChange<'a>) -> BoxFut<'a, Session>;
    fn list<'a>(&'a self, subject: &'a str) -> BoxFut<'a, Vec<Session>>;
    fn revoke<'a>(&'a self, subject: &'a str, id: &'a SessionId) -> BoxFut<'a, bool>;
    fn revoke_all<'a>(&'a self, subject: &'a str, except: Option<&'a SessionId>)
        -> BoxFut<'a, u64>;
    fn absolute_lifetime(&self) -> Duration;
    fn now(&self) -> Timestamp;
    fn device_registration_challenge<'a>(
        &'a self,
        session: &'a Session,
        authorization: Option<&'a DeviceAuthorization>,
    ) -> BoxFut<'a, String>;
    fn register_device<'a>(&'a self, token: &'a Token, proof: &'a str) -> BoxFut<'a, Issued>;
    fn device_refresh_challenge<'a>(&'a self, identifier: &'a str) -> BoxFut<'a, String>;
    fn refresh_device<'a>(&'a self, identifier: &'a str, proof: &'a str) -> BoxFut<'a, Issued>;
}

impl<S: Store> Backend for Engine<S> {
    fn resolve<'a>(&'a self, token: &'a Token) -> BoxFut<'a, Option<Session>> {
        Box::pin(Engine::resolve(self, token))
    }
    fn begin(&self, client: ClientInfo) -> BoxFut<'_, Issued> {
        Box::pin(Engine::begin(self, client))
    }
    fn login_ticket<'a>(&'a self, subject: &'a str) -> BoxFut<'a, LoginTicket> {
        Box::pin(Engine::login_ticket(self, subject))
    }
    fn login<'a>(
        &'a self,
        prev: Option<&'a Token>,
        ticket: LoginTicket,
        o: LoginOptions,
    ) -> BoxFut<'a, Issued> {
        Box::pin(Engine::login(self, prev, ticket, o))
    }
    fn rotate<'a>(&'a self, token: &'a Token) -> BoxFut<'a, Issued> {
        Box::pin(Engine::rotate(self, token))
    }
    fn elevate<'a>(&'a self, token: &'a Token, level: u32, d: Duration) -> BoxFut<'a, Issued> {
        Box::pin(Engine::elevate(self, token, level, d))
    }
    fn logout_or_defer<'a>(
        &'a self,
        token: &'a Token,
    ) -> Pin<Box<dyn Future<Output = LogoutOutcome> + Send + 'a>> {
        Box::pin(Engine::logout_or_defer(self, token))
    }
    fn sign<'a>(&'a self, purpose: &'a str, message: &'a [u8]) -> BoxFut<'a, [u8; 32]> {
        Box::pin(Engine::sign(self, purpose, message))
    }
    fn verify_signature<'a>(
        &'a self,
        purpose: &'a str,
        message: &'a [u8],
        tag: &'a [u8],
    ) -> BoxFut<'a, bool> {
        Box::pin(Engine::verify_signature(self, purpose, message, tag))
    }
    fn report(&self, kind: EventKind, session: Option<&SessionId>) {
        Engine::report(self, kind, session, None);
    }
    fn modify<'a>(&'a self, id: &'a SessionId, change: DataChange<'a>) -> BoxFut<'a, Session> {
        Box::pin(async move { Ok(Engine::modify(self, id, change).await?.0) })
    }
    fn list<'a>(&'a self, subject: &'a str) -> BoxFut<'a, Vec<Session>> {
        Box::pin(Engine::list(self, subject))
    }
    fn revoke<'a>(&'a self, subject: &'a str, id: &'a SessionId) -> BoxFut<'a, bool> {
        Box::pin(Engine::revoke(self, subject, id))
    }
    fn revoke_all<'a>(
        &'a self,
        subject: &'a str,
        except: Option<&'a SessionId>,
    ) -> BoxFut<'a, u64> {
        Box::pin(Engine::revoke_all(self, subject, except))
    }
    fn absolute_lifetime(&self) -> Duration {
        self.policy().absolute_lifetime()
    }
    fn now(&self) -> Timestamp {
        Engine::now(self)
    }
    fn device_registration_challenge<'a>(
        &'a self,
        session: &'a Session,
        authorization: Option<&'a DeviceAuthorization>,
    ) -> BoxFut<'a, String> {
        Box::pin(Engine::device_registration_challenge(
            self,
            session,
            authorization,
        ))
    }
    fn register_device<'a>(&'a self, token: &'a Token, proof: &'a str) -> BoxFut<'a, Issued> {
        Box::pin(Engine::register_device(self, token, proof))
    }
    fn device_refresh_challenge<'a>(&'a self, identifier: &'a str) -> BoxFut<'a, String> {
        Box::pin(Engine::device_refresh_challenge(self, identifier))
    }
    fn refresh_device<'a>(&'a self, identifier: &'a str, proof: &'a str) -> BoxFut<'a, Issued> {
        Box::pin(Engine::refresh_device(self, identifier, proof))
    }
}
