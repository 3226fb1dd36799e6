//! One session record as a row of `sessions`: the column list, reading a row back, and the
//! parameters that write one. The only place that knows the table's layout besides `schema`.

use std::sync::LazyLock;

use rusqlite::Row;
use tessera_core::record::{ClientInfo, Elevation, IpPrefix, PreviousVerifier};
use tessera_core::token::VerifierHash;
use tessera_core::{Record, SessionId, StoreError, Timestamp};

/// The columns of `sessions`, in one place: the statements below are built from this list, every
/// value is bound by its name, and read at the position [`col`] finds for its name at compile
/// time, so no two hand-counted orderings can disagree (and a row costs no name lookups: they
/// were 5% of a resolve's CPU).
const FIELDS: [&str; 24] = [
    "id",
    "verifier",
    "prev_verifier",
    "prev_grace_until",
    "prev_elev_level",
    "prev_elev_until",
    "prev_auth_time",
    "retired",
    "retired_auth",
    "subject",
    "created_at",
    "last_seen",
    "idle_deadline",
    "absolute_deadline",
    "expires_at",
    "auth_time",
    "auth_level",
    "elev_level",
    "elev_until",
    "version",
    "data",
    "user_agent",
    "ip_prefix",
    "device",
];

/// A column of [`SELECT`]: its position in the row, and its name for error messages.
#[derive(Clone, Copy)]
struct Col {
    at: usize,
    name: &'static str,
}

/// The column `name` of [`FIELDS`]; evaluated in a `const`, so a misspelt name does not build.
#[allow(clippy::indexing_slicing)] // runs at compile time only: a bad index fails the build
const fn col(name: &'static str) -> Col {
    let mut i = 0;
    while i < FIELDS.len() {
        let (a, b) = (FIELDS[i].as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return Col { at: i, name };
            }
        }
        i += 1;
    }
    panic!("not a column of sessions");
}

/// `c!("name")`: the column, found at compile time.
macro_rules! c {
    ($name:literal) => {{
        const C: Col = col($name);
        C
    }};
}

fn get<T: rusqlite::types::FromSql>(row: &Row<'_>, c: Col) -> rusqlite::Result<T> {
    row.get(c.at)
}

/// `SELECT` of every column, for a `WHERE` to follow.
pub(crate) static SELECT: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {} FROM sessions", FIELDS.join(", ")));

/// One record by id (built once: a resolve should not format its query).
pub(crate) static SELECT_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("{} WHERE id = ?1", *SELECT));

/// A subject's records.
pub(crate) static SELECT_BY_SUBJECT: LazyLock<String> =
    LazyLock::new(|| format!("{} WHERE subject = ?1", *SELECT));

/// Insert-if-absent of one record.
pub(crate) static INSERT: LazyLock<String> = LazyLock::new(|| {
    let names: Vec<String> = FIELDS.iter().map(|f| format!(":{f}")).collect();
    format!(
        "INSERT INTO sessions ({}) VALUES ({}) ON CONFLICT(id) DO NOTHING",
        FIELDS.join(", "),
        names.join(", ")
    )
});

/// Conditional replacement of one record: only at the `:expected` version.
pub(crate) static UPDATE: LazyLock<String> = LazyLock::new(|| {
    let sets: Vec<String> = FIELDS
        .iter()
        .filter(|f| **f != "id")
        .map(|f| format!("{f} = :{f}"))
        .collect();
    format!(
        "UPDATE sessions SET {} WHERE id = :id AND version = :expected",
        sets.join(", ")
    )
});

/// The 32-byte blob in column `name`.
pub(crate) fn blob32(row: &Row<'_>, name: &str) -> rusqlite::Result<[u8; 32]> {
    exactly32(row.get(name)?, name)
}

fn blob32_at(row: &Row<'_>, c: Col) -> rusqlite::Result<[u8; 32]> {
    exactly32(get(row, c)?, c.name)
}

fn exactly32(bytes: Vec<u8>, name: &str) -> rusqlite::Result<[u8; 32]> {
    bytes.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Blob,
            format!("column {name}: expected 32 bytes").into(),
        )
    })
}

