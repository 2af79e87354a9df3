//! Password sources: where the password of each new connection comes from.
//!
//! The pool asks its [`PasswordSource`] once per *new* connection (never per query) and
//! calls [`PasswordSource::invalidate`] when the server rejects the credentials, then asks
//! again once. Three sources ship here:
//!
//! - [`StaticPassword`]: from the URL (or none);
//! - [`SecretPassword`]: the `password` field of a Secrets Manager secret, fetched through a
//!   pluggable [`SecretFetcher`] (built in: [`SecretsManagerFetcher`], the AWS SDK's
//!   `GetSecretValue`) once, cached, and fetched again after an authentication failure
//!   (rotation);
//! - [`IamTokenPassword`]: a fresh RDS IAM token per connection (they expire after 15
//!   minutes), presigned in-process with [`rds_auth_token`] (the SDK's `aws-sigv4`).
//!
//! AWS credentials are the SDK's own types ([`Credentials`], [`ProvideCredentials`],
//! [`SharedCredentialsProvider`]), so a caller that already has `aws-config`'s default
//! chain can hand it over with [`crate::AuroraPoolBuilder::credentials_provider`];
//! without one, [`EnvCredentials`] reads the variables the Lambda runtime sets.

mod rds_token;
mod secrets_manager;

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

pub use aws_credential_types::Credentials;
pub use aws_credential_types::provider::error::CredentialsError;
pub use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
pub use rds_token::{presigned_token, rds_auth_token};
pub use secrets_manager::SecretsManagerFetcher;

