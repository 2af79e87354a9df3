//! `Dax`: a DynamoDB Accelerator cluster in front of the platform's tables.
//!
//! Secure defaults: server-side encryption and a TLS cluster endpoint, a service role
//! that reaches only the named tables (read-only unless writes are configured), private
//! subnets and a security group admitting the TLS port only from cache clients.
//!
//! No Rust DAX data-plane client exists: the cluster serves the platform's other
//! DynamoDB clients (Node.js and Java services), not the Rust crates of this repository.

pub mod config;

use cfn::aws::cloudwatch::Alarm;
use cfn::aws::cloudwatch::alarm::Dimension;
use cfn::aws::dax::cluster::SSESpecification;
use cfn::aws::dax::{Cluster, ParameterGroup, SubnetGroup};
use cfn::aws::iam::Role;
use cfn::aws::iam::role::Policy as RolePolicy;
use cfn::{Expr, Handle, Parameter, ParameterType, ResourceOptions, Template, TemplateError};
use serde_json::json;

use crate::constructs::monitoring::ratio_alarm;
use crate::constructs::policy;
use crate::stage::Stage;
use config::DaxConfig;

/// Condition: all three table names are set.
pub const HAS_TABLES: &str = "HasDaxTables";

/// Read actions DAX performs on behalf of its clients.
const READ_ACTIONS: &[&str] = &[
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
];

/// Write actions, granted only with `allow_writes`.
const WRITE_ACTIONS: &[&str] = &[
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
];

/// The DAX cluster and what it needs.
#[derive(Clone, Debug)]
pub struct Dax {
    /// Stage settings.
    pub config: DaxConfig,
    /// Security group admitting the DAX TLS port from clients.
    pub security_group_id: Expr,
    /// The private subnets, as a list expression.
    pub subnet_ids: Expr,
    /// SNS topic for the hit-rate alarm.
    pub alarm_topic_arn: Expr,
    /// Alarm when the item-cache hit rate falls below this percentage.
    pub hit_rate_alarm_percent: u32,
    /// Maintenance window, shared with Redis.
    pub maintenance_window: String,
}

impl Dax {
    /// The cluster name: `roadcall-<stage>` (DAX allows 20 characters).
    pub fn cluster_name(stage: &Stage<'_>) -> String {
        format!("roadcall-{}", stage.name())
    }

