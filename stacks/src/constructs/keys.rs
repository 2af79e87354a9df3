//! `EncryptionKey`: the stage's customer managed KMS key.
//!
//! One key, rotated yearly, encrypts what supports a customer managed key: the Redis
//! replication group and its AUTH-token secret, log groups, the alarm topic and the
//! warmer's dead-letter queue. Its policy lets the account administer and use it through
//! IAM, CloudWatch Logs encrypt this account's log groups, and CloudWatch publish alarms
//! to the encrypted topic.

use cfn::aws::kms::{Alias, Key};
use cfn::{Expr, Handle, Policy, ResourceOptions, Template, TemplateError};
use serde_json::json;

use crate::stage::Stage;

/// Actions the account root needs to administer and use the key through IAM policies.
pub const ACCOUNT_KEY_ACTIONS: &[&str] = &[
    "kms:CancelKeyDeletion",
    "kms:Create*",
    "kms:Decrypt",
    "kms:Delete*",
    "kms:Describe*",
    "kms:Disable*",
    "kms:Enable*",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:Get*",
    "kms:List*",
    "kms:Put*",
    "kms:ReEncrypt*",
    "kms:Revoke*",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:Update*",
];

/// The key policy statement for the account root.
pub fn account_statement() -> serde_json::Value {
    json!({
        "Sid": "AccountAdministersAndUsesKeyThroughIam",
        "Effect": "Allow",
        "Principal": {"AWS": Expr::sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
        "Action": ACCOUNT_KEY_ACTIONS,
        "Resource": "*"
    })
}

/// The key policy statement letting CloudWatch Logs encrypt this account's log groups.
pub fn logs_statement() -> serde_json::Value {
    json!({
        "Sid": "CloudWatchLogsEncryptsLogGroups",
        "Effect": "Allow",
        "Principal": {"Service": Expr::sub("logs.${AWS::Region}.amazonaws.com")},
        "Action": ["kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
        "Resource": "*",
        "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
            Expr::sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*")}}
    })
}

/// The stage key.
#[derive(Clone, Debug, Default)]
pub struct EncryptionKey;

impl EncryptionKey {
    /// Adds the key, its alias and the export of its ARN to `t`.
    pub fn build(&self, stage: &Stage<'_>, t: &mut Template) -> Result<Handle<Key>, TemplateError> {
        let key = t.add_with(
            "StageKey",
            Key::new()
                .description(format!("roadcall-perf {}: caches, secrets, logs, alarms", stage.name()))
                .enable_key_rotation(true)
                .pending_window_in_days(30)
                .key_policy(json!({
                    "Version": "2012-10-17",
                    "Statement": [
                        account_statement(),
                        logs_statement(),
                        {
                            "Sid": "CloudWatchPublishesAlarmsToEncryptedTopic",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            "Resource": "*",
                            "Condition": {"StringEquals": {"aws:SourceAccount": Expr::ref_("AWS::AccountId")}}
                        }
                    ]
                })),
            // Data encrypted with the key outlives a deleted stack (snapshots, backups).
            ResourceOptions::default().retain_with(Policy::Retain),
        )?;
        t.add(
            "StageKeyAlias",
            Alias::new(format!("alias/{}", stage.resource_name("key")), key.ref_()),
        )?;
        stage.export(
            t,
            "StageKeyArn",
            "KMS key of the stage",
            key.att_arn(),
            "keys",
            "key-arn",
        )?;
        Ok(key)
    }
}
