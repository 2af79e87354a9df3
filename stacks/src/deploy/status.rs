//! `stacks status`: each stack's CloudFormation status, and what the services report
//! about the resources (CloudFormation's COMPLETE only means the API call returned).

use std::fmt::Write as _;

use serde::Serialize;

use crate::app::Stack;
use crate::deploy::error::from_sdk;
use crate::deploy::outputs::{StackInfo, describe_stack, physical_id_of, stack_resources};
use crate::deploy::{AwsContext, DeployError};
use crate::stage::Part;

/// What one service reports about one resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceStatus {
    /// Service and resource kind, e.g. `ElastiCache replication group`.
    pub service: String,
    /// The resource's id.
    pub id: String,
    /// Labelled facts (status, endpoints, ...), in display order.
    pub fields: Vec<(String, String)>,
}

impl ServiceStatus {
    fn new(service: &str, id: &str) -> Self {
        Self {
            service: service.to_owned(),
            id: id.to_owned(),
            fields: Vec::new(),
        }
    }

    fn field(&mut self, label: &str, value: impl Into<String>) {
        let value = value.into();
        if !value.is_empty() {
            self.fields.push((label.to_owned(), value));
        }
    }

    /// The value of a field, if present.
    pub fn get(&self, label: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| v.as_str())
    }
}

/// One stack's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StackStatus {
    /// Stack name.
    pub stack: String,
    /// Region it lives in.
    pub region: String,
    /// CloudFormation's view; `None` when not deployed.
    pub cloudformation: Option<StackInfo>,
    /// The services' view of its main resources.
    pub services: Vec<ServiceStatus>,
    /// Service calls that failed (the rest of the status is still shown).
    pub errors: Vec<String>,
}

fn endpoint(address: Option<&str>, port: Option<i32>) -> String {
    match (address, port) {
        (Some(a), Some(p)) => format!("{a}:{p}"),
        (Some(a), None) => a.to_owned(),
        _ => String::new(),
    }
}

/// ElastiCache `DescribeReplicationGroups` for one group.
pub async fn replication_group(
    client: &aws_sdk_elasticache::Client,
    id: &str,
) -> Result<ServiceStatus, DeployError> {
    let response = client
        .describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeReplicationGroups", "", e))?;
    let group = response
        .replication_groups()
        .first()
        .ok_or_else(|| DeployError::NotDeployed(format!("replication group {id} not found")))?;
    let mut status = ServiceStatus::new("ElastiCache replication group", id);
    status.field("status", group.status().unwrap_or("unknown"));
    if let Some(configuration) = group.configuration_endpoint() {
        status.field(
            "configuration endpoint",
            endpoint(configuration.address(), configuration.port()),
        );
    }
    for node_group in group.node_groups() {
        let prefix = node_group.node_group_id().unwrap_or("shard");
        if let Some(primary) = node_group.primary_endpoint() {
            status.field(
                &format!("{prefix} primary"),
                endpoint(primary.address(), primary.port()),
            );
        }
        if let Some(reader) = node_group.reader_endpoint() {
            status.field(
                &format!("{prefix} reader"),
                endpoint(reader.address(), reader.port()),
            );
        }
    }
    status.field("members", group.member_clusters().len().to_string());
    if let Some(failover) = group.automatic_failover() {
        status.field("automatic failover", failover.as_str());
    }
    if let Some(multi_az) = group.multi_az() {
        status.field("multi-AZ", multi_az.as_str());
    }
    status.field(
        "encryption",
        format!(
            "in transit {}, at rest {}",
            group.transit_encryption_enabled().unwrap_or(false),
            group.at_rest_encryption_enabled().unwrap_or(false)
        ),
    );
    Ok(status)
}

/// DAX `DescribeClusters` for one cluster.
pub async fn dax_cluster(
    client: &aws_sdk_dax::Client,
    name: &str,
) -> Result<ServiceStatus, DeployError> {
    let response = client
        .describe_clusters()
        .cluster_names(name)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeClusters", "", e))?;
    let cluster = response
        .clusters()
        .first()
        .ok_or_else(|| DeployError::NotDeployed(format!("DAX cluster {name} not found")))?;
    let mut status = ServiceStatus::new("DAX cluster", name);
    status.field("status", cluster.status().unwrap_or("unknown"));
    if let Some(discovery) = cluster.cluster_discovery_endpoint() {
        let url = discovery
            .url()
            .map(str::to_owned)
            .unwrap_or_else(|| endpoint(discovery.address(), Some(discovery.port())));
        status.field("endpoint", url);
    }
    status.field(
        "nodes",
        format!(
            "{} active of {}",
            cluster.active_nodes().unwrap_or(0),
            cluster.total_nodes().unwrap_or(0)
        ),
    );
    if let Some(encryption) = cluster.cluster_endpoint_encryption_type() {
        status.field("endpoint encryption", encryption.as_str());
    }
    Ok(status)
}

