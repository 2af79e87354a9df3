//! Stage configuration: `stacks/stages/<stage>.toml`, every knob of a stage in one file.
//!
//! Every key is required (no silent defaults), unknown keys are rejected, and every value
//! is checked against what AWS accepts, with an error that names the file, the key and
//! the allowed values.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The largest stage file accepted; a larger one is not a hand-written configuration.
const MAX_FILE_BYTES: u64 = 256 * 1024;

/// Errors while finding, reading or checking a stage file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No `<stage>.toml` in the stages directory.
    #[error("unknown stage `{stage}`: no {path}; available stages: {}", available.join(", "))]
    UnknownStage {
        /// The stage asked for.
        stage: String,
        /// Where it was looked for.
        path: String,
        /// The stages that exist.
        available: Vec<String>,
    },
    /// A stage name that cannot be used in resource names.
    #[error(
        "invalid stage name `{0}`: use 1 to 11 lowercase letters, digits or `-`, starting with a letter"
    )]
    InvalidStageName(String),
    /// The file could not be read.
    #[error("{path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The file is not valid TOML for the schema: syntax, unknown key, missing key or
    /// wrong type.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, with the table the key is in.
        message: String,
    },
    /// A key holds a value AWS or this project does not accept.
    #[error("{path}: key `{key}` = {value}: {allowed}")]
    Invalid {
        /// The file.
        path: String,
        /// Dotted key, e.g. `redis.node_type`.
        key: String,
        /// The value found.
        value: String,
        /// What is allowed.
        allowed: String,
    },
}

/// A stage's whole configuration.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// The stage name (from the file name, not the file).
    #[serde(skip)]
    pub stage: String,
    /// The VPC the caches live in.
    pub network: NetworkConfig,
    /// ElastiCache for Redis.
    pub redis: RedisConfig,
    /// CloudFront distribution for static assets and `/api/*`.
    pub cdn: CdnConfig,
    /// DynamoDB Accelerator.
    pub dax: DaxConfig,
    /// AppSync API cache.
    pub appsync: AppSyncConfig,
    /// The scheduled Lambda warmer.
    pub warmer: WarmerConfig,
    /// Alarms and their thresholds.
    pub monitoring: MonitoringConfig,
    /// Rule suppressions, written into the named resources' `Metadata`.
    #[serde(default)]
    pub suppressions: Vec<SuppressionConfig>,
}

/// One `[[suppressions]]` entry: a rule that does not apply to one resource, and why.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SuppressionConfig {
    /// The stack part: network, redis, monitoring, dax, cdn, appsync-cache or warmer.
    pub stack: String,
    /// Logical id of the resource.
    pub resource: String,
    /// Rule id (`stacks check` rules, or checkov's `CKV_...`).
    pub rule: String,
    /// Why the rule does not apply (10 characters or more).
    pub reason: String,
}

/// `[network]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Default of the `VpcId` parameter.
    pub vpc_id: String,
    /// Default of the `PrivateSubnetIds` parameter (two or more, in distinct AZs).
    pub private_subnet_ids: Vec<String>,
}

/// `[redis]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// Redis engine version (7.x).
    pub engine_version: String,
    /// Cache node type.
    pub node_type: String,
    /// Cluster mode enabled (sharded, `ConfigurationEndPoint`).
    pub cluster_mode: bool,
    /// Number of shards; must be 1 without cluster mode.
    pub node_groups: u32,
    /// Replicas per shard; 1 or more turns on Multi-AZ and automatic failover.
    pub replicas_per_node_group: u32,
    /// `ddd:hh24:mi-ddd:hh24:mi` (UTC).
    pub maintenance_window: String,
    /// `hh24:mi-hh24:mi` (UTC).
    pub snapshot_window: String,
    /// Days of automatic backups kept.
    pub snapshot_retention_days: u32,
    /// Days the slow-log CloudWatch log group keeps entries.
    pub slow_log_retention_days: u32,
    /// `maxmemory-policy` in the parameter group.
    pub maxmemory_policy: String,
}

