//! `Services`: the HTTP API and the vendor, incidents and payments functions behind it.
//!
//! Each function runs `provided.al2023` on arm64 from a zip in S3, inside the VPC's
//! private subnets with the cache client security group (Redis, DAX) and a group of its
//! own (HTTPS to AWS APIs, PostgreSQL to the database's group only). Every deploy of new
//! code or configuration publishes a version, and the `live` alias points at it; API
//! Gateway, the warmer and the alarms all address `live`. The API's routes are the ones
//! the routers serve ([`FUNCTIONS`]), each behind a JWT authorizer (or IAM, a stage
//! option) except the health checks. Function names, routes and the alias are defined
//! once here: the warmer's targets and its IAM policy are built from [`Services::warmer_targets`],
//! so the two stacks cannot drift.

pub mod config;

use cfn::aws::apigatewayv2::authorizer::JWTConfiguration;
use cfn::aws::apigatewayv2::stage::{AccessLogSettings, RouteSettings};
use cfn::aws::apigatewayv2::{Api, Authorizer, Integration, Route, Stage as ApiStage};
use cfn::aws::cloudwatch::Alarm;
use cfn::aws::cloudwatch::alarm::{ComparisonOperator, Dimension, Statistic, TreatMissingData};
use cfn::aws::ec2::security_group::Egress;
use cfn::aws::ec2::{SecurityGroup, SecurityGroupIngress};
use cfn::aws::iam::Role;
use cfn::aws::iam::role::Policy as RolePolicy;
use cfn::aws::lambda::alias::ProvisionedConcurrencyConfiguration;
use cfn::aws::lambda::function::{
    ArchitecturesItem, Code, Environment, LogFormat, LoggingConfig, Mode, Runtime, TracingConfig,
    VpcConfig,
};
use cfn::aws::lambda::{Alias, Function, Permission, Version};
use cfn::aws::logs::LogGroup;
use cfn::{Expr, Handle, Json, Parameter, ParameterType, ResourceOptions, Template, TemplateError};
use serde_json::json;

use crate::constructs::policy;
use crate::constructs::warmer::WarmerTarget;
use crate::stage::{Stage, to_json};
use config::ServicesConfig;

/// The alias every caller (API Gateway, the warmer, the alarms) invokes.
pub const LIVE_ALIAS: &str = "live";

/// Where the functions find the RDS CA bundle that `scripts/package-lambdas` puts at the
/// root of their zips (`DATABASE_CA_BUNDLE`): RDS certificates chain to Amazon's RDS CAs,
/// which the Lambda base image does not trust.
pub const DATABASE_CA_BUNDLE: &str = "/var/task/rds-global-bundle.pem";

/// One function of the platform and the routes it serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceFunction {
    /// The binary and the stage-file table: `vendor`, `incidents`, `payments`.
    pub slug: &'static str,
    /// Prefix of its logical ids and parameters: `Vendor`, ...
    pub logical: &'static str,
    /// `METHOD /path` route keys, as the router (`lambdas/src/router.rs`) serves them.
    pub routes: &'static [&'static str],
}

/// The three functions and their routes (docs/api.md). Every router also serves
/// `GET /health`: the API routes `GET /health` to the vendor function and
/// `GET /health/<slug>` to each function (rewritten to `/health` on the way).
pub const FUNCTIONS: [ServiceFunction; 3] = [
    ServiceFunction {
        slug: "vendor",
        logical: "Vendor",
        routes: &[
            "POST /vendors",
            "GET /vendors/search",
            "GET /vendors/{id}",
            "PUT /vendors/{id}",
            "PATCH /vendors/{id}/availability",
            "POST /vendors/{id}/location",
        ],
    },
    ServiceFunction {
        slug: "incidents",
        logical: "Incidents",
        routes: &["POST /incidents", "GET /incidents/{id}"],
    },
    ServiceFunction {
        slug: "payments",
        logical: "Payments",
        routes: &["POST /payments", "GET /payments/{id}"],
    },
];

impl ServiceFunction {
    /// The function's physical name: `roadcall-<slug>-<stage>`.
    pub fn function_name(&self, stage: &Stage<'_>) -> String {
        format!("roadcall-{}-{}", self.slug, stage.name())
    }

