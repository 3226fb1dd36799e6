//! A record as bytes, for stores that keep it whole (Redis, PostgreSQL): compact JSON, hashes
//! in unpadded base64url, times in milliseconds, with a format number so a future change is
//! refused, never misread. Nothing in it is a credential: the token is only ever a hash here.

use crate::clock::Timestamp;
use crate::record::{ClientInfo, Elevation, PreviousVerifier, Record};
use crate::store::StoreError;
use crate::token::{SessionId, VerifierHash};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The format version; a record of another version is refused as corrupt, never guessed at.
const FORMAT: u8 = 1;

#[derive(Serialize, Deserialize)]
struct Stored {
    f: u8,
    id: String,
    ver: String,
    prev: Option<Prev>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ret: Vec<Prev>,
    sub: Option<String>,
    ca: i64,
    ls: i64,
    idl: i64,
    abs: i64,
    at: Option<i64>,
    lvl: u32,
    el: Option<Elev>,
    v: u64,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    d: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ua: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Prev {
    ver: String,
    until: i64,
    el: Option<Elev>,
    at: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct Elev {
    lvl: u32,
    until: i64,
}

fn hash(bytes: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unhash(text: &str) -> Result<[u8; 32], StoreError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| StoreError::Corrupt("a hash is not 32 bytes of base64url".into()))
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
        ver: hash(p.verifier.as_bytes()),
        until: p.grace_until.as_millis(),
        el: elev_out(p.elevation),
        at: p.auth_time.map(Timestamp::as_millis),
    }
}

fn prev_in(p: Prev) -> Result<PreviousVerifier, StoreError> {
    Ok(PreviousVerifier {
        verifier: VerifierHash::from_bytes(unhash(&p.ver)?),
        grace_until: Timestamp::from_millis(p.until),
        elevation: elev_in(p.el),
        auth_time: p.at.map(Timestamp::from_millis),
    })
}

/// Encodes a record.
pub fn encode(r: &Record) -> Result<Vec<u8>, StoreError> {
    let stored = Stored {
        f: FORMAT,
        id: hash(r.id.as_bytes()),
        ver: hash(r.verifier.as_bytes()),
        prev: r.previous.as_ref().map(prev_out),
        ret: r.retired.iter().map(prev_out).collect(),
        sub: r.subject.clone(),
        ca: r.created_at.as_millis(),
        ls: r.last_seen.as_millis(),
        idl: r.idle_deadline.as_millis(),
        abs: r.absolute_deadline.as_millis(),
        at: r.auth_time.map(Timestamp::as_millis),
        lvl: r.auth_level,
        el: elev_out(r.elevation),
        v: r.version,
        d: r.data.clone(),
        ua: r.client.user_agent.clone(),
        ip: r.client.ip_prefix.clone(),
    };
    serde_json::to_vec(&stored)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode a session record: {e}")))
}

/// Decodes a record, and checks it is the one stored under `id`.
pub fn decode(id: &SessionId, bytes: &[u8]) -> Result<Record, StoreError> {
    let s: Stored = serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt(format!("a session record is not valid: {e}")))?;
    if s.f != FORMAT {
        return Err(StoreError::Corrupt(format!(
            "a session record has format {}, this build reads {FORMAT}",
            s.f
        )));
    }
    let record_id = SessionId::from_bytes(unhash(&s.id)?);
    if &record_id != id {
        return Err(StoreError::Corrupt(
            "a session record is stored under another session's key".into(),
        ));
    }
    Ok(Record {
        id: record_id,
        verifier: VerifierHash::from_bytes(unhash(&s.ver)?),
        previous: s.prev.map(prev_in).transpose()?,
        retired: s.ret.into_iter().map(prev_in).collect::<Result<_, _>>()?,
        subject: s.sub,
        created_at: Timestamp::from_millis(s.ca),
        last_seen: Timestamp::from_millis(s.ls),
        idle_deadline: Timestamp::from_millis(s.idl),
        absolute_deadline: Timestamp::from_millis(s.abs),
        auth_time: s.at.map(Timestamp::from_millis),
        auth_level: s.lvl,
        elevation: elev_in(s.el),
        version: s.v,
        data: s.d,
        client: ClientInfo {
            user_agent: s.ua,
            ip_prefix: s.ip,
        },
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
        record.previous = Some(PreviousVerifier {
            verifier: Token::generate().unwrap().verifier_hash(),
            grace_until: now,
            elevation: None,
            auth_time: Some(now),
        });
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
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains(&token.expose()), "no token in the encoding");
        let future = text.replacen("\"f\":1", "\"f\":2", 1);
        assert!(matches!(
            decode(&record.id, future.as_bytes()),
            Err(StoreError::Corrupt(_))
        ));
        assert!(decode(&record.id, b"{").is_err());
    }
}