/// A row as read, before the JSON data is parsed.
pub(crate) struct RawRecord {
    record: Record,
    data: String,
    device: Option<String>,
}

/// The client's address prefix, refused unless in the exact form the store writes.
fn ip_prefix(row: &Row<'_>, c: Col) -> rusqlite::Result<Option<IpPrefix>> {
    let Some(text) = row.get_ref(c.at)?.as_str_or_null()? else {
        return Ok(None);
    };
    text.parse().map(Some).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            c.at,
            rusqlite::types::Type::Text,
            format!("column {}: {e}", c.name).into(),
        )
    })
}

fn millis(row: &Row<'_>, c: Col) -> rusqlite::Result<Timestamp> {
    get::<i64>(row, c).map(Timestamp::from_millis)
}

fn maybe_millis(row: &Row<'_>, c: Col) -> rusqlite::Result<Option<Timestamp>> {
    Ok(get::<Option<i64>>(row, c)?.map(Timestamp::from_millis))
}

pub(crate) fn read_row(row: &Row<'_>) -> rusqlite::Result<RawRecord> {
    let previous = match get::<Option<Vec<u8>>>(row, c!("prev_verifier"))? {
        Some(_) => Some(PreviousVerifier {
            verifier: VerifierHash::from_bytes(blob32_at(row, c!("prev_verifier"))?),
            grace_until: millis(row, c!("prev_grace_until"))?,
            elevation: elevation_of(
                get(row, c!("prev_elev_level"))?,
                get(row, c!("prev_elev_until"))?,
            ),
            auth_time: maybe_millis(row, c!("prev_auth_time"))?,
        }),
        None => None,
    };
    Ok(RawRecord {
        record: Record {
            id: SessionId::from_bytes(blob32_at(row, c!("id"))?),
            verifier: VerifierHash::from_bytes(blob32_at(row, c!("verifier"))?),
            previous: previous.map(Box::new),
            retired: retired_verifiers(row)?,
            subject: get::<Option<String>>(row, c!("subject"))?.map(String::into_boxed_str),
            created_at: millis(row, c!("created_at"))?,
            last_seen: millis(row, c!("last_seen"))?,
            idle_deadline: millis(row, c!("idle_deadline"))?,
            absolute_deadline: millis(row, c!("absolute_deadline"))?,
            auth_time: maybe_millis(row, c!("auth_time"))?,
            auth_level: u32::try_from(get::<i64>(row, c!("auth_level"))?).unwrap_or(0),
            elevation: elevation_of(get(row, c!("elev_level"))?, get(row, c!("elev_until"))?),
            version: u64::try_from(get::<i64>(row, c!("version"))?).unwrap_or(0),
            data: serde_json::Map::new(),
            client: ClientInfo {
                user_agent: get(row, c!("user_agent"))?,
                ip_prefix: ip_prefix(row, c!("ip_prefix"))?,
            },
            device: None,
        },
        data: get(row, c!("data"))?,
        device: get(row, c!("device"))?,
    })
}

fn elevation_of(level: Option<i64>, until: Option<i64>) -> Option<Elevation> {
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

/// The retired verifiers, stored as 40-byte entries in `retired` (the 32-byte hash, then the
/// grace deadline as big-endian milliseconds) and, in `retired_auth`, 20-byte entries with the auth state
/// each had (big-endian step-up level, 0 for none, its deadline, and the auth time). A row from
/// before schema 3 has no such entries: its retired tokens get no step-up and no auth time (the
/// least they could have had).
fn retired_verifiers(row: &Row<'_>) -> rusqlite::Result<Vec<PreviousVerifier>> {
    let bytes: Vec<u8> = get(row, c!("retired"))?;
    let auth: Vec<u8> = get(row, c!("retired_auth"))?;
    if bytes.len() % 40 != 0 || auth.len() % 20 != 0 {
        return Err(rusqlite::Error::FromSqlConversionFailure(
            0,
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
                verifier: VerifierHash::from_bytes(hash.try_into().ok()?),
                grace_until: Timestamp::from_millis(i64::from_be_bytes(until.try_into().ok()?)),
                elevation,
                auth_time,
            })
        })
        .collect())
}

