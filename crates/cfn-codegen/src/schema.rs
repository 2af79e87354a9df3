//! Reading cfn-lint's resource provider schemas: where they are, the files, and the
//! pieces of a schema the generator uses (descriptions, enumerations, lists, read-only
//! paths).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::CFN_LINT_VERSION;

/// `python3` on PATH) and checks that the installed cfn-lint is the pinned version.
pub fn locate_schemas(root: &Path) -> anyhow::Result<PathBuf> {
    let venv_python = root.join(".venv-cfn-lint/bin/python");
    let python = if venv_python.exists() {
        venv_python
    } else {
        PathBuf::from("python3")
    };
    let output = Command::new(&python)
        .args([
            "-c",
            "import cfnlint, os; from cfnlint.version import __version__ as v; \
             print(v); print(os.path.join(os.path.dirname(cfnlint.__file__), 'data', 'schemas'))",
        ])
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !output.status.success() {
        bail!(
            "cfn-lint is not installed for {}; install it with `scripts/test` or \
             `python3 -m venv .venv-cfn-lint && .venv-cfn-lint/bin/pip install 'cfn-lint=={CFN_LINT_VERSION}'`",
            python.display()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    let version = lines.next().unwrap_or_default().trim();
    let dir = lines.next().unwrap_or_default().trim();
    if version != CFN_LINT_VERSION {
        bail!(
            "cfn-lint {version} is installed but the generated structs are pinned to \
             {CFN_LINT_VERSION}; run `.venv-cfn-lint/bin/pip install 'cfn-lint=={CFN_LINT_VERSION}'`"
        );
    }
    Ok(PathBuf::from(dir))
}

/// A JSON file.
pub fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// `AWS::Service::Resource` as `(Service, Resource)`.
pub fn split_type(type_name: &str) -> anyhow::Result<(String, String)> {
    let parts: Vec<&str> = type_name.split("::").collect();
    match parts.as_slice() {
        ["AWS", service, resource] => Ok(((*service).to_owned(), (*resource).to_owned())),
        _ => bail!("unexpected type name {type_name}"),
    }
}

/// One-line doc text from a schema description.
pub fn doc_text(node: &Value) -> Option<String> {
    let raw = node
        .get("description")
        .or_else(|| node.get("markdownDescription"))
        .and_then(Value::as_str)?;
    let collapsed: String = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return None;
    }
    let cleaned = collapsed.replace('<', "&lt;").replace('>', "&gt;");
    const LIMIT: usize = 400;
    if cleaned.len() <= LIMIT {
        return Some(cleaned);
    }
    // Cut at the last sentence end before the limit, or at a char boundary.
    let mut cut = LIMIT;
    while !cleaned.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &cleaned[..cut];
    Some(match head.rfind(". ") {
        Some(pos) if pos > 80 => head[..=pos].to_owned(),
        _ => format!("{head}..."),
    })
}

/// The string values of an `enum` (or cfn-lint's `enumCaseInsensitive`); `None` for
/// integer enumerations, which stay integers.
pub fn enum_values(node: &Value) -> Option<Vec<String>> {
    let values = node
        .get("enum")
        .or_else(|| node.get("enumCaseInsensitive"))?
        .as_array()?;
    let strings: Vec<String> = values
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    // Integer enumerations stay integers.
    (strings.len() == values.len() && !strings.is_empty()).then_some(strings)
}

/// A list of strings (`required`, `readOnlyProperties`); missing is empty.
pub fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Property paths below `/properties/` (`createOnlyProperties`, `primaryIdentifier`),
/// `/`-separated, in schema order.
pub fn property_paths(value: Option<&Value>) -> Vec<String> {
    string_list(value)
        .into_iter()
        .filter_map(|p| p.strip_prefix("/properties/").map(str::to_owned))
        .collect()
}

/// The create-only properties that name the resource itself: the primary identifier when
/// it is one property (a composite one, like a Lambda permission's function and id,
/// names what the resource attaches to), `Name`, and `<Suffix>Name` where the resource's name ends with `Suffix`
/// (`GroupName` of `SecurityGroup`, `ClusterName` of `Cluster`), but not names of other
/// resources (`CacheSubnetGroupName` of a `ReplicationGroup`).
pub fn name_properties(resource: &str, create_only: &[String], primary: &[String]) -> Vec<String> {
    let suffixes: Vec<&str> = resource
        .char_indices()
        .filter(|(_, c)| c.is_ascii_uppercase())
        .map(|(i, _)| &resource[i..])
        .collect();
    create_only
        .iter()
        .filter(|p| !p.contains('/'))
        .filter(|p| {
            (primary.len() == 1 && primary.contains(p))
                || p.as_str() == "Name"
                || suffixes.iter().any(|s| p.as_str() == format!("{s}Name"))
        })
        .cloned()
        .collect()
}

/// `Fn::GetAtt` names from read-only property paths: `PrimaryEndPoint/Address` ->
/// `PrimaryEndPoint.Address`; a path that is the parent of another is an object, which
/// `Fn::GetAtt` cannot return.
pub fn attribute_names(read_only: &BTreeSet<String>) -> Vec<String> {
    read_only
        .iter()
        .filter(|path| {
            !read_only
                .iter()
                .any(|other| other.starts_with(&format!("{path}/")))
        })
        .map(|path| path.replace('/', "."))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_properties_are_the_resources_own_names() {
        let own = |resource: &str, create_only: &[&str], primary: &[&str]| {
            let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            name_properties(resource, &list(create_only), &list(primary))
        };
        assert_eq!(
            own(
                "SecurityGroup",
                &["GroupDescription", "GroupName", "VpcId"],
                &["Id"]
            ),
            ["GroupName"]
        );
        assert_eq!(
            own(
                "ReplicationGroup",
                &[
                    "CacheSubnetGroupName",
                    "KmsKeyId",
                    "ReplicationGroupId",
                    "SnapshotName"
                ],
                &["ReplicationGroupId"]
            ),
            ["ReplicationGroupId"]
        );
        assert_eq!(
            own(
                "Cluster",
                &["ClusterName", "NodeType", "SubnetGroupName"],
                &["Id"]
            ),
            ["ClusterName"]
        );
        assert_eq!(own("Secret", &["Name"], &["Id"]), ["Name"]);
    }

    #[test]
    fn nested_read_only_objects_are_not_attributes() {
        let read_only: BTreeSet<String> = ["PrimaryEndPoint", "PrimaryEndPoint/Address", "Arn"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            attribute_names(&read_only),
            vec!["Arn", "PrimaryEndPoint.Address"]
        );
    }
}
