//! The server-side scripts. Each runs atomically on keys of one hash slot: a session's own key,
//! or a subject's epoch and index, never both. docs/architecture.md ("Redis") says why that is
//! enough for every promise.
//!
//! A session key is a hash: `v` (version), `r` (the encoded record), `u` (the subject's tag, or
//! empty). A revoked id leaves a tombstone instead: `dead` and `u`, no `r`, until the
//! session's absolute deadline, so a login that registered before a revoke-all but had not yet
//! written its record cannot write it after.

use redis::Script;

/// The current server time in milliseconds, as Lua code.
macro_rules! server_now {
    () => {
        "local t = redis.call('TIME')\n\
         local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    };
}

/// Returns `$revoked` unless the subject is still at the expected epoch ('' asks nothing).
macro_rules! epoch_guard {
    ($epoch:literal, $expected:literal, $revoked:literal) => {
        concat!(
            "if ",
            $expected,
            " ~= '' then\n",
            "  local e = redis.call('GET', ",
            $epoch,
            ") or '0'\n",
            "  if e ~= ",
            $expected,
            " then return ",
            $revoked,
            " end\n",
            "end\n"
        )
    };
}

/// Returns early when the session key exists: 2 for a tombstone, 0 when this very record is
/// there (the script was re-sent: every writing script is idempotent, since the Cluster client
/// re-sends a script whose reply was lost), 1 for another record (collision).
macro_rules! insert_guard {
    ($key:literal, $record:literal) => {
        concat!(
            "if redis.call('EXISTS', ",
            $key,
            ") == 1 then\n",
            "  if redis.call('HEXISTS', ",
            $key,
            ", 'dead') == 1 then return 2 end\n",
            "  if redis.call('HGET', ",
            $key,
            ", 'r') == ",
            $record,
            " then return 0 end\n",
            "  return 1\n",
            "end\n"
        )
    };
}

/// Writes a new session key and its expiry.
macro_rules! insert_write {
    ($key:literal, $version:literal, $record:literal, $tag:literal, $expire:literal) => {
        concat!(
            "redis.call('HSET', ",
            $key,
            ", 'v', ",
            $version,
            ", 'r', ",
            $record,
            ", 'u', ",
            $tag,
            ")\n",
            "redis.call('PEXPIREAT', ",
            $key,
            ", ",
            $expire,
            ")\n"
        )
    };
}

/// Adds a session to its subject's index, dropping members past their absolute deadline and
/// keeping the index alive as long as its last member.
macro_rules! index_add {
    ($index:literal, $id:literal, $deadline:literal) => {
        concat!(
            server_now!(),
            "redis.call('ZREMRANGEBYSCORE', ",
            $index,
            ", '-inf', now)\n",
            "redis.call('ZADD', ",
            $index,
            ", ",
            $deadline,
            ", ",
            $id,
            ")\n",
            "local last = redis.call('ZRANGE', ",
            $index,
            ", -1, -1, 'WITHSCORES')\n",
            "redis.call('PEXPIREAT', ",
            $index,
            ", last[2])\n"
        )
    };
}

/// Insert if absent. KEYS: session. ARGV: version, record, expire-at ms, subject tag.
/// Returns 0 inserted, 1 collision, 2 revoked (a tombstone is there).
const INSERT: &str = concat!(
    insert_guard!("KEYS[1]", "ARGV[2]"),
    insert_write!("KEYS[1]", "ARGV[1]", "ARGV[2]", "ARGV[4]", "ARGV[3]"),
    "return 0\n"
);

/// Registers a session with its subject, if the subject is still at the expected epoch.
/// KEYS: epoch, index. ARGV: expected epoch ('' for none), session id, absolute deadline ms.
/// Returns 1 registered, 0 revoked meanwhile.
const REGISTER: &str = concat!(
    epoch_guard!("KEYS[1]", "ARGV[1]", "0"),
    index_add!("KEYS[2]", "ARGV[2]", "ARGV[3]"),
    "return 1\n"
);

/// A login on a standalone server, where one script may touch the subject's keys and the
/// session's together: the epoch check, the insert and the registration in one atomic step (one
/// round trip instead of two). KEYS: epoch, index, session. ARGV: expected epoch ('' for none),
/// session id, absolute deadline ms, version, record, expire-at ms, subject tag.
/// Returns 0 inserted, 1 collision, 2 revoked.
const CREATE_STANDALONE: &str = concat!(
    epoch_guard!("KEYS[1]", "ARGV[1]", "2"),
    insert_guard!("KEYS[3]", "ARGV[5]"),
    index_add!("KEYS[2]", "ARGV[2]", "ARGV[3]"),
    insert_write!("KEYS[3]", "ARGV[4]", "ARGV[5]", "ARGV[7]", "ARGV[6]"),
    "return 0\n"
);

/// Conditional update. KEYS: session. ARGV: expected version, new version, record, expire-at,
/// write id. Returns 0 written, 1 version mismatch, 2 missing. The write id (unique per call)
/// is kept in `w`: a re-sent update that already landed answers written again, while another
/// caller's identical write still loses.
const UPDATE: &str = "
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 2 end
if v == ARGV[2] and redis.call('HGET', KEYS[1], 'w') == ARGV[5] then return 0 end
if v ~= ARGV[1] then return 1 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'r', ARGV[3], 'w', ARGV[5])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return 0
";

