//! The app: a stage's constructs placed into stacks by lifecycle.

use cfn::{Template, TemplateError};

use crate::config::StageConfig;
use crate::constructs::appsync::AppSyncCache;
use crate::constructs::cdn::Cdn;
use crate::constructs::dax::Dax;
use crate::constructs::keys::EncryptionKey;
use crate::constructs::monitoring::Monitoring;
use crate::constructs::network::NetworkSecurity;
use crate::constructs::redis::RedisCache;
use crate::constructs::services::Services;
use crate::constructs::warmer::Warmer;
use crate::stage::{Part, Stage};

/// One stack of a stage: its name, what it holds and its template.
#[derive(Clone, Debug)]
pub struct Stack {
    /// CloudFormation stack name, `roadcall-perf-<stage>-<part>`.
    pub name: String,
    /// What the stack holds.
    pub part: Part,
    /// Names of the stacks whose exports this one imports.
    pub depends_on: Vec<String>,
    /// The template.
    pub template: Template,
}

/// Builds every stack of the stage, in deployment order. A stage without a
/// `[services]` section has no services stack.
pub fn build_stage(config: &StageConfig) -> Result<Vec<Stack>, TemplateError> {
    let stage = Stage::new(config);
    Part::ALL
        .iter()
        .filter(|&&part| part != Part::Services || config.services.is_some())
        .map(|&part| build_stack(&stage, part))
        .collect()
}

/// Builds one stack of the stage.
pub fn build_stack(stage: &Stage<'_>, part: Part) -> Result<Stack, TemplateError> {
    let config = stage.config;
    let mut template;
    match part {
        Part::Keys => {
            template = stage.template(part, "customer managed KMS key of the stage");
            EncryptionKey.build(stage, &mut template)?;
        }
        Part::Network => {
            template = stage.template(part, "security groups of the caches and their clients");
            NetworkSecurity {
                vpc_id: config.network.vpc_id.clone(),
                private_subnet_ids: config.network.private_subnet_ids.clone(),
            }
            .build(stage, &mut template)?;
        }
        Part::Redis => {
            template = stage.template(part, "ElastiCache for Redis replication group");
            RedisCache {
                config: config.redis.clone(),
                security_group_id: stage.import("network", "redis-sg"),
                subnet_ids: stage.private_subnets(),
                kms_key_arn: stage.key_arn(),
            }
            .build(stage, &mut template)?;
        }
        Part::Monitoring => {
            template = stage.template(part, "alarm topic, alarms and dashboard");
            Monitoring {
                config: config.monitoring.clone(),
                redis: config.redis.clone(),
                replication_group_id: stage.import("redis", "replication-group-id"),
                kms_key_arn: stage.key_arn(),
            }
            .build(stage, &mut template)?;
        }
        Part::Dax => {
            template = stage.template(part, "DynamoDB Accelerator cluster");
            Dax {
                config: config.dax.clone(),
                security_group_id: stage.import("network", "dax-sg"),
                subnet_ids: stage.private_subnets(),
                alarm_topic_arn: stage.import("monitoring", "alarm-topic-arn"),
                hit_rate_alarm_percent: config.monitoring.dax_hit_rate_percent,
                maintenance_window: config.redis.maintenance_window.clone(),
            }
            .build(stage, &mut template)?;
        }
        Part::Services => {
            template = stage.template(
                part,
                "HTTP API and the vendor, incidents and payments functions",
            );
            let Some(services) = &config.services else {
                // build_stage leaves the part out; only a direct call can get here.
                return Err(TemplateError::DanglingReference {
                    from: stage.stack_name(part),
                    to: "the stage file's [services] section".to_owned(),
                });
            };
            Services {
                config: services.clone(),
                redis_cluster_mode: config.redis.cluster_mode,
                kms_key_arn: stage.key_arn(),
            }
            .build(stage, &mut template)?;
        }
        Part::Cdn => {
            template = stage.template(part, "CloudFront for static assets and /api/*");
            Cdn {
                config: config.cdn.clone(),
            }
            .build(stage, &mut template)?;
        }
        Part::AppSyncCache => {
            template = stage.template(part, "AppSync API cache");
            AppSyncCache {
                config: config.appsync.clone(),
            }
            .build(stage, &mut template)?;
        }
        Part::Warmer => {
            template = stage.template(part, "scheduled Lambda warmer");
            let mut warmer = Warmer::new(config.warmer.clone(), stage.key_arn());
            // One source: the services stack's functions and alias, then the stage
            // file's other targets.
            if let Some(services) = &config.services {
                for target in Services::warmer_targets(services, stage) {
                    warmer.add_target(target);
                }
            }
            warmer.build(stage, &mut template)?;
        }
    }
    for suppression in config
        .suppressions
        .iter()
        .filter(|s| s.stack == part.slug())
    {
        crate::check::add_suppression(
            &mut template,
            &suppression.resource,
            &suppression.rule,
            &suppression.reason,
        )?;
    }
    template.validate_references()?;
    Ok(Stack {
        name: stage.stack_name(part),
        part,
        depends_on: part
            .depends_on()
            .iter()
            .map(|&p| stage.stack_name(p))
            .collect(),
        template,
    })
}
