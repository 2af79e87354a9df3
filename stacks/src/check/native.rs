//! Rules that need more than one resource at a time, written in Rust.

use std::collections::BTreeSet;

use cfn::Json;

use super::rules::{RuleInfo, Severity};

/// A bucket without a TLS-only policy.
pub const S3_BUCKET_TLS_POLICY: &str = "S3_BUCKET_HAS_TLS_ONLY_POLICY";
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

/// Buckets (logical ids) of a resolved template that no TLS-only bucket policy covers.
pub fn buckets_without_tls_policy(template: &Json) -> Vec<String> {
    let Some(resources) = template["Resources"].as_object() else {
        return Vec::new();
    };
    let covered: BTreeSet<String> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::S3::BucketPolicy")
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
        .filter_map(|r| r["Properties"]["Bucket"].as_str())
        .map(|b| b.trim_start_matches("${").trim_end_matches('}').to_owned())
        .collect();
    resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::S3::Bucket")
        .filter(|(id, _)| !covered.contains(*id))
        .map(|(id, _)| id.clone())
        .collect()
}