/// `[cdn]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CdnConfig {
    /// Default of the `ApiDomainName` parameter; empty drops the `/api/*` behavior.
    pub api_domain_name: String,
    /// Default of the `CertificateArn` parameter (ACM, us-east-1); empty uses the
    /// CloudFront default certificate.
    pub certificate_arn: String,
    /// Alternate domain names, used only with a certificate.
    pub aliases: Vec<String>,
    /// `PriceClass_100`, `PriceClass_200` or `PriceClass_All`.
    pub price_class: String,
    /// `/api/*` cache policy default TTL.
    pub api_default_ttl_seconds: u32,
    /// `/api/*` cache policy maximum TTL.
    pub api_max_ttl_seconds: u32,
    /// Days before access logs expire from the log bucket (also the WAF log retention).
    pub log_expiration_days: u32,
    /// Requests per client IP per 5 minutes before the WAF rate rule blocks it.
    pub rate_limit_per_5min: u32,
}

/// `[dax]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DaxConfig {
    /// DAX node type.
    pub node_type: String,
    /// Nodes in the cluster (1 to 10; 3 or more for production availability).
    pub replication_factor: u32,
    /// Default of the `IncidentsTableName` parameter (empty drops the cluster).
    pub incidents_table: String,
    /// Default of the `VendorsTableName` parameter.
    pub vendors_table: String,
    /// Default of the `TrackingTableName` parameter.
    pub tracking_table: String,
    /// Grants DAX write access to the tables (write-through).
    pub allow_writes: bool,
    /// Item cache TTL.
    pub item_ttl_seconds: u32,
    /// Query cache TTL.
    pub query_ttl_seconds: u32,
}

/// `[appsync]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AppSyncConfig {
    /// Default of the `AppSyncApiId` parameter; empty drops the cache.
    pub api_id: String,
    /// Cache TTL (1 to 3600 seconds).
    pub ttl_seconds: u32,
    /// Cache instance type.
    pub cache_type: String,
}

/// `[warmer]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WarmerConfig {
    /// EventBridge schedule expression.
    pub schedule: String,
    /// Default of the `WarmerCodeBucket` parameter.
    pub code_bucket: String,
    /// Default of the `WarmerCodeKey` parameter.
    pub code_key: String,
    /// Warmer memory.
    pub memory_mb: u32,
    /// Warmer timeout.
    pub timeout_seconds: u32,
    /// Days the warmer's log group keeps entries.
    pub log_retention_days: u32,
    /// Functions to keep warm.
    #[serde(default)]
    pub targets: Vec<WarmerTargetConfig>,
}

/// One `[[warmer.targets]]` entry.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WarmerTargetConfig {
    /// Function name.
    pub function: String,
    /// Alias or version; absent means `$LATEST`.
    #[serde(default)]
    pub qualifier: Option<String>,
    /// Concurrent environments to keep warm.
    pub concurrency: u32,
}

/// `[monitoring]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MonitoringConfig {
    /// Email subscribed to the alarm topic; empty for none.
    pub alarm_email: String,
    /// Redis engine CPU alarm threshold.
    pub redis_cpu_percent: u32,
    /// Redis hit-rate alarm threshold (alarm below).
    pub redis_hit_rate_percent: u32,
    /// Redis evictions per 5 minutes alarm threshold.
    pub redis_evictions_per_5min: u32,
    /// DAX item-cache hit-rate alarm threshold (alarm below).
    pub dax_hit_rate_percent: u32,
    /// Cold starts as a percentage of invocations (alarm above).
    pub cold_start_percent: u32,
    /// Pool exhaustion events per 5 minutes (alarm at or above).
    pub pool_exhausted_per_5min: u32,
}

