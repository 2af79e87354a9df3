//! Intrinsic functions, pseudo parameters, dynamic references and property values.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};

/// Any JSON value: used where a CloudFormation property is free-form (policy documents,
/// tag maps) and for the arguments of intrinsic functions.
pub type Json = serde_json::Value;

/// A CloudFormation intrinsic function, condition function or reference.
///
/// Each variant renders as the JSON form CloudFormation documents, e.g.
/// `Expr::get_att("Redis", "PrimaryEndPoint.Address")` renders as
/// `{"Fn::GetAtt": ["Redis", "PrimaryEndPoint.Address"]}`.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `{"Ref": name}`: a parameter, a resource's primary identifier or a pseudo parameter.
    Ref(String),
    /// `{"Fn::GetAtt": [resource, attribute]}`.
    GetAtt {
        /// Logical id of the resource.
        resource: String,
        /// Attribute name, dotted for nested attributes (`PrimaryEndPoint.Address`).
        attribute: String,
    },
    /// `{"Fn::Sub": template}` or `{"Fn::Sub": [template, variables]}`.
    Sub {
        /// The string with `${Name}` placeholders.
        template: String,
        /// Extra variables; empty means the short form.
        variables: BTreeMap<String, Json>,
    },
    /// `{"Fn::Join": [delimiter, values]}`.
    Join {
        /// Separator placed between the values.
        delimiter: String,
        /// The values, or one expression that yields a list.
        values: Json,
    },
    /// `{"Fn::Select": [index, list]}`.
    Select {
        /// Zero-based index.
        index: u32,
        /// The list, usually another expression.
        list: Json,
    },
    /// `{"Fn::Split": [delimiter, source]}`.
    Split {
        /// Separator to split on.
        delimiter: String,
        /// The string to split, usually another expression.
        source: Json,
    },
    /// `{"Fn::If": [condition, then, otherwise]}`.
    If {
        /// Name of a template condition.
        condition: String,
        /// Value when the condition is true.
        then: Json,
        /// Value when the condition is false (often `AWS::NoValue`).
        otherwise: Json,
    },
    /// `{"Fn::ImportValue": name}`: an export of another stack.
    ImportValue(Json),
    /// `{"Fn::GetAZs": region}`.
    GetAzs(Json),
    /// `{"Fn::Base64": value}`.
    Base64(Json),
    /// `{"Fn::Equals": [a, b]}` (condition function).
    Equals(Json, Json),
    /// `{"Fn::Not": [condition]}` (condition function).
    Not(Json),
    /// `{"Fn::And": [...]}` (condition function, 2 to 10 operands).
    And(Vec<Json>),
    /// `{"Fn::Or": [...]}` (condition function, 2 to 10 operands).
    Or(Vec<Json>),
    /// `{"Condition": name}`: refers to another condition inside a condition.
    Condition(String),
}

impl Expr {
    /// `Ref` to a parameter or resource by logical id.
    pub fn ref_(name: impl Into<String>) -> Self {
        Expr::Ref(name.into())
    }

    /// `Fn::GetAtt` on a resource attribute.
    pub fn get_att(resource: impl Into<String>, attribute: impl Into<String>) -> Self {
        Expr::GetAtt {
            resource: resource.into(),
            attribute: attribute.into(),
        }
    }

    /// `Fn::Sub` with only template parameters, resources and pseudo parameters in scope.
    pub fn sub(template: impl Into<String>) -> Self {
        Expr::Sub {
            template: template.into(),
            variables: BTreeMap::new(),
        }
    }