/// Delete one session. KEYS: session. Returns the subject tag (`false` if there was no record).
const DELETE: &str = "
if redis.call('HEXISTS', KEYS[1], 'r') == 0 then return false end
local u = redis.call('HGET', KEYS[1], 'u')
redis.call('DEL', KEYS[1])
return u
";

/// First step of revoke-all: advance the epoch and list the subject's sessions.
/// KEYS: epoch, index. Returns the index as id, absolute deadline, id, deadline, ...
const REVOKE_BEGIN: &str = concat!(
    "
redis.call('INCR', KEYS[1])
",
    server_now!(),
    "
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
return redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
"
);

/// Second step of revoke-all, per session: delete it and leave a tombstone.
/// KEYS: session. ARGV: subject tag, tombstone until ms. Returns 1 if a record was deleted,
/// 0 if none was there (tombstoned anyway), -1 if the key belongs to another subject.
const REVOKE_ONE: &str = "
local u = redis.call('HGET', KEYS[1], 'u')
if u and u ~= ARGV[1] then return -1 end
local existed = redis.call('HEXISTS', KEYS[1], 'r')
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'dead', '1', 'u', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return existed
";

/// Signing keys, inserting the fresh one if there are none. KEYS: list. ARGV: fresh, kept.
const SIGNING_KEYS: &str = "
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('RPUSH', KEYS[1], ARGV[1]) end
return redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
";

/// Makes a key the newest. KEYS: list. ARGV: fresh, kept. A re-sent rotation (the key is
/// already the newest) changes nothing, so the key before it is kept.
const ROTATE_SIGNING_KEY: &str = "
if redis.call('LINDEX', KEYS[1], 0) == ARGV[1] then return 1 end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return 1
";

/// The scripts, hashed once.
pub(crate) struct Scripts {
    pub(crate) insert: Script,
    pub(crate) register: Script,
    pub(crate) create_standalone: Script,
    pub(crate) update: Script,
    pub(crate) delete: Script,
    pub(crate) revoke_begin: Script,
    pub(crate) revoke_one: Script,
    pub(crate) signing_keys: Script,
    pub(crate) rotate_signing_key: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            insert: Script::new(INSERT),
            register: Script::new(REGISTER),
            create_standalone: Script::new(CREATE_STANDALONE),
            update: Script::new(UPDATE),
            delete: Script::new(DELETE),
            revoke_begin: Script::new(REVOKE_BEGIN),
            revoke_one: Script::new(REVOKE_ONE),
            signing_keys: Script::new(SIGNING_KEYS),
            rotate_signing_key: Script::new(ROTATE_SIGNING_KEY),
        }
    }
}
