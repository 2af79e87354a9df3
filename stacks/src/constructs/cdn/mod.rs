//! `Cdn`: CloudFront in front of a private S3 bucket of static assets and, when an API
//! domain is configured, the API under `/api/*`.
//!
//! Secure defaults: the asset bucket blocks all public access, is encrypted and versioned
//! and is read only by this distribution through Origin Access Control; every request to
//! either bucket must use TLS; viewers are redirected to HTTPS (and must use HTTPS for the
//! API); the API origin is reached over TLS 1.2 only; a response-headers policy adds HSTS
//! and the other security headers; access logs go to a dedicated bucket.

pub mod config;

use cfn::aws::cloudfront::cache_policy::{
    CachePolicyConfig, CookiesConfig, HeadersConfig, ParametersInCacheKeyAndForwardedToOrigin,
    QueryStringsConfig,
};
use cfn::aws::cloudfront::distribution::{
    CacheBehavior, CustomOriginConfig, DefaultCacheBehavior, DistributionConfig,
    FunctionAssociation, HttpVersion, Logging, MinimumProtocolVersion, Origin, S3OriginConfig,
    SslSupportMethod, ViewerCertificate, ViewerProtocolPolicy,
};
use cfn::aws::cloudfront::function::{FunctionConfig, Runtime as FunctionRuntime};
use cfn::aws::cloudfront::origin_access_control::OriginAccessControlConfig;
use cfn::aws::cloudfront::response_headers_policy::{
    ContentTypeOptions, FrameOptions, ReferrerPolicy, ResponseHeadersPolicyConfig,
    SecurityHeadersConfig, StrictTransportSecurity, XSSProtection,
};
use cfn::aws::cloudfront::{
    CachePolicy, Distribution, Function as CloudFrontFunction, OriginAccessControl,
    ResponseHeadersPolicy,
};
use cfn::aws::kms::Key;
use cfn::aws::logs::LogGroup;
use cfn::aws::s3::bucket::{
    BucketEncryption, LifecycleConfiguration, LoggingConfiguration, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, Rule, RuleStatus,
    SSEAlgorithm, ServerSideEncryptionByDefault, ServerSideEncryptionRule, VersioningConfiguration,
    VersioningConfigurationStatus,
};
use cfn::aws::s3::{Bucket, BucketPolicy};
use cfn::aws::wafv2::web_acl::{
    AggregateKeyType, AllowAction, BlockAction, DefaultAction, ManagedRuleGroupStatement,
    OverrideAction, RateBasedStatement, Rule as WafRule, RuleAction, Scope, Statement,
    VisibilityConfig,
};
use cfn::aws::wafv2::{LoggingConfiguration as WafLoggingConfiguration, WebACL};
use cfn::{
    Expr, Handle, Parameter, ParameterType, Policy, Pseudo, ResourceOptions, Template,
    TemplateError,
};
use serde_json::json;

use crate::constructs::{keys, policy};
use crate::stage::{Stage, to_json};
use config::CdnConfig;

/// AWS managed cache policy `Managed-CachingOptimized`.
pub const MANAGED_CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
/// AWS managed origin request policy `Managed-AllViewerExceptHostHeader`: API Gateway
/// needs its own Host header, everything else is forwarded.
pub const MANAGED_ALL_VIEWER_EXCEPT_HOST: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

/// The `stacks check` rule (cloudfront.guard) a distribution on the default certificate
/// fails.
pub const OWN_CERTIFICATE_RULE: &str = "CLOUDFRONT_OWN_CERTIFICATE";

/// Template rule: a certificate comes with at least one alias.
pub const ALIASES_WITH_CERTIFICATE_RULE: &str = "AliasesWithCertificate";
/// Template rule: the stack is deployed in us-east-1.
pub const CDN_REGION_RULE: &str = "DeployInUsEast1";

/// The viewer-request function of the `/api/*` behavior: it removes the `/api` prefix,
/// so the API (and the routers behind it) see the paths they serve.
pub const STRIP_API_PREFIX_JS: &str = include_str!("strip_api_prefix.js");

/// Logical id of the CloudFront Function that strips `/api`.
pub const STRIP_API_PREFIX_FUNCTION: &str = "ApiPrefixFunction";

/// What the `CertificateArn` parameter accepts (the empty alternative only where the
/// stage allows the default certificate).
const CERTIFICATE_PATTERN: &str =
    "^$|^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/[0-9a-f-]+$";

/// Condition: an API domain is configured.
pub const HAS_API_DOMAIN: &str = "HasApiDomain";
/// Condition: a certificate (and so aliases and TLS 1.2_2021) is configured; only in
/// stages that allow the default certificate.
pub const HAS_CERTIFICATE: &str = "HasCertificate";

