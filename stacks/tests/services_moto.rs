//! The services stack against a real moto_server.
//!
//! moto 5.2.5's CloudFormation engine creates `AWS::Lambda::Function`, `Version`, IAM
//! roles, log groups and security groups, but skips `AWS::ApiGatewayV2::*`,
//! `AWS::Lambda::Alias` and `AWS::CloudWatch::Alarm` (and a `Ref` to a skipped alias
//! resolves to nothing, which breaks the `AWS::Lambda::Permission` that names it), although
//! its API Gateway v2, Lambda and CloudWatch APIs model all of them. So:
//!
//! 1. `stacks deploy --stack services --lambda-zip ...` runs the real deploy path on the
//!    real template up to the change set (uploads, parameters, change set review);
//! 2. the stack is created from the real template with only [`NOT_MODELLED`] left out,
//!    and the functions and versions are read back from moto's Lambda API;
//! 3. the left-out resources are replayed through their own APIs the way CloudFormation
//!    would create them ([`deploy_services`]): in dependency order, each with every
//!    intrinsic function of its properties resolved ([`Resolver`]) from the parameters,
//!    the imports (moto's exports), what the modelled stack created (reported by extra
//!    outputs, [`probes`]) and what the earlier replay steps created. A property or an
//!    intrinsic function the replay does not know fails the test instead of being dropped;
//! 4. what was created is read back through the APIs (GetAlias, GetPolicy, GetApis,
//!    GetRoutes, GetIntegrations, GetAuthorizer, GetStages, DescribeAlarms, and
//!    DescribeLogGroups for the access-log group) and compared with the project's own
//!    sources: the routes each binary serves (lambdas/src/router.rs, lambdas/src/bin) and
//!    docs/api.md documents, the stage file, [`FUNCTIONS`], the monitoring stack's alarm
//!    topic export and the warmer's IAM policy.
//!
//! What this does not cover: CloudFormation's own creation of the replayed types (its
//! resource handlers, their defaults and their `Ref`/`GetAtt` values, such as a log
//! group's `Arn` ending in `:*` on AWS but not in moto). The replay tests the template's
//! values through AWS's API model as moto implements it. moto's own gaps, worked around:
//! no GetAuthorizers (each route's authorizer is read with GetAuthorizer), no attributes
//! on `AWS::Lambda::Version` (read from ListVersionsByFunction), no route for the CBOR
//! protocol the Rust CloudWatch SDK speaks (CloudWatch is called through its JSON
//! protocol, [`CloudWatch`]), and AddPermission keeps the statement but drops the alias
//! qualifier from its `Resource` (so that is not asserted).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::{Command, Stdio};

use aws_config::BehaviorVersion;
use aws_sdk_cloudformation::config::Credentials;
use aws_sdk_cloudformation::types::{Capability, Parameter};
use cfn::Json;
use serde_json::{Map, json};
use stacks::constructs::services::{FUNCTIONS, LIVE_ALIAS};
use testkit::moto::MotoServer;

const CODE_BUCKET: &str = "roadcall-test-code";
/// moto's account.
const ACCOUNT: &str = "123456789012";
/// The name the fixture gives the services stack (step 1 leaves the real name in review;
/// the functions keep their names).
const STACK_NAME: &str = "roadcall-perf-dev-services-fixture";

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

/// Resource types moto 5.2.5 does not create through CloudFormation (and the permission
/// that names the alias, whose `Ref` resolves to nothing there): left out of the stack
/// and replayed through their APIs.
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

/// Modelled types whose `Ref` and attributes moto's CloudFormation cannot report (its
/// `Version` has no attributes and an empty physical id, and one unresolvable output
/// empties every output): read from the service's API instead ([`version_of`]).
const READ_THROUGH_API: &[&str] = &["AWS::Lambda::Version"];

/// Pseudo parameters always probed, so that other templates (the warmer's policy) resolve
/// against the same account.
const PSEUDO_PARAMETERS: &[&str] = &[
    "AWS::AccountId",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackName",
    "AWS::URLSuffix",
];

async fn sdk_config(moto: &MotoServer) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto.endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await
}

fn dev_stage() -> stacks::config::StageConfig {
    stacks::config::load_stage(&stacks::config::default_stages_dir(), "dev").unwrap()
}

fn stack_template(slug: &str) -> Json {
    let stack = stacks::app::build_stage(&dev_stage())
        .unwrap()
        .into_iter()
        .find(|s| s.part.slug() == slug)
        .unwrap();
    serde_json::from_str(&cfn::render(&stack.template, cfn::Format::Json).unwrap()).unwrap()
}

fn is_replayed(resource: &Json) -> bool {
    NOT_MODELLED.contains(&resource["Type"].as_str().unwrap_or_default())
}

/// The template without [`NOT_MODELLED`] resources and the outputs that name them, plus
/// one output per value the replay needs from what is left ([`probes`]).
fn modelled_part(mut template: Json) -> Json {
    let probes = probes(&template);
    let resources = template["Resources"].as_object_mut().unwrap();
    let dropped: BTreeSet<String> = resources
        .iter()
        .filter(|(_, r)| is_replayed(r))
        .map(|(id, _)| id.clone())
        .collect();
    resources.retain(|id, _| !dropped.contains(id));
    let outputs = template["Outputs"].as_object_mut().unwrap();
    outputs.retain(|_, o| {
        let mut named = BTreeSet::new();
        references(&o["Value"], &mut named);
        !named.iter().any(|n| dropped.contains(head(n)))
    });
    for (key, wanted) in probes {
        let value = match wanted.split_once('.') {
            Some((resource, attribute)) => json!({"Fn::GetAtt": [resource, attribute]}),
            None => json!({"Ref": wanted}),
        };
        outputs.insert(key, json!({"Value": value}));
    }
    template
}

/// The resource (or parameter) a reference names: `Name` of `Name.Attribute`.
fn head(reference: &str) -> &str {
    reference.split('.').next().unwrap_or(reference)
}

