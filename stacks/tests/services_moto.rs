//! The services stack against a real moto_server.
//!
//! moto 5.2.5 models `AWS::Lambda::Function`, `Version`, `Permission`, IAM roles, log
//! groups and security groups in CloudFormation, but not `AWS::ApiGatewayV2::*`,
//! `AWS::Lambda::Alias` or `AWS::CloudWatch::Alarm` (it skips them, and a `Ref` to one
//! resolves to nothing, which breaks the permissions that name the alias). So:
//!
//! 1. `stacks deploy --stack services --lambda-zip ...` runs the real deploy path on the
//!    real template up to the change set (uploads, parameters, change set review);
//! 2. the stack is created from the real template with only the types moto cannot model
//!    left out, and the functions and versions are read back from moto's Lambda API;
//! 3. the `live` aliases are created through the Lambda API the way CloudFormation would,
//!    and the ARNs Lambda reports must be exactly the ones the warmer may invoke.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};

use aws_config::BehaviorVersion;
use aws_sdk_cloudformation::config::Credentials;
use aws_sdk_cloudformation::types::{Capability, Parameter};
use cfn::Json;
use serde_json::json;
use stacks::constructs::services::{FUNCTIONS, LIVE_ALIAS};
use testkit::moto::MotoServer;

const CODE_BUCKET: &str = "roadcall-test-code";

/// Everything the services stack imports, from one stand-in stack: a real (untagged)
/// KMS key, VPC, subnets and security groups, and literal Redis and alarm values.
const STAND_IN_IMPORTS: &str = r#"{
  "Resources": {
    "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": []}}},
    "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.20.0.0/16"}},
    "SubnetA": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.20.1.0/24", "AvailabilityZone": "us-east-1a"}},
    "SubnetB": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.20.2.0/24", "AvailabilityZone": "us-east-1b"}},
    "ClientGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "cache clients", "VpcId": {"Ref": "Vpc"}}},
    "DatabaseGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "database", "VpcId": {"Ref": "Vpc"}}},
    "RedisConnectPolicy": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "elasticache:Connect", "Resource": "arn:aws:elasticache:us-east-1:123456789012:user:roadcall-perf-dev-app"}]}}}
  },
  "Outputs": {
    "KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}, "Export": {"Name": "keys-key-arn-dev"}},
    "VpcId": {"Value": {"Ref": "Vpc"}, "Export": {"Name": "network-vpc-id-dev"}},
    "Subnets": {"Value": {"Fn::Join": [",", [{"Ref": "SubnetA"}, {"Ref": "SubnetB"}]]}, "Export": {"Name": "network-private-subnet-ids-dev"}},
    "ClientGroup": {"Value": {"Fn::GetAtt": ["ClientGroup", "GroupId"]}, "Export": {"Name": "network-cache-client-sg-dev"}},
    "DatabaseGroup": {"Value": {"Fn::GetAtt": ["DatabaseGroup", "GroupId"]}},
    "RedisUrl": {"Value": "rediss://master.roadcall-perf-dev.abc123.use1.cache.amazonaws.com:6379", "Export": {"Name": "redis-url-dev"}},
    "RedisUser": {"Value": "roadcall-perf-dev-app", "Export": {"Name": "redis-user-name-dev"}},
    "RedisGroup": {"Value": "roadcall-perf-dev", "Export": {"Name": "redis-replication-group-id-dev"}},
    "AlarmTopic": {"Value": "arn:aws:sns:us-east-1:123456789012:roadcall-perf-dev-alarms", "Export": {"Name": "monitoring-alarm-topic-arn-dev"}}
  }
}"#;

/// Resource types moto 5.2.5 does not create through CloudFormation, and the permission
/// that names the alias (its `Ref` resolves to nothing there).
const NOT_MODELLED: &[&str] = &[
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Authorizer",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Stage",
    "AWS::CloudWatch::Alarm",
    "AWS::Lambda::Alias",
    "AWS::Lambda::Permission",
];

async fn sdk_config(moto: &MotoServer) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto.endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await
}

fn services_template() -> Json {
    let config = stacks::config::load_stage(&stacks::config::default_stages_dir(), "dev").unwrap();
    let stack = stacks::app::build_stage(&config)
        .unwrap()
        .into_iter()
        .find(|s| s.part.slug() == "services")
        .unwrap();
    serde_json::from_str(&cfn::render(&stack.template, cfn::Format::Json).unwrap()).unwrap()
}

