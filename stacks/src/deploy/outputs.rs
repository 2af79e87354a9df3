//! What is deployed: a stack's status, parameters, outputs, resources and template.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::TemplateStage;
use serde::Serialize;

use crate::deploy::DeployError;
use crate::deploy::error::{ErrorKind, classify, from_sdk};
use aws_sdk_cloudformation::error::ProvideErrorMetadata;

/// A deployed stack.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StackInfo {
    /// Stack id (ARN).
    pub id: String,
    /// Stack name.
    pub name: String,
    /// Status, e.g. `UPDATE_COMPLETE`.
    pub status: String,
    /// Why it is in that status, if CloudFormation says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// Parameter values.
    pub parameters: BTreeMap<String, String>,
    /// Outputs by key.
    pub outputs: BTreeMap<String, String>,
}

/// Describes `stack` (a name or id); `None` when it does not exist.
pub async fn describe_stack(
    client: &Client,
    stack: &str,
) -> Result<Option<StackInfo>, DeployError> {
    let response = match client.describe_stacks().stack_name(stack).send().await {
        Ok(response) => response,
        Err(error) => {
            let missing = classify(
                error.code().unwrap_or_default(),
                error.message().unwrap_or_default(),
            ) == ErrorKind::StackNotFound;
            return if missing {
                Ok(None)
            } else {
                Err(from_sdk("DescribeStacks", stack, error))
            };
        }
    };
    let Some(found) = response.stacks().first() else {
        return Ok(None);
    };
    let pairs = |items: Vec<(Option<&str>, Option<&str>)>| {
        items
            .into_iter()
            .filter_map(|(k, v)| Some((k?.to_owned(), v.unwrap_or_default().to_owned())))
            .collect::<BTreeMap<_, _>>()
    };
    Ok(Some(StackInfo {
        id: found.stack_id().unwrap_or(stack).to_owned(),
        name: found.stack_name().unwrap_or(stack).to_owned(),
        status: found
            .stack_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        status_reason: found.stack_status_reason().map(str::to_owned),
        parameters: pairs(
            found
                .parameters()
                .iter()
                .map(|p| (p.parameter_key(), p.parameter_value()))
                .collect(),
        ),
        outputs: pairs(
            found
                .outputs()
                .iter()
                .map(|o| (o.output_key(), o.output_value()))
                .collect(),
        ),
    }))
}

/// Like [`describe_stack`], but a missing stack is an error.
pub async fn require_stack(client: &Client, stack: &str) -> Result<StackInfo, DeployError> {
    describe_stack(client, stack)
        .await?
        .ok_or_else(|| DeployError::StackNotFound(stack.to_owned()))
}

/// One resource of a deployed stack.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResourceView {
    /// Logical id (empty for resources an emulator does not model).
    pub logical_id: String,
    /// Physical id.
    pub physical_id: String,
    /// Type (empty for resources an emulator does not model).
    pub resource_type: String,
    /// Status.
    pub status: String,
}

/// The resources of a deployed stack.
pub async fn stack_resources(
    client: &Client,
    stack: &str,
) -> Result<Vec<ResourceView>, DeployError> {
    let response = client
        .describe_stack_resources()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeStackResources", stack, e))?;
    Ok(response
        .stack_resources()
        .iter()
        .map(|r| ResourceView {
            logical_id: r.logical_resource_id().unwrap_or_default().to_owned(),
            physical_id: r.physical_resource_id().unwrap_or_default().to_owned(),
            resource_type: r.resource_type().unwrap_or_default().to_owned(),
            status: r
                .resource_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
        })
        .collect())
}

/// The physical id of the first resource of `resource_type`, if any (and not empty).
pub fn physical_id_of<'a>(resources: &'a [ResourceView], resource_type: &str) -> Option<&'a str> {
    resources
        .iter()
        .find(|r| r.resource_type == resource_type && !r.physical_id.is_empty())
        .map(|r| r.physical_id.as_str())
}

/// The template CloudFormation holds for `stack` (as submitted), parsed as JSON.
pub async fn deployed_template(
    client: &Client,
    stack: &str,
) -> Result<serde_json::Value, DeployError> {
    let response = client
        .get_template()
        .stack_name(stack)
        .template_stage(TemplateStage::Original)
        .send()
        .await
        .map_err(|e| from_sdk("GetTemplate", stack, e))?;
    let body = response.template_body().unwrap_or("{}");
    serde_json::from_str(body).map_err(|e| DeployError::Template {
        stack: stack.to_owned(),
        message: format!(
            "the deployed template is not JSON ({e}); was it deployed by another tool?"
        ),
    })
}

/// Outputs of several stacks as text: a heading per stack, `Key = Value` lines.
pub fn render_outputs_text(stacks: &[(String, Option<StackInfo>)]) -> String {
    let mut text = String::new();
    for (name, info) in stacks {
        match info {
            None => {
                let _ = writeln!(text, "{name}: not deployed");
            }
            Some(info) => {
                let _ = writeln!(text, "{name} ({})", info.status);
                if info.outputs.is_empty() {
                    let _ = writeln!(text, "  (no outputs)");
                }
                let width = info.outputs.keys().map(String::len).max().unwrap_or(0);
                for (key, value) in &info.outputs {
                    let _ = writeln!(text, "  {key:<width$} = {value}");
                }
            }
        }
    }
    text
}

/// Outputs of several stacks as JSON: `{stack: {key: value}}`, `null` when not deployed.
pub fn outputs_json(stacks: &[(String, Option<StackInfo>)]) -> serde_json::Value {
    serde_json::Value::Object(
        stacks
            .iter()
            .map(|(name, info)| {
                let value = match info {
                    Some(info) => serde_json::to_value(&info.outputs).unwrap_or_default(),
                    None => serde_json::Value::Null,
                };
                (name.clone(), value)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_outputs_as_text_and_json() {
        let info = StackInfo {
            name: "a".into(),
            status: "CREATE_COMPLETE".into(),
            outputs: BTreeMap::from([
                ("WarmerFunctionArn".to_owned(), "arn:fn".to_owned()),
                ("WarmerRuleName".to_owned(), "rule".to_owned()),
            ]),
            ..StackInfo::default()
        };
        let stacks = vec![("a".to_owned(), Some(info)), ("b".to_owned(), None)];
        assert_eq!(
            render_outputs_text(&stacks),
            "a (CREATE_COMPLETE)\n  WarmerFunctionArn = arn:fn\n  WarmerRuleName    = rule\nb: not deployed\n"
        );
        assert_eq!(
            outputs_json(&stacks),
            serde_json::json!({"a": {"WarmerFunctionArn": "arn:fn", "WarmerRuleName": "rule"}, "b": null})
        );
    }

    #[test]
    fn finds_physical_ids_by_type() {
        let resources = vec![
            ResourceView {
                resource_type: String::new(),
                physical_id: "x".into(),
                ..Default::default()
            },
            ResourceView {
                resource_type: "AWS::Events::Rule".into(),
                physical_id: "rule-1".into(),
                ..Default::default()
            },
        ];
        assert_eq!(
            physical_id_of(&resources, "AWS::Events::Rule"),
            Some("rule-1")
        );
        assert_eq!(physical_id_of(&resources, "AWS::DAX::Cluster"), None);
    }
}
