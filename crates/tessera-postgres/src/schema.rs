//! The tables, created and upgraded by an append-only list of migrations. Each store runs them
//! at connect, under an advisory lock so that servers starting together do not race, inside one
//! transaction; a schema from a newer Tessera is refused, never changed.

use deadpool_postgres::Client;

/// The migrations, in order; `{s}` stands for the schema. Never edit one: append.
const MIGRATIONS: &[&str] = &[
    // 1: sessions keyed by id, the record encoded whole (tessera_core::encoding); the subject
    // and deadline beside it for the indices revoke-all and the purge use.
    "CREATE TABLE {s}.sessions (
         id bytea PRIMARY KEY,
         subject text,
         version bigint NOT NULL,
         expires_at bigint NOT NULL,
         record bytea NOT NULL
     );
     CREATE INDEX sessions_subject ON {s}.sessions (subject) WHERE subject IS NOT NULL;
     CREATE INDEX sessions_expires_at ON {s}.sessions (expires_at);
     CREATE TABLE {s}.subject_epochs (
         subject text PRIMARY KEY,
         epoch bigint NOT NULL
     );
     CREATE TABLE {s}.signing_keys (
         purpose text NOT NULL,
         seq bigint NOT NULL,
         key bytea NOT NULL,
         PRIMARY KEY (purpose, seq)
     );",
];

/// The schema version this build writes.
pub(crate) const CURRENT: i32 = MIGRATIONS.len() as i32;

/// The advisory lock key of migrations ("tessera" in ASCII).
const MIGRATION_LOCK: i64 = 0x0074_6573_7365_7261;

/// Why the schema could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The database holds a schema from a newer Tessera.
    #[error(
        "schema {schema} is at version {found}, newer than this build's {CURRENT}: upgrade Tessera"
    )]
    Newer {
        /// The schema.
        schema: String,
        /// Its version.
        found: i32,
    },
    /// A statement failed.
    #[error("cannot migrate schema {schema}: {source}")]
    Sql {
        /// The schema.
        schema: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
}

/// Brings `schema` to [`CURRENT`].
pub(crate) async fn migrate(client: &mut Client, schema: &str) -> Result<(), MigrateError> {
    let sql = |source| MigrateError::Sql {
        schema: schema.to_owned(),
        source,
    };
    let tx = client.transaction().await.map_err(sql)?;
    // Migrations may wait for a peer's lock longer than a request would, but not forever.
    tx.batch_execute("SET LOCAL lock_timeout = '30s'; SET LOCAL statement_timeout = '60s'")
        .await
        .map_err(sql)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(sql)?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {schema}.schema_version (version integer NOT NULL);"
    ))
    .await
    .map_err(sql)?;
    let found: i32 = tx
        .query_opt(&format!("SELECT version FROM {schema}.schema_version"), &[])
        .await
        .map_err(sql)?
        .map_or(0, |row| row.get(0));
    if found > CURRENT {
        return Err(MigrateError::Newer {
            schema: schema.to_owned(),
            found,
        });
    }
    for migration in MIGRATIONS.iter().skip(usize::try_from(found).unwrap_or(0)) {
        tx.batch_execute(&migration.replace("{s}", schema))
            .await
            .map_err(sql)?;
    }
    if found < CURRENT {
        tx.batch_execute(&format!(
            "DELETE FROM {schema}.schema_version; INSERT INTO {schema}.schema_version VALUES ({CURRENT});"
        ))
        .await
        .map_err(sql)?;
    }
    tx.commit().await.map_err(sql)
}
