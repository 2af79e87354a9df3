//! The rule set: CloudFormation Guard files from `stacks/rules/`, with the annotations
//! `stacks check` reads from the comment block above each `rule NAME`.

use std::collections::{BTreeMap, BTreeSet};

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Reported; does not fail the check.
    Warning,
    /// Fails the check (and blocks `deploy`) unless suppressed.
    Error,
}

/// What `stacks check` knows about one rule.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RuleInfo {
    /// The rule name, e.g. `REDIS_ENCRYPTED_IN_TRANSIT`.
    pub id: String,
    /// The `.guard` file it comes from (or `native` for rules written in Rust).
    pub source: String,
    /// Error or warning.
    pub severity: Severity,
    /// Whether a suppression may silence it.
    pub suppressible: bool,
    /// What is wrong when it fails.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

/// A `.guard` file and the rules it defines.
#[derive(Clone, Debug)]
pub struct GuardFile {
    /// File name, used in messages.
    pub name: String,
    /// The rule text.
    pub text: String,
    /// The resource types the file's queries select, when every query of `Resources`
    /// selects by `Type == '...'`: resources of other types cannot change its result, so
    /// the check leaves them out of what guard reads, and skips the file for a template
    /// without any of them. `None`: the file reads resources some other way.
    scope: Option<BTreeSet<String>>,
    /// The template's top-level sections the file's code names (`Resources`,
    /// `Metadata`...): with a type scope, guard reads only these.
    sections: BTreeSet<&'static str>,
}

/// The top-level sections of a template.
const SECTIONS: &[&str] = &[
    "AWSTemplateFormatVersion",
    "Conditions",
    "Description",
    "Mappings",
    "Metadata",
    "Outputs",
    "Parameters",
    "Resources",
    "Rules",
    "Transform",
];

impl GuardFile {
    /// A rule file from its name and text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let scope = type_scope(&text);
        let code = code_of(&text);
        let sections = SECTIONS
            .iter()
            .copied()
            .filter(|s| code.contains(s))
            .collect();
        Self {
            name: name.into(),
            text,
            scope,
            sections,
        }
    }

    /// The top-level sections the file's code names (see the field's note).
    pub fn sections(&self) -> &BTreeSet<&'static str> {
        &self.sections
    }

    /// The resource types this file can see (see the field's note); `None` for all.
    pub fn scope(&self) -> Option<&BTreeSet<String>> {
        self.scope.as_ref()
    }
}

/// A rule file's text without its comment lines.
fn code_of(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The types of `Resources.*[ Type == 'T' ]` queries, when those are the file's only
/// mentions of `Resources`.
fn type_scope(text: &str) -> Option<BTreeSet<String>> {
    const QUERY: &str = "Resources.*[ Type == '";
    let code = code_of(text);
    let mut types = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find(QUERY) {
        let after = &rest[at + QUERY.len()..];
        let end = after.find("' ]")?;
        types.insert(after[..end].to_owned());
        rest = &after[end..];
    }
    (code.matches("Resources").count() == code.matches(QUERY).count() && !types.is_empty())
        .then_some(types)
}

/// The embedded rule set, so the binary checks without the source tree.
const GUARD_FILES: &[(&str, &str)] = &[
    ("appsync.guard", include_str!("../../rules/appsync.guard")),
    (
        "cloudfront.guard",
        include_str!("../../rules/cloudfront.guard"),
    ),
    ("dax.guard", include_str!("../../rules/dax.guard")),
    (
        "elasticache.guard",
        include_str!("../../rules/elasticache.guard"),
    ),
    ("iam.guard", include_str!("../../rules/iam.guard")),
    ("lambda.guard", include_str!("../../rules/lambda.guard")),
    (
        "monitoring.guard",
        include_str!("../../rules/monitoring.guard"),
    ),
    ("network.guard", include_str!("../../rules/network.guard")),
    ("s3.guard", include_str!("../../rules/s3.guard")),
    ("sqs.guard", include_str!("../../rules/sqs.guard")),
    ("stateful.guard", include_str!("../../rules/stateful.guard")),
];

/// Errors in the rule files themselves.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuleError {
    /// A rule lacks an annotation.
    #[error("{file}: rule {rule} has no `# {key}:` annotation")]
    MissingAnnotation {
        /// File.
        file: String,
        /// Rule.
        rule: String,
        /// The missing key.
        key: &'static str,
    },
    /// An annotation has a value that is not allowed.
    #[error("{file}: rule {rule}: `# {key}: {value}` (allowed: {allowed})")]
    BadAnnotation {
        /// File.
        file: String,
        /// Rule.
        rule: String,
        /// Key.
        key: &'static str,
        /// Value found.
        value: String,
        /// Allowed values.
        allowed: &'static str,
    },
    /// Two rules share a name.
    #[error("rule {0} is defined twice")]
    Duplicate(String),
}