/// The distribution, its buckets and its policies.
#[derive(Clone, Debug)]
pub struct Cdn {
    /// Stage settings.
    pub config: CdnConfig,
}

/// Handles to what [`Cdn::build`] created.
#[derive(Clone, Debug)]
pub struct CdnHandles {
    /// The distribution.
    pub distribution: Handle<Distribution>,
    /// The static-asset bucket.
    pub assets: Handle<Bucket>,
    /// The access-log bucket.
    pub logs: Handle<Bucket>,
    /// The web ACL in front of the distribution.
    pub web_acl: Handle<WebACL>,
}

/// The AWS managed rule groups the web ACL applies, in priority order.
pub const MANAGED_RULE_GROUPS: &[&str] = &[
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
];

fn visibility(metric: &str) -> VisibilityConfig {
    VisibilityConfig::new(true, metric, true)
}

fn private_bucket(encryption: SSEAlgorithm, ownership: ObjectOwnership) -> Bucket {
    Bucket::new()
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::new()
                .block_public_acls(true)
                .block_public_policy(true)
                .ignore_public_acls(true)
                .restrict_public_buckets(true),
        )
        .bucket_encryption(BucketEncryption::new(vec![
            ServerSideEncryptionRule::new()
                .server_side_encryption_by_default(ServerSideEncryptionByDefault::new(encryption))
                .into(),
        ]))
        .versioning_configuration(VersioningConfiguration::new(
            VersioningConfigurationStatus::Enabled,
        ))
        .ownership_controls(OwnershipControls::new(vec![
            OwnershipControlsRule::new()
                .object_ownership(ownership)
                .into(),
        ]))
}

