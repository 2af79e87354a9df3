//! IAM authentication tokens: a SigV4-presigned `connect` request, signed by the AWS
//! SDK's own signer (`aws-sigv4`) so that this crate carries no signing code of its own.
//! RDS's shape is [`rds_auth_token`]; [`presigned_token`] is the general form that other
//! services' tokens (ElastiCache's `Action=connect&User=...`) are built from.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::PasswordError;

/// How long a token is valid; RDS accepts at most 15 minutes.
const TOKEN_LIFETIME: Duration = Duration::from_secs(900);

/// The signing service name of RDS IAM database authentication.
const SERVICE: &str = "rds-db";

/// What SigV4 leaves unencoded in a query: RFC 3986's unreserved characters.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The RDS IAM authentication token for `user` at `host:port` in `region`: a presigned
/// `GET /?Action=connect&DBUser=...` without the scheme, valid for 15 minutes from `time`.
///
/// The parameters come in sorted order with `X-Amz-Signature` last, as botocore's
/// `generate_db_auth_token` would list them apart from where it puts the session token.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use aurora::auth::{Credentials, rds_auth_token};
///
/// let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "example");
/// let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_164_645);
/// let token = rds_auth_token("db.example", 5432, "app", "us-east-1", &credentials, time)?;
/// assert!(token.starts_with("db.example:5432/?Action=connect&DBUser=app&X-Amz-Algorithm="));
/// # Ok::<(), aurora::auth::PasswordError>(())
/// ```
pub fn rds_auth_token(
    host: &str,
    port: u16,
    user: &str,
    region: &str,
    credentials: &Credentials,
    time: SystemTime,
) -> Result<String, PasswordError> {
    presigned_token(
        &format!("{host}:{port}"),
        &[("Action", "connect"), ("DBUser", user)],
        SERVICE,
        region,
        TOKEN_LIFETIME,
        credentials,
        time,
    )
}

/// A presigned `GET {authority}/?{params}` for `service` in `region`, valid for
/// `expires_in` from `time`, without the scheme: the shape of the IAM authentication
/// tokens that RDS and ElastiCache accept as a password (the scheme is not signed, so
/// `http://` and `https://` presign alike).
///
/// `params` are the request's own, not yet encoded; the result lists them with the
/// `X-Amz-*` parameters, sorted, then `X-Amz-Signature`. An `authority` that is no valid
/// URI authority (a space, say) is [`PasswordError::Signing`].
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use aurora::auth::{Credentials, presigned_token};
///
/// let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "example");
/// let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_164_645);
/// let token = presigned_token(
///     "my-group",
///     &[("Action", "connect"), ("User", "app")],
///     "elasticache",
///     "us-east-1",
///     Duration::from_secs(900),
///     &credentials,
///     time,
/// )?;
/// assert!(token.starts_with("my-group/?Action=connect&User=app&X-Amz-Algorithm="));
/// # Ok::<(), aurora::auth::PasswordError>(())
/// ```
pub fn presigned_token(
    authority: &str,
    params: &[(&str, &str)],
    service: &str,
    region: &str,
    expires_in: Duration,
    credentials: &Credentials,
    time: SystemTime,
) -> Result<String, PasswordError> {
    let query = Presign {
        authority,
        path: "/",
        params,
        region,
        service,
        expires_in,
        body: SignableBody::empty(),
    }
    .query(credentials, time)?;
    Ok(format!("{authority}/?{query}"))
}

/// A `GET https://{authority}{path}?{params}` request to presign.
struct Presign<'a> {
    authority: &'a str,
    path: &'a str,
    /// The request's own parameters (not yet encoded).
    params: &'a [(&'a str, &'a str)],
    region: &'a str,
    service: &'a str,
    expires_in: Duration,
    body: SignableBody<'a>,
}

impl Presign<'_> {
    /// The presigned query string: the request's own parameters and the `X-Amz-*` ones,
    /// sorted, then `X-Amz-Signature`.
    fn query(self, credentials: &Credentials, time: SystemTime) -> Result<String, PasswordError> {
        let Presign {
            authority,
            path,
            params,
            region,
            service,
            expires_in,
            body,
        } = self;
        let encode = |value: &str| utf8_percent_encode(value, QUERY_VALUE).to_string();
        let request_query: Vec<(String, String)> = params
            .iter()
            .map(|(name, value)| (encode(name), encode(value)))
            .collect();
        let url = format!("https://{authority}{path}?{}", join_query(&request_query));

        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires_in);
        let identity = credentials.clone().into();
        let signing_params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service)
            .time(time)
            .settings(settings)
            .build()
            .map_err(|e| PasswordError::Signing(Box::new(e)))?
            .into();
        let request =
            SignableRequest::new("GET", Cow::Borrowed(url.as_str()), std::iter::empty(), body)
                .map_err(|e| PasswordError::Signing(Box::new(e)))?;
        let (instructions, signature) = sign(request, &signing_params)
            .map_err(|e| PasswordError::Signing(Box::new(e)))?
            .into_parts();

        let mut query = request_query;
        query.extend(
            instructions
                .params()
                .iter()
                .filter(|(name, _)| *name != "X-Amz-Signature")
                .map(|(name, value)| ((*name).to_owned(), encode(value))),
        );
        query.sort();
        query.push(("X-Amz-Signature".to_owned(), signature));
        Ok(join_query(&query))
    }
}

