//! Pool configuration: a plain struct with secure defaults, filled from the environment.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use percent_encoding::percent_decode_str;

/// A configuration problem, naming the variable (or field) at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required variable is not set.
    #[error(
        "environment variable {0} is not set (set DATABASE_URL, or DATABASE_HOST and DATABASE_USER)"
    )]
    Missing(&'static str),
    /// A variable is set but its value cannot be used.
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid {
        /// The variable (or struct field) name.
        name: &'static str,
        /// What is wrong with it (never includes a password).
        reason: String,
        /// The parser's own error, when another crate found the problem.
        #[source]
        source: Option<tokio_postgres::Error>,
    },
}

impl ConfigError {
    fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            name,
            reason: reason.into(),
            source: None,
        }
    }
}

/// The query parameters of a `postgres://` URL that [`AuroraConfig::from_url`] accepts.
/// `host`, `port`, `user`, `password` and `dbname` may also come from the URL's other parts.
pub const URL_PARAMETERS: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "application_name",
    "connect_timeout",
    "keepalives",
    "keepalives_idle",
    "tcp_user_timeout",
    "host",
    "port",
    "user",
    "password",
    "dbname",
];

/// Whether and how the connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// TLS required, server certificate chain and host name verified (libpq's
    /// `verify-full`). `sslmode=require`, `verify-ca` and `verify-full` all map here: this
    /// crate never encrypts without verifying.
    #[default]
    VerifyFull,
    /// Plain TCP. Only when asked for explicitly with `sslmode=disable`.
    Disable,
}

impl FromStr for SslMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "disable" => Ok(Self::Disable),
            "require" | "verify-ca" | "verify-full" => Ok(Self::VerifyFull),
            other => Err(format!(
                "`{other}` is not supported (use verify-full, require or disable; \
                 allow/prefer would silently fall back to plain text)"
            )),
        }
    }
}

/// TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// Encrypt and verify (default), or plain TCP.
    pub mode: SslMode,
    /// An extra PEM bundle of trusted CAs, for example the RDS global bundle.
    pub ca_bundle: Option<PathBuf>,
    /// Trust the operating system's roots as well (default `true`).
    pub use_system_roots: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            mode: SslMode::VerifyFull,
            ca_bundle: None,
            use_system_roots: true,
        }
    }
}

/// Where the password of a new connection comes from.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum PasswordConfig {
    /// No password (trust or certificate authentication).
    #[default]
    None,
    /// A fixed password, typically from the URL.
    Static(String),
    /// The `password` field of a Secrets Manager secret (the RDS JSON format), fetched
    /// once and fetched again after an authentication failure.
    SecretsManager {
        /// Secret ARN or name.
        secret_id: String,
        /// AWS region of the secret.
        region: String,
    },
    /// An RDS IAM authentication token, generated for every new connection (they expire
    /// after 15 minutes).
    IamToken {
        /// AWS region of the cluster.
        region: String,
    },
}

impl fmt::Debug for PasswordConfig {
    // Never print a password, even in debug logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Static(_) => f.write_str("Static(<redacted>)"),
            Self::SecretsManager { secret_id, region } => f
                .debug_struct("SecretsManager")
                .field("secret_id", secret_id)
                .field("region", region)
                .finish(),
            Self::IamToken { region } => {
                f.debug_struct("IamToken").field("region", region).finish()
            }
        }
    }
}

/// Which errors are retried, how often and how long to wait in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included (1 = no retry).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles each time, with full jitter.
    pub base_delay: Duration,
    /// Upper bound of one backoff.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(25),
            max_delay: Duration::from_secs(1),
        }
    }
}

