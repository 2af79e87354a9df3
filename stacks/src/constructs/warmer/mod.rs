//! `Warmer`: a scheduled Lambda that keeps the platform's functions warm.
//!
//! An EventBridge rule invokes the warmer on a schedule with the target list as its
//! input; the warmer invokes each target with its configured concurrency. Its role may
//! invoke exactly the named functions and qualifiers (never `function:*`), write its own
//! log group and send failed events to its own dead-letter queue.

pub mod config;

use cfn::aws::events::Rule;
use cfn::aws::events::rule::{RetryPolicy, State, Target};
use cfn::aws::iam::Role;
use cfn::aws::iam::role::Policy as RolePolicy;
use cfn::aws::lambda::function::{
    ArchitecturesItem, Code, DeadLetterConfig, Environment, LogFormat, LoggingConfig, Mode,
    Runtime, TracingConfig,
};
use cfn::aws::lambda::{Function, Permission};
use cfn::aws::logs::LogGroup;
use cfn::aws::sqs::{Queue, QueuePolicy};
use cfn::{
    Expr, Handle, Json, Parameter, ParameterType, Policy, Pseudo, ResourceOptions, Template,
    TemplateError,
};
use serde::Serialize;
use serde_json::json;

use crate::constructs::policy;
use crate::stage::Stage;
use config::{WarmerConfig, WarmerTargetConfig};

/// A function the warmer keeps warm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WarmerTarget {
    /// Function name.
    pub function: String,
    /// Alias or version; `None` invokes `$LATEST`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qualifier: Option<String>,
    /// Concurrent execution environments to keep warm.
    pub concurrency: u32,
}

impl From<&WarmerTargetConfig> for WarmerTarget {
    fn from(config: &WarmerTargetConfig) -> Self {
        Self {
            function: config.function.clone(),
            qualifier: config.qualifier.clone(),
            concurrency: config.concurrency,
        }
    }
}

/// The input the schedule sends to the warmer: `{"targets": [...]}`.
#[derive(Clone, Debug, Serialize)]
pub struct WarmerInput<'a> {
    /// What to warm.
    pub targets: &'a [WarmerTarget],
}

/// The warmer function, its schedule and its permissions.
#[derive(Clone, Debug)]
pub struct Warmer {
    config: WarmerConfig,
    targets: Vec<WarmerTarget>,
    kms_key_arn: Expr,
}

/// Handles to what [`Warmer::build`] created.
#[derive(Clone, Debug)]
pub struct WarmerHandles {
    /// The warmer function.
    pub function: Handle<Function>,
    /// The schedule.
    pub rule: Handle<Rule>,
    /// The execution role.
    pub role: Handle<Role>,
}

impl Warmer {
    /// A warmer with the stage's settings and targets; `kms_key_arn` encrypts its log
    /// group and dead-letter queue.
    pub fn new(config: WarmerConfig, kms_key_arn: Expr) -> Self {
        let targets = config.targets.iter().map(WarmerTarget::from).collect();
        Self {
            config,
            targets,
            kms_key_arn,
        }
    }

    /// Adds a function to keep warm (the seed's `addFunctionToWarmer`). A target already
    /// present (same function and qualifier) has its concurrency replaced.
    pub fn add_target(&mut self, target: WarmerTarget) -> &mut Self {
        match self
            .targets
            .iter_mut()
            .find(|t| t.function == target.function && t.qualifier == target.qualifier)
        {
            Some(existing) => existing.concurrency = target.concurrency,
            None => self.targets.push(target),
        }
        self
    }

    /// The targets, in the order they were added.
    pub fn targets(&self) -> &[WarmerTarget] {
        &self.targets
    }

    /// The IAM resource of each target: the function ARN, with its qualifier if any.
    fn target_arns(&self) -> Vec<Json> {
        self.targets
            .iter()
            .map(|t| {
                let name = match &t.qualifier {
                    Some(q) => format!("{}:{q}", t.function),
                    None => t.function.clone(),
                };
                Expr::sub(format!("arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{name}"))
                    .to_json()
            })
            .collect()
    }

