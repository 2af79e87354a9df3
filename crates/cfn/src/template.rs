//! The template: parameters, conditions, resources and outputs.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use serde::Serialize;

use crate::expr::{Expr, Json};

/// A resource type that can be placed in a template.
///
/// Implemented by every generated resource struct in [`crate::aws`].
pub trait Resource: Serialize {
    /// The CloudFormation type name, e.g. `AWS::ElastiCache::ReplicationGroup`.
    const TYPE: &'static str;
    /// The attributes `Fn::GetAtt` accepts for this type.
    const ATTRIBUTES: &'static [&'static str];

    /// Adds tags that are not already set. Types without a `Tags` property ignore it.
    fn add_missing_tags(&mut self, tags: &[(String, String)]) {
        let _ = tags;
    }
}

/// The data type of a template parameter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ParameterType {
    /// `String`.
    String,
    /// `Number`.
    Number,
    /// `CommaDelimitedList`.
    CommaDelimitedList,
    /// `AWS::EC2::VPC::Id`, checked by CloudFormation against the account's VPCs.
    #[serde(rename = "AWS::EC2::VPC::Id")]
    VpcId,
    /// `List<AWS::EC2::Subnet::Id>`.
    #[serde(rename = "List<AWS::EC2::Subnet::Id>")]
    SubnetIdList,
    /// `AWS::EC2::SecurityGroup::Id`.
    #[serde(rename = "AWS::EC2::SecurityGroup::Id")]
    SecurityGroupId,
    /// `AWS::SSM::Parameter::Value<String>`: the value of an SSM parameter named by the default.
    #[serde(rename = "AWS::SSM::Parameter::Value<String>")]
    SsmString,
}

/// A template parameter.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    /// The data type.
    #[serde(rename = "Type")]
    pub kind: ParameterType,
    /// What the parameter is for, shown in the console.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The value used when none is given at deploy time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// A regular expression the value must match (String parameters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    /// The only accepted values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<String>,
    /// Shown when the value breaks `AllowedPattern` or `AllowedValues`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint_description: Option<String>,
    /// Minimum length of a String parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    /// Maximum length of a String parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// Minimum of a Number parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_value: Option<i64>,
    /// Maximum of a Number parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_value: Option<i64>,
    /// Hides the value in the console and API output.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_echo: bool,
}

impl Parameter {
    /// A parameter of the given type with a description and nothing else.
    pub fn new(kind: ParameterType, description: impl Into<String>) -> Self {
        Self {
            kind,
            description: Some(description.into()),
            default: None,
            allowed_pattern: None,
            allowed_values: Vec::new(),
            constraint_description: None,
            min_length: None,
            max_length: None,
            min_value: None,
            max_value: None,
            no_echo: false,
        }
    }

    /// Sets the default value.
    pub fn default_value(mut self, value: impl Into<String>) -> Self {
        self.default = Some(value.into());
        self
    }

    /// Sets `AllowedPattern` and the message shown when a value breaks it.
    pub fn allowed_pattern(
        mut self,
        pattern: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        self.allowed_pattern = Some(pattern.into());
        self.constraint_description = Some(description.into());
        self
    }

    /// Sets `AllowedValues`.
    pub fn allowed_values(mut self, values: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.allowed_values = values.into_iter().map(Into::into).collect();
        self
    }
}

/// What CloudFormation does with a resource's physical data on delete or replacement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Policy {
    /// Delete the resource.
    Delete,
    /// Keep the resource outside the stack.
    Retain,
    /// Keep the resource unless the stack itself is being rolled back after a failed create.
    RetainExceptOnCreate,
    /// Take a final snapshot, then delete (databases, caches, volumes).
    Snapshot,
}

/// One entry of the `Resources` section.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceEntry {
    /// The resource type.
    #[serde(rename = "Type")]
    pub kind: String,
    /// The properties, already serialized from a typed resource struct.
    pub properties: Json,
    /// Logical ids this resource must be created after.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// The condition that decides whether the resource is created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// What happens to the resource when it leaves the stack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<Policy>,
    /// What happens to the old resource when an update replaces it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_replace_policy: Option<Policy>,
    /// Free-form metadata, e.g. rule suppressions for reviewers and scanners.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Json>,
}

/// An export of an output, readable by other stacks through `Fn::ImportValue`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Export {
    /// The export name, unique in the account and region.
    pub name: Json,
}

/// One entry of the `Outputs` section.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    /// What the value is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The value.
    pub value: Json,
    /// The export, when other stacks consume the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<Export>,
    /// The condition that decides whether the output exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

impl Output {
    /// An output with a description and a value.
    pub fn new(description: impl Into<String>, value: impl Into<Json>) -> Self {
        Self {
            description: Some(description.into()),
            value: value.into(),
            export: None,
            condition: None,
        }
    }

