//! A record as bytes, for stores that keep it whole (Redis, PostgreSQL).
//!
//! Format 2, written today, is MessagePack: the record's fields in a fixed order (an array, no
//! field names), hashes as 32-byte binaries, times in milliseconds. It is smaller than format 1
//! and about a quarter of its cost to read, which every resolve on these stores pays (see the
//! `record_decode` instruction count). Application data stays JSON-shaped (MessagePack carries
//! every JSON value). Format 1, compact JSON with base64url hashes, is still read, so a fleet upgraded
//! one server at a time keeps its sessions; it is never written. Each record carries its format
//! number, so a record from a newer build is refused as corrupt, never misread. Nothing in it is
//! a credential: the token is only ever a hash here.

use crate::clock::Timestamp;
use crate::device::DeviceBinding;
use crate::record::{ClientInfo, Elevation, IpPrefix, PreviousVerifier, Record};
use crate::store::StoreError;
use crate::token::{SessionId, VerifierHash};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The format written: MessagePack.
const FORMAT: u8 = 2;
/// The legacy format still read: JSON, recognised by its first byte.
const FORMAT_JSON: u8 = 1;

#[derive(Serialize, Deserialize)]
struct Stored<'a> {
    f: u8,
    #[serde(with = "hash")]
    id: [u8; 32],
    #[serde(with = "hash")]
    ver: [u8; 32],
    prev: Option<Prev>,
    #[serde(default)]
    ret: Vec<Prev>,
    sub: Option<Cow<'a, str>>,
    ca: i64,
    ls: i64,
    idl: i64,
    abs: i64,
    at: Option<i64>,
    lvl: u32,
    el: Option<Elev>,
    v: u64,
    #[serde(default)]
    d: Cow<'a, Map<String, Value>>,
    #[serde(default)]
    ua: Option<Cow<'a, str>>,
    #[serde(default)]
    ip: Option<IpPrefix>,
    // Last, and left out when unbound: a server of the previous build reads an unbound record
    // (its array is one element shorter) and refuses a bound one as corrupt (fails closed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dev: Option<Cow<'a, DeviceBinding>>,
}

