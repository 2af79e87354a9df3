//! The deployed template against the synthesized one, resource by resource.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

pub use crate::deploy::changeset::BlockedReplacement;
use crate::deploy::changeset::fixed_names;

/// How one entry (resource, parameter, output, condition) differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "lowercase")]
pub enum Change {
    /// Only in the synthesized template.
    Added,
    /// Only in the deployed template.
    Removed,
    /// In both, different: the JSON paths that changed (e.g. `Properties.MemorySize`).
    Modified {
        /// Changed paths, sorted.
        paths: Vec<String>,
    },
}

/// One differing entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EntryDiff {
    /// Logical id or name.
    pub id: String,
    /// Resource type (resources only; the synthesized one when both exist).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// What changed.
    #[serde(flatten)]
    pub change: Change,
}

/// A deployed parameter value that differs from what a deploy would use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ValueDiff {
    /// Parameter name.
    pub name: String,
    /// Deployed value (`None`: not passed before).
    pub deployed: Option<String>,
    /// Value a deploy would pass (`None`: no longer declared).
    pub synthesized: Option<String>,
}

/// The differences of one stack.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StackDiff {
    /// Stack name.
    pub stack: String,
    /// Whether the stack exists.
    pub deployed: bool,
    /// Resources.
    pub resources: Vec<EntryDiff>,
    /// Parameter declarations.
    pub parameters: Vec<EntryDiff>,
    /// Parameter values.
    pub parameter_values: Vec<ValueDiff>,
    /// Outputs.
    pub outputs: Vec<EntryDiff>,
    /// Conditions.
    pub conditions: Vec<EntryDiff>,
    /// Other top-level sections (Description, Metadata, Mappings, ...) that differ.
    pub other_sections: Vec<String>,
    /// Replacements CloudFormation would refuse: a create-only property (per the provider
    /// schemas) of a resource with a fixed physical name changes, in the template or
    /// through a parameter value. `stacks deploy` stops before executing such a change set.
    pub blocked_replacements: Vec<BlockedReplacement>,
}

impl StackDiff {
    /// True when nothing differs.
    pub fn is_empty(&self) -> bool {
        self.deployed
            && self.resources.is_empty()
            && self.parameters.is_empty()
            && self.parameter_values.is_empty()
            && self.outputs.is_empty()
            && self.conditions.is_empty()
            && self.other_sections.is_empty()
    }
}

const SECTIONS: [&str; 4] = ["Resources", "Parameters", "Outputs", "Conditions"];

/// Compares `deployed` (`None`: the stack does not exist) with `synthesized`, and the
/// deployed parameter values with the ones a deploy would pass.
pub fn diff_stack(
    stack: &str,
    deployed: Option<&Value>,
    synthesized: &Value,
    deployed_values: &BTreeMap<String, String>,
    synthesized_values: &BTreeMap<String, String>,
) -> StackDiff {
    let empty = Value::Object(Default::default());
    let old = deployed.unwrap_or(&empty);
    let mut diff = StackDiff {
        stack: stack.to_owned(),
        deployed: deployed.is_some(),
        resources: diff_section(old, synthesized, "Resources", true),
        parameters: diff_section(old, synthesized, "Parameters", false),
        outputs: diff_section(old, synthesized, "Outputs", false),
        conditions: diff_section(old, synthesized, "Conditions", false),
        ..StackDiff::default()
    };
    if deployed.is_some() {
        let mut names: Vec<&String> = deployed_values
            .keys()
            .chain(synthesized_values.keys())
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            let before = deployed_values.get(name);
            let after = synthesized_values.get(name);
            if before != after {
                diff.parameter_values.push(ValueDiff {
                    name: name.clone(),
                    deployed: before.cloned(),
                    synthesized: after.cloned(),
                });
            }
        }
        diff.blocked_replacements =
            template_replacements(old, synthesized, &diff.resources, &diff.parameter_values);
        let mut others: Vec<&String> = object_keys(old).chain(object_keys(synthesized)).collect();
        others.sort();
        others.dedup();
        for section in others {
            if !SECTIONS.contains(&section.as_str()) && old.get(section) != synthesized.get(section)
            {
                diff.other_sections.push(section.clone());
            }
        }
    }
    diff
}

