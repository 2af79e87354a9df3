//! Deterministic rendering of templates as JSON or YAML.
//!
//! Keys are sorted at every level and numbers and strings are written in one canonical
//! form, so the same template always renders to the same bytes, whatever feature set
//! `serde_json` was built with.

use std::fmt::Write as _;

use serde::Serialize;

use crate::expr::Json;

/// The file format of a rendered template.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// JSON, two-space indentation, trailing newline.
    #[default]
    Json,
    /// YAML (block style; intrinsic functions in their long `Fn::` form).
    Yaml,
}

impl Format {
    /// The file extension without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Yaml => "yaml",
        }
    }
}

/// Renders any serializable value (usually a [`crate::Template`]) in `format`.
pub fn render<T: Serialize>(value: &T, format: Format) -> Result<String, serde_json::Error> {
    let json = canonical(serde_json::to_value(value)?);
    Ok(match format {
        Format::Json => {
            let mut out = serde_json::to_string_pretty(&json)?;
            out.push('\n');
            out
        }
        Format::Yaml => to_yaml(&json),
    })
}

/// Rebuilds every object with its keys in sorted order.
fn canonical(value: Json) -> Json {
    match value {
        Json::Object(map) => {
            let mut entries: Vec<(String, Json)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, canonical(v)))
                    .collect(),
            )
        }
        Json::Array(items) => Json::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// Writes a JSON value as block-style YAML. Strings are always double-quoted (with JSON
/// escapes, which YAML's double-quoted style accepts), so no value can be misread as a
/// number, boolean, null or tag.
fn to_yaml(value: &Json) -> String {
    let mut out = String::new();
    match value {
        Json::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Json::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        scalar => {
            out.push_str(&scalar_yaml(scalar));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Json>, indent: usize) {
    for (key, value) in map {
        out.push_str(&" ".repeat(indent));
        out.push_str(&key_yaml(key));
        out.push(':');
        write_value_after_key(out, value, indent);
    }
}

fn write_seq(out: &mut String, items: &[Json], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Json::Object(map) if !map.is_empty() => {
                // The first key goes on the dash line; the rest align under it.
                let mut first = true;
                for (key, value) in map {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        out.push_str(&" ".repeat(indent + 2));
                    }
                    out.push_str(&key_yaml(key));
                    out.push(':');
                    write_value_after_key(out, value, indent + 2);
                }
            }
            Json::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, indent + 2);
            }
            scalar => {
                out.push(' ');
                out.push_str(&scalar_yaml(scalar));
                out.push('\n');
            }
        }
    }
}

fn write_value_after_key(out: &mut String, value: &Json, indent: usize) {
    match value {
        Json::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, indent + 2);
        }
        Json::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, indent + 2);
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_yaml(scalar));
            out.push('\n');
        }
    }
}

fn key_yaml(key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-' | '.' | '/'))
        && key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && !key.ends_with(':');
    if plain { key.to_owned() } else { quoted(key) }
}

fn scalar_yaml(value: &Json) -> String {
    match value {
        Json::Null => "null".to_owned(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => quoted(s),
        Json::Array(_) => "[]".to_owned(),
        Json::Object(_) => "{}".to_owned(),
    }
}

fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_keys_are_sorted_at_every_level() {
        let value = json!({"b": {"z": 1, "a": [ {"y": 1, "x": 2} ]}, "a": true});
        let out = render(&value, Format::Json).unwrap();
        assert_eq!(
            out,
            "{\n  \"a\": true,\n  \"b\": {\n    \"a\": [\n      {\n        \"x\": 2,\n        \"y\": 1\n      }\n    ],\n    \"z\": 1\n  }\n}\n"
        );
    }

    #[test]
    fn yaml_quotes_every_string_and_nests_blocks() {
        let value = json!({
            "Resources": {"A": {"Type": "AWS::SNS::Topic", "Properties": {
                "List": ["x", {"Fn::GetAtt": ["B", "Arn"]}, []],
                "Empty": {},
                "Text": "line1\nline2 \"quoted\"",
                "Num": 5,
                "Flag": false,
                "Looks": "true"
            }}}
        });
        let out = render(&value, Format::Yaml).unwrap();
        let expected = "\
Resources:
  A:
    Properties:
      Empty: {}
      Flag: false
      List:
        - \"x\"
        - Fn::GetAtt:
            - \"B\"
            - \"Arn\"
        - []
      Looks: \"true\"
      Num: 5
      Text: \"line1\\nline2 \\\"quoted\\\"\"
    Type: \"AWS::SNS::Topic\"
";
        assert_eq!(out, expected);
    }
}
