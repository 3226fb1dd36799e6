//! The device-binding properties every store must keep, and helpers for tests that bind
//! sessions with the spec-following client ([`DeviceClient`]).

use std::sync::Arc;

use super::{engine, sign_in, suite_clock};
pub use crate::device::client::DeviceClient;
use crate::device::ProofError;
use crate::lifecycle::{Engine, Issued};
use crate::store::Store;
use crate::Error;

/// Signs in and binds the session to `client`'s key; returns the bound session's issue.
pub async fn bind<S: Store>(e: &Engine<S>, subject: &str, client: &DeviceClient) -> Issued {
    let issued = sign_in(e, subject).await;
    let challenge = e
        .device_registration_challenge(&issued.session, None)
        .await
        .unwrap();
    e.register_device(&issued.token, &client.registration_proof(&challenge))
        .await
        .unwrap()
}

/// Refreshes `issued`'s bound session with `client`'s key.
pub async fn refresh<S: Store>(
    e: &Engine<S>,
    identifier: &str,
    client: &DeviceClient,
) -> Result<Issued, Error> {
    let challenge = e.device_refresh_challenge(identifier).await?;
    e.refresh_device(identifier, &client.refresh_proof(&challenge))
        .await
}

pub async fn device_binding_survives_rotation_and_refresh<S: Store>(store: Arc<S>) {
    let e = engine(store.clone(), suite_clock());
    for client in [DeviceClient::es256().unwrap(), DeviceClient::rs256()] {
        let bound = bind(&e, "hana", &client).await;
        let stored = store
            .load(&bound.session.record().id)
            .await
            .unwrap()
            .unwrap();
        let binding = stored.device.clone().expect("the binding is stored");
        assert_eq!(binding.algorithm, client.algorithm());
        let rotated = e.rotate(&bound.token).await.unwrap();
        let after = store.load(&stored.id).await.unwrap().unwrap();
        assert_eq!(
            after.device.as_ref().map(|d| &d.thumbprint),
            Some(&binding.thumbprint)
        );
        let identifier = rotated.token.selector_text();
        let refreshed = refresh(&e, &identifier, &client).await.unwrap();
        assert!(e
            .resolve(&refreshed.token)
            .await
            .unwrap()
            .unwrap()
            .is_current_token());
        let kept = store
            .load(&stored.id)
            .await
            .unwrap()
            .unwrap()
            .device
            .unwrap();
        assert_eq!(
            kept.public_key, binding.public_key,
            "the key survives the refresh"
        );
        assert!(kept.spent_until > binding.spent_until);
    }
}

pub async fn device_challenge_is_single_use_under_race<S: Store>(store: Arc<S>) {
    let e = engine(store.clone(), suite_clock());
    let client = DeviceClient::es256().unwrap();
    let bound = bind(&e, "ines", &client).await;
    let identifier = bound.token.selector_text();
    let challenge = e.device_refresh_challenge(&identifier).await.unwrap();
    let proof = client.refresh_proof(&challenge);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (e, id, p) = (e.clone(), identifier.clone(), proof.clone());
        tasks.push(tokio::spawn(async move { e.refresh_device(&id, &p).await }));
    }
    let mut winners = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => winners += 1,
            Err(Error::DeviceProof(ProofError::Challenge(_)) | Error::AlreadyRotated) => {}
            Err(other) => panic!("unexpected refresh error: {other}"),
        }
    }
    assert_eq!(winners, 1, "one challenge, one refresh");
    // And later, once the race is long over, it is still spent.
    assert!(matches!(
        e.refresh_device(&identifier, &proof).await,
        Err(Error::DeviceProof(ProofError::Challenge(_)))
    ));
}

pub async fn revocation_ends_device_refresh<S: Store>(store: Arc<S>) {
    let e = engine(store.clone(), suite_clock());
    let client = DeviceClient::es256().unwrap();
    let bound = bind(&e, "jon", &client).await;
    let identifier = bound.token.selector_text();
    let challenge = e.device_refresh_challenge(&identifier).await.unwrap();
    e.revoke_all("jon", None).await.unwrap();
    assert!(matches!(
        e.refresh_device(&identifier, &client.refresh_proof(&challenge))
            .await,
        Err(Error::NoSession)
    ));
    assert!(matches!(
        e.device_refresh_challenge(&identifier).await,
        Err(Error::NoSession)
    ));
    // Logout too.
    let bound = bind(&e, "jon", &client).await;
    let identifier = bound.token.selector_text();
    let challenge = e.device_refresh_challenge(&identifier).await.unwrap();
    e.logout(&bound.token).await.unwrap();
    assert!(matches!(
        e.refresh_device(&identifier, &client.refresh_proof(&challenge))
            .await,
        Err(Error::NoSession)
    ));
}
