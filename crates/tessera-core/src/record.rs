//! The session record: everything the server knows about one session. The cookie carries only
//! the token; this record is the truth.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::Timestamp;
use crate::device::DeviceBinding;
use crate::token::{SessionId, Token, VerifierHash};

/// Rotated-out verifiers remembered beyond `previous`, for theft detection.
pub const MAX_RETIRED: usize = 4;

/// Longest user agent kept, in bytes; longer ones are cut at a character boundary.
pub const MAX_USER_AGENT_BYTES: usize = 256;

/// One session as a store holds it.
///
/// Fields are public because stores build records from their rows; only the engine decides what
/// a record means. Nothing here is a credential: the token is stored only as a hash. `Debug`
/// shows the data's keys, never its values (the CSRF synchronizer token lives there).
#[derive(Clone, PartialEq)]
pub struct Record {
    /// SHA-256 of the token's selector; the store key.
    pub id: SessionId,
    /// SHA-256 of the current token.
    pub verifier: VerifierHash,
    /// The token this session had before its last rotation, valid until its grace deadline.
    pub previous: Option<Box<PreviousVerifier>>,
    /// Verifiers rotated out before `previous`, newest first, at most [`MAX_RETIRED`], each with
    /// its own grace deadline: within it a request in flight is still served; after it,
    /// presenting one is treated as theft, like a late `previous`.
    pub retired: Vec<PreviousVerifier>,
    /// Who the session belongs to; `None` for an anonymous (pre-login) session. A `Box<str>`,
    /// not a `String`: it never grows, and every session in a memory store carries it.
    pub subject: Option<Box<str>>,
    /// When the session was created.
    pub created_at: Timestamp,
    /// Last renewal of the idle deadline (throttled, so at most that stale).
    pub last_seen: Timestamp,
    /// The session ends at this instant unless renewed.
    pub idle_deadline: Timestamp,
    /// The session ends at this instant whatever happens.
    pub absolute_deadline: Timestamp,
    /// When the subject last proved who they are (login or step-up).
    pub auth_time: Option<Timestamp>,
    /// Assurance level given at login.
    pub auth_level: u32,
    /// A temporary higher level from a step-up.
    pub elevation: Option<Elevation>,
    /// Increases by one on every write; conditional updates compare it.
    pub version: u64,
    /// Application data.
    pub data: Map<String, Value>,
    /// Who is using the session, for the user's own session list.
    pub client: ClientInfo,
    /// The device key this session is bound to (W3C DBSC), once the browser registered one.
    /// Boxed: most sessions have none, and inline it would add 72 bytes to every record.
    pub device: Option<Box<DeviceBinding>>,
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("id", &self.id)
            .field("subject", &self.subject)
            .field("created_at", &self.created_at)
            .field("last_seen", &self.last_seen)
            .field("idle_deadline", &self.idle_deadline)
            .field("absolute_deadline", &self.absolute_deadline)
            .field("auth_level", &self.auth_level)
            .field("elevation", &self.elevation)
            .field("version", &self.version)
            .field("data_keys", &self.data.keys().collect::<Vec<_>>())
            .field("device_bound", &self.device.is_some())
            .field(
                "rotated_out",
                &(usize::from(self.previous.is_some()) + self.retired.len()),
            )
            .finish_non_exhaustive()
    }
}

impl Record {
    /// A new session's record for `token`: version 1, nothing rotated, no data, level 0, signed
    /// in at `now` when it has a subject. Callers set the rest with struct update syntax.
    pub fn new(
        token: &Token,
        subject: Option<&str>,
        now: Timestamp,
        idle_deadline: Timestamp,
        absolute_deadline: Timestamp,
    ) -> Self {
        Self {
            id: token.session_id(),
            verifier: token.verifier_hash(),
            previous: None,
            retired: Vec::new(),
            subject: subject.map(Box::from),
            created_at: now,
            last_seen: now,
            idle_deadline,
            absolute_deadline,
            auth_time: subject.map(|_| now),
            auth_level: 0,
            elevation: None,
            version: 1,
            data: Map::new(),
            client: ClientInfo::default(),
            device: None,
        }
    }

    /// The rotated-out verifiers, newest first: `previous`, then `retired`.
    pub fn rotated_out(&self) -> impl Iterator<Item = &PreviousVerifier> {
        self.previous.as_deref().into_iter().chain(&self.retired)
    }

    /// [`Record::rotated_out`], to change a grace deadline.
    pub fn rotated_out_mut(&mut self) -> impl Iterator<Item = &mut PreviousVerifier> {
        self.previous
            .as_deref_mut()
            .into_iter()
            .chain(&mut self.retired)
    }

