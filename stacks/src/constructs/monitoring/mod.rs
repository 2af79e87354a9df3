//! `Monitoring`: the alarm topic, the alarms on Redis and on the runtime metrics the
//! lambdas publish, and a dashboard of both.
//!
//! The topic is encrypted with the stage's customer managed key, whose policy lets
//! CloudWatch publish (CloudWatch cannot use the AWS managed SNS key). Runtime metrics are read from
//! the `RoadcallPerf` namespace with the `Stage` dimension, which is where the lambdas'
//! EMF lines put them (see docs/monitoring.md).

pub mod config;

use cfn::aws::cloudwatch::alarm::{
    ComparisonOperator, Dimension, Metric, MetricDataQuery, MetricStat, TreatMissingData,
};
use cfn::aws::cloudwatch::{Alarm, Dashboard};
use cfn::aws::sns::topic::Subscription;
use cfn::aws::sns::{Topic, TopicPolicy};
use cfn::{Expr, Handle, Json, Template, TemplateError};
use serde_json::json;

use crate::constructs::dax::Dax;
use crate::constructs::redis::RedisCache;
use crate::constructs::redis::config::RedisConfig;
use crate::stage::Stage;
use config::MonitoringConfig;

/// CloudWatch namespace of the metrics the lambdas emit as EMF.
pub const RUNTIME_NAMESPACE: &str = "RoadcallPerf";
/// Alarm period.
const PERIOD_SECONDS: u32 = 300;
/// Periods that must breach before an alarm fires (15 minutes).
const EVALUATION_PERIODS: u32 = 3;

/// The alarm topic, alarms and dashboard.
#[derive(Clone, Debug)]
pub struct Monitoring {
    /// Thresholds.
    pub config: MonitoringConfig,
    /// The Redis settings (which node ids exist).
    pub redis: RedisConfig,
    /// The Redis replication group id, usually imported from the Redis stack.
    pub replication_group_id: Expr,
    /// The stage key, which lets CloudWatch publish to the encrypted topic.
    pub kms_key_arn: Expr,
}

fn metric_query(
    id: &str,
    namespace: &str,
    name: &str,
    dimensions: &[Dimension],
    stat: &str,
) -> MetricDataQuery {
    MetricDataQuery::new(id)
        .metric_stat(MetricStat::new(
            Metric::new()
                .namespace(namespace)
                .metric_name(name)
                .dimensions(
                    dimensions
                        .iter()
                        .cloned()
                        .map(Into::into)
                        .collect::<Vec<_>>(),
                ),
            PERIOD_SECONDS,
            stat,
        ))
        .return_data(false)
}

/// An alarm on a metric-math `expression` over `queries`.
pub fn expression_alarm(
    queries: Vec<MetricDataQuery>,
    expression: &str,
    label: &str,
    comparison: ComparisonOperator,
    threshold: f64,
    topic_arn: &Expr,
) -> Alarm {
    let mut metrics: Vec<_> = queries.into_iter().map(Into::into).collect();
    metrics.push(
        MetricDataQuery::new("result")
            .expression(expression)
            .label(label)
            .return_data(true)
            .into(),
    );
    Alarm::new()
        .metrics(metrics)
        .comparison_operator(comparison)
        .threshold(threshold)
        .evaluation_periods(EVALUATION_PERIODS)
        .datapoints_to_alarm(EVALUATION_PERIODS)
        .treat_missing_data(TreatMissingData::NotBreaching)
        .alarm_actions(vec![topic_arn.clone()])
        .ok_actions(vec![topic_arn.clone()])
}

/// An alarm when `100 * hits / (hits + misses)`, summed over `nodes` (each a dimension
/// set), falls below `threshold_percent`. No traffic counts as 100 %.
pub fn ratio_alarm(
    namespace: &str,
    (hits, misses): (&str, &str),
    nodes: &[Vec<Dimension>],
    threshold_percent: u32,
    topic_arn: &Expr,
) -> Alarm {
    let mut queries = Vec::new();
    let (mut h, mut m) = (Vec::new(), Vec::new());
    for (i, dims) in nodes.iter().enumerate() {
        queries.push(metric_query(&format!("h{i}"), namespace, hits, dims, "Sum"));
        queries.push(metric_query(
            &format!("m{i}"),
            namespace,
            misses,
            dims,
            "Sum",
        ));
        h.push(format!("h{i}"));
        m.push(format!("m{i}"));
    }
    let (h, m) = (h.join("+"), m.join("+"));
    expression_alarm(
        queries,
        &format!("IF(({h})+({m}) > 0, 100*({h})/(({h})+({m})), 100)"),
        "Hit rate (%)",
        ComparisonOperator::LessThanThreshold,
        f64::from(threshold_percent),
        topic_arn,
    )
}

