//! The route table: each route's method, path, scope, summary and body types in one place.
//! The router is built from it (the scope here is the scope enforced) and so is the OpenAPI
//! document, so no route can exist without being documented, or be documented with another
//! scope than the one it checks.

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post, MethodRouter};
use axum::Router;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};
use tessera_core::Store;

use crate::api::{self, *};
use crate::api_keys::Scope;
use crate::problem::{Problem, ProblemCode};
use crate::{device, forward_auth, App};

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// What the OpenAPI document says of one route.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    /// `get`, `post` or `delete` (forward-auth answers any method; documented as `get`).
    pub method: &'static str,
    /// The axum path, which is also the OpenAPI path (`{param}`).
    pub path: &'static str,
    /// One line.
    pub summary: &'static str,
    /// The API key scope it needs; `None` for the open routes.
    pub scope: Option<Scope>,
    request: Option<SchemaFn>,
    /// The success status.
    pub status: u16,
    response: Option<SchemaFn>,
    /// Problem statuses beyond the ones every keyed or bodied route has.
    errors: &'static [u16],
}

struct Route<S> {
    doc: RouteDoc,
    handler: MethodRouter<App<S>>,
}

macro_rules! route {
    ($method:ident $path:literal, $scope:expr, $summary:literal, $handler:expr,
     req: $req:expr, $status:literal => $resp:expr, errors: $errors:expr) => {
        Route {
            doc: RouteDoc {
                method: stringify!($method),
                path: $path,
                summary: $summary,
                scope: $scope,
                request: $req,
                status: $status,
                response: $resp,
                errors: $errors,
            },
            handler: $method($handler),
        }
    };
}