    /// Adds the parameters, log group, queue, role, function, rule and permission to `t`.
    pub fn build(
        &self,
        stage: &Stage<'_>,
        t: &mut Template,
    ) -> Result<WarmerHandles, TemplateError> {
        let c = &self.config;
        let bucket = t.add_parameter(
            "WarmerCodeBucket",
            Parameter::new(
                ParameterType::String,
                "S3 bucket holding the warmer's Lambda zip",
            )
            .default_value(&c.code_bucket)
            .allowed_pattern("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", "an S3 bucket name"),
        )?;
        let key = t.add_parameter(
            "WarmerCodeKey",
            Parameter::new(
                ParameterType::String,
                "S3 key of the warmer's Lambda zip (bootstrap for provided.al2023)",
            )
            .default_value(&c.code_key)
            .allowed_pattern("^[^/].{0,1023}$", "an S3 object key"),
        )?;
        let function_name = stage.resource_name("warmer");
        let log_group = t.add_with(
            "WarmerLogGroup",
            LogGroup::new()
                .log_group_name(format!("/aws/lambda/{function_name}"))
                .retention_in_days(c.log_retention_days)
                .kms_key_id(self.kms_key_arn.clone()),
            ResourceOptions::default().retain_with(policy::log_group_policy(stage)),
        )?;
        // Failed warm-up events are diagnostics of this stack's lifetime, like its logs.
        let dead_letters = t.add_with(
            "WarmerDeadLetterQueue",
            Queue::new()
                .queue_name(stage.resource_name("warmer-dlq"))
                .kms_master_key_id(self.kms_key_arn.clone())
                .message_retention_period(1_209_600),
            ResourceOptions::default().retain_with(Policy::Delete),
        )?;
        t.add(
            "WarmerDeadLetterQueuePolicy",
            QueuePolicy::new(
                policy::document(vec![policy::deny_insecure_transport(
                    "sqs",
                    vec![dead_letters.att_arn().to_json()],
                )]),
                vec![dead_letters.ref_()],
            ),
        )?;

        let mut statements = vec![
            policy::allow(
                &["logs:CreateLogStream", "logs:PutLogEvents"],
                vec![log_group.att_arn().to_json()],
            ),
            policy::allow(&["sqs:SendMessage"], vec![dead_letters.att_arn().to_json()]),
            // Active tracing sends segments as the function; X-Ray has no resource-level
            // permissions, so these two actions take `*` (instead of the AWS managed
            // AWSXRayDaemonWriteAccess, which also grants the sampling reads).
            policy::allow(
                &["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                vec![json!("*")],
            ),
            // The dead-letter queue is encrypted with the stage key.
            policy::allow(
                &["kms:Decrypt", "kms:GenerateDataKey"],
                vec![self.kms_key_arn.to_json()],
            ),
        ];
        if !self.targets.is_empty() {
            statements.push(policy::allow(
                &["lambda:InvokeFunction"],
                self.target_arns(),
            ));
        }
        let role = t.add(
            "WarmerRole",
            Role::new(policy::trust_service("lambda.amazonaws.com"))
                .description(
                    "Warmer: invokes the named functions, writes its logs and dead letters",
                )
                .policies(vec![
                    RolePolicy::new(policy::document(statements), "warmer").into(),
                ]),
        )?;
        let function = t.add_with(
            "WarmerFunction",
            Function::new(Code::new().s3_bucket(bucket).s3_key(key), role.att_arn())
                .function_name(function_name.as_str())
                .description("Keeps the platform's functions warm (invoked on a schedule)")
                .runtime(Runtime::ProvidedAl2023)
                .architectures(vec![ArchitecturesItem::Arm64.into()])
                .handler("bootstrap")
                .memory_size(c.memory_mb)
                .timeout(c.timeout_seconds)
                .tracing_config(TracingConfig::new().mode(Mode::Active))
                .logging_config(
                    LoggingConfig::new()
                        .log_group(log_group.ref_())
                        .log_format(LogFormat::Json),
                )
                .dead_letter_config(DeadLetterConfig::new().target_arn(dead_letters.att_arn()))
                // The stage names the metrics the warmer emits; the key encrypts the variables.
                .environment(
                    Environment::new().variables(serde_json::json!({"STAGE": stage.name()})),
                )
                .kms_key_arn(self.kms_key_arn.clone())
                // Reserved concurrency takes from the account's unreserved pool, and a
                // new account's low quota refuses it: only a stage that opts in sets it.
                .reserve(c.reserved_concurrency),
            ResourceOptions::default(),
        )?;
        reserved_concurrency_suppressions(t, c.reserved_concurrency)?;
        let input = serde_json::to_string(&WarmerInput {
            targets: &self.targets,
        })
        .unwrap_or_else(|_| "{\"targets\":[]}".to_owned());
        let rule = t.add(
            "WarmerSchedule",
            Rule::new()
                .name(stage.resource_name("warmer"))
                .description("Invokes the warmer with the list of functions to keep warm")
                .schedule_expression(c.schedule.as_str())
                .state(State::Enabled)
                .targets(vec![
                    Target::new(function.att_arn(), "warmer")
                        .input(input)
                        .retry_policy(
                            RetryPolicy::new()
                                .maximum_retry_attempts(0)
                                .maximum_event_age_in_seconds(60),
                        )
                        .into(),
                ]),
        )?;
        t.add(
            "WarmerInvokePermission",
            Permission::new(
                "lambda:InvokeFunction",
                function.att_arn(),
                "events.amazonaws.com",
            )
            .source_arn(rule.att_arn())
            .source_account(Pseudo::AccountId),
        )?;
        crate::check::add_suppression(
            t,
            "WarmerFunction",
            "CKV_AWS_117",
            "The warmer only calls the Lambda Invoke API and holds no data; outside the VPC it needs no NAT \
             gateway or VPC endpoint to reach that API",
        )?;
        stage.export(
            t,
            "WarmerFunctionArn",
            "Warmer function",
            function.att_arn(),
            "warmer",
            "function-arn",
        )?;
        stage.export(
            t,
            "WarmerRuleName",
            "Warmer schedule rule",
            rule.ref_(),
            "warmer",
            "rule-name",
        )?;
        Ok(WarmerHandles {
            function,
            rule,
            role,
        })
    }
}

/// Sets reserved concurrency only when the stage asks for it.
trait Reserve {
    fn reserve(self, reserved: Option<u32>) -> Self;
}

impl Reserve for Function {
    fn reserve(self, reserved: Option<u32>) -> Self {
        match reserved {
            Some(n) => self.reserved_concurrent_executions(i64::from(n)),
            None => self,
        }
    }
}

/// Records why the warmer has, or lacks, reserved concurrency: the project's rule is
/// suppressed when the stage opts in, checkov's CKV_AWS_115 when it does not.
fn reserved_concurrency_suppressions(
    t: &mut Template,
    reserved: Option<u32>,
) -> Result<(), TemplateError> {
    match reserved {
        Some(n) => crate::check::add_suppression(
            t,
            "WarmerFunction",
            "LAMBDA_RESERVED_CONCURRENCY_OPT_IN",
            &format!(
                "The stage file sets warmer.reserved_concurrency = {n}: the account has the unreserved \
                 concurrency to spare, and overlapping warm-up runs would double the pings"
            ),
        ),
        None => crate::check::add_suppression(
            t,
            "WarmerFunction",
            "CKV_AWS_115",
            "Reserved concurrency is off by default (warmer.reserved_concurrency): it fails in accounts \
             whose unreserved concurrency would drop below the minimum, and the warmer runs every few minutes",
        ),
    }
}
