//! Deploying one stack through a change set: create (always with an explicit type),
//! show, execute, follow.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, ChangeSetType, Parameter};

use crate::app::Stack;
use crate::deploy::error::{ErrorKind, classify, from_sdk};
use crate::deploy::events::run_operation;
use crate::deploy::outputs::{StackInfo, deployed_template, describe_stack};
use crate::deploy::{AwsContext, DeployError};

/// CloudFormation's limit for an inline template body; larger ones need S3.
pub const MAX_TEMPLATE_BODY: usize = 51_200;

/// How long CloudFormation may take to compute a change set.
const CHANGE_SET_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// What deploying one stack did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeployOutcome {
    /// The stack was created or updated; its final status and outputs.
    Deployed(StackInfo),
    /// Nothing to change.
    NoChanges,
    /// The change set was created and left for review (`--no-execute`).
    NotExecuted {
        /// The change set's name.
        change_set: String,
    },
}

/// How the stack's current state decides the change set type.
pub fn change_set_type_for(
    stack: &str,
    status: Option<&str>,
) -> Result<ChangeSetType, DeployError> {
    let busy = |hint: &str| DeployError::StackBusy {
        stack: stack.to_owned(),
        status: status.unwrap_or_default().to_owned(),
        hint: hint.to_owned(),
    };
    match status {
        // A stack left in review by an earlier unexecuted CREATE change set has never
        // been created: it takes another CREATE.
        None | Some("REVIEW_IN_PROGRESS") => Ok(ChangeSetType::Create),
        Some("ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "CREATE_FAILED") => Err(busy(&format!(
            "a stack whose first create failed can only be deleted; run `stacks destroy --stack {stack}` and deploy again"
        ))),
        Some("DELETE_FAILED") => Err(busy(&format!(
            "delete it again with `stacks destroy --stack {stack}` (check the events for what was left behind)"
        ))),
        Some("UPDATE_ROLLBACK_FAILED") => Err(busy(
            "continue the rollback (`aws cloudformation continue-update-rollback`) before deploying",
        )),
        Some(other) if other.ends_with("_IN_PROGRESS") => {
            Err(busy("another operation is running; wait for it to finish"))
        }
        Some(_) => Ok(ChangeSetType::Update),
    }
}

/// One line of a change set listing: `+ Add  AWS::Lambda::Function  WarmerFunction`.
pub fn format_change(
    action: &str,
    resource_type: &str,
    logical_id: &str,
    replacement: Option<&str>,
) -> String {
    let symbol = match action {
        "Add" => "+",
        "Remove" => "-",
        "Modify" => "~",
        "Import" => "<",
        _ => "?",
    };
    let mut line = format!("{symbol} {action:<7} {resource_type:<40} {logical_id}");
    match replacement {
        Some("True") => line.push_str("  (replacement)"),
        Some("Conditional") => line.push_str("  (may be replaced)"),
        _ => {}
    }
    line
}

/// The parameter values a deploy passes: template defaults overlaid with overrides.
pub fn effective_parameters(
    template: &serde_json::Value,
    overrides: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    if let Some(declared) = template.get("Parameters").and_then(|p| p.as_object()) {
        for (name, declaration) in declared {
            let default = declaration.get("Default").map(|d| match d {
                serde_json::Value::String(s) => s.clone(),
                // A list default is written as a JSON array in our templates.
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| i.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            });
            if let Some(value) = overrides.get(name).cloned().or(default) {
                values.insert(name.clone(), value);
            }
        }
    }
    values
}

/// Renders a stack's template as the body CloudFormation receives, and as JSON.
pub fn template_body(stack: &Stack) -> Result<(String, serde_json::Value), DeployError> {
    let render_error = |source| DeployError::Render {
        stack: stack.name.clone(),
        source,
    };
    let pretty = cfn::render(&stack.template, cfn::Format::Json).map_err(render_error)?;
    // The body goes without indentation: the services stack's pretty JSON is past the
    // inline limit, its compact form well under it. Keys stay in the rendered order.
    let parsed: serde_json::Value = serde_json::from_str(&pretty).map_err(render_error)?;
    let body = serde_json::to_string(&parsed).map_err(render_error)?;
    if body.len() > MAX_TEMPLATE_BODY {
        return Err(DeployError::TemplateTooLarge {
            stack: stack.name.clone(),
            bytes: body.len(),
            limit: MAX_TEMPLATE_BODY,
        });
    }
    let value = serde_json::from_str(&body).map_err(render_error)?;
    Ok((body, value))
}