    /// Exports the value under `name`.
    pub fn export(mut self, name: impl Into<String>) -> Self {
        self.export = Some(Export {
            name: Json::String(name.into()),
        });
        self
    }

    /// Makes the output exist only when `condition` holds.
    pub fn when(mut self, condition: impl Into<String>) -> Self {
        self.condition = Some(condition.into());
        self
    }
}

/// A typed handle to a resource in a template: gives `Ref` and the attributes of its type.
#[derive(Debug)]
pub struct Handle<R> {
    logical_id: String,
    kind: PhantomData<fn() -> R>,
}

impl<R> Clone for Handle<R> {
    fn clone(&self) -> Self {
        Self {
            logical_id: self.logical_id.clone(),
            kind: PhantomData,
        }
    }
}

impl<R: Resource> Handle<R> {
    /// A handle to the resource with this logical id (for resources of another template
    /// built by the same code, or for tests).
    pub fn new(logical_id: impl Into<String>) -> Self {
        Self {
            logical_id: logical_id.into(),
            kind: PhantomData,
        }
    }

    /// The logical id.
    pub fn logical_id(&self) -> &str {
        &self.logical_id
    }

    /// `Ref` to the resource.
    pub fn ref_(&self) -> Expr {
        Expr::ref_(self.logical_id.clone())
    }

    /// `Fn::GetAtt` on one of the attributes generated for this type. Prefer the typed
    /// `att_*` methods; this exists for attributes added to the type after generation.
    pub fn get_att(&self, attribute: &str) -> Result<Expr, TemplateError> {
        if R::ATTRIBUTES.contains(&attribute) {
            Ok(Expr::get_att(self.logical_id.clone(), attribute))
        } else {
            Err(TemplateError::UnknownAttribute {
                resource_type: R::TYPE,
                attribute: attribute.to_owned(),
            })
        }
    }
}

/// Options of a resource entry besides its properties.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceOptions {
    /// Logical ids to create first.
    pub depends_on: Vec<String>,
    /// Condition name.
    pub condition: Option<String>,
    /// `DeletionPolicy`.
    pub deletion_policy: Option<Policy>,
    /// `UpdateReplacePolicy`.
    pub update_replace_policy: Option<Policy>,
    /// `Metadata`.
    pub metadata: Option<Json>,
}

impl ResourceOptions {
    /// Creates the resource only when `condition` holds.
    pub fn when(condition: impl Into<String>) -> Self {
        Self {
            condition: Some(condition.into()),
            ..Self::default()
        }
    }

    /// Sets both `DeletionPolicy` and `UpdateReplacePolicy`.
    pub fn retain_with(mut self, policy: Policy) -> Self {
        self.deletion_policy = Some(policy);
        self.update_replace_policy = Some(policy);
        self
    }

    /// Adds a dependency.
    pub fn depends_on(mut self, logical_id: impl Into<String>) -> Self {
        self.depends_on.push(logical_id.into());
        self
    }
}

/// Errors raised while building a template.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TemplateError {
    /// Two resources, parameters, conditions or outputs share a logical id.
    #[error("duplicate logical id `{0}`")]
    DuplicateLogicalId(String),
    /// A logical id that CloudFormation rejects (it must be 1-255 ASCII letters and digits).
    #[error("invalid logical id `{0}`: use 1 to 255 ASCII letters and digits")]
    InvalidLogicalId(String),
    /// A `Fn::GetAtt` attribute the resource type does not have.
    #[error("{resource_type} has no attribute `{attribute}`")]
    UnknownAttribute {
        /// The resource type.
        resource_type: &'static str,
        /// The attribute asked for.
        attribute: String,
    },
    /// A resource's properties could not be serialized.
    #[error("cannot serialize {logical_id}: {message}")]
    Serialize {
        /// The resource.
        logical_id: String,
        /// What serde said.
        message: String,
    },
    /// A reference to a parameter, resource or condition that is not in the template.
    #[error("`{from}` refers to `{to}`, which is not in the template")]
    DanglingReference {
        /// Where the reference is.
        from: String,
        /// What it names.
        to: String,
    },
}

/// The only template format version CloudFormation defines.
pub const FORMAT_VERSION: &str = "2010-09-09";

