//! Where the Redis AUTH password comes from: an ElastiCache IAM token signed in-process
//! (`REDIS_IAM_AUTH=true`, what the services stack sets), or a token kept in Secrets
//! Manager (`REDIS_AUTH_SECRET_ARN`, for deployments that use an AUTH token).
//!
//! ## ElastiCache IAM authentication
//!
//! [`ElastiCacheIamToken`] presigns `GET http://<replication group>/?Action=connect&User=<user>`
//! for the `elasticache` service (SigV4, 900 s) with the role's credentials, and the URL
//! without its scheme is the password that goes with `AUTH <user>`. The signing is
//! aurora's ([`aurora::auth::presigned_token`], the AWS SDK's `aws-sigv4`): one signer in
//! the workspace, for RDS and ElastiCache tokens. It takes no network call, so a cold start
//! signs its first token at once. A token is accepted for 15 minutes after signing, and
//! only when a connection authenticates, so no connection may offer an old one: every
//! connection the cache opens (its reconnections and each cluster node included) asks
//! [`cache::PasswordSource::fresh`], which hands out the last token while it is younger
//! than [`IAM_TOKEN_RENEW_AGE`] (10 minutes) and signs a new one otherwise; open
//! connections authenticate again with a fresh token every [`IAM_TOKEN_RENEW_AGE`]
//! (which also keeps ElastiCache's 12-hour limit on IAM connections away). After a
//! refusal ([`cache::PasswordSource::current`]) it always signs anew.
//!
//! ## AUTH token in Secrets Manager
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

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use aurora::auth::{
    Credentials, EnvCredentials, PasswordError, PasswordSource as _, SecretPassword,
    SecretsManagerFetcher, SharedCredentialsProvider,
};
use cache::{BoxError, BoxFuture, CacheConfig};

use crate::config::{AppConfig, RedisAuthSecret, RedisIamAuth};

/// How long an ElastiCache IAM token is valid: the most ElastiCache accepts.
pub const IAM_TOKEN_LIFETIME: Duration = Duration::from_secs(900);

/// The signing name of ElastiCache's `connect` action.
const ELASTICACHE_SERVICE: &str = "elasticache";

/// The oldest token a connection is given ([`ElastiCacheIamToken::fresh`]), and how often
/// open connections authenticate again: 10 minutes, a third of a token's
/// [`IAM_TOKEN_LIFETIME`] to spare.
pub const IAM_TOKEN_RENEW_AGE: Duration = Duration::from_secs(600);

/// The wall clock tokens are signed by ([`ElastiCacheIamToken::with_clock`]).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// ElastiCache IAM authentication tokens for one user of one replication group, as a
/// [`cache::PasswordSource`]: a token younger than [`IAM_TOKEN_RENEW_AGE`] for each new
/// connection, a new one after a refusal.
#[derive(Clone)]
pub struct ElastiCacheIamToken {
    auth: RedisIamAuth,
    credentials: SharedCredentialsProvider,
    clock: Clock,
    /// The last token signed, and the time it was signed for.
    last: Arc<Mutex<Option<(String, SystemTime)>>>,
}

impl std::fmt::Debug for ElastiCacheIamToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElastiCacheIamToken")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl ElastiCacheIamToken {
    /// Tokens for `auth`, signed with `credentials` at the system time.
    pub fn new(auth: RedisIamAuth, credentials: SharedCredentialsProvider) -> Self {
        Self {
            auth,
            credentials,
            clock: Arc::new(SystemTime::now),
            last: Arc::new(Mutex::new(None)),
        }
    }

    /// The same source reading the time from `clock` (tests move it by hand).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Tokens signed with the credentials the Lambda runtime sets for the function's role
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), read at every
    /// signing.
    pub fn from_env(auth: RedisIamAuth) -> Self {
        Self::new(auth, SharedCredentialsProvider::new(EnvCredentials))
    }

    /// A token signed now, valid for [`IAM_TOKEN_LIFETIME`] (and kept for
    /// [`ElastiCacheIamToken::fresh`]).
    pub async fn sign(&self) -> Result<String, PasswordError> {
        let credentials = aurora::auth::credentials_from(&self.credentials).await?;
        let now = (self.clock)();
        let token = self.sign_at(&credentials, now)?;
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some((token.clone(), now));
        Ok(token)
    }

    /// A token for a new connection: the last one signed while it is younger than
    /// [`IAM_TOKEN_RENEW_AGE`], else one signed now ([`ElastiCacheIamToken::sign`]). A
    /// clock that went back also gets a new one.
    pub async fn fresh(&self) -> Result<String, PasswordError> {
        let now = (self.clock)();
        let young = self
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|(_, signed)| {
                now.duration_since(*signed)
                    .is_ok_and(|age| age < IAM_TOKEN_RENEW_AGE)
            })
            .map(|(token, _)| token.clone());
        match young {
            Some(token) => Ok(token),
            None => self.sign().await,
        }
    }

    /// The token `credentials` sign at `time`: the presigned
    /// `<replication group>/?Action=connect&User=<user>&X-Amz-...` without a scheme.
    pub fn sign_at(
        &self,
        credentials: &Credentials,
        time: SystemTime,
    ) -> Result<String, PasswordError> {
        aurora::auth::presigned_token(
            &self.auth.replication_group_id,
            &[("Action", "connect"), ("User", &self.auth.user_id)],
            ELASTICACHE_SERVICE,
            &self.auth.region,
            IAM_TOKEN_LIFETIME,
            credentials,
            time,
        )
    }
}