/// CloudFront `GetDistribution`.
pub async fn distribution(
    client: &aws_sdk_cloudfront::Client,
    id: &str,
) -> Result<ServiceStatus, DeployError> {
    let response = client
        .get_distribution()
        .id(id)
        .send()
        .await
        .map_err(|e| from_sdk("GetDistribution", "", e))?;
    let distribution = response.distribution().ok_or_else(|| {
        DeployError::NotDeployed(format!("CloudFront distribution {id} not found"))
    })?;
    let mut status = ServiceStatus::new("CloudFront distribution", id);
    status.field("status", distribution.status());
    status.field("domain", distribution.domain_name());
    if let Some(config) = distribution.distribution_config() {
        status.field("enabled", config.enabled().to_string());
    }
    status.field(
        "invalidations in progress",
        distribution.in_progress_invalidation_batches().to_string(),
    );
    Ok(status)
}

/// AppSync `GetApiCache` for one API.
pub async fn api_cache(
    client: &aws_sdk_appsync::Client,
    api_id: &str,
) -> Result<ServiceStatus, DeployError> {
    let response = client
        .get_api_cache()
        .api_id(api_id)
        .send()
        .await
        .map_err(|e| from_sdk("GetApiCache", "", e))?;
    let cache = response
        .api_cache()
        .ok_or_else(|| DeployError::NotDeployed(format!("AppSync API {api_id} has no cache")))?;
    let mut status = ServiceStatus::new("AppSync API cache", api_id);
    status.field(
        "status",
        cache.status().map(|s| s.as_str()).unwrap_or("unknown"),
    );
    if let Some(kind) = cache.r#type() {
        status.field("type", kind.as_str());
    }
    if let Some(behavior) = cache.api_caching_behavior() {
        status.field("behavior", behavior.as_str());
    }
    status.field("ttl seconds", cache.ttl().to_string());
    status.field(
        "encryption",
        format!(
            "in transit {}, at rest {}",
            cache.transit_encryption_enabled(),
            cache.at_rest_encryption_enabled()
        ),
    );
    Ok(status)
}

/// EventBridge `DescribeRule` and `ListTargetsByRule` for the warmer's schedule.
pub async fn schedule_rule(
    client: &aws_sdk_eventbridge::Client,
    name: &str,
) -> Result<ServiceStatus, DeployError> {
    let rule = client
        .describe_rule()
        .name(name)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeRule", "", e))?;
    let targets = client
        .list_targets_by_rule()
        .rule(name)
        .send()
        .await
        .map_err(|e| from_sdk("ListTargetsByRule", "", e))?;
    let mut status = ServiceStatus::new("EventBridge rule", name);
    status.field(
        "state",
        rule.state().map(|s| s.as_str()).unwrap_or("unknown"),
    );
    status.field("schedule", rule.schedule_expression().unwrap_or_default());
    let target_list: Vec<String> = targets
        .targets()
        .iter()
        .map(|t| format!("{} -> {}", t.id(), t.arn()))
        .collect();
    status.field(
        "targets",
        if target_list.is_empty() {
            "none".to_owned()
        } else {
            target_list.join(", ")
        },
    );
    Ok(status)
}

/// The resource type whose service status a stack of `part` reports, if any.
pub fn watched_type(part: Part) -> Option<&'static str> {
    match part {
        Part::Redis => Some("AWS::ElastiCache::ReplicationGroup"),
        Part::Dax => Some("AWS::DAX::Cluster"),
        Part::Cdn => Some("AWS::CloudFront::Distribution"),
        Part::AppSyncCache => Some("AWS::AppSync::ApiCache"),
        Part::Warmer => Some("AWS::Events::Rule"),
        Part::Keys | Part::Network | Part::Monitoring | Part::Services => None,
    }
}

/// The id the service knows a stack's resource by, from the stack's outputs (or, for
/// the AppSync cache, its `AppSyncApiId` parameter); `None` when they do not say.
pub fn service_id_from_outputs(part: Part, info: &StackInfo) -> Option<String> {
    let output = |key: &str| info.outputs.get(key).filter(|v| !v.is_empty()).cloned();
    match part {
        Part::Redis => output("RedisReplicationGroupId"),
        // DescribeClusters takes the name: the ARN ends in `cache/<name>`.
        Part::Dax => output("DaxClusterArn")
            .and_then(|arn| arn.rsplit_once('/').map(|(_, name)| name.to_owned()))
            .filter(|name| !name.is_empty()),
        Part::Cdn => output("DistributionId"),
        Part::AppSyncCache => output("AppSyncCachedApiId").or_else(|| {
            info.parameters
                .get("AppSyncApiId")
                .filter(|v| !v.is_empty())
                .cloned()
        }),
        Part::Warmer => output("WarmerRuleName"),
        Part::Keys | Part::Network | Part::Monitoring | Part::Services => None,
    }
}

