//! Password sources: where the password of each new connection comes from.
//!
//! The pool asks its [`PasswordSource`] once per *new* connection (never per query) and
//! calls [`PasswordSource::invalidate`] when the server rejects the credentials, then asks
//! again once. Three sources ship here:
//!
//! - [`StaticPassword`]: from the URL (or none);
//! - [`SecretPassword`]: the `password` field of a Secrets Manager secret, fetched through a
//!   pluggable [`SecretFetcher`] (built in: [`SecretsManagerFetcher`], a SigV4-signed
//!   `GetSecretValue` call) once, cached, and fetched again after an authentication
//!   failure (rotation);
//! - [`IamTokenPassword`]: a fresh RDS IAM token per connection (they expire after 15
//!   minutes), signed in-process with [`rds_auth_token`]; no AWS SDK needed.

mod secrets_manager;
mod sigv4;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use secrets_manager::SecretsManagerFetcher;
pub use sigv4::{AwsCredentials, rds_auth_token};

/// A boxed, sendable future (the object-safe return type of the traits here).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A password source failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// AWS credentials are not available (names the missing variable).
    #[error("AWS credentials unavailable: {0} is not set")]
    MissingCredentials(&'static str),
    /// The secret could not be fetched.
    #[error("could not fetch the database secret: {0}")]
    Fetch(String),
    /// The secret was fetched but holds no usable password.
    #[error("the database secret holds no password: {0}")]
    BadSecret(String),
    /// The configuration asks for a source this build cannot provide.
    #[error("password source unavailable: {0}")]
    Unavailable(String),
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

/// Fetches the raw `SecretString` of a secret (for example with `aws-sdk-secretsmanager`'s
/// `GetSecretValue`, or any other store).
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
            .map_err(|e| PasswordError::BadSecret(format!("not valid JSON: {e}")))?;
        return value
            .get("password")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| PasswordError::BadSecret("no string field `password`".to_owned()));
    }
    if trimmed.is_empty() {
        return Err(PasswordError::BadSecret("empty secret".to_owned()));
    }
    Ok(secret.to_owned())
}

/// Where AWS credentials come from.
pub trait CredentialsProvider: Send + Sync + fmt::Debug {
    /// The current credentials.
    fn credentials(&self) -> BoxFuture<'_, Result<AwsCredentials, PasswordError>>;
}

/// Fixed credentials (tests, or credentials obtained elsewhere).
impl CredentialsProvider for AwsCredentials {
    fn credentials(&self) -> BoxFuture<'_, Result<AwsCredentials, PasswordError>> {
        let credentials = self.clone();
        Box::pin(async move { Ok(credentials) })
    }
}

/// Credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`,
/// which the Lambda runtime sets for the function's role.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvCredentials;

impl CredentialsProvider for EnvCredentials {
    fn credentials(&self) -> BoxFuture<'_, Result<AwsCredentials, PasswordError>> {
        Box::pin(async move {
            let get = |name: &'static str| {
                std::env::var(name)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .ok_or(PasswordError::MissingCredentials(name))
            };
            Ok(AwsCredentials {
                access_key_id: get("AWS_ACCESS_KEY_ID")?,
                secret_access_key: get("AWS_SECRET_ACCESS_KEY")?,
                session_token: get("AWS_SESSION_TOKEN").ok(),
            })
        })
    }
}

/// A fresh RDS IAM authentication token for every new connection.
#[derive(Debug, Clone)]
pub struct IamTokenPassword {
    host: String,
    port: u16,
    user: String,
    region: String,
    credentials: Arc<dyn CredentialsProvider>,
}

impl IamTokenPassword {
    /// Tokens for `user` at `host:port` in `region`, signed with `credentials`.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        region: impl Into<String>,
        credentials: Arc<dyn CredentialsProvider>,
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
            let credentials = self.credentials.credentials().await?;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            Ok(Some(rds_auth_token(
                &self.host,
                self.port,
                &self.user,
                &self.region,
                &credentials,
                now,
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_json_and_plain_strings() {
        assert_eq!(
            password_from_secret(r#"{"username":"app","password":"s3cr3t","engine":"postgres"}"#),
            Ok("s3cr3t".to_owned())
        );
        assert_eq!(password_from_secret("plain"), Ok("plain".to_owned()));
        assert!(matches!(
            password_from_secret(r#"{"username":"app"}"#),
            Err(PasswordError::BadSecret(_))
        ));
        assert!(matches!(
            password_from_secret("{not json"),
            Err(PasswordError::BadSecret(_))
        ));
    }
}