    /// The earliest instant at which this record is dead for sure; stores purge after it.
    pub fn expires_at(&self) -> Timestamp {
        self.idle_deadline.min(self.absolute_deadline)
    }

    /// The assurance level in force at `now`: the elevation while it lasts, else the login level.
    pub fn effective_auth_level(&self, now: Timestamp) -> u32 {
        match self.elevation {
            Some(e) if now < e.until => e.level.max(self.auth_level),
            _ => self.auth_level,
        }
    }
}

/// The verifier of a rotated-out token, how long it may still be used, and what it may do
/// meanwhile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreviousVerifier {
    /// SHA-256 of the rotated-out token.
    pub verifier: VerifierHash,
    /// After this instant, presenting the old token is treated as theft.
    pub grace_until: Timestamp,
    /// The step-up the session had before this rotation. Within its grace window the old token
    /// acts with this, never with what the rotation granted: a token stolen before a step-up
    /// does not gain the step-up.
    pub elevation: Option<Elevation>,
    /// When the subject last proved who they were before this rotation: the old token does not
    /// look freshly re-authenticated either.
    pub auth_time: Option<Timestamp>,
}

/// A temporary assurance level from a step-up (`elevate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Elevation {
    /// The raised level.
    pub level: u32,
    /// When it lapses.
    pub until: Timestamp,
}

/// What the session list shows about the client. Privacy-reduced: the IP is a prefix only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    /// The `User-Agent`, cut to 256 bytes.
    pub user_agent: Option<String>,
    /// The client address reduced to /24 (IPv4) or /48 (IPv6).
    pub ip_prefix: Option<IpPrefix>,
}

/// A client address reduced to its network: /24 for IPv4, /48 for IPv6. The host part is
/// never kept. Held as eight inline bytes rather than as text, because every session has one;
/// its text form (`203.0.113.0/24`, `2001:db8:1::/48`) is what stores and screens show.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpPrefix {
    /// The first three octets of an IPv4 address.
    V4([u8; 3]),
    /// The first three segments of an IPv6 address.
    V6([u16; 3]),
}

impl IpPrefix {
    /// The prefix `ip` belongs to.
    pub fn of(ip: std::net::IpAddr) -> Self {
        match ip {
            std::net::IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                Self::V4([a, b, c])
            }
            std::net::IpAddr::V6(v6) => {
                let [a, b, c, ..] = v6.segments();
                Self::V6([a, b, c])
            }
        }
    }
}

impl std::fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::V4([a, b, c]) => write!(f, "{a}.{b}.{c}.0/24"),
            Self::V6([a, b, c]) => write!(f, "{a:x}:{b:x}:{c:x}::/48"),
        }
    }
}

impl std::fmt::Debug for IpPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IpPrefix({self})")
    }
}

/// A text that is not an address prefix in the form [`IpPrefix`] writes.
#[derive(Debug, Clone, thiserror::Error)]
#[error("not an address prefix (expected a.b.c.0/24 or x:y:z::/48)")]
pub struct InvalidIpPrefix;

impl std::str::FromStr for IpPrefix {
    type Err = InvalidIpPrefix;

    /// Reads exactly the form [`Display`](std::fmt::Display) writes, nothing looser: no host
    /// part, no other length, no leading zeros or capitals. (Parsed by hand: a decode reads
    /// one per record, and formatting the result to compare it would allocate.)
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        /// Three numbers in `radix` separated by `sep`, each 1 to `max_len` digits, no
        /// leading zero.
        fn three(text: &str, sep: u8, radix: u32, max_len: usize) -> Option<[u32; 3]> {
            let (mut out, mut at, mut len) = ([0u32; 3], 0usize, 0usize);
            for b in text.bytes() {
                if b == sep && len > 0 {
                    (at, len) = (at + 1, 0);
                    continue;
                }
                let digit = u32::from(match b {
                    b'0'..=b'9' => b - b'0',
                    b'a'..=b'f' => b - b'a' + 10,
                    _ => return None,
                });
                let slot = out.get_mut(at)?;
                if digit >= radix || len == max_len || (len == 1 && *slot == 0) {
                    return None;
                }
                (*slot, len) = (*slot * radix + digit, len + 1);
            }
            (at == 2 && len > 0).then_some(out)
        }
        let prefix = if let Some(v4) = text.strip_suffix(".0/24") {
            three(v4, b'.', 10, 3).and_then(|[a, b, c]| {
                Some(Self::V4([
                    u8::try_from(a).ok()?,
                    u8::try_from(b).ok()?,
                    u8::try_from(c).ok()?,
                ]))
            })
        } else if let Some(v6) = text.strip_suffix("::/48") {
            three(v6, b':', 16, 4).and_then(|[a, b, c]| {
                Some(Self::V6([
                    u16::try_from(a).ok()?,
                    u16::try_from(b).ok()?,
                    u16::try_from(c).ok()?,
                ]))
            })
        } else {
            None
        };
        prefix.ok_or(InvalidIpPrefix)
    }
}

