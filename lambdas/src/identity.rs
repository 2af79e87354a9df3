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
//!
//! ## Acting for a vendor
//!
//! `PATCH /vendors/{id}/availability` and `POST /vendors/{id}/location` are the vendor's
//! own ([`Caller::may_act_for_vendor`]): a caller may make them for vendor `id` when
//!
//! - its token's [`VENDOR_CLAIM`] (`custom:vendorId`, a Cognito custom attribute; ID
//!   tokens carry it, access tokens only through a pre-token-generation trigger) is `id`;
//! - or its [`GROUPS_CLAIM`] (`cognito:groups`) names [`ADMIN_GROUP`] (`admins`): the
//!   HTTP API passes the list as `[a b]`, the REST API's Cognito authorizer as `a,b`;
//! - or it is an IAM principal (IAM authorization, a function URL with `AWS_IAM`): IAM
//!   decides per route who may call (`execute-api:Invoke` on
//!   `.../PATCH/vendors/*/availability`), so the function does not judge again;
//! - or, locally, its [`LOCAL_CALLER_HEADER`] comes without [`LOCAL_VENDOR_HEADER`] and
//!   [`LOCAL_GROUPS_HEADER`]: an operator (the load suite, the bench scripts). With either
//!   header, the local caller has exactly those claims.
//!
//! ALB callers carry no claims the function can trust (`x-amzn-oidc-data` is a token the
//! function would have to verify), so they may not.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use lambda_http::request::RequestContext;

use crate::error::ApiError;

/// The header `local` takes the caller from (ignored on Lambda).
pub const LOCAL_CALLER_HEADER: &str = "x-roadcall-caller";

/// The header `local` takes the caller's vendor from (its `custom:vendorId`; ignored on
/// Lambda).
pub const LOCAL_VENDOR_HEADER: &str = "x-roadcall-vendor-id";

/// The header `local` takes the caller's groups from, comma-separated (its
/// `cognito:groups`; ignored on Lambda).
pub const LOCAL_GROUPS_HEADER: &str = "x-roadcall-groups";

/// The claim naming the vendor a user acts for: a Cognito custom attribute.
pub const VENDOR_CLAIM: &str = "custom:vendorId";

/// The claim listing a Cognito user's groups.
pub const GROUPS_CLAIM: &str = "cognito:groups";

/// The group whose members may act for every vendor.
pub const ADMIN_GROUP: &str = "admins";

/// Longest caller id accepted (an IAM role session ARN fits).
pub const MAX_CALLER_CHARS: usize = 256;

/// The authenticated caller (a JWT `sub`, an IAM ARN, or the local header's value), with
/// what it may do for vendors, as a request extension and an extractor that answers 401
/// when there is none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caller {
    id: String,
    vendor: Option<String>,
    any_vendor: bool,
}

fn bounded(text: &str) -> Option<&str> {
    let text = text.trim();
    let ok = !text.is_empty()
        && text.chars().count() <= MAX_CALLER_CHARS
        && !text.chars().any(char::is_control);
    ok.then_some(text)
}

impl Caller {
    /// A caller id: 1 to [`MAX_CALLER_CHARS`] printable characters, no control characters.
    /// It acts for no vendor.
    pub fn new(id: &str) -> Option<Self> {
        Some(Self {
            id: bounded(id)?.to_owned(),
            vendor: None,
            any_vendor: false,
        })
    }

    /// The same caller, acting for `vendor` (its [`VENDOR_CLAIM`]; an empty or
    /// unprintable value is none).
    pub fn with_vendor(mut self, vendor: Option<&str>) -> Self {
        self.vendor = vendor.and_then(bounded).map(str::to_owned);
        self
    }

    /// The same caller, acting for every vendor (an admin, an IAM principal, the local
    /// operator).
    pub fn with_any_vendor(mut self) -> Self {
        self.any_vendor = true;
        self
    }

