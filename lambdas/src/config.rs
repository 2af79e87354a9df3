//! Configuration from the environment, parsed once at start.

use std::time::Duration;

use aurora::AuroraConfig;
use cache::CacheConfig;

/// Errors naming the variable at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The database configuration is missing or wrong.
    #[error("database: {0}")]
    Database(#[from] aurora::ConfigError),
    /// The Redis configuration is wrong.
    #[error("redis: {0}")]
    Redis(#[from] cache::ConfigError),
    /// Another variable is wrong.
    #[error("{variable}: {message}")]
    Invalid {
        /// The variable.
        variable: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// The Secrets Manager secret that holds the Redis AUTH token (`REDIS_AUTH_SECRET_ARN`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisAuthSecret {
    /// ARN (or name) of the secret. Its `SecretString` is the token itself, or a JSON
    /// object with a `password` field.
    pub secret_id: String,
    /// The secret's region: `AWS_REGION` (Lambda sets it), else the ARN's.
    pub region: String,
}

/// ElastiCache IAM authentication (`REDIS_IAM_AUTH=true`): the cache signs a short-lived
/// token with the function role's credentials and sends `AUTH <user> <token>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisIamAuth {
    /// The replication group the token is signed for (`REDIS_REPLICATION_GROUP_ID`,
    /// lowercase, as ElastiCache keeps it): the host of the presigned request.
    pub replication_group_id: String,
    /// The IAM-enabled user (`REDIS_USERNAME`): ElastiCache requires its id and name to
    /// be equal, so one value is both the token's `User` and the `AUTH` user name.
    pub user_id: String,
    /// The signing region (`AWS_REGION`, which Lambda sets).
    pub region: String,
}

/// Everything a service needs.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// PostgreSQL (`DATABASE_URL` and friends).
    pub database: AuroraConfig,
    /// Redis (`REDIS_URL` and friends); `None` when `REDIS_URL` is unset: every read then
    /// goes to the database (`X-Cache: BYPASS`).
    pub redis: Option<CacheConfig>,
    /// Where the Redis AUTH token comes from when it is not in `REDIS_PASSWORD` or the URL
    /// (`REDIS_AUTH_SECRET_ARN`): read at start and again after Redis refuses it.
    pub redis_auth_secret: Option<RedisAuthSecret>,
    /// ElastiCache IAM authentication (`REDIS_IAM_AUTH=true`, with `REDIS_USERNAME`,
    /// `REDIS_REPLICATION_GROUP_ID` and `AWS_REGION`): a token signed at every connect.
    pub redis_iam_auth: Option<RedisIamAuth>,
    /// Stage name for metrics (`STAGE`, default `local`).
    pub stage: String,
    /// Radius in which an incident is matched to a vendor (`MATCH_RADIUS_MILES`, default 50).
    pub match_radius_miles: f64,
    /// The most incidents one claim transaction creates (`INCIDENT_BATCH_MAX`, default
    /// 1000; 1 turns batching off).
    pub incident_batch_max: usize,
    /// Where an incident's claim gets its candidate vendors (`INCIDENT_CANDIDATES`, default
    /// `index`): see [`CandidateSource`].
    pub incident_candidates: CandidateSource,
    /// How long a warmer ping holds its execution environment (`WARMER_HOLD_MS`, default 75).
    pub warmer_hold: Duration,
    /// Emit CloudWatch EMF metric lines on stdout (`EMF_METRICS`, default on under Lambda).
    pub emf_metrics: bool,
    /// Take the caller of ALB events from `x-amzn-oidc-identity` (`ALB_OIDC_IDENTITY`,
    /// default off): only true when every listener rule authenticates first, so that the
    /// load balancer, not the client, sets the header.
    pub alb_oidc_identity: bool,
    /// The vendor wing (`VENDOR_REGION` names the index's region,
    /// `VENDOR_PROFILE_LOCAL_TTL_MS` the in-process profile tier's staleness bound, default
    /// 250, 0 = off; `VENDOR_INDEX_BATCH_MAX` the most candidate searches or cache updates
    /// of concurrent incidents in one Redis round trip, default 16, 1 = each alone; the
    /// rest are defaults).
    pub vendors: vendors::VendorsConfig,
}

