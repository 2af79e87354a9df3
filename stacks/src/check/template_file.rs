//! Template files given to `stacks check --template`: JSON, or YAML in either the long
//! (`Fn::GetAtt:`) or the short (`!GetAtt`) form of the intrinsic functions.

use cfn::Json;
use serde_json::{Map, json};
use serde_yaml::Value as Yaml;

/// A template file that is neither JSON nor YAML.
#[derive(Debug, thiserror::Error)]
pub enum TemplateFileError {
    /// The file starts like JSON and is not valid JSON.
    #[error("{path}: not a JSON template")]
    Json {
        /// The file.
        path: String,
        /// What the parser said.
        #[source]
        source: serde_json::Error,
    },
    /// The file is not valid YAML.
    #[error("{path}: not a YAML template")]
    Yaml {
        /// The file.
        path: String,
        /// What the parser said.
        #[source]
        source: serde_yaml::Error,
    },
}

/// Parses a template file's `text` (`path` names it in errors): JSON when it starts with
/// `{`, YAML otherwise, with short-form tags (`!Ref`, `!Sub`, ...) turned into the JSON
/// form the rules read.
pub fn parse_template(path: &str, text: &str) -> Result<Json, TemplateFileError> {
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text).map_err(|source| TemplateFileError::Json {
            path: path.to_owned(),
            source,
        });
    }
    let yaml: Yaml = serde_yaml::from_str(text).map_err(|source| TemplateFileError::Yaml {
        path: path.to_owned(),
        source,
    })?;
    Ok(to_json(yaml))
}

fn to_json(yaml: Yaml) -> Json {
    match yaml {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(b),
        Yaml::Number(n) => n
            .as_i64()
            .map(Json::from)
            .or_else(|| n.as_u64().map(Json::from))
            .or_else(|| n.as_f64().map(Json::from))
            .unwrap_or(Json::Null),
        Yaml::String(s) => Json::String(s),
        Yaml::Sequence(items) => Json::Array(items.into_iter().map(to_json).collect()),
        Yaml::Mapping(mapping) => Json::Object(
            mapping
                .into_iter()
                .map(|(key, value)| (key_text(key), to_json(value)))
                .collect::<Map<_, _>>(),
        ),
        Yaml::Tagged(tagged) => {
            let name = tagged.tag.to_string();
            let name = name.trim_start_matches('!');
            let value = to_json(tagged.value);
            match name {
                "Ref" | "Condition" => json!({ name: value }),
                // `!GetAtt Resource.Attribute` is the short form of a two-element list.
                "GetAtt" => match value {
                    Json::String(path) => match path.split_once('.') {
                        Some((resource, attribute)) => {
                            json!({ "Fn::GetAtt": [resource, attribute] })
                        }
                        None => json!({ "Fn::GetAtt": path }),
                    },
                    other => json!({ "Fn::GetAtt": other }),
                },
                other => json!({ format!("Fn::{other}"): value }),
            }
        }
    }
}

/// A mapping key as text: CloudFormation keys are strings, but YAML reads `80:` or
/// `true:` as other scalars.
fn key_text(key: Yaml) -> String {
    match key {
        Yaml::String(s) => s,
        Yaml::Bool(b) => b.to_string(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Null => "null".to_owned(),
        other => serde_yaml::to_string(&other)
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_form_tags_become_the_json_form() {
        let text = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Properties:\n      \
                    TopicName: !Sub '${AWS::StackName}-alarms'\n      \
                    KmsMasterKeyId: !GetAtt Key.Arn\n      \
                    DisplayName: !If [HasName, !Ref Name, !Ref AWS::NoValue]\n";
        let json = parse_template("t.yaml", text).unwrap();
        let props = &json["Resources"]["Topic"]["Properties"];
        assert_eq!(
            props["TopicName"],
            json!({"Fn::Sub": "${AWS::StackName}-alarms"})
        );
        assert_eq!(
            props["KmsMasterKeyId"],
            json!({"Fn::GetAtt": ["Key", "Arn"]})
        );
        assert_eq!(
            props["DisplayName"],
            json!({"Fn::If": ["HasName", {"Ref": "Name"}, {"Ref": "AWS::NoValue"}]})
        );
    }

    #[test]
    fn json_and_broken_files_are_told_apart() {
        assert_eq!(
            parse_template("t.json", "{\"Resources\": {}}").unwrap(),
            json!({"Resources": {}})
        );
        let err = parse_template("t.json", "{\"Resources\": ").unwrap_err();
        assert!(matches!(err, TemplateFileError::Json { .. }), "{err}");
        let err = parse_template("t.yaml", "Resources: [\n").unwrap_err();
        assert!(matches!(err, TemplateFileError::Yaml { .. }), "{err}");
        assert!(err.to_string().starts_with("t.yaml: "), "{err}");
    }
}
