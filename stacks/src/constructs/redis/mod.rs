//! `RedisCache`: an encrypted, authenticated ElastiCache for Redis replication group.
//!
//! Secure defaults that cannot be switched off: encryption in transit and at rest (with
//! the stage's customer managed key, which also encrypts the slow log), role-based access
//! control with IAM authentication (no password exists: a client signs a short-lived
//! token with its role's credentials, which rotate on their own), private subnets only,
//! and a security group that admits port 6379 only from the cache client group.
//!
//! The user group holds two users: the app user, which authenticates with IAM, and the
//! `default` user every Redis user group must contain, switched off. A snapshot restored
//! into a new group needs only this user group (or one with the same user names): there
//! is no secret to lose with the stack.

pub mod config;

use cfn::aws::elasticache::replication_group::{
    CloudWatchLogsDestinationDetails, DestinationDetails, DestinationType,
    LogDeliveryConfigurationRequest, LogFormat, LogType,
};
use cfn::aws::elasticache::user::{AuthenticationMode, Engine as UserEngine, Type as AuthType};
use cfn::aws::elasticache::user_group::Engine as UserGroupEngine;
use cfn::aws::elasticache::{ParameterGroup, ReplicationGroup, SubnetGroup, User, UserGroup};
use cfn::aws::iam::ManagedPolicy;
use cfn::aws::logs::LogGroup;
use cfn::{Expr, Handle, Policy, ResourceOptions, Template, TemplateError};
use serde_json::json;

use crate::constructs::network::REDIS_PORT;
use crate::constructs::policy;
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
    /// The user group (the app user and the disabled default user).
    pub user_group: Handle<UserGroup>,
    /// The managed policy granting `elasticache:Connect` as the app user.
    pub connect_policy: Handle<ManagedPolicy>,
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

    /// The app user's id and name (equal, as IAM authentication requires):
    /// `roadcall-perf-<stage>-app`.
    pub fn app_user(stage: &Stage<'_>) -> String {
        stage.resource_name("app")
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
        // What the group's data gets on deletion or replacement, and so what everything
        // else of the stack that holds state gets too.
        let data_policy = if self.highly_available() {
            Policy::Snapshot
        } else {
            Policy::Delete
        };
        let users = self.users(stage, t)?;
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
            ResourceOptions::default().retain_with(policy::log_group_policy(stage)),
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
            .user_group_ids(vec![users.user_group.ref_()])
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
        let replication_group = t.add_with(
            "RedisReplicationGroup",
            group,
            // A dev cache holds nothing worth a snapshot; elsewhere keep a final snapshot.
            ResourceOptions::default().retain_with(data_policy),
        )?;
        crate::check::add_suppression(
            t,
            "RedisReplicationGroup",
            crate::check::native::CUSTOM_NAME_REPLACEMENT,
            "The replication group id names the CloudWatch dimensions of the alarms and the dashboard; \
             `stacks diff` and `stacks deploy` stop before a change set that would replace the group",
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
        let connect_policy = t.add_with(
            "RedisConnectPolicy",
            ManagedPolicy::new(policy::document(vec![policy::allow(
                &["elasticache:Connect"],
                vec![
                    Expr::sub(
                        "arn:${AWS::Partition}:elasticache:${AWS::Region}:${AWS::AccountId}:replicationgroup:${RedisReplicationGroup}",
                    )
                    .to_json(),
                    users.app_user.att_arn().to_json(),
                ],
            )]))
            .description("Connect to the stage's Redis as the app user (IAM authentication)"),
            ResourceOptions::default(),
        )?;
        stage.export(
            t,
            "RedisUserName",
            "User to authenticate as (IAM authentication: sign a token with the role's credentials)",
            Self::app_user(stage),
            "redis",
            "user-name",
        )?;
        stage.export(
            t,
            "RedisConnectPolicyArn",
            "Managed policy to attach to the roles of Redis clients (elasticache:Connect)",
            connect_policy.ref_(),
            "redis",
            "connect-policy-arn",
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
            user_group: users.user_group,
            connect_policy,
        })
    }

    /// The app user (IAM authentication), the disabled default user and their group.
    fn users(&self, stage: &Stage<'_>, t: &mut Template) -> Result<Users, TemplateError> {
        let app = Self::app_user(stage);
        // IAM authentication needs the user id and name to be equal. The app's keys all
        // carry the cache crate's prefix, but its Lua scripts and the cluster client need
        // more than plain reads and writes: everything except the dangerous commands
        // (FLUSHALL, KEYS, CONFIG, DEBUG...), which ElastiCache keeps for itself anyway.
        let app_user = t.add(
            "RedisAppUser",
            User::new(UserEngine::Redis, app.as_str(), app.as_str())
                .access_string(APP_ACCESS_STRING)
                .authentication_mode(AuthenticationMode::new(AuthType::Iam)),
        )?;
        // Every Redis user group must hold a user named `default`; this one is off, so a
        // client that does not authenticate as the app user gets nothing.
        let default_id = stage.resource_name("default");
        let default_user = t.add(
            "RedisDefaultUser",
            User::new(UserEngine::Redis, default_id.as_str(), "default")
                .access_string(DEFAULT_ACCESS_STRING)
                .authentication_mode(AuthenticationMode::new(AuthType::NoPasswordRequired)),
        )?;
        let user_group = t.add(
            "RedisUserGroup",
            UserGroup::new(
                UserGroupEngine::Redis,
                stage.resource_name("redis"),
                vec![default_user.ref_(), app_user.ref_()],
            ),
        )?;
        Ok(Users {
            app_user,
            user_group,
        })
    }
}

/// What the app user may do: every key, every command but the dangerous ones.
pub const APP_ACCESS_STRING: &str = "on ~* +@all -@dangerous";
/// The mandatory `default` user, switched off.
pub const DEFAULT_ACCESS_STRING: &str = "off -@all";

struct Users {
    app_user: Handle<User>,
    user_group: Handle<UserGroup>,
}
