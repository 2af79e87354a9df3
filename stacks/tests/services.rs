//! The services stack as synthesized: every route the routers serve reaches its
//! function's `live` alias behind the authorizer, the warmer's targets and policy come
//! from the same function list, and the CloudFront Function that strips `/api` (run here
//! with the machine's `node`, on the code exactly as the cdn template ships it).

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use cfn::Json;
use serde_json::json;
use stacks::constructs::services::{FUNCTIONS, LIVE_ALIAS};

#[test]
fn every_router_route_reaches_its_function_behind_the_authorizer() {
    let template = common::template_json("dev", "services");
    let resources = template["Resources"].as_object().unwrap();
    let of_type = |ty: &str| -> Vec<(&String, &Json)> {
        resources.iter().filter(|(_, r)| r["Type"] == ty).collect()
    };
    let routes: Vec<(String, Json)> = of_type("AWS::ApiGatewayV2::Route")
        .into_iter()
        .map(|(_, r)| {
            (
                r["Properties"]["RouteKey"].as_str().unwrap().to_owned(),
                r["Properties"].clone(),
            )
        })
        .collect();
    let keys: BTreeSet<String> = routes.iter().map(|(k, _)| k.clone()).collect();

    let mut expected = common::router_routes();
    assert!(
        expected.len() >= 10,
        "read only {expected:?} from router.rs"
    );
    // `/health` is served by every router; the API adds one per function.
    for f in &FUNCTIONS {
        expected.insert(format!("GET /health/{}", f.slug));
    }
    assert_eq!(keys, expected);

    for (key, route) in &routes {
        let integration_id = route["Target"]["Fn::Sub"]
            .as_str()
            .and_then(|s| s.strip_prefix("integrations/${"))
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or_else(|| panic!("{key}: target {}", route["Target"]));
        let integration = &resources[integration_id]["Properties"];
        assert_eq!(integration["IntegrationType"], "AWS_PROXY", "{key}");
        assert_eq!(integration["PayloadFormatVersion"], "2.0", "{key}");
        let alias = integration["IntegrationUri"]["Ref"].as_str().unwrap();
        let owner = FUNCTIONS
            .iter()
            .find(|f| f.routes.contains(&key.as_str()) || key.ends_with(&format!("/{}", f.slug)))
            .map(|f| f.logical)
            .unwrap_or("Vendor");
        assert_eq!(alias, format!("{owner}LiveAlias"), "{key}");
        assert_eq!(resources[alias]["Properties"]["Name"], LIVE_ALIAS);
        if key.starts_with("GET /health") {
            assert_eq!(route["AuthorizationType"], "NONE", "{key}");
            if key != "GET /health" {
                assert_eq!(
                    integration["RequestParameters"],
                    json!({"overwrite:path": "/health"}),
                    "{key}"
                );
            }
        } else {
            assert_eq!(route["AuthorizationType"], "JWT", "{key}");
            assert_eq!(
                route["AuthorizerId"],
                json!({"Ref": "JwtAuthorizer"}),
                "{key}"
            );
        }
    }
    let authorizer = &resources["JwtAuthorizer"]["Properties"];
    assert_eq!(authorizer["AuthorizerType"], "JWT");
    assert_eq!(
        authorizer["JwtConfiguration"],
        json!({"Audience": {"Ref": "JwtAudience"}, "Issuer": {"Ref": "JwtIssuer"}})
    );
    assert_eq!(
        template["Parameters"]["JwtIssuer"]["Default"],
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE"
    );
}

