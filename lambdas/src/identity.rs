//! Who is calling: the caller's identity, read from what the host can trust.
//!
//! On Lambda the identity comes from the request context that API Gateway (or a function
//! URL) fills in after its authorizer ran, never from a header a client could set:
//!
//! - HTTP API JWT authorizer: `requestContext.authorizer.jwt.claims.sub`;
//! - REST API Cognito user pool authorizer: `requestContext.authorizer.claims.sub`;
//! - IAM authorization (HTTP API, REST API, function URL with `AWS_IAM`): the caller's
//!   `userArn`;
//! - ALB: `x-amzn-oidc-identity`, only when `ALB_OIDC_IDENTITY=true` says that every
//!   listener rule authenticates first (the load balancer then sets the header itself).
//!
//! Locally (`local`, [`crate::router::app`]) it comes from the [`LOCAL_CALLER_HEADER`]
//! header, which no Lambda router reads. Every route but `/health` answers 401 without an
//! identity ([`crate::router::finish`]).

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use lambda_http::request::RequestContext;

use crate::error::ApiError;

/// The header `local` takes the caller from (ignored on Lambda).
pub const LOCAL_CALLER_HEADER: &str = "x-roadcall-caller";

/// Longest caller id accepted (an IAM role session ARN fits).
pub const MAX_CALLER_CHARS: usize = 256;

/// The authenticated caller (a JWT `sub`, an IAM ARN, or the local header's value), as a
/// request extension and an extractor that answers 401 when there is none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caller(String);

impl Caller {
    /// A caller id: 1 to [`MAX_CALLER_CHARS`] printable characters, no control characters.
    pub fn new(id: &str) -> Option<Self> {
        let id = id.trim();
        let ok = !id.is_empty()
            && id.chars().count() <= MAX_CALLER_CHARS
            && !id.chars().any(char::is_control);
        ok.then(|| Self(id.to_owned()))
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.0
    }
}

/// 401 for a request without an identity.
pub fn unauthenticated() -> ApiError {
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        code: "unauthenticated",
        message: format!(
            "this route needs an authenticated caller (an API Gateway authorizer on Lambda; \
             the `{LOCAL_CALLER_HEADER}` header on the local server)"
        ),
        field: None,
        detail: None,
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(unauthenticated)
    }
}

/// The caller in a Lambda event's request context (`None` without an authorizer's
/// verdict). `headers` are read only for ALB with `trust_alb_oidc`.
pub fn from_context(
    context: &RequestContext,
    headers: &axum::http::HeaderMap,
    trust_alb_oidc: bool,
) -> Option<Caller> {
    match context {
        RequestContext::ApiGatewayV2(ctx) => {
            let authorizer = ctx.authorizer.as_ref()?;
            let jwt = authorizer
                .jwt
                .as_ref()
                .and_then(|jwt| jwt.claims.get("sub"))
                .and_then(|sub| Caller::new(sub));
            jwt.or_else(|| {
                let iam = authorizer.iam.as_ref()?;
                Caller::new(iam.user_arn.as_deref()?)
            })
        }
        RequestContext::ApiGatewayV1(ctx) => {
            let claims = ctx
                .authorizer
                .fields
                .get("claims")
                .and_then(|claims| claims.get("sub"))
                .and_then(|sub| sub.as_str())
                .and_then(Caller::new);
            // IAM authorization fills `identity.userArn`; without it API Gateway leaves it
            // null (the other identity fields describe the client, not a verified caller).
            claims.or_else(|| Caller::new(ctx.identity.user_arn.as_deref()?))
        }
        RequestContext::Alb(_) if trust_alb_oidc => headers
            .get("x-amzn-oidc-identity")
            .and_then(|v| v.to_str().ok())
            .and_then(Caller::new),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_ids_are_bounded_and_printable() {
        assert_eq!(Caller::new(" driver-1 ").unwrap().id(), "driver-1");
        assert!(Caller::new("").is_none());
        assert!(Caller::new("   ").is_none());
        assert!(Caller::new("a\nb").is_none());
        assert!(Caller::new(&"x".repeat(MAX_CALLER_CHARS)).is_some());
        assert!(Caller::new(&"x".repeat(MAX_CALLER_CHARS + 1)).is_none());
    }
}