    /// The same caller, acting for every vendor when `groups` (a [`GROUPS_CLAIM`] value,
    /// `[a b]` or `a,b`) names [`ADMIN_GROUP`].
    pub fn with_groups(self, groups: Option<&str>) -> Self {
        if groups.is_some_and(|g| group_names(g).any(|name| name == ADMIN_GROUP)) {
            self.with_any_vendor()
        } else {
            self
        }
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The vendor this caller acts for, if one.
    pub fn vendor_id(&self) -> Option<&str> {
        self.vendor.as_deref()
    }

    /// Whether this caller may change vendor `vendor_id`'s availability and location.
    pub fn may_act_for_vendor(&self, vendor_id: &str) -> bool {
        self.any_vendor || self.vendor.as_deref() == Some(vendor_id)
    }
}

/// The names in a `cognito:groups` value as API Gateway passes it: `[a b]` (HTTP API),
/// `a,b` (REST API), or one name.
pub fn group_names(value: &str) -> impl Iterator<Item = &str> {
    let value = value.trim();
    let inner = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    inner
        .split([',', ' '])
        .map(str::trim)
        .filter(|name| !name.is_empty())
}

/// 403 for a caller that may not act for vendor `id` ([`Caller::may_act_for_vendor`]).
/// Not 404: vendors are public (`GET /vendors/{id}` answers any caller), so their
/// existence hides nothing.
pub fn forbidden_for_vendor(id: &str) -> ApiError {
    ApiError {
        status: StatusCode::FORBIDDEN,
        code: "forbidden",
        message: format!(
            "only vendor {id} itself (`{VENDOR_CLAIM}`) or a member of `{ADMIN_GROUP}` may change it"
        ),
        field: None,
        detail: None,
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
            let jwt = authorizer.jwt.as_ref().and_then(|jwt| {
                let claim = |name: &str| jwt.claims.get(name).map(String::as_str);
                Some(
                    Caller::new(claim("sub")?)?
                        .with_vendor(claim(VENDOR_CLAIM))
                        .with_groups(claim(GROUPS_CLAIM)),
                )
            });
            jwt.or_else(|| {
                let iam = authorizer.iam.as_ref()?;
                Some(Caller::new(iam.user_arn.as_deref()?)?.with_any_vendor())
            })
        }
        RequestContext::ApiGatewayV1(ctx) => {
            let claims = ctx.authorizer.fields.get("claims").and_then(|claims| {
                let claim = |name: &str| claims.get(name).and_then(serde_json::Value::as_str);
                // A Lambda authorizer's context may pass the groups as a JSON array.
                let groups = match claims.get(GROUPS_CLAIM) {
                    Some(serde_json::Value::Array(names)) => Some(
                        names
                            .iter()
                            .filter_map(serde_json::Value::as_str)
                            .collect::<Vec<_>>()
                            .join(","),
                    ),
                    other => other.and_then(serde_json::Value::as_str).map(str::to_owned),
                };
                Some(
                    Caller::new(claim("sub")?)?
                        .with_vendor(claim(VENDOR_CLAIM))
                        .with_groups(groups.as_deref()),
                )
            });
            // IAM authorization fills `identity.userArn`; without it API Gateway leaves it
            // null (the other identity fields describe the client, not a verified caller).
            claims
                .or_else(|| Some(Caller::new(ctx.identity.user_arn.as_deref()?)?.with_any_vendor()))
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
    fn a_caller_acts_for_its_own_vendor_or_every_vendor_as_an_admin() {
        let driver = Caller::new("driver-1").unwrap();
        assert!(!driver.may_act_for_vendor("v1"));
        let vendor = driver.clone().with_vendor(Some("v1"));
        assert_eq!(vendor.vendor_id(), Some("v1"));
        assert!(vendor.may_act_for_vendor("v1") && !vendor.may_act_for_vendor("v2"));
        assert!(driver.clone().with_vendor(Some("  ")).vendor_id().is_none());
        for admin in ["admins", "[vendors admins]", "vendors,admins", " [admins] "] {
            let caller = driver.clone().with_groups(Some(admin));
            assert!(caller.may_act_for_vendor("v2"), "{admin}");
        }
        for not_admin in [
            "[vendors]",
            "admin",
            "administrators",
            "vendors, drivers",
            "",
        ] {
            let caller = driver.clone().with_groups(Some(not_admin));
            assert!(!caller.may_act_for_vendor("v2"), "{not_admin}");
        }
        assert_eq!(
            group_names("[a b]").collect::<Vec<_>>(),
            group_names("a,b").collect::<Vec<_>>()
        );
    }

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