fn table<S: Store>() -> Vec<Route<S>> {
    use Scope::{Admin, Read, Write};
    vec![
        route!(post "/v1/login-tickets", Some(Write),
            "Take a login ticket for a subject, before checking its credential",
            api::create_ticket::<S>,
            req: Some(schema::<TicketRequest>), 201 => Some(schema::<TicketView>), errors: &[503]),
        route!(post "/v1/sessions", Some(Write),
            "Sign the ticket's subject in: a fresh token and its Set-Cookie value",
            api::create_session::<S>,
            req: Some(schema::<CreateRequest>), 201 => Some(schema::<IssuedView>), errors: &[409, 503]),
        route!(post "/v1/sessions/resolve", Some(Read),
            "Resolve a token to its live session (renews the idle deadline, throttled)",
            api::resolve::<S>,
            req: Some(schema::<TokenRequest>), 200 => Some(schema::<SessionView>), errors: &[404, 503]),
        route!(post "/v1/sessions/rotate", Some(Write),
            "Rotate the token (the old one works only for the grace window)",
            api::rotate::<S>,
            req: Some(schema::<TokenRequest>), 200 => Some(schema::<IssuedView>), errors: &[404, 409, 503]),
        route!(post "/v1/sessions/elevate", Some(Write),
            "Step the session up to a level for a while, rotating the token",
            api::elevate::<S>,
            req: Some(schema::<ElevateRequest>), 200 => Some(schema::<IssuedView>), errors: &[404, 409, 503]),
        route!(post "/v1/sessions/logout", Some(Write),
            "End the session server-side; returns the Set-Cookie value that clears the cookie",
            api::logout::<S>,
            req: Some(schema::<TokenRequest>), 200 => Some(schema::<LogoutView>), errors: &[503]),
        route!(post "/v1/sessions/data", Some(Write),
            "Replace the session's data if its version still matches (409 otherwise)",
            api::update_data::<S>,
            req: Some(schema::<DataRequest>), 200 => Some(schema::<SessionView>), errors: &[404, 409, 503]),
        route!(post "/v1/device/offer", Some(Write),
            "Device-bound sessions (W3C DBSC): the Secure-Session-Registration header for a sign-in's response",
            device::offer::<S>,
            req: Some(schema::<device::OfferRequest>), 200 => Some(schema::<device::OfferView>), errors: &[404, 503]),
        route!(post "/v1/device/registration", Some(Write),
            "DBSC: the answer to relay to a browser's registration request (binds the session, rotates the token)",
            device::registration::<S>,
            req: Some(schema::<device::RegistrationRequest>), 200 => Some(schema::<device::DeviceAnswer>), errors: &[404, 503]),
        route!(post "/v1/device/refresh", Some(Write),
            "DBSC: the answer to relay to a browser's refresh request (a challenge, a fresh bound cookie, or stop)",
            device::refresh::<S>,
            req: Some(schema::<device::RefreshRequest>), 200 => Some(schema::<device::DeviceAnswer>), errors: &[503]),
        route!(get "/v1/subjects/{subject}/sessions", Some(Read),
            "List a subject's live sessions, newest first",
            api::list_sessions::<S>,
            req: None, 200 => Some(schema::<SessionList>), errors: &[400, 422, 503]),
        route!(delete "/v1/subjects/{subject}/sessions/{id}", Some(Write),
            "Revoke one session of a subject",
            api::revoke_session::<S>,
            req: None, 204 => None, errors: &[400, 404, 422, 503]),
        route!(post "/v1/subjects/{subject}/revoke-all", Some(Write),
            "Revoke every session of a subject (optionally all but one); refuses logins whose ticket is older",
            api::revoke_all::<S>,
            req: Some(schema::<RevokeAllRequest>), 200 => Some(schema::<Revoked>), errors: &[404, 503]),
        route!(get "/v1/api-keys", Some(Admin),
            "List the live API keys (never their secrets)",
            api::list_keys::<S>,
            req: None, 200 => Some(schema::<KeyList>), errors: &[503]),
        route!(post "/v1/api-keys", Some(Admin),
            "Make an API key; its secret is in this answer only",
            api::create_key::<S>,
            req: Some(schema::<KeyRequest>), 201 => Some(schema::<NewKeyView>), errors: &[503]),
        route!(delete "/v1/api-keys/{id}", Some(Admin),
            "Revoke an API key",
            api::revoke_key::<S>,
            req: None, 204 => None, errors: &[400, 404, 503]),
        Route {
            doc: RouteDoc {
                method: "get",
                path: "/v1/forward-auth",
                summary: "Forward-auth for nginx auth_request, Traefik forwardAuth, Caddy forward_auth (any method)",
                scope: None,
                request: None,
                status: 200,
                response: None,
                errors: &[401, 403, 503],
            },
            handler: any(forward_auth::check::<S>),
        },
        route!(get "/v1/openapi.json", None, "This document", openapi::<S>,
            req: None, 200 => None, errors: &[]),
        route!(get "/healthz", None, "The process is up", api::healthz,
            req: None, 200 => Some(schema::<Health>), errors: &[]),
        route!(get "/readyz", None, "The store answers", api::readyz::<S>,
            req: None, 200 => Some(schema::<Health>), errors: &[503]),
        route!(get "/metrics", None, "Prometheus metrics (text exposition)", api::metrics::<S>,
            req: None, 200 => None, errors: &[]),
    ]
}

/// Every route's documentation, in table order.
pub fn docs() -> Vec<RouteDoc> {
    table::<tessera_core::MemoryStore>()
        .into_iter()
        .map(|r| r.doc)
        .collect()
}

/// The router: every route of the table with its scope enforced, JSON problems for unknown
/// routes and methods, the body limit, and error counting.
pub(crate) fn router<S: Store>(app: App<S>) -> Router {
    let mut router = Router::new();
    for route in table::<S>() {
        let handler = match route.doc.scope {
            Some(scope) => route.handler.route_layer(from_fn_with_state(
                Guard {
                    app: app.clone(),
                    scope,
                },
                require_key::<S>,
            )),
            None => route.handler,
        };
        router = router.route(route.doc.path, handler);
    }
    router
        .with_state(app.clone())
        .merge(crate::console::router(app.clone(), app.console.clone()))
        .fallback(|| async { Problem::no_route() })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this path does not take this method; see /v1/openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(app.max_body_bytes))
        .layer(from_fn_with_state(app, count_errors::<S>))
}

struct Guard<S> {
    app: App<S>,
    scope: Scope,
}

impl<S> Clone for Guard<S> {
    fn clone(&self) -> Self {
        Self {
            app: self.app.clone(),
            scope: self.scope,
        }
    }
}