    /// `Fn::Sub` with extra variables.
    pub fn sub_with<K, V>(
        template: impl Into<String>,
        variables: impl IntoIterator<Item = (K, V)>,
    ) -> Self
    where
        K: Into<String>,
        V: Into<Json>,
    {
        Expr::Sub {
            template: template.into(),
            variables: variables
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// `Fn::Join` over a list of values.
    pub fn join(
        delimiter: impl Into<String>,
        values: impl IntoIterator<Item = impl Into<Json>>,
    ) -> Self {
        Expr::Join {
            delimiter: delimiter.into(),
            values: Json::Array(values.into_iter().map(Into::into).collect()),
        }
    }

    /// `Fn::Join` over an expression that yields a list (for example a `List<...>` parameter).
    pub fn join_list(delimiter: impl Into<String>, list: impl Into<Json>) -> Self {
        Expr::Join {
            delimiter: delimiter.into(),
            values: list.into(),
        }
    }

    /// `Fn::Select`.
    pub fn select(index: u32, list: impl Into<Json>) -> Self {
        Expr::Select {
            index,
            list: list.into(),
        }
    }

    /// `Fn::Split`.
    pub fn split(delimiter: impl Into<String>, source: impl Into<Json>) -> Self {
        Expr::Split {
            delimiter: delimiter.into(),
            source: source.into(),
        }
    }

    /// `Fn::If`.
    pub fn if_(
        condition: impl Into<String>,
        then: impl Into<Json>,
        otherwise: impl Into<Json>,
    ) -> Self {
        Expr::If {
            condition: condition.into(),
            then: then.into(),
            otherwise: otherwise.into(),
        }
    }

    /// `Fn::ImportValue` of an export name.
    pub fn import_value(export_name: impl Into<Json>) -> Self {
        Expr::ImportValue(export_name.into())
    }

    /// `Fn::Equals` (condition function).
    pub fn equals(a: impl Into<Json>, b: impl Into<Json>) -> Self {
        Expr::Equals(a.into(), b.into())
    }

    /// `Fn::Not` (condition function).
    pub fn not(condition: impl Into<Json>) -> Self {
        Expr::Not(condition.into())
    }

    /// `Fn::And` (condition function).
    pub fn and(conditions: impl IntoIterator<Item = impl Into<Json>>) -> Self {
        Expr::And(conditions.into_iter().map(Into::into).collect())
    }

    /// `Fn::Or` (condition function).
    pub fn or(conditions: impl IntoIterator<Item = impl Into<Json>>) -> Self {
        Expr::Or(conditions.into_iter().map(Into::into).collect())
    }

    /// `{"Condition": name}` inside another condition.
    pub fn condition(name: impl Into<String>) -> Self {
        Expr::Condition(name.into())
    }

    /// `Ref AWS::NoValue`: removes the property it stands for (used in `Fn::If`).
    pub fn no_value() -> Self {
        Pseudo::NoValue.into()
    }

    /// This expression as a JSON value.
    pub fn to_json(&self) -> Json {
        // Serializing an `Expr` into a `Value` cannot fail: every variant is made of
        // strings, integers and JSON values.
        serde_json::to_value(self).unwrap_or(Json::Null)
    }
}

impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Expr::Ref(name) => map.serialize_entry("Ref", name)?,
            Expr::GetAtt {
                resource,
                attribute,
            } => map.serialize_entry("Fn::GetAtt", &[resource, attribute])?,
            Expr::Sub {
                template,
                variables,
            } => {
                if variables.is_empty() {
                    map.serialize_entry("Fn::Sub", template)?
                } else {
                    map.serialize_entry("Fn::Sub", &(template, variables))?
                }
            }
            Expr::Join { delimiter, values } => {
                map.serialize_entry("Fn::Join", &(delimiter, values))?
            }
            Expr::Select { index, list } => map.serialize_entry("Fn::Select", &(index, list))?,
            Expr::Split { delimiter, source } => {
                map.serialize_entry("Fn::Split", &(delimiter, source))?
            }
            Expr::If {
                condition,
                then,
                otherwise,
            } => map.serialize_entry("Fn::If", &(condition, then, otherwise))?,
            Expr::ImportValue(name) => map.serialize_entry("Fn::ImportValue", name)?,
            Expr::GetAzs(region) => map.serialize_entry("Fn::GetAZs", region)?,
            Expr::Base64(value) => map.serialize_entry("Fn::Base64", value)?,
            Expr::Equals(a, b) => map.serialize_entry("Fn::Equals", &(a, b))?,
            Expr::Not(condition) => map.serialize_entry("Fn::Not", &[condition])?,
            Expr::And(conditions) => map.serialize_entry("Fn::And", conditions)?,
            Expr::Or(conditions) => map.serialize_entry("Fn::Or", conditions)?,
            Expr::Condition(name) => map.serialize_entry("Condition", name)?,
        }
        map.end()
    }
}

impl From<Expr> for Json {
    fn from(expr: Expr) -> Json {
        expr.to_json()
    }
}