/// The rules: guard files plus the catalog of their annotations.
#[derive(Clone, Debug)]
pub struct RuleSet {
    /// The guard files to run.
    pub files: Vec<GuardFile>,
    /// Every rule by id, native rules included.
    pub catalog: BTreeMap<String, RuleInfo>,
}

impl RuleSet {
    /// The rules shipped with this binary.
    pub fn builtin() -> Result<Self, RuleError> {
        Self::from_files(
            GUARD_FILES
                .iter()
                .map(|(name, text)| GuardFile::new(*name, *text))
                .collect(),
        )
    }

    /// A rule set from guard files (tests use small ones).
    pub fn from_files(files: Vec<GuardFile>) -> Result<Self, RuleError> {
        let mut catalog = BTreeMap::new();
        for file in &files {
            for info in parse_annotations(file)? {
                if catalog.insert(info.id.clone(), info.clone()).is_some() {
                    return Err(RuleError::Duplicate(info.id));
                }
            }
        }
        for info in super::native::rules() {
            if catalog.insert(info.id.clone(), info.clone()).is_some() {
                return Err(RuleError::Duplicate(info.id));
            }
        }
        Ok(Self { files, catalog })
    }
}

fn parse_annotations(file: &GuardFile) -> Result<Vec<RuleInfo>, RuleError> {
    let mut out = Vec::new();
    let mut comments: Vec<&str> = Vec::new();
    for line in file.text.lines() {
        let trimmed = line.trim();
        if let Some(comment) = trimmed.strip_prefix('#') {
            comments.push(comment.trim());
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("rule ") {
            let id: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let annotation = |key: &'static str| -> Result<String, RuleError> {
                comments
                    .iter()
                    .find_map(|c| {
                        c.strip_prefix(key)
                            .and_then(|r| r.strip_prefix(':'))
                            .map(|v| v.trim().to_owned())
                    })
                    .ok_or_else(|| RuleError::MissingAnnotation {
                        file: file.name.clone(),
                        rule: id.clone(),
                        key,
                    })
            };
            let severity = match annotation("severity")?.as_str() {
                "error" => Severity::Error,
                "warning" => Severity::Warning,
                other => {
                    return Err(RuleError::BadAnnotation {
                        file: file.name.clone(),
                        rule: id,
                        key: "severity",
                        value: other.to_owned(),
                        allowed: "error, warning",
                    });
                }
            };
            let suppressible = match annotation("suppressible")?.as_str() {
                "yes" => true,
                "no" => false,
                other => {
                    return Err(RuleError::BadAnnotation {
                        file: file.name.clone(),
                        rule: id,
                        key: "suppressible",
                        value: other.to_owned(),
                        allowed: "yes, no",
                    });
                }
            };
            out.push(RuleInfo {
                message: annotation("message")?,
                fix: annotation("fix")?,
                id,
                source: file.name.clone(),
                severity,
                suppressible,
            });
        }
        if !trimmed.is_empty() {
            comments.clear();
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_are_all_annotated() {
        let rules = RuleSet::builtin().unwrap();
        assert!(rules.catalog.len() >= 30, "{}", rules.catalog.len());
        let transit = &rules.catalog["REDIS_ENCRYPTED_IN_TRANSIT"];
        assert_eq!(transit.severity, Severity::Error);
        assert!(!transit.suppressible);
        assert!(transit.fix.contains("TransitEncryptionEnabled"));
    }

    #[test]
    fn a_file_selecting_only_by_type_is_scoped_to_those_types() {
        let rules = RuleSet::builtin().unwrap();
        let lambda = rules
            .files
            .iter()
            .find(|f| f.name == "lambda.guard")
            .unwrap();
        let scope: Vec<&str> = lambda.scope().unwrap().iter().map(String::as_str).collect();
        assert_eq!(scope, ["AWS::Lambda::Function", "AWS::Logs::LogGroup"]);
        let any = GuardFile::new(
            "any.guard",
            "let t = Resources.*[ Type == 'A' ]\nrule R { Resources.* { Metadata exists } }\n",
        );
        assert!(
            any.scope().is_none(),
            "a file reading all resources sees them all"
        );
    }

    #[test]
    fn a_rule_without_annotations_is_refused() {
        let file = GuardFile::new(
            "x.guard",
            "# severity: error\nrule X { Resources exists }\n",
        );
        let err = RuleSet::from_files(vec![file]).unwrap_err();
        assert_eq!(
            err,
            RuleError::MissingAnnotation {
                file: "x.guard".into(),
                rule: "X".into(),
                key: "suppressible"
            }
        );
    }
}