impl Cdn {
    /// Adds the parameters, conditions, buckets, policies and distribution to `t`.
    pub fn build(&self, stage: &Stage<'_>, t: &mut Template) -> Result<CdnHandles, TemplateError> {
        let c = &self.config;
        let api_domain = t.add_parameter(
            "ApiDomainName",
            Parameter::new(
                ParameterType::String,
                "API domain served under /api/* (stacks deploy fills in the services stack's API when the stage names none; empty: no /api/* behavior)",
            )
            .default_value(&c.api_domain_name)
            .allowed_pattern(
                "^$|^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$",
                "a lowercase domain name, or empty",
            ),
        )?;
        let own_certificate_only = CdnConfig::certificate_required(stage.name());
        let certificate = t.add_parameter(
            "CertificateArn",
            Parameter::new(
                ParameterType::String,
                if own_certificate_only {
                    "ACM certificate in us-east-1 for the aliases (required: viewers get TLSv1.2_2021)"
                } else {
                    "ACM certificate in us-east-1 for the aliases (empty: default certificate)"
                },
            )
            .default_value(&c.certificate_arn)
            .allowed_pattern(
                if own_certificate_only {
                    CERTIFICATE_PATTERN.trim_start_matches("^$|")
                } else {
                    CERTIFICATE_PATTERN
                },
                if own_certificate_only {
                    "an ACM certificate ARN in us-east-1"
                } else {
                    "an ACM certificate ARN in us-east-1, or empty"
                },
            ),
        )?;
        let aliases = t.add_parameter(
            "Aliases",
            Parameter::new(
                ParameterType::CommaDelimitedList,
                "Alternate domain names (used only with a certificate)",
            )
            .default_value(c.aliases.join(",")),
        )?;
        // With a certificate, an empty `Aliases` resolves to `[""]`, an alias CloudFront
        // refuses halfway through the deploy: refuse it before anything is created.
        let aliases_assertion = json!({"Fn::Not": [{"Fn::Contains": [aliases.clone(), ""]}]});
        let aliases_message = "A CertificateArn needs at least one alias in Aliases (CloudFront refuses the empty alias)";
        if own_certificate_only {
            t.add_rule(
                ALIASES_WITH_CERTIFICATE_RULE,
                aliases_assertion,
                aliases_message,
            )?;
        } else {
            t.add_rule_when(
                ALIASES_WITH_CERTIFICATE_RULE,
                Expr::not(Expr::equals(certificate.clone(), "")),
                aliases_assertion,
                aliases_message,
            )?;
        }
        let has_api = t.add_condition(
            HAS_API_DOMAIN,
            Expr::not(Expr::equals(api_domain.clone(), "")),
        )?;
        // Outside dev's opt-in the certificate is required, so nothing depends on it.
        let has_cert = if own_certificate_only {
            None
        } else {
            Some(t.add_condition(
                HAS_CERTIFICATE,
                Expr::not(Expr::equals(certificate.clone(), "")),
            )?)
        };

        // CloudFront standard logs are delivered with ACLs, so the log bucket keeps
        // BucketOwnerPreferred ownership and SSE-S3 (CloudFront cannot write SSE-KMS).
        let logs = t.add_with(
            "AccessLogBucket",
            private_bucket(SSEAlgorithm::Aes256, ObjectOwnership::BucketOwnerPreferred)
                .lifecycle_configuration(LifecycleConfiguration::new(vec![
                    Rule::new(RuleStatus::Enabled)
                        .id("expire-access-logs")
                        .expiration_in_days(c.log_expiration_days)
                        .noncurrent_version_expiration_in_days(1)
                        .into(),
                ])),
            ResourceOptions::default().retain_with(Policy::Retain),
        )?;
        let assets = t.add_with(
            "AssetsBucket",
            private_bucket(SSEAlgorithm::Aes256, ObjectOwnership::BucketOwnerEnforced)
                .logging_configuration(
                    LoggingConfiguration::new()
                        .destination_bucket_name(logs.ref_())
                        .log_file_prefix("s3-assets/"),
                ),
            ResourceOptions::default().retain_with(Policy::Retain),
        )?;
        let oac = t.add(
            "AssetsOriginAccessControl",
            OriginAccessControl::new(OriginAccessControlConfig::new(
                stage.resource_name("assets"),
                "s3",
                "always",
                "sigv4",
            )),
        )?;
        let api_cache_policy = t.add(
            "ApiCachePolicy",
            CachePolicy::new(
                CachePolicyConfig::new(
                    f64::from(c.api_default_ttl_seconds),
                    f64::from(c.api_max_ttl_seconds),
                    0.0,
                    stage.resource_name("api"),
                    ParametersInCacheKeyAndForwardedToOrigin::new(
                        CookiesConfig::new("none"),
                        true,
                        HeadersConfig::new("whitelist").headers(vec!["Authorization", "Content-Type"]),
                        QueryStringsConfig::new("all"),
                    )
                    .enable_accept_encoding_brotli(true),
                )
                .comment("API responses: per Authorization, Content-Type and query string; origin Cache-Control decides up to the max TTL"),
            ),
        )?;
        let headers = t.add(
            "SecurityHeadersPolicy",
            ResponseHeadersPolicy::new(
                ResponseHeadersPolicyConfig::new(stage.resource_name("security-headers"))
                    .comment("HSTS, nosniff, frame denial, referrer policy, XSS protection")
                    .security_headers_config(
                        SecurityHeadersConfig::new()
                            .strict_transport_security(
                                StrictTransportSecurity::new(63_072_000, true)
                                    .include_subdomains(true)
                                    .preload(true),
                            )
                            .content_type_options(ContentTypeOptions::new(true))
                            .frame_options(FrameOptions::new("DENY", true))
                            .referrer_policy(ReferrerPolicy::new(
                                true,
                                "strict-origin-when-cross-origin",
                            ))
                            .xss_protection(XSSProtection::new(true, true).mode_block(true)),
                    ),
            ),
        )?;

        let assets_origin = Origin::new(assets.att_regional_domain_name(), "assets")
            .s3_origin_config(S3OriginConfig::new().origin_access_identity(""))
            .origin_access_control_id(oac.att_id());
        let api_origin = Origin::new(api_domain.clone(), "api").custom_origin_config(
            CustomOriginConfig::new("https-only")
                .https_port(443)
                .origin_ssl_protocols(vec!["TLSv1.2"])
                .origin_read_timeout(30)
                .origin_keepalive_timeout(5),
        );
        let strip_prefix = t.add_with(
            STRIP_API_PREFIX_FUNCTION,
            CloudFrontFunction::new(
                STRIP_API_PREFIX_JS,
                FunctionConfig::new(
                    "Removes the /api prefix before the request reaches the API",
                    FunctionRuntime::CloudfrontJs20,
                ),
                stage.resource_name("strip-api-prefix"),
            )
            .auto_publish(true),
            ResourceOptions::when(HAS_API_DOMAIN),
        )?;
        let api_behavior = CacheBehavior::new("/api/*", "api", "https-only")
            .function_associations(vec![
                FunctionAssociation::new()
                    .event_type("viewer-request")
                    .function_arn(strip_prefix.att_function_arn())
                    .into(),
            ])
            .allowed_methods(vec![
                "GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE",
            ])
            .cached_methods(vec!["GET", "HEAD"])
            .cache_policy_id(api_cache_policy.att_id())
            .origin_request_policy_id(MANAGED_ALL_VIEWER_EXCEPT_HOST)
            .response_headers_policy_id(headers.att_id())
            .compress(true);
        let own_certificate = ViewerCertificate::new()
            .acm_certificate_arn(certificate.clone())
            .ssl_support_method(SslSupportMethod::SniOnly)
            .minimum_protocol_version(MinimumProtocolVersion::TLSv122021);
        let (viewer_certificate, distribution_aliases): (cfn::Val<_>, cfn::Val<_>) = match &has_cert
        {
            None => (cfn::Val::Lit(own_certificate), aliases.clone().into()),
            // A conditional certificate: the stage allows the default one.
            Some(has_cert) => (
                Expr::if_(
                    has_cert.clone(),
                    to_json(&own_certificate),
                    to_json(&ViewerCertificate::new().cloud_front_default_certificate(true)),
                )
                .into(),
                Expr::if_(has_cert.clone(), aliases.to_json(), Expr::no_value()).into(),
            ),
        };

        let web_acl = self.web_acl(stage, t)?;

        let config = DistributionConfig::new(
            DefaultCacheBehavior::new("assets", ViewerProtocolPolicy::RedirectToHttps)
                .cache_policy_id(MANAGED_CACHING_OPTIMIZED)
                .response_headers_policy_id(headers.att_id())
                .allowed_methods(vec!["GET", "HEAD"])
                .cached_methods(vec!["GET", "HEAD"])
                .compress(true),
            true,
        )
        .comment(format!(
            "roadcall-perf {}: static assets and /api/*",
            stage.name()
        ))
        .default_root_object("index.html")
        .http_version(HttpVersion::Http2and3)
        .ipv6_enabled(true)
        .price_class(c.price_class)
        .origins(vec![
            assets_origin.into(),
            Expr::if_(has_api.clone(), to_json(&api_origin), Expr::no_value()).into(),
        ])
        .cache_behaviors(Expr::if_(
            has_api.clone(),
            json!([to_json(&api_behavior)]),
            Expr::no_value(),
        ))
        .viewer_certificate(viewer_certificate)
        .aliases(distribution_aliases)
        .web_acl_id(web_acl.att_arn())
        .logging(
            Logging::new()
                .bucket(logs.att_regional_domain_name())
                .prefix("cloudfront/")
                .include_cookies(false),
        );
        let distribution = t.add("Distribution", Distribution::new(config))?;
        if !own_certificate_only && c.allow_default_certificate {
            // The stage opted into the default certificate: both scanners report it as a
            // suppressed finding instead of failing, so `stacks check` still says so.
            // Without the opt-in, CLOUDFRONT_OWN_CERTIFICATE fails and blocks the deploy.
            let reason = "The stage file sets cdn.allow_default_certificate = true: without CertificateArn \
                          CloudFront serves its default *.cloudfront.net certificate, whose TLSv1 viewer \
                          minimum it fixes; with a certificate the distribution requires TLSv1.2_2021";
            crate::check::add_suppression(t, "Distribution", "CKV_AWS_174", reason)?;
            crate::check::add_suppression(t, "Distribution", OWN_CERTIFICATE_RULE, reason)?;
        }
        crate::check::add_suppression(
            t,
            "AccessLogBucket",
            "CKV_AWS_18",
            "This bucket is the access-log destination of the distribution and the asset bucket; logging it \
             into itself would loop",
        )?;

        let distribution_arn = Expr::sub(
            "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}",
        );
        t.add(
            "AssetsBucketPolicy",
            BucketPolicy::new(
                assets.ref_(),
                policy::document(vec![
                    json!({
                        "Sid": "AllowCloudFrontOriginAccessControl",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudfront.amazonaws.com"},
                        "Action": "s3:GetObject",
                        "Resource": Expr::sub("${AssetsBucket.Arn}/*"),
                        "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}}
                    }),
                    policy::deny_insecure_transport(
                        "s3",
                        vec![
                            assets.att_arn().to_json(),
                            Expr::sub("${AssetsBucket.Arn}/*").to_json(),
                        ],
                    ),
                ]),
            ),
        )?;
        t.add(
            "AccessLogBucketPolicy",
            BucketPolicy::new(
                logs.ref_(),
                policy::document(vec![
                    json!({
                        "Sid": "AllowS3ServerAccessLogs",
                        "Effect": "Allow",
                        "Principal": {"Service": "logging.s3.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": Expr::sub("${AccessLogBucket.Arn}/s3-assets/*"),
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": Expr::from(Pseudo::AccountId)},
                            "ArnLike": {"aws:SourceArn": assets.att_arn()}
                        }
                    }),
                    policy::deny_insecure_transport(
                        "s3",
                        vec![
                            logs.att_arn().to_json(),
                            Expr::sub("${AccessLogBucket.Arn}/*").to_json(),
                        ],
                    ),
                ]),
            ),
        )?;

        stage.export(
            t,
            "DistributionId",
            "CloudFront distribution id",
            distribution.ref_(),
            "cdn",
            "distribution-id",
        )?;
        stage.export(
            t,
            "DistributionDomainName",
            "CloudFront domain name",
            distribution.att_domain_name(),
            "cdn",
            "domain-name",
        )?;
        stage.export(
            t,
            "AssetsBucketName",
            "Bucket of static assets",
            assets.ref_(),
            "cdn",
            "assets-bucket",
        )?;
        Ok(CdnHandles {
            distribution,
            assets,
            logs,
            web_acl,
        })
    }

