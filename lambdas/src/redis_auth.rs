//! The Redis AUTH token from Secrets Manager (`REDIS_AUTH_SECRET_ARN`).
//!
//! The fetch is aurora's ([`aurora::auth::SecretPassword`] over
//! [`aurora::auth::SecretsManagerFetcher`], the AWS SDK's `GetSecretValue`): one Secrets
//! Manager client in the workspace, for the database secret and this one. The `cache`
//! crate knows nothing of AWS: it gets a [`cache::PasswordSource`] that this type
//! implements, and asks it again whenever Redis refuses the token (a rotation), at most
//! once per `REDIS_AUTH_RETRY_MS`.
//!
//! A cold start never waits long for the secret and never fails because of it: the first
//! fetch gets [`SECRET_START_BUDGET`]; without an answer the cache starts with no token,
//! Redis answers `NOAUTH`, reads answer `BYPASS` from PostgreSQL, and that refusal is what
//! makes the cache fetch again.

use std::sync::Arc;
use std::time::Duration;

use aurora::auth::{PasswordError, PasswordSource as _, SecretPassword, SecretsManagerFetcher};
use cache::{BoxError, BoxFuture, CacheConfig};

use crate::config::RedisAuthSecret;

/// The longest one `GetSecretValue` may take, retries included (the SDK's operation
/// timeout): a slow Secrets Manager costs a re-read this much, never a request.
pub const SECRET_FETCH_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest a cold start waits for the first fetch (it runs while the database pool
/// warms up, so it adds nothing when both answer).
pub const SECRET_START_BUDGET: Duration = crate::state::WARM_UP_BUDGET;

/// The current Redis AUTH token, as a [`cache::PasswordSource`].
#[derive(Debug)]
pub struct RedisAuthToken(SecretPassword);

impl RedisAuthToken {
    /// A token read from `secret` with the Lambda role's credentials (`AWS_ACCESS_KEY_ID`
    /// and friends) at Secrets Manager's regional endpoint, or at
    /// `AWS_ENDPOINT_URL_SECRETS_MANAGER` / `AWS_ENDPOINT_URL` when set (an emulator, or
    /// a VPC endpoint's private DNS name). Only an unusable endpoint URL is an error.
    pub fn from_env(secret: &RedisAuthSecret) -> Result<Self, PasswordError> {
        let fetcher =
            SecretsManagerFetcher::from_env(secret.secret_id.clone(), secret.region.clone())?
                .with_timeout(SECRET_FETCH_TIMEOUT);
        Ok(Self(SecretPassword::new(Arc::new(fetcher))))
    }

    /// The token (fetched once, then cached until Redis refuses it).
    pub async fn get(&self) -> Result<Option<String>, PasswordError> {
        self.0.password().await
    }
}

impl cache::PasswordSource for RedisAuthToken {
    fn current(&self) -> BoxFuture<'_, Result<Option<String>, BoxError>> {
        Box::pin(async move {
            // Redis refused the cached token: it was rotated, or never read.
            self.0.invalidate();
            self.0.password().await.map_err(BoxError::from)
        })
    }
}

/// `redis` with the token of `secret`: the first fetch within [`SECRET_START_BUDGET`]
/// (`strict`: its failure is an error; otherwise a warning, and the cache starts without
/// a token and fetches again after Redis refuses), and the token as the cache's password
/// source for rotations.
pub async fn with_auth_token(
    mut redis: CacheConfig,
    secret: &RedisAuthSecret,
    strict: bool,
) -> Result<CacheConfig, PasswordError> {
    let token = Arc::new(RedisAuthToken::from_env(secret)?);
    match tokio::time::timeout(SECRET_START_BUDGET, token.get()).await {
        Ok(Ok(password)) => redis.password = password,
        Ok(Err(error)) if strict => return Err(error),
        Ok(Err(error)) => tracing::warn!(
            %error,
            "the redis AUTH secret could not be read at start-up; reads BYPASS the cache until it can"
        ),
        Err(_) if strict => {
            return Err(PasswordError::fetch(format!(
                "no answer from Secrets Manager within {SECRET_START_BUDGET:?}"
            )));
        }
        Err(_) => tracing::warn!(
            budget = ?SECRET_START_BUDGET,
            "Secrets Manager did not answer at start-up; reads BYPASS the cache until it does"
        ),
    }
    redis.password_source = Some(token);
    Ok(redis)
}