/// Everything the pool needs. Build it with `Default` plus field updates, from a URL with
/// [`AuroraConfig::from_url`], or from the environment with [`AuroraConfig::from_env`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuroraConfig {
    /// Writer (cluster) endpoint host name or IP.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Database name.
    pub dbname: String,
    /// User name.
    pub user: String,
    /// Password source.
    pub password: PasswordConfig,
    /// Aurora reader endpoint; read-only calls use a second pool on it when set.
    pub reader_host: Option<String>,
    /// TLS settings (verification on by default).
    pub tls: TlsConfig,
    /// Connections opened at start and kept warm (default 2).
    pub min_size: usize,
    /// Upper bound of open connections per pool (default 10).
    pub max_size: usize,
    /// How long a caller waits for a free connection (default 5 s).
    pub wait_timeout: Duration,
    /// How long opening a connection may take, TLS and authentication included (default 5 s).
    pub create_timeout: Duration,
    /// How long the liveness check of a returned connection may take (default 2 s).
    pub recycle_timeout: Duration,
    /// Server-side `statement_timeout` of every session (default 30 s; `None` = server default).
    pub statement_timeout: Option<Duration>,
    /// `application_name` shown in `pg_stat_activity`.
    pub application_name: String,
    /// TCP keepalive idle time (default 30 s; `None` turns keepalives off).
    pub keepalive_idle: Option<Duration>,
    /// `TCP_USER_TIMEOUT`: how long sent data may stay unacknowledged before the kernel
    /// drops the connection (default 30 s), so a vanished writer is noticed quickly.
    pub tcp_user_timeout: Option<Duration>,
    /// Connections older than this are closed instead of reused (default 30 min), so
    /// connections follow DNS changes of the cluster endpoints.
    pub max_lifetime: Option<Duration>,
    /// Retry policy for the calls that are safe to repeat.
    pub retry: RetryPolicy,
}

impl Default for AuroraConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 5432,
            dbname: "postgres".to_owned(),
            user: "postgres".to_owned(),
            password: PasswordConfig::None,
            reader_host: None,
            tls: TlsConfig::default(),
            min_size: 2,
            max_size: 10,
            wait_timeout: Duration::from_secs(5),
            create_timeout: Duration::from_secs(5),
            recycle_timeout: Duration::from_secs(2),
            statement_timeout: Some(Duration::from_secs(30)),
            application_name: "roadcall-aurora".to_owned(),
            keepalive_idle: Some(Duration::from_secs(30)),
            tcp_user_timeout: Some(Duration::from_secs(30)),
            max_lifetime: Some(Duration::from_secs(30 * 60)),
            retry: RetryPolicy::default(),
        }
    }
}

/// Names of the environment variables [`AuroraConfig::from_env`] reads.
pub mod env {
    /// Full URL `postgres://user[:password]@host[:port]/db[?param=value&...]`; the parameters
    /// are those of [`AuroraConfig::from_url`](super::AuroraConfig::from_url).
    pub const DATABASE_URL: &str = "DATABASE_URL";
    /// Host, when `DATABASE_URL` is not set.
    pub const DATABASE_HOST: &str = "DATABASE_HOST";
    /// Port, when `DATABASE_URL` is not set (default 5432).
    pub const DATABASE_PORT: &str = "DATABASE_PORT";
    /// Database name, when `DATABASE_URL` is not set (default `postgres`).
    pub const DATABASE_NAME: &str = "DATABASE_NAME";
    /// User, when `DATABASE_URL` is not set.
    pub const DATABASE_USER: &str = "DATABASE_USER";
    /// Reader endpoint host.
    pub const DATABASE_READER_HOST: &str = "DATABASE_READER_HOST";
    /// `verify-full` (default), `require` (treated as verify-full) or `disable`.
    pub const DATABASE_SSLMODE: &str = "DATABASE_SSLMODE";
    /// Path of an extra PEM CA bundle (for example the RDS global bundle).
    pub const DATABASE_CA_BUNDLE: &str = "DATABASE_CA_BUNDLE";
    /// Secrets Manager secret ARN holding the password.
    pub const DATABASE_SECRET_ARN: &str = "DATABASE_SECRET_ARN";
    /// `true` to authenticate with RDS IAM tokens.
    pub const DATABASE_IAM_AUTH: &str = "DATABASE_IAM_AUTH";
    /// AWS region (set by Lambda).
    pub const AWS_REGION: &str = "AWS_REGION";
    /// Minimum pool size.
    pub const DATABASE_POOL_MIN: &str = "DATABASE_POOL_MIN";
    /// Maximum pool size.
    pub const DATABASE_POOL_MAX: &str = "DATABASE_POOL_MAX";
    /// Wait timeout in milliseconds.
    pub const DATABASE_WAIT_TIMEOUT_MS: &str = "DATABASE_WAIT_TIMEOUT_MS";
    /// Create (connect) timeout in milliseconds.
    pub const DATABASE_CREATE_TIMEOUT_MS: &str = "DATABASE_CREATE_TIMEOUT_MS";
    /// Recycle timeout in milliseconds.
    pub const DATABASE_RECYCLE_TIMEOUT_MS: &str = "DATABASE_RECYCLE_TIMEOUT_MS";
    /// `statement_timeout` in milliseconds (0 = server default).
    pub const DATABASE_STATEMENT_TIMEOUT_MS: &str = "DATABASE_STATEMENT_TIMEOUT_MS";
    /// `application_name`.
    pub const DATABASE_APPLICATION_NAME: &str = "DATABASE_APPLICATION_NAME";
    /// Maximum connection lifetime in seconds (0 = unlimited).
    pub const DATABASE_MAX_LIFETIME_SECS: &str = "DATABASE_MAX_LIFETIME_SECS";
    /// Retry attempts in total (1 = no retry).
    pub const DATABASE_RETRY_ATTEMPTS: &str = "DATABASE_RETRY_ATTEMPTS";
}

