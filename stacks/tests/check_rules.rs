//! Every rule of `stacks check` has a template that violates it and one that passes: the
//! real stacks pass, and a one-line change to them makes exactly that rule fail.

mod common;

use cfn::Json;
use serde_json::json;
use stacks::check::{self, Finding, RuleSet};

type Mutation = fn(&mut Json);

fn res<'a>(t: &'a mut Json, id: &str) -> &'a mut Json {
    &mut t["Resources"][id]["Properties"]
}

/// (rule, stage, stack slug, resource expected in the finding, mutation)
const CASES: &[(&str, &str, &str, &str, Mutation)] = &[
    (
        "REDIS_IN_VPC",
        "dev",
        "redis",
        "RedisReplicationGroup",
        |t| {
            res(t, "RedisReplicationGroup")
                .as_object_mut()
                .unwrap()
                .remove("CacheSubnetGroupName");
        },
    ),
    (
        "REDIS_ENCRYPTED_IN_TRANSIT",
        "dev",
        "redis",
        "RedisReplicationGroup",
        |t| {
            res(t, "RedisReplicationGroup")["TransitEncryptionEnabled"] = json!(false);
        },
    ),
    (
        "REDIS_ENCRYPTED_AT_REST",
        "dev",
        "redis",
        "RedisReplicationGroup",
        |t| {
            res(t, "RedisReplicationGroup")
                .as_object_mut()
                .unwrap()
                .remove("AtRestEncryptionEnabled");
        },
    ),
    (
        "REDIS_AUTHENTICATED",
        "dev",
        "redis",
        "RedisReplicationGroup",
        |t| {
            res(t, "RedisReplicationGroup")
                .as_object_mut()
                .unwrap()
                .remove("UserGroupIds");
        },
    ),
    (
        "REDIS_NO_STATIC_AUTH_TOKEN",
        "dev",
        "redis",
        "RedisReplicationGroup",
        |t| {
            res(t, "RedisReplicationGroup")["AuthToken"] =
                json!("{{resolve:secretsmanager:roadcall-perf/dev/redis-auth-token}}");
        },
    ),
    (
        "REDIS_USERS_IAM_OR_OFF",
        "dev",
        "redis",
        "RedisAppUser",
        |t| {
            res(t, "RedisAppUser")["AuthenticationMode"] =
                json!({"Type": "password", "Passwords": ["a-password-that-never-changes"]});
        },
    ),
    (
        "REDIS_PRODUCTION_TOPOLOGY",
        "staging",
        "redis",
        "RedisReplicationGroup",
        |t| {
            let p = res(t, "RedisReplicationGroup").as_object_mut().unwrap();
            p.remove("NumNodeGroups");
            p.remove("ReplicasPerNodeGroup");
            p.insert("NumCacheClusters".into(), json!(2));
        },
    ),
    (
        "DAX_PRODUCTION_REPLICATION",
        "staging",
        "dax",
        "DaxCluster",
        |t| {
            res(t, "DaxCluster")["ReplicationFactor"] = json!(2);
        },
    ),
    (
        "CLOUDFRONT_OWN_CERTIFICATE",
        "prod",
        "cdn",
        "Distribution",
        |t| {
            res(t, "Distribution")["DistributionConfig"]["ViewerCertificate"] =
                json!({"CloudFrontDefaultCertificate": true});
        },
    ),
    (
        "LAMBDA_RESERVED_CONCURRENCY_OPT_IN",
        "dev",
        "warmer",
        "WarmerFunction",
        |t| {
            res(t, "WarmerFunction")["ReservedConcurrentExecutions"] = json!(1);
        },
    ),
    (
        "IAM_INDEX_GRANTS_READ_ONLY",
        "dev",
        "dax",
        "DaxServiceRole",
        |t| {
            res(t, "DaxServiceRole")["Policies"][0]["PolicyDocument"]["Statement"][0]["Action"]
                .as_array_mut()
                .unwrap()
                .push(json!("dynamodb:PutItem"));
        },
    ),
    (
        "STATEFUL_DELETION_POLICY",
        "dev",
        "redis",
        "RedisSlowLogGroup",
        |t| {
            t["Resources"]["RedisSlowLogGroup"]
                .as_object_mut()
                .unwrap()
                .remove("DeletionPolicy");
        },
    ),
    (
        "PROD_LOG_GROUPS_RETAINED",
        "prod",
        "warmer",
        "WarmerLogGroup",
        |t| {
            t["Resources"]["WarmerLogGroup"]["DeletionPolicy"] = json!("Delete");
        },
    ),
    (
        "ALARMS_REACH_SOMEONE",
        "prod",
        "monitoring",
        "AlarmTopic",
        |t| {
            res(t, "AlarmTopic")
                .as_object_mut()
                .unwrap()
                .remove("Subscription");
        },
    ),
    (
        "CUSTOM_NAME_REPLACEMENT",
        "dev",
        "network",
        "CacheClientSecurityGroup",
        |t| {
            res(t, "CacheClientSecurityGroup")["GroupName"] =
                json!("roadcall-perf-dev-cache-client");
        },
    ),
    (
        "REDIS_MULTI_AZ",
        "staging",
        "redis",
        "RedisReplicationGroup",
        |t| {
            res(t, "RedisReplicationGroup")["MultiAZEnabled"] = json!(false);
        },
    ),
    (
        "REDIS_PROD_BACKUP_RETENTION",
        "prod",
        "redis",
        "RedisReplicationGroup",
        |t| {
            res(t, "RedisReplicationGroup")["SnapshotRetentionLimit"] = json!(7);
        },
    ),
    (
        "REDIS_NO_SINGLE_CACHE_CLUSTER",
        "dev",
        "redis",
        "Single",
        |t| {
            t["Resources"]["Single"] = json!({"Type": "AWS::ElastiCache::CacheCluster",
            "Properties": {"CacheNodeType": "cache.t3.micro", "Engine": "redis", "NumCacheNodes": 1}});
        },
    ),
    (
        "SG_NO_WORLD_INGRESS",
        "dev",
        "network",
        "RedisIngressFromClients",
        |t| {
            let p = res(t, "RedisIngressFromClients");
            p.as_object_mut().unwrap().remove("SourceSecurityGroupId");
            p["CidrIp"] = json!("0.0.0.0/0");
        },
    ),
    (
        "SG_NO_ALL_PORTS",
        "dev",
        "network",
        "DaxIngressFromClients",
        |t| {
            res(t, "DaxIngressFromClients")["IpProtocol"] = json!("-1");
        },
    ),
    (
        "SG_INGRESS_FROM_SECURITY_GROUPS",
        "dev",
        "network",
        "CacheClientSecurityGroup",
        |t| {
            res(t, "CacheClientSecurityGroup")["SecurityGroupIngress"] = json!([{"IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6379, "CidrIp": "10.0.0.0/8"}]);
        },
    ),
    (
        "CLOUDFRONT_VIEWER_HTTPS",
        "dev",
        "cdn",
        "Distribution",
        |t| {
            res(t, "Distribution")["DistributionConfig"]["DefaultCacheBehavior"]["ViewerProtocolPolicy"] =
                json!("allow-all");
        },
    ),
    ("CLOUDFRONT_TLS_1_2", "dev", "cdn", "Distribution", |t| {
        res(t, "Distribution")["DistributionConfig"]["ViewerCertificate"]["Fn::If"][1]["MinimumProtocolVersion"] =
            json!("TLSv1");
    }),
    (
        "CLOUDFRONT_ORIGIN_HTTPS",
        "dev",
        "cdn",
        "Distribution",
        |t| {
            res(t, "Distribution")["DistributionConfig"]["Origins"][1]["Fn::If"][1]["CustomOriginConfig"]
                ["OriginProtocolPolicy"] = json!("http-only");
        },
    ),
    (
        "CLOUDFRONT_S3_ORIGIN_ACCESS_CONTROL",
        "dev",
        "cdn",
        "Distribution",
        |t| {
            res(t, "Distribution")["DistributionConfig"]["Origins"][0]
                .as_object_mut()
                .unwrap()
                .remove("OriginAccessControlId");
        },
    ),
    (
        "CLOUDFRONT_ACCESS_LOGGING",
        "dev",
        "cdn",
        "Distribution",
        |t| {
            res(t, "Distribution")["DistributionConfig"]
                .as_object_mut()
                .unwrap()
                .remove("Logging");
        },
    ),
    (
        "CLOUDFRONT_RESPONSE_HEADERS_POLICY",
        "dev",
        "cdn",
        "Distribution",
        |t| {
            res(t, "Distribution")["DistributionConfig"]["DefaultCacheBehavior"]
                .as_object_mut()
                .unwrap()
                .remove("ResponseHeadersPolicyId");
        },
    ),
    ("DAX_ENCRYPTED_AT_REST", "dev", "dax", "DaxCluster", |t| {
        res(t, "DaxCluster")["SSESpecification"]["SSEEnabled"] = json!(false);
    }),
    (
        "DAX_ENCRYPTED_IN_TRANSIT",
        "dev",
        "dax",
        "DaxCluster",
        |t| {
            res(t, "DaxCluster")["ClusterEndpointEncryptionType"] = json!("NONE");
        },
    ),
    (
        "APPSYNC_CACHE_ENCRYPTED",
        "dev",
        "appsync-cache",
        "ApiCache",
        |t| {
            res(t, "ApiCache")["AtRestEncryptionEnabled"] = json!(false);
        },
    ),
    (
        "LAMBDA_SUPPORTED_RUNTIME",
        "dev",
        "warmer",
        "WarmerFunction",
        |t| {
            res(t, "WarmerFunction")["Runtime"] = json!("nodejs20.x");
        },
    ),
    (
        "LAMBDA_EXPLICIT_TIMEOUT_AND_MEMORY",
        "dev",
        "warmer",
        "WarmerFunction",
        |t| {
            res(t, "WarmerFunction")
                .as_object_mut()
                .unwrap()
                .remove("Timeout");
        },
    ),
    (
        "LAMBDA_LOG_GROUP_WITH_RETENTION",
        "dev",
        "warmer",
        "WarmerLogGroup",
        |t| {
            res(t, "WarmerLogGroup")
                .as_object_mut()
                .unwrap()
                .remove("RetentionInDays");
        },
    ),
    ("LAMBDA_TRACING", "dev", "warmer", "WarmerFunction", |t| {
        res(t, "WarmerFunction")
            .as_object_mut()
            .unwrap()
            .remove("TracingConfig");
    }),
    (
        "IAM_NO_WILDCARD_ACTION",
        "dev",
        "warmer",
        "WarmerRole",
        |t| {
            res(t, "WarmerRole")["Policies"][0]["PolicyDocument"]["Statement"][0]["Action"] =
                json!(["s3:*"]);
        },
    ),
    (
        "IAM_NO_WILDCARD_INVOKE",
        "dev",
        "warmer",
        "WarmerRole",
        |t| {
            let statements = res(t, "WarmerRole")["Policies"][0]["PolicyDocument"]["Statement"]
                .as_array_mut()
                .unwrap();
            let invoke = statements
                .iter_mut()
                .find(|s| s["Action"][0] == "lambda:InvokeFunction")
                .unwrap();
            invoke["Resource"] = json!([{"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:*"}]);
        },
    ),
    ("IAM_NO_ADMIN_POLICY", "dev", "warmer", "WarmerRole", |t| {
        res(t, "WarmerRole")["ManagedPolicyArns"] =
            json!(["arn:aws:iam::aws:policy/AdministratorAccess"]);
    }),
    (
        "S3_PUBLIC_ACCESS_BLOCKED",
        "dev",
        "cdn",
        "AssetsBucket",
        |t| {
            res(t, "AssetsBucket")["PublicAccessBlockConfiguration"]["BlockPublicAcls"] =
                json!(false);
        },
    ),
    ("S3_ENCRYPTED", "dev", "cdn", "AccessLogBucket", |t| {
        res(t, "AccessLogBucket")
            .as_object_mut()
            .unwrap()
            .remove("BucketEncryption");
    }),
    (
        "S3_TLS_ONLY_POLICY",
        "dev",
        "cdn",
        "AssetsBucketPolicy",
        |t| {
            let statements = res(t, "AssetsBucketPolicy")["PolicyDocument"]["Statement"]
                .as_array_mut()
                .unwrap();
            statements.retain(|s| s["Effect"] != "Deny");
        },
    ),
    (
        "S3_BUCKET_HAS_TLS_ONLY_POLICY",
        "dev",
        "cdn",
        "AccessLogBucket",
        |t| {
            t["Resources"]
                .as_object_mut()
                .unwrap()
                .remove("AccessLogBucketPolicy");
        },
    ),
    (
        "IAM_NO_AWS_MANAGED_POLICY",
        "dev",
        "warmer",
        "WarmerRole",
        |t| {
            res(t, "WarmerRole")["ManagedPolicyArns"] = json!([{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"}]);
        },
    ),
    (
        "CLOUDFRONT_ALIASES_ASSERTED",
        "dev",
        "cdn",
        "Distribution",
        |t| {
            t["Rules"]
                .as_object_mut()
                .unwrap()
                .remove("AliasesWithCertificate");
        },
    ),
    (
        "CLOUDFRONT_WAF_REGION_ASSERTED",
        "dev",
        "cdn",
        "WebAcl",
        |t| {
            t.as_object_mut().unwrap().remove("Rules");
        },
    ),
    (
        "SQS_QUEUE_HAS_TLS_ONLY_POLICY",
        "dev",
        "warmer",
        "WarmerDeadLetterQueue",
        |t| {
            t["Resources"]
                .as_object_mut()
                .unwrap()
                .remove("WarmerDeadLetterQueuePolicy");
        },
    ),
    (
        "SQS_QUEUE_DELETION_POLICY",
        "dev",
        "warmer",
        "WarmerDeadLetterQueue",
        |t| {
            t["Resources"]["WarmerDeadLetterQueue"]
                .as_object_mut()
                .unwrap()
                .remove("DeletionPolicy");
        },
    ),
    ("SUPPRESSION_INVALID", "dev", "cdn", "AssetsBucket", |t| {
        t["Resources"]["AssetsBucket"]["Metadata"] = json!({"roadcall-perf": {"suppressions": [{"rule": "S3_ENCRYPTED", "reason": "short"}]}});
    }),
    (
        "SUPPRESSION_NOT_ALLOWED",
        "dev",
        "redis",
        "RedisReplicationGroup",
        |t| {
            t["Resources"]["RedisReplicationGroup"]["Metadata"] = json!({"roadcall-perf": {"suppressions": [
            {"rule": "REDIS_ENCRYPTED_IN_TRANSIT", "reason": "we really want plain text here"}]}});
        },
    ),
];

fn findings(rules: &RuleSet, template: &Json) -> Vec<Finding> {
    check::check_json(rules, "test-stack", template).unwrap()
}

#[test]
fn every_rule_has_a_failing_and_a_passing_case() {
    let rules = RuleSet::builtin().unwrap();
    let covered: std::collections::BTreeSet<&str> = CASES.iter().map(|c| c.0).collect();
    let missing: Vec<&String> = rules
        .catalog
        .keys()
        .filter(|id| !covered.contains(id.as_str()))
        .collect();
    assert!(missing.is_empty(), "rules without a test case: {missing:?}");

    for (rule, stage, stack, resource, mutate) in CASES {
        let mut template = common::template_json(stage, stack);
        let before = findings(&rules, &template);
        assert!(
            before.iter().all(|f| f.rule != *rule),
            "{rule}: the real {stage} {stack} template already fails it: {before:?}"
        );
        mutate(&mut template);
        let after = findings(&rules, &template);
        let hit = after.iter().find(|f| f.rule == *rule).unwrap_or_else(|| {
            panic!("{rule}: the violating template was not caught; findings: {after:?}")
        });
        assert_eq!(hit.resource, *resource, "{rule}");
        assert!(hit.is_blocking(), "{rule}");
        assert!(!hit.fix.is_empty() && !hit.message.is_empty(), "{rule}");
        assert_eq!(hit.stack, "test-stack");
    }
}

#[test]
fn condition_specific_failures_say_under_which_conditions() {
    let rules = RuleSet::builtin().unwrap();
    let mut template = common::template_json("dev", "cdn");
    res(&mut template, "Distribution")["DistributionConfig"]["ViewerCertificate"]["Fn::If"][1]["MinimumProtocolVersion"] =
        json!("TLSv1");
    let all = findings(&rules, &template);
    let tls = all.iter().find(|f| f.rule == "CLOUDFRONT_TLS_1_2").unwrap();
    let when = tls.when.as_deref().unwrap();
    assert!(
        when.contains("HasCertificate=true") && !when.contains("HasCertificate=false"),
        "{when}"
    );
}

#[test]
fn every_stage_of_the_real_stack_passes() {
    let rules = RuleSet::builtin().unwrap();
    for stage in common::STAGES {
        for stack in common::stage_stacks(stage) {
            let found = check::check_template(&rules, &stack.name, &stack.template).unwrap();
            let blocking: Vec<_> = found.iter().filter(|f| f.is_blocking()).collect();
            assert!(blocking.is_empty(), "{}: {blocking:#?}", stack.name);
        }
    }
}

#[test]
fn a_suppression_with_a_reason_silences_a_suppressible_rule_only() {
    let rules = RuleSet::builtin().unwrap();
    let mut template = common::template_json("dev", "cdn");
    res(&mut template, "Distribution")["DistributionConfig"]
        .as_object_mut()
        .unwrap()
        .remove("Logging");
    // Added beside the construct's own suppressions (dev's default certificate).
    template["Resources"]["Distribution"]["Metadata"]["roadcall-perf"]["suppressions"]
        .as_array_mut()
        .unwrap()
        .push(json!({"rule": "CLOUDFRONT_ACCESS_LOGGING", "reason": "logs go to a real-time log stream instead"}));
    let found = findings(&rules, &template);
    let logging = found
        .iter()
        .find(|f| f.rule == "CLOUDFRONT_ACCESS_LOGGING")
        .unwrap();
    assert_eq!(
        logging.suppressed.as_deref(),
        Some("logs go to a real-time log stream instead")
    );
    assert!(!logging.is_blocking());
    assert!(found.iter().all(|f| !f.is_blocking()), "{found:?}");

    let mut template = common::template_json("dev", "dax");
    res(&mut template, "DaxCluster")["ClusterEndpointEncryptionType"] = json!("NONE");
    template["Resources"]["DaxCluster"]["Metadata"] = json!({"roadcall-perf": {"suppressions": [
        {"rule": "DAX_ENCRYPTED_IN_TRANSIT", "reason": "clients cannot speak TLS yet"}]}});
    let found = findings(&rules, &template);
    assert!(
        found
            .iter()
            .any(|f| f.rule == "DAX_ENCRYPTED_IN_TRANSIT" && f.is_blocking())
    );
    assert!(
        found
            .iter()
            .any(|f| f.rule == "SUPPRESSION_NOT_ALLOWED" && f.resource == "DaxCluster")
    );
}

#[test]
fn stage_file_suppressions_land_in_resource_metadata_in_both_formats() {
    let mut text =
        std::fs::read_to_string(stacks::config::default_stages_dir().join("dev.toml")).unwrap();
    text.push_str(
        "\n[[suppressions]]\nstack = \"cdn\"\nresource = \"AccessLogBucket\"\nrule = \"CKV_AWS_18\"\nreason = \"this bucket is the log destination\"\n\n\
         [[suppressions]]\nstack = \"cdn\"\nresource = \"Distribution\"\nrule = \"CLOUDFRONT_ACCESS_LOGGING\"\nreason = \"testing the metadata format\"\n",
    );
    let config =
        stacks::config::parse_stage(std::path::Path::new("dev.toml"), "dev", &text).unwrap();
    let stacks = stacks::app::build_stage(&config).unwrap();
    let cdn = stacks.iter().find(|s| s.part.slug() == "cdn").unwrap();
    let skips = &cdn.template.resources["AccessLogBucket"]
        .metadata
        .as_ref()
        .unwrap()["checkov"]["skip"];
    assert!(
        skips.as_array().unwrap().contains(
            &json!({"id": "CKV_AWS_18", "comment": "this bucket is the log destination"})
        ),
        "{skips}"
    );
    let suppressions = &cdn.template.resources["Distribution"]
        .metadata
        .as_ref()
        .unwrap()["roadcall-perf"]["suppressions"];
    assert!(
        suppressions.as_array().unwrap().contains(
            &json!({"rule": "CLOUDFRONT_ACCESS_LOGGING", "reason": "testing the metadata format"})
        ),
        "{suppressions}"
    );

    let short = text.replace("testing the metadata format", "short");
    let err = stacks::config::parse_stage(std::path::Path::new("dev.toml"), "dev", &short)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("suppressions[1].reason") && err.contains("10 characters"),
        "{err}"
    );
    let unknown_resource = text.replace("resource = \"Distribution\"", "resource = \"Nope\"");
    let config =
        stacks::config::parse_stage(std::path::Path::new("dev.toml"), "dev", &unknown_resource)
            .unwrap();
    let err = stacks::app::build_stage(&config).unwrap_err().to_string();
    assert!(err.contains("Nope"), "{err}");
}

#[test]
fn cli_check_exits_zero_on_the_real_stack_and_one_on_an_error() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stacks"))
        .args(["check", "--all"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("27 templates checked: 0 errors"),
        "{stdout}"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut text =
        std::fs::read_to_string(stacks::config::default_stages_dir().join("dev.toml")).unwrap();
    text.push_str("\n[[suppressions]]\nstack = \"redis\"\nresource = \"RedisReplicationGroup\"\nrule = \"NOT_A_RULE\"\nreason = \"a reason long enough\"\n");
    std::fs::write(dir.path().join("dev.toml"), text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stacks"))
        .arg("--stages-dir")
        .arg(dir.path())
        .args(["check", "--stage", "dev", "--stack", "redis", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let findings: Json = serde_json::from_slice(&out.stdout).unwrap();
    let blocking: Vec<&Json> = findings
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.get("suppressed").is_none())
        .collect();
    assert_eq!(blocking.len(), 1, "{findings}");
    assert_eq!(blocking[0]["rule"], "SUPPRESSION_INVALID");
    assert_eq!(blocking[0]["stack"], "roadcall-perf-dev-redis");
    assert_eq!(blocking[0]["resource"], "RedisReplicationGroup");
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 unsuppressed error"));
}

#[test]
fn dev_default_certificate_is_reported_as_a_suppressed_finding() {
    let rules = RuleSet::builtin().unwrap();
    let all = findings(&rules, &common::template_json("dev", "cdn"));
    let own = all
        .iter()
        .find(|f| f.rule == "CLOUDFRONT_OWN_CERTIFICATE")
        .expect("dev's opt-in is reported");
    assert!(!own.is_blocking());
    assert!(
        own.suppressed
            .as_deref()
            .is_some_and(|r| r.contains("cdn.allow_default_certificate = true")),
        "{own:?}"
    );
    assert_eq!(
        own.when
            .as_deref()
            .map(|w| w.contains("HasCertificate=false")),
        Some(true)
    );
    for stage in ["staging", "prod"] {
        let all = findings(&rules, &common::template_json(stage, "cdn"));
        assert!(
            all.iter().all(|f| f.rule != "CLOUDFRONT_OWN_CERTIFICATE"),
            "{stage} has its own certificate: {all:?}"
        );
        let t = common::template_json(stage, "cdn");
        assert_eq!(
            t["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["ViewerCertificate"]
                ["MinimumProtocolVersion"],
            "TLSv1.2_2021"
        );
        assert!(t["Conditions"].get("HasCertificate").is_none());
    }
}
