//! Generates typed CloudFormation resource structs (the L1 layer of `crates/cfn`) from the
//! resource provider schemas that the pinned `cfn-lint` package ships, the way aws-cdk-lib
//! generates its L1 classes from the same schemas.
//!
//! For each resource type in [`RESOURCE_TYPES`] it writes a struct whose fields are the
//! schema's properties (renamed to snake case, serialized under their CloudFormation
//! names), with required properties as constructor arguments, enumerations as Rust enums,
//! nested definitions as structs, and typed `Fn::GetAtt` accessors from the schema's
//! read-only properties. The output is run through `rustfmt` and committed; a test checks
//! that it is current.
//!
//! It works in three steps, each in its own module: [`schema`] reads cfn-lint's schema
//! files, `walk` turns one schema into a typed code model ([`model`]: the structs, enums,
//! attributes and tag handling a resource needs, with their Rust names from `names`), and
//! `emit` writes that model as Rust, one file per kind of thing emitted (resource,
//! property type, enumeration, attribute accessors). To change the shape of the generated
//! code, change an emitter; to change what is generated, change the walk.

#![warn(missing_docs)]

mod emit;
pub mod model;
mod names;
pub mod schema;
mod walk;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use serde_json::Value;

use emit::rustfmt;
pub use names::snake_case;
pub use schema::locate_schemas;
use schema::{read_json, split_type};

/// The cfn-lint version whose schemas the committed output was generated from.
pub const CFN_LINT_VERSION: &str = "1.58.0";

/// Where the generated modules live, relative to the workspace root.
pub const OUTPUT_DIR: &str = "crates/cfn/src/aws";

/// Every resource type the stacks emit (and the checks' test templates use).
pub const RESOURCE_TYPES: &[&str] = &[
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Authorizer",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Stage",
    "AWS::AppSync::ApiCache",
    "AWS::CloudFront::CachePolicy",
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::Function",
    "AWS::CloudFront::OriginAccessControl",
    "AWS::CloudFront::ResponseHeadersPolicy",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::DAX::Cluster",
    "AWS::DAX::ParameterGroup",
    "AWS::DAX::SubnetGroup",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::SecurityGroupEgress",
    "AWS::EC2::SecurityGroupIngress",
    "AWS::ElastiCache::ParameterGroup",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::ElastiCache::SubnetGroup",
    "AWS::ElastiCache::User",
    "AWS::ElastiCache::UserGroup",
    "AWS::Events::Rule",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::Role",
    "AWS::KMS::Alias",
    "AWS::KMS::Key",
    "AWS::Lambda::Alias",
    "AWS::Lambda::Function",
    "AWS::Lambda::Permission",
    "AWS::Lambda::Version",
    "AWS::Logs::LogGroup",
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::Topic",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::Queue",
    "AWS::SQS::QueuePolicy",
    "AWS::SecretsManager::Secret",
    "AWS::WAFv2::LoggingConfiguration",
    "AWS::WAFv2::WebACL",
];

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| {
            // A moved checkout still has the relative layout; fall back to it.
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
        })
}

/// Generates every module: returns `(file name, formatted source)` pairs, `mod.rs` included.
pub fn generate(schemas: &Path, root: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let providers_path = schemas.join("providers/us-east-1.json");
    let providers: Value = read_json(&providers_path)?;
    // service -> (module, struct name, code)
    let mut services: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    // (type name, module path) for the create-only lookups of mod.rs
    let mut lookups = Vec::new();
    for type_name in RESOURCE_TYPES {
        let hash = providers
            .get(type_name)
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("{type_name} is not in {}", providers_path.display()))?;
        let schema = read_json(&schemas.join(format!("resources/{hash}.json")))?;
        let (service, resource) = split_type(type_name)?;
        let module = walk::resource_module(type_name, &resource, &schema)?;
        let code = emit::resource_module(&module);
        lookups.push((
            (*type_name).to_owned(),
            format!("{}::{}", service.to_lowercase(), snake_case(&resource)),
        ));
        services.entry(service.to_lowercase()).or_default().push((
            snake_case(&resource),
            resource.clone(),
            code,
        ));
    }
    let mut files = Vec::new();
    let mut mod_rs = String::from(
        "//! Typed CloudFormation resources, generated by `cargo run -p cfn-codegen` from the\n\
         //! provider schemas of cfn-lint ",
    );
    mod_rs.push_str(CFN_LINT_VERSION);
    mod_rs.push_str(". Do not edit by hand.\n\n");
    for (service, resources) in &services {
        mod_rs.push_str(&format!("pub mod {service};\n"));
        let mut text = format!(
            "//! `AWS::{}::*` resources. Generated by `cfn-codegen` from cfn-lint {CFN_LINT_VERSION}; do not edit.\n\n",
            service_display(service)
        );
        for (module, name, _) in resources {
            text.push_str(&format!("pub use {module}::{name};\n"));
        }
        for (module, _, code) in resources {
            text.push_str(&format!("\npub mod {module} {{\n{code}\n}}\n"));
        }
        files.push((format!("{service}.rs"), rustfmt(&text, root)?));
    }
    mod_rs.push_str(&lookup_fn(
        "create_only_properties",
        "The schema's `createOnlyProperties` of a generated resource type (paths below \
         `Properties`): changing one replaces the resource. `None` for other types.",
        "CREATE_ONLY_PROPERTIES",
        &lookups,
    ));
    mod_rs.push_str(&lookup_fn(
        "name_properties",
        "The create-only properties that name a generated resource type's resources: \
         CloudFormation cannot replace a resource that sets one. `None` for other types.",
        "NAME_PROPERTIES",
        &lookups,
    ));
    files.push(("mod.rs".to_owned(), rustfmt(&mod_rs, root)?));
    files.sort();
    Ok(files)
}

/// A `match` from type name to a per-module constant.
fn lookup_fn(name: &str, doc: &str, constant: &str, types: &[(String, String)]) -> String {
    let mut out = format!(
        "\n/// {doc}\npub fn {name}(type_name: &str) -> Option<&'static [&'static str]> {{\nmatch type_name {{\n"
    );
    for (type_name, module) in types {
        out.push_str(&format!("\"{type_name}\" => Some({module}::{constant}),\n"));
    }
    out.push_str("_ => None,\n}\n}\n");
    out
}

fn service_display(service: &str) -> &str {
    match service {
        "apigatewayv2" => "ApiGatewayV2",
        "appsync" => "AppSync",
        "cloudfront" => "CloudFront",
        "cloudwatch" => "CloudWatch",
        "dax" => "DAX",
        "ec2" => "EC2",
        "elasticache" => "ElastiCache",
        "events" => "Events",
        "iam" => "IAM",
        "kms" => "KMS",
        "lambda" => "Lambda",
        "logs" => "Logs",
        "s3" => "S3",
        "sns" => "SNS",
        "sqs" => "SQS",
        "secretsmanager" => "SecretsManager",
        "wafv2" => "WAFv2",
        other => other,
    }
}
