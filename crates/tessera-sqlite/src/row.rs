//! One session record as a row of `sessions`: the column list, reading a row back, and the
//! parameters that write one. The only place that knows the table's layout besides `schema`.

use rusqlite::Row;
use tessera_core::record::{ClientInfo, Elevation, PreviousVerifier};
use tessera_core::{Record, SessionId, StoreError, Timestamp};

pub(crate) const COLUMNS: &str =
    "id, verifier, prev_verifier, prev_grace_until, subject, created_at, \
    last_seen, idle_deadline, absolute_deadline, auth_time, auth_level, elev_level, elev_until, \
    version, data, user_agent, ip_prefix, retired, prev_elev_level, prev_elev_until, retired_auth, \
    prev_auth_time";

pub(crate) fn blob32(row: &Row<'_>, col: usize) -> rusqlite::Result<[u8; 32]> {
    let bytes: Vec<u8> = row.get(col)?;
    bytes.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            col,
            rusqlite::types::Type::Blob,
            "expected 32 bytes".into(),
        )
    })
}

/// A row as read, before the JSON data is parsed.
pub(crate) struct RawRecord {
    record: Record,
    data: String,
}

pub(crate) fn read_row(row: &Row<'_>) -> rusqlite::Result<RawRecord> {
    let prev_verifier: Option<Vec<u8>> = row.get(2)?;
    let prev_grace_until: Option<i64> = row.get(3)?;
    let previous = match (prev_verifier, prev_grace_until) {
        (Some(v), Some(until)) => Some(PreviousVerifier {
            elevation: elevation_of(row.get(18)?, row.get(19)?),
            auth_time: row.get::<_, Option<i64>>(21)?.map(Timestamp::from_millis),
            verifier: tessera_core::token::VerifierHash::from_bytes(v.try_into().map_err(
                |_| {
                    rusqlite::Error::FromSqlConversionFailure(
                        2,
                        rusqlite::types::Type::Blob,
                        "expected 32 bytes".into(),
                    )
                },
            )?),
            grace_until: Timestamp::from_millis(until),
        }),
        _ => None,
    };
    let elevation = elevation_of(row.get(11)?, row.get(12)?);
    let ts = |col: usize| row.get::<_, i64>(col).map(Timestamp::from_millis);
    Ok(RawRecord {
        record: Record {
            id: SessionId::from_bytes(blob32(row, 0)?),
            verifier: tessera_core::token::VerifierHash::from_bytes(blob32(row, 1)?),
            previous,
            retired: retired_verifiers(row, 17, 20)?,
            subject: row.get(4)?,
            created_at: ts(5)?,
            last_seen: ts(6)?,
            idle_deadline: ts(7)?,
            absolute_deadline: ts(8)?,
            auth_time: row.get::<_, Option<i64>>(9)?.map(Timestamp::from_millis),
            auth_level: u32::try_from(row.get::<_, i64>(10)?).unwrap_or(0),
            elevation,
            version: u64::try_from(row.get::<_, i64>(13)?).unwrap_or(0),
            data: serde_json::Map::new(),
            client: ClientInfo {
                user_agent: row.get(15)?,
                ip_prefix: row.get(16)?,
            },
        },
        data: row.get(14)?,
    })
}

pub(crate) fn elevation_of(level: Option<i64>, until: Option<i64>) -> Option<Elevation> {
    match (level, until) {
        (Some(level), Some(until)) => Some(Elevation {
            level: u32::try_from(level).unwrap_or(0),
            until: Timestamp::from_millis(until),
        }),
        _ => None,
    }
}

/// Auth time `None` in a `retired_auth` entry.
const NO_AUTH_TIME: i64 = i64::MIN;