/// One resource change of a change set, as `DescribeChangeSet` lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlannedChange {
    /// `Add`, `Modify`, `Remove`, `Import`, ...
    pub action: String,
    /// Resource type.
    pub resource_type: String,
    /// Logical id.
    pub logical_id: String,
    /// `True`, `False` or `Conditional` (Modify only).
    pub replacement: Option<String>,
    /// Properties whose change recreates the resource: the `Details` whose target is a
    /// property with `RequiresRecreation` `Always` or `Conditionally`.
    pub recreating_properties: Vec<String>,
}

impl PlannedChange {
    /// One entry of `Changes` in AWS's documented JSON shape
    /// (`{"Type": "Resource", "ResourceChange": {...}}`), as the CLI and the API print it.
    pub fn from_json(change: &serde_json::Value) -> Option<Self> {
        let rc = change.get("ResourceChange")?;
        let text = |v: &serde_json::Value, key: &str| {
            v.get(key).and_then(|x| x.as_str()).map(str::to_owned)
        };
        let recreating_properties = rc
            .get("Details")
            .and_then(|d| d.as_array())
            .into_iter()
            .flatten()
            .filter_map(|detail| {
                let target = detail.get("Target")?;
                let recreation = text(target, "RequiresRecreation")?;
                (text(target, "Attribute").as_deref() == Some("Properties")
                    && recreation != "Never")
                    .then(|| text(target, "Name"))
                    .flatten()
            })
            .collect();
        Some(Self {
            action: text(rc, "Action").unwrap_or_default(),
            resource_type: text(rc, "ResourceType").unwrap_or_default(),
            logical_id: text(rc, "LogicalResourceId").unwrap_or_default(),
            replacement: text(rc, "Replacement"),
            recreating_properties,
        })
    }

    /// The same from the SDK's type.
    fn from_sdk(rc: &aws_sdk_cloudformation::types::ResourceChange) -> Self {
        let recreating_properties = rc
            .details()
            .iter()
            .filter_map(|detail| {
                let target = detail.target()?;
                let recreation = target.requires_recreation()?.as_str();
                (target.attribute().map(|a| a.as_str()) == Some("Properties")
                    && recreation != "Never")
                    .then(|| target.name().map(str::to_owned))
                    .flatten()
            })
            .collect();
        Self {
            action: rc
                .action()
                .map(|a| a.as_str().to_owned())
                .unwrap_or_default(),
            resource_type: rc.resource_type().unwrap_or_default().to_owned(),
            logical_id: rc.logical_resource_id().unwrap_or_default().to_owned(),
            replacement: rc.replacement().map(|r| r.as_str().to_owned()),
            recreating_properties,
        }
    }

    /// The listing line ([`format_change`]).
    pub fn line(&self) -> String {
        format_change(
            &self.action,
            &self.resource_type,
            &self.logical_id,
            self.replacement.as_deref(),
        )
    }
}

/// A replacement CloudFormation would refuse: the resource keeps a fixed physical name.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BlockedReplacement {
    /// Logical id.
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// The name properties it sets (e.g. `ClusterName`).
    pub names: Vec<String>,
    /// The changed properties that need the replacement (the change set's details, or
    /// the template diff's create-only properties).
    pub properties: Vec<String>,
    /// Whether CloudFormation says it replaces for sure (`True`) or may (`Conditional`).
    pub certain: bool,
}

impl std::fmt::Display for BlockedReplacement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let properties = if self.properties.is_empty() {
            "a create-only property".to_owned()
        } else {
            self.properties.join(", ")
        };
        write!(
            f,
            "{} ({}) {} replaced: {properties} changed while {} is fixed",
            self.logical_id,
            self.resource_type,
            if self.certain { "would be" } else { "may be" },
            self.names.join(", ")
        )
    }
}