fn retired_blob(retired: &[PreviousVerifier]) -> Vec<u8> {
    retired
        .iter()
        .flat_map(|p| {
            let mut entry = p.verifier.as_bytes().to_vec();
            entry.extend_from_slice(&p.grace_until.as_millis().to_be_bytes());
            entry
        })
        .collect()
}

fn retired_auth_blob(retired: &[PreviousVerifier]) -> Vec<u8> {
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
    record.device = raw
        .device
        .map(|d| serde_json::from_str(&d))
        .transpose()
        .map_err(|_| {
            StoreError::Corrupt(format!(
                "session {} has an unreadable device binding",
                record.id.reference()
            ))
        })?;
    Ok(record)
}

pub(crate) fn version_param(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// One record's values, each under its column's name (`:name`).
pub(crate) type Params = Vec<(&'static str, Box<dyn rusqlite::ToSql + Send>)>;

/// The values that write `r`, by column name.
pub(crate) fn record_params(r: &Record) -> Result<Params, StoreError> {
    let data = serde_json::to_string(&r.data)
        .map_err(|_| StoreError::Corrupt("session data is not serialisable".into()))?;
    let device = r
        .device
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|_| StoreError::Corrupt("a device binding is not serialisable".into()))?;
    let prev = r.previous.as_deref().copied();
    let prev_elevation = prev.and_then(|p| p.elevation);
    Ok(vec![
        (":id", Box::new(r.id.as_bytes().to_vec())),
        (":verifier", Box::new(r.verifier.as_bytes().to_vec())),
        (
            ":prev_verifier",
            Box::new(prev.map(|p| p.verifier.as_bytes().to_vec())),
        ),
        (
            ":prev_grace_until",
            Box::new(prev.map(|p| p.grace_until.as_millis())),
        ),
        (
            ":prev_elev_level",
            Box::new(prev_elevation.map(|e| i64::from(e.level))),
        ),
        (
            ":prev_elev_until",
            Box::new(prev_elevation.map(|e| e.until.as_millis())),
        ),
        (
            ":prev_auth_time",
            Box::new(prev.and_then(|p| p.auth_time).map(Timestamp::as_millis)),
        ),
        (":retired", Box::new(retired_blob(&r.retired))),
        (":retired_auth", Box::new(retired_auth_blob(&r.retired))),
        (":subject", Box::new(r.subject.clone())),
        (":created_at", Box::new(r.created_at.as_millis())),
        (":last_seen", Box::new(r.last_seen.as_millis())),
        (":idle_deadline", Box::new(r.idle_deadline.as_millis())),
        (
            ":absolute_deadline",
            Box::new(r.absolute_deadline.as_millis()),
        ),
        (":expires_at", Box::new(r.expires_at().as_millis())),
        (
            ":auth_time",
            Box::new(r.auth_time.map(Timestamp::as_millis)),
        ),
        (":auth_level", Box::new(i64::from(r.auth_level))),
        (
            ":elev_level",
            Box::new(r.elevation.map(|e| i64::from(e.level))),
        ),
        (
            ":elev_until",
            Box::new(r.elevation.map(|e| e.until.as_millis())),
        ),
        (":version", Box::new(version_param(r.version))),
        (":data", Box::new(data)),
        (":user_agent", Box::new(r.client.user_agent.clone())),
        (
            ":ip_prefix",
            Box::new(r.client.ip_prefix.map(|p| p.to_string())),
        ),
        (":device", Box::new(device)),
    ])
}

/// Borrows `params` in the form rusqlite binds by name.
pub(crate) fn by_name(params: &Params) -> Vec<(&str, &dyn rusqlite::ToSql)> {
    params
        .iter()
        .map(|(name, value)| (*name, value.as_ref() as &dyn rusqlite::ToSql))
        .collect()
}