/// Where the claim of an incident gets the vendors it tries first. The claim statement
/// always decides (free, capable, in range, nearest first) and searches the table when no
/// candidate is free; candidates only save it that search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateSource {
    /// The geo index, when Redis is configured (`index`, the default). Without PostGIS the
    /// table search reads a latitude band; with it the search is index-ordered and about
    /// as cheap as the candidates' lookup, but the index searches before the claims
    /// measured as the better feed for a burst (docs/PERFORMANCE.md, "Session 4").
    Index,
    /// Never the index (`database`): every claim searches the table.
    Database,
}

impl AppConfig {
    /// From the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// From any lookup (tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let database = AuroraConfig::from_lookup(&lookup)?;
        let redis = match get("REDIS_URL") {
            Some(_) => Some(CacheConfig::from_lookup(&lookup)?),
            None => None,
        };
        let redis_auth_secret = match get("REDIS_AUTH_SECRET_ARN") {
            None => None,
            Some(secret_id) => {
                let invalid = |message: &str| ConfigError::Invalid {
                    variable: "REDIS_AUTH_SECRET_ARN",
                    message: message.to_owned(),
                };
                if redis.is_none() {
                    return Err(invalid("is set but REDIS_URL is not"));
                }
                if get("REDIS_PASSWORD").is_some() {
                    return Err(invalid(
                        "set either REDIS_PASSWORD or REDIS_AUTH_SECRET_ARN, not both",
                    ));
                }
                let region = get("AWS_REGION")
                    .or_else(|| aurora::config::region_from_arn(&secret_id))
                    .ok_or(ConfigError::Invalid {
                        variable: "AWS_REGION",
                        message: "not set, and REDIS_AUTH_SECRET_ARN is not an ARN naming one"
                            .to_owned(),
                    })?;
                Some(RedisAuthSecret { secret_id, region })
            }
        };
        let redis_iam_auth = redis_iam_auth(&get, redis.as_ref(), redis_auth_secret.is_some())?;
        let match_radius_miles = match get("MATCH_RADIUS_MILES") {
            None => 50.0,
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && *r > 0.0 && *r <= 500.0)
                .ok_or_else(|| ConfigError::Invalid {
                    variable: "MATCH_RADIUS_MILES",
                    message: format!("`{v}` is not a number of miles in (0, 500]"),
                })?,
        };
        let warmer_hold = match get("WARMER_HOLD_MS") {
            None => Duration::from_millis(75),
            Some(v) => Duration::from_millis(
                v.parse::<u64>()
                    .ok()
                    .filter(|ms| *ms <= 10_000)
                    .ok_or_else(|| ConfigError::Invalid {
                        variable: "WARMER_HOLD_MS",
                        message: format!("`{v}` is not a number of milliseconds in [0, 10000]"),
                    })?,
            ),
        };
        let incident_batch_max = match get("INCIDENT_BATCH_MAX") {
            None => crate::db::incidents::MAX_BATCH,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| ConfigError::Invalid {
                    variable: "INCIDENT_BATCH_MAX",
                    message: format!("`{v}` is not a whole number in [1, 10000]"),
                })?,
        };
        let incident_candidates = match get("INCIDENT_CANDIDATES").as_deref() {
            None | Some("index") => CandidateSource::Index,
            Some("database") => CandidateSource::Database,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    variable: "INCIDENT_CANDIDATES",
                    message: format!("`{other}` is not one of index, database"),
                });
            }
        };
        let on_lambda = get("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let flag = |variable: &'static str, default: bool| match get(variable).as_deref() {
            None => Ok(default),
            Some("1" | "true" | "on") => Ok(true),
            Some("0" | "false" | "off") => Ok(false),
            Some(other) => Err(ConfigError::Invalid {
                variable,
                message: format!("`{other}` is not one of true, false"),
            }),
        };
        let emf_metrics = flag("EMF_METRICS", on_lambda)?;
        let alb_oidc_identity = flag("ALB_OIDC_IDENTITY", false)?;
        let mut vendors = vendors::VendorsConfig::default();
        if let Some(v) = get("VENDOR_PROFILE_LOCAL_TTL_MS") {
            vendors.profile_local_ttl = Duration::from_millis(
                v.parse::<u64>()
                    .ok()
                    .filter(|ms| *ms <= 60_000)
                    .ok_or_else(|| ConfigError::Invalid {
                        variable: "VENDOR_PROFILE_LOCAL_TTL_MS",
                        message: format!("`{v}` is not a number of milliseconds in [0, 60000]"),
                    })?,
            );
        }
        if let Some(v) = get("VENDOR_INDEX_BATCH_MAX") {
            vendors.index_batch_max = v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| ConfigError::Invalid {
                    variable: "VENDOR_INDEX_BATCH_MAX",
                    message: format!("`{v}` is not a whole number in [1, 1000]"),
                })?;
        }
        if let Some(region) = get("VENDOR_REGION") {
            if !region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(ConfigError::Invalid {
                    variable: "VENDOR_REGION",
                    message: format!("`{region}` must be letters, digits, '-' or '_'"),
                });
            }
            vendors.region = region;
        }
        Ok(Self {
            database,
            redis,
            redis_auth_secret,
            redis_iam_auth,
            vendors,
            stage: get("STAGE").unwrap_or_else(|| "local".to_owned()),
            match_radius_miles,
            incident_batch_max,
            incident_candidates,
            warmer_hold,
            emf_metrics,
            alb_oidc_identity,
        })
    }
}