/// Output key → reference (`Name` or `Name.Attribute`) for everything the replayed
/// resources and the API-read resources refer to that the modelled stack itself creates,
/// and the pseudo parameters.
fn probes(template: &Json) -> BTreeMap<String, String> {
    let resources = template["Resources"].as_object().unwrap();
    let parameters = template["Parameters"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut wanted = BTreeSet::new();
    for resource in resources.values() {
        let kind = resource["Type"].as_str().unwrap_or_default();
        if is_replayed(resource) || READ_THROUGH_API.contains(&kind) {
            references(&resource["Properties"], &mut wanted);
        }
    }
    wanted.extend(PSEUDO_PARAMETERS.iter().map(|p| p.to_string()));
    wanted
        .into_iter()
        .filter(|r| {
            let name = head(r);
            !parameters.contains_key(name)
                && resources.get(name).is_none_or(|res| {
                    !is_replayed(res)
                        && !READ_THROUGH_API.contains(&res["Type"].as_str().unwrap_or_default())
                })
        })
        .enumerate()
        .map(|(i, r)| (format!("ReplayProbe{i}"), r))
        .collect()
}

/// Collects what `value` refers to: `Name` for a `Ref` (or a `${Name}` in `Fn::Sub`),
/// `Name.Attribute` for a `Fn::GetAtt` (or `${Name.Attribute}`).
fn references(value: &Json, out: &mut BTreeSet<String>) {
    match value {
        Json::Array(items) => items.iter().for_each(|v| references(v, out)),
        Json::Object(map) => {
            for (key, arg) in map {
                match (key.as_str(), arg) {
                    ("Ref", Json::String(name)) => {
                        out.insert(name.clone());
                    }
                    ("Fn::GetAtt", Json::String(path)) => {
                        out.insert(path.clone());
                    }
                    ("Fn::GetAtt", Json::Array(parts)) => {
                        let parts: Vec<&str> = parts.iter().filter_map(Json::as_str).collect();
                        out.insert(parts.join("."));
                    }
                    ("Fn::Sub", Json::String(text)) => {
                        out.extend(sub_variables(text));
                    }
                    ("Fn::Sub", Json::Array(parts)) => {
                        let locals = parts.get(1).and_then(Json::as_object);
                        if let Some(text) = parts.first().and_then(Json::as_str) {
                            out.extend(
                                sub_variables(text)
                                    .into_iter()
                                    .filter(|v| locals.is_none_or(|l| !l.contains_key(v))),
                            );
                        }
                        if let Some(locals) = locals {
                            locals.values().for_each(|v| references(v, out));
                        }
                    }
                    _ => references(arg, out),
                }
            }
        }
        _ => {}
    }
}

/// The `${Name}` and `${Name.Attribute}` variables of a `Fn::Sub` text (not the
/// `${!Literal}` escapes).
fn sub_variables(text: &str) -> Vec<String> {
    text.split("${")
        .skip(1)
        .filter(|rest| !rest.starts_with('!'))
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.trim().to_owned()))
        .collect()
}

/// Resolves CloudFormation's intrinsic functions against known values, the way
/// CloudFormation does when it creates a resource: what a `Ref` or `Fn::GetAtt` names
/// must already exist, so a replay out of order, or a reference to nothing, is an error.
#[derive(Debug, Default)]
struct Resolver {
    /// `Name` → what `Ref` gives (parameters, pseudo parameters, resources);
    /// `Name.Attribute` → what `Fn::GetAtt` gives.
    values: BTreeMap<String, Json>,
    /// Export name → value, for `Fn::ImportValue`.
    exports: BTreeMap<String, String>,
}

impl Resolver {
    /// Adds the template's parameters: the given value, else the default; list types as
    /// lists, as `Ref` gives them.
    fn add_parameters(&mut self, template: &Json, given: &[(String, String)]) {
        let given: BTreeMap<&str, &str> = given
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        for (name, declared) in template["Parameters"].as_object().unwrap() {
            let text = given
                .get(name.as_str())
                .map(|v| v.to_string())
                .or_else(|| declared["Default"].as_str().map(str::to_owned))
                .unwrap_or_else(|| panic!("parameter {name} has no value and no default"));
            let kind = declared["Type"].as_str().unwrap_or_default();
            let value = if kind == "CommaDelimitedList" || kind.starts_with("List<") {
                Json::Array(text.split(',').map(|s| json!(s)).collect())
            } else {
                json!(text)
            };
            self.values.insert(name.clone(), value);
        }
    }

    fn lookup(&self, name: &str) -> Result<Json, String> {
        self.values
            .get(name)
            .cloned()
            .ok_or_else(|| format!("nothing resolves `{name}` (not created yet, or not known)"))
    }

    fn resolve(&self, value: &Json) -> Result<Json, String> {
        match value {
            Json::Array(items) => items
                .iter()
                .map(|v| self.resolve(v))
                .collect::<Result<_, _>>()
                .map(Json::Array),
            Json::Object(map) if map.len() == 1 => {
                let (function, arg) = map.iter().next().unwrap();
                match function.as_str() {
                    "Ref" => self.lookup(arg.as_str().ok_or("Ref takes a name")?),
                    "Fn::GetAtt" => {
                        let path = match arg {
                            Json::String(path) => path.clone(),
                            Json::Array(parts) => parts
                                .iter()
                                .map(|p| self.resolve(p).and_then(|p| text(&p)))
                                .collect::<Result<Vec<_>, _>>()?
                                .join("."),
                            _ => return Err(format!("Fn::GetAtt of {arg}")),
                        };
                        self.lookup(&path)
                    }
                    "Fn::Sub" => {
                        let (template, locals) = match arg {
                            Json::String(t) => (t.as_str(), Map::new()),
                            Json::Array(parts) => (
                                parts.first().and_then(Json::as_str).ok_or("Fn::Sub text")?,
                                parts
                                    .get(1)
                                    .and_then(Json::as_object)
                                    .cloned()
                                    .unwrap_or_default(),
                            ),
                            _ => return Err(format!("Fn::Sub of {arg}")),
                        };
                        self.sub(template, &locals).map(Json::String)
                    }
                    "Fn::Join" => {
                        let separator = arg[0].as_str().ok_or("Fn::Join separator")?;
                        let items = self.resolve(&arg[1])?;
                        let items = items.as_array().ok_or("Fn::Join of a non-list")?;
                        let texts = items.iter().map(text).collect::<Result<Vec<_>, _>>()?;
                        Ok(json!(texts.join(separator)))
                    }
                    "Fn::Split" => {
                        let separator = arg[0].as_str().ok_or("Fn::Split separator")?;
                        let whole = text(&self.resolve(&arg[1])?)?;
                        Ok(json!(whole.split(separator).collect::<Vec<_>>()))
                    }
                    "Fn::Select" => {
                        let index = text(&self.resolve(&arg[0])?)?
                            .parse::<usize>()
                            .map_err(|e| format!("Fn::Select index: {e}"))?;
                        let items = self.resolve(&arg[1])?;
                        items
                            .get(index)
                            .cloned()
                            .ok_or_else(|| format!("Fn::Select {index} of {items}"))
                    }
                    "Fn::ImportValue" => {
                        let name = text(&self.resolve(arg)?)?;
                        self.exports
                            .get(&name)
                            .map(|v| json!(v))
                            .ok_or_else(|| format!("no export {name}"))
                    }
                    other if other.starts_with("Fn::") || other == "Condition" => {
                        Err(format!("{other} is not resolved by this replay"))
                    }
                    _ => Ok(Json::Object(self.resolve_members(map)?)),
                }
            }
            Json::Object(map) => Ok(Json::Object(self.resolve_members(map)?)),
            other => Ok(other.clone()),
        }
    }