    /// The route of this function's own health check.
    pub fn health_route(&self) -> String {
        format!("GET /health/{}", self.slug)
    }
}

/// The function names of the services stack of `stage` (for checks of the stage file).
pub fn function_names(stage: &Stage<'_>) -> Vec<String> {
    FUNCTIONS.iter().map(|f| f.function_name(stage)).collect()
}

/// Logical id of a route: `Route` plus the key's letters and digits, with `{x}` as `X`.
fn route_logical_id(key: &str) -> String {
    let mut id = String::from("Route");
    let mut upper = true;
    for ch in key.chars() {
        if ch.is_ascii_alphanumeric() {
            if upper {
                id.push(ch.to_ascii_uppercase());
            } else {
                id.push(ch.to_ascii_lowercase());
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    id
}

/// The HTTP API and the functions behind it.
#[derive(Clone, Debug)]
pub struct Services {
    /// Stage settings.
    pub config: ServicesConfig,
    /// Whether the Redis group runs in cluster mode (so `REDIS_MODE`).
    pub redis_cluster_mode: bool,
    /// The stage key: logs, environment variables, and the secrets it encrypts.
    pub kms_key_arn: Expr,
}

/// Handles to what [`Services::build`] created.
#[derive(Clone, Debug)]
pub struct ServicesHandles {
    /// The HTTP API.
    pub api: Handle<Api>,
    /// The `live` alias of each function, in [`FUNCTIONS`] order.
    pub aliases: Vec<Handle<Alias>>,
}

impl Services {
    /// The warmer targets: each function's `live` alias with its `warm_concurrency`
    /// (functions with 0 are left out).
    pub fn warmer_targets(config: &ServicesConfig, stage: &Stage<'_>) -> Vec<WarmerTarget> {
        FUNCTIONS
            .iter()
            .zip(config.functions())
            .filter(|(_, (_, c))| c.warm_concurrency > 0)
            .map(|(f, (_, c))| WarmerTarget {
                function: f.function_name(stage),
                qualifier: Some(LIVE_ALIAS.to_owned()),
                concurrency: c.warm_concurrency,
            })
            .collect()
    }

    /// Adds the parameters, security group, log groups, roles, functions, versions,
    /// aliases, API, routes, alarms and outputs to `t`.
    pub fn build(
        &self,
        stage: &Stage<'_>,
        t: &mut Template,
    ) -> Result<ServicesHandles, TemplateError> {
        let c = &self.config;
        let db = &c.database;
        let bucket = t.add_parameter(
            "ServicesCodeBucket",
            Parameter::new(
                ParameterType::String,
                "S3 bucket holding the vendor, incidents and payments zips",
            )
            .default_value(&c.code_bucket)
            .allowed_pattern("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", "an S3 bucket name"),
        )?;
        let jwt_issuer = t.add_parameter(
            "JwtIssuer",
            Parameter::new(
                ParameterType::String,
                "Issuer URL of the callers' JWTs (a Cognito user pool: https://cognito-idp.<region>.amazonaws.com/<pool id>)",
            )
            .default_value(&c.jwt_issuer)
            .allowed_pattern("^https://[^\\s]+$", "an https:// URL"),
        )?;
        let jwt_audience = t.add_parameter(
            "JwtAudience",
            Parameter::new(
                ParameterType::CommaDelimitedList,
                "Accepted audiences (aud, or a Cognito app client id), comma-separated",
            )
            .default_value(c.jwt_audience.join(",")),
        )?;
        let db_host = t.add_parameter(
            "DatabaseHost",
            Parameter::new(ParameterType::String, "PostgreSQL writer endpoint")
                .default_value(&db.host)
                .allowed_pattern("^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", "a host name"),
        )?;
        // The port is fixed at synth time: the security group rules name it, and a rule
        // on a parameter could not be checked to open one port only.
        let db_port = i64::from(db.port);
        let https_egress = t.add_parameter(
            "HttpsEgressCidr",
            Parameter::new(
                ParameterType::String,
                "Where the functions reach AWS APIs on 443: the VPC CIDR holding the interface endpoints",
            )
            .default_value(&c.https_egress_cidr)
            .allowed_pattern(
                "^(?!0\\.0\\.0\\.0/0)[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$",
                "an IPv4 CIDR other than 0.0.0.0/0",
            ),
        )?;
        let db_name = t.add_parameter(
            "DatabaseName",
            Parameter::new(ParameterType::String, "PostgreSQL database name")
                .default_value(&db.name)
                .allowed_pattern("^[a-z][a-z0-9_]{0,62}$", "a PostgreSQL name"),
        )?;
        let db_user = t.add_parameter(
            "DatabaseUser",
            Parameter::new(ParameterType::String, "PostgreSQL user of the functions")
                .default_value(&db.user)
                .allowed_pattern("^[a-z][a-z0-9_]{0,62}$", "a PostgreSQL user name"),
        )?;
        let db_sg = t.add_parameter(
            "DatabaseSecurityGroupId",
            Parameter::new(
                ParameterType::SecurityGroupId,
                "Security group of the database: admits the functions on the stage file.s services.database.port",
            )
            .default_value(&db.security_group_id),
        )?;
        // The authentication mode is fixed at synth time (stage file); only the named
        // secret or cluster is a parameter.
        let db_credential = if db.auth == "secret" {
            t.add_parameter(
                "DatabaseSecretArn",
                Parameter::new(
                    ParameterType::String,
                    "Secrets Manager secret with the database password (RDS JSON format)",
                )
                .default_value(&db.secret_arn)
                .allowed_pattern("^arn:aws[a-z-]*:secretsmanager:[^\\s]+$", "a secret ARN"),
            )?
        } else {
            t.add_parameter(
                "DatabaseResourceId",
                Parameter::new(
                    ParameterType::String,
                    "Resource id of the Aurora cluster (cluster-...), named by rds-db:connect",
                )
                .default_value(&db.resource_id)
                .allowed_pattern("^(cluster|db)-[A-Za-z0-9]+$", "cluster-XXXX or db-XXXX"),
            )?
        };
        let mut code_keys = Vec::new();
        for (f, (_, fc)) in FUNCTIONS.iter().zip(c.functions()) {
            code_keys.push(
                t.add_parameter(
                    &format!("{}CodeKey", f.logical),
                    Parameter::new(
                        ParameterType::String,
                        format!(
                            "S3 key of the {} zip (bootstrap for provided.al2023)",
                            f.slug
                        ),
                    )
                    .default_value(&fc.code_key)
                    .allowed_pattern("^[^/].{0,1023}$", "an S3 object key"),
                )?,
            );
        }

        // HTTPS to AWS APIs (Secrets Manager, X-Ray) through the VPC's interface
        // endpoints, and PostgreSQL to the database's group; Redis and DAX egress come
        // with the imported cache client group. No GroupName: the group is replaced when
        // the imported VPC changes, which CloudFormation refuses for a named group.
        let function_sg = t.add(
            "FunctionSecurityGroup",
            SecurityGroup::new("roadcall functions: HTTPS to AWS APIs, PostgreSQL to the database")
                .vpc_id(stage.import("network", "vpc-id"))
                .security_group_egress(vec![
                    Egress::new("tcp")
                        .cidr_ip(https_egress)
                        .from_port(443)
                        .to_port(443)
                        .description("HTTPS to AWS APIs (Secrets Manager, X-Ray)")
                        .into(),
                    Egress::new("tcp")
                        .destination_security_group_id(db_sg.clone())
                        .from_port(db_port)
                        .to_port(db_port)
                        .description("PostgreSQL to the database")
                        .into(),
                ]),
        )?;
        t.add(
            "DatabaseIngressFromFunctions",
            SecurityGroupIngress::new("tcp")
                .group_id(db_sg.clone())
                .source_security_group_id(function_sg.att_group_id())
                .from_port(db_port)
                .to_port(db_port)
                .description(format!(
                    "PostgreSQL from the roadcall {} functions",
                    stage.name()
                )),
        )?;

        let api = t.add(
            "HttpApi",
            Api::new()
                .name(stage.resource_name("api"))
                .description("roadcall vendor, incidents and payments")
                .protocol_type("HTTP"),
        )?;
        let api_arn = Expr::sub(
            "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*",
        );
        let access_logs = t.add_with(
            "ApiAccessLogGroup",
            LogGroup::new()
                .log_group_name(format!("/aws/apigateway/{}", stage.resource_name("api")))
                .retention_in_days(c.log_retention_days)
                .kms_key_id(self.kms_key_arn.clone()),
            ResourceOptions::default().retain_with(policy::log_group_policy(stage)),
        )?;
        t.add(
            "HttpApiStage",
            ApiStage::new(api.ref_(), "$default")
                .auto_deploy(true)
                .description("The one stage: routes reach the functions' live alias")
                .access_log_settings(
                    AccessLogSettings::new()
                        .destination_arn(access_logs.att_arn())
                        .format(access_log_format()),
                )
                .default_route_settings(
                    RouteSettings::new()
                        .detailed_metrics_enabled(true)
                        .throttling_rate_limit(f64::from(c.throttle_rate_per_second))
                        .throttling_burst_limit(i64::from(c.throttle_burst)),
                ),
        )?;
        crate::check::add_suppression(
            t,
            "HttpApiStage",
            crate::check::native::CUSTOM_NAME_REPLACEMENT,
            "`$default` is the HTTP API's one stage name that serves paths without a stage prefix; \
             its create-only ApiId never changes for this stack's API, and `stacks diff` and \
             `stacks deploy` stop before a change set that would replace it",
        )?;
        let authorizer = if c.authorization == "jwt" {
            Some(
                t.add(
                    "JwtAuthorizer",
                    Authorizer::new(api.ref_(), "JWT", stage.resource_name("jwt"))
                        .identity_source(vec!["$request.header.Authorization"])
                        .jwt_configuration(
                            JWTConfiguration::new()
                                .issuer(jwt_issuer.clone())
                                .audience(jwt_audience.clone()),
                        ),
                )?,
            )
        } else {
            None
        };

        let mut aliases = Vec::new();
        for (index, (f, (_, fc))) in FUNCTIONS.iter().zip(c.functions()).enumerate() {
            let name = f.function_name(stage);
            let log_group = t.add_with(
                &format!("{}LogGroup", f.logical),
                LogGroup::new()
                    .log_group_name(format!("/aws/lambda/{name}"))
                    .retention_in_days(c.log_retention_days)
                    .kms_key_id(self.kms_key_arn.clone()),
                ResourceOptions::default().retain_with(policy::log_group_policy(stage)),
            )?;
            let mut statements = vec![
                policy::allow(
                    &["logs:CreateLogStream", "logs:PutLogEvents"],
                    vec![log_group.att_arn().to_json()],
                ),
                // X-Ray and the VPC network interfaces have no resource-level
                // permissions for these actions, so they take `*` (instead of the AWS
                // managed policies, which AWS may widen).
                policy::allow(
                    &["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                    vec![json!("*")],
                ),
                policy::allow(
                    &[
                        "ec2:CreateNetworkInterface",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DeleteNetworkInterface",
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    vec![json!("*")],
                ),
                // The environment and the secrets are encrypted with the stage key.
                policy::allow(&["kms:Decrypt"], vec![self.kms_key_arn.to_json()]),
            ];
            // Redis: IAM authentication as the redis stack's app user, on that
            // replication group only (its user id is its name, so the user's ARN is
            // built from the exported name).
            statements.push(policy::allow(
                &["elasticache:Connect"],
                vec![
                    Expr::sub_with(
                        "arn:${AWS::Partition}:elasticache:${AWS::Region}:${AWS::AccountId}:replicationgroup:${Group}",
                        [("Group", stage.import("redis", "replication-group-id").to_json())],
                    )
                    .to_json(),
                    Expr::sub_with(
                        "arn:${AWS::Partition}:elasticache:${AWS::Region}:${AWS::AccountId}:user:${User}",
                        [("User", stage.import("redis", "user-name").to_json())],
                    )
                    .to_json(),
                ],
            ));
            if db.auth == "secret" {
                statements.push(policy::allow(
                    &["secretsmanager:GetSecretValue"],
                    vec![db_credential.to_json()],
                ));
            } else {
                statements.push(policy::allow(
                    &["rds-db:connect"],
                    vec![Expr::sub_with(
                        "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:dbuser:${Cluster}/${User}",
                        [("Cluster", db_credential.to_json()), ("User", db_user.to_json())],
                    )
                    .to_json()],
                ));
            }
            let role = t.add(
                &format!("{}Role", f.logical),
                Role::new(policy::trust_service("lambda.amazonaws.com"))
                    .description(format!(
                        "{}: its logs, its Redis user, its database user or secret, its network interfaces",
                        f.slug
                    ))
                    .policies(vec![
                        RolePolicy::new(policy::document(statements), f.slug).into(),
                    ]),
            )?;

            let mut variables = serde_json::Map::new();
            let mut set = |k: &str, v: Json| {
                variables.insert(k.to_owned(), v);
            };
            set("STAGE", json!(stage.name()));
            set("RUST_LOG", json!("info"));
            set("REDIS_URL", stage.import("redis", "url").to_json());
            set(
                "REDIS_MODE",
                json!(if self.redis_cluster_mode {
                    "cluster"
                } else {
                    "standalone"
                }),
            );
            // ElastiCache IAM authentication: the function signs a token for this user
            // and group with its role (AWS_REGION comes from Lambda). No token or secret
            // is in the environment.
            set("REDIS_IAM_AUTH", json!("true"));
            set(
                "REDIS_USERNAME",
                stage.import("redis", "user-name").to_json(),
            );
            set(
                "REDIS_REPLICATION_GROUP_ID",
                stage.import("redis", "replication-group-id").to_json(),
            );
            set("DATABASE_CA_BUNDLE", json!(DATABASE_CA_BUNDLE));
            set("DATABASE_HOST", db_host.to_json());
            set("DATABASE_PORT", json!(db.port.to_string()));
            set("DATABASE_NAME", db_name.to_json());
            set("DATABASE_USER", db_user.to_json());
            if db.auth == "secret" {
                set("DATABASE_SECRET_ARN", db_credential.to_json());
            } else {
                set("DATABASE_IAM_AUTH", json!("true"));
            }
            let mut function = Function::new(
                Code::new()
                    .s3_bucket(bucket.clone())
                    .s3_key(code_keys[index].clone()),
                role.att_arn(),
            )
            .function_name(name.as_str())
            .description(format!("roadcall {} API ({})", f.slug, stage.name()))
            .runtime(Runtime::ProvidedAl2023)
            .architectures(vec![ArchitecturesItem::Arm64.into()])
            .handler("bootstrap")
            .memory_size(fc.memory_mb)
            .timeout(c.timeout_seconds)
            .tracing_config(TracingConfig::new().mode(Mode::Active))
            .logging_config(
                LoggingConfig::new()
                    .log_group(log_group.ref_())
                    .log_format(LogFormat::Json),
            )
            .vpc_config(
                VpcConfig::new()
                    .security_group_ids(vec![
                        stage.import("network", "cache-client-sg"),
                        function_sg.att_group_id(),
                    ])
                    .subnet_ids(stage.private_subnets()),
            )
            .environment(Environment::new().variables(Json::Object(variables)))
            .kms_key_arn(self.kms_key_arn.clone());
            if fc.reserved_concurrency > 0 {
                function = function.reserved_concurrent_executions(fc.reserved_concurrency);
            }
            // A version captures code and configuration, and CloudFormation publishes a
            // new one only when the Version resource is replaced: its (create-only)
            // description names the code key (a content hash when `stacks deploy`
            // uploads) and a digest of the function's synthesized properties, so new code
            // or new settings publish a new version and move `live` to it.
            let digest = short_digest(&to_json(&function));
            let function = t.add(&format!("{}Function", f.logical), function)?;
            let version = t.add(
                &format!("{}Version", f.logical),
                Version::new(function.ref_()).description(Expr::sub_with(
                    format!("code ${{Key}}, configuration {digest}"),
                    [("Key", code_keys[index].to_json())],
                )),
            )?;
            let mut alias = Alias::new(function.ref_(), version.att_version(), LIVE_ALIAS)
                .description("What the API, the warmer and the alarms invoke");
            if fc.provisioned_concurrency > 0 {
                alias = alias.provisioned_concurrency_config(
                    ProvisionedConcurrencyConfiguration::new(i64::from(fc.provisioned_concurrency)),
                );
            }
            let alias = t.add(&format!("{}LiveAlias", f.logical), alias)?;
            crate::check::add_suppression(
                t,
                &format!("{}LiveAlias", f.logical),
                crate::check::native::CUSTOM_NAME_REPLACEMENT,
                "`live` is the qualifier the API integrations, the warmer and the alarms name; \
                 its create-only FunctionName is this stack's own function, and `stacks diff` and \
                 `stacks deploy` stop before a change set that would replace it",
            )?;

            t.add(
                &format!("{}ApiPermission", f.logical),
                Permission::new(
                    "lambda:InvokeFunction",
                    alias.ref_(),
                    "apigateway.amazonaws.com",
                )
                .source_arn(api_arn.clone()),
            )?;
            let timeout_ms = i64::from((c.timeout_seconds + 1).min(30)) * 1000;
            let integration = t.add(
                &format!("{}Integration", f.logical),
                Integration::new(api.ref_(), "AWS_PROXY")
                    .integration_uri(alias.ref_())
                    .payload_format_version("2.0")
                    .timeout_in_millis(timeout_ms),
            )?;
            let health_integration = t.add(
                &format!("{}HealthIntegration", f.logical),
                Integration::new(api.ref_(), "AWS_PROXY")
                    .integration_uri(alias.ref_())
                    .payload_format_version("2.0")
                    .timeout_in_millis(timeout_ms)
                    // The router serves `/health`; this route is `/health/<slug>`.
                    .request_parameters(json!({"overwrite:path": "/health"})),
            )?;
            let target = |i: &Handle<Integration>| {
                Expr::sub(format!("integrations/${{{}}}", i.logical_id()))
            };
            for key in f.routes {
                let mut route = Route::new(api.ref_(), *key).target(target(&integration));
                route = match &authorizer {
                    Some(a) => route.authorization_type("JWT").authorizer_id(a.ref_()),
                    None => route.authorization_type("AWS_IAM"),
                };
                t.add(&route_logical_id(key), route)?;
            }
            // Health checks answer load balancers and people without a token; they
            // reveal only whether the dependencies answer.
            t.add(
                &route_logical_id(&f.health_route()),
                Route::new(api.ref_(), f.health_route())
                    .target(target(&health_integration))
                    .authorization_type("NONE"),
            )?;
            if index == 0 {
                t.add(
                    &route_logical_id("GET /health"),
                    Route::new(api.ref_(), "GET /health")
                        .target(target(&integration))
                        .authorization_type("NONE"),
                )?;
            }
            crate::check::add_suppression(
                t,
                &format!("{}Function", f.logical),
                "CKV_AWS_116",
                "API Gateway invokes the function synchronously: a failure goes back to the caller as an error \
                 response, and a dead-letter queue only ever receives asynchronous events",
            )?;
            if fc.reserved_concurrency == 0 {
                crate::check::add_suppression(
                    t,
                    &format!("{}Function", f.logical),
                    "CKV_AWS_115",
                    "Reserved concurrency is a stage option (services.<function>.reserved_concurrency), off by \
                     default so the stack deploys in accounts with the minimum unreserved concurrency",
                )?;
            }
            crate::check::add_suppression(
                t,
                &format!("{}Role", f.logical),
                "CKV_AWS_111",
                "The only write actions on * are the EC2 network-interface actions Lambda needs to attach the \
                 function to the VPC; EC2 offers no resource-level permission for DescribeNetworkInterfaces \
                 and Lambda creates the interfaces in subnets chosen at run time",
            )?;
            self.alarms(stage, t, f, &name)?;
            aliases.push(alias);
        }
        stage.export(
            t,
            "ApiEndpoint",
            "HTTP API endpoint (https://<id>.execute-api.<region>.amazonaws.com)",
            // The same value as `Fn::GetAtt HttpApi.ApiEndpoint`, spelled out so the
            // output also resolves where the API is only referenced (moto).
            Expr::sub("https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"),
            "services",
            "api-endpoint",
        )?;
        stage.export(
            t,
            "ApiDomainName",
            "HTTP API host name: the cdn stack's ApiDomainName",
            Expr::sub("${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"),
            "services",
            "api-domain-name",
        )?;
        for (f, alias) in FUNCTIONS.iter().zip(&aliases) {
            stage.export(
                t,
                &format!("{}AliasArn", f.logical),
                &format!("The {} function's live alias", f.slug),
                alias.ref_(),
                "services",
                &format!("{}-alias-arn", f.slug),
            )?;
        }
        Ok(ServicesHandles { api, aliases })
    }

    /// Errors and throttles of one function's `live` alias, to the stage's alarm topic.
    fn alarms(
        &self,
        stage: &Stage<'_>,
        t: &mut Template,
        f: &ServiceFunction,
        name: &str,
    ) -> Result<(), TemplateError> {
        let topic = stage.import("monitoring", "alarm-topic-arn");
        for (metric, what, threshold) in
            [("Errors", "errors", 1.0), ("Throttles", "throttles", 1.0)]
        {
            t.add(
                &format!("{}{metric}Alarm", f.logical),
                Alarm::new()
                    .alarm_name(stage.resource_name(&format!("{}-{what}", f.slug)))
                    .alarm_description(format!(
                        "{name}:{LIVE_ALIAS} reported {what} in 3 of the last 3 periods of 5 minutes: see docs/operations.md#function-{what}"
                    ))
                    .namespace("AWS/Lambda")
                    .metric_name(metric)
                    .dimensions(vec![
                        Dimension::new("FunctionName", name).into(),
                        Dimension::new("Resource", format!("{name}:{LIVE_ALIAS}")).into(),
                    ])
                    .statistic(Statistic::Sum)
                    .period(300)
                    .evaluation_periods(3)
                    .datapoints_to_alarm(3)
                    .threshold(threshold)
                    .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
                    .treat_missing_data(TreatMissingData::NotBreaching)
                    .alarm_actions(vec![topic.clone()])
                    .ok_actions(vec![topic.clone()]),
            )?;
        }
        Ok(())
    }
}

/// Logical ids of the unauthenticated health routes, with their keys.
pub fn health_route_ids() -> Vec<(String, String)> {
    let mut keys = vec!["GET /health".to_owned()];
    keys.extend(FUNCTIONS.iter().map(ServiceFunction::health_route));
    keys.into_iter()
        .map(|k| (route_logical_id(&k), k))
        .collect()
}

/// The access log line: one JSON object per request with the caller and the outcome.
fn access_log_format() -> String {
    let fields = [
        ("requestId", "$context.requestId"),
        ("ip", "$context.identity.sourceIp"),
        ("requestTime", "$context.requestTime"),
        ("routeKey", "$context.routeKey"),
        ("status", "$context.status"),
        ("responseLength", "$context.responseLength"),
        ("integrationLatency", "$context.integrationLatency"),
        ("integrationError", "$context.integrationErrorMessage"),
        ("authorizerError", "$context.authorizer.error"),
        ("principal", "$context.authorizer.claims.sub"),
    ];
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("\"{k}\":\"{v}\""))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// A 64-bit FNV-1a digest of `value`'s JSON, in hex: enough to tell one configuration
/// from the next (serde_json maps are sorted, so the text is deterministic).
fn short_digest(value: &Json) -> String {
    let text = serde_json::to_string(value).unwrap_or_default();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_ids_are_stable_and_distinct() {
        assert_eq!(route_logical_id("GET /vendors/{id}"), "RouteGetVendorsId");
        assert_eq!(
            route_logical_id("PATCH /vendors/{id}/availability"),
            "RoutePatchVendorsIdAvailability"
        );
        let mut ids: Vec<String> = FUNCTIONS
            .iter()
            .flat_map(|f| f.routes.iter().map(|k| route_logical_id(k)))
            .chain(health_route_ids().into_iter().map(|(id, _)| id))
            .collect();
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count);
    }

    #[test]
    fn the_digest_follows_the_content() {
        assert_eq!(
            short_digest(&json!({"a": 1})),
            short_digest(&json!({"a": 1}))
        );
        assert_ne!(
            short_digest(&json!({"a": 1})),
            short_digest(&json!({"a": 2}))
        );
    }
}