/// A CloudFormation template.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Template {
    /// `AWSTemplateFormatVersion`, always [`FORMAT_VERSION`].
    #[serde(rename = "AWSTemplateFormatVersion")]
    pub format_version: &'static str,
    /// The template description.
    #[serde(rename = "Description", skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Template-level metadata.
    #[serde(rename = "Metadata", skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, Json>,
    /// Parameters by logical id.
    #[serde(rename = "Parameters", skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, Parameter>,
    /// Conditions by name.
    #[serde(rename = "Conditions", skip_serializing_if = "BTreeMap::is_empty")]
    pub conditions: BTreeMap<String, Json>,
    /// Rules by name: assertions CloudFormation checks before it creates or updates
    /// anything (`{"Assertions": [{"Assert": ..., "AssertDescription": ...}]}`).
    #[serde(rename = "Rules", skip_serializing_if = "BTreeMap::is_empty")]
    pub rules: BTreeMap<String, Json>,
    /// Resources by logical id.
    #[serde(rename = "Resources")]
    pub resources: BTreeMap<String, ResourceEntry>,
    /// Outputs by logical id.
    #[serde(rename = "Outputs", skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, Output>,
    /// Tags added to every resource whose type has a `Tags` property.
    #[serde(skip)]
    pub tags: Vec<(String, String)>,
}

impl Default for Template {
    fn default() -> Self {
        Self {
            format_version: FORMAT_VERSION,
            description: None,
            metadata: BTreeMap::new(),
            parameters: BTreeMap::new(),
            conditions: BTreeMap::new(),
            rules: BTreeMap::new(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            tags: Vec::new(),
        }
    }
}

fn check_logical_id(id: &str) -> Result<(), TemplateError> {
    if id.is_empty() || id.len() > 255 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(TemplateError::InvalidLogicalId(id.to_owned()));
    }
    Ok(())
}

impl Template {
    /// An empty template with a description.
    pub fn new(description: impl Into<String>) -> Self {
        Self {
            description: Some(description.into()),
            ..Self::default()
        }
    }

    /// Tags every taggable resource added from now on with `key = value`.
    pub fn tag(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.tags.push((key.into(), value.into()));
    }

    /// Adds a parameter and returns a `Ref` to it.
    pub fn add_parameter(&mut self, id: &str, parameter: Parameter) -> Result<Expr, TemplateError> {
        check_logical_id(id)?;
        self.ensure_free(id)?;
        self.parameters.insert(id.to_owned(), parameter);
        Ok(Expr::ref_(id))
    }

    /// Adds a condition (an `Fn::Equals`/`Fn::And`/`Fn::Or`/`Fn::Not` expression) and
    /// returns its name for use in `Fn::If` and resource options.
    pub fn add_condition(&mut self, name: &str, condition: Expr) -> Result<String, TemplateError> {
        check_logical_id(name)?;
        if self.conditions.contains_key(name) {
            return Err(TemplateError::DuplicateLogicalId(name.to_owned()));
        }
        self.conditions.insert(name.to_owned(), condition.to_json());
        Ok(name.to_owned())
    }

    /// Adds a rule `name` whose one assertion is `assert` (a rule function such as
    /// `Fn::Equals`), with `description` as the message CloudFormation gives when it fails.
    pub fn add_rule(
        &mut self,
        name: &str,
        assert: impl Into<Json>,
        description: &str,
    ) -> Result<(), TemplateError> {
        self.insert_rule(name, None, assert.into(), description)
    }

    /// [`Template::add_rule`], checked only when `condition` (a rule function) holds.
    pub fn add_rule_when(
        &mut self,
        name: &str,
        condition: impl Into<Json>,
        assert: impl Into<Json>,
        description: &str,
    ) -> Result<(), TemplateError> {
        self.insert_rule(name, Some(condition.into()), assert.into(), description)
    }

    fn insert_rule(
        &mut self,
        name: &str,
        condition: Option<Json>,
        assert: Json,
        description: &str,
    ) -> Result<(), TemplateError> {
        check_logical_id(name)?;
        if self.rules.contains_key(name) {
            return Err(TemplateError::DuplicateLogicalId(name.to_owned()));
        }
        let mut rule = serde_json::json!({"Assertions": [{
            "Assert": assert,
            "AssertDescription": description,
        }]});
        if let Some(condition) = condition {
            rule["RuleCondition"] = condition;
        }
        self.rules.insert(name.to_owned(), rule);
        Ok(())
    }

    /// Adds a resource with default options.
    pub fn add<R: Resource>(&mut self, id: &str, resource: R) -> Result<Handle<R>, TemplateError> {
        self.add_with(id, resource, ResourceOptions::default())
    }

    /// Adds a resource with options (condition, dependencies, policies, metadata).
    pub fn add_with<R: Resource>(
        &mut self,
        id: &str,
        mut resource: R,
        options: ResourceOptions,
    ) -> Result<Handle<R>, TemplateError> {
        check_logical_id(id)?;
        self.ensure_free(id)?;
        resource.add_missing_tags(&self.tags);
        let properties = serde_json::to_value(&resource).map_err(|e| TemplateError::Serialize {
            logical_id: id.to_owned(),
            message: e.to_string(),
        })?;
        self.resources.insert(
            id.to_owned(),
            ResourceEntry {
                kind: R::TYPE.to_owned(),
                properties,
                depends_on: options.depends_on,
                condition: options.condition,
                deletion_policy: options.deletion_policy,
                update_replace_policy: options.update_replace_policy,
                metadata: options.metadata,
            },
        );
        Ok(Handle::new(id))
    }

