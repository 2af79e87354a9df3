//! Rules that need more than one resource at a time, written in Rust.

use std::collections::BTreeSet;

use cfn::Json;

use super::rules::{RuleInfo, Severity};

/// A bucket without a TLS-only policy.
pub const S3_BUCKET_TLS_POLICY: &str = "S3_BUCKET_HAS_TLS_ONLY_POLICY";
/// A queue without a TLS-only policy.
pub const SQS_QUEUE_TLS_POLICY: &str = "SQS_QUEUE_HAS_TLS_ONLY_POLICY";

/// A resource type whose every resource a policy resource must cover with a Deny of
/// requests made without TLS.
#[derive(Clone, Copy, Debug)]
pub struct TlsOnlyPolicy {
    /// The rule that reports an uncovered resource.
    pub rule: &'static str,
    /// The type of the covered resources.
    pub resource_type: &'static str,
    /// The type of the policy resource.
    pub policy_type: &'static str,
    /// The policy's property naming what it covers (one reference or a list of them).
    pub target_property: &'static str,
}

/// Every TLS-only policy the native rules require.
pub const TLS_ONLY_POLICIES: &[TlsOnlyPolicy] = &[
    TlsOnlyPolicy {
        rule: S3_BUCKET_TLS_POLICY,
        resource_type: "AWS::S3::Bucket",
        policy_type: "AWS::S3::BucketPolicy",
        target_property: "Bucket",
    },
    TlsOnlyPolicy {
        rule: SQS_QUEUE_TLS_POLICY,
        resource_type: "AWS::SQS::Queue",
        policy_type: "AWS::SQS::QueuePolicy",
        target_property: "Queues",
    },
];
/// A CLOUDFRONT-scope web ACL in a template without a `Rules` assertion on the region.
pub const CLOUDFRONT_WAF_REGION_RULE: &str = "CLOUDFRONT_WAF_REGION_ASSERTED";
/// A distribution whose aliases come from a list parameter that no `Rules` assertion keeps
/// from being empty.
pub const CLOUDFRONT_ALIASES_RULE: &str = "CLOUDFRONT_ALIASES_ASSERTED";
/// A resource with a fixed physical name that sets other create-only properties.
pub const CUSTOM_NAME_REPLACEMENT: &str = "CUSTOM_NAME_REPLACEMENT";
/// A suppression without a usable reason or for an unknown rule.
pub const SUPPRESSION_INVALID: &str = "SUPPRESSION_INVALID";
/// A suppression of a rule that cannot be suppressed.
pub const SUPPRESSION_NOT_ALLOWED: &str = "SUPPRESSION_NOT_ALLOWED";

/// The native rules' catalog entries.
pub fn rules() -> Vec<RuleInfo> {
    vec![
        RuleInfo {
            id: S3_BUCKET_TLS_POLICY.to_owned(),
            source: "native".to_owned(),
            severity: Severity::Error,
            suppressible: true,
            message: "The bucket has no bucket policy refusing requests made without TLS.".to_owned(),
            fix: "Add an AWS::S3::BucketPolicy for the bucket with a Deny of s3:* when aws:SecureTransport is false."
                .to_owned(),
        },
        RuleInfo {
            id: SQS_QUEUE_TLS_POLICY.to_owned(),
            source: "native".to_owned(),
            severity: Severity::Error,
            suppressible: true,
            message: "The queue has no queue policy refusing requests made without TLS (cdk-nag SQS4).".to_owned(),
            fix: "Add an AWS::SQS::QueuePolicy for the queue with a Deny of sqs:* when aws:SecureTransport is false."
                .to_owned(),
        },
        RuleInfo {
            id: CLOUDFRONT_WAF_REGION_RULE.to_owned(),
            source: "native".to_owned(),
            severity: Severity::Error,
            suppressible: true,
            message: "A CLOUDFRONT-scope web ACL exists only in us-east-1, and nothing in the template says so: deployed elsewhere it fails halfway.".to_owned(),
            fix: "Add a template Rules assertion Fn::Equals [Ref AWS::Region, us-east-1] (the Cdn construct does).".to_owned(),
        },
        RuleInfo {
            id: CLOUDFRONT_ALIASES_RULE.to_owned(),
            source: "native".to_owned(),
            severity: Severity::Error,
            suppressible: true,
            message: "The distribution's aliases come from a list parameter that may be empty: with a certificate it resolves to [\"\"], which CloudFront refuses halfway through the deploy.".to_owned(),
            fix: "Add a template Rules assertion Fn::Not [Fn::Contains [Ref <Aliases>, \"\"]] (the Cdn construct does, when a certificate is set).".to_owned(),
        },
        RuleInfo {
            id: CUSTOM_NAME_REPLACEMENT.to_owned(),
            source: "native".to_owned(),
            severity: Severity::Error,
            suppressible: true,
            message: "The resource has a fixed physical name and sets create-only properties (per its provider schema): changing one of them needs a replacement, which CloudFormation refuses for a custom-named resource.".to_owned(),
            fix: "Drop the name property and let CloudFormation name the resource; where the name must stay, suppress this rule saying why (`stacks diff` and `stacks deploy` stop before a change set that replaces it).".to_owned(),
        },
        RuleInfo {
            id: SUPPRESSION_INVALID.to_owned(),
            source: "native".to_owned(),
            severity: Severity::Error,
            suppressible: false,
            message: "A suppression names an unknown rule or gives a reason shorter than 10 characters.".to_owned(),
            fix: "Name an existing rule id and say why the rule does not apply, in 10 characters or more.".to_owned(),
        },
        RuleInfo {
            id: SUPPRESSION_NOT_ALLOWED.to_owned(),
            source: "native".to_owned(),
            severity: Severity::Error,
            suppressible: false,
            message: "A suppression targets a rule that cannot be suppressed (encryption, 0.0.0.0/0, wildcard invoke...)."
                .to_owned(),
            fix: "Remove the suppression and fix the resource.".to_owned(),
        },
    ]
}

