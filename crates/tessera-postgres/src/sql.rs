//! The statements, with the schema filled in once. Each store operation is one statement, or
//! one transaction where a fresh snapshot between two statements is the point (revoke-all).

/// Statements for one schema.
pub(crate) struct Sql {
    pub(crate) create_at_epoch: String,
    pub(crate) create: String,
    pub(crate) epoch: String,
    pub(crate) load: String,
    pub(crate) update: String,
    pub(crate) exists: String,
    pub(crate) delete: String,
    pub(crate) list: String,
    pub(crate) advance_epoch: String,
    pub(crate) delete_subject: String,
    pub(crate) purge: String,
    pub(crate) insert_first_key: String,
    pub(crate) keys: String,
    pub(crate) lock_keys: String,
    pub(crate) push_key: String,
    pub(crate) trim_keys: String,
}

impl Sql {
    pub(crate) fn new(s: &str) -> Self {
        Self {
            // The upsert takes the epoch row's lock until this statement commits, so a
            // revoke-all either waits for this login (and then deletes it) or moved the epoch
            // first (and this login sees the new epoch and writes nothing).
            create_at_epoch: format!(
                "WITH e AS (
                     INSERT INTO {s}.subject_epochs AS t (subject, epoch) VALUES ($1, 0)
                     ON CONFLICT (subject) DO UPDATE SET epoch = t.epoch
                     RETURNING t.epoch
                 ), ins AS (
                     INSERT INTO {s}.sessions (id, subject, version, expires_at, record)
                     SELECT $2, $1, $3, $4, $5 FROM e WHERE e.epoch = $6
                     ON CONFLICT (id) DO NOTHING
                     RETURNING 1
                 )
                 SELECT (SELECT epoch FROM e), (SELECT count(*) FROM ins)"
            ),
            create: format!(
                "INSERT INTO {s}.sessions (id, subject, version, expires_at, record)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING"
            ),
            epoch: format!("SELECT epoch FROM {s}.subject_epochs WHERE subject = $1"),
            load: format!("SELECT record FROM {s}.sessions WHERE id = $1"),
            update: format!(
                "UPDATE {s}.sessions SET version = $3, expires_at = $4, record = $5
                 WHERE id = $1 AND version = $2"
            ),
            exists: format!("SELECT 1 FROM {s}.sessions WHERE id = $1"),
            delete: format!("DELETE FROM {s}.sessions WHERE id = $1"),
            list: format!("SELECT id, record FROM {s}.sessions WHERE subject = $1"),
            advance_epoch: format!(
                "INSERT INTO {s}.subject_epochs AS t (subject, epoch) VALUES ($1, 1)
                 ON CONFLICT (subject) DO UPDATE SET epoch = t.epoch + 1"
            ),
            delete_subject: format!(
                "DELETE FROM {s}.sessions WHERE subject = $1 AND ($2::bytea IS NULL OR id <> $2)
                 RETURNING id"
            ),
            // SKIP LOCKED: rows a request is writing are left for the next round, so the purge
            // never makes a request wait.
            purge: format!(
                "DELETE FROM {s}.sessions WHERE id IN (
                     SELECT id FROM {s}.sessions WHERE expires_at <= $1
                     ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
                 )"
            ),
            insert_first_key: format!(
                "INSERT INTO {s}.signing_keys (purpose, seq, key)
                 SELECT $1, 1, $2 WHERE NOT EXISTS (SELECT 1 FROM {s}.signing_keys WHERE purpose = $1)
                 ON CONFLICT DO NOTHING"
            ),
            keys: format!(
                "SELECT key FROM {s}.signing_keys WHERE purpose = $1 ORDER BY seq DESC LIMIT $2"
            ),
            lock_keys: "SELECT pg_advisory_xact_lock(hashtextextended('tessera-keys:' || $1, 0))"
                .to_owned(),
            push_key: format!(
                "INSERT INTO {s}.signing_keys (purpose, seq, key)
                 SELECT $1, COALESCE(MAX(seq), 0) + 1, $2 FROM {s}.signing_keys WHERE purpose = $1"
            ),
            trim_keys: format!(
                "DELETE FROM {s}.signing_keys WHERE purpose = $1 AND seq NOT IN (
                     SELECT seq FROM {s}.signing_keys WHERE purpose = $1 ORDER BY seq DESC LIMIT $2
                 )"
            ),
        }
    }
}