    fn resolve_members(&self, map: &Map<String, Json>) -> Result<Map<String, Json>, String> {
        map.iter()
            .map(|(k, v)| Ok((k.clone(), self.resolve(v)?)))
            .collect()
    }

    /// `Fn::Sub`: `${Name}` and `${Name.Attribute}` from `locals` or the known values,
    /// `${!Literal}` as `${Literal}`.
    fn sub(&self, template: &str, locals: &Map<String, Json>) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            if let Some(literal) = after.strip_prefix('!') {
                out.push_str("${");
                rest = literal;
                continue;
            }
            let (name, tail) = after
                .split_once('}')
                .ok_or_else(|| format!("unclosed ${{ in {template}"))?;
            let name = name.trim();
            let value = match locals.get(name) {
                Some(local) => self.resolve(local)?,
                None => self.lookup(name)?,
            };
            out.push_str(&text(&value)?);
            rest = tail;
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// A scalar as the text CloudFormation substitutes.
fn text(value: &Json) -> Result<String, String> {
    match value {
        Json::String(s) => Ok(s.clone()),
        Json::Number(n) => Ok(n.to_string()),
        Json::Bool(b) => Ok(b.to_string()),
        other => Err(format!("{other} is not a scalar")),
    }
}

/// The replayed resources in an order CloudFormation could create them: each after
/// every other replayed resource its properties name (or its `DependsOn`).
fn creation_order(template: &Json) -> Vec<String> {
    let resources = template["Resources"].as_object().unwrap();
    let replayed: BTreeSet<&String> = resources
        .iter()
        .filter(|(_, r)| is_replayed(r))
        .map(|(id, _)| id)
        .collect();
    let mut waiting: BTreeMap<&String, BTreeSet<String>> = BTreeMap::new();
    for id in &replayed {
        let resource = &resources[id.as_str()];
        let mut named = BTreeSet::new();
        references(&resource["Properties"], &mut named);
        let mut needs: BTreeSet<String> = named
            .iter()
            .map(|n| head(n).to_owned())
            .filter(|n| replayed.contains(n) && n != *id)
            .collect();
        match &resource["DependsOn"] {
            Json::String(d) => needs.extend([d.clone()]),
            Json::Array(ds) => {
                needs.extend(ds.iter().filter_map(|d| d.as_str().map(str::to_owned)))
            }
            _ => {}
        }
        needs.retain(|n| replayed.contains(n));
        waiting.insert(id, needs);
    }
    let mut order: Vec<String> = Vec::new();
    while !waiting.is_empty() {
        let ready: Vec<&String> = waiting
            .iter()
            .filter(|(_, needs)| needs.iter().all(|n| order.contains(n)))
            .map(|(id, _)| *id)
            .collect();
        assert!(
            !ready.is_empty(),
            "replayed resources wait on each other: {waiting:?}"
        );
        for id in ready {
            waiting.remove(id);
            order.push(id.clone());
        }
    }
    order
}

/// A resource's resolved properties. Each creator takes what it passes on to the API, and
/// [`Props::done`] fails on anything left, so a property the template gains and the
/// replay does not pass on cannot go unnoticed.
struct Props {
    id: String,
    map: Map<String, Json>,
}

impl Props {
    fn new(id: &str, value: Json) -> Self {
        let map = match value {
            Json::Object(map) => map,
            Json::Null => Map::new(),
            other => panic!("{id}: properties {other}"),
        };
        Self {
            id: id.to_owned(),
            map,
        }
    }

    fn take(&mut self, key: &str) -> Option<Json> {
        self.map.remove(key)
    }

    fn string(&mut self, key: &str) -> Option<String> {
        self.take(key)
            .map(|v| text(&v).unwrap_or_else(|e| panic!("{}.{key}: {e}", self.id)))
    }

    fn required(&mut self, key: &str) -> String {
        self.string(key)
            .unwrap_or_else(|| panic!("{}: no {key}", self.id))
    }

    fn int(&mut self, key: &str) -> Option<i32> {
        self.string(key).map(|v| {
            v.parse()
                .unwrap_or_else(|e| panic!("{}.{key} = {v}: {e}", self.id))
        })
    }

    fn float(&mut self, key: &str) -> Option<f64> {
        self.string(key).map(|v| {
            v.parse()
                .unwrap_or_else(|e| panic!("{}.{key} = {v}: {e}", self.id))
        })
    }

    fn boolean(&mut self, key: &str) -> Option<bool> {
        self.string(key).map(|v| v == "true")
    }

    fn strings(&mut self, key: &str) -> Option<Vec<String>> {
        self.take(key).map(|v| match v {
            Json::Array(items) => items
                .iter()
                .map(|i| text(i).unwrap_or_else(|e| panic!("{}.{key}: {e}", self.id)))
                .collect(),
            other => panic!("{}.{key}: {other} is not a list", self.id),
        })
    }