/// The name properties (per the provider schemas) that `resource` in `template` sets.
pub fn fixed_names(template: &serde_json::Value, resource: &str) -> Vec<String> {
    let entry = &template["Resources"][resource];
    let Some(names) = entry["Type"].as_str().and_then(cfn::aws::name_properties) else {
        return Vec::new();
    };
    names
        .iter()
        .filter(|n| entry["Properties"].get(**n).is_some())
        .map(|n| (*n).to_owned())
        .collect()
}

/// The changes of a change set that replace (or may replace) a resource the synthesized
/// `template` gives a fixed physical name: CloudFormation cannot create the new one
/// beside the old, so executing fails halfway.
pub fn blocked_replacements(
    changes: &[PlannedChange],
    template: &serde_json::Value,
) -> Vec<BlockedReplacement> {
    changes
        .iter()
        .filter(|c| c.action == "Modify")
        .filter(|c| matches!(c.replacement.as_deref(), Some("True" | "Conditional")))
        .filter_map(|c| {
            let names = fixed_names(template, &c.logical_id);
            (!names.is_empty()).then(|| BlockedReplacement {
                logical_id: c.logical_id.clone(),
                resource_type: c.resource_type.clone(),
                names,
                properties: c.recreating_properties.clone(),
                certain: c.replacement.as_deref() == Some("True"),
            })
        })
        .collect()
}