/// CloudFormation pseudo parameters (`Ref AWS::Region` and friends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pseudo {
    /// `AWS::AccountId`.
    AccountId,
    /// `AWS::NotificationARNs`.
    NotificationArns,
    /// `AWS::NoValue`: removes a property when returned by `Fn::If`.
    NoValue,
    /// `AWS::Partition` (`aws`, `aws-cn`, `aws-us-gov`).
    Partition,
    /// `AWS::Region`.
    Region,
    /// `AWS::StackId`.
    StackId,
    /// `AWS::StackName`.
    StackName,
    /// `AWS::URLSuffix` (`amazonaws.com` in most partitions).
    UrlSuffix,
}

impl Pseudo {
    /// The name used after `Ref`.
    pub fn name(self) -> &'static str {
        match self {
            Pseudo::AccountId => "AWS::AccountId",
            Pseudo::NotificationArns => "AWS::NotificationARNs",
            Pseudo::NoValue => "AWS::NoValue",
            Pseudo::Partition => "AWS::Partition",
            Pseudo::Region => "AWS::Region",
            Pseudo::StackId => "AWS::StackId",
            Pseudo::StackName => "AWS::StackName",
            Pseudo::UrlSuffix => "AWS::URLSuffix",
        }
    }
}

impl From<Pseudo> for Expr {
    fn from(pseudo: Pseudo) -> Expr {
        Expr::Ref(pseudo.name().to_owned())
    }
}

impl From<Pseudo> for Json {
    fn from(pseudo: Pseudo) -> Json {
        Expr::from(pseudo).to_json()
    }
}

/// Builds `{{resolve:secretsmanager:...}}` dynamic references, which CloudFormation
/// resolves at deploy time so the secret never appears in the template or its events.
#[derive(Clone, Debug, PartialEq)]
pub struct SecretsManagerRef {
    secret_id: Expr,
    json_key: Option<String>,
}

impl SecretsManagerRef {
    /// A reference to the whole secret string of the secret `secret_id` (its ARN or
    /// name, usually `Ref` of an `AWS::SecretsManager::Secret`).
    pub fn new(secret_id: impl Into<Expr>) -> Self {
        Self {
            secret_id: secret_id.into(),
            json_key: None,
        }
    }

    /// Selects one key of a JSON secret string.
    pub fn json_key(mut self, key: impl Into<String>) -> Self {
        self.json_key = Some(key.into());
        self
    }

    /// The dynamic reference as an expression: a `Fn::Sub` so the secret id may itself be
    /// a `Ref`.
    pub fn to_expr(&self) -> Expr {
        let key = self
            .json_key
            .as_deref()
            .map(|k| format!(":{k}"))
            .unwrap_or_default();
        Expr::sub_with(
            format!("{{{{resolve:secretsmanager:${{SecretId}}:SecretString{key}}}}}"),
            [("SecretId", self.secret_id.to_json())],
        )
    }
}

impl From<SecretsManagerRef> for Expr {
    fn from(reference: SecretsManagerRef) -> Expr {
        reference.to_expr()
    }
}

/// A property value: a literal of type `T` or an expression evaluated by CloudFormation.
#[derive(Clone, Debug, PartialEq)]
pub enum Val<T> {
    /// A literal value.
    Lit(T),
    /// An intrinsic function or reference.
    Expr(Expr),
}

impl<T: Serialize> Serialize for Val<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Val::Lit(value) => value.serialize(serializer),
            Val::Expr(expr) => expr.serialize(serializer),
        }
    }
}

impl<T> From<Expr> for Val<T> {
    fn from(expr: Expr) -> Self {
        Val::Expr(expr)
    }
}

impl<T> From<Pseudo> for Val<T> {
    fn from(pseudo: Pseudo) -> Self {
        Val::Expr(pseudo.into())
    }
}

impl<T> From<SecretsManagerRef> for Val<T> {
    fn from(reference: SecretsManagerRef) -> Self {
        Val::Expr(reference.to_expr())
    }
}

impl From<&str> for Val<String> {
    fn from(value: &str) -> Self {
        Val::Lit(value.to_owned())
    }
}

impl From<String> for Val<String> {
    fn from(value: String) -> Self {
        Val::Lit(value)
    }
}

impl From<&String> for Val<String> {
    fn from(value: &String) -> Self {
        Val::Lit(value.clone())
    }
}

impl From<bool> for Val<bool> {
    fn from(value: bool) -> Self {
        Val::Lit(value)
    }
}