    /// The web ACL (AWS managed rules plus a per-IP rate limit) and its encrypted logs.
    /// A CLOUDFRONT-scope web ACL exists only in us-east-1, so this stack deploys there.
    fn web_acl(
        &self,
        stage: &Stage<'_>,
        t: &mut Template,
    ) -> Result<Handle<WebACL>, TemplateError> {
        let mut rules = Vec::new();
        for (priority, group) in MANAGED_RULE_GROUPS.iter().enumerate() {
            rules.push(
                WafRule::new(
                    format!("aws-{group}"),
                    priority as i64,
                    Statement::new().managed_rule_group_statement(ManagedRuleGroupStatement::new(
                        *group, "AWS",
                    )),
                    visibility(group),
                )
                .override_action(OverrideAction::new().none(json!({})))
                .into(),
            );
        }
        rules.push(
            WafRule::new(
                "rate-limit-per-ip",
                MANAGED_RULE_GROUPS.len() as i64,
                Statement::new().rate_based_statement(RateBasedStatement::new(
                    AggregateKeyType::Ip,
                    i64::from(self.config.rate_limit_per_5min),
                )),
                visibility("RateLimitPerIp"),
            )
            .action(RuleAction::new().block(BlockAction::new()))
            .into(),
        );
        // A CLOUDFRONT-scope web ACL exists only in us-east-1: say so before CloudFormation
        // creates anything, for `aws cloudformation deploy` as much as for `stacks deploy`.
        t.add_rule(
            CDN_REGION_RULE,
            Expr::equals(Expr::from(Pseudo::Region), "us-east-1"),
            "The cdn stack must be deployed in us-east-1: CloudFront's web ACL and certificate exist only there",
        )?;
        let web_acl = t.add(
            "WebAcl",
            WebACL::new(
                DefaultAction::new().allow(AllowAction::new()),
                Scope::Cloudfront,
                visibility(&stage.resource_name("cdn")),
            )
            .name(stage.resource_name("cdn"))
            .description("AWS managed protections and a per-IP rate limit in front of CloudFront")
            .rules(rules),
        )?;
        crate::check::add_suppression(
            t,
            "WebAcl",
            crate::check::native::CUSTOM_NAME_REPLACEMENT,
            "Its only other create-only property, Scope, is CLOUDFRONT by construction (never from the stage \
             file or a parameter), so no update needs a replacement",
        )?;
        // WAF logs stay in this stack's region (us-east-1), so they get a key of their own.
        let key = t.add_with(
            "WafLogsKey",
            Key::new()
                .description(format!("roadcall-perf {}: WAF logs", stage.name()))
                .enable_key_rotation(true)
                .pending_window_in_days(30)
                .key_policy(json!({
                    "Version": "2012-10-17",
                    "Statement": [keys::account_statement(), keys::logs_statement()]
                })),
            ResourceOptions::default().retain_with(Policy::Retain),
        )?;
        // WAF requires the `aws-waf-logs-` prefix.
        let log_group_name = format!("aws-waf-logs-{}", stage.resource_name("cdn"));
        t.add_with(
            "WafLogGroup",
            LogGroup::new()
                .log_group_name(log_group_name.as_str())
                .retention_in_days(self.config.log_expiration_days)
                .kms_key_id(key.att_arn()),
            ResourceOptions::default().retain_with(policy::log_group_policy(stage)),
        )?;
        t.add_with(
            "WafLogging",
            WafLoggingConfiguration::new(
                vec![Expr::sub(format!(
                    "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{log_group_name}"
                ))],
                web_acl.att_arn(),
            ),
            ResourceOptions::default().depends_on("WafLogGroup"),
        )?;
        Ok(web_acl)
    }
}