/// The status of one stack: CloudFormation, then the service that holds its resource.
/// A failing service call is recorded in `errors`, not returned, so one unreachable
/// service does not hide the rest.
pub async fn stack_status(ctx: &AwsContext, stack: &Stack) -> Result<StackStatus, DeployError> {
    let client = ctx.cloudformation(stack.part);
    let info = describe_stack(&client, &stack.name).await?;
    let mut result = StackStatus {
        stack: stack.name.clone(),
        region: ctx.region_for(stack.part).to_owned(),
        cloudformation: info.clone(),
        services: Vec::new(),
        errors: Vec::new(),
    };
    let (Some(info), Some(resource_type)) = (info, watched_type(stack.part)) else {
        return Ok(result);
    };
    let id = match service_id_from_outputs(stack.part, &info) {
        Some(id) => Some(id),
        None => {
            let resources = stack_resources(&client, &info.id).await?;
            physical_id_of(&resources, resource_type).map(str::to_owned)
        }
    };
    let Some(id) = id else {
        result
            .errors
            .push(format!("no {resource_type} in the stack (condition off?)"));
        return Ok(result);
    };
    let service = match stack.part {
        Part::Redis => replication_group(&ctx.elasticache(), &id).await,
        Part::Dax => dax_cluster(&ctx.dax(), &id).await,
        Part::Cdn => distribution(&ctx.cloudfront(), &id).await,
        Part::AppSyncCache => api_cache(&ctx.appsync(), &id).await,
        Part::Warmer => schedule_rule(&ctx.eventbridge(), &id).await,
        Part::Keys | Part::Network | Part::Monitoring | Part::Services => return Ok(result),
    };
    match service {
        Ok(status) => result.services.push(status),
        Err(error) => result.errors.push(error.to_string()),
    }
    Ok(result)
}

/// Statuses as text.
pub fn render_text(statuses: &[StackStatus]) -> String {
    let mut text = String::new();
    for status in statuses {
        match &status.cloudformation {
            None => {
                let _ = writeln!(text, "{} ({}): not deployed", status.stack, status.region);
            }
            Some(info) => {
                let _ = write!(
                    text,
                    "{} ({}): {}",
                    status.stack, status.region, info.status
                );
                if let Some(reason) = info.status_reason.as_deref().filter(|r| !r.is_empty()) {
                    let _ = write!(text, " ({reason})");
                }
                let _ = writeln!(text);
            }
        }
        for service in &status.services {
            let _ = writeln!(text, "  {} {}", service.service, service.id);
            for (label, value) in &service.fields {
                let _ = writeln!(text, "    {label}: {value}");
            }
        }
        for error in &status.errors {
            let _ = writeln!(text, "  ! {error}");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_status_text() {
        let mut rule = ServiceStatus::new("EventBridge rule", "r");
        rule.field("state", "ENABLED");
        rule.field("empty", "");
        let statuses = vec![
            StackStatus {
                stack: "a".into(),
                region: "eu-west-1".into(),
                cloudformation: Some(StackInfo {
                    status: "UPDATE_COMPLETE".into(),
                    ..StackInfo::default()
                }),
                services: vec![rule],
                errors: vec!["DescribeRule: boom".into()],
            },
            StackStatus {
                stack: "b".into(),
                region: "us-east-1".into(),
                cloudformation: None,
                services: vec![],
                errors: vec![],
            },
        ];
        assert_eq!(
            render_text(&statuses),
            "a (eu-west-1): UPDATE_COMPLETE\n  EventBridge rule r\n    state: ENABLED\n  ! DescribeRule: boom\nb (us-east-1): not deployed\n"
        );
    }

    #[test]
    fn ids_come_from_outputs_and_parameters() {
        let info = StackInfo {
            outputs: std::collections::BTreeMap::from([
                (
                    "DaxClusterArn".to_owned(),
                    "arn:aws:dax:eu-west-1:1:cache/roadcall-perf-dev-dax".to_owned(),
                ),
                ("RedisReplicationGroupId".to_owned(), "rg-1".to_owned()),
            ]),
            parameters: std::collections::BTreeMap::from([(
                "AppSyncApiId".to_owned(),
                "api1".to_owned(),
            )]),
            ..StackInfo::default()
        };
        assert_eq!(
            service_id_from_outputs(Part::Dax, &info).as_deref(),
            Some("roadcall-perf-dev-dax")
        );
        assert_eq!(
            service_id_from_outputs(Part::Redis, &info).as_deref(),
            Some("rg-1")
        );
        assert_eq!(
            service_id_from_outputs(Part::AppSyncCache, &info).as_deref(),
            Some("api1")
        );
        assert_eq!(service_id_from_outputs(Part::Cdn, &info), None);
        assert_eq!(service_id_from_outputs(Part::Keys, &info), None);
    }

    #[test]
    fn every_cache_stack_is_watched() {
        assert_eq!(
            watched_type(Part::Redis),
            Some("AWS::ElastiCache::ReplicationGroup")
        );
        assert_eq!(watched_type(Part::Keys), None);
    }
}
