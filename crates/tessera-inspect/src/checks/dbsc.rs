//! `device-bound-sessions`: whether the app offers W3C Device Bound Session Credentials at
//! sign-in, and, if it does, whether its refresh endpoint refuses a missing and a wrong proof
//! of the device key. Information: DBSC is a draft, and an app without it is not vulnerable
//! for that; an app that offers it but renews the cookie without the key gets none of its
//! protection.
//!
//! The check signs in afresh, registers a P-256 key of its own as a DBSC browser would
//! (`tessera_core::device::client`), then asks the refresh endpoint for a cookie three ways:
//! with no proof, with a proof from another key, and with the registered key.

use serde_json::Value;
use tessera_core::device::client::DeviceClient;
use tessera_core::device::wire;

use super::*;

/// `name="value"` of a structured-header parameter list.
fn param(header: &str, name: &str) -> Option<String> {
    let start = header.find(&format!(";{name}=\""))? + name.len() + 3;
    header.get(start..)?.split('"').next().map(str::to_owned)
}

fn sets_cookie(page: &crate::agent::Page, cookie: &str) -> bool {
    page.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.trim_start().starts_with(&format!("{cookie}=")) && !v.contains("Max-Age=0"))
}

/// A refresh request as a DBSC browser sends it: the session's identifier, and a proof when
/// answering a challenge.
async fn ask_refresh(
    user: &mut User,
    refresh: &str,
    identifier: &str,
    proof: Option<&str>,
) -> Result<crate::agent::Page, AgentError> {
    let mut headers = vec![(wire::SESSION_ID, identifier)];
    headers.extend(proof.map(|p| (wire::RESPONSE, p)));
    user.send_with(Method::Post, refresh, &[], false, &headers)
        .await
}

/// The challenge of a `Secure-Session-Challenge: "…";id="…"` answer.
fn challenge_in(page: &crate::agent::Page) -> Option<String> {
    page.headers
        .get(wire::CHALLENGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split('"').nth(1))
        .map(str::to_owned)
}

pub(crate) async fn device_bound_sessions(ctx: &Ctx<'_>) -> CheckOutcome {
    let mut user = match ctx.fresh_login().await {
        Ok(l) => l.user,
        Err(e) => return error(e),
    };
    let Some(offer) = ctx.agent.dbsc_offer() else {
        return verdict(
            Status::Skip,
            "no Secure-Session-Registration header at sign-in: the app does not offer device-bound sessions (W3C DBSC), so a copied session cookie works until the session ends",
        );
    };
    let (Some(path), Some(challenge)) = (param(&offer, "path"), param(&offer, "challenge")) else {
        return verdict(Status::Warn, "a Secure-Session-Registration header without a path and a challenge: no browser can register");
    };
    let (Some(device), Some(thief)) = (DeviceClient::es256(), DeviceClient::es256()) else {
        return verdict(Status::Error, "could not make a device key");
    };
    // As a browser does: an offered authorization value goes into the proof and a header.
    let authorization = param(&offer, wire::AUTHORIZATION);
    let proof = device.registration_proof_with(&challenge, authorization.as_deref());
    let mut headers = vec![(wire::RESPONSE, proof.as_str())];
    headers.extend(authorization.as_deref().map(|a| ("authorization", a)));
    let registered = match user
        .send_with(Method::Post, &path, &[], false, &headers)
        .await
    {
        Ok(p) => p,
        Err(e) => return error(e),
    };
    let instructions: Value = serde_json::from_str(&registered.body).unwrap_or(Value::Null);
    let (Some(identifier), Some(refresh)) = (
        instructions
            .get(wire::SESSION_IDENTIFIER)
            .and_then(Value::as_str),
        instructions.get(wire::REFRESH_URL).and_then(Value::as_str),
    ) else {
        return verdict(
            Status::Warn,
            format!(
                "offers DBSC at {path}, but a spec-following registration (ES256) got {} without session instructions",
                registered.status
            ),
        );
    };
    // The refresh as a thief with the identifier would send it: no cookie, no key.
    user.remove_cookie(&ctx.cookie);
    let bare = match ask_refresh(&mut user, refresh, identifier, None).await {
        Ok(p) => p,
        Err(e) => return error(e),
    };
    if sets_cookie(&bare, &ctx.cookie) {
        return verdict(Status::Fail, format!("offers DBSC, but its refresh endpoint {refresh} sets a new session cookie without any proof of the device key"));
    }
    let Some(challenge) = challenge_in(&bare) else {
        return verdict(
            Status::Warn,
            format!("offers DBSC, but its refresh endpoint {refresh} answered {} without a Secure-Session-Challenge", bare.status),
        );
    };
    let wrong = match ask_refresh(
        &mut user,
        refresh,
        identifier,
        Some(&thief.refresh_proof(&challenge)),
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return error(e),
    };
    if sets_cookie(&wrong, &ctx.cookie) {
        return verdict(Status::Fail, format!("offers DBSC, but its refresh endpoint {refresh} sets a new session cookie for a proof signed by another key"));
    }
    // The challenge the refusal carried (or the first one) for the honest proof.
    let challenge = challenge_in(&wrong).unwrap_or(challenge);
    let honest = match ask_refresh(
        &mut user,
        refresh,
        identifier,
        Some(&device.refresh_proof(&challenge)),
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return error(e),
    };
    if sets_cookie(&honest, &ctx.cookie) {
        verdict(Status::Pass, format!("offers DBSC (registration at {path}); its refresh endpoint {refresh} refused a missing proof ({}) and another key's proof ({}), and renewed the cookie for the registered key", bare.status, wrong.status))
    } else {
        verdict(Status::Warn, format!("offers DBSC and its refresh endpoint {refresh} refuses missing and wrong proofs, but did not renew the cookie for the registered key either ({}): a real browser may be signed out at each refresh", honest.status))
    }
}