/// The named resources a deploy would have to replace: a changed create-only property
/// in the template, or a changed parameter value that feeds one.
fn template_replacements(
    deployed: &Value,
    synthesized: &Value,
    resources: &[EntryDiff],
    parameter_values: &[ValueDiff],
) -> Vec<BlockedReplacement> {
    let mut out = Vec::new();
    for (id, resource) in object_map(synthesized, "Resources") {
        let names = fixed_names(synthesized, id);
        let kind = resource["Type"].as_str().unwrap_or_default();
        let Some(create_only) = cfn::aws::create_only_properties(kind) else {
            continue;
        };
        if names.is_empty() || deployed["Resources"].get(id).is_none() {
            continue;
        }
        let mut properties: Vec<String> = Vec::new();
        if let Some(Change::Modified { paths }) =
            resources.iter().find(|e| e.id == *id).map(|e| &e.change)
        {
            for path in paths {
                let Some(rest) = path.strip_prefix("Properties.") else {
                    continue;
                };
                let top = rest.split(['.', '[']).next().unwrap_or(rest);
                if create_only.iter().any(|p| p.split('/').next() == Some(top))
                    && !properties.iter().any(|p| p == top)
                {
                    properties.push(top.to_owned());
                }
            }
        }
        for changed in parameter_values {
            for property in create_only {
                let top = property.split('/').next().unwrap_or(property);
                if let Some(value) = resource["Properties"].get(top)
                    && mentions_parameter(value, &changed.name)
                    && !properties.iter().any(|p| p == top)
                {
                    properties.push(format!("{top} (parameter {})", changed.name));
                }
            }
        }
        if !properties.is_empty() {
            out.push(BlockedReplacement {
                logical_id: id.clone(),
                resource_type: kind.to_owned(),
                names,
                properties,
                certain: true,
            });
        }
    }
    out
}

fn object_map<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = (&'a String, &'a Value)> {
    value
        .get(key)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}

/// Whether `value` uses parameter `name`: `{"Ref": name}` or `${name}` in a `Fn::Sub`.
fn mentions_parameter(value: &Value, name: &str) -> bool {
    match value {
        Value::Object(map) => {
            if map.get("Ref").and_then(Value::as_str) == Some(name) {
                return true;
            }
            if let Some(sub) = map.get("Fn::Sub") {
                let text = sub
                    .as_str()
                    .or_else(|| sub.get(0).and_then(Value::as_str))
                    .unwrap_or_default();
                if text.contains(&format!("${{{name}}}")) {
                    return true;
                }
            }
            map.values().any(|v| mentions_parameter(v, name))
        }
        Value::Array(items) => items.iter().any(|v| mentions_parameter(v, name)),
        _ => false,
    }
}

fn object_keys(value: &Value) -> impl Iterator<Item = &String> {
    value.as_object().into_iter().flat_map(|o| o.keys())
}

fn diff_section(old: &Value, new: &Value, section: &str, typed: bool) -> Vec<EntryDiff> {
    let empty = serde_json::Map::new();
    let old = old
        .get(section)
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let new = new
        .get(section)
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let resource_type = |entry: &Value| {
        typed
            .then(|| entry.get("Type").and_then(Value::as_str).map(str::to_owned))
            .flatten()
    };
    let mut ids: Vec<&String> = old.keys().chain(new.keys()).collect();
    ids.sort();
    ids.dedup();
    let mut entries = Vec::new();
    for id in ids {
        let change = match (old.get(id), new.get(id)) {
            (None, Some(entry)) => Some((Change::Added, entry)),
            (Some(entry), None) => Some((Change::Removed, entry)),
            (Some(before), Some(after)) => {
                let mut paths = Vec::new();
                changed_paths(before, after, "", &mut paths);
                (!paths.is_empty()).then_some((Change::Modified { paths }, after))
            }
            (None, None) => None,
        };
        if let Some((change, entry)) = change {
            entries.push(EntryDiff {
                id: id.clone(),
                resource_type: resource_type(entry),
                change,
            });
        }
    }
    entries
}

/// Collects the paths under which `before` and `after` differ. Objects are compared key
/// by key; arrays of the same length element by element (`Tags[2].Value`), otherwise as
/// a whole.
pub fn changed_paths(before: &Value, after: &Value, prefix: &str, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => changed_paths(x, y, &path, out),
                    _ => out.push(path),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                changed_paths(x, y, &format!("{prefix}[{index}]"), out);
            }
        }
        _ if before == after => {}
        _ => out.push(if prefix.is_empty() {
            "(whole value)".to_owned()
        } else {
            prefix.to_owned()
        }),
    }
}