/// CloudWatch Logs accepts only these retention periods.
pub const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Node types this project supports for Redis (current generation, in-transit
/// encryption capable).
pub const REDIS_NODE_TYPES: &[&str] = &[
    "cache.t3.micro",
    "cache.t3.small",
    "cache.t3.medium",
    "cache.t4g.micro",
    "cache.t4g.small",
    "cache.t4g.medium",
    "cache.m6g.large",
    "cache.m6g.xlarge",
    "cache.m6g.2xlarge",
    "cache.m7g.large",
    "cache.m7g.xlarge",
    "cache.r6g.large",
    "cache.r6g.xlarge",
    "cache.r6g.2xlarge",
    "cache.r7g.large",
    "cache.r7g.xlarge",
    "cache.r7g.2xlarge",
];

/// Redis engine versions of the `redis7` parameter group family.
pub const REDIS_ENGINE_VERSIONS: &[&str] = &["7.0", "7.1"];

/// `maxmemory-policy` values.
pub const MAXMEMORY_POLICIES: &[&str] = &[
    "volatile-lru",
    "allkeys-lru",
    "volatile-lfu",
    "allkeys-lfu",
    "volatile-random",
    "allkeys-random",
    "volatile-ttl",
    "noeviction",
];

/// DAX node types.
pub const DAX_NODE_TYPES: &[&str] = &[
    "dax.t3.small",
    "dax.t3.medium",
    "dax.r5.large",
    "dax.r5.xlarge",
    "dax.r5.2xlarge",
    "dax.r5.4xlarge",
];

/// AppSync API cache instance types.
pub const APPSYNC_CACHE_TYPES: &[&str] = &[
    "SMALL",
    "MEDIUM",
    "LARGE",
    "XLARGE",
    "LARGE_2X",
    "LARGE_4X",
    "LARGE_8X",
    "LARGE_12X",
];

/// CloudFront price classes.
pub const PRICE_CLASSES: &[&str] = &["PriceClass_100", "PriceClass_200", "PriceClass_All"];

/// Lists the stages in `dir` (the `*.toml` file stems), sorted.
pub fn list_stages(dir: &Path) -> Result<Vec<String>, ConfigError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ConfigError::Read {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let mut stages: Vec<String> = entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            if path.extension()? != "toml" {
                return None;
            }
            Some(path.file_stem()?.to_str()?.to_owned())
        })
        .collect();
    stages.sort();
    Ok(stages)
}

/// Reads and checks `<dir>/<stage>.toml`.
pub fn load_stage(dir: &Path, stage: &str) -> Result<StageConfig, ConfigError> {
    if !valid_stage_name(stage) {
        return Err(ConfigError::InvalidStageName(stage.to_owned()));
    }
    let path = dir.join(format!("{stage}.toml"));
    if !path.is_file() {
        return Err(ConfigError::UnknownStage {
            stage: stage.to_owned(),
            path: path.display().to_string(),
            available: list_stages(dir).unwrap_or_default(),
        });
    }
    let display = path.display().to_string();
    let size = std::fs::metadata(&path)
        .map_err(|e| ConfigError::Read {
            path: display.clone(),
            message: e.to_string(),
        })?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(ConfigError::Read {
            path: display,
            message: format!("file is {size} bytes; a stage file may be at most {MAX_FILE_BYTES}"),
        });
    }
    let bytes = std::fs::read(&path).map_err(|e| ConfigError::Read {
        path: display.clone(),
        message: e.to_string(),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| ConfigError::Read {
        path: display.clone(),
        message: format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
    })?;
    parse_stage(&path, stage, &text)
}

/// Parses and checks the text of a stage file. `path` is used in messages only.
pub fn parse_stage(path: &Path, stage: &str, text: &str) -> Result<StageConfig, ConfigError> {
    if !valid_stage_name(stage) {
        return Err(ConfigError::InvalidStageName(stage.to_owned()));
    }
    let display = path.display().to_string();
    let mut config: StageConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: display.clone(),
        message: parse_message(text, &e),
    })?;
    config.stage = stage.to_owned();
    Validator { path: display }.check(&config)?;
    Ok(config)
}

/// Stage names become part of stack, resource and export names.
pub fn valid_stage_name(stage: &str) -> bool {
    let mut chars = stage.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        // DAX cluster names (`roadcall-<stage>`) are limited to 20 characters.
        && stage.len() <= 11
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !stage.ends_with('-')
}