impl AuroraConfig {
    /// Reads the configuration from the process environment (see [`env`] for the names).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`AuroraConfig::from_env`], reading variables through `lookup` (for tests and
    /// for callers with their own configuration source).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut config = match get(env::DATABASE_URL) {
            Some(url) => Self::parse_url(&url, env::DATABASE_URL)?,
            None => {
                let host =
                    get(env::DATABASE_HOST).ok_or(ConfigError::Missing(env::DATABASE_HOST))?;
                let user =
                    get(env::DATABASE_USER).ok_or(ConfigError::Missing(env::DATABASE_USER))?;
                let mut config = Self {
                    host,
                    user,
                    ..Self::default()
                };
                if let Some(port) = get(env::DATABASE_PORT) {
                    config.port = parse_number(env::DATABASE_PORT, &port)?;
                }
                if let Some(name) = get(env::DATABASE_NAME) {
                    config.dbname = name;
                }
                config
            }
        };
        if let Some(mode) = get(env::DATABASE_SSLMODE) {
            config.tls.mode = mode
                .parse()
                .map_err(|reason| ConfigError::invalid(env::DATABASE_SSLMODE, reason))?;
        }
        if let Some(path) = get(env::DATABASE_CA_BUNDLE) {
            config.tls.ca_bundle = Some(PathBuf::from(path));
        }
        config.reader_host = get(env::DATABASE_READER_HOST).or(config.reader_host);
        let iam = match get(env::DATABASE_IAM_AUTH) {
            Some(value) => parse_bool(env::DATABASE_IAM_AUTH, &value)?,
            None => false,
        };
        let secret = get(env::DATABASE_SECRET_ARN);
        if iam && secret.is_some() {
            return Err(ConfigError::invalid(
                env::DATABASE_IAM_AUTH,
                "set either DATABASE_IAM_AUTH or DATABASE_SECRET_ARN, not both",
            ));
        }
        if iam || secret.is_some() {
            let region = get(env::AWS_REGION)
                .or_else(|| secret.as_deref().and_then(region_from_arn))
                .ok_or(ConfigError::Missing(env::AWS_REGION))?;
            config.password = match secret {
                Some(secret_id) => PasswordConfig::SecretsManager { secret_id, region },
                None => PasswordConfig::IamToken { region },
            };
        }
        if let Some(v) = get(env::DATABASE_POOL_MIN) {
            config.min_size = parse_number(env::DATABASE_POOL_MIN, &v)?;
        }
        if let Some(v) = get(env::DATABASE_POOL_MAX) {
            config.max_size = parse_number(env::DATABASE_POOL_MAX, &v)?;
        }
        if let Some(v) = get(env::DATABASE_WAIT_TIMEOUT_MS) {
            config.wait_timeout = parse_millis(env::DATABASE_WAIT_TIMEOUT_MS, &v)?;
        }
        if let Some(v) = get(env::DATABASE_CREATE_TIMEOUT_MS) {
            config.create_timeout = parse_millis(env::DATABASE_CREATE_TIMEOUT_MS, &v)?;
        }
        if let Some(v) = get(env::DATABASE_RECYCLE_TIMEOUT_MS) {
            config.recycle_timeout = parse_millis(env::DATABASE_RECYCLE_TIMEOUT_MS, &v)?;
        }
        if let Some(v) = get(env::DATABASE_STATEMENT_TIMEOUT_MS) {
            let timeout = parse_millis(env::DATABASE_STATEMENT_TIMEOUT_MS, &v)?;
            config.statement_timeout = (!timeout.is_zero()).then_some(timeout);
        }
        if let Some(v) = get(env::DATABASE_APPLICATION_NAME) {
            config.application_name = v;
        }
        if let Some(v) = get(env::DATABASE_MAX_LIFETIME_SECS) {
            let secs: u64 = parse_number(env::DATABASE_MAX_LIFETIME_SECS, &v)?;
            config.max_lifetime = (secs > 0).then(|| Duration::from_secs(secs));
        }
        if let Some(v) = get(env::DATABASE_RETRY_ATTEMPTS) {
            config.retry.max_attempts = parse_number(env::DATABASE_RETRY_ATTEMPTS, &v)?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Parses a `postgres://user[:password]@host[:port]/db[?param=value&...]` URL.
    ///
    /// The parameters, with libpq's names and units (see [`URL_PARAMETERS`]):
    /// `sslmode` (`disable`, `require`, `verify-ca`, `verify-full`; default verify-full,
    /// and every mode but `disable` verifies), `sslrootcert` (a CA bundle path),
    /// `application_name`, `connect_timeout` (seconds, at least 1: the connection create
    /// timeout), `keepalives` (`1`/`0`), `keepalives_idle` (seconds), `tcp_user_timeout`
    /// (milliseconds, 0 = the system default), and `host`, `port`, `user`, `password`,
    /// `dbname`. Any other parameter is an error naming it and the accepted ones, rather
    /// than silently ignored.
    pub fn from_url(url: &str) -> Result<Self, ConfigError> {
        let config = Self::parse_url(url, env::DATABASE_URL)?;
        config.validate()?;
        Ok(config)
    }

    fn parse_url(url: &str, name: &'static str) -> Result<Self, ConfigError> {
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (url, None),
        };
        let mut config = Self::default();
        let mut passthrough = Vec::new();
        // As in libpq, `keepalives=0` wins over `keepalives_idle`, in whatever order.
        let mut keepalives_off = false;
        for pair in query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|p| !p.is_empty())
        {
            let (key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode_str(raw_value)
                .decode_utf8()
                .map_err(|_| ConfigError::invalid(name, format!("{key}: not UTF-8")))?;
            let value = value.as_ref();
            let bad = |reason: &str| ConfigError::invalid(name, format!("{key}: {reason}"));
            let seconds = |value: &str| {
                value
                    .parse::<u64>()
                    .map_err(|_| bad(&format!("`{value}` is not a whole number of seconds")))
            };
            match key {
                "sslmode" => config.tls.mode = value.parse().map_err(|r: String| bad(&r))?,
                "sslrootcert" => config.tls.ca_bundle = Some(PathBuf::from(value)),
                "application_name" => config.application_name = value.to_owned(),
                "connect_timeout" => match seconds(value)? {
                    // libpq waits forever on 0; a Lambda must not.
                    0 => return Err(bad("must be at least 1 second")),
                    secs => config.create_timeout = Duration::from_secs(secs),
                },
                "keepalives" => match value {
                    "1" => keepalives_off = false,
                    "0" => keepalives_off = true,
                    _ => return Err(bad(&format!("`{value}` is not 1 or 0"))),
                },
                "keepalives_idle" => {
                    config.keepalive_idle = Some(Duration::from_secs(seconds(value)?));
                }
                "tcp_user_timeout" => {
                    let millis = value.parse::<u64>().map_err(|_| {
                        bad(&format!("`{value}` is not a whole number of milliseconds"))
                    })?;
                    config.tcp_user_timeout = (millis > 0).then(|| Duration::from_millis(millis));
                }
                "host" | "port" | "user" | "password" | "dbname" => passthrough.push(pair),
                _ => {
                    return Err(ConfigError::invalid(
                        name,
                        format!(
                            "unknown parameter `{key}` (accepted: {})",
                            URL_PARAMETERS.join(", ")
                        ),
                    ));
                }
            }
        }
        if keepalives_off {
            config.keepalive_idle = None;
        }
        let rest = if passthrough.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", passthrough.join("&"))
        };
        // tokio-postgres does the percent-decoding and validation; its messages never
        // contain the password.
        let parsed = tokio_postgres::Config::from_str(&rest).map_err(|e| ConfigError::Invalid {
            name,
            reason: e.to_string(),
            source: Some(e),
        })?;
        match parsed.get_hosts() {
            [tokio_postgres::config::Host::Tcp(host)] => config.host = host.clone(),
            [] => return Err(ConfigError::invalid(name, "no host")),
            _ => {
                return Err(ConfigError::invalid(
                    name,
                    "exactly one TCP host is supported (use DATABASE_READER_HOST for the reader)",
                ));
            }
        }
        if let Some(port) = parsed.get_ports().first() {
            config.port = *port;
        }
        config.user = parsed
            .get_user()
            .ok_or_else(|| ConfigError::invalid(name, "no user"))?
            .to_owned();
        if let Some(db) = parsed.get_dbname() {
            config.dbname = db.to_owned();
        }
        if let Some(password) = parsed.get_password() {
            let password = String::from_utf8(password.to_vec())
                .map_err(|_| ConfigError::invalid(name, "password is not UTF-8"))?;
            config.password = PasswordConfig::Static(password);
        }
        Ok(config)
    }

    /// Checks the relations between fields (sizes, empty names).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_size == 0 {
            return Err(ConfigError::invalid(
                env::DATABASE_POOL_MAX,
                "must be at least 1",
            ));
        }
        if self.min_size > self.max_size {
            return Err(ConfigError::invalid(
                env::DATABASE_POOL_MIN,
                format!(
                    "{} is larger than the maximum {}",
                    self.min_size, self.max_size
                ),
            ));
        }
        if self.host.is_empty() {
            return Err(ConfigError::invalid(env::DATABASE_HOST, "empty"));
        }
        if self.user.is_empty() {
            return Err(ConfigError::invalid(env::DATABASE_USER, "empty"));
        }
        if self.retry.max_attempts == 0 {
            return Err(ConfigError::invalid(
                env::DATABASE_RETRY_ATTEMPTS,
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// The writer endpoint's `tokio_postgres` configuration, without the password (the
    /// password source adds it per connection).
    pub(crate) fn pg_config(&self, host: &str) -> tokio_postgres::Config {
        let mut pg = tokio_postgres::Config::new();
        pg.host(host)
            .port(self.port)
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name(&self.application_name)
            .connect_timeout(self.create_timeout);
        pg.ssl_mode(match self.tls.mode {
            SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        });
        match self.keepalive_idle {
            Some(idle) => {
                pg.keepalives(true).keepalives_idle(idle);
            }
            None => {
                pg.keepalives(false);
            }
        }
        if let Some(timeout) = self.tcp_user_timeout {
            pg.tcp_user_timeout(timeout);
        }
        if let Some(timeout) = self.statement_timeout {
            pg.options(format!("-c statement_timeout={}", timeout.as_millis()));
        }
        pg
    }
}

fn parse_number<T: FromStr>(name: &'static str, value: &str) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|e: T::Err| ConfigError::invalid(name, format!("`{value}`: {e}")))
}

fn parse_millis(name: &'static str, value: &str) -> Result<Duration, ConfigError> {
    parse_number::<u64>(name, value).map(Duration::from_millis)
}

fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::invalid(
            name,
            format!("`{value}` is not a boolean"),
        )),
    }
}

/// The region of a Secrets Manager secret ARN
/// (`arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME` -> `REGION`); `None` for a name or
/// another service's ARN.
pub fn region_from_arn(arn: &str) -> Option<String> {
    let mut parts = arn.split(':');
    (parts.next()? == "arn").then_some(())?;
    let _partition = parts.next()?;
    (parts.next()? == "secretsmanager").then_some(())?;
    let region = parts.next()?;
    (!region.is_empty()).then(|| region.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_is_taken_from_a_secret_arn() {
        assert_eq!(
            region_from_arn("arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf")
                .as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(region_from_arn("my-secret"), None);
    }
}