/// A 32-byte hash: a binary in MessagePack, unpadded base64url text in the legacy JSON.
mod hash {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use serde::de::{Error, Visitor};
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&URL_SAFE_NO_PAD.encode(bytes))
        } else {
            s.serialize_bytes(bytes)
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        d.deserialize_any(Hash)
    }

    struct Hash;

    impl Visitor<'_> for Hash {
        type Value = [u8; 32];

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a 32-byte hash")
        }

        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<[u8; 32], E> {
            <[u8; 32]>::try_from(v).map_err(|_| E::custom("a hash is not 32 bytes"))
        }

        fn visit_str<E: Error>(self, v: &str) -> Result<[u8; 32], E> {
            let bytes = URL_SAFE_NO_PAD
                .decode(v)
                .map_err(|_| E::custom("a hash is not base64url"))?;
            self.visit_bytes(&bytes)
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Prev {
    #[serde(with = "hash")]
    ver: [u8; 32],
    until: i64,
    el: Option<Elev>,
    at: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct Elev {
    lvl: u32,
    until: i64,
}

fn elev_out(e: Option<Elevation>) -> Option<Elev> {
    e.map(|e| Elev {
        lvl: e.level,
        until: e.until.as_millis(),
    })
}

fn elev_in(e: Option<Elev>) -> Option<Elevation> {
    e.map(|e| Elevation {
        level: e.lvl,
        until: Timestamp::from_millis(e.until),
    })
}

fn prev_out(p: &PreviousVerifier) -> Prev {
    Prev {
        ver: *p.verifier.as_bytes(),
        until: p.grace_until.as_millis(),
        el: elev_out(p.elevation),
        at: p.auth_time.map(Timestamp::as_millis),
    }
}

fn prev_in(p: Prev) -> PreviousVerifier {
    PreviousVerifier {
        verifier: VerifierHash::from_bytes(p.ver),
        grace_until: Timestamp::from_millis(p.until),
        elevation: elev_in(p.el),
        auth_time: p.at.map(Timestamp::from_millis),
    }
}

/// Encodes a record.
pub fn encode(r: &Record) -> Result<Vec<u8>, StoreError> {
    rmp_serde::to_vec(&from_record(r))
        .map_err(|e| StoreError::Corrupt(format!("cannot encode a session record: {e}")))
}

fn from_record(r: &Record) -> Stored<'_> {
    Stored {
        f: FORMAT,
        id: *r.id.as_bytes(),
        ver: *r.verifier.as_bytes(),
        prev: r.previous.as_deref().map(prev_out),
        ret: r.retired.iter().map(prev_out).collect(),
        sub: r.subject.as_deref().map(Cow::Borrowed),
        ca: r.created_at.as_millis(),
        ls: r.last_seen.as_millis(),
        idl: r.idle_deadline.as_millis(),
        abs: r.absolute_deadline.as_millis(),
        at: r.auth_time.map(Timestamp::as_millis),
        lvl: r.auth_level,
        el: elev_out(r.elevation),
        v: r.version,
        d: Cow::Borrowed(&r.data),
        ua: r.client.user_agent.as_deref().map(Cow::Borrowed),
        ip: r.client.ip_prefix,
        dev: r.device.as_deref().map(Cow::Borrowed),
    }
}

/// Decodes a record of either format, and checks it is the one stored under `id`.
pub fn decode(id: &SessionId, bytes: &[u8]) -> Result<Record, StoreError> {
    // A JSON record starts with `{`; a MessagePack one with an array header, never `{`.
    let (s, expected): (Stored<'_>, u8) = if bytes.first() == Some(&b'{') {
        let s = serde_json::from_slice(bytes)
            .map_err(|e| StoreError::Corrupt(format!("a session record is not valid: {e}")))?;
        (s, FORMAT_JSON)
    } else {
        let s = rmp_serde::from_slice(bytes)
            .map_err(|e| StoreError::Corrupt(format!("a session record is not valid: {e}")))?;
        (s, FORMAT)
    };
    if s.f != expected {
        return Err(StoreError::Corrupt(format!(
            "a session record has format {}, this build reads {FORMAT_JSON} and {FORMAT}",
            s.f
        )));
    }
    let record_id = SessionId::from_bytes(s.id);
    if &record_id != id {
        return Err(StoreError::Corrupt(
            "a session record is stored under another session's key".into(),
        ));
    }
    Ok(Record {
        id: record_id,
        verifier: VerifierHash::from_bytes(s.ver),
        previous: s.prev.map(|p| Box::new(prev_in(p))),
        retired: s.ret.into_iter().map(prev_in).collect(),
        subject: s.sub.map(Box::from),
        created_at: Timestamp::from_millis(s.ca),
        last_seen: Timestamp::from_millis(s.ls),
        idle_deadline: Timestamp::from_millis(s.idl),
        absolute_deadline: Timestamp::from_millis(s.abs),
        auth_time: s.at.map(Timestamp::from_millis),
        auth_level: s.lvl,
        elevation: elev_in(s.el),
        version: s.v,
        data: s.d.into_owned(),
        client: ClientInfo {
            user_agent: s.ua.map(Cow::into_owned),
            ip_prefix: s.ip,
        },
        device: s.dev.map(|d| Box::new(d.into_owned())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Elevation;
    use crate::token::Token;

    #[test]
    fn a_record_round_trips_and_a_stranger_is_refused() {
        let token = Token::generate().unwrap();
        let now = Timestamp::from_millis(1_800_000_000_000);
        let mut record = Record::new(&token, Some("alice"), now, now, now);
        record.elevation = Some(Elevation {
            level: 2,
            until: now,
        });
        record.previous = Some(Box::new(PreviousVerifier {
            verifier: Token::generate().unwrap().verifier_hash(),
            grace_until: now,
            elevation: None,
            auth_time: Some(now),
        }));
        record
            .data
            .insert("k".into(), serde_json::json!([1, "two"]));
        record.client.user_agent = Some("ua".into());
        let bytes = encode(&record).unwrap();
        assert_eq!(decode(&record.id, &bytes).unwrap(), record);
        let other = Token::generate().unwrap().session_id();
        assert!(matches!(
            decode(&other, &bytes),
            Err(StoreError::Corrupt(_))
        ));
        let secret = token.expose();
        let token_bytes = secret.as_bytes();
        assert!(
            !bytes.windows(token_bytes.len()).any(|w| w == token_bytes),
            "no token in the encoding"
        );
        // A record from a newer build is refused, not misread.
        let mut future = from_record(&record);
        future.f = FORMAT + 1;
        assert!(matches!(
            decode(&record.id, &rmp_serde::to_vec(&future).unwrap()),
            Err(StoreError::Corrupt(_))
        ));
        assert!(decode(&record.id, &bytes[..bytes.len() / 2]).is_err());
        assert!(decode(&record.id, b"{").is_err());
    }

    /// What format 1 wrote before format 2 existed: a rolling upgrade keeps these sessions.
    #[test]
    fn a_legacy_json_record_is_still_read_and_a_json_record_of_format_two_is_not() {
        let token = Token::generate().unwrap();
        let now = Timestamp::from_millis(1_800_000_000_000);
        let mut record = Record::new(&token, Some("alice"), now, now, now);
        record
            .data
            .insert("theme".into(), serde_json::json!("dark"));
        record.retired.push(PreviousVerifier {
            verifier: Token::generate().unwrap().verifier_hash(),
            grace_until: now,
            elevation: Some(Elevation {
                level: 1,
                until: now,
            }),
            auth_time: None,
        });
        let mut stored = from_record(&record);
        stored.f = FORMAT_JSON;
        let mut legacy = serde_json::to_value(&stored).unwrap();
        let text = legacy.to_string();
        assert!(
            text.starts_with('{') && text.contains("\"sub\":\"alice\""),
            "{text}"
        );
        assert_eq!(decode(&record.id, text.as_bytes()).unwrap(), record);
        legacy["f"] = serde_json::json!(FORMAT);
        assert!(matches!(
            decode(&record.id, legacy.to_string().as_bytes()),
            Err(StoreError::Corrupt(_))
        ));
    }

    /// A server of the build before device binding reads 17-element records: an unbound record
    /// stays exactly that, so a rolling upgrade keeps every session that is not bound.
    #[test]
    fn an_unbound_record_keeps_the_shape_the_previous_build_reads() {
        let token = Token::generate().unwrap();
        let now = Timestamp::from_millis(1_800_000_000_000);
        let record = Record::new(&token, Some("alice"), now, now, now);
        let bytes = encode(&record).unwrap();
        assert_eq!(bytes.get(..3), Some(&[0xdc, 0x00, 17][..]), "array16 of 17");
        let mut bound = record.clone();
        bound.device = Some(Box::new(DeviceBinding {
            algorithm: crate::device::DeviceAlgorithm::Es256,
            public_key: "{}".into(),
            thumbprint: "t".into(),
            bound_at: now,
            token_until: now,
            spent_until: now,
        }));
        let bytes = encode(&bound).unwrap();
        assert_eq!(bytes.get(..3), Some(&[0xdc, 0x00, 18][..]));
        assert_eq!(decode(&bound.id, &bytes).unwrap(), bound);
    }

    /// The point of format 2: fewer bytes in Redis and PostgreSQL for every session.
    #[test]
    fn the_messagepack_record_is_under_half_the_json_one() {
        let token = Token::generate().unwrap();
        let now = Timestamp::from_millis(1_800_000_000_000);
        let mut record = Record::new(&token, Some("alice"), now, now, now);
        record.client = ClientInfo::new(Some("Mozilla/5.0"), Some("203.0.113.9".parse().unwrap()));
        let packed = encode(&record).unwrap().len();
        let json = serde_json::to_vec(&from_record(&record)).unwrap().len();
        assert!(packed * 2 < json, "MessagePack {packed} B, JSON {json} B");
    }
}