/// `name=value&...` of pairs that are already encoded.
fn join_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(unix_secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(unix_secs)
    }

    fn example_credentials(secret: &str, session_token: Option<&str>) -> Credentials {
        Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            secret,
            session_token.map(str::to_owned),
            None,
            "test",
        )
    }

    #[test]
    fn signing_key_matches_the_spec_example() {
        // "Deriving the signing key" example of the SigV4 documentation.
        let key = v4::generate_signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            at(1_329_264_000), // 2012-02-15
            "us-east-1",
            "iam",
        );
        let hex: String = key.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn presigned_url_matches_the_s3_spec_example() {
        // "Authenticating Requests: Using Query Parameters" example (S3 GET /test.txt).
        let query = Presign {
            authority: "examplebucket.s3.amazonaws.com",
            path: "/test.txt",
            params: &[],
            region: "us-east-1",
            service: "s3",
            expires_in: Duration::from_secs(86_400),
            body: SignableBody::UnsignedPayload,
        }
        .query(
            &example_credentials("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", None),
            at(1_369_353_600),
        )
        .expect("signed");
        assert_eq!(
            query,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn rds_token_has_the_connect_shape() {
        let credentials =
            example_credentials("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", Some("tok/en+="));
        let token = rds_auth_token(
            "db.cluster-abc.eu-west-1.rds.amazonaws.com",
            5432,
            "app_user",
            "eu-west-1",
            &credentials,
            at(1_369_353_600),
        )
        .expect("signed");
        assert!(
            token.starts_with(
                "db.cluster-abc.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=app_user\
                 &X-Amz-Algorithm=AWS4-HMAC-SHA256\
                 &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Feu-west-1%2Frds-db%2Faws4_request\
                 &X-Amz-Date=20130524T000000Z&X-Amz-Expires=900\
                 &X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-SignedHeaders=host&X-Amz-Signature="
            ),
            "{token}"
        );
        let signature = token.rsplit('=').next().unwrap_or_default();
        assert_eq!(signature.len(), 64);
        assert!(!token.contains("https://"));
    }

    #[test]
    fn rds_token_matches_botocore() {
        // Expected value produced by botocore 1.44.8 (`generate_db_auth_token` with the
        // clock fixed at 2024-01-02T03:04:05Z); botocore lists X-Amz-Security-Token after
        // X-Amz-SignedHeaders, so compare parameters as a set and the signature exactly.
        let expected = "db.cluster-abc.us-east-1.rds.amazonaws.com:5432/?Action=connect\
            &DBUser=app_user&X-Amz-Algorithm=AWS4-HMAC-SHA256\
            &X-Amz-Credential=AKIDEXAMPLE%2F20240102%2Fus-east-1%2Frds-db%2Faws4_request\
            &X-Amz-Date=20240102T030405Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host\
            &X-Amz-Security-Token=SESSIONTOKEN%2F%2B%3D\
            &X-Amz-Signature=b23a7e867707c99ca406d5b1100b37c41fcfa5a43b4bec69ce0296e9bf294a7d";
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("SESSIONTOKEN/+=".to_owned()),
            None,
            "test",
        );
        let token = rds_auth_token(
            "db.cluster-abc.us-east-1.rds.amazonaws.com",
            5432,
            "app_user",
            "us-east-1",
            &credentials,
            at(1_704_164_645),
        )
        .expect("signed");
        let split = |t: &str| {
            let (prefix, query) = t.split_once("/?").unwrap_or((t, ""));
            let mut params: Vec<String> = query.split('&').map(str::to_owned).collect();
            params.sort();
            (prefix.to_owned(), params)
        };
        assert_eq!(split(&token), split(expected));
    }

    #[test]
    fn user_names_are_encoded_and_bad_hosts_are_errors() {
        let credentials = example_credentials("secret", None);
        let token =
            rds_auth_token("db", 5432, "a b/c", "us-east-1", &credentials, at(0)).expect("signed");
        assert!(token.contains("&DBUser=a%20b%2Fc&"), "{token}");
        let error = rds_auth_token("bad host", 5432, "app", "us-east-1", &credentials, at(0))
            .expect_err("a host with a space is no URI authority");
        assert!(matches!(error, PasswordError::Signing(_)), "{error:?}");
    }
}
