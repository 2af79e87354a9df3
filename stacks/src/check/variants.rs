//! The concrete templates a template can become: one per combination of its conditions,
//! with `Fn::If` resolved, conditional resources dropped, `AWS::NoValue` removed and other
//! intrinsic functions turned into `${...}` strings, so rules compare plain values.

use std::collections::BTreeMap;

use cfn::Json;
use serde_json::Map;

/// More conditions than this are not expanded (2^N variants); the template is checked
/// with every condition true and every condition false instead.
const MAX_EXPANDED_CONDITIONS: usize = 8;

/// One resolved variant and the condition values that produced it.
#[derive(Clone, Debug)]
pub struct Variant {
    /// Condition name to value.
    pub conditions: BTreeMap<String, bool>,
    /// The resolved template.
    pub template: Json,
}

/// Every variant of `template`.
pub fn variants(template: &Json) -> Vec<Variant> {
    let names: Vec<String> = template
        .get("Conditions")
        .and_then(Json::as_object)
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default();
    let assignments: Vec<BTreeMap<String, bool>> = if names.len() <= MAX_EXPANDED_CONDITIONS {
        (0..1u32 << names.len())
            .map(|bits| {
                names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n.clone(), bits & (1 << i) != 0))
                    .collect()
            })
            .collect()
    } else {
        [true, false]
            .iter()
            .map(|v| names.iter().map(|n| (n.clone(), *v)).collect())
            .collect()
    };
    assignments
        .into_iter()
        .map(|conditions| Variant {
            template: resolve(template, &conditions),
            conditions,
        })
        .collect()
}

fn resolve(template: &Json, conditions: &BTreeMap<String, bool>) -> Json {
    let mut out = template.clone();
    if let Some(resources) = out.get_mut("Resources").and_then(Json::as_object_mut) {
        resources.retain(|_, r| match r.get("Condition").and_then(Json::as_str) {
            Some(c) => conditions.get(c).copied().unwrap_or(true),
            None => true,
        });
        for resource in resources.values_mut() {
            if let Some(props) = resource.get_mut("Properties") {
                let resolved = resolve_value(props, conditions).unwrap_or(Json::Object(Map::new()));
                *props = resolved;
            }
        }
    }
    out
}

/// Resolves one value; `None` means `AWS::NoValue` (the property disappears).
fn resolve_value(value: &Json, conditions: &BTreeMap<String, bool>) -> Option<Json> {
    match value {
        Json::Object(map) if map.len() == 1 => {
            let (key, arg) = map.iter().next()?;
            match key.as_str() {
                "Fn::If" => {
                    let parts = arg.as_array()?;
                    let name = parts.first()?.as_str()?;
                    let branch = if conditions.get(name).copied().unwrap_or(true) {
                        1
                    } else {
                        2
                    };
                    resolve_value(parts.get(branch)?, conditions)
                }
                "Ref" if arg == "AWS::NoValue" => None,
                "Ref" => Some(Json::String(format!(
                    "${{{}}}",
                    arg.as_str().unwrap_or("?")
                ))),
                "Fn::GetAtt" => {
                    let parts: Vec<&str> =
                        arg.as_array()?.iter().filter_map(Json::as_str).collect();
                    Some(Json::String(format!("${{{}}}", parts.join("."))))
                }
                "Fn::Sub" => match arg {
                    Json::String(s) => Some(Json::String(s.clone())),
                    Json::Array(parts) => parts.first().cloned(),
                    _ => None,
                },
                "Fn::ImportValue" => Some(Json::String(format!(
                    "${{Import:{}}}",
                    arg.as_str().unwrap_or("?")
                ))),
                k if k.starts_with("Fn::") => Some(Json::String(format!("${{{k}}}"))),
                _ => Some(resolve_object(map, conditions)),
            }
        }
        Json::Object(map) => Some(resolve_object(map, conditions)),
        Json::Array(items) => Some(Json::Array(
            items
                .iter()
                .filter_map(|v| resolve_value(v, conditions))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

fn resolve_object(map: &Map<String, Json>, conditions: &BTreeMap<String, bool>) -> Json {
    Json::Object(
        map.iter()
            .filter_map(|(k, v)| resolve_value(v, conditions).map(|v| (k.clone(), v)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_combination_of_conditions_is_a_variant() {
        let template = json!({
            "Conditions": {"A": {}, "B": {}},
            "Resources": {
                "Always": {"Type": "X", "Properties": {
                    "P": {"Fn::If": ["A", "yes", {"Ref": "AWS::NoValue"}]},
                    "L": ["a", {"Fn::If": ["B", {"Ref": "Thing"}, {"Ref": "AWS::NoValue"}]}],
                    "Arn": {"Fn::Sub": "arn:${AWS::Partition}:lambda:x"},
                    "Att": {"Fn::GetAtt": ["R", "Arn"]}
                }},
                "OnlyA": {"Type": "X", "Condition": "A", "Properties": {}}
            }
        });
        let all = variants(&template);
        assert_eq!(all.len(), 4);
        let a_only = all
            .iter()
            .find(|v| v.conditions["A"] && !v.conditions["B"])
            .unwrap();
        let props = &a_only.template["Resources"]["Always"]["Properties"];
        assert_eq!(props["P"], "yes");
        assert_eq!(props["L"], json!(["a"]));
        assert_eq!(props["Arn"], "arn:${AWS::Partition}:lambda:x");
        assert_eq!(props["Att"], "${R.Arn}");
        assert!(a_only.template["Resources"].get("OnlyA").is_some());
        let neither = all
            .iter()
            .find(|v| !v.conditions["A"] && !v.conditions["B"])
            .unwrap();
        assert!(
            neither.template["Resources"]["Always"]["Properties"]
                .get("P")
                .is_none()
        );
        assert!(neither.template["Resources"].get("OnlyA").is_none());
    }
}
