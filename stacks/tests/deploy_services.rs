//! `stacks status`, `invalidate` and `flush-appsync` against a real moto_server.
//!
//! moto does not create ElastiCache, DAX, CloudFront or AppSync resources through
//! CloudFormation, but implements their APIs. So the tests create those resources
//! directly through the SDK, then run the status and cache-operation code against them:
//! once through the library functions, once through the `stacks` binary with stand-in
//! stacks whose outputs carry the ids (as the real stacks' outputs do).

use std::process::{Command, Stdio};

use aws_config::BehaviorVersion;
use aws_sdk_cloudformation::config::Credentials;
use aws_sdk_cloudformation::types::Parameter;
use stacks::deploy::DeployError;
use stacks::deploy::{cache_ops, status};
use testkit::moto::MotoServer;

async fn sdk_config(moto: &MotoServer) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto.endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await
}

/// The ids of what [`create_services`] made.
struct Services {
    replication_group: String,
    dax_cluster: String,
    distribution: String,
    api: String,
    rule: String,
}

async fn create_services(moto: &MotoServer, config: &aws_config::SdkConfig) -> Services {
    // DAX clusters otherwise report `creating` for their first few describes.
    moto.post_ok(
        "/moto-api/state-manager/set-transition",
        r#"{"model_name": "dax::cluster", "transition": {"progression": "immediate"}}"#,
    );
    aws_sdk_elasticache::Client::new(config)
        .create_replication_group()
        .replication_group_id("roadcall-perf-dev-redis")
        .replication_group_description("test")
        .engine("redis")
        .cache_node_type("cache.t3.medium")
        .num_cache_clusters(1)
        .transit_encryption_enabled(true)
        .at_rest_encryption_enabled(true)
        .send()
        .await
        .unwrap();

    aws_sdk_dax::Client::new(config)
        .create_cluster()
        .cluster_name("roadcall-perf-dev-dax")
        .node_type("dax.t3.small")
        .replication_factor(1)
        .iam_role_arn("arn:aws:iam::123456789012:role/dax")
        .sse_specification(
            aws_sdk_dax::types::SseSpecification::builder()
                .enabled(true)
                .build()
                .unwrap(),
        )
        .cluster_endpoint_encryption_type(aws_sdk_dax::types::ClusterEndpointEncryptionType::Tls)
        .send()
        .await
        .unwrap();

    use aws_sdk_cloudfront::types::{
        DefaultCacheBehavior, DistributionConfig, Origin, Origins, S3OriginConfig,
        ViewerProtocolPolicy,
    };
    let distribution = aws_sdk_cloudfront::Client::new(config)
        .create_distribution()
        .distribution_config(
            DistributionConfig::builder()
                .caller_reference("test")
                .comment("test")
                .enabled(true)
                .origins(
                    Origins::builder()
                        .quantity(1)
                        .items(
                            Origin::builder()
                                .id("assets")
                                .domain_name("assets.s3.amazonaws.com")
                                .s3_origin_config(
                                    S3OriginConfig::builder().origin_access_identity("").build(),
                                )
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .default_cache_behavior(
                    DefaultCacheBehavior::builder()
                        .target_origin_id("assets")
                        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let distribution = distribution.distribution().unwrap().id().to_owned();

    let appsync = aws_sdk_appsync::Client::new(config);
    let api = appsync
        .create_graphql_api()
        .name("roadcall")
        .authentication_type(aws_sdk_appsync::types::AuthenticationType::ApiKey)
        .send()
        .await
        .unwrap();
    let api = api.graphql_api().unwrap().api_id().unwrap().to_owned();
    appsync
        .create_api_cache()
        .api_id(&api)
        .ttl(5)
        .api_caching_behavior(aws_sdk_appsync::types::ApiCachingBehavior::PerResolverCaching)
        .r#type(aws_sdk_appsync::types::ApiCacheType::Small)
        .send()
        .await
        .unwrap();

    let events = aws_sdk_eventbridge::Client::new(config);
    events
        .put_rule()
        .name("roadcall-perf-dev-warmer")
        .schedule_expression("rate(5 minutes)")
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("roadcall-perf-dev-warmer")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("warmer")
                .arn("arn:aws:lambda:us-east-1:123456789012:function:roadcall-perf-dev-warmer")
                .input(r#"{"targets":[]}"#)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    Services {
        replication_group: "roadcall-perf-dev-redis".to_owned(),
        dax_cluster: "roadcall-perf-dev-dax".to_owned(),
        distribution,
        api,
        rule: "roadcall-perf-dev-warmer".to_owned(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn service_status_and_cache_operations_through_the_library() {
    let moto = MotoServer::start();
    runtime().block_on(async {
        let config = sdk_config(&moto).await;
        let ids = create_services(&moto, &config).await;

        let redis = status::replication_group(&aws_sdk_elasticache::Client::new(&config), &ids.replication_group)
            .await
            .unwrap();
        assert_eq!(redis.get("status"), Some("available"));
        assert_eq!(redis.get("encryption"), Some("in transit true, at rest true"));
        assert!(
            redis.fields.iter().any(|(label, value)| label.ends_with("primary") && value.ends_with(":6379")),
            "{redis:?}"
        );

        let dax = status::dax_cluster(&aws_sdk_dax::Client::new(&config), &ids.dax_cluster).await.unwrap();
        assert_eq!(dax.get("status"), Some("available"));
        assert_eq!(dax.get("endpoint encryption"), Some("TLS"));
        assert!(dax.get("endpoint").is_some(), "{dax:?}");

        let cloudfront = aws_sdk_cloudfront::Client::new(&config);
        let cdn = status::distribution(&cloudfront, &ids.distribution).await.unwrap();
        assert!(cdn.get("status").is_some(), "{cdn:?}");
        assert!(cdn.get("domain").is_some_and(|d| d.ends_with(".cloudfront.net")), "{cdn:?}");
        assert_eq!(cdn.get("enabled"), Some("true"));

        let appsync = aws_sdk_appsync::Client::new(&config);
        let cache = status::api_cache(&appsync, &ids.api).await.unwrap();
        assert_eq!(cache.get("status"), Some("AVAILABLE"));
        assert_eq!(cache.get("type"), Some("SMALL"));
        assert_eq!(cache.get("behavior"), Some("PER_RESOLVER_CACHING"));

        let rule = status::schedule_rule(&aws_sdk_eventbridge::Client::new(&config), &ids.rule).await.unwrap();
        assert_eq!(rule.get("state"), Some("ENABLED"));
        assert_eq!(rule.get("schedule"), Some("rate(5 minutes)"));
        assert_eq!(
            rule.get("targets"),
            Some("warmer -> arn:aws:lambda:us-east-1:123456789012:function:roadcall-perf-dev-warmer")
        );

        let paths = vec!["/api/*".to_owned(), "/index.html".to_owned()];
        let invalidation = cache_ops::invalidate(&cloudfront, &ids.distribution, &paths, true, std::time::Duration::from_millis(50))
            .await
            .unwrap();
        // AWS says `Completed`, moto `COMPLETED`.
        assert!(invalidation.status.eq_ignore_ascii_case("Completed"), "{invalidation:?}");
        let listed = cloudfront.list_invalidations().distribution_id(&ids.distribution).send().await.unwrap();
        assert_eq!(listed.invalidation_list().unwrap().quantity(), 1);

        cache_ops::flush_api_cache(&appsync, &ids.api).await.unwrap();
        let missing = cache_ops::flush_api_cache(&appsync, "no-such-api").await.unwrap_err();
        assert!(
            matches!(&missing, DeployError::Aws { operation: "FlushApiCache", code, .. } if code == "NotFoundException"),
            "{missing:?}"
        );
        let missing = status::replication_group(&aws_sdk_elasticache::Client::new(&config), "nope").await.unwrap_err();
        assert!(missing.to_string().contains("DescribeReplicationGroups"), "{missing}");
    });
}

/// A stand-in stack: one placeholder queue, and the outputs and parameters the real
/// stack of that part would have.
async fn stand_in(
    config: &aws_config::SdkConfig,
    name: &str,
    outputs: &[(&str, &str)],
    parameter: Option<(&str, &str)>,
) {
    let mut template = serde_json::json!({
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {}
    });
    for (key, value) in outputs {
        template["Outputs"][*key] = serde_json::json!({"Value": value});
    }
    let mut request = aws_sdk_cloudformation::Client::new(config)
        .create_stack()
        .stack_name(name);
    if let Some((key, value)) = parameter {
        template["Parameters"] = serde_json::json!({key: {"Type": "String"}});
        request = request.parameters(
            Parameter::builder()
                .parameter_key(key)
                .parameter_value(value)
                .build(),
        );
    }
    request
        .template_body(template.to_string())
        .send()
        .await
        .unwrap();
}

#[test]
fn status_invalidate_and_flush_through_the_binary() {
    let moto = MotoServer::start();
    let ids = runtime().block_on(async {
        let config = sdk_config(&moto).await;
        let ids = create_services(&moto, &config).await;
        stand_in(
            &config,
            "roadcall-perf-dev-redis",
            &[("RedisReplicationGroupId", &ids.replication_group)],
            None,
        )
        .await;
        let dax_arn = format!(
            "arn:aws:dax:us-east-1:123456789012:cache/{}",
            ids.dax_cluster
        );
        stand_in(
            &config,
            "roadcall-perf-dev-dax",
            &[("DaxClusterArn", &dax_arn)],
            None,
        )
        .await;
        stand_in(
            &config,
            "roadcall-perf-dev-cdn",
            &[("DistributionId", &ids.distribution)],
            None,
        )
        .await;
        stand_in(
            &config,
            "roadcall-perf-dev-appsync-cache",
            &[],
            Some(("AppSyncApiId", &ids.api)),
        )
        .await;
        stand_in(
            &config,
            "roadcall-perf-dev-warmer",
            &[("WarmerRuleName", &ids.rule)],
            None,
        )
        .await;
        ids
    });
    let run = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_stacks"));
        command
            .args(args)
            .args(["--poll-ms", "50"])
            .stdin(Stdio::null())
            .env_remove("AWS_PROFILE");
        for (name, value) in moto.sdk_env() {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            output.status.success(),
            "stacks {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        stdout
    };

    let text = run(&["status", "--stage", "dev"]);
    assert!(
        text.contains("roadcall-perf-dev-keys (us-east-1): not deployed"),
        "{text}"
    );
    assert!(text.contains("roadcall-perf-dev-redis (us-east-1): CREATE_COMPLETE\n  ElastiCache replication group roadcall-perf-dev-redis\n    status: available"), "{text}");
    assert!(
        text.contains("  DAX cluster roadcall-perf-dev-dax\n    status: available"),
        "{text}"
    );
    assert!(
        text.contains(&format!("  CloudFront distribution {}\n", ids.distribution)),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "  AppSync API cache {}\n    status: AVAILABLE",
            ids.api
        )),
        "{text}"
    );
    assert!(
        text.contains("  EventBridge rule roadcall-perf-dev-warmer\n    state: ENABLED"),
        "{text}"
    );
    assert!(!text.contains("  ! "), "{text}");

    let json: serde_json::Value = serde_json::from_str(&run(&[
        "status", "--stage", "dev", "--stack", "dax", "--json",
    ]))
    .unwrap();
    assert_eq!(json[0]["stack"], "roadcall-perf-dev-dax");
    assert_eq!(json[0]["services"][0]["service"], "DAX cluster");

    let invalidated = run(&[
        "invalidate",
        "--stage",
        "dev",
        "--paths",
        "/api/*",
        "/index.html",
        "--wait",
    ]);
    assert!(invalidated.starts_with("invalidation "), "{invalidated}");
    assert!(
        invalidated.to_ascii_lowercase().ends_with(&format!(
            "on distribution {}: completed\n",
            ids.distribution.to_ascii_lowercase()
        )),
        "{invalidated}"
    );

    let flushed = run(&["flush-appsync", "--stage", "dev"]);
    assert_eq!(
        flushed,
        format!("flushed the API cache of AppSync API {}\n", ids.api)
    );
}
