//! API errors: every failure becomes `{"error": {"code", "message", "field"?}}` with the
//! right status, so clients can react to the code and show the message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answered to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `invalid_field`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// The input field at fault, when there is one.
    pub field: Option<String>,
    /// What the operator needs and the client must not see (logged by the router's
    /// middleware, with the status and code, for every 5xx).
    pub detail: Option<String>,
}

/// What a failed response tells the router's middleware (a response extension): the
/// middleware logs and counts in one place, so error construction stays free of side
/// effects and of imports from `metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReport {
    /// Stable code of the error.
    pub code: &'static str,
    /// The operator's detail, if any.
    pub detail: Option<String>,
}

/// The `detail` of an error that means the database pool had no connection to give (the
/// middleware counts those as `PoolExhausted`).
pub const POOL_EXHAUSTED: &str = "the database pool had no free connection";

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// 400 for a field that is missing or out of range.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_field",
            message: message.into(),
            field: Some(field.into()),
            detail: None,
        }
    }

    /// 400 for a body that is not the JSON the route expects.
    pub fn bad_body(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_body",
            message: message.into(),
            field: None,
            detail: None,
        }
    }

    /// 404 for an unknown resource.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: format!("{what} `{id}` does not exist"),
            field: None,
            detail: None,
        }
    }

    /// 409 for a request that conflicts with the state (e.g. a reused idempotency key).
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            code,
            message: message.into(),
            field: None,
            detail: None,
        }
    }

    /// 503 when a dependency (the database) cannot serve the request now.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "service_unavailable",
            message: message.into(),
            field: None,
            detail: None,
        }
    }

    /// 500 for what should not happen; the detail goes to the log, not to the client.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error".to_owned(),
            field: None,
            detail: Some(detail.to_string()),
        }
    }

    /// Sets the status (for the few codes the constructors above do not cover).
    pub fn with_status(mut self, status: StatusCode, code: &'static str) -> Self {
        self.status = status;
        self.code = code;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        response.extensions_mut().insert(ErrorReport {
            code: self.code,
            detail: self.detail,
        });
        response
    }
}

impl From<aurora::AuroraError> for ApiError {
    fn from(error: aurora::AuroraError) -> Self {
        use aurora::AuroraError as E;
        match &error {
            E::ReadOnly(_) => ApiError::unavailable(
                "the database is read-only (failover in progress); retry shortly",
            ),
            E::PoolTimeout(_) => ApiError {
                detail: Some(POOL_EXHAUSTED.to_owned()),
                ..ApiError::unavailable(format!("the database is busy: {error}"))
            },
            E::Connect(_) | E::ShutDown | E::CommitOutcomeUnknown(_) => {
                ApiError::unavailable(format!("the database is unavailable: {error}"))
            }
            // Text the client sent that PostgreSQL cannot store (U+0000 in a string): the
            // request is at fault, not the server.
            _ if matches!(error.sqlstate(), Some("22021" | "22P05")) => ApiError {
                status: StatusCode::BAD_REQUEST,
                code: "invalid_text",
                message: "text fields cannot contain the NUL character (\\u0000)".to_owned(),
                field: None,
                detail: None,
            },
            _ if error.is_transient() => {
                ApiError::unavailable(format!("the database is unavailable: {error}"))
            }
            _ => ApiError::internal(error),
        }
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