#[test]
fn each_function_is_arm64_in_the_vpc_with_a_live_alias_and_permission_for_this_api_only() {
    let template = common::template_json("dev", "services");
    let r = &template["Resources"];
    for f in &FUNCTIONS {
        let function = &r[format!("{}Function", f.logical)]["Properties"];
        assert_eq!(function["FunctionName"], format!("roadcall-{}-dev", f.slug));
        assert_eq!(function["Runtime"], "provided.al2023");
        assert_eq!(function["Architectures"], json!(["arm64"]));
        assert_eq!(
            function["Code"],
            json!({"S3Bucket": {"Ref": "ServicesCodeBucket"}, "S3Key": {"Ref": format!("{}CodeKey", f.logical)}})
        );
        assert_eq!(
            function["VpcConfig"]["SecurityGroupIds"][0],
            json!({"Fn::ImportValue": "network-cache-client-sg-dev"})
        );
        // Reserved concurrency is off by default (small accounts have little to spare).
        assert!(function.get("ReservedConcurrentExecutions").is_none());
        let vars = function["Environment"]["Variables"].as_object().unwrap();
        let names: BTreeSet<&str> = vars.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            BTreeSet::from([
                "DATABASE_CA_BUNDLE",
                "DATABASE_HOST",
                "DATABASE_IAM_AUTH",
                "DATABASE_NAME",
                "DATABASE_PORT",
                "DATABASE_USER",
                "REDIS_IAM_AUTH",
                "REDIS_MODE",
                "REDIS_REPLICATION_GROUP_ID",
                "REDIS_URL",
                "REDIS_USERNAME",
                "RUST_LOG",
                "STAGE",
            ])
        );
        assert_eq!(
            vars["REDIS_URL"],
            json!({"Fn::ImportValue": "redis-url-dev"})
        );
        assert_eq!(vars["STAGE"], "dev");
        // Redis: ElastiCache IAM authentication as the redis stack's app user; no token
        // and no secret in the environment.
        assert_eq!(vars["REDIS_IAM_AUTH"], "true");
        assert_eq!(
            vars["REDIS_USERNAME"],
            json!({"Fn::ImportValue": "redis-user-name-dev"})
        );
        assert_eq!(
            vars["REDIS_REPLICATION_GROUP_ID"],
            json!({"Fn::ImportValue": "redis-replication-group-id-dev"})
        );
        assert_eq!(
            vars["DATABASE_CA_BUNDLE"],
            "/var/task/rds-global-bundle.pem"
        );
        let alias = &r[format!("{}LiveAlias", f.logical)]["Properties"];
        assert_eq!(
            alias["FunctionVersion"],
            json!({"Fn::GetAtt": [format!("{}Version", f.logical), "Version"]})
        );
        assert!(alias.get("ProvisionedConcurrencyConfig").is_none());
        let permission = &r[format!("{}ApiPermission", f.logical)]["Properties"];
        assert_eq!(
            permission["FunctionName"],
            json!({"Ref": format!("{}LiveAlias", f.logical)})
        );
        assert_eq!(
            permission["SourceArn"],
            json!({"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*"})
        );
        let statements = r[format!("{}Role", f.logical)]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .clone();
        let connect = statements
            .iter()
            .find(|s| s["Action"] == json!(["rds-db:connect"]))
            .expect("rds-db:connect");
        assert_eq!(
            connect["Resource"][0]["Fn::Sub"][0],
            "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:dbuser:${Cluster}/${User}"
        );
        // In IAM mode the role reads no secret at all.
        assert!(
            !statements
                .iter()
                .any(|s| s["Action"] == json!(["secretsmanager:GetSecretValue"])),
            "{statements:?}"
        );
        // elasticache:Connect on exactly the replication group and the app user, as
        // the redis stack exports them (and nothing else anywhere in the policy).
        let redis: Vec<&Json> = statements
            .iter()
            .filter(|s| s["Action"].to_string().contains("elasticache"))
            .collect();
        assert_eq!(
            redis,
            [&json!({
                "Effect": "Allow",
                "Action": ["elasticache:Connect"],
                "Resource": [
                    {"Fn::Sub": [
                        "arn:${AWS::Partition}:elasticache:${AWS::Region}:${AWS::AccountId}:replicationgroup:${Group}",
                        {"Group": {"Fn::ImportValue": "redis-replication-group-id-dev"}}
                    ]},
                    {"Fn::Sub": [
                        "arn:${AWS::Partition}:elasticache:${AWS::Region}:${AWS::AccountId}:user:${User}",
                        {"User": {"Fn::ImportValue": "redis-user-name-dev"}}
                    ]}
                ]
            })]
        );
    }
    // The imports name what the redis stack exports: its group id and the app user
    // (whose id is its name, so `user:<name>` is that user's ARN).
    let redis = common::template_json("dev", "redis");
    let outputs = &redis["Outputs"];
    let exported = |name: &str| {
        outputs
            .as_object()
            .unwrap()
            .values()
            .find(|o| o["Export"]["Name"] == name)
            .map(|o| o["Value"].clone())
            .unwrap_or_else(|| panic!("redis exports no {name}"))
    };
    assert_eq!(
        exported("redis-replication-group-id-dev"),
        json!({"Ref": "RedisReplicationGroup"})
    );
    let user = &redis["Resources"]["RedisAppUser"]["Properties"];
    assert_eq!(exported("redis-user-name-dev"), user["UserName"]);
    assert_eq!(user["UserId"], user["UserName"]);
    assert_eq!(user["AuthenticationMode"]["Type"], "iam");
    // prod reads the database password from a named secret instead.
    let prod = common::template_json("prod", "services");
    let vars = &prod["Resources"]["VendorFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        vars["DATABASE_SECRET_ARN"],
        json!({"Ref": "DatabaseSecretArn"})
    );
    assert!(vars.get("DATABASE_IAM_AUTH").is_none());
    // ... which is then the one secret its role may read.
    let statements = prod["Resources"]["VendorRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"]
        .as_array()
        .unwrap();
    let secrets: Vec<&Json> = statements
        .iter()
        .filter(|s| s["Action"] == json!(["secretsmanager:GetSecretValue"]))
        .map(|s| &s["Resource"])
        .collect();
    assert_eq!(secrets, [&json!([{"Ref": "DatabaseSecretArn"}])]);
}