/// `REDIS_IAM_AUTH` and the variables it needs; `None` when it is unset or false.
fn redis_iam_auth(
    get: &impl Fn(&str) -> Option<String>,
    redis: Option<&CacheConfig>,
    auth_secret: bool,
) -> Result<Option<RedisIamAuth>, ConfigError> {
    let invalid = |variable: &'static str, message: &str| ConfigError::Invalid {
        variable,
        message: message.to_owned(),
    };
    match get("REDIS_IAM_AUTH").as_deref().map(str::trim) {
        None | Some("0" | "false" | "off") => return Ok(None),
        Some("1" | "true" | "on") => {}
        Some(other) => {
            return Err(ConfigError::Invalid {
                variable: "REDIS_IAM_AUTH",
                message: format!("`{other}` is not one of true, false"),
            });
        }
    }
    let Some(redis) = redis else {
        return Err(invalid(
            "REDIS_IAM_AUTH",
            "is true but REDIS_URL is not set",
        ));
    };
    // ElastiCache takes IAM tokens over TLS only; over plain TCP the token, which is
    // valid for 15 minutes, would cross the network readable.
    if redis.urls.iter().any(|url| !url.starts_with("rediss://")) {
        return Err(invalid(
            "REDIS_URL",
            "IAM authentication needs rediss:// (TLS) URLs",
        ));
    }
    if get("REDIS_PASSWORD").is_some() || auth_secret {
        return Err(invalid(
            "REDIS_IAM_AUTH",
            "set one of REDIS_PASSWORD, REDIS_AUTH_SECRET_ARN and REDIS_IAM_AUTH, not several",
        ));
    }
    let user_id = get("REDIS_USERNAME").ok_or(invalid(
        "REDIS_USERNAME",
        "not set (REDIS_IAM_AUTH needs the IAM-enabled user's id, which is its name)",
    ))?;
    let replication_group_id = get("REDIS_REPLICATION_GROUP_ID").ok_or(invalid(
        "REDIS_REPLICATION_GROUP_ID",
        "not set (REDIS_IAM_AUTH signs its tokens for the replication group)",
    ))?;
    // ElastiCache's rule for the id: 1-40 lowercase letters, digits and hyphens, starting
    // with a letter. The token's host must be that id exactly, so a capital is refused
    // here rather than met as a refused AUTH.
    let valid_id = replication_group_id.len() <= 40
        && replication_group_id
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase())
        && replication_group_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid_id {
        return Err(ConfigError::Invalid {
            variable: "REDIS_REPLICATION_GROUP_ID",
            message: format!(
                "`{replication_group_id}` is not a replication group id (1-40 lowercase letters, digits, '-', starting with a letter)"
            ),
        });
    }
    let region = get("AWS_REGION").ok_or(invalid(
        "AWS_REGION",
        "not set (REDIS_IAM_AUTH signs its tokens for the region; Lambda sets it)",
    ))?;
    Ok(Some(RedisIamAuth {
        replication_group_id,
        user_id,
        region,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<AppConfig, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        AppConfig::from_lookup(move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    const ARN: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:roadcall-perf/dev/redis-auth-token-AbCdEf";

    #[test]
    fn the_redis_auth_secret_takes_its_region_from_lambda_or_the_arn() {
        let base = [
            ("DATABASE_URL", "postgres://u@127.0.0.1/db"),
            ("REDIS_URL", "rediss://cache:6379"),
            ("REDIS_AUTH_SECRET_ARN", ARN),
        ];
        let from_arn = config(&base).expect("config");
        assert_eq!(
            from_arn.redis_auth_secret,
            Some(RedisAuthSecret {
                secret_id: ARN.to_owned(),
                region: "eu-west-1".to_owned()
            })
        );
        let mut with_region = base.to_vec();
        with_region.push(("AWS_REGION", "us-east-2"));
        let from_lambda = config(&with_region).expect("config");
        assert_eq!(
            from_lambda.redis_auth_secret.map(|s| s.region).as_deref(),
            Some("us-east-2")
        );
        assert_eq!(config(&base[..2]).expect("config").redis_auth_secret, None);
    }

    #[test]
    fn a_redis_auth_secret_that_cannot_be_used_names_the_variable() {
        let name_only = config(&[
            ("DATABASE_URL", "postgres://u@127.0.0.1/db"),
            ("REDIS_URL", "rediss://cache:6379"),
            ("REDIS_AUTH_SECRET_ARN", "just-a-name"),
        ])
        .unwrap_err();
        assert!(
            name_only.to_string().starts_with("AWS_REGION:"),
            "{name_only}"
        );
        let both = config(&[
            ("DATABASE_URL", "postgres://u@127.0.0.1/db"),
            ("REDIS_URL", "rediss://cache:6379"),
            ("REDIS_PASSWORD", "token"),
            ("REDIS_AUTH_SECRET_ARN", ARN),
        ])
        .unwrap_err();
        assert!(
            both.to_string().starts_with("REDIS_AUTH_SECRET_ARN:"),
            "{both}"
        );
        let no_redis = config(&[
            ("DATABASE_URL", "postgres://u@127.0.0.1/db"),
            ("REDIS_AUTH_SECRET_ARN", ARN),
        ])
        .unwrap_err();
        assert!(
            no_redis.to_string().contains("REDIS_URL is not"),
            "{no_redis}"
        );
    }

    const IAM: [(&str, &str); 6] = [
        ("DATABASE_URL", "postgres://u@127.0.0.1/db"),
        (
            "REDIS_URL",
            "rediss://master.roadcall-perf-dev.abc123.euw1.cache.amazonaws.com:6379",
        ),
        ("REDIS_IAM_AUTH", "true"),
        ("REDIS_USERNAME", "roadcall-perf-dev-app"),
        ("REDIS_REPLICATION_GROUP_ID", "roadcall-perf-dev"),
        ("AWS_REGION", "eu-west-1"),
    ];

    /// `IAM` with `name` replaced by `value` (or removed, with `None`).
    fn iam_with(
        name: &'static str,
        value: Option<&'static str>,
    ) -> Vec<(&'static str, &'static str)> {
        let mut vars: Vec<_> = IAM.iter().copied().filter(|(k, _)| *k != name).collect();
        vars.extend(value.map(|value| (name, value)));
        vars
    }

    #[test]
    fn redis_iam_auth_takes_the_user_the_group_and_the_region() {
        let iam = config(&IAM).expect("config");
        assert_eq!(
            iam.redis_iam_auth,
            Some(RedisIamAuth {
                replication_group_id: "roadcall-perf-dev".to_owned(),
                user_id: "roadcall-perf-dev-app".to_owned(),
                region: "eu-west-1".to_owned(),
            })
        );
        // The same user name is the one the cache sends with AUTH.
        let redis = iam.redis.expect("redis");
        assert_eq!(redis.username.as_deref(), Some("roadcall-perf-dev-app"));
        assert_eq!(redis.password, None);
        for off in ["false", "0"] {
            let off_config = config(&iam_with("REDIS_IAM_AUTH", Some(off))).expect("config");
            assert_eq!(off_config.redis_iam_auth, None, "REDIS_IAM_AUTH={off}");
        }
        assert_eq!(
            config(&iam_with("REDIS_IAM_AUTH", None))
                .expect("config")
                .redis_iam_auth,
            None
        );
    }

    #[test]
    fn redis_iam_auth_that_cannot_work_names_the_variable() {
        let error = |vars: &[(&str, &str)]| config(vars).expect_err("refused").to_string();
        for missing in ["REDIS_USERNAME", "REDIS_REPLICATION_GROUP_ID", "AWS_REGION"] {
            let message = error(&iam_with(missing, None));
            assert!(message.starts_with(&format!("{missing}:")), "{message}");
        }
        let message = error(&iam_with("REDIS_URL", None));
        assert!(
            message.starts_with("REDIS_IAM_AUTH:") && message.contains("REDIS_URL"),
            "{message}"
        );
        let message = error(&iam_with("REDIS_URL", Some("redis://cache:6379")));
        assert!(
            message.starts_with("REDIS_URL:") && message.contains("rediss://"),
            "{message}"
        );
        for bad in ["Roadcall-Perf-Dev", "1group", "group_one"] {
            let message = error(&iam_with("REDIS_REPLICATION_GROUP_ID", Some(bad)));
            assert!(
                message.starts_with("REDIS_REPLICATION_GROUP_ID:") && message.contains(bad),
                "{message}"
            );
        }
        let message = error(&iam_with("REDIS_IAM_AUTH", Some("yes")));
        assert!(message.starts_with("REDIS_IAM_AUTH:"), "{message}");
        let mut with_password = IAM.to_vec();
        with_password.push(("REDIS_PASSWORD", "token"));
        let message = error(&with_password);
        assert!(message.starts_with("REDIS_IAM_AUTH:"), "{message}");
        let mut with_secret = IAM.to_vec();
        with_secret.push(("REDIS_AUTH_SECRET_ARN", ARN));
        let message = error(&with_secret);
        assert!(message.starts_with("REDIS_IAM_AUTH:"), "{message}");
    }

    #[test]
    fn the_index_batch_size_is_read_and_checked() {
        let base = [("DATABASE_URL", "postgres://u@127.0.0.1/db")];
        assert_eq!(config(&base).expect("config").vendors.index_batch_max, 16);
        let mut one = base.to_vec();
        one.push(("VENDOR_INDEX_BATCH_MAX", "1"));
        assert_eq!(config(&one).expect("config").vendors.index_batch_max, 1);
        let mut zero = base.to_vec();
        zero.push(("VENDOR_INDEX_BATCH_MAX", "0"));
        let error = config(&zero).expect_err("0 is refused").to_string();
        assert!(error.contains("VENDOR_INDEX_BATCH_MAX"), "{error}");
    }

    #[test]
    fn the_candidate_source_is_read_and_checked() {
        let base = [("DATABASE_URL", "postgres://u@127.0.0.1/db")];
        let source = |v: &'static str| {
            let mut vars = base.to_vec();
            vars.push(("INCIDENT_CANDIDATES", v));
            config(&vars).map(|c| c.incident_candidates)
        };
        assert_eq!(
            config(&base).expect("config").incident_candidates,
            CandidateSource::Index
        );
        assert_eq!(
            source("database").expect("config"),
            CandidateSource::Database
        );
        let error = source("redis").expect_err("refused").to_string();
        assert!(error.contains("INCIDENT_CANDIDATES"), "{error}");
    }
}