    fn string_map(&mut self, key: &str) -> Option<HashMap<String, String>> {
        self.nested(key).map(|mut nested| {
            let keys: Vec<String> = nested.map.keys().cloned().collect();
            keys.into_iter()
                .map(|k| {
                    let v = nested.required(&k);
                    (k, v)
                })
                .collect()
        })
    }

    fn nested(&mut self, key: &str) -> Option<Props> {
        let id = format!("{}.{key}", self.id);
        self.take(key).map(|v| Props::new(&id, v))
    }

    fn done(self) {
        assert!(
            self.map.is_empty(),
            "{}: the replay does not pass on {:?}",
            self.id,
            self.map.keys().collect::<Vec<_>>()
        );
    }
}

/// The clients of the APIs the replay creates resources through.
struct Clients<'a> {
    lambda: aws_sdk_lambda::Client,
    api: aws_sdk_apigatewayv2::Client,
    cloudwatch: CloudWatch<'a>,
}

impl<'a> Clients<'a> {
    fn new(config: &aws_config::SdkConfig, moto: &'a MotoServer) -> Self {
        Self {
            lambda: aws_sdk_lambda::Client::new(config),
            api: aws_sdk_apigatewayv2::Client::new(config),
            cloudwatch: CloudWatch(moto),
        }
    }
}

/// CloudWatch through its JSON protocol (`GraniteServiceVersion20100801.*` targets): the
/// Rust SDK speaks only CloudWatch's CBOR protocol, whose paths moto 5.2.5 does not
/// route.
struct CloudWatch<'a>(&'a MotoServer);

impl CloudWatch<'_> {
    fn call(&self, operation: &str, input: &Json) -> Json {
        let (status, body) = self
            .0
            .aws_json(
                "monitoring",
                &format!("GraniteServiceVersion20100801.{operation}"),
                &input.to_string(),
            )
            .unwrap_or_else(|e| panic!("CloudWatch {operation}: {e}"));
        assert_eq!(status, 200, "CloudWatch {operation}: {body}");
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("CloudWatch {operation}: {e}: {body}"))
    }
}

/// The members of CloudWatch's PutMetricAlarm input that a metric alarm's CloudFormation
/// properties pass on under the same name and shape (`Metrics`, for metric math, is
/// left out: none of the services alarms uses it, and [`Props::done`] would say so).
const PUT_METRIC_ALARM_MEMBERS: &[&str] = &[
    "ActionsEnabled",
    "AlarmActions",
    "AlarmDescription",
    "ComparisonOperator",
    "DatapointsToAlarm",
    "Dimensions",
    "EvaluateLowSampleCountPercentile",
    "EvaluationPeriods",
    "ExtendedStatistic",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "OKActions",
    "Period",
    "Statistic",
    "Tags",
    "Threshold",
    "ThresholdMetricId",
    "TreatMissingData",
    "Unit",
];