fn warmer_template() -> Json {
    let config = stacks::config::load_stage(&stacks::config::default_stages_dir(), "dev").unwrap();
    let stack = stacks::app::build_stage(&config)
        .unwrap()
        .into_iter()
        .find(|s| s.part.slug() == "warmer")
        .unwrap();
    serde_json::from_str(&cfn::render(&stack.template, cfn::Format::Json).unwrap()).unwrap()
}

/// The template without [`NOT_MODELLED`] resources and the outputs that name them.
fn modelled_part(mut template: Json) -> Json {
    let resources = template["Resources"].as_object_mut().unwrap();
    let dropped: BTreeSet<String> = resources
        .iter()
        .filter(|(_, r)| NOT_MODELLED.contains(&r["Type"].as_str().unwrap_or_default()))
        .map(|(id, _)| id.clone())
        .collect();
    resources.retain(|id, _| !dropped.contains(id));
    let outputs = template["Outputs"].as_object_mut().unwrap();
    outputs.retain(|_, o| {
        let text = o["Value"].to_string();
        !dropped
            .iter()
            .any(|id| text.contains(&format!("\"{id}\"")) || text.contains(&format!("${{{id}")))
    });
    template
}

async fn create_stack(
    config: &aws_config::SdkConfig,
    name: &str,
    body: String,
    parameters: &[(&str, String)],
) -> BTreeMap<String, String> {
    let client = aws_sdk_cloudformation::Client::new(config);
    client
        .create_stack()
        .stack_name(name)
        .template_body(body)
        .set_parameters(Some(
            parameters
                .iter()
                .map(|(k, v)| {
                    Parameter::builder()
                        .parameter_key(*k)
                        .parameter_value(v)
                        .build()
                })
                .collect(),
        ))
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
    let described = client
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .unwrap();
    let stack = &described.stacks()[0];
    assert_eq!(
        stack.stack_status().unwrap().as_str(),
        "CREATE_COMPLETE",
        "{name}: {:?}",
        stack.stack_status_reason()
    );
    stack
        .outputs()
        .iter()
        .map(|o| {
            (
                o.output_key().unwrap_or_default().to_owned(),
                o.output_value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_services_stack_deploys_and_the_warmer_names_exactly_its_live_aliases() {
    let moto = MotoServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stages = tempfile::tempdir().unwrap();
    std::fs::copy(
        stacks::config::default_stages_dir().join("dev.toml"),
        stages.path().join("dev.toml"),
    )
    .unwrap();
    let config = runtime.block_on(sdk_config(&moto));
    let imports = runtime.block_on(create_stack(
        &config,
        "roadcall-test-imports",
        STAND_IN_IMPORTS.to_owned(),
        &[],
    ));
    let database_group = imports["DatabaseGroup"].clone();

    // 1. The real deploy path on the real template: three zips uploaded by content hash
    // and passed as parameters of the change set.
    let mut zips = Vec::new();
    for f in &FUNCTIONS {
        let path = stages.path().join(format!("{}.zip", f.slug));
        std::fs::write(&path, format!("PK fake {} zip", f.slug)).unwrap();
        zips.push(format!("{}={}", f.slug, path.display()));
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_stacks"));
    command
        .arg("--stages-dir")
        .arg(stages.path())
        .args([
            "deploy",
            "--stage",
            "dev",
            "--stack",
            "services",
            "--no-execute",
            "--poll-ms",
            "100",
        ])
        .args([
            "--parameter",
            &format!("services:DatabaseSecurityGroupId={database_group}"),
        ])
        .stdin(Stdio::null())
        .env_remove("AWS_PROFILE");
    for zip in &zips {
        command.args(["--lambda-zip", zip]);
    }
    for (name, value) in moto.sdk_env() {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for f in &FUNCTIONS {
        let prefix = format!(
            "uploaded s3://roadcall-perf-assets-123456789012-us-east-1/{}/",
            f.slug
        );
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("{stdout}"));
        assert!(
            line.ends_with(".zip") && line.len() == prefix.len() + 64 + 4,
            "{line}"
        );
    }
    assert!(
        stdout.contains("+ Add     AWS::Lambda::Function"),
        "{stdout}"
    );
    assert!(stdout.contains("AWS::ApiGatewayV2::Route"), "{stdout}");

    // 2. The stack itself, from the real template minus what moto cannot model.
    runtime.block_on(async {
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build(),
        );
        s3.create_bucket().bucket(CODE_BUCKET).send().await.unwrap();
        let mut parameters = vec![
            ("ServicesCodeBucket", CODE_BUCKET.to_owned()),
            ("DatabaseSecurityGroupId", database_group.clone()),
        ];
        for f in &FUNCTIONS {
            let key = format!("{}/fixture.zip", f.slug);
            s3.put_object().bucket(CODE_BUCKET).key(&key).body(b"PK".to_vec().into()).send().await.unwrap();
            parameters.push((Box::leak(format!("{}CodeKey", f.logical).into_boxed_str()), key));
        }
        let template = modelled_part(services_template());
        // Step 1 left the real stack name in review; the functions keep their names.
        create_stack(&config, "roadcall-perf-dev-services-fixture", template.to_string(), &parameters).await;

        let lambda = aws_sdk_lambda::Client::new(&config);
        let mut alias_arns = BTreeSet::new();
        for f in &FUNCTIONS {
            let name = format!("roadcall-{}-dev", f.slug);
            let got = lambda.get_function_configuration().function_name(&name).send().await.unwrap();
            assert_eq!(got.runtime().map(|r| r.as_str()), Some("provided.al2023"), "{name}");
            assert_eq!(got.handler(), Some("bootstrap"));
            assert_eq!(got.timeout(), Some(10));
            assert_eq!(got.memory_size(), Some(512));
            let vars = got.environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
            assert_eq!(vars["REDIS_URL"], "rediss://master.roadcall-perf-dev.abc123.use1.cache.amazonaws.com:6379");
            assert_eq!(vars["REDIS_MODE"], "standalone");
            assert_eq!(vars["DATABASE_IAM_AUTH"], "true");
            assert_eq!(vars["DATABASE_USER"], "roadcall_app");
            assert_eq!(vars["DATABASE_PORT"], "5432");
            assert_eq!(vars["STAGE"], "dev");
            assert_eq!(vars["REDIS_IAM_AUTH"], "true");
            assert_eq!(vars["REDIS_USERNAME"], "roadcall-perf-dev-app");
            assert_eq!(vars["REDIS_REPLICATION_GROUP_ID"], "roadcall-perf-dev");
            assert_eq!(vars["DATABASE_CA_BUNDLE"], "/var/task/rds-global-bundle.pem");
            assert!(!vars.contains_key("REDIS_AUTH_SECRET_ARN"), "{vars:?}");
            let vpc = got.vpc_config().unwrap();
            assert_eq!(vpc.subnet_ids().len(), 2, "{name}: {vpc:?}");
            assert_eq!(vpc.security_group_ids().len(), 2, "{name}: {vpc:?}");
            assert!(got.role().unwrap().contains(":role/"), "{name}");
            // The version CloudFormation published is what `live` points at.
            let versions = lambda.list_versions_by_function().function_name(&name).send().await.unwrap();
            let published: Vec<String> = versions
                .versions()
                .iter()
                .filter_map(|v| v.version().map(str::to_owned))
                .filter(|v| v != "$LATEST")
                .collect();
            assert_eq!(published.len(), 1, "{name}: {published:?}");
            // 3. The alias as the template declares it.
            let template = services_template();
            let declared = &template["Resources"][format!("{}LiveAlias", f.logical)]["Properties"];
            assert_eq!(declared["Name"], LIVE_ALIAS);
            let alias = lambda
                .create_alias()
                .function_name(&name)
                .name(declared["Name"].as_str().unwrap())
                .function_version(&published[0])
                .send()
                .await
                .unwrap();
            let fetched = lambda.get_alias().function_name(&name).name(LIVE_ALIAS).send().await.unwrap();
            assert_eq!(fetched.function_version(), Some(published[0].as_str()));
            alias_arns.insert(alias.alias_arn().unwrap().to_owned());
        }
        // The warmer's policy, resolved as CloudFormation would in this account.
        let warmer = warmer_template();
        let statements = warmer["Resources"]["WarmerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap();
        let invoke = statements.iter().find(|s| s["Action"] == json!(["lambda:InvokeFunction"])).unwrap();
        let resolved: BTreeSet<String> = invoke["Resource"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["Fn::Sub"]
                    .as_str()
                    .unwrap()
                    .replace("${AWS::Partition}", "aws")
                    .replace("${AWS::Region}", "us-east-1")
                    .replace("${AWS::AccountId}", "123456789012")
            })
            .collect();
        assert_eq!(resolved, alias_arns);
    });
}
