//! Runs CloudFormation Guard (the `cfn-guard` crate, in process) and reads its report.

use cfn::Json;

use super::rules::GuardFile;

/// One failed check of a guard rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GuardFailure {
    /// The rule name.
    pub rule: String,
    /// Logical id of the resource the failing value belongs to (`-` for the template).
    pub resource: String,
    /// The property path inside the resource, e.g. `Properties/TransitEncryptionEnabled`.
    pub path: String,
}

/// Guard could not evaluate a rule file or a template.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The template could not be written as JSON for guard.
    #[error("cfn-guard on {template}: cannot serialize the template")]
    Serialize {
        /// The template (stack) name.
        template: String,
        /// What serde_json said.
        #[source]
        source: serde_json::Error,
    },
    /// cfn-guard refused the rule file or the data (a parse or evaluation error).
    #[error("cfn-guard on {file}")]
    Evaluate {
        /// The rule file.
        file: String,
        /// What cfn-guard said.
        #[source]
        source: cfn_guard::Error,
    },
    /// cfn-guard's record tree was not the JSON it documents.
    #[error("cfn-guard on {file}: unreadable record")]
    Record {
        /// The rule file.
        file: String,
        /// What serde_json said.
        #[source]
        source: serde_json::Error,
    },
}

/// Evaluates every rule file against one (resolved) template.
pub fn evaluate(
    files: &[GuardFile],
    template: &Json,
    name: &str,
) -> Result<Vec<GuardFailure>, GuardError> {
    let content = serde_json::to_string(template).map_err(|source| GuardError::Serialize {
        template: name.to_owned(),
        source,
    })?;
    let mut failures = Vec::new();
    for file in files {
        failures.extend(evaluate_file(file, &content, name)?);
    }
    failures.sort();
    failures.dedup();
    Ok(failures)
}

/// Evaluates one rule file against a template given as JSON text.
pub fn evaluate_file(
    file: &GuardFile,
    content: &str,
    name: &str,
) -> Result<Vec<GuardFailure>, GuardError> {
    let mut failures = Vec::new();
    let run = |verbose: bool| {
        cfn_guard::run_checks(
            cfn_guard::ValidateInput {
                content,
                file_name: name,
            },
            cfn_guard::ValidateInput {
                content: &file.text,
                file_name: &file.name,
            },
            verbose,
        )
        .map_err(|source| GuardError::Evaluate {
            file: file.name.clone(),
            source,
        })
    };
    // The summary first: writing and reading the verbose record tree is most of a run's
    // cost, and a passing file (nearly every one) needs nothing more than its status. It
    // can only be trusted when it parses: cfn-guard 3.2.1's library entry point returns
    // only what is left in its 8 KiB write buffer, so a long summary comes back cut.
    let summary = run(false)?;
    if summary.trim().is_empty() {
        return Ok(failures);
    }
    if let Ok(report) = serde_json::from_str::<Json>(&summary)
        && report["status"] != "FAIL"
        && report["not_compliant"].as_array().is_none_or(Vec::is_empty)
    {
        return Ok(failures);
    }
    // Something failed: the verbose record tree says where.
    let output = run(true)?;
    if output.trim().is_empty() {
        return Ok(failures);
    }
    let record: Json = serde_json::from_str(&output).map_err(|source| GuardError::Record {
        file: file.name.clone(),
        source,
    })?;
    for rule in record["children"].as_array().into_iter().flatten() {
        let check = &rule["container"]["RuleCheck"];
        if check["status"] != "FAIL" {
            continue;
        }
        let rule_name = check["name"].as_str().unwrap_or("?").to_owned();
        let mut paths = Vec::new();
        for child in rule["children"].as_array().into_iter().flatten() {
            collect_failed_paths(child, &mut paths);
        }
        if paths.is_empty() {
            paths.push("/Resources/-".to_owned());
        }
        for path in paths {
            let mut parts = path.trim_start_matches('/').splitn(3, '/');
            let (_, resource, rest) = (parts.next(), parts.next(), parts.next());
            failures.push(GuardFailure {
                rule: rule_name.clone(),
                resource: resource.unwrap_or("-").to_owned(),
                path: rest.unwrap_or_default().to_owned(),
            });
        }
    }
    failures.sort();
    failures.dedup();
    Ok(failures)
}

/// The status of a record: its container is `{Kind: "PASS"}` or `{Kind: {"status": ..}}`.
fn status(record: &Json) -> Option<&str> {
    let (_, inner) = record["container"].as_object()?.iter().next()?;
    inner
        .as_str()
        .or_else(|| inner["status"].as_str())
        .or_else(|| {
            // ClauseValueCheck nests one more level: {"Comparison": {"status": ..}}.
            inner.as_object()?.values().next()?["status"].as_str()
        })
}

/// Walks failed records, skipping `when` conditions and filters (their failures only
/// select what a rule applies to), and collects the paths of failed values.
fn collect_failed_paths(record: &Json, out: &mut Vec<String>) {
    let kind = record["container"]
        .as_object()
        .and_then(|c| c.keys().next())
        .map(String::as_str);
    if matches!(
        kind,
        Some(
            "RuleCondition" | "WhenCondition" | "Filter" | "BlockGuardCheck" | "RuleConditionCheck"
        )
    ) && kind != Some("BlockGuardCheck")
    {
        return;
    }
    if matches!(status(record), Some("PASS" | "SKIP")) {
        return;
    }
    if kind == Some("ClauseValueCheck") {
        let mut found = Vec::new();
        collect_paths(&record["container"], &mut found);
        out.extend(found);
    }
    for child in record["children"].as_array().into_iter().flatten() {
        collect_failed_paths(child, out);
    }
}

/// The `/Resources/...` paths of the values that failed, wherever guard nests them
/// (`Resolved.from`, `UnResolved.value.traversed_to`, nested blocks and named rules).
fn collect_paths(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::Object(map) => {
            let checked = map
                .get("from")
                .map(|from| {
                    from.get("Resolved")
                        .or_else(|| from.get("UnResolved"))
                        .unwrap_or(from)
                })
                .map(|from| from.get("traversed_to").unwrap_or(from))
                .or_else(|| map.get("traversed_to"))
                .or_else(|| map.get("value").filter(|v| v.get("path").is_some()))
                .and_then(|v| v.get("path"))
                .and_then(Json::as_str);
            if let Some(path) = checked
                && path.starts_with("/Resources/")
            {
                out.push(path.to_owned());
            }
            for child in map.values() {
                collect_paths(child, out);
            }
        }
        Json::Array(items) => items.iter().for_each(|v| collect_paths(v, out)),
        _ => {}
    }
}