impl Serialize for IpPrefix {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpPrefix {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = IpPrefix;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an address prefix such as 203.0.113.0/24")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<IpPrefix, E> {
                text.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Text)
    }
}

impl ClientInfo {
    /// Builds client info, cutting the user agent and reducing the address to a prefix.
    pub fn new(user_agent: Option<&str>, ip: Option<std::net::IpAddr>) -> Self {
        let user_agent = user_agent.map(|ua| {
            let mut end = ua.len().min(MAX_USER_AGENT_BYTES);
            while !ua.is_char_boundary(end) {
                end -= 1;
            }
            ua.get(..end)
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_control())
                .collect()
        });
        Self {
            user_agent,
            ip_prefix: ip.map(IpPrefix::of),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_info_reduces_address_and_cuts_agent() {
        let info = ClientInfo::new(
            Some(&"é".repeat(200)),
            Some("203.0.113.77".parse().unwrap()),
        );
        let prefix = info.ip_prefix.unwrap();
        assert_eq!(prefix.to_string(), "203.0.113.0/24");
        assert!(info.user_agent.as_ref().unwrap().len() <= MAX_USER_AGENT_BYTES);
        let v6 = ClientInfo::new(Some("x\u{7}y"), Some("2001:db8:1:2::5".parse().unwrap()));
        assert_eq!(v6.ip_prefix.unwrap().to_string(), "2001:db8:1::/48");
        assert_eq!(v6.user_agent.as_deref(), Some("xy"));
        assert_eq!(std::mem::size_of::<Option<IpPrefix>>(), 8);
    }

    /// Every session in a memory store is one boxed `Record` (a 272-byte allocation at this
    /// size): a field that is rarely set belongs behind a box, not inline.
    #[test]
    fn a_record_stays_small() {
        assert!(
            std::mem::size_of::<Record>() <= 264,
            "Record grew to {} bytes",
            std::mem::size_of::<Record>()
        );
    }

    /// A stored prefix is read back only in the exact form it was written: a full address, a
    /// host part, another length or stray text is refused, so nothing but a prefix can enter
    /// a record through a store.
    #[test]
    fn a_prefix_parses_only_in_its_own_form() {
        for good in [
            "203.0.113.0/24",
            "2001:db8:1::/48",
            "0:0:0::/48",
            "255.255.255.0/24",
            "ffff:ffff:ffff::/48",
            "0.0.0.0/24",
        ] {
            let p: IpPrefix = good.parse().unwrap();
            assert_eq!(p.to_string(), good);
        }
        for bad in [
            "203.0.113.77/24",
            "203.0.113.0",
            "203.0.113.0/16",
            "2001:db8:1:2::/48",
            "2001:DB8:1::/48",
            " 203.0.113.0/24",
            "203.0.113.0/24\n",
            "",
            "/24",
            "203.0.113.0.0/24",
            "203.0.0113.0/24",
            "203.0.1e.0/24",
            "256.0.113.0/24",
            "203.0.-1.0/24",
            "203..113.0/24",
            "1:2::/48",
            "1:2:3:4::/48",
            "1:2:03::/48",
            "1:2:10000::/48",
            "1:2:+3::/48",
            "::1.2.3.4/48",
            "1:2:3::/24",
        ] {
            assert!(bad.parse::<IpPrefix>().is_err(), "{bad:?} was accepted");
        }
        let json = serde_json::to_string(&ClientInfo::new(None, "10.1.2.3".parse().ok())).unwrap();
        assert_eq!(json, r#"{"user_agent":null,"ip_prefix":"10.1.2.0/24"}"#);
        let back: ClientInfo = serde_json::from_str(&json).unwrap();
        assert_eq!(back.ip_prefix, "10.1.2.0/24".parse().ok());
        assert!(serde_json::from_str::<ClientInfo>(
            r#"{"user_agent":null,"ip_prefix":"10.1.2.3"}"#
        )
        .is_err());
    }
}