    /// Adds the parameters, condition, role, groups, cluster, alarm and outputs to `t`.
    pub fn build(
        &self,
        stage: &Stage<'_>,
        t: &mut Template,
    ) -> Result<Handle<Cluster>, TemplateError> {
        let c = &self.config;
        let table_param = |t: &mut Template, id: &str, what: &str, default: &str| {
            t.add_parameter(
                id,
                Parameter::new(
                    ParameterType::String,
                    format!("DynamoDB table of {what} cached by DAX (empty: no cluster)"),
                )
                .default_value(default)
                .allowed_pattern(
                    "^$|^[a-zA-Z0-9_.-]{3,255}$",
                    "a DynamoDB table name, or empty",
                ),
            )
        };
        let tables = [
            table_param(t, "IncidentsTableName", "incidents", &c.incidents_table)?,
            table_param(t, "VendorsTableName", "vendors", &c.vendors_table)?,
            table_param(t, "TrackingTableName", "tracking", &c.tracking_table)?,
        ];
        t.add_condition(
            HAS_TABLES,
            Expr::and(
                tables
                    .iter()
                    .map(|table| Expr::not(Expr::equals(table.clone(), ""))),
            ),
        )?;
        let when = || ResourceOptions::when(HAS_TABLES);

        let mut table_arns = Vec::new();
        let mut index_arns = Vec::new();
        for table in &tables {
            let name = table.to_json();
            table_arns.push(Expr::sub_with(
                "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Table}",
                [("Table", name.clone())],
            ));
            // Query and Scan on a secondary index are authorized on the index's ARN. The
            // tables' index names are not known to this stack (their owners add indexes
            // without redeploying DAX), so the grant names each table and any of its
            // indexes: `index/*` never reaches another table, and only reads take it
            // (writes go to the table, never to an index).
            index_arns.push(Expr::sub_with(
                "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Table}/index/*",
                [("Table", name)],
            ));
        }
        let read_resources: Vec<cfn::Json> = table_arns
            .iter()
            .chain(&index_arns)
            .map(Expr::to_json)
            .collect();
        let mut statements = vec![policy::allow(READ_ACTIONS, read_resources)];
        if c.allow_writes {
            statements.push(policy::allow(
                WRITE_ACTIONS,
                table_arns.iter().map(Expr::to_json).collect(),
            ));
        }
        let role = t.add_with(
            "DaxServiceRole",
            Role::new(policy::trust_service("dax.amazonaws.com"))
                .description("Lets DAX reach the platform's tables and nothing else")
                .policies(vec![
                    RolePolicy::new(policy::document(statements), "dax-table-access").into(),
                ]),
            when(),
        )?;
        let subnet_group = t.add_with(
            "DaxSubnetGroup",
            SubnetGroup::new(self.subnet_ids.clone())
                .subnet_group_name(stage.resource_name("dax"))
                .description("Private subnets of the roadcall-perf DAX cluster"),
            when(),
        )?;
        let parameter_group = t.add_with(
            "DaxParameterGroup",
            // No ParameterGroupName: its Description is create-only too, and the cluster
            // finds it by Ref.
            ParameterGroup::new()
                .description("Item and query cache TTLs")
                .parameter_name_values(json!({
                    "record-ttl-millis": (u64::from(c.item_ttl_seconds) * 1000).to_string(),
                    "query-ttl-millis": (u64::from(c.query_ttl_seconds) * 1000).to_string(),
                })),
            when(),
        )?;
        let cluster = t.add_with(
            "DaxCluster",
            Cluster::new(role.att_arn(), c.node_type.as_str(), c.replication_factor)
                .cluster_name(Self::cluster_name(stage))
                .description(format!(
                    "roadcall-perf {} DynamoDB accelerator",
                    stage.name()
                ))
                .sse_specification(SSESpecification::new().sse_enabled(true))
                .cluster_endpoint_encryption_type("TLS")
                .subnet_group_name(subnet_group.ref_())
                .parameter_group_name(parameter_group.ref_())
                .security_group_ids(vec![self.security_group_id.clone()])
                .preferred_maintenance_window(self.maintenance_window.as_str()),
            when(),
        )?;
        crate::check::add_suppression(
            t,
            "DaxCluster",
            crate::check::native::CUSTOM_NAME_REPLACEMENT,
            "The monitoring dashboard (deployed before this stack) and `stacks status` find the cluster by \
             its name; `stacks diff` and `stacks deploy` stop before a change set that would replace it",
        )?;

        let alarm: Alarm = ratio_alarm(
            "AWS/DAX",
            ("ItemCacheHits", "ItemCacheMisses"),
            &[vec![Dimension::new("ClusterId", cluster.ref_())]],
            self.hit_rate_alarm_percent,
            &self.alarm_topic_arn,
        )
        .alarm_name(stage.resource_name("dax-item-hit-rate"))
        .alarm_description(format!(
            "DAX item-cache hit rate below {}% for 15 minutes: see docs/operations.md#dax-hit-rate",
            self.hit_rate_alarm_percent
        ));
        t.add_with("DaxItemCacheHitRateAlarm", alarm, when())?;

        for (id, description, value, what) in [
            (
                "DaxClusterEndpoint",
                "Cluster discovery endpoint (daxs:// URL, TLS)",
                cluster.att_cluster_discovery_endpoint_url(),
                "endpoint",
            ),
            (
                "DaxClusterArn",
                "Cluster ARN",
                cluster.att_arn(),
                "cluster-arn",
            ),
        ] {
            t.add_output(
                id,
                cfn::Output::new(description, value)
                    .export(stage.export_name("dax", what))
                    .when(HAS_TABLES),
            )?;
        }
        Ok(cluster)
    }
}