#[test]
fn the_warmer_targets_and_may_invoke_exactly_the_services_live_aliases() {
    let warmer = common::template_json("dev", "warmer");
    let r = &warmer["Resources"];
    let input: Json = serde_json::from_str(
        r["WarmerSchedule"]["Properties"]["Targets"][0]["Input"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        input["targets"],
        json!([
            {"function": "roadcall-vendor-dev", "qualifier": "live", "concurrency": 2},
            {"function": "roadcall-incidents-dev", "qualifier": "live", "concurrency": 2},
            {"function": "roadcall-payments-dev", "qualifier": "live", "concurrency": 1},
        ])
    );
    let statements = r["WarmerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap();
    let invoke = statements
        .iter()
        .find(|s| s["Action"] == json!(["lambda:InvokeFunction"]))
        .unwrap();
    let expected: Vec<Json> = FUNCTIONS
        .iter()
        .map(|f| json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:roadcall-{}-dev:live", f.slug)}))
        .collect();
    assert_eq!(invoke["Resource"], Json::Array(expected));
}

#[test]
fn a_stage_file_may_not_list_a_services_function_as_its_own_warmer_target() {
    let shipped =
        std::fs::read_to_string(stacks::config::default_stages_dir().join("dev.toml")).unwrap();
    let text = format!(
        "{shipped}\n[[warmer.targets]]\nfunction = \"roadcall-payments-dev\"\nqualifier = \"live\"\nconcurrency = 3\n"
    );
    let error = stacks::config::parse_stage(std::path::Path::new("stages/dev.toml"), "dev", &text)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(
            "stages/dev.toml: key `warmer.targets[0].function` = \"roadcall-payments-dev\""
        ) && error.contains("warm_concurrency"),
        "{error}"
    );
    // Another function is fine, and joins the services' targets.
    let other =
        format!("{shipped}\n[[warmer.targets]]\nfunction = \"reports-dev\"\nconcurrency = 1\n");
    let config =
        stacks::config::parse_stage(std::path::Path::new("dev.toml"), "dev", &other).unwrap();
    let stacks = stacks::app::build_stage(&config).unwrap();
    let warmer = stacks.iter().find(|s| s.part.slug() == "warmer").unwrap();
    let json = cfn::render(&warmer.template, cfn::Format::Json).unwrap();
    assert!(json.contains("function:reports-dev\""), "{json}");
    assert!(json.contains("function:roadcall-vendor-dev:live"));
}

#[test]
fn bad_services_values_name_the_file_the_key_and_what_is_allowed() {
    let shipped =
        std::fs::read_to_string(stacks::config::default_stages_dir().join("dev.toml")).unwrap();
    for (from, to, key, allowed) in [
        (
            "authorization = \"jwt\"",
            "authorization = \"cognito\"",
            "services.authorization",
            "expected one of jwt, iam",
        ),
        (
            "timeout_seconds = 10",
            "timeout_seconds = 60",
            "services.timeout_seconds",
            "expected 1 to 29",
        ),
        (
            "auth = \"iam\"",
            "auth = \"password\"",
            "services.database.auth",
            "expected one of iam, secret",
        ),
        (
            "resource_id = \"cluster-EXAMPLE0123456789ABCDEFGHIJ\"",
            "resource_id = \"\"",
            "services.database.resource_id",
            "cluster-ABC123",
        ),
        (
            "provisioned_concurrency = 0          # 0: none; at most reserved_concurrency when that is set\nwarm_concurrency = 2                 # environments the warmer keeps warm (0: not warmed)\n\n[services.incidents]",
            "provisioned_concurrency = 5\nwarm_concurrency = 2\n[services.incidents]",
            "services.vendor.provisioned_concurrency",
            "",
        ),
    ] {
        assert!(shipped.contains(from), "{from}");
        let mut text = shipped.replacen(from, to, 1);
        if key == "services.vendor.provisioned_concurrency" {
            // Provisioned beyond reserved concurrency is refused; with none reserved it is fine.
            stacks::config::parse_stage(std::path::Path::new("dev.toml"), "dev", &text).unwrap();
            text = text.replacen(
                "reserved_concurrency = 0             # 0: none (the account's unreserved pool)",
                "reserved_concurrency = 2",
                1,
            );
        }
        let error =
            stacks::config::parse_stage(std::path::Path::new("stages/dev.toml"), "dev", &text)
                .unwrap_err()
                .to_string();
        assert!(
            error.starts_with(&format!("stages/dev.toml: key `{key}`")),
            "{error}"
        );
        assert!(error.contains(allowed), "{error}");
    }
    // Without the section the stage has no services stack, and the warmer no targets.
    let start = shipped.find("# The HTTP API and the vendor").unwrap();
    let end = shipped.find("[warmer]").unwrap();
    let without = format!("{}{}", &shipped[..start], &shipped[end..]);
    let config =
        stacks::config::parse_stage(std::path::Path::new("dev.toml"), "dev", &without).unwrap();
    let slugs: Vec<&str> = stacks::app::build_stage(&config)
        .unwrap()
        .iter()
        .map(|s| s.part.slug())
        .collect();
    assert!(!slugs.contains(&"services"), "{slugs:?}");
}

/// Runs the cdn template's `/api` function under node on each uri; returns the new uris.
fn run_strip_function(code: &str, uris: &[&str]) -> Vec<String> {
    let events: Vec<Json> = uris
        .iter()
        .map(|uri| json!({"version": "1.0", "context": {"eventType": "viewer-request"},
            "viewer": {"ip": "192.0.2.1"},
            "request": {"method": "GET", "uri": uri, "querystring": {"lat": {"value": "40.7"}},
                        "headers": {"host": {"value": "d111111abcdef8.cloudfront.net"}}, "cookies": {}}}))
        .collect();
    let script = format!(
        "{code}\nconst events = JSON.parse(process.argv[1]);\n\
         console.log(JSON.stringify(events.map((e) => {{ const r = handler(e); \
         if (JSON.stringify(r.querystring) !== JSON.stringify(e.request.querystring)) throw new Error('query changed'); \
         return r.uri; }})));\n"
    );
    let output = Command::new("node")
        .arg("-e")
        .arg(&script)
        .arg(Json::Array(events).to_string())
        .output()
        .expect("node (v20) runs the CloudFront Function's JavaScript");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_cloudfront_function_shipped_in_the_cdn_template_strips_the_api_prefix() {
    let cdn = common::template_json("dev", "cdn");
    let r = &cdn["Resources"];
    let function = &r["ApiPrefixFunction"];
    assert_eq!(function["Condition"], "HasApiDomain");
    assert_eq!(
        function["Properties"]["FunctionConfig"]["Runtime"],
        "cloudfront-js-2.0"
    );
    let code = function["Properties"]["FunctionCode"].as_str().unwrap();
    let uris = run_strip_function(
        code,
        &[
            "/api/vendors/x",
            "/api",
            "/api/",
            "/apix",
            "/api/vendors/search",
            "/vendors/x",
            "/api/api/x",
        ],
    );
    assert_eq!(
        uris,
        [
            "/vendors/x",
            "/",
            "/",
            "/apix",
            "/vendors/search",
            "/vendors/x",
            "/api/x"
        ]
    );
    // The function sits on the /api/* behavior, as a viewer request.
    let behaviors =
        &r["Distribution"]["Properties"]["DistributionConfig"]["CacheBehaviors"]["Fn::If"][1];
    assert_eq!(behaviors[0]["PathPattern"], "/api/*");
    assert_eq!(
        behaviors[0]["FunctionAssociations"],
        json!([{"EventType": "viewer-request", "FunctionARN": {"Fn::GetAtt": ["ApiPrefixFunction", "FunctionARN"]}}])
    );
}