/// Creates one resource of a [`NOT_MODELLED`] type from its resolved properties through
/// the service's API, and returns its `Ref` value and the attributes the template may
/// read with `Fn::GetAtt` (as CloudFormation's documentation of each type gives them).
async fn create(
    clients: &Clients<'_>,
    id: &str,
    kind: &str,
    properties: Json,
) -> (Json, Vec<(&'static str, Json)>) {
    use aws_sdk_apigatewayv2::types as gw;
    let mut p = Props::new(id, properties);
    let failed = |e: &dyn std::fmt::Debug| -> ! { panic!("{id} ({kind}): {e:?}") };
    let created = match kind {
        "AWS::ApiGatewayV2::Api" => {
            let out = clients
                .api
                .create_api()
                .set_name(p.string("Name"))
                .set_description(p.string("Description"))
                .set_protocol_type(
                    p.string("ProtocolType")
                        .map(|t| gw::ProtocolType::from(t.as_str())),
                )
                .set_tags(p.string_map("Tags"))
                .send()
                .await
                .unwrap_or_else(|e| failed(&e));
            let api_id = out.api_id().unwrap().to_owned();
            (
                json!(api_id),
                vec![
                    ("ApiId", json!(api_id)),
                    ("ApiEndpoint", json!(out.api_endpoint().unwrap_or_default())),
                ],
            )
        }
        "AWS::ApiGatewayV2::Stage" => {
            let access_logs = p.nested("AccessLogSettings").map(|mut s| {
                let settings = gw::AccessLogSettings::builder()
                    .set_destination_arn(s.string("DestinationArn"))
                    .set_format(s.string("Format"))
                    .build();
                s.done();
                settings
            });
            let route_settings = p.nested("DefaultRouteSettings").map(|mut s| {
                let settings = gw::RouteSettings::builder()
                    .set_detailed_metrics_enabled(s.boolean("DetailedMetricsEnabled"))
                    .set_data_trace_enabled(s.boolean("DataTraceEnabled"))
                    .set_logging_level(
                        s.string("LoggingLevel")
                            .map(|l| gw::LoggingLevel::from(l.as_str())),
                    )
                    .set_throttling_burst_limit(s.int("ThrottlingBurstLimit"))
                    .set_throttling_rate_limit(s.float("ThrottlingRateLimit"))
                    .build();
                s.done();
                settings
            });
            let name = p.required("StageName");
            clients
                .api
                .create_stage()
                .set_api_id(p.string("ApiId"))
                .stage_name(&name)
                .set_auto_deploy(p.boolean("AutoDeploy"))
                .set_description(p.string("Description"))
                .set_access_log_settings(access_logs)
                .set_default_route_settings(route_settings)
                .set_tags(p.string_map("Tags"))
                .send()
                .await
                .unwrap_or_else(|e| failed(&e));
            (json!(name), vec![])
        }
        "AWS::ApiGatewayV2::Authorizer" => {
            let jwt = p.nested("JwtConfiguration").map(|mut j| {
                let config = gw::JwtConfiguration::builder()
                    .set_audience(j.strings("Audience"))
                    .set_issuer(j.string("Issuer"))
                    .build();
                j.done();
                config
            });
            let out = clients
                .api
                .create_authorizer()
                .set_api_id(p.string("ApiId"))
                .set_name(p.string("Name"))
                .set_authorizer_type(
                    p.string("AuthorizerType")
                        .map(|t| gw::AuthorizerType::from(t.as_str())),
                )
                .set_identity_source(p.strings("IdentitySource"))
                .set_jwt_configuration(jwt)
                .send()
                .await
                .unwrap_or_else(|e| failed(&e));
            let authorizer_id = out.authorizer_id().unwrap().to_owned();
            (
                json!(authorizer_id),
                vec![("AuthorizerId", json!(authorizer_id))],
            )
        }
        "AWS::ApiGatewayV2::Integration" => {
            let out = clients
                .api
                .create_integration()
                .set_api_id(p.string("ApiId"))
                .set_integration_type(
                    p.string("IntegrationType")
                        .map(|t| gw::IntegrationType::from(t.as_str())),
                )
                .set_integration_uri(p.string("IntegrationUri"))
                .set_integration_method(p.string("IntegrationMethod"))
                .set_payload_format_version(p.string("PayloadFormatVersion"))
                .set_timeout_in_millis(p.int("TimeoutInMillis"))
                .set_request_parameters(p.string_map("RequestParameters"))
                .send()
                .await
                .unwrap_or_else(|e| failed(&e));
            let integration_id = out.integration_id().unwrap().to_owned();
            (
                json!(integration_id),
                vec![("IntegrationId", json!(integration_id))],
            )
        }
        "AWS::ApiGatewayV2::Route" => {
            let out = clients
                .api
                .create_route()
                .set_api_id(p.string("ApiId"))
                .set_route_key(p.string("RouteKey"))
                .set_target(p.string("Target"))
                .set_authorization_type(
                    p.string("AuthorizationType")
                        .map(|t| gw::AuthorizationType::from(t.as_str())),
                )
                .set_authorizer_id(p.string("AuthorizerId"))
                .set_authorization_scopes(p.strings("AuthorizationScopes"))
                .send()
                .await
                .unwrap_or_else(|e| failed(&e));
            (json!(out.route_id().unwrap()), vec![])
        }
        "AWS::Lambda::Alias" => {
            let out = clients
                .lambda
                .create_alias()
                .set_function_name(p.string("FunctionName"))
                .set_function_version(p.string("FunctionVersion"))
                .set_name(p.string("Name"))
                .set_description(p.string("Description"))
                .send()
                .await
                .unwrap_or_else(|e| failed(&e));
            let arn = out.alias_arn().unwrap().to_owned();
            (json!(arn), vec![("AliasArn", json!(arn))])
        }
        "AWS::Lambda::Permission" => {
            // CloudFormation names the statement itself; the logical id is unique here.
            clients
                .lambda
                .add_permission()
                .statement_id(id)
                .set_function_name(p.string("FunctionName"))
                .set_action(p.string("Action"))
                .set_principal(p.string("Principal"))
                .set_source_arn(p.string("SourceArn"))
                .set_source_account(p.string("SourceAccount"))
                .send()
                .await
                .unwrap_or_else(|e| failed(&e));
            (json!(id), vec![])
        }
        "AWS::CloudWatch::Alarm" => {
            let name = p.required("AlarmName");
            let mut input = json!({"AlarmName": name});
            for member in PUT_METRIC_ALARM_MEMBERS {
                if let Some(value) = p.take(member) {
                    input[*member] = value;
                }
            }
            clients.cloudwatch.call("PutMetricAlarm", &input);
            let described = clients
                .cloudwatch
                .call("DescribeAlarms", &json!({"AlarmNames": [name]}));
            let arn = described["MetricAlarms"][0]["AlarmArn"].clone();
            assert!(arn.is_string(), "{id}: {described}");
            (json!(name), vec![("Arn", arn)])
        }
        other => panic!("{id}: the replay cannot create {other}"),
    };
    p.done();
    created
}

/// The services stack of `dev` in moto: the modelled part through CloudFormation, the
/// rest replayed; `resolver` knows every value the template's references resolve to.
struct Deployed {
    resolver: Resolver,
    /// The replayed resources, in the order they were created.
    order: Vec<String>,
}

/// Creates the stand-in imports stack and returns its outputs.
async fn create_imports(config: &aws_config::SdkConfig) -> BTreeMap<String, String> {
    create_stack(
        config,
        "roadcall-test-imports",
        STAND_IN_IMPORTS.to_owned(),
        &[],
    )
    .await
}

/// Uploads stand-in zips, creates the modelled part of the services stack and replays
/// the rest.
async fn deploy_services(
    config: &aws_config::SdkConfig,
    moto: &MotoServer,
    database_group: &str,
) -> Deployed {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(CODE_BUCKET).send().await.unwrap();
    let mut parameters = vec![
        ("ServicesCodeBucket".to_owned(), CODE_BUCKET.to_owned()),
        (
            "DatabaseSecurityGroupId".to_owned(),
            database_group.to_owned(),
        ),
    ];
    for f in &FUNCTIONS {
        let key = format!("{}/fixture.zip", f.slug);
        s3.put_object()
            .bucket(CODE_BUCKET)
            .key(&key)
            .body(b"PK".to_vec().into())
            .send()
            .await
            .unwrap();
        parameters.push((format!("{}CodeKey", f.logical), key));
    }
    let template = stack_template("services");
    let given: Vec<(&str, String)> = parameters
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let outputs = create_stack(
        config,
        STACK_NAME,
        modelled_part(template.clone()).to_string(),
        &given,
    )
    .await;

    let clients = Clients::new(config, moto);
    let cloudformation = aws_sdk_cloudformation::Client::new(config);
    let mut resolver = Resolver::default();
    resolver.add_parameters(&template, &parameters);
    for (key, reference) in probes(&template) {
        let value = outputs
            .get(&key)
            .unwrap_or_else(|| panic!("moto reported no {reference} ({key}): {outputs:?}"));
        resolver.values.insert(reference, json!(value));
    }
    let exports = cloudformation.list_exports().send().await.unwrap();
    for export in exports.exports() {
        resolver.exports.insert(
            export.name().unwrap().to_owned(),
            export.value().unwrap().to_owned(),
        );
    }
    let resources = template["Resources"].as_object().unwrap();
    for (id, resource) in resources {
        match resource["Type"].as_str().unwrap_or_default() {
            "AWS::Lambda::Version" => {
                let (arn, version) = version_of(&clients, &resolver, id, resource).await;
                resolver.values.insert(id.clone(), json!(arn));
                resolver
                    .values
                    .insert(format!("{id}.Version"), json!(version));
            }
            kind => assert!(
                !READ_THROUGH_API.contains(&kind),
                "{id}: no reader for {kind}"
            ),
        }
    }

    let order = creation_order(&template);
    for id in &order {
        let resource = &resources[id];
        let properties = resolver
            .resolve(&resource["Properties"])
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let kind = resource["Type"].as_str().unwrap();
        let (reference, attributes) = create(&clients, id, kind, properties).await;
        resolver.values.insert(id.clone(), reference);
        for (attribute, value) in attributes {
            resolver.values.insert(format!("{id}.{attribute}"), value);
        }
    }
    Deployed { resolver, order }
}

/// A modelled `AWS::Lambda::Version`'s `Ref` (the version's ARN) and `Version`, from
/// Lambda's own list of the function's published versions (moto's CloudFormation reports
/// neither).
async fn version_of(
    clients: &Clients<'_>,
    resolver: &Resolver,
    id: &str,
    resource: &Json,
) -> (String, String) {
    let function = resolver
        .resolve(&resource["Properties"]["FunctionName"])
        .unwrap_or_else(|e| panic!("{id}: {e}"));
    let versions = clients
        .lambda
        .list_versions_by_function()
        .function_name(text(&function).unwrap())
        .send()
        .await
        .unwrap();
    let published: Vec<_> = versions
        .versions()
        .iter()
        .filter(|v| v.version() != Some("$LATEST"))
        .collect();
    assert_eq!(published.len(), 1, "{id}: {published:?}");
    (
        published[0].function_arn().unwrap().to_owned(),
        published[0].version().unwrap().to_owned(),
    )
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

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_services_stack_deploys_and_the_warmer_names_exactly_its_live_aliases() {
    let moto = MotoServer::start();
    let runtime = runtime();
    let stages = tempfile::tempdir().unwrap();
    std::fs::copy(
        stacks::config::default_stages_dir().join("dev.toml"),
        stages.path().join("dev.toml"),
    )
    .unwrap();
    let config = runtime.block_on(sdk_config(&moto));
    let imports = runtime.block_on(create_imports(&config));
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

    // 2 and 3. The stack itself: the modelled part, then the replay.
    runtime.block_on(async {
        let deployed = deploy_services(&config, &moto, &database_group).await;
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
            // 3. The alias as the replay created it from the template.
            let fetched = lambda.get_alias().function_name(&name).name(LIVE_ALIAS).send().await.unwrap();
            assert_eq!(fetched.function_version(), Some(published[0].as_str()), "{name}");
            alias_arns.insert(fetched.alias_arn().unwrap().to_owned());
        }
        assert_eq!(alias_arns.len(), FUNCTIONS.len());
        // The warmer's policy, resolved against the same account.
        let warmer = stack_template("warmer");
        let statements = warmer["Resources"]["WarmerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap();
        let invoke = statements.iter().find(|s| s["Action"] == json!(["lambda:InvokeFunction"])).unwrap();
        let resolved = deployed.resolver.resolve(&invoke["Resource"]).unwrap();
        let resolved: BTreeSet<String> = resolved
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(resolved, alias_arns);
    });
}

#[test]
fn the_replayed_api_and_alarms_read_back_as_the_routers_docs_and_stage_file_declare() {
    let moto = MotoServer::start();
    let runtime = runtime();
    let config = runtime.block_on(sdk_config(&moto));
    let stage = dev_stage();
    let settings = stage.services.as_ref().expect("dev has [services]");
    let slugs: Vec<&str> = FUNCTIONS.iter().map(|f| f.slug).collect();

    // The project's own sources agree before anything is compared with them: the routes
    // the binaries serve (plus `/health`, which every router adds) are the documented ones.
    let by_binary = common::router_routes_by_binary(&slugs);
    let mut served: BTreeSet<String> = by_binary.values().flatten().cloned().collect();
    served.insert("GET /health".to_owned());
    let documented = common::documented_routes();
    assert_eq!(documented, served, "docs/api.md and the routers disagree");
    assert_eq!(served, common::router_routes());

    runtime.block_on(async {
        let imports = create_imports(&config).await;
        let deployed = deploy_services(&config, &moto, &imports["DatabaseGroup"]).await;
        // Dependency order: the API before everything on it, aliases before the
        // integrations that name them, integrations and the authorizer before the routes.
        let position = |id: &str| deployed.order.iter().position(|o| o == id).unwrap();
        assert!(position("HttpApi") < position("JwtAuthorizer"));
        assert!(position("VendorLiveAlias") < position("VendorIntegration"));
        assert!(position("VendorIntegration") < position("RouteGetVendorsId"));
        assert!(position("JwtAuthorizer") < position("RouteGetVendorsId"));

        let lambda = aws_sdk_lambda::Client::new(&config);
        let api = aws_sdk_apigatewayv2::Client::new(&config);
        let cloudwatch = CloudWatch(&moto);

        // The `live` alias of each function, as Lambda reports it.
        let mut alias_of = BTreeMap::new();
        let mut function_of = BTreeMap::new();
        for f in &FUNCTIONS {
            let name = format!("roadcall-{}-{}", f.slug, stage.stage);
            let function = lambda.get_function_configuration().function_name(&name).send().await.unwrap();
            let alias = lambda.get_alias().function_name(&name).name(LIVE_ALIAS).send().await.unwrap();
            function_of.insert(f.slug, function.function_name().unwrap().to_owned());
            alias_of.insert(f.slug, alias.alias_arn().unwrap().to_owned());
        }
        let aliases: BTreeSet<&String> = alias_of.values().collect();

        // One HTTP API.
        let apis = api.get_apis().send().await.unwrap();
        assert_eq!(apis.items().len(), 1, "{apis:?}");
        let http_api = &apis.items()[0];
        let api_id = http_api.api_id().unwrap();
        assert_eq!(http_api.protocol_type().map(|p| p.as_str()), Some("HTTP"));
        let api_name = http_api.name().unwrap();

        // Every documented route, and one health check per function, nothing else.
        let routes = api.get_routes().api_id(api_id).send().await.unwrap();
        let keys: BTreeSet<String> = routes.items().iter().map(|r| r.route_key().unwrap().to_owned()).collect();
        let mut expected = documented.clone();
        expected.extend(slugs.iter().map(|s| format!("GET /health/{s}")));
        assert_eq!(keys, expected);
        assert_eq!(routes.items().len(), expected.len(), "a route key twice");

        let integrations = api.get_integrations().api_id(api_id).send().await.unwrap();
        let integration_by_id: BTreeMap<&str, _> = integrations
            .items()
            .iter()
            .map(|i| (i.integration_id().unwrap(), i))
            .collect();
        let mut authorizer_ids = BTreeSet::new();
        for route in routes.items() {
            let key = route.route_key().unwrap();
            let target = route.target().unwrap_or_default();
            let integration_id = target
                .strip_prefix("integrations/")
                .unwrap_or_else(|| panic!("{key}: target {target}"));
            let integration = integration_by_id
                .get(integration_id)
                .unwrap_or_else(|| panic!("{key}: no integration {integration_id}"));
            assert_eq!(integration.integration_type().map(|t| t.as_str()), Some("AWS_PROXY"), "{key}");
            assert_eq!(integration.payload_format_version(), Some("2.0"), "{key}");
            let timeout = integration.timeout_in_millis().unwrap_or(30_000);
            assert!(
                timeout > settings.timeout_seconds as i32 * 1000 && timeout <= 30_000,
                "{key}: API Gateway gives up after {timeout} ms, the function after {} s",
                settings.timeout_seconds
            );
            let uri = integration.integration_uri().unwrap();
            let overwrite = integration.request_parameters().and_then(|p| p.get("overwrite:path"));
            let health_of = key.strip_prefix("GET /health/");
            if key == "GET /health" {
                // Every router serves `/health`: any function's alias answers it.
                assert!(aliases.contains(&uri.to_owned()), "{key}: {uri}");
                assert_eq!(overwrite, None, "{key}");
            } else if let Some(slug) = health_of {
                assert_eq!(uri, alias_of[slug], "{key}");
                assert_eq!(overwrite.map(String::as_str), Some("/health"), "{key}");
            } else {
                let owners: Vec<&String> = by_binary
                    .iter()
                    .filter(|(_, routes)| routes.contains(key))
                    .map(|(slug, _)| slug)
                    .collect();
                assert_eq!(owners.len(), 1, "{key}: served by {owners:?}");
                assert_eq!(uri, alias_of[owners[0].as_str()], "{key}: not {}'s live alias", owners[0]);
                assert_eq!(overwrite, None, "{key}");
            }
            let authorization = route.authorization_type().map(|t| t.as_str());
            if key == "GET /health" || health_of.is_some() {
                assert_eq!(authorization, Some("NONE"), "{key}");
                assert_eq!(route.authorizer_id(), None, "{key}");
            } else {
                assert_eq!(authorization, Some("JWT"), "{key}");
                authorizer_ids.insert(route.authorizer_id().unwrap_or_else(|| panic!("{key}: no authorizer")).to_owned());
            }
        }
        // One JWT authorizer, with the stage file's issuer and audience.
        assert_eq!(authorizer_ids.len(), 1, "{authorizer_ids:?}");
        let authorizer = api
            .get_authorizer()
            .api_id(api_id)
            .authorizer_id(authorizer_ids.first().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(authorizer.authorizer_type().map(|t| t.as_str()), Some("JWT"));
        assert_eq!(authorizer.identity_source(), ["$request.header.Authorization"]);
        let jwt = authorizer.jwt_configuration().unwrap();
        assert_eq!(jwt.issuer(), Some(settings.jwt_issuer.as_str()));
        assert_eq!(jwt.audience(), settings.jwt_audience.as_slice());

        // API Gateway may invoke each function's `live` alias, from this API only.
        for f in &FUNCTIONS {
            let policy = lambda
                .get_policy()
                .function_name(&function_of[f.slug])
                .qualifier(LIVE_ALIAS)
                .send()
                .await
                .unwrap();
            let policy: Json = serde_json::from_str(policy.policy().unwrap()).unwrap();
            let statements = policy["Statement"].as_array().unwrap();
            assert_eq!(statements.len(), 1, "{}: {policy}", f.slug);
            assert_eq!(statements[0]["Principal"], json!({"Service": "apigateway.amazonaws.com"}));
            assert_eq!(statements[0]["Action"], "lambda:InvokeFunction");
            assert_eq!(
                statements[0]["Condition"]["ArnLike"]["AWS:SourceArn"],
                format!("arn:aws:execute-api:us-east-1:{ACCOUNT}:{api_id}/*"),
                "{}",
                f.slug
            );
        }

        // The one stage: `$default`, deployed on change, the stage file's throttling,
        // access logs to the stack's own log group with the stage file's retention.
        let stages = api.get_stages().api_id(api_id).send().await.unwrap();
        assert_eq!(stages.items().len(), 1, "{stages:?}");
        let api_stage = &stages.items()[0];
        assert_eq!(api_stage.stage_name(), Some("$default"));
        assert_eq!(api_stage.auto_deploy(), Some(true));
        let route_settings = api_stage.default_route_settings().unwrap();
        assert_eq!(route_settings.throttling_rate_limit(), Some(f64::from(settings.throttle_rate_per_second)));
        assert_eq!(route_settings.throttling_burst_limit(), Some(settings.throttle_burst as i32));
        assert_eq!(route_settings.detailed_metrics_enabled(), Some(true));
        let access_logs = api_stage.access_log_settings().unwrap();
        let log_group = format!("/aws/apigateway/{api_name}");
        let destination = access_logs.destination_arn().unwrap();
        assert_eq!(
            destination.trim_end_matches(":*"),
            format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{log_group}")
        );
        let format: Json = serde_json::from_str(access_logs.format().unwrap()).expect("access logs are JSON lines");
        for field in ["requestId", "routeKey", "status", "integrationError", "authorizerError"] {
            assert!(format[field].as_str().is_some_and(|v| v.starts_with("$context.")), "{field}: {format}");
        }
        let stack_resources = aws_sdk_cloudformation::Client::new(&config)
            .list_stack_resources()
            .stack_name(STACK_NAME)
            .send()
            .await
            .unwrap();
        assert!(
            stack_resources.stack_resource_summaries().iter().any(|r| {
                r.resource_type() == Some("AWS::Logs::LogGroup") && r.physical_resource_id() == Some(log_group.as_str())
            }),
            "the stack creates no {log_group}"
        );
        let (status, body) = moto
            .aws_json(
                "logs",
                "Logs_20140328.DescribeLogGroups",
                &json!({"logGroupNamePrefix": log_group}).to_string(),
            )
            .unwrap();
        assert_eq!(status, 200, "{body}");
        let groups: Json = serde_json::from_str(&body).unwrap();
        assert_eq!(groups["logGroups"][0]["logGroupName"], log_group.as_str(), "{groups}");
        assert_eq!(groups["logGroups"][0]["retentionInDays"], settings.log_retention_days, "{groups}");

        // Errors and throttles of each function's `live` alias, to the alarm topic the
        // monitoring stack exports; nothing else.
        let topic = deployed.resolver.exports[&format!("monitoring-alarm-topic-arn-{}", stage.stage)].clone();
        let described = cloudwatch.call("DescribeAlarms", &json!({}));
        let alarms = described["MetricAlarms"].as_array().unwrap();
        assert_eq!(alarms.len(), FUNCTIONS.len() * 2, "{described}");
        for f in &FUNCTIONS {
            let function = function_of[f.slug].as_str();
            // `Resource` is `<function>:<alias>`: the alias ARN past `function:`.
            let qualified = alias_of[f.slug].split(":function:").nth(1).unwrap();
            for metric in ["Errors", "Throttles"] {
                let watching: Vec<&Json> = alarms
                    .iter()
                    .filter(|a| {
                        a["MetricName"] == metric
                            && a["Dimensions"]
                                .as_array()
                                .is_some_and(|ds| ds.contains(&json!({"Name": "FunctionName", "Value": function})))
                    })
                    .collect();
                assert_eq!(watching.len(), 1, "{} {metric}: {described}", f.slug);
                let alarm = watching[0];
                let name = alarm["AlarmName"].as_str().unwrap();
                assert!(name.contains(f.slug) && name.contains(&stage.stage), "{name}");
                assert_eq!(alarm["Namespace"], "AWS/Lambda", "{name}");
                let mut dimensions = alarm["Dimensions"].as_array().unwrap().clone();
                dimensions.sort_by_key(|d| d["Name"].to_string());
                assert_eq!(
                    Json::Array(dimensions),
                    json!([{"Name": "FunctionName", "Value": function}, {"Name": "Resource", "Value": qualified}]),
                    "{name}"
                );
                assert_eq!(alarm["Statistic"], "Sum", "{name}");
                assert_eq!(alarm["Threshold"], 1.0, "{name}: fires on the first one");
                assert_eq!(alarm["ComparisonOperator"], "GreaterThanOrEqualToThreshold", "{name}");
                assert_eq!(alarm["TreatMissingData"], "notBreaching", "{name}: no traffic is no alarm");
                assert_eq!(alarm["AlarmActions"], json!([topic]), "{name}");
                assert_eq!(alarm["OKActions"], json!([topic]), "{name}");
            }
        }
    });
}

#[test]
fn the_resolver_resolves_as_cloudformation_does_and_refuses_what_it_cannot() {
    let mut resolver = Resolver::default();
    resolver.values.insert("Api".into(), json!("a1b2"));
    resolver
        .values
        .insert("Group.Arn".into(), json!("arn:aws:logs:r:1:log-group:g"));
    resolver
        .values
        .insert("AWS::Region".into(), json!("us-east-1"));
    resolver.values.insert("Audience".into(), json!(["x", "y"]));
    resolver
        .exports
        .insert("topic-dev".into(), "arn:aws:sns:r:1:t".into());
    let resolve = |v: Json| resolver.resolve(&v);
    assert_eq!(
        resolve(json!({"Fn::Sub": "arn:${AWS::Region}:${Api}/*/${!Literal}"})),
        Ok(json!("arn:us-east-1:a1b2/*/${Literal}"))
    );
    assert_eq!(
        resolve(json!({"Fn::Sub": ["${Local}-${Group.Arn}", {"Local": {"Ref": "Api"}}]})),
        Ok(json!("a1b2-arn:aws:logs:r:1:log-group:g"))
    );
    assert_eq!(
        resolve(json!({"Fn::GetAtt": ["Group", "Arn"]})),
        Ok(json!("arn:aws:logs:r:1:log-group:g"))
    );
    assert_eq!(
        resolve(json!({"Fn::GetAtt": "Group.Arn"})),
        Ok(json!("arn:aws:logs:r:1:log-group:g"))
    );
    assert_eq!(
        resolve(json!({"Fn::Join": [",", {"Ref": "Audience"}]})),
        Ok(json!("x,y"))
    );
    assert_eq!(
        resolve(json!({"Fn::Select": [1, {"Fn::Split": [",", "p,q"]}]})),
        Ok(json!("q"))
    );
    assert_eq!(
        resolve(json!({"A": [{"Fn::ImportValue": "topic-dev"}], "overwrite:path": "/health"})),
        Ok(json!({"A": ["arn:aws:sns:r:1:t"], "overwrite:path": "/health"}))
    );
    // A reference to something not created (yet), an import nobody exports, a function
    // this replay does not know: errors, never a silently empty value.
    assert!(
        resolve(json!({"Ref": "Later"}))
            .unwrap_err()
            .contains("Later")
    );
    assert!(
        resolve(json!({"Fn::Sub": "${Later.Arn}"}))
            .unwrap_err()
            .contains("Later.Arn")
    );
    assert!(resolve(json!({"Fn::ImportValue": "nobody"})).is_err());
    assert!(
        resolve(json!({"Fn::If": ["C", 1, 2]}))
            .unwrap_err()
            .contains("Fn::If")
    );

    let mut named = BTreeSet::new();
    references(
        &json!({"A": {"Fn::Sub": ["${X}${Y.Z}${!W}", {"X": {"Ref": "V"}}]}, "B": {"Fn::GetAtt": ["G", "Arn"]}}),
        &mut named,
    );
    assert_eq!(
        named,
        BTreeSet::from(["V".into(), "Y.Z".into(), "G.Arn".into()])
    );
}
