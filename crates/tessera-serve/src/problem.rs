//! Every error the service answers is an RFC 9457 problem document with a stable `code`, so a
//! client branches on the code, never on prose; none carries a token or an internal error.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::Serialize;
use tessera_core::Error as EngineError;

/// Where the problem types are documented (docs/api.md lists every code).
const TYPE_BASE: &str = "https://tessera.invalid/problems/";

/// One error answer: `application/problem+json`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Problem {
    /// A URI naming the problem type; ends in the `code`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short, fixed summary of the problem type.
    pub title: &'static str,
    /// The HTTP status, repeated for clients that lose it.
    pub status: u16,
    /// What went wrong with this request, for a human. Never a token or an internal error.
    pub detail: String,
    /// The stable machine-readable code (see docs/api.md).
    pub code: &'static str,
}

impl Problem {
    /// A problem with `status`, stable `code`, fixed `title` and a request-specific `detail`.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind: format!("{TYPE_BASE}{code}"),
            title,
            status: status.as_u16(),
            detail: detail.into(),
            code,
        }
    }

    /// 400: the request body or a parameter is not what the route takes.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "Invalid request",
            detail,
        )
    }

    /// 401: no valid API key. Says nothing about which part was wrong.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            "a valid API key is required: Authorization: Bearer tessera_key_...",
        )
    }

    /// 404: no such route.
    pub fn no_route() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "no-such-route",
            "No such route",
            "no route has this path; see /v1/openapi.json",
        )
    }

    /// 404: the token names no live session.
    pub fn no_session() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "no-session",
            "No session",
            "no live session has this token (unknown, expired, ended or revoked)",
        )
    }

    /// 503: the store did not answer; there is no session (fail closed).
    pub fn store_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store-unavailable",
            "Store unavailable",
            "the session store did not answer; no session can be trusted until it does",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // The metrics layer counts answers by this code without parsing the body.
        response.extensions_mut().insert(ProblemCode(self.code));
        response
    }
}

/// The code of a problem response, for the metrics layer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProblemCode(pub(crate) &'static str);

impl From<EngineError> for Problem {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Store(source) => {
                // The store's own words go to the operator's log, never to the caller.
                tracing::warn!(target: "tessera::serve", error = %source, "store error");
                Self::store_unavailable()
            }
            EngineError::NoSession => Self::no_session(),
            EngineError::Conflict { expected } => Self::new(
                StatusCode::CONFLICT,
                "version-conflict",
                "Version conflict",
                format!("the session changed since version {expected}; resolve it again and retry"),
            ),
            EngineError::AlreadyRotated => Self::new(
                StatusCode::CONFLICT,
                "already-rotated",
                "Already rotated",
                "this token was rotated by a concurrent request; use the token that request got",
            ),
            EngineError::SubjectRevoked => Self::new(
                StatusCode::CONFLICT,
                "subject-revoked",
                "Subject revoked",
                "the subject's sessions were revoked after the login ticket was taken; \
                 check the credential again with a new ticket",
            ),
            EngineError::InvalidSubject(why) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-subject",
                "Invalid subject",
                format!("invalid subject: {why}"),
            ),
            EngineError::InvalidTicket(why) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-ticket",
                "Invalid login ticket",
                format!("invalid login ticket: {why}"),
            ),
            EngineError::Data { key, .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-data",
                "Invalid session data",
                format!("session data for key {key:?} could not be converted"),
            ),
            other => {
                tracing::error!(target: "tessera::serve", error = %other, "engine error");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "engine-unavailable",
                    "Engine unavailable",
                    "the engine could not complete the request; it was not applied",
                )
            }
        }
    }
}
