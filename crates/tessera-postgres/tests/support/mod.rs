//! Connecting the tests to the PostgreSQL that scripts/services.sh found or started, each store
//! in a schema of its own so that runs never see each other's data.
#![allow(dead_code, unreachable_pub)]

use std::process::Command;

use tessera_postgres::{Address, PostgresStore};

/// `TESSERA_TEST_POSTGRES_URL`, else the usual local server.
pub fn url() -> String {
    std::env::var("TESSERA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema name no other store of any run has.
pub fn unique_schema() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("tessera_test_{hex}")
}

pub async fn store() -> PostgresStore {
    let address = Address::parse(&url())
        .unwrap()
        .with_schema(&unique_schema())
        .unwrap();
    PostgresStore::connect_to(address).await.unwrap()
}

/// Runs SQL through psql and returns what it printed (raw bytes).
pub fn psql(sql: &str) -> Vec<u8> {
    let out = Command::new("psql")
        .arg(url())
        .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql is missing: run scripts/test.sh, which installs PostgreSQL");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Every byte of every table in `schema`, binary COPY so bytea columns come out raw.
pub fn persisted_bytes(schema: &str) -> Vec<u8> {
    [
        "sessions",
        "subject_epochs",
        "signing_keys",
        "schema_version",
    ]
    .iter()
    .flat_map(|table| psql(&format!("COPY {schema}.{table} TO STDOUT (FORMAT binary)")))
    .collect()
}
