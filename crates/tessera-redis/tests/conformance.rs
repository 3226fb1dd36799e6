//! The Redis store against the store conformance suite, on a real standalone server and a real
//! 3-master Redis Cluster (started by scripts/test.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failed assertion

mod support;

mod standalone {
    use super::support;
    use tessera_redis::RedisStore;

    async fn fresh() -> RedisStore {
        support::store_at(&support::standalone_url()).await
    }

    fn persisted(store: &RedisStore) -> Vec<u8> {
        support::persisted_bytes(&support::standalone_url(), store.address().prefix())
    }

    tessera_core::store_conformance_tests!(fresh, persisted);
}

/// With the opt-in local copy: every promise holds for the server that holds the copy.
mod standalone_local_copy {
    use super::support;
    use tessera_redis::RedisStore;

    async fn fresh() -> RedisStore {
        let url = support::standalone_url();
        let separator = if url.contains('?') { '&' } else { '?' };
        support::store_at(&format!("{url}{separator}accept_revocation_lag_ms=1000")).await
    }

    fn persisted(store: &RedisStore) -> Vec<u8> {
        support::persisted_bytes(&support::standalone_url(), store.address().prefix())
    }

    tessera_core::store_conformance_tests!(fresh, persisted);
}

mod cluster {
    use super::support;
    use tessera_redis::RedisStore;

    async fn fresh() -> RedisStore {
        support::store_at(&support::cluster_url()).await
    }

    fn persisted(store: &RedisStore) -> Vec<u8> {
        support::persisted_bytes(&support::cluster_url(), store.address().prefix())
    }

    tessera_core::store_conformance_tests!(fresh, persisted);
}