impl cache::PasswordSource for ElastiCacheIamToken {
    fn current(&self) -> BoxFuture<'_, Result<Option<String>, BoxError>> {
        // Asked after a refusal, which with IAM means the token expired (or the role's
        // credentials changed): only a new signature helps.
        Box::pin(async move { self.sign().await.map(Some).map_err(BoxError::from) })
    }

    fn renew_every(&self) -> Option<Duration> {
        Some(IAM_TOKEN_RENEW_AGE)
    }

    fn fresh(&self) -> BoxFuture<'_, Result<Option<String>, BoxError>> {
        Box::pin(async move {
            ElastiCacheIamToken::fresh(self)
                .await
                .map(Some)
                .map_err(BoxError::from)
        })
    }
}

/// `redis` authenticating as `auth`'s user with a token signed now, and the signer as the
/// cache's password source for the connections it opens later (each takes a token younger
/// than [`IAM_TOKEN_RENEW_AGE`]). Signing fails only
/// without credentials: `strict`, that is an error; otherwise a warning, and the cache
/// starts without a token and signs again once Redis refuses it.
pub async fn with_iam_token(
    mut redis: CacheConfig,
    auth: &RedisIamAuth,
    strict: bool,
) -> Result<CacheConfig, PasswordError> {
    let token = Arc::new(ElastiCacheIamToken::from_env(auth.clone()));
    match token.sign().await {
        Ok(signed) => redis.password = Some(signed),
        Err(error) if strict => return Err(error),
        Err(error) => tracing::warn!(
            %error,
            "no ElastiCache IAM token could be signed at start-up; reads BYPASS the cache until one can"
        ),
    }
    redis.username = Some(auth.user_id.clone());
    redis.password_source = Some(token);
    Ok(redis)
}