    /// Adds an output.
    pub fn add_output(&mut self, id: &str, output: Output) -> Result<(), TemplateError> {
        check_logical_id(id)?;
        if self.outputs.contains_key(id) {
            return Err(TemplateError::DuplicateLogicalId(id.to_owned()));
        }
        self.outputs.insert(id.to_owned(), output);
        Ok(())
    }

    fn ensure_free(&self, id: &str) -> Result<(), TemplateError> {
        if self.parameters.contains_key(id) || self.resources.contains_key(id) {
            return Err(TemplateError::DuplicateLogicalId(id.to_owned()));
        }
        Ok(())
    }

    /// Checks that every `Ref`, `Fn::GetAtt`, `Fn::If`, `Condition` and `DependsOn` names
    /// something in the template (pseudo parameters and `Fn::Sub` placeholders included).
    pub fn validate_references(&self) -> Result<(), TemplateError> {
        let known = |name: &str| {
            name.starts_with("AWS::")
                || self.parameters.contains_key(name)
                || self.resources.contains_key(name)
        };
        let mut errors = Vec::new();
        for (id, entry) in &self.resources {
            collect_dangling(&entry.properties, id, &known, &self.conditions, &mut errors);
            for dep in &entry.depends_on {
                if !self.resources.contains_key(dep) {
                    errors.push((id.clone(), dep.clone()));
                }
            }
            if let Some(c) = &entry.condition
                && !self.conditions.contains_key(c)
            {
                errors.push((id.clone(), c.clone()));
            }
        }
        for (id, output) in &self.outputs {
            collect_dangling(&output.value, id, &known, &self.conditions, &mut errors);
            if let Some(c) = &output.condition
                && !self.conditions.contains_key(c)
            {
                errors.push((id.clone(), c.clone()));
            }
        }
        for (id, condition) in &self.conditions {
            collect_dangling(condition, id, &known, &self.conditions, &mut errors);
        }
        match errors.into_iter().next() {
            Some((from, to)) => Err(TemplateError::DanglingReference { from, to }),
            None => Ok(()),
        }
    }
}

fn collect_dangling(
    value: &Json,
    from: &str,
    known: &dyn Fn(&str) -> bool,
    conditions: &BTreeMap<String, Json>,
    errors: &mut Vec<(String, String)>,
) {
    match value {
        Json::Object(map) => {
            if map.len() == 1 {
                let (key, arg) = map.iter().next().expect("len is 1");
                match (key.as_str(), arg) {
                    ("Ref", Json::String(name)) if !known(name) => {
                        errors.push((from.to_owned(), name.clone()))
                    }
                    ("Fn::GetAtt", Json::Array(parts)) => {
                        if let Some(Json::String(name)) = parts.first()
                            && !known(name)
                        {
                            errors.push((from.to_owned(), name.clone()));
                        }
                    }
                    ("Fn::If", Json::Array(parts)) | ("Condition", Json::Array(parts)) => {
                        if let Some(Json::String(name)) = parts.first()
                            && !conditions.contains_key(name)
                        {
                            errors.push((from.to_owned(), name.clone()));
                        }
                    }
                    ("Condition", Json::String(name)) if !conditions.contains_key(name) => {
                        errors.push((from.to_owned(), name.clone()))
                    }
                    ("Fn::Sub", sub) => check_sub(sub, from, known, errors),
                    _ => {}
                }
            }
            for child in map.values() {
                collect_dangling(child, from, known, conditions, errors);
            }
        }
        Json::Array(items) => {
            for item in items {
                collect_dangling(item, from, known, conditions, errors);
            }
        }
        _ => {}
    }
}

fn check_sub(
    sub: &Json,
    from: &str,
    known: &dyn Fn(&str) -> bool,
    errors: &mut Vec<(String, String)>,
) {
    let (template, variables) = match sub {
        Json::String(s) => (s.as_str(), None),
        Json::Array(parts) => match (parts.first(), parts.get(1)) {
            (Some(Json::String(s)), Some(Json::Object(vars))) => (s.as_str(), Some(vars)),
            _ => return,
        },
        _ => return,
    };
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        rest = &after[end + 1..];
        // `${!Literal}` is an escaped placeholder.
        if name.starts_with('!') {
            continue;
        }
        let base = name.split('.').next().unwrap_or(name);
        let is_variable = variables.is_some_and(|v| v.contains_key(name));
        if !is_variable && !known(base) {
            errors.push((from.to_owned(), name.to_owned()));
        }
    }
}