impl From<i64> for Val<i64> {
    fn from(value: i64) -> Self {
        Val::Lit(value)
    }
}

impl From<i32> for Val<i64> {
    fn from(value: i32) -> Self {
        Val::Lit(i64::from(value))
    }
}

impl From<u32> for Val<i64> {
    fn from(value: u32) -> Self {
        Val::Lit(i64::from(value))
    }
}

impl From<u16> for Val<i64> {
    fn from(value: u16) -> Self {
        Val::Lit(i64::from(value))
    }
}

impl From<f64> for Val<f64> {
    fn from(value: f64) -> Self {
        Val::Lit(value)
    }
}

impl<T> From<Vec<T>> for Val<Vec<T>> {
    fn from(values: Vec<T>) -> Self {
        Val::Lit(values)
    }
}

impl From<Vec<&str>> for Val<Vec<Val<String>>> {
    fn from(values: Vec<&str>) -> Self {
        Val::Lit(values.into_iter().map(Val::from).collect())
    }
}

impl From<Vec<String>> for Val<Vec<Val<String>>> {
    fn from(values: Vec<String>) -> Self {
        Val::Lit(values.into_iter().map(Val::from).collect())
    }
}

impl From<Vec<Expr>> for Val<Vec<Val<String>>> {
    fn from(values: Vec<Expr>) -> Self {
        Val::Lit(values.into_iter().map(Val::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn intrinsics_render_in_their_documented_json_form() {
        assert_eq!(Expr::ref_("Vpc").to_json(), json!({"Ref": "Vpc"}));
        assert_eq!(
            Expr::get_att("Redis", "PrimaryEndPoint.Address").to_json(),
            json!({"Fn::GetAtt": ["Redis", "PrimaryEndPoint.Address"]})
        );
        assert_eq!(
            Expr::sub("arn:${AWS::Partition}:x").to_json(),
            json!({"Fn::Sub": "arn:${AWS::Partition}:x"})
        );
        assert_eq!(
            Expr::sub_with("${A}-b", [("A", json!("a"))]).to_json(),
            json!({"Fn::Sub": ["${A}-b", {"A": "a"}]})
        );
        assert_eq!(
            Expr::join(",", [Expr::ref_("A"), Expr::ref_("B")]).to_json(),
            json!({"Fn::Join": [",", [{"Ref": "A"}, {"Ref": "B"}]]})
        );
        assert_eq!(
            Expr::select(1, Expr::split(",", Expr::import_value("x"))).to_json(),
            json!({"Fn::Select": [1, {"Fn::Split": [",", {"Fn::ImportValue": "x"}]}]})
        );
        assert_eq!(
            Expr::if_("HasApi", json!("a"), Expr::no_value()).to_json(),
            json!({"Fn::If": ["HasApi", "a", {"Ref": "AWS::NoValue"}]})
        );
        assert_eq!(
            Expr::not(Expr::equals(Expr::ref_("P"), "")).to_json(),
            json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "P"}, ""]}]})
        );
        assert_eq!(
            Expr::and([Expr::condition("A"), Expr::condition("B")]).to_json(),
            json!({"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]})
        );
        assert_eq!(
            Expr::from(Pseudo::UrlSuffix).to_json(),
            json!({"Ref": "AWS::URLSuffix"})
        );
    }

    #[test]
    fn secrets_manager_reference_resolves_through_sub() {
        let reference = SecretsManagerRef::new(Expr::ref_("Token")).json_key("password");
        assert_eq!(
            reference.to_expr().to_json(),
            json!({"Fn::Sub": [
                "{{resolve:secretsmanager:${SecretId}:SecretString:password}}",
                {"SecretId": {"Ref": "Token"}}
            ]})
        );
        let whole = SecretsManagerRef::new(Expr::ref_("Token"));
        assert_eq!(
            whole.to_expr().to_json(),
            json!({"Fn::Sub": [
                "{{resolve:secretsmanager:${SecretId}:SecretString}}",
                {"SecretId": {"Ref": "Token"}}
            ]})
        );
    }

    #[test]
    fn values_are_either_literals_or_expressions() {
        let literal: Val<String> = "x".into();
        let expr: Val<i64> = Expr::ref_("Port").into();
        assert_eq!(serde_json::to_value(&literal).unwrap(), json!("x"));
        assert_eq!(serde_json::to_value(&expr).unwrap(), json!({"Ref": "Port"}));
    }
}