/// What the native rules find in one resolved variant: (rule, resource, path).
pub fn hits(template: &Json) -> Vec<(String, String, String)> {
    let mut hits = Vec::new();
    let mut push = |rule: &str, resources: Vec<String>| {
        hits.extend(
            resources
                .into_iter()
                .map(|r| (rule.to_owned(), r, String::new())),
        );
    };
    push(
        CLOUDFRONT_WAF_REGION_RULE,
        cloudfront_web_acls_without_region_rule(template),
    );
    push(
        CLOUDFRONT_ALIASES_RULE,
        distributions_with_unasserted_aliases(template),
    );
    for policy in TLS_ONLY_POLICIES {
        push(policy.rule, without_tls_only_policy(template, policy));
    }
    for (resource, property) in custom_names_with_create_only_inputs(template) {
        hits.push((
            CUSTOM_NAME_REPLACEMENT.to_owned(),
            resource,
            format!("Properties/{property}"),
        ));
    }
    hits
}

/// Resources of a template that set a name property and another create-only property
/// (from the provider schemas the `cfn` crate is generated from): (logical id, the first
/// such property).
pub fn custom_names_with_create_only_inputs(template: &Json) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (id, resource) in template["Resources"].as_object().into_iter().flatten() {
        let Some(kind) = resource["Type"].as_str() else {
            continue;
        };
        let (Some(names), Some(create_only)) = (
            cfn::aws::name_properties(kind),
            cfn::aws::create_only_properties(kind),
        ) else {
            continue;
        };
        let properties = &resource["Properties"];
        let is_set = |path: &str| {
            path.split('/')
                .try_fold(properties, |v, key| v.get(key))
                .is_some()
        };
        if !names.iter().any(|n| is_set(n)) {
            continue;
        }
        if let Some(other) = create_only.iter().find(|p| !names.contains(p) && is_set(p)) {
            out.push((id.clone(), (*other).to_owned()));
        }
    }
    out
}

/// Resources (logical ids) of `policy.resource_type` in a resolved template that no
/// TLS-only policy of `policy.policy_type` covers.
pub fn without_tls_only_policy(template: &Json, policy: &TlsOnlyPolicy) -> Vec<String> {
    let Some(resources) = template["Resources"].as_object() else {
        return Vec::new();
    };
    let covered: BTreeSet<String> = resources
        .values()
        .filter(|r| r["Type"] == policy.policy_type)
        .filter(|r| {
            r["Properties"]["PolicyDocument"]["Statement"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| {
                    s["Effect"] == "Deny"
                        && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
                })
        })
        .flat_map(|r| {
            let target = &r["Properties"][policy.target_property];
            match target.as_array() {
                Some(list) => list.iter().filter_map(Json::as_str).collect::<Vec<_>>(),
                None => target.as_str().into_iter().collect(),
            }
        })
        .map(|id| id.trim_start_matches("${").trim_end_matches('}').to_owned())
        .collect();
    resources
        .iter()
        .filter(|(_, r)| r["Type"] == policy.resource_type)
        .filter(|(id, _)| !covered.contains(*id))
        .map(|(id, _)| id.clone())
        .collect()
}

/// CLOUDFRONT-scope web ACLs (logical ids) of a template whose `Rules` do not assert that
/// the region is us-east-1.
pub fn cloudfront_web_acls_without_region_rule(template: &Json) -> Vec<String> {
    let asserts_us_east_1 = template["Rules"]
        .as_object()
        .into_iter()
        .flat_map(|rules| rules.values())
        .flat_map(|rule| rule["Assertions"].as_array().into_iter().flatten())
        .any(|assertion| {
            let Some([a, b]) = assertion["Assert"]["Fn::Equals"]
                .as_array()
                .map(Vec::as_slice)
            else {
                return false;
            };
            let region = |v: &Json| v["Ref"] == "AWS::Region" || v == "${AWS::Region}";
            (region(a) && b == "us-east-1") || (region(b) && a == "us-east-1")
        });
    if asserts_us_east_1 {
        return Vec::new();
    }
    template["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, r)| {
            r["Type"] == "AWS::WAFv2::WebACL" && r["Properties"]["Scope"] == "CLOUDFRONT"
        })
        .map(|(id, _)| id.clone())
        .collect()
}

/// Distributions (logical ids) of a resolved template whose `Aliases` is a parameter that
/// no `Rules` assertion keeps from holding the empty alias.
pub fn distributions_with_unasserted_aliases(template: &Json) -> Vec<String> {
    let asserted: BTreeSet<String> = template["Rules"]
        .as_object()
        .into_iter()
        .flat_map(|rules| rules.values())
        .flat_map(|rule| rule["Assertions"].as_array().into_iter().flatten())
        .filter_map(|assertion| {
            let contains = &assertion["Assert"]["Fn::Not"][0]["Fn::Contains"];
            (contains[1] == "")
                .then(|| contains[0]["Ref"].as_str())
                .flatten()
                .map(str::to_owned)
        })
        .collect();
    template["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, r)| r["Type"] == "AWS::CloudFront::Distribution")
        .filter(|(_, r)| {
            let aliases = &r["Properties"]["DistributionConfig"]["Aliases"];
            let parameter = aliases
                .as_str()
                .and_then(|a| a.strip_prefix("${"))
                .and_then(|a| a.strip_suffix('}'))
                .filter(|p| template["Parameters"].get(*p).is_some());
            parameter.is_some_and(|p| !asserted.contains(p))
        })
        .map(|(id, _)| id.clone())
        .collect()
}