/// toml's message, prefixed with the table the error is in so the key can be found.
fn parse_message(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().to_owned();
    let Some(span) = error.span() else {
        return message;
    };
    let before = text.get(..span.start.min(text.len())).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let table = before
        .lines()
        .rev()
        .find_map(|l| {
            let l = l.trim();
            (l.starts_with('[') && l.ends_with(']'))
                .then(|| l.trim_matches(|c| c == '[' || c == ']').to_owned())
        })
        .map(|t| format!(" in [{t}]"))
        .unwrap_or_default();
    // The key on the error's line, when the error is about a value (`key = value`).
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_text = text
        .get(line_start..)
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default();
    let key = line_text
        .split_once('=')
        .filter(|(k, _)| span.start >= line_start + k.len())
        .map(|(k, _)| k.trim().trim_matches('"'))
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    let table_name = table.trim_start_matches(" in [").trim_end_matches(']');
    match key {
        Some(key) if !table_name.is_empty() => {
            format!("line {line}, key `{table_name}.{key}`: {message}")
        }
        Some(key) => format!("line {line}, key `{key}`: {message}"),
        None => {
            let snippet: String = text
                .get(span.clone())
                .unwrap_or_default()
                .chars()
                .take(60)
                .collect();
            if snippet.trim().is_empty() || snippet.contains('\n') {
                format!("line {line}{table}: {message}")
            } else {
                format!("line {line}{table}, at `{}`: {message}", snippet.trim())
            }
        }
    }
}

struct Validator {
    path: String,
}

