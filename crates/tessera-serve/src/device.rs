//! Device-bound sessions (W3C DBSC) for apps in any language: the app forwards the browser's
//! DBSC requests to these calls and relays the answer (status, headers, JSON body) as it is.
//! The answers are the tower layer's own (`tessera_tower::device`), so an app behind `serve`
//! and an axum app behave the same; the app hosts the two endpoints at the paths it names here.

use axum::body::to_bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tessera_core::device::{wire, DeviceAuthorization};
use tessera_core::Store;
use tessera_tower::DeviceBindingConfig;

use crate::api::{no_store, token, ApiJson};
use crate::problem::Problem;
use crate::App;

/// Longest answer body relayed (session instructions are a few hundred bytes).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The paths the app serves DBSC's endpoints at (they go into the offer and the
/// instructions); the layer's defaults when absent.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DevicePaths {
    /// Where the app accepts the browser's registration `POST` (default
    /// `/.tessera/dbsc/registration`).
    #[serde(default)]
    #[schemars(length(max = 256))]
    pub registration_path: Option<String>,
    /// Where the app accepts the browser's refresh `POST` (default `/.tessera/dbsc/refresh`).
    #[serde(default)]
    #[schemars(length(max = 256))]
    pub refresh_path: Option<String>,
}

impl DevicePaths {
    fn config(&self) -> Result<DeviceBindingConfig, Problem> {
        let defaults = DeviceBindingConfig::new();
        DeviceBindingConfig::with_paths(
            self.registration_path
                .as_deref()
                .unwrap_or(defaults.registration_path()),
            self.refresh_path
                .as_deref()
                .unwrap_or(defaults.refresh_path()),
        )
        .map_err(|e| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-path",
                "Invalid path",
                e.to_string(),
            )
        })
    }
}

/// `POST /v1/device/offer`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferRequest {
    /// The signed-in session's token (43 characters of base64url).
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{43}$"))]
    pub token: String,
    /// A value of the app's own (for example a one-time code of its sign-in) that the
    /// browser must copy into its registration proof; a proof without it, or with another, is
    /// refused. 1 to 1024 printable ASCII characters without `"` or `\`.
    #[serde(default)]
    #[schemars(length(min = 1, max = 1024), regex(pattern = r#"^[ !#-\[\]-~]+$"#))]
    pub authorization: Option<String>,
    /// The app's DBSC paths.
    #[serde(flatten)]
    pub paths: DevicePaths,
}

/// A header for the app to add to its sign-in response.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OfferView {
    /// `Secure-Session-Registration`.
    pub header: String,
    /// Its value: the algorithms, the registration path and a fresh challenge.
    pub value: String,
}

/// `POST /v1/device/registration`: what the browser sent to the app's registration path.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRequest {
    /// The session cookie's token from that request.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{43}$"))]
    pub token: String,
    /// Its `Secure-Session-Response` header, as sent.
    #[schemars(length(max = 8192))]
    pub proof: String,
    /// The app's DBSC paths.
    #[serde(flatten)]
    pub paths: DevicePaths,
}

/// `POST /v1/device/refresh`: what the browser sent to the app's refresh path.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// Its `Sec-Secure-Session-Id` header, as sent.
    #[schemars(length(max = 8192))]
    pub session_identifier: String,
    /// Its `Secure-Session-Response` header, if it sent one.
    #[serde(default)]
    #[schemars(length(max = 8192))]
    pub proof: Option<String>,
    /// The app's DBSC paths.
    #[serde(flatten)]
    pub paths: DevicePaths,
}

/// The answer for the app to give the browser exactly: status, headers (a `Set-Cookie` with the
/// fresh bound cookie, or a `Secure-Session-Challenge`), and body.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeviceAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The headers, in order.
    pub headers: Vec<AnswerHeader>,
    /// The JSON body (session instructions, or `{"continue": false}`); `null` for a text one.
    pub body: Value,
}

/// One header of a [`DeviceAnswer`].
#[derive(Debug, Serialize, JsonSchema)]
pub struct AnswerHeader {
    /// Its name, lower case.
    pub name: String,
    /// Its value.
    pub value: String,
}

async fn relay(response: Response) -> Result<Response, Problem> {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter(|(name, _)| *name != axum::http::header::CONTENT_LENGTH)
        .filter_map(|(n, v)| {
            Some(AnswerHeader {
                name: n.as_str().to_owned(),
                value: v.to_str().ok()?.to_owned(),
            })
        })
        .collect();
    let bytes = to_bytes(response.into_body(), MAX_ANSWER_BYTES)
        .await
        .map_err(|_| unavailable())?;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(no_store(
        StatusCode::OK,
        &DeviceAnswer {
            status,
            headers,
            body,
        },
    ))
}

fn unavailable() -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "engine-unavailable",
        "Engine unavailable",
        "the engine could not complete the request; it was not applied",
    )
}

fn with_header(name: &'static str, value: &str) -> Result<HeaderMap, Problem> {
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(value)
        .map_err(|_| Problem::bad_request("a DBSC header value is not visible ASCII"))?;
    headers.insert(HeaderName::from_static(name), value);
    Ok(headers)
}

pub(crate) async fn offer<S: Store>(
    State(app): State<App<S>>,
    ApiJson(req): ApiJson<OfferRequest>,
) -> Result<Response, Problem> {
    let config = req.paths.config()?;
    let authorization = req
        .authorization
        .as_deref()
        .map(DeviceAuthorization::new)
        .transpose()
        .map_err(|e| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-authorization",
                "Invalid authorization value",
                e.to_string(),
            )
        })?;
    let session = app.live(&token(&req.token)?).await?;
    let challenge = app
        .engine
        .device_registration_challenge(&session, authorization.as_ref())
        .await?;
    let value = config
        .offer(&challenge, authorization.as_ref())
        .ok_or_else(unavailable)?;
    Ok(no_store(
        StatusCode::OK,
        &OfferView {
            header: wire::REGISTRATION.to_owned(),
            value: value.to_str().map_err(|_| unavailable())?.to_owned(),
        },
    ))
}

pub(crate) async fn registration<S: Store>(
    State(app): State<App<S>>,
    ApiJson(req): ApiJson<RegistrationRequest>,
) -> Result<Response, Problem> {
    let config = req.paths.config()?;
    let t = token(&req.token)?;
    app.live(&t).await?;
    let headers = with_header("secure-session-response", &req.proof)?;
    relay(
        tessera_tower::device::registration_answer(
            &app.engine,
            &config,
            &app.cookie,
            Some(t),
            &headers,
        )
        .await,
    )
    .await
}

pub(crate) async fn refresh<S: Store>(
    State(app): State<App<S>>,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> Result<Response, Problem> {
    let config = req.paths.config()?;
    let mut headers = with_header("sec-secure-session-id", &req.session_identifier)?;
    if let Some(proof) = &req.proof {
        headers.extend(with_header("secure-session-response", proof)?);
    }
    relay(tessera_tower::device::refresh_answer(&app.engine, &config, &app.cookie, &headers).await)
        .await
}