/// Deploys one stack: creates it if missing, updates it otherwise; "no changes" is a
/// success. `overrides` are the parameters to pass (others take their defaults).
pub async fn deploy_stack(
    ctx: &AwsContext,
    stack: &Stack,
    overrides: &BTreeMap<String, String>,
    execute: bool,
    out: &mut dyn Write,
) -> Result<DeployOutcome, DeployError> {
    let client = ctx.cloudformation(stack.part);
    let name = stack.name.as_str();
    let (body, template) = template_body(stack)?;
    let existing = describe_stack(&client, name).await?;
    let change_set_type = change_set_type_for(name, existing.as_ref().map(|s| s.status.as_str()))?;

    // CloudFormation reports "no changes" only after computing a change set; an
    // identical template and identical parameter values are known to be no change
    // without one (and some emulators never report it).
    if let Some(current) = &existing
        && change_set_type == ChangeSetType::Update
    {
        let deployed = deployed_template(&client, name).await?;
        let wanted = effective_parameters(&template, overrides);
        let current_values: BTreeMap<String, String> = current
            .parameters
            .iter()
            .filter(|(k, _)| wanted.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if deployed == template && current_values == wanted {
            return Ok(DeployOutcome::NoChanges);
        }
    }

    let change_set = format!("stacks-deploy-{}", unix_seconds());
    let parameters: Vec<Parameter> = overrides
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect();
    let created = client
        .create_change_set()
        .stack_name(name)
        .change_set_name(&change_set)
        // Stated every time: the API's default is UPDATE, but emulators differ.
        .change_set_type(change_set_type.clone())
        .template_body(body)
        .set_parameters(Some(parameters))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .description("stacks deploy")
        .send()
        .await
        .map_err(|e| change_set_error(name, from_sdk("CreateChangeSet", name, e)))?;
    let change_set_id = created.id().unwrap_or(change_set.as_str()).to_owned();
    let stack_id = created.stack_id().unwrap_or(name).to_owned();

    let (changes, status, reason) =
        wait_for_change_set(&client, &change_set_id, ctx.poll_interval).await?;
    if status == ChangeSetStatus::Failed {
        if classify("", &reason) == ErrorKind::NoChanges {
            // Best effort: an empty change set left behind only clutters the console.
            let _ = client
                .delete_change_set()
                .change_set_name(&change_set_id)
                .send()
                .await;
            return Ok(DeployOutcome::NoChanges);
        }
        return Err(DeployError::ChangeSetFailed {
            stack: name.to_owned(),
            reason,
        });
    }
    let _ = writeln!(
        out,
        "{name}: change set {change_set} ({}):",
        change_set_type.as_str().to_ascii_lowercase()
    );
    for change in &changes {
        let _ = writeln!(out, "  {}", change.line());
    }
    // Checked before `--no-execute` returns too: a reviewer should hear it first.
    let replacements = blocked_replacements(&changes, &template);
    if !replacements.is_empty() {
        return Err(DeployError::ReplacesNamedResources {
            stack: name.to_owned(),
            change_set,
            replacements,
        });
    }
    if !execute {
        return Ok(DeployOutcome::NotExecuted { change_set });
    }

    let total = template
        .get("Resources")
        .and_then(|r| r.as_object())
        .map_or(0, |r| r.len());
    let execute_change_set = async {
        client
            .execute_change_set()
            .change_set_name(&change_set_id)
            .send()
            .await
            .map(drop)
            .map_err(|e| from_sdk("ExecuteChangeSet", name, e))
    };
    run_operation(
        &client,
        name,
        &stack_id,
        total,
        ctx.poll_interval,
        out,
        execute_change_set,
    )
    .await?;
    let info = describe_stack(&client, &stack_id)
        .await?
        .ok_or_else(|| DeployError::StackNotFound(name.to_owned()))?;
    Ok(DeployOutcome::Deployed(info))
}

/// A rejected CreateChangeSet is a failed change set, with AWS's reason.
fn change_set_error(stack: &str, error: DeployError) -> DeployError {
    match error {
        DeployError::Aws { code, message, .. }
            if code == "ValidationError" || code == "InsufficientCapabilitiesException" =>
        {
            DeployError::ChangeSetFailed {
                stack: stack.to_owned(),
                reason: message,
            }
        }
        other => other,
    }
}

/// Polls the change set until it is computed; returns its listed changes, status and
/// status reason.
async fn wait_for_change_set(
    client: &Client,
    change_set_id: &str,
    poll: Duration,
) -> Result<(Vec<PlannedChange>, ChangeSetStatus, String), DeployError> {
    let started = Instant::now();
    loop {
        let mut changes = Vec::new();
        let mut next_token: Option<String> = None;
        let mut status;
        let mut reason;
        loop {
            let page = client
                .describe_change_set()
                .change_set_name(change_set_id)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|e| from_sdk("DescribeChangeSet", "", e))?;
            status = page
                .status()
                .cloned()
                .unwrap_or(ChangeSetStatus::CreatePending);
            reason = page.status_reason().unwrap_or_default().to_owned();
            for change in page.changes() {
                if let Some(rc) = change.resource_change() {
                    changes.push(PlannedChange::from_sdk(rc));
                }
            }
            match page.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => break,
            }
        }
        if matches!(
            status,
            ChangeSetStatus::CreateComplete | ChangeSetStatus::Failed
        ) {
            return Ok((changes, status, reason));
        }
        if started.elapsed() > CHANGE_SET_TIMEOUT {
            return Err(DeployError::Timeout(format!("change set {change_set_id}")));
        }
        tokio::time::sleep(poll).await;
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_follows_the_stack_state() {
        assert_eq!(
            change_set_type_for("s", None).unwrap(),
            ChangeSetType::Create
        );
        assert_eq!(
            change_set_type_for("s", Some("REVIEW_IN_PROGRESS")).unwrap(),
            ChangeSetType::Create
        );
        assert_eq!(
            change_set_type_for("s", Some("CREATE_COMPLETE")).unwrap(),
            ChangeSetType::Update
        );
        assert_eq!(
            change_set_type_for("s", Some("UPDATE_ROLLBACK_COMPLETE")).unwrap(),
            ChangeSetType::Update
        );
        let rolled_back = change_set_type_for("s", Some("ROLLBACK_COMPLETE")).unwrap_err();
        assert!(
            rolled_back.to_string().contains("stacks destroy --stack s"),
            "{rolled_back}"
        );
        assert!(matches!(
            change_set_type_for("s", Some("UPDATE_IN_PROGRESS")),
            Err(DeployError::StackBusy { .. })
        ));
    }

    #[test]
    fn formats_changes() {
        assert_eq!(
            format_change(
                "Modify",
                "AWS::Lambda::Function",
                "WarmerFunction",
                Some("False")
            ),
            "~ Modify  AWS::Lambda::Function                    WarmerFunction"
        );
        assert!(
            format_change("Modify", "AWS::Events::Rule", "R", Some("True"))
                .ends_with("R  (replacement)")
        );
        assert!(format_change("Add", "T", "X", None).starts_with("+ Add "));
    }

    /// A DescribeChangeSet `Changes` entry in AWS's documented shape.
    fn modify(
        id: &str,
        kind: &str,
        replacement: &str,
        property: &str,
        recreation: &str,
    ) -> serde_json::Value {
        serde_json::json!({
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Modify",
                "LogicalResourceId": id,
                "PhysicalResourceId": "roadcall-dev",
                "ResourceType": kind,
                "Replacement": replacement,
                "Scope": ["Properties"],
                "Details": [
                    {
                        "Target": {"Attribute": "Properties", "Name": "Description", "RequiresRecreation": "Never"},
                        "Evaluation": "Static",
                        "ChangeSource": "DirectModification"
                    },
                    {
                        "Target": {"Attribute": "Properties", "Name": property, "RequiresRecreation": recreation},
                        "Evaluation": "Static",
                        "ChangeSource": "DirectModification"
                    }
                ]
            }
        })
    }

    #[test]
    fn a_change_set_replacing_a_custom_named_resource_is_blocked_naming_the_property() {
        let template = serde_json::json!({"Resources": {
            "DaxCluster": {"Type": "AWS::DAX::Cluster", "Properties": {"ClusterName": "roadcall-dev", "NodeType": "dax.r5.large"}},
            "Unnamed": {"Type": "AWS::DAX::Cluster", "Properties": {"NodeType": "dax.r5.large"}},
            "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupName": "g", "VpcId": "vpc-1"}}
        }});
        let changes: Vec<PlannedChange> = [
            modify(
                "DaxCluster",
                "AWS::DAX::Cluster",
                "True",
                "NodeType",
                "Always",
            ),
            modify("Unnamed", "AWS::DAX::Cluster", "True", "NodeType", "Always"),
            modify(
                "Group",
                "AWS::EC2::SecurityGroup",
                "Conditional",
                "VpcId",
                "Conditionally",
            ),
            modify(
                "DaxCluster",
                "AWS::DAX::Cluster",
                "False",
                "Description",
                "Never",
            ),
        ]
        .iter()
        .map(|c| PlannedChange::from_json(c).unwrap())
        .collect();
        let blocked = blocked_replacements(&changes, &template);
        assert_eq!(blocked.len(), 2, "{blocked:?}");
        assert_eq!(blocked[0].logical_id, "DaxCluster");
        assert_eq!(blocked[0].properties, ["NodeType"]);
        assert_eq!(blocked[0].names, ["ClusterName"]);
        assert!(blocked[0].certain);
        assert_eq!(blocked[1].logical_id, "Group");
        assert!(!blocked[1].certain);
        let error = DeployError::ReplacesNamedResources {
            stack: "s".into(),
            change_set: "cs".into(),
            replacements: blocked,
        };
        let text = error.to_string();
        assert!(text.contains("DaxCluster (AWS::DAX::Cluster) would be replaced: NodeType changed while ClusterName is fixed"), "{text}");
    }

    #[test]
    fn a_replacement_of_an_unnamed_resource_or_an_in_place_update_goes_ahead() {
        let template = serde_json::json!({"Resources": {
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"MemorySize": 256}}
        }});
        let changes = [
            PlannedChange::from_json(&modify(
                "Fn",
                "AWS::Lambda::Function",
                "True",
                "FunctionName",
                "Always",
            ))
            .unwrap(),
            PlannedChange {
                action: "Add".into(),
                resource_type: "AWS::DAX::Cluster".into(),
                logical_id: "New".into(),
                ..PlannedChange::default()
            },
        ];
        assert!(blocked_replacements(&changes, &template).is_empty());
    }

    #[test]
    fn effective_parameters_take_defaults_then_overrides() {
        let template = serde_json::json!({"Parameters": {
            "A": {"Type": "String", "Default": "a"},
            "B": {"Type": "CommaDelimitedList", "Default": ["x", "y"]},
            "C": {"Type": "Number", "Default": 3},
            "D": {"Type": "String"}
        }});
        let overrides = BTreeMap::from([("A".to_owned(), "override".to_owned())]);
        let values = effective_parameters(&template, &overrides);
        assert_eq!(values["A"], "override");
        assert_eq!(values["B"], "x,y");
        assert_eq!(values["C"], "3");
        assert!(!values.contains_key("D"));
    }
}