/// The Redis configuration to connect with: `config.redis`, with its password source when
/// `REDIS_IAM_AUTH` ([`with_iam_token`]) or `REDIS_AUTH_SECRET_ARN` ([`with_auth_token`])
/// says where the password comes from (the configuration allows at most one).
pub async fn redis_config(
    config: &AppConfig,
    strict: bool,
) -> Result<Option<CacheConfig>, PasswordError> {
    let Some(redis) = config.redis.clone() else {
        return Ok(None);
    };
    if let Some(auth) = &config.redis_iam_auth {
        return with_iam_token(redis, auth, strict).await.map(Some);
    }
    match &config.redis_auth_secret {
        None => Ok(Some(redis)),
        Some(secret) => with_auth_token(redis, secret, strict).await.map(Some),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> ElastiCacheIamToken {
        ElastiCacheIamToken::new(
            RedisIamAuth {
                replication_group_id: "roadcall-perf-dev".to_owned(),
                user_id: "roadcall-perf-dev-app".to_owned(),
                region: "us-east-1".to_owned(),
            },
            SharedCredentialsProvider::new(EnvCredentials),
        )
    }

    fn example_credentials() -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("SESSIONTOKEN/+=".to_owned()),
            None,
            "test",
        )
    }

    /// 2024-01-02T03:04:05Z.
    fn example_time() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_164_645)
    }

    #[test]
    fn the_elasticache_token_matches_sigv4_computed_by_hand() {
        // The expected value follows the SigV4 query-signing algorithm in plain Python
        // (hashlib/hmac, no AWS library); the same script reproduces botocore's RDS token
        // of aurora's `rds_token_matches_botocore`, which checks the script:
        //
        //   enc = lambda v: urllib.parse.quote(v, safe="-_.~")
        //   scope = "20240102/us-east-1/elasticache/aws4_request"
        //   params = {Action: connect, User: roadcall-perf-dev-app,
        //             X-Amz-Algorithm: AWS4-HMAC-SHA256, X-Amz-Credential: AKIDEXAMPLE/<scope>,
        //             X-Amz-Date: 20240102T030405Z, X-Amz-Expires: 900,
        //             X-Amz-Security-Token: SESSIONTOKEN/+=, X-Amz-SignedHeaders: host}
        //   query = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items()))
        //   canonical = "\n".join(["GET", "/", query, "host:roadcall-perf-dev", "", "host",
        //                          sha256(b"").hexdigest()])
        //   to_sign = "\n".join(["AWS4-HMAC-SHA256", "20240102T030405Z", scope,
        //                        sha256(canonical).hexdigest()])
        //   key = HMAC chain of "AWS4"+secret over 20240102, us-east-1, elasticache, aws4_request
        //   signature = hmac(key, to_sign).hexdigest()
        //
        // sha256(canonical) = 83736ac69da56dc845d16c168c1f60a8ccd5653d84db0b66b3f5ca833d8a99f6
        let expected = "roadcall-perf-dev/?Action=connect&User=roadcall-perf-dev-app\
            &X-Amz-Algorithm=AWS4-HMAC-SHA256\
            &X-Amz-Credential=AKIDEXAMPLE%2F20240102%2Fus-east-1%2Felasticache%2Faws4_request\
            &X-Amz-Date=20240102T030405Z&X-Amz-Expires=900\
            &X-Amz-Security-Token=SESSIONTOKEN%2F%2B%3D&X-Amz-SignedHeaders=host\
            &X-Amz-Signature=2c99fdca68f989593bf244c6b7e42d82957e399e7e88dbb75f54665868db36d1";
        let token = signer()
            .sign_at(&example_credentials(), example_time())
            .expect("signed");
        assert_eq!(token, expected);
    }

    #[test]
    fn every_token_is_signed_for_its_own_time() {
        let signer = signer();
        let first = signer
            .sign_at(&example_credentials(), example_time())
            .expect("signed");
        let later = signer
            .sign_at(
                &example_credentials(),
                example_time() + Duration::from_secs(600),
            )
            .expect("signed");
        assert!(later.contains("&X-Amz-Date=20240102T031405Z&"), "{later}");
        assert_ne!(first, later);
    }

    #[tokio::test]
    async fn the_password_source_signs_with_the_role_credentials() {
        let token = ElastiCacheIamToken::new(
            signer().auth,
            SharedCredentialsProvider::new(Credentials::new(
                "AKIDROLE", "secret", None, None, "test",
            )),
        );
        let password = cache::PasswordSource::current(&token)
            .await
            .expect("signed")
            .expect("a token");
        assert!(
            password.starts_with("roadcall-perf-dev/?Action=connect&User=roadcall-perf-dev-app&")
                && password.contains("&X-Amz-Credential=AKIDROLE%2F")
                && password.contains("%2Felasticache%2Faws4_request&"),
            "{password}"
        );
    }

    /// A clock the test moves by hand.
    fn hand_clock(start: SystemTime) -> (Arc<Mutex<SystemTime>>, Clock) {
        let time = Arc::new(Mutex::new(start));
        let read = Arc::clone(&time);
        (time, Arc::new(move || *read.lock().unwrap()))
    }

    fn date_of(token: &str) -> &str {
        let at = token.find("&X-Amz-Date=").expect("a date") + "&X-Amz-Date=".len();
        &token[at..at + 16]
    }

    #[tokio::test]
    async fn new_connections_get_a_token_younger_than_ten_minutes() {
        let (time, clock) = hand_clock(example_time());
        let token = ElastiCacheIamToken::new(
            signer().auth,
            SharedCredentialsProvider::new(example_credentials()),
        )
        .with_clock(clock);
        let set = |offset: i64| {
            let at = if offset >= 0 {
                example_time() + Duration::from_secs(offset as u64)
            } else {
                example_time() - Duration::from_secs(offset.unsigned_abs())
            };
            *time.lock().unwrap() = at;
        };
        assert_eq!(
            cache::PasswordSource::renew_every(&token),
            Some(IAM_TOKEN_RENEW_AGE)
        );
        let first = token.fresh().await.expect("signed");
        assert_eq!(date_of(&first), "20240102T030405Z");
        // Younger than ten minutes: the same token for every new connection.
        set(599);
        assert_eq!(token.fresh().await.expect("signed"), first);
        // Ten minutes old: a new one, signed for now, five minutes before the first expires.
        set(600);
        let second = token.fresh().await.expect("signed");
        assert_eq!(date_of(&second), "20240102T031405Z");
        assert_eq!(token.fresh().await.expect("signed"), second);
        // After a refusal: signed anew even though the last one is young, and kept.
        set(660);
        let refused = cache::PasswordSource::current(&token)
            .await
            .expect("signed")
            .expect("a token");
        assert_eq!(date_of(&refused), "20240102T031505Z");
        assert_eq!(token.fresh().await.expect("signed"), refused);
        // A clock that went back never makes an old token look young.
        set(-3600);
        assert_eq!(
            date_of(&token.fresh().await.expect("signed")),
            "20240102T020405Z"
        );
    }

    #[tokio::test]
    async fn without_role_credentials_the_error_names_the_missing_variable() {
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
            return; // the environment has credentials: nothing to show here
        }
        let error = signer().sign().await.expect_err("no credentials");
        assert!(error.to_string().contains("AWS_ACCESS_KEY_ID"), "{error}");
    }
}