impl Validator {
    fn invalid(
        &self,
        key: &str,
        value: impl fmt::Debug,
        allowed: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            key: key.to_owned(),
            value: format!("{value:?}"),
            allowed: allowed.into(),
        }
    }

    fn one_of(&self, key: &str, value: &str, allowed: &[&str]) -> Result<(), ConfigError> {
        if allowed.contains(&value) {
            Ok(())
        } else {
            Err(self.invalid(
                key,
                value,
                format!("expected one of {}", allowed.join(", ")),
            ))
        }
    }

    fn range(&self, key: &str, value: u32, min: u32, max: u32) -> Result<(), ConfigError> {
        if (min..=max).contains(&value) {
            Ok(())
        } else {
            Err(self.invalid(key, value, format!("expected {min} to {max}")))
        }
    }

    fn retention(&self, key: &str, days: u32) -> Result<(), ConfigError> {
        if LOG_RETENTION_DAYS.contains(&days) {
            Ok(())
        } else {
            let allowed: Vec<String> = LOG_RETENTION_DAYS.iter().map(u32::to_string).collect();
            Err(self.invalid(key, days, format!("expected one of {}", allowed.join(", "))))
        }
    }

    fn pattern(&self, key: &str, value: &str, ok: bool, what: &str) -> Result<(), ConfigError> {
        if ok {
            Ok(())
        } else {
            Err(self.invalid(key, value, what))
        }
    }

    fn check(&self, c: &StageConfig) -> Result<(), ConfigError> {
        let n = &c.network;
        self.pattern(
            "network.vpc_id",
            &n.vpc_id,
            aws_id(&n.vpc_id, "vpc-"),
            "expected a VPC id like vpc-0123456789abcdef0",
        )?;
        if n.private_subnet_ids.len() < 2 {
            return Err(self.invalid(
                "network.private_subnet_ids",
                &n.private_subnet_ids,
                "expected at least two subnets in distinct availability zones",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, subnet) in n.private_subnet_ids.iter().enumerate() {
            let key = format!("network.private_subnet_ids[{i}]");
            self.pattern(
                &key,
                subnet,
                aws_id(subnet, "subnet-"),
                "expected a subnet id like subnet-0123456789abcdef0",
            )?;
            if !seen.insert(subnet) {
                return Err(self.invalid(&key, subnet, "each subnet may appear once"));
            }
        }

        let r = &c.redis;
        self.one_of(
            "redis.engine_version",
            &r.engine_version,
            REDIS_ENGINE_VERSIONS,
        )?;
        self.one_of("redis.node_type", &r.node_type, REDIS_NODE_TYPES)?;
        self.one_of(
            "redis.maxmemory_policy",
            &r.maxmemory_policy,
            MAXMEMORY_POLICIES,
        )?;
        if r.cluster_mode {
            self.range("redis.node_groups", r.node_groups, 1, 500)?;
        } else if r.node_groups != 1 {
            return Err(self.invalid(
                "redis.node_groups",
                r.node_groups,
                "expected 1 when cluster_mode is false",
            ));
        }
        self.range(
            "redis.replicas_per_node_group",
            r.replicas_per_node_group,
            0,
            5,
        )?;
        self.pattern(
            "redis.maintenance_window",
            &r.maintenance_window,
            maintenance_window(&r.maintenance_window),
            "expected ddd:hh24:mi-ddd:hh24:mi in UTC, e.g. sun:05:00-sun:06:00",
        )?;
        self.pattern(
            "redis.snapshot_window",
            &r.snapshot_window,
            time_window(&r.snapshot_window),
            "expected hh24:mi-hh24:mi in UTC, at least 60 minutes, e.g. 03:00-04:00",
        )?;
        self.range(
            "redis.snapshot_retention_days",
            r.snapshot_retention_days,
            0,
            35,
        )?;
        self.retention("redis.slow_log_retention_days", r.slow_log_retention_days)?;

        let d = &c.cdn;
        self.pattern(
            "cdn.api_domain_name",
            &d.api_domain_name,
            d.api_domain_name.is_empty() || domain_name(&d.api_domain_name),
            "expected empty or a domain name like abc123.execute-api.us-east-1.amazonaws.com",
        )?;
        self.pattern(
            "cdn.certificate_arn",
            &d.certificate_arn,
            d.certificate_arn.is_empty() || d.certificate_arn.starts_with("arn:aws:acm:us-east-1:"),
            "expected empty or an ACM certificate ARN in us-east-1 (CloudFront reads certificates only there)",
        )?;
        for (i, alias) in d.aliases.iter().enumerate() {
            self.pattern(
                &format!("cdn.aliases[{i}]"),
                alias,
                domain_name(alias),
                "expected a domain name",
            )?;
        }
        if !d.aliases.is_empty() && d.certificate_arn.is_empty() {
            return Err(self.invalid(
                "cdn.aliases",
                &d.aliases,
                "aliases need cdn.certificate_arn to be set",
            ));
        }
        self.one_of("cdn.price_class", &d.price_class, PRICE_CLASSES)?;
        self.range(
            "cdn.api_max_ttl_seconds",
            d.api_max_ttl_seconds,
            0,
            31_536_000,
        )?;
        self.range(
            "cdn.api_default_ttl_seconds",
            d.api_default_ttl_seconds,
            0,
            d.api_max_ttl_seconds,
        )?;
        self.retention("cdn.log_expiration_days", d.log_expiration_days)?;
        self.range(
            "cdn.rate_limit_per_5min",
            d.rate_limit_per_5min,
            10,
            2_000_000_000,
        )?;

        let x = &c.dax;
        self.one_of("dax.node_type", &x.node_type, DAX_NODE_TYPES)?;
        self.range("dax.replication_factor", x.replication_factor, 1, 10)?;
        let tables = [
            ("dax.incidents_table", &x.incidents_table),
            ("dax.vendors_table", &x.vendors_table),
            ("dax.tracking_table", &x.tracking_table),
        ];
        for (key, table) in tables {
            self.pattern(
                key,
                table,
                table.is_empty() || table_name(table),
                "expected empty or a DynamoDB table name (3-255 of a-z A-Z 0-9 _ . -)",
            )?;
        }
        let empty = tables.iter().filter(|(_, t)| t.is_empty()).count();
        if empty != 0 && empty != tables.len() {
            return Err(self.invalid(
                "dax.incidents_table",
                &x.incidents_table,
                "set all three table names, or leave all three empty to drop the DAX cluster",
            ));
        }
        self.range("dax.item_ttl_seconds", x.item_ttl_seconds, 1, 86_400)?;
        self.range("dax.query_ttl_seconds", x.query_ttl_seconds, 1, 86_400)?;

        let a = &c.appsync;
        self.pattern(
            "appsync.api_id",
            &a.api_id,
            a.api_id.is_empty()
                || (a.api_id.len() <= 64 && a.api_id.chars().all(|ch| ch.is_ascii_alphanumeric())),
            "expected empty or an AppSync API id (letters and digits)",
        )?;
        self.range("appsync.ttl_seconds", a.ttl_seconds, 1, 3600)?;
        self.one_of("appsync.cache_type", &a.cache_type, APPSYNC_CACHE_TYPES)?;

        let w = &c.warmer;
        self.pattern(
            "warmer.schedule",
            &w.schedule,
            schedule_expression(&w.schedule),
            "expected rate(N minutes|hours|days) or cron(...)",
        )?;
        self.pattern(
            "warmer.code_bucket",
            &w.code_bucket,
            bucket_name(&w.code_bucket),
            "expected an S3 bucket name (3-63 of a-z 0-9 . -)",
        )?;
        self.pattern(
            "warmer.code_key",
            &w.code_key,
            !w.code_key.is_empty() && w.code_key.len() <= 1024 && !w.code_key.starts_with('/'),
            "expected an S3 object key such as lambdas/warmer.zip",
        )?;
        self.range("warmer.memory_mb", w.memory_mb, 128, 10_240)?;
        self.range("warmer.timeout_seconds", w.timeout_seconds, 1, 900)?;
        self.retention("warmer.log_retention_days", w.log_retention_days)?;
        let mut names = BTreeSet::new();
        for (i, t) in w.targets.iter().enumerate() {
            let key = format!("warmer.targets[{i}]");
            self.pattern(
                &format!("{key}.function"),
                &t.function,
                function_name(&t.function),
                "expected a Lambda function name (1-64 of a-z A-Z 0-9 - _)",
            )?;
            if let Some(q) = &t.qualifier {
                self.pattern(
                    &format!("{key}.qualifier"),
                    q,
                    qualifier(q),
                    "expected an alias or version (1-128 of a-z A-Z 0-9 - _, not starting with a digit unless all digits)",
                )?;
            }
            self.range(&format!("{key}.concurrency"), t.concurrency, 1, 50)?;
            if !names.insert((t.function.clone(), t.qualifier.clone())) {
                return Err(self.invalid(
                    &format!("{key}.function"),
                    &t.function,
                    "each function and qualifier may appear once",
                ));
            }
        }

        for (i, sup) in c.suppressions.iter().enumerate() {
            let key = format!("suppressions[{i}]");
            self.pattern(
                &format!("{key}.stack"),
                &sup.stack,
                crate::stage::Part::from_slug(&sup.stack).is_some(),
                "expected one of network, redis, monitoring, dax, cdn, appsync-cache, warmer",
            )?;
            self.pattern(
                &format!("{key}.resource"),
                &sup.resource,
                !sup.resource.is_empty() && sup.resource.chars().all(|c| c.is_ascii_alphanumeric()),
                "expected a logical id (letters and digits)",
            )?;
            self.pattern(
                &format!("{key}.rule"),
                &sup.rule,
                !sup.rule.is_empty()
                    && sup
                        .rule
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "expected a rule id such as S3_PUBLIC_ACCESS_BLOCKED or CKV_AWS_18",
            )?;
            self.pattern(
                &format!("{key}.reason"),
                &sup.reason,
                sup.reason.trim().chars().count() >= crate::check::MIN_REASON_CHARS,
                "expected a reason of at least 10 characters",
            )?;
        }

        let m = &c.monitoring;
        self.pattern(
            "monitoring.alarm_email",
            &m.alarm_email,
            m.alarm_email.is_empty() || email(&m.alarm_email),
            "expected empty or an email address",
        )?;
        self.range("monitoring.redis_cpu_percent", m.redis_cpu_percent, 1, 100)?;
        self.range(
            "monitoring.redis_hit_rate_percent",
            m.redis_hit_rate_percent,
            1,
            100,
        )?;
        self.range(
            "monitoring.redis_evictions_per_5min",
            m.redis_evictions_per_5min,
            1,
            u32::MAX,
        )?;
        self.range(
            "monitoring.dax_hit_rate_percent",
            m.dax_hit_rate_percent,
            1,
            100,
        )?;
        self.range(
            "monitoring.cold_start_percent",
            m.cold_start_percent,
            1,
            100,
        )?;
        self.range(
            "monitoring.pool_exhausted_per_5min",
            m.pool_exhausted_per_5min,
            1,
            u32::MAX,
        )?;
        Ok(())
    }
}

fn aws_id(value: &str, prefix: &str) -> bool {
    value.strip_prefix(prefix).is_some_and(|hex| {
        matches!(hex.len(), 8 | 17)
            && hex
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    })
}

fn domain_name(value: &str) -> bool {
    value.len() <= 253
        && value.contains('.')
        && value.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

fn table_name(value: &str) -> bool {
    (3..=255).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn bucket_name(value: &str) -> bool {
    (3..=63).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn function_name(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn qualifier(value: &str) -> bool {
    let all_digits = value.chars().all(|c| c.is_ascii_digit());
    (1..=128).contains(&value.len())
        && (all_digits
            || (value.starts_with(|c: char| c.is_ascii_alphabetic())
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')))
}

fn email(value: &str) -> bool {
    let mut parts = value.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(local), Some(domain), None)
        if !local.is_empty() && local.len() <= 64 && !local.contains(char::is_whitespace) && domain_name(&domain.to_ascii_lowercase()))
}

fn hh_mm(value: &str) -> Option<u32> {
    let (h, m) = value.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn time_window(value: &str) -> bool {
    let Some((start, end)) = value.split_once('-') else {
        return false;
    };
    match (hh_mm(start), hh_mm(end)) {
        (Some(s), Some(e)) => (e + 24 * 60 - s) % (24 * 60) >= 60,
        _ => false,
    }
}

fn maintenance_window(value: &str) -> bool {
    const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let Some((start, end)) = value.split_once('-') else {
        return false;
    };
    let minute_of_week = |part: &str| -> Option<u32> {
        let (day, time) = part.split_once(':')?;
        let d = DAYS.iter().position(|x| *x == day)? as u32;
        Some(d * 24 * 60 + hh_mm(time)?)
    };
    match (minute_of_week(start), minute_of_week(end)) {
        (Some(s), Some(e)) => (e + 7 * 24 * 60 - s) % (7 * 24 * 60) >= 60,
        _ => false,
    }
}

fn schedule_expression(value: &str) -> bool {
    if let Some(inner) = value
        .strip_prefix("rate(")
        .and_then(|v| v.strip_suffix(')'))
    {
        let mut parts = inner.split(' ');
        let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        let Ok(n) = n.parse::<u32>() else {
            return false;
        };
        return match unit {
            "minute" | "hour" | "day" => n == 1,
            "minutes" | "hours" | "days" => n > 1,
            _ => false,
        };
    }
    value
        .strip_prefix("cron(")
        .and_then(|v| v.strip_suffix(')'))
        .is_some_and(|inner| inner.split(' ').count() == 6)
}

/// The default stages directory: `stacks/stages` of this source tree.
pub fn default_stages_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("stages")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_checked_for_format_and_length() {
        assert!(maintenance_window("sun:05:00-sun:06:00"));
        assert!(maintenance_window("sat:23:30-sun:00:30"));
        assert!(!maintenance_window("sun:05:00-sun:05:30"));
        assert!(!maintenance_window("sunday:05:00-sun:06:00"));
        assert!(time_window("03:00-04:00"));
        assert!(time_window("23:30-00:30"));
        assert!(!time_window("03:00-03:30"));
        assert!(!time_window("3:00-04:00"));
    }

    #[test]
    fn schedule_expressions_follow_eventbridge_grammar() {
        assert!(schedule_expression("rate(5 minutes)"));
        assert!(schedule_expression("rate(1 hour)"));
        assert!(!schedule_expression("rate(1 minutes)"));
        assert!(!schedule_expression("rate(5 minute)"));
        assert!(schedule_expression("cron(0/5 * * * ? *)"));
        assert!(!schedule_expression("every 5 minutes"));
    }

    #[test]
    fn stage_names_are_safe_in_resource_names() {
        assert!(valid_stage_name("dev"));
        assert!(valid_stage_name("pr-42"));
        assert!(!valid_stage_name("Dev"));
        assert!(!valid_stage_name("../etc"));
        assert!(!valid_stage_name(""));
        assert!(!valid_stage_name("averyveryverylongstage"));
    }
}