/// The diff as text, `cdk diff` style.
pub fn render_text(diff: &StackDiff) -> String {
    let mut text = String::new();
    if !diff.deployed {
        let _ = writeln!(
            text,
            "Stack {} (not deployed: everything is added)",
            diff.stack
        );
    } else if diff.is_empty() {
        let _ = writeln!(text, "Stack {}: no differences", diff.stack);
        return text;
    } else {
        let _ = writeln!(text, "Stack {}", diff.stack);
    }
    for blocked in &diff.blocked_replacements {
        let _ = writeln!(
            text,
            "[!] {blocked}: CloudFormation refuses this; `stacks deploy` stops before executing it"
        );
    }
    for (title, entries) in [
        ("Parameters", &diff.parameters),
        ("Conditions", &diff.conditions),
        ("Resources", &diff.resources),
        ("Outputs", &diff.outputs),
    ] {
        if entries.is_empty() {
            continue;
        }
        let _ = writeln!(text, "{title}");
        for entry in entries {
            let kind = entry
                .resource_type
                .as_deref()
                .map(|t| format!(" {t}"))
                .unwrap_or_default();
            match &entry.change {
                Change::Added => {
                    let _ = writeln!(text, "[+]{kind} {}", entry.id);
                }
                Change::Removed => {
                    let _ = writeln!(text, "[-]{kind} {}", entry.id);
                }
                Change::Modified { paths } => {
                    let _ = writeln!(text, "[~]{kind} {}", entry.id);
                    for path in paths {
                        let _ = writeln!(text, "    {path}");
                    }
                }
            }
        }
    }
    if !diff.parameter_values.is_empty() {
        let _ = writeln!(text, "Parameter values");
        for value in &diff.parameter_values {
            let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(default)".to_owned());
            let _ = writeln!(
                text,
                "[~] {}: {} -> {}",
                value.name,
                show(&value.deployed),
                show(&value.synthesized)
            );
        }
    }
    if !diff.other_sections.is_empty() {
        let _ = writeln!(
            text,
            "Other sections changed: {}",
            diff.other_sections.join(", ")
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(memory: u32, extra_output: bool) -> Value {
        let mut t = json!({
            "Description": "d",
            "Parameters": {"CodeKey": {"Type": "String", "Default": "a.zip"}},
            "Resources": {
                "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
                    "MemorySize": memory,
                    "Tags": [{"Key": "Stage", "Value": "dev"}],
                    "Code": {"S3Key": {"Ref": "CodeKey"}}
                }},
                "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 14}}
            },
            "Outputs": {"FnArn": {"Value": {"Fn::GetAtt": ["Fn", "Arn"]}}}
        });
        if extra_output {
            t["Outputs"]["LogsName"] = json!({"Value": {"Ref": "Logs"}});
        }
        t
    }

    #[test]
    fn identical_templates_have_no_differences() {
        let t = template(256, false);
        let values = BTreeMap::from([("CodeKey".to_owned(), "a.zip".to_owned())]);
        let diff = diff_stack("s", Some(&t), &t, &values, &values);
        assert!(diff.is_empty(), "{diff:?}");
        assert_eq!(render_text(&diff), "Stack s: no differences\n");
    }

    #[test]
    fn reports_added_removed_and_modified_paths() {
        let old = template(256, false);
        let mut new = template(512, true);
        new["Resources"]["Fn"]["Properties"]["Tags"][0]["Value"] = json!("prod");
        new["Resources"].as_object_mut().unwrap().remove("Logs");
        new["Resources"]["Queue"] = json!({"Type": "AWS::SQS::Queue"});
        new["Description"] = json!("changed");
        let diff = diff_stack("s", Some(&old), &new, &BTreeMap::new(), &BTreeMap::new());
        assert_eq!(
            diff.resources,
            vec![
                EntryDiff {
                    id: "Fn".into(),
                    resource_type: Some("AWS::Lambda::Function".into()),
                    change: Change::Modified {
                        paths: vec![
                            "Properties.MemorySize".into(),
                            "Properties.Tags[0].Value".into()
                        ]
                    }
                },
                EntryDiff {
                    id: "Logs".into(),
                    resource_type: Some("AWS::Logs::LogGroup".into()),
                    change: Change::Removed
                },
                EntryDiff {
                    id: "Queue".into(),
                    resource_type: Some("AWS::SQS::Queue".into()),
                    change: Change::Added
                },
            ]
        );
        assert_eq!(diff.outputs.len(), 1);
        assert_eq!(diff.outputs[0].change, Change::Added);
        assert_eq!(diff.other_sections, ["Description"]);
        let text = render_text(&diff);
        assert!(
            text.contains("[~] AWS::Lambda::Function Fn\n    Properties.MemorySize\n"),
            "{text}"
        );
        assert!(text.contains("[-] AWS::Logs::LogGroup Logs"), "{text}");
        assert!(text.contains("[+] AWS::SQS::Queue Queue"), "{text}");
    }

    #[test]
    fn a_stack_not_deployed_is_all_added() {
        let new = template(256, true);
        let diff = diff_stack("s", None, &new, &BTreeMap::new(), &BTreeMap::new());
        assert!(!diff.deployed);
        assert!(diff.resources.iter().all(|e| e.change == Change::Added));
        assert_eq!(diff.resources.len(), 2);
        assert_eq!(diff.parameters.len(), 1);
        assert!(render_text(&diff).starts_with("Stack s (not deployed: everything is added)"));
    }

    #[test]
    fn parameter_values_are_compared() {
        let t = template(256, false);
        let before = BTreeMap::from([("CodeKey".to_owned(), "a.zip".to_owned())]);
        let after = BTreeMap::from([("CodeKey".to_owned(), "b.zip".to_owned())]);
        let diff = diff_stack("s", Some(&t), &t, &before, &after);
        assert_eq!(
            diff.parameter_values,
            vec![ValueDiff {
                name: "CodeKey".into(),
                deployed: Some("a.zip".into()),
                synthesized: Some("b.zip".into())
            }]
        );
        assert!(render_text(&diff).contains("[~] CodeKey: a.zip -> b.zip"));
    }

    #[test]
    fn a_create_only_change_to_a_named_resource_is_a_blocked_replacement() {
        let group = |vpc: Value, name: bool| {
            let mut props = json!({"GroupDescription": "d", "VpcId": vpc});
            if name {
                props["GroupName"] = json!("g");
            }
            json!({
                "Parameters": {"VpcId": {"Type": "AWS::EC2::VPC::Id"}},
                "Resources": {"Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": props}}
            })
        };
        let vpc_ref = json!({"Ref": "VpcId"});
        let values = |v: &str| BTreeMap::from([("VpcId".to_owned(), v.to_owned())]);
        // A parameter value feeding VpcId changes.
        let deployed = group(vpc_ref.clone(), true);
        let diff = diff_stack(
            "s",
            Some(&deployed),
            &deployed,
            &values("vpc-1"),
            &values("vpc-2"),
        );
        assert_eq!(diff.blocked_replacements.len(), 1, "{diff:?}");
        assert_eq!(
            diff.blocked_replacements[0].properties,
            ["VpcId (parameter VpcId)"]
        );
        assert!(render_text(&diff).contains("[!] Sg (AWS::EC2::SecurityGroup) would be replaced"));
        // The template's own create-only value changes.
        let diff = diff_stack(
            "s",
            Some(&group(json!("vpc-1"), true)),
            &group(json!("vpc-2"), true),
            &BTreeMap::new(),
            &BTreeMap::new(),
        );
        assert_eq!(diff.blocked_replacements[0].properties, ["VpcId"]);
        // Without a fixed name, CloudFormation replaces the group itself.
        let unnamed = group(vpc_ref, false);
        let diff = diff_stack(
            "s",
            Some(&unnamed),
            &unnamed,
            &values("vpc-1"),
            &values("vpc-2"),
        );
        assert!(diff.blocked_replacements.is_empty());
    }

    #[test]
    fn arrays_of_different_length_change_as_a_whole() {
        let mut paths = Vec::new();
        changed_paths(&json!({"A": [1, 2]}), &json!({"A": [1]}), "", &mut paths);
        assert_eq!(paths, ["A"]);
    }
}
