//! IAM policy documents as JSON, built from statements that name their resources.

use cfn::{Json, Policy};
use serde_json::json;

use crate::stage::Stage;

/// The stage whose log groups outlive their stack.
pub const LOGS_RETAINED_STAGE: &str = "prod";

/// `DeletionPolicy` and `UpdateReplacePolicy` of a log group: prod's logs are evidence
/// after the stack is gone (Retain); other stages' go with it (Delete).
pub fn log_group_policy(stage: &Stage<'_>) -> Policy {
    if stage.name() == LOGS_RETAINED_STAGE {
        Policy::Retain
    } else {
        Policy::Delete
    }
}

/// An `Allow` statement for `actions` on `resources`.
pub fn allow(actions: &[&str], resources: Vec<Json>) -> Json {
    json!({"Effect": "Allow", "Action": actions, "Resource": resources})
}

/// A policy document (version 2012-10-17) holding `statements`.
pub fn document(statements: Vec<Json>) -> Json {
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// A trust policy letting `service` (e.g. `lambda.amazonaws.com`) assume a role.
pub fn trust_service(service: &str) -> Json {
    document(vec![json!({
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole"
    })])
}

/// A statement denying every request of `service` (`s3`, `sqs`) to `resources` that is
/// not made over TLS.
pub fn deny_insecure_transport(service: &str, resources: Vec<Json>) -> Json {
    json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": format!("{service}:*"),
        "Resource": resources,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })
}
