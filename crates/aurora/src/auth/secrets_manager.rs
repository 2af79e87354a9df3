//! The built-in [`SecretFetcher`] for AWS Secrets Manager: `GetSecretValue` through the
//! AWS SDK's client (`aws-sdk-secretsmanager`), which does the signing, HTTPS, retries of
//! throttling and connection errors, and the parsing of answers and service errors.

use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_secretsmanager::config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Region};
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_sdk_secretsmanager::{Client, Config};

use super::{BoxFuture, EnvCredentials, PasswordError, SecretFetcher, SecretFormatError};

/// Overall time limit of one fetch, retries included, unless set otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The variables the AWS SDKs read for a Secrets Manager endpoint, most specific first
/// (useful for a local emulator).
const ENDPOINT_VARIABLES: [&str; 2] = ["AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"];

/// Fetches a secret's `SecretString` with `secretsmanager:GetSecretValue`.
#[derive(Debug, Clone)]
pub struct SecretsManagerFetcher {
    client: Client,
    secret_id: String,
}

impl SecretsManagerFetcher {
    /// A fetcher for `secret_id` (ARN or name) in `region`, signing with `credentials`,
    /// calling `https://secretsmanager.<region>.amazonaws.com` (5 s overall timeout).
    pub fn new(
        secret_id: impl Into<String>,
        region: impl Into<String>,
        credentials: SharedCredentialsProvider,
    ) -> Self {
        let config = Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.into()))
            .credentials_provider(credentials)
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(DEFAULT_TIMEOUT)
                    .build(),
            )
            .build();
        Self::from_client(Client::from_conf(config), secret_id)
    }

    /// A fetcher using a client the caller built (for example from `aws-config`'s
    /// `load_defaults`, with its credentials chain, region and endpoint settings).
    pub fn from_client(client: Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }

    /// Like [`SecretsManagerFetcher::new`] with credentials from the environment
    /// ([`EnvCredentials`]) and the endpoint from `AWS_ENDPOINT_URL_SECRETS_MANAGER` or
    /// `AWS_ENDPOINT_URL` when set (the AWS SDKs' variable names).
    pub fn from_env(
        secret_id: impl Into<String>,
        region: impl Into<String>,
    ) -> Result<Self, PasswordError> {
        Self::with_env_endpoint(
            secret_id,
            region,
            SharedCredentialsProvider::new(EnvCredentials),
        )
    }

    /// [`SecretsManagerFetcher::new`], then the endpoint from the environment when set.
    pub(crate) fn with_env_endpoint(
        secret_id: impl Into<String>,
        region: impl Into<String>,
        credentials: SharedCredentialsProvider,
    ) -> Result<Self, PasswordError> {
        let fetcher = Self::new(secret_id, region, credentials);
        let endpoint = ENDPOINT_VARIABLES
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
        match endpoint {
            Some(url) => fetcher.with_endpoint(&url),
            None => Ok(fetcher),
        }
    }

    /// Sends requests to `url` instead (`https://...`, or `http://` to a loopback address).
    pub fn with_endpoint(self, url: &str) -> Result<Self, PasswordError> {
        check_endpoint(url)?;
        let config = self.client.config().to_builder().endpoint_url(url).build();
        Ok(Self::from_client(Client::from_conf(config), self.secret_id))
    }

    /// Overall time limit of one fetch, retries included (default 5 s).
    pub fn with_timeout(self, timeout: Duration) -> Self {
        let config = self
            .client
            .config()
            .to_builder()
            .timeout_config(TimeoutConfig::builder().operation_timeout(timeout).build())
            .build();
        Self::from_client(Client::from_conf(config), self.secret_id)
    }
}

impl SecretFetcher for SecretsManagerFetcher {
    fn fetch(&self) -> BoxFuture<'_, Result<String, PasswordError>> {
        Box::pin(async move {
            let output = self
                .client
                .get_secret_value()
                .secret_id(&self.secret_id)
                .send()
                .await
                .map_err(|error| PasswordError::Fetch {
                    code: error.code().map(str::to_owned),
                    source: Box::new(error),
                })?;
            output
                .secret_string()
                .map(str::to_owned)
                .ok_or(PasswordError::BadSecret(SecretFormatError::NotAString))
        })
    }
}

/// Credentials-signed requests and the secret itself must not cross a network in clear
/// text: plain `http://` is accepted for a loopback emulator only.
fn check_endpoint(url: &str) -> Result<(), PasswordError> {
    let bad = |reason| PasswordError::Endpoint {
        url: url.to_owned(),
        reason,
    };
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(bad("must start with https:// (or http:// for loopback)"));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        // `[::1]` has colons of its own; a port follows the closing bracket.
        Some((host, port)) if !port.contains(']') => {
            port.parse::<u16>().map_err(|_| bad("bad port"))?;
            host
        }
        _ => authority,
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    if !https && !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        return Err(bad("plain http is only allowed to a loopback address"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_https_or_loopback() {
        assert!(check_endpoint("https://secretsmanager.eu-west-1.amazonaws.com").is_ok());
        assert!(check_endpoint("http://127.0.0.1:5000").is_ok());
        assert!(check_endpoint("http://[::1]:5000/").is_ok());
        assert!(check_endpoint("http://secretsmanager.example.com").is_err());
        assert!(check_endpoint("ftp://x").is_err());
        assert!(check_endpoint("https://h:notaport").is_err());
        assert!(check_endpoint("https:///path").is_err());
    }

    #[test]
    fn the_sdk_signer_matches_botocore_for_get_secret_value() {
        // Expected values from botocore 1.44.8 `SigV4Auth(..., "secretsmanager",
        // "us-east-1").add_auth(request)` with the clock fixed at 2024-01-02T03:04:05Z:
        // the request this fetcher makes, signed by the SDK's signer with its defaults.
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        use aws_sigv4::sign::v4;

        let body = br#"{"SecretId":"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbC"}"#;
        let time = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_164_645);
        let authorization = |session_token: Option<&str>| {
            let identity = aws_credential_types::Credentials::new(
                "AKIDEXAMPLE",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                session_token.map(str::to_owned),
                None,
                "test",
            )
            .into();
            let params = v4::SigningParams::builder()
                .identity(&identity)
                .region("us-east-1")
                .name("secretsmanager")
                .time(time)
                .settings(SigningSettings::default())
                .build()
                .expect("params")
                .into();
            let request = SignableRequest::new(
                "POST",
                "https://secretsmanager.us-east-1.amazonaws.com/",
                [
                    ("content-type", "application/x-amz-json-1.1"),
                    ("x-amz-target", "secretsmanager.GetSecretValue"),
                ]
                .into_iter(),
                SignableBody::Bytes(body),
            )
            .expect("request");
            let (instructions, _) = sign(request, &params).expect("signed").into_parts();
            instructions
                .headers()
                .find(|(name, _)| *name == "authorization")
                .map(|(_, value)| value.to_owned())
                .unwrap_or_default()
        };
        assert_eq!(
            authorization(None),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/secretsmanager/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
             Signature=00323912ce597c7616cf0bdd8ae9c2d45a0556f35b8da52d59227adbf157f617"
        );
        assert_eq!(
            authorization(Some("SESSIONTOKEN/+=")),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/secretsmanager/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, \
             Signature=d531bac66cf4f4c60230bfe405012bccd2cd8cad63225e96e7962c4dd4834c87"
        );
    }
}