/// A boxed, sendable future (the object-safe return type of the traits here).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An error of any type, kept as the source of a [`PasswordError`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A password source failure. Each variant keeps the error it came from as its
/// [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// AWS credentials could not be obtained.
    #[error("AWS credentials unavailable: {}", chain(.0))]
    Credentials(#[source] CredentialsError),
    /// The secret could not be fetched.
    #[error("could not fetch the secret: {}", chain(.source.as_ref()))]
    Fetch {
        /// The service's error code when it answered with one (for example
        /// `ResourceNotFoundException`, `AccessDeniedException`, `DecryptionFailure`).
        code: Option<String>,
        /// What went wrong (the SDK error, or a custom fetcher's error).
        #[source]
        source: BoxError,
    },
    /// The secret was fetched but holds no usable password.
    #[error("the secret holds no password: {0}")]
    BadSecret(#[source] SecretFormatError),
    /// An IAM authentication token (RDS's, or another presigned one) could not be signed
    /// (for example a host name that is not a valid URI authority).
    #[error("could not sign the IAM token: {}", chain(.0.as_ref()))]
    Signing(#[source] BoxError),
    /// An endpoint URL for an AWS service is unusable.
    #[error("endpoint `{url}`: {reason}")]
    Endpoint {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl PasswordError {
    /// A fetch failure from a custom [`SecretFetcher`] (no service error code).
    pub fn fetch(source: impl Into<BoxError>) -> Self {
        Self::Fetch {
            code: None,
            source: source.into(),
        }
    }

    /// The service's error code of a failed fetch, if it answered with one.
    pub fn service_code(&self) -> Option<&str> {
        match self {
            Self::Fetch { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// Why a secret string holds no password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretFormatError {
    /// It starts like a JSON object but does not parse.
    #[error("not valid JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// A JSON object without a string field `password`.
    #[error("no string field `password`")]
    NoPasswordField,
    /// Nothing but white space.
    #[error("empty secret")]
    Empty,
    /// The secret is binary (`SecretBinary`), not a string.
    #[error("no SecretString (binary secrets are not supported)")]
    NotAString,
}

/// An error and its sources, `: `-separated: the SDK's errors say little at the top level
/// ("service error") and the useful part ("ResourceNotFoundException: ...") below it.
fn chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(source) = next {
        let line = source.to_string();
        if !text.ends_with(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        next = source.source();
    }
    text
}

/// Supplies the password for each new connection. Implement it to plug in another
/// secret store.
pub trait PasswordSource: Send + Sync + fmt::Debug {
    /// The password for the next new connection (`None`: no password).
    fn password(&self) -> BoxFuture<'_, Result<Option<String>, PasswordError>>;

    /// The server rejected the last password: drop any cached value.
    fn invalidate(&self) {}
}

/// A fixed password (or none).
#[derive(Clone, Default)]
pub struct StaticPassword(Option<String>);

impl StaticPassword {
    /// A source that always returns `password`.
    pub fn new(password: Option<String>) -> Self {
        Self(password)
    }
}

impl fmt::Debug for StaticPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "StaticPassword(<redacted>)"
        } else {
            "StaticPassword(None)"
        })
    }
}

impl PasswordSource for StaticPassword {
    fn password(&self) -> BoxFuture<'_, Result<Option<String>, PasswordError>> {
        let password = self.0.clone();
        Box::pin(async move { Ok(password) })
    }
}

/// Fetches the raw `SecretString` of a secret (the built-in [`SecretsManagerFetcher`], or
/// any other store).
pub trait SecretFetcher: Send + Sync + fmt::Debug {
    /// Fetches the current secret string.
    fn fetch(&self) -> BoxFuture<'_, Result<String, PasswordError>>;
}

/// A secret-backed password: fetched once, cached, fetched again after invalidation.
#[derive(Debug)]
pub struct SecretPassword {
    fetcher: Arc<dyn SecretFetcher>,
    cached: tokio::sync::Mutex<Option<String>>,
    stale: std::sync::atomic::AtomicBool,
}

impl SecretPassword {
    /// Wraps a fetcher.
    pub fn new(fetcher: Arc<dyn SecretFetcher>) -> Self {
        Self {
            fetcher,
            cached: tokio::sync::Mutex::new(None),
            stale: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl PasswordSource for SecretPassword {
    fn password(&self) -> BoxFuture<'_, Result<Option<String>, PasswordError>> {
        Box::pin(async move {
            // The lock also makes concurrent cold connects share one fetch.
            let mut cached = self.cached.lock().await;
            if self.stale.swap(false, std::sync::atomic::Ordering::AcqRel) {
                *cached = None;
            }
            if let Some(password) = cached.as_ref() {
                return Ok(Some(password.clone()));
            }
            let secret = self.fetcher.fetch().await?;
            let password = password_from_secret(&secret)?;
            *cached = Some(password.clone());
            Ok(Some(password))
        })
    }

    fn invalidate(&self) {
        self.stale.store(true, std::sync::atomic::Ordering::Release);
    }
}

/// Extracts the password of a secret string: the `password` field of the JSON object
/// that RDS-managed secrets hold, or the whole string when it is not JSON.
pub fn password_from_secret(secret: &str) -> Result<String, PasswordError> {
    let trimmed = secret.trim();
    if trimmed.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(trimmed)
            .map_err(|e| PasswordError::BadSecret(SecretFormatError::NotJson(e)))?;
        return value
            .get("password")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or(PasswordError::BadSecret(SecretFormatError::NoPasswordField));
    }
    if trimmed.is_empty() {
        return Err(PasswordError::BadSecret(SecretFormatError::Empty));
    }
    Ok(secret.to_owned())
}

/// Credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`,
/// which the Lambda runtime sets for the function's role. (`aws-config`'s default chain
/// reads the same variables and more; this one keeps `aws-config` out of this crate.)
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvCredentials;

/// A variable [`EnvCredentials`] needs is not set.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("{0} is not set")]
pub struct MissingVariable(pub &'static str);

impl EnvCredentials {
    fn load() -> Result<Credentials, CredentialsError> {
        let get = |name: &'static str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or(MissingVariable(name))
        };
        let access_key_id = get("AWS_ACCESS_KEY_ID").map_err(CredentialsError::not_loaded)?;
        let secret_access_key =
            get("AWS_SECRET_ACCESS_KEY").map_err(CredentialsError::not_loaded)?;
        Ok(Credentials::new(
            access_key_id,
            secret_access_key,
            get("AWS_SESSION_TOKEN").ok(),
            None,
            "aurora::EnvCredentials",
        ))
    }
}

impl ProvideCredentials for EnvCredentials {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::ready(Self::load())
    }
}

/// Gets credentials from `provider`, as a [`PasswordError`] on failure.
pub async fn credentials_from(
    provider: &SharedCredentialsProvider,
) -> Result<Credentials, PasswordError> {
    provider
        .provide_credentials()
        .await
        .map_err(PasswordError::Credentials)
}

/// A fresh RDS IAM authentication token for every new connection.
#[derive(Debug, Clone)]
pub struct IamTokenPassword {
    host: String,
    port: u16,
    user: String,
    region: String,
    credentials: SharedCredentialsProvider,
}

impl IamTokenPassword {
    /// Tokens for `user` at `host:port` in `region`, signed with `credentials`.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        region: impl Into<String>,
        credentials: SharedCredentialsProvider,
    ) -> Self {
        Self {
            host: host.into(),
            port,
            user: user.into(),
            region: region.into(),
            credentials,
        }
    }
}

impl PasswordSource for IamTokenPassword {
    fn password(&self) -> BoxFuture<'_, Result<Option<String>, PasswordError>> {
        Box::pin(async move {
            let credentials = credentials_from(&self.credentials).await?;
            rds_auth_token(
                &self.host,
                self.port,
                &self.user,
                &self.region,
                &credentials,
                SystemTime::now(),
            )
            .map(Some)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_json_and_plain_strings() {
        assert_eq!(
            password_from_secret(r#"{"username":"app","password":"s3cr3t","engine":"postgres"}"#)
                .ok()
                .as_deref(),
            Some("s3cr3t")
        );
        assert_eq!(password_from_secret("plain").ok().as_deref(), Some("plain"));
        assert!(matches!(
            password_from_secret(r#"{"username":"app"}"#),
            Err(PasswordError::BadSecret(SecretFormatError::NoPasswordField))
        ));
        let error = password_from_secret("{not json").expect_err("not JSON");
        assert!(
            matches!(
                error,
                PasswordError::BadSecret(SecretFormatError::NotJson(_))
            ),
            "{error:?}"
        );
        // The JSON error stays reachable as a source.
        let source = error.source().and_then(|s| s.source());
        assert!(
            source.is_some_and(|s| s.is::<serde_json::Error>()),
            "{error:?}"
        );
    }

    #[test]
    fn error_messages_follow_the_source_chain() {
        let error = PasswordError::Credentials(CredentialsError::not_loaded(MissingVariable(
            "AWS_ACCESS_KEY_ID",
        )));
        assert!(
            error.to_string().contains("AWS_ACCESS_KEY_ID is not set"),
            "{error}"
        );
        let fetch = PasswordError::fetch("AccessDeniedException");
        assert_eq!(fetch.service_code(), None);
        assert!(
            fetch.to_string().contains("AccessDeniedException"),
            "{fetch}"
        );
    }
}