/// Handles to what [`Monitoring::build`] created.
#[derive(Clone, Debug)]
pub struct MonitoringHandles {
    /// The alarm topic.
    pub topic: Handle<Topic>,
    /// The dashboard.
    pub dashboard: Handle<Dashboard>,
}

impl Monitoring {
    fn redis_primaries(&self) -> Vec<Vec<Dimension>> {
        RedisCache::primary_node_suffixes(&self.redis)
            .into_iter()
            .map(|suffix| {
                vec![Dimension::new(
                    "CacheClusterId",
                    Expr::sub_with(
                        format!("${{Group}}{suffix}"),
                        [("Group", self.replication_group_id.to_json())],
                    ),
                )]
            })
            .collect()
    }

    /// Adds the key, topic, alarms, dashboard and outputs to `t`.
    pub fn build(
        &self,
        stage: &Stage<'_>,
        t: &mut Template,
    ) -> Result<MonitoringHandles, TemplateError> {
        let c = &self.config;
        let mut topic = Topic::new()
            .topic_name(stage.resource_name("alarms"))
            .display_name(format!("roadcall-perf {} alarms", stage.name()))
            .kms_master_key_id(self.kms_key_arn.clone());
        if !c.alarm_email.is_empty() {
            topic = topic.subscription(vec![
                Subscription::new(c.alarm_email.as_str(), "email").into(),
            ]);
        }
        let topic = t.add("AlarmTopic", topic)?;
        t.add(
            "AlarmTopicPolicy",
            TopicPolicy::new(
                json!({
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "CloudWatchPublishesAlarms",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": "sns:Publish",
                            "Resource": topic.ref_(),
                            "Condition": {"StringEquals": {"aws:SourceAccount": Expr::ref_("AWS::AccountId")}}
                        },
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": {"AWS": "*"},
                            "Action": "sns:Publish",
                            "Resource": topic.ref_(),
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
                        }
                    ]
                }),
                vec![topic.ref_()],
            ),
        )?;
        let topic_arn = topic.ref_();

        let primaries = self.redis_primaries();
        let ids: Vec<String> = (0..primaries.len()).map(|i| format!("n{i}")).collect();
        let per_node = |name: &str, stat: &str| -> Vec<MetricDataQuery> {
            primaries
                .iter()
                .zip(&ids)
                .map(|(dims, id)| metric_query(id, "AWS/ElastiCache", name, dims, stat))
                .collect()
        };
        let alarms: Vec<(&str, &str, Alarm)> = vec![
            (
                "RedisEngineCpuAlarm",
                "redis-engine-cpu",
                expression_alarm(
                    per_node("EngineCPUUtilization", "Average"),
                    &format!("MAX([{}])", ids.join(",")),
                    "Engine CPU (%)",
                    ComparisonOperator::GreaterThanThreshold,
                    f64::from(c.redis_cpu_percent),
                    &topic_arn,
                )
                .alarm_description(format!(
                    "Redis engine CPU above {}% on a primary for 15 minutes: see docs/operations.md#redis-cpu",
                    c.redis_cpu_percent
                )),
            ),
            (
                "RedisHitRateAlarm",
                "redis-hit-rate",
                ratio_alarm("AWS/ElastiCache", ("CacheHits", "CacheMisses"), &primaries, c.redis_hit_rate_percent, &topic_arn)
                    .alarm_description(format!(
                        "Redis hit rate below {}% for 15 minutes: see docs/operations.md#redis-hit-rate",
                        c.redis_hit_rate_percent
                    )),
            ),
            (
                "RedisEvictionsAlarm",
                "redis-evictions",
                expression_alarm(
                    per_node("Evictions", "Sum"),
                    &format!("SUM([{}])", ids.join(",")),
                    "Evictions",
                    ComparisonOperator::GreaterThanThreshold,
                    f64::from(c.redis_evictions_per_5min),
                    &topic_arn,
                )
                .alarm_description(format!(
                    "Redis evicted more than {} keys per 5 minutes for 15 minutes: see docs/operations.md#redis-evictions",
                    c.redis_evictions_per_5min
                )),
            ),
            (
                "ColdStartRatioAlarm",
                "cold-start-ratio",
                {
                    let stage_dim = vec![Dimension::new("Stage", stage.name())];
                    expression_alarm(
                        vec![
                            metric_query("cold", RUNTIME_NAMESPACE, "ColdStart", &stage_dim, "Sum"),
                            metric_query("invocations", RUNTIME_NAMESPACE, "Invocation", &stage_dim, "Sum"),
                        ],
                        "IF(invocations > 0, 100*cold/invocations, 0)",
                        "Cold starts (% of invocations)",
                        ComparisonOperator::GreaterThanThreshold,
                        f64::from(c.cold_start_percent),
                        &topic_arn,
                    )
                    .alarm_description(format!(
                        "More than {}% of invocations were cold starts for 15 minutes: see docs/operations.md#cold-starts",
                        c.cold_start_percent
                    ))
                },
            ),
            (
                "PoolExhaustedAlarm",
                "pool-exhausted",
                Alarm::new()
                    .namespace(RUNTIME_NAMESPACE)
                    .metric_name("PoolExhausted")
                    .dimensions(vec![Dimension::new("Stage", stage.name()).into()])
                    .statistic(cfn::aws::cloudwatch::alarm::Statistic::Sum)
                    .period(PERIOD_SECONDS)
                    .evaluation_periods(1)
                    .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
                    .threshold(f64::from(c.pool_exhausted_per_5min))
                    .treat_missing_data(TreatMissingData::NotBreaching)
                    .alarm_actions(vec![topic_arn.clone()])
                    .ok_actions(vec![topic_arn.clone()])
                    .alarm_description(format!(
                        "A database pool was exhausted {} or more times in 5 minutes: see docs/operations.md#pool-exhaustion",
                        c.pool_exhausted_per_5min
                    )),
            ),
        ];
        for (id, name, alarm) in alarms {
            t.add(id, alarm.alarm_name(stage.resource_name(name)))?;
        }

        let dashboard = t.add(
            "Dashboard",
            Dashboard::new(self.dashboard_body(stage))
                .dashboard_name(stage.resource_name("caches")),
        )?;
        stage.export(
            t,
            "AlarmTopicArn",
            "SNS topic of the alarms",
            topic.ref_(),
            "monitoring",
            "alarm-topic-arn",
        )?;
        stage.export(
            t,
            "DashboardName",
            "CloudWatch dashboard",
            dashboard.ref_(),
            "monitoring",
            "dashboard",
        )?;
        Ok(MonitoringHandles { topic, dashboard })
    }

    /// The dashboard body: a `Fn::Sub` so region and node ids resolve at deploy time.
    fn dashboard_body(&self, stage: &Stage<'_>) -> Expr {
        let suffixes = RedisCache::primary_node_suffixes(&self.redis);
        let node_metrics = |name: &str, stat: &str| -> Json {
            Json::Array(
                suffixes
                    .iter()
                    .map(|s| json!(["AWS/ElastiCache", name, "CacheClusterId", format!("${{Group}}{s}"), {"stat": stat}]))
                    .collect(),
            )
        };
        let runtime =
            |name: &str| json!([RUNTIME_NAMESPACE, name, "Stage", stage.name(), {"stat": "Sum"}]);
        let widget = |x: u32, y: u32, title: &str, metrics: Json| {
            json!({
                "type": "metric", "x": x, "y": y, "width": 12, "height": 6,
                "properties": {"title": title, "region": "${AWS::Region}", "period": PERIOD_SECONDS, "view": "timeSeries", "metrics": metrics}
            })
        };
        let hit_rate = {
            let mut metrics = Vec::new();
            let (mut h, mut m) = (Vec::new(), Vec::new());
            for (i, s) in suffixes.iter().enumerate() {
                metrics.push(json!(["AWS/ElastiCache", "CacheHits", "CacheClusterId", format!("${{Group}}{s}"), {"stat": "Sum", "id": format!("h{i}"), "visible": false}]));
                metrics.push(json!(["AWS/ElastiCache", "CacheMisses", "CacheClusterId", format!("${{Group}}{s}"), {"stat": "Sum", "id": format!("m{i}"), "visible": false}]));
                h.push(format!("h{i}"));
                m.push(format!("m{i}"));
            }
            let (h, m) = (h.join("+"), m.join("+"));
            metrics.push(json!([{"expression": format!("100*({h})/(({h})+({m}))"), "label": "Redis hit rate (%)"}]));
            Json::Array(metrics)
        };
        let dax = Dax::cluster_name(stage);
        let body = json!({
            "widgets": [
                widget(0, 0, "Redis engine CPU (%)", node_metrics("EngineCPUUtilization", "Average")),
                widget(12, 0, "Redis hit rate", hit_rate),
                widget(0, 6, "Redis evictions", node_metrics("Evictions", "Sum")),
                widget(12, 6, "DAX item cache", json!([
                    ["AWS/DAX", "ItemCacheHits", "ClusterId", dax, {"stat": "Sum"}],
                    ["AWS/DAX", "ItemCacheMisses", "ClusterId", dax, {"stat": "Sum"}]
                ])),
                widget(0, 12, "Cold starts and invocations", json!([runtime("ColdStart"), runtime("Invocation")])),
                widget(12, 12, "Database pool exhaustion", json!([runtime("PoolExhausted")])),
            ]
        });
        let text = serde_json::to_string(&body).unwrap_or_default();
        Expr::sub_with(text, [("Group", self.replication_group_id.to_json())])
    }
}