/// The retired verifiers, stored as 40-byte entries in `col` (the 32-byte hash, then the grace
/// deadline as big-endian milliseconds) and, in `auth_col`, 20-byte entries with the auth state
/// each had (big-endian step-up level, 0 for none, its deadline, and the auth time). A row from
/// before schema 3 has no such entries: its retired tokens get no step-up and no auth time (the
/// least they could have had).
pub(crate) fn retired_verifiers(
    row: &Row<'_>,
    col: usize,
    auth_col: usize,
) -> rusqlite::Result<Vec<PreviousVerifier>> {
    let bytes: Vec<u8> = row.get(col)?;
    let auth: Vec<u8> = row.get(auth_col)?;
    if bytes.len() % 40 != 0 || auth.len() % 20 != 0 {
        return Err(rusqlite::Error::FromSqlConversionFailure(
            col,
            rusqlite::types::Type::Blob,
            "expected 40-byte retired and 20-byte auth entries".into(),
        ));
    }
    // Entries out of step (a process from before schema 3 rewrote `retired` alone during a
    // rolling upgrade) cannot be paired safely: then no retired token gets a step-up or an
    // auth time, the least it could have had.
    let in_step = auth.len() / 20 == bytes.len() / 40;
    let auth: &[u8] = if in_step { &auth } else { &[] };
    let mut states = auth.chunks_exact(20).map(|e| {
        let (level, rest) = e.split_at(4);
        let (until, auth_time) = rest.split_at(8);
        let level = u32::from_be_bytes(level.try_into().ok()?);
        let until = i64::from_be_bytes(until.try_into().ok()?);
        let auth_time = i64::from_be_bytes(auth_time.try_into().ok()?);
        Some((
            (level > 0).then(|| Elevation {
                level,
                until: Timestamp::from_millis(until),
            }),
            (auth_time != NO_AUTH_TIME).then(|| Timestamp::from_millis(auth_time)),
        ))
    });
    Ok(bytes
        .chunks_exact(40)
        .filter_map(|entry| {
            let (hash, until) = entry.split_at(32);
            let (elevation, auth_time) = states.next().flatten().unwrap_or((None, None));
            Some(PreviousVerifier {
                verifier: tessera_core::token::VerifierHash::from_bytes(hash.try_into().ok()?),
                grace_until: Timestamp::from_millis(i64::from_be_bytes(until.try_into().ok()?)),
                elevation,
                auth_time,
            })
        })
        .collect())
}

pub(crate) fn retired_blob(retired: &[PreviousVerifier]) -> Vec<u8> {
    retired
        .iter()
        .flat_map(|p| {
            let mut entry = p.verifier.as_bytes().to_vec();
            entry.extend_from_slice(&p.grace_until.as_millis().to_be_bytes());
            entry
        })
        .collect()
}

pub(crate) fn retired_auth_blob(retired: &[PreviousVerifier]) -> Vec<u8> {
    retired
        .iter()
        .flat_map(|p| {
            let (level, until) = p
                .elevation
                .map_or((0, 0), |e| (e.level, e.until.as_millis()));
            let auth_time = p.auth_time.map_or(NO_AUTH_TIME, Timestamp::as_millis);
            let mut entry = level.to_be_bytes().to_vec();
            entry.extend_from_slice(&until.to_be_bytes());
            entry.extend_from_slice(&auth_time.to_be_bytes());
            entry
        })
        .collect()
}

pub(crate) fn finish(raw: RawRecord) -> Result<Record, StoreError> {
    let mut record = raw.record;
    record.data = serde_json::from_str(&raw.data).map_err(|_| {
        StoreError::Corrupt(format!(
            "session {} has unreadable data",
            record.id.reference()
        ))
    })?;
    Ok(record)
}

pub(crate) fn version_param(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn record_params(
    r: &Record,
) -> Result<Vec<Box<dyn rusqlite::ToSql + Send>>, StoreError> {
    let data = serde_json::to_string(&r.data)
        .map_err(|_| StoreError::Corrupt("session data is not serialisable".into()))?;
    Ok(vec![
        Box::new(r.id.as_bytes().to_vec()),
        Box::new(r.verifier.as_bytes().to_vec()),
        Box::new(r.previous.map(|p| p.verifier.as_bytes().to_vec())),
        Box::new(r.previous.map(|p| p.grace_until.as_millis())),
        Box::new(r.subject.clone()),
        Box::new(r.created_at.as_millis()),
        Box::new(r.last_seen.as_millis()),
        Box::new(r.idle_deadline.as_millis()),
        Box::new(r.absolute_deadline.as_millis()),
        Box::new(r.auth_time.map(Timestamp::as_millis)),
        Box::new(i64::from(r.auth_level)),
        Box::new(r.elevation.map(|e| i64::from(e.level))),
        Box::new(r.elevation.map(|e| e.until.as_millis())),
        Box::new(version_param(r.version)),
        Box::new(data),
        Box::new(r.client.user_agent.clone()),
        Box::new(r.client.ip_prefix.clone()),
        Box::new(r.expires_at().as_millis()),
        Box::new(retired_blob(&r.retired)),
        Box::new(
            r.previous
                .and_then(|p| p.elevation)
                .map(|e| i64::from(e.level)),
        ),
        Box::new(
            r.previous
                .and_then(|p| p.elevation)
                .map(|e| e.until.as_millis()),
        ),
        Box::new(retired_auth_blob(&r.retired)),
        Box::new(
            r.previous
                .and_then(|p| p.auth_time)
                .map(Timestamp::as_millis),
        ),
    ])
}
