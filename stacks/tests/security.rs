//! Security properties of the constructs, checked on the rendered templates of every
//! shipped stage.

mod common;

use cfn::Json;
use serde_json::json;

fn resources_of_type<'a>(template: &'a Json, kind: &str) -> Vec<(&'a String, &'a Json)> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

/// Every IAM-style statement in the template (role policies, bucket/topic/key policies).
fn statements(value: &Json, out: &mut Vec<Json>) {
    match value {
        Json::Object(map) => {
            if let Some(Json::Array(list)) = map.get("Statement") {
                out.extend(list.iter().cloned());
            }
            map.values().for_each(|v| statements(v, out));
        }
        Json::Array(items) => items.iter().for_each(|v| statements(v, out)),
        _ => {}
    }
}

fn as_list(value: &Json) -> Vec<Json> {
    match value {
        Json::Array(items) => items.clone(),
        Json::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

#[test]
fn redis_is_encrypted_authenticated_and_private() {
    for stage in common::STAGES {
        let t = common::template_json(stage, "redis");
        let groups = resources_of_type(&t, "AWS::ElastiCache::ReplicationGroup");
        assert_eq!(
            groups.len(),
            1,
            "{stage}: one replication group, no CacheCluster"
        );
        assert!(resources_of_type(&t, "AWS::ElastiCache::CacheCluster").is_empty());
        let p = &groups[0].1["Properties"];
        assert_eq!(p["TransitEncryptionEnabled"], json!(true), "{stage}");
        assert_eq!(p["AtRestEncryptionEnabled"], json!(true), "{stage}");
        assert_eq!(p["Engine"], json!("redis"));
        assert!(p["EngineVersion"].as_str().unwrap().starts_with('7'));
        // RBAC with IAM authentication: no AUTH token, no secret, a switched-off default
        // user and an app user that signs in with its role.
        assert!(p.get("AuthToken").is_none(), "{stage}");
        assert!(resources_of_type(&t, "AWS::SecretsManager::Secret").is_empty());
        assert_eq!(p["UserGroupIds"], json!([{"Ref": "RedisUserGroup"}]));
        let group = &t["Resources"]["RedisUserGroup"]["Properties"];
        assert_eq!(
            group["UserIds"],
            json!([{"Ref": "RedisDefaultUser"}, {"Ref": "RedisAppUser"}])
        );
        let default = &t["Resources"]["RedisDefaultUser"]["Properties"];
        assert_eq!(default["UserName"], "default");
        assert!(default["AccessString"].as_str().unwrap().starts_with("off"));
        let app = &t["Resources"]["RedisAppUser"]["Properties"];
        assert_eq!(app["AuthenticationMode"], json!({"Type": "iam"}));
        assert_eq!(app["UserId"], app["UserName"], "IAM needs id == name");
        assert_eq!(app["UserName"], format!("roadcall-perf-{stage}-app"));
        assert!(app.get("Passwords").is_none());
        let connect = &t["Resources"]["RedisConnectPolicy"]["Properties"]["PolicyDocument"];
        assert_eq!(
            connect["Statement"][0]["Action"],
            json!(["elasticache:Connect"])
        );
        assert_eq!(
            connect["Statement"][0]["Resource"][1],
            json!({"Fn::GetAtt": ["RedisAppUser", "Arn"]})
        );
        assert_eq!(
            p["CacheSubnetGroupName"],
            json!({"Ref": "RedisSubnetGroup"})
        );
        assert_eq!(
            p["SecurityGroupIds"],
            json!([{"Fn::ImportValue": format!("network-redis-sg-{stage}")}])
        );
        assert_eq!(p["PreferredMaintenanceWindow"], "sun:05:00-sun:06:00");
        assert_eq!(p["SnapshotWindow"], "03:00-04:00");
        let log = &p["LogDeliveryConfigurations"][0];
        assert_eq!(log["LogType"], "slow-log");
        assert_eq!(log["DestinationType"], "cloudwatch-logs");
    }
}

#[test]
fn redis_is_highly_available_outside_dev_and_keeps_backups_in_prod() {
    let dev = common::template_json("dev", "redis");
    let p = &dev["Resources"]["RedisReplicationGroup"]["Properties"];
    assert_eq!(p["MultiAZEnabled"], json!(false));
    assert_eq!(p["NumCacheClusters"], json!(1));
    assert_eq!(p["SnapshotRetentionLimit"], json!(5));
    assert_eq!(p["CacheNodeType"], "cache.t3.medium");
    for stage in ["staging", "prod"] {
        let t = common::template_json(stage, "redis");
        let r = &t["Resources"]["RedisReplicationGroup"];
        let p = &r["Properties"];
        assert_eq!(p["MultiAZEnabled"], json!(true), "{stage}");
        assert_eq!(p["AutomaticFailoverEnabled"], json!(true), "{stage}");
        assert_eq!(r["DeletionPolicy"], "Snapshot", "{stage}");
    }
    let prod = common::template_json("prod", "redis");
    let p = &prod["Resources"]["RedisReplicationGroup"]["Properties"];
    assert!(p["SnapshotRetentionLimit"].as_u64().unwrap() >= 15);
    // Cluster mode: shards and replicas, and the parameter group agrees.
    assert_eq!(p["NumNodeGroups"], json!(2));
    assert_eq!(p["ReplicasPerNodeGroup"], json!(2));
    assert!(p.get("NumCacheClusters").is_none());
    assert_eq!(
        prod["Resources"]["RedisParameterGroup"]["Properties"]["Properties"]["cluster-enabled"],
        "yes"
    );
    assert_eq!(
        prod["Outputs"]["RedisEndpointAddress"]["Value"],
        json!({"Fn::GetAtt": ["RedisReplicationGroup", "ConfigurationEndPoint.Address"]})
    );
}

#[test]
fn cache_ports_admit_only_the_client_security_group() {
    for stage in common::STAGES {
        let t = common::template_json(stage, "network");
        let ingress = resources_of_type(&t, "AWS::EC2::SecurityGroupIngress");
        assert_eq!(ingress.len(), 2);
        for (id, rule) in ingress {
            let p = &rule["Properties"];
            assert_eq!(
                p["SourceSecurityGroupId"],
                json!({"Fn::GetAtt": ["CacheClientSecurityGroup", "GroupId"]}),
                "{id}"
            );
            assert!(
                p.get("CidrIp").is_none() && p.get("CidrIpv6").is_none(),
                "{id}"
            );
            assert_eq!(p["FromPort"], p["ToPort"], "{id}: one port, not a range");
        }
        let port_of = |id: &str| t["Resources"][id]["Properties"]["FromPort"].clone();
        assert_eq!(port_of("RedisIngressFromClients"), json!(6379));
        assert_eq!(port_of("DaxIngressFromClients"), json!(9111));
        // The client group is exported for Lambdas.
        assert_eq!(
            t["Outputs"]["CacheClientSecurityGroupId"]["Export"]["Name"],
            json!(format!("network-cache-client-sg-{stage}"))
        );
    }
}

#[test]
fn no_template_opens_anything_to_the_internet() {
    for (stage, stack, id, resource) in common::all_resources() {
        let text = resource.to_string();
        let kind = resource["Type"].as_str().unwrap();
        if kind.starts_with("AWS::EC2::SecurityGroup") {
            assert!(!text.contains("0.0.0.0/0"), "{stage} {stack} {id}: {text}");
            assert!(!text.contains("::/0"), "{stage} {stack} {id}: {text}");
            assert!(
                !text.contains("\"IpProtocol\":\"-1\""),
                "{stage} {stack} {id}: all-ports rule"
            );
        }
    }
}

#[test]
fn iam_grants_named_actions_on_named_resources() {
    for (stage, stack, id, resource) in common::all_resources() {
        let mut found = Vec::new();
        statements(&resource["Properties"], &mut found);
        for statement in found {
            if statement["Effect"] != "Allow" {
                continue;
            }
            let actions = as_list(&statement["Action"]);
            assert!(
                !actions
                    .iter()
                    .any(|a| a == "*" || a.as_str().is_some_and(|a| a.ends_with(":*"))),
                "{stage} {stack} {id}: wildcard action in {statement}"
            );
            if actions.iter().any(|a| a == "lambda:InvokeFunction") {
                for r in as_list(&statement["Resource"]) {
                    let text = r.to_string();
                    assert!(
                        !text.contains("function:*") && r != "*",
                        "{stage} {id}: {text}"
                    );
                }
            }
            let is_key_policy = resource["Type"] == "AWS::KMS::Key";
            // X-Ray's trace-writing actions have no resource-level permissions: `*` is
            // the only resource they take.
            let only_xray_writes = actions
                .iter()
                .all(|a| a == "xray:PutTraceSegments" || a == "xray:PutTelemetryRecords");
            // Neither do the network-interface actions Lambda needs to join a VPC
            // (Describe has none at all; the interfaces are created at run time).
            let only_vpc_interfaces = actions.iter().all(|a| {
                [
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ]
                .contains(&a.as_str().unwrap_or_default())
            });
            for r in as_list(&statement["Resource"]) {
                // In a key policy `*` means "this key"; anywhere else it is too broad.
                assert!(
                    r != "*" || is_key_policy || only_xray_writes || only_vpc_interfaces,
                    "{stage} {stack} {id}: Resource * in {statement}"
                );
            }
        }
    }
}

#[test]
fn warmer_invokes_exactly_the_configured_functions() {
    let t = common::template_json("dev", "warmer");
    let role = &t["Resources"]["WarmerRole"]["Properties"];
    let mut found = Vec::new();
    statements(role, &mut found);
    let invoke = found
        .iter()
        .find(|s| as_list(&s["Action"]).contains(&json!("lambda:InvokeFunction")))
        .expect("invoke statement");
    let resources: Vec<String> = as_list(&invoke["Resource"])
        .iter()
        .map(|r| r["Fn::Sub"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        resources,
        vec![
            "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:roadcall-vendor-dev:live",
            "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:roadcall-incidents-dev:live",
            "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:roadcall-payments-dev:live",
        ]
    );
    let function = &t["Resources"]["WarmerFunction"]["Properties"];
    assert_eq!(function["Runtime"], "provided.al2023");
    assert_eq!(function["Architectures"], json!(["arm64"]));
    assert_eq!(
        function["Code"],
        json!({"S3Bucket": {"Ref": "WarmerCodeBucket"}, "S3Key": {"Ref": "WarmerCodeKey"}})
    );
    assert_eq!(function["TracingConfig"]["Mode"], "Active");
    let rule = &t["Resources"]["WarmerSchedule"]["Properties"];
    assert_eq!(rule["ScheduleExpression"], "rate(5 minutes)");
    let input: Json = serde_json::from_str(rule["Targets"][0]["Input"].as_str().unwrap()).unwrap();
    assert_eq!(
        input["targets"][0],
        json!({"function": "roadcall-vendor-dev", "qualifier": "live", "concurrency": 2})
    );
    let permission = &t["Resources"]["WarmerInvokePermission"]["Properties"];
    assert_eq!(
        permission["SourceArn"],
        json!({"Fn::GetAtt": ["WarmerSchedule", "Arn"]})
    );
    assert_eq!(permission["Principal"], "events.amazonaws.com");
    let log = &t["Resources"]["WarmerLogGroup"]["Properties"];
    assert_eq!(log["RetentionInDays"], json!(14));
}

#[test]
fn warmer_targets_can_be_added_through_the_construct() {
    use stacks::constructs::warmer::{Warmer, WarmerTarget};
    let config = stacks::config::load_stage(&stacks::config::default_stages_dir(), "dev").unwrap();
    let mut warmer = Warmer::new(config.warmer.clone(), cfn::Expr::ref_("Key"));
    warmer.add_target(WarmerTarget {
        function: "roadcall-tracking-dev".into(),
        qualifier: None,
        concurrency: 4,
    });
    // The shipped stage lists no targets of its own (the services stack adds its
    // functions in app.rs, through the same add_target).
    assert_eq!(config.warmer.targets.len(), 0);
    for concurrency in [3, 7] {
        warmer.add_target(WarmerTarget {
            function: "roadcall-vendor-dev".into(),
            qualifier: Some("live".into()),
            concurrency,
        });
    }
    assert_eq!(warmer.targets().len(), 2);
    assert_eq!(
        warmer.targets()[1].concurrency,
        7,
        "same function and qualifier replaces"
    );
    let stage = stacks::stage::Stage::new(&config);
    let mut template = cfn::Template::new("test");
    template
        .add_parameter(
            "Key",
            cfn::Parameter::new(cfn::ParameterType::String, "key"),
        )
        .unwrap();
    warmer.build(&stage, &mut template).unwrap();
    let json = cfn::render(&template, cfn::Format::Json).unwrap();
    assert!(
        json.contains("function:roadcall-tracking-dev\""),
        "unqualified target gets an unqualified ARN"
    );
}

#[test]
fn dax_cdn_and_appsync_are_encrypted() {
    for stage in common::STAGES {
        let dax = common::template_json(stage, "dax");
        let cluster = &dax["Resources"]["DaxCluster"];
        assert_eq!(cluster["Condition"], "HasDaxTables");
        assert_eq!(
            cluster["Properties"]["SSESpecification"]["SSEEnabled"],
            json!(true)
        );
        assert_eq!(
            cluster["Properties"]["ClusterEndpointEncryptionType"],
            "TLS"
        );
        assert_eq!(
            dax["Resources"]["DaxServiceRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
                [0]["Principal"]["Service"],
            "dax.amazonaws.com"
        );

        let appsync = common::template_json(stage, "appsync-cache");
        let cache = &appsync["Resources"]["ApiCache"];
        assert_eq!(cache["Condition"], "HasAppSyncApi");
        assert_eq!(cache["Properties"]["TransitEncryptionEnabled"], json!(true));
        assert_eq!(cache["Properties"]["AtRestEncryptionEnabled"], json!(true));
        assert_eq!(
            cache["Properties"]["ApiCachingBehavior"],
            "PER_RESOLVER_CACHING"
        );
        assert_eq!(cache["Properties"]["Ttl"], json!(5));
        assert_eq!(cache["Properties"]["Type"], "SMALL");

        let cdn = common::template_json(stage, "cdn");
        let config = &cdn["Resources"]["Distribution"]["Properties"]["DistributionConfig"];
        assert_eq!(
            config["DefaultCacheBehavior"]["ViewerProtocolPolicy"],
            "redirect-to-https"
        );
        assert_eq!(
            config["DefaultCacheBehavior"]["CachePolicyId"],
            "658327ea-f89d-4fab-a63d-7e88639e58f6"
        );
        assert_eq!(config["PriceClass"], "PriceClass_100");
        let api = &config["CacheBehaviors"]["Fn::If"];
        assert_eq!(api[0], "HasApiDomain");
        assert_eq!(api[1][0]["PathPattern"], "/api/*");
        assert_eq!(api[1][0]["ViewerProtocolPolicy"], "https-only");
        assert_eq!(
            config["Origins"][1]["Fn::If"][1]["CustomOriginConfig"]["OriginProtocolPolicy"],
            "https-only"
        );
        // Staging and prod always have their own certificate; dev has it when set.
        let certificate = if *stage == "dev" {
            &config["ViewerCertificate"]["Fn::If"][1]
        } else {
            &config["ViewerCertificate"]
        };
        assert_eq!(
            certificate["MinimumProtocolVersion"], "TLSv1.2_2021",
            "{stage}"
        );
        assert_eq!(certificate["SslSupportMethod"], "sni-only", "{stage}");
        assert!(config["Origins"][0]["OriginAccessControlId"].is_object());
        let policy = &cdn["Resources"]["ApiCachePolicy"]["Properties"]["CachePolicyConfig"];
        assert_eq!(policy["MinTTL"], json!(0.0));
        assert_eq!(policy["MaxTTL"], json!(300.0));
        let key = &policy["ParametersInCacheKeyAndForwardedToOrigin"];
        assert_eq!(
            key["HeadersConfig"]["Headers"],
            json!(["Authorization", "Content-Type"])
        );
        assert_eq!(key["QueryStringsConfig"]["QueryStringBehavior"], "all");
        assert_eq!(key["EnableAcceptEncodingBrotli"], json!(true));
        for bucket in ["AssetsBucket", "AccessLogBucket"] {
            let p = &cdn["Resources"][bucket]["Properties"];
            for flag in [
                "BlockPublicAcls",
                "BlockPublicPolicy",
                "IgnorePublicAcls",
                "RestrictPublicBuckets",
            ] {
                assert_eq!(
                    p["PublicAccessBlockConfiguration"][flag],
                    json!(true),
                    "{bucket} {flag}"
                );
            }
            assert!(p["BucketEncryption"].is_object(), "{bucket}");
        }
        let mut found = Vec::new();
        statements(&cdn["Resources"]["AssetsBucketPolicy"], &mut found);
        assert!(
            found.iter().any(|s| s["Effect"] == "Deny"
                && s["Condition"]["Bool"]["aws:SecureTransport"] == "false")
        );
    }
}

#[test]
fn every_taggable_resource_carries_the_three_tags() {
    for (stage, stack, id, resource) in common::all_resources() {
        let Some(tags) = resource["Properties"].get("Tags") else {
            continue;
        };
        let pairs: Vec<(String, String)> = match tags {
            Json::Array(list) => list
                .iter()
                .map(|t| {
                    (
                        t["Key"].as_str().unwrap().to_owned(),
                        t["Value"].as_str().unwrap().to_owned(),
                    )
                })
                .collect(),
            Json::Object(map) => map
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect(),
            other => panic!("{id}: tags {other}"),
        };
        assert!(
            pairs.contains(&("Stack".into(), stack.clone())),
            "{stage} {id}"
        );
        assert!(
            pairs.contains(&("Environment".into(), stage.clone())),
            "{stage} {id}"
        );
        assert!(
            pairs.contains(&("Service".into(), "roadcall-perf".into())),
            "{stage} {id}"
        );
    }
    // Types that have a Tags property must have received it.
    let t = common::template_json("dev", "dax");
    assert!(t["Resources"]["DaxCluster"]["Properties"]["Tags"].is_object());
}

#[test]
fn exports_follow_the_service_what_stage_convention_and_imports_resolve() {
    for stage in common::STAGES {
        let mut exports = std::collections::BTreeSet::new();
        let mut imports = Vec::new();
        for stack in common::stage_stacks(stage) {
            let json: Json =
                serde_json::from_str(&cfn::render(&stack.template, cfn::Format::Json).unwrap())
                    .unwrap();
            for (id, output) in json["Outputs"].as_object().into_iter().flatten() {
                let name = output["Export"]["Name"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{id} not exported"));
                assert!(name.ends_with(&format!("-{stage}")), "{name}");
                assert!(exports.insert(name.to_owned()), "duplicate export {name}");
            }
            let text = json.to_string();
            for part in text.split("\"Fn::ImportValue\":\"").skip(1) {
                imports.push((
                    stack.name.clone(),
                    part.split('"').next().unwrap().to_owned(),
                ));
            }
        }
        for (stack, name) in imports {
            assert!(
                exports.contains(&name),
                "{stack} imports {name}, which no stack of {stage} exports"
            );
        }
    }
}

#[test]
fn monitoring_alarms_cover_the_documented_signals() {
    let t = common::template_json("prod", "monitoring");
    let alarms = resources_of_type(&t, "AWS::CloudWatch::Alarm");
    let names: Vec<&str> = alarms.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "ColdStartRatioAlarm",
            "PoolExhaustedAlarm",
            "RedisEngineCpuAlarm",
            "RedisEvictionsAlarm",
            "RedisHitRateAlarm"
        ]
    );
    let cpu = &t["Resources"]["RedisEngineCpuAlarm"]["Properties"];
    assert_eq!(cpu["Threshold"], json!(75.0));
    // Cluster mode with two shards: both shard primaries are watched.
    let dims: Vec<String> = cpu["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| {
            m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Fn::Sub"][0]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(dims, vec!["${Group}-0001-001", "${Group}-0002-001"]);
    let hit = &t["Resources"]["RedisHitRateAlarm"]["Properties"];
    assert_eq!(hit["Threshold"], json!(60.0));
    assert_eq!(hit["ComparisonOperator"], "LessThanThreshold");
    let cold = &t["Resources"]["ColdStartRatioAlarm"]["Properties"];
    assert_eq!(cold["Threshold"], json!(20.0));
    let topic = &t["Resources"]["AlarmTopic"]["Properties"];
    assert_eq!(
        topic["KmsMasterKeyId"],
        json!({"Fn::ImportValue": "keys-key-arn-prod"})
    );
    let dax = common::template_json("prod", "dax");
    assert_eq!(
        dax["Resources"]["DaxItemCacheHitRateAlarm"]["Condition"],
        "HasDaxTables"
    );
    assert!(
        t["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
            .as_str()
            .unwrap()
            .contains("ItemCacheHits")
    );
}
