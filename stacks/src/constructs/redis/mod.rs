//! `RedisCache`: an encrypted, authenticated ElastiCache for Redis replication group.
//!
//! Secure defaults that cannot be switched off: encryption in transit and at rest (with
//! the stage's customer managed key, which also encrypts the secret and the slow log), an
//! AUTH token generated in Secrets Manager and passed by dynamic reference (it never
//! appears in the template), private subnets only, and a security group that admits
//! port 6379 only from the cache client group.

pub mod config;

use cfn::aws::elasticache::replication_group::{
    CloudWatchLogsDestinationDetails, DestinationDetails, DestinationType,
    LogDeliveryConfigurationRequest, LogFormat, LogType,
};
use cfn::aws::elasticache::{ParameterGroup, ReplicationGroup, SubnetGroup};
use cfn::aws::logs::LogGroup;
use cfn::aws::secretsmanager::Secret;
use cfn::aws::secretsmanager::secret::GenerateSecretString;
use cfn::{Expr, Handle, Policy, ResourceOptions, SecretsManagerRef, Template, TemplateError};
use serde_json::json;

use crate::constructs::network::REDIS_PORT;
use crate::stage::Stage;
use config::RedisConfig;

/// The replication group and what it needs.
#[derive(Clone, Debug)]
pub struct RedisCache {
    /// Sizing, windows and retention from the stage file.
    pub config: RedisConfig,
    /// `Fn::ImportValue`/`Ref` of the security group admitting port 6379 from clients.
    pub security_group_id: Expr,
    /// The private subnets, as a list expression.
    pub subnet_ids: Expr,
    /// KMS key (ARN) for the data at rest, the secret and the slow log.
    pub kms_key_arn: Expr,
}

/// Handles to what [`RedisCache::build`] created.
#[derive(Clone, Debug)]
pub struct RedisHandles {
    /// The replication group.
    pub replication_group: Handle<ReplicationGroup>,
    /// The AUTH token secret.
    pub auth_token: Handle<Secret>,
}

impl RedisCache {
    /// Whether the group has replicas, and so Multi-AZ with automatic failover.
    pub fn highly_available(&self) -> bool {
        self.config.replicas_per_node_group > 0
    }

    /// The physical id of the replication group: `roadcall-perf-<stage>`.
    pub fn replication_group_id(stage: &Stage<'_>) -> String {
        format!("{}-{}", crate::stage::PRODUCT, stage.name())
    }

    /// The ids of the shard primaries' cache clusters at creation, which CloudWatch uses as
    /// the `CacheClusterId` dimension of per-node metrics.
    pub fn primary_node_suffixes(config: &RedisConfig) -> Vec<String> {
        if config.cluster_mode {
            (1..=config.node_groups)
                .map(|shard| format!("-{shard:04}-001"))
                .collect()
        } else {
            vec!["-001".to_owned()]
        }
    }