async fn require_key<S: Store>(
    State(guard): State<Guard<S>>,
    req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // The scheme is case-insensitive (RFC 9110 §11.1).
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, secret)| secret.trim());
    let verdict = match presented {
        Some(secret) => guard.app.keys.verify(secret).await,
        None => Ok(None),
    };
    match verdict {
        Ok(Some(key)) if key.allows(guard.scope) => next.run(req).await,
        Ok(Some(key)) => {
            tracing::warn!(target: "tessera::serve", key = %key.name, path = %req.uri().path(),
                needs = guard.scope.as_str(), "API request refused: the key lacks the scope");
            Problem::new(
                StatusCode::FORBIDDEN,
                "insufficient-scope",
                "Insufficient scope",
                format!(
                    "this route needs a key with the {} scope",
                    guard.scope.as_str()
                ),
            )
            .into_response()
        }
        Ok(None) => {
            // Which part was wrong (missing, malformed, unknown, revoked, expired) is not said,
            // and the key itself is never logged.
            tracing::warn!(target: "tessera::serve", path = %req.uri().path(),
                presented = presented.is_some(), "API request refused: no valid API key");
            let mut r = Problem::unauthorized().into_response();
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tessera\""),
            );
            r
        }
        Err(e) => Problem::from(e).into_response(),
    }
}

async fn count_errors<S: Store>(State(app): State<App<S>>, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    if let Some(ProblemCode(code)) = response.extensions().get::<ProblemCode>() {
        app.metrics.api_error(code);
    }
    response
}

async fn openapi<S: Store>(State(app): State<App<S>>) -> Response {
    let mut r = axum::Json(app.openapi.as_ref().clone()).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn problem_response(g: &mut SchemaGenerator, status: u16) -> Value {
    json!({
        "description": StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Problem"),
        "content": {"application/problem+json": {"schema": schema::<Problem>(g)}},
    })
}

/// The OpenAPI 3.1 document, built from the route table and the body types' schemas.
pub fn openapi_document() -> Value {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut g = settings.into_generator();
    let mut paths = Map::new();
    for d in docs() {
        let mut op = Map::new();
        op.insert("summary".into(), json!(d.summary));
        op.insert(
            "operationId".into(),
            json!(format!(
                "{}{}",
                d.method,
                d.path.replace(['/', '{', '}', '.', '-'], "_")
            )),
        );
        let params: Vec<Value> = d
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                json!({"name": name, "in": "path", "required": true,
                       "schema": {"type": "string", "minLength": 1, "maxLength": 256}})
            })
            .collect();
        if !params.is_empty() {
            op.insert("parameters".into(), json!(params));
        }
        let mut responses = Map::new();
        let ok = match d.response {
            Some(f) => json!({"description": "Success",
                              "content": {"application/json": {"schema": f(&mut g)}}}),
            None if d.path == "/metrics" => json!({"description": "Success",
                "content": {"text/plain": {"schema": {"type": "string"}}}}),
            None if d.path == "/v1/openapi.json" => json!({"description": "Success",
                "content": {"application/json": {"schema": {"type": "object"}}}}),
            None => json!({"description": "Success"}),
        };
        responses.insert(d.status.to_string(), ok);
        let mut errors: Vec<u16> = d.errors.to_vec();
        if d.scope.is_some() {
            errors.extend([401, 403]);
            op.insert("security".into(), json!([{"apiKey": []}]));
            op.insert("x-tessera-scope".into(), json!(d.scope.map(Scope::as_str)));
        }
        if let Some(f) = d.request {
            errors.extend([400, 413, 415, 422]);
            op.insert(
                "requestBody".into(),
                json!({"required": true,
                       "content": {"application/json": {"schema": f(&mut g)}}}),
            );
        }
        errors.sort_unstable();
        errors.dedup();
        for status in errors {
            responses.insert(status.to_string(), problem_response(&mut g, status));
        }
        op.insert("responses".into(), Value::Object(responses));
        let item = paths
            .entry(d.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(methods) = item.as_object_mut() {
            methods.insert(d.method.to_owned(), Value::Object(op));
        }
    }
    let schemas = g.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tessera session service",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Sessions for back ends in any language. Tokens travel only in \
                request bodies; every error is an RFC 9457 problem document with a stable code.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                "description": "An API key: tessera_key_ followed by 43 characters."}},
        },
    })
}