    /// Adds the group, its secret, subnet group, parameter group and slow-log group.
    pub fn build(
        &self,
        stage: &Stage<'_>,
        t: &mut Template,
    ) -> Result<RedisHandles, TemplateError> {
        let c = &self.config;
        let auth_token = t.add_with(
            "RedisAuthToken",
            Secret::new()
                .name(format!(
                    "{}/{}/redis-auth-token",
                    crate::stage::PRODUCT,
                    stage.name()
                ))
                .description("AUTH token of the roadcall-perf Redis replication group")
                .kms_key_id(self.kms_key_arn.clone())
                .generate_secret_string(
                    // ElastiCache accepts 16-128 printable characters without / " @; letters
                    // and digits only keeps the token safe in URLs too.
                    GenerateSecretString::new()
                        .password_length(64)
                        .exclude_punctuation(true),
                ),
            ResourceOptions::default().retain_with(Policy::Delete),
        )?;
        let subnet_group = t.add(
            "RedisSubnetGroup",
            SubnetGroup::new(
                "Private subnets of the roadcall-perf Redis",
                self.subnet_ids.clone(),
            )
            .cache_subnet_group_name(stage.resource_name("redis")),
        )?;
        let parameter_group = t.add(
            "RedisParameterGroup",
            ParameterGroup::new("redis7", "roadcall-perf Redis 7 parameters").properties(json!({
                "cluster-enabled": if c.cluster_mode { "yes" } else { "no" },
                "maxmemory-policy": c.maxmemory_policy,
            })),
        )?;
        let slow_log = t.add_with(
            "RedisSlowLogGroup",
            LogGroup::new()
                .log_group_name(format!("/roadcall-perf/{}/redis/slow-log", stage.name()))
                .retention_in_days(c.slow_log_retention_days)
                .kms_key_id(self.kms_key_arn.clone()),
            ResourceOptions::default().retain_with(Policy::Delete),
        )?;

        let mut group = ReplicationGroup::new(format!("roadcall-perf {} cache", stage.name()))
            .replication_group_id(Self::replication_group_id(stage))
            .engine("redis")
            .engine_version(c.engine_version.as_str())
            .cache_node_type(c.node_type.as_str())
            .port(REDIS_PORT)
            .cache_subnet_group_name(subnet_group.ref_())
            .cache_parameter_group_name(parameter_group.ref_())
            .security_group_ids(vec![self.security_group_id.clone()])
            .transit_encryption_enabled(true)
            .at_rest_encryption_enabled(true)
            .kms_key_id(self.kms_key_arn.clone())
            .auth_token(SecretsManagerRef::new(auth_token.ref_()))
            .multi_az_enabled(self.highly_available())
            .automatic_failover_enabled(self.highly_available() || c.cluster_mode)
            .auto_minor_version_upgrade(true)
            .preferred_maintenance_window(c.maintenance_window.as_str())
            .snapshot_window(c.snapshot_window.as_str())
            .snapshot_retention_limit(c.snapshot_retention_days)
            .log_delivery_configurations(vec![
                LogDeliveryConfigurationRequest::new(
                    DestinationDetails::new().cloud_watch_logs_details(
                        CloudWatchLogsDestinationDetails::new(slow_log.ref_()),
                    ),
                    DestinationType::CloudwatchLogs,
                    LogFormat::Json,
                    LogType::SlowLog,
                )
                .into(),
            ]);
        group = if c.cluster_mode {
            group
                .num_node_groups(c.node_groups)
                .replicas_per_node_group(c.replicas_per_node_group)
        } else {
            group.num_cache_clusters(1 + c.replicas_per_node_group)
        };
        // A dev cache holds nothing worth a snapshot; elsewhere keep a final snapshot.
        let policy = if self.highly_available() {
            Policy::Snapshot
        } else {
            Policy::Delete
        };
        let replication_group = t.add_with(
            "RedisReplicationGroup",
            group,
            ResourceOptions::default().retain_with(policy),
        )?;

        let (address, port) = if c.cluster_mode {
            (
                replication_group.att_configuration_end_point_address(),
                replication_group.att_configuration_end_point_port(),
            )
        } else {
            (
                replication_group.att_primary_end_point_address(),
                replication_group.att_primary_end_point_port(),
            )
        };
        stage.export(
            t,
            "RedisEndpointAddress",
            if c.cluster_mode {
                "Configuration endpoint (cluster mode: connect as a Redis Cluster client)"
            } else {
                "Primary endpoint"
            },
            address.clone(),
            "redis",
            "endpoint",
        )?;
        stage.export(
            t,
            "RedisEndpointPort",
            "Redis port",
            port.clone(),
            "redis",
            "port",
        )?;
        if !c.cluster_mode {
            stage.export(
                t,
                "RedisReaderEndpointAddress",
                "Reader endpoint (replicas)",
                replication_group.att_reader_end_point_address(),
                "redis",
                "reader-endpoint",
            )?;
        }
        stage.export(
            t,
            "RedisUrl",
            "Connection URL without the token (TLS; read the token from the auth secret)",
            Expr::sub_with(
                "rediss://${Address}:${Port}",
                [("Address", address.to_json()), ("Port", port.to_json())],
            ),
            "redis",
            "url",
        )?;
        stage.export(
            t,
            "RedisClusterMode",
            "Whether clients must use cluster mode",
            if c.cluster_mode { "true" } else { "false" },
            "redis",
            "cluster-mode",
        )?;
        stage.export(
            t,
            "RedisAuthTokenSecretArn",
            "Secrets Manager secret holding the AUTH token",
            auth_token.ref_(),
            "redis",
            "auth-secret-arn",
        )?;
        stage.export(
            t,
            "RedisReplicationGroupId",
            "Replication group id (CloudWatch dimensions)",
            replication_group.ref_(),
            "redis",
            "replication-group-id",
        )?;
        Ok(RedisHandles {
            replication_group,
            auth_token,
        })
    }
}
