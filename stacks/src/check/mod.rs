//! `stacks check`: security and best-practice rules over the synthesized templates.
//!
//! The rules are CloudFormation Guard files (`stacks/rules/*.guard`, run in process by the
//! `cfn-guard` crate) plus a few cross-resource rules in Rust ([`native`]). Each template
//! is checked in every combination of its conditions ([`variants`]), so a rule sees what
//! CloudFormation would create for any parameter value.
//!
//! A finding names the rule, the stack, the resource, what is wrong and the fix. A
//! suppression lives in the resource's `Metadata` (written there by a construct or by the
//! stage file's `[[suppressions]]`), names the rule and gives a reason of at least 10
//! characters; rules marked `suppressible: no` cannot be suppressed.

pub mod guard;
pub mod native;
pub mod rules;
pub mod suppressions;
pub mod template_file;
pub mod variants;

use std::collections::{BTreeMap, HashMap};

use cfn::{Json, Template};
use serde::Serialize;
use serde_json::json;

pub use rules::{RuleInfo, RuleSet, Severity};

/// The resource `Metadata` key holding this project's suppressions.
pub const METADATA_KEY: &str = "roadcall-perf";
/// Shortest accepted suppression reason.
pub const MIN_REASON_CHARS: usize = 10;

/// One rule that failed on one resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Rule id.
    pub rule: String,
    /// Error or warning.
    pub severity: Severity,
    /// Stack name.
    pub stack: String,
    /// Logical id of the resource (`-` for the template as a whole).
    pub resource: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: String,
    /// Where in the resource, when the rule engine says.
    pub path: String,
    /// The condition values under which it fails, when not all of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// The suppression's reason, when suppressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
}

impl Finding {
    /// An unsuppressed error: fails the check.
    pub fn is_blocking(&self) -> bool {
        self.severity == Severity::Error && self.suppressed.is_none()
    }
}

/// Errors that stop the check itself (not findings).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A rule file is malformed.
    #[error(transparent)]
    Rules(#[from] rules::RuleError),
    /// cfn-guard could not run.
    #[error(transparent)]
    Guard(#[from] guard::GuardError),
    /// The template could not be serialized.
    #[error("rendering {stack}")]
    Render {
        /// Stack.
        stack: String,
        /// What went wrong.
        #[source]
        source: serde_json::Error,
    },
}

/// A suppression as written in resource metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    /// Rule id.
    pub rule: String,
    /// Why the rule does not apply.
    pub reason: String,
}

/// The suppressions in a resource's `Metadata` (`{"roadcall-perf": {"suppressions": [...]}}`).
pub fn suppressions_of(resource_metadata: Option<&Json>) -> Vec<Suppression> {
    resource_metadata
        .and_then(|m| m.get(METADATA_KEY))
        .and_then(|m| m.get("suppressions"))
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|s| Suppression {
            rule: s["rule"].as_str().unwrap_or_default().to_owned(),
            reason: s["reason"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

/// Adds a suppression to a resource's metadata: this project's rules under
/// `roadcall-perf.suppressions`, checkov's (`CKV_...`) in checkov's own format
/// (`checkov.skip[].id/comment`), so reviewers and both scanners see it.
pub fn add_suppression(
    template: &mut Template,
    resource: &str,
    rule: &str,
    reason: &str,
) -> Result<(), cfn::TemplateError> {
    let entry = template.resources.get_mut(resource).ok_or_else(|| {
        cfn::TemplateError::DanglingReference {
            from: format!("suppression of {rule}"),
            to: resource.to_owned(),
        }
    })?;
    let metadata = entry.metadata.get_or_insert_with(|| json!({}));
    let (section, list, item) = if rule.starts_with("CKV") {
        ("checkov", "skip", json!({"id": rule, "comment": reason}))
    } else {
        (
            METADATA_KEY,
            "suppressions",
            json!({"rule": rule, "reason": reason}),
        )
    };
    if !metadata.is_object() {
        *metadata = json!({});
    }
    let section = metadata
        .as_object_mut()
        .map(|m| m.entry(section).or_insert_with(|| json!({})))
        .and_then(Json::as_object_mut);
    if let Some(section) = section {
        let list = section.entry(list).or_insert_with(|| json!([]));
        if let Some(list) = list.as_array_mut() {
            list.push(item);
        }
    }
    Ok(())
}

/// Checks one stack's template.
pub fn check_template(
    rules: &RuleSet,
    stack: &str,
    template: &Template,
) -> Result<Vec<Finding>, CheckError> {
    let json = serde_json::to_value(template).map_err(|source| CheckError::Render {
        stack: stack.to_owned(),
        source,
    })?;
    check_json(rules, stack, &json)
}

/// Checks several stacks' templates, on up to as many threads as the machine has cores
/// (the templates are independent); the findings come back in input order.
pub fn check_templates(
    rules: &RuleSet,
    stacks: &[(&str, &Template)],
) -> Result<Vec<Finding>, CheckError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(stacks.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some((stack, template)) = stacks.get(index) else {
                return done;
            };
            done.push((index, check_template(rules, stack, template)));
        }
    };
    let mut results: Vec<(usize, Result<Vec<Finding>, CheckError>)> = if threads == 1 {
        work()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    };
    results.sort_by_key(|(index, _)| *index);
    let mut findings = Vec::new();
    for (_, result) in results {
        findings.extend(result?);
    }
    Ok(findings)
}

/// Checks one template given as JSON (any template, not only this project's).
pub fn check_json(
    rules: &RuleSet,
    stack: &str,
    template: &Json,
) -> Result<Vec<Finding>, CheckError> {
    let all = variants::variants(template);
    let total = all.len();
    // (rule, resource) -> (path, condition sets it fails under)
    let mut failing: BTreeMap<(String, String), (String, Vec<String>)> = BTreeMap::new();
    let mut evaluated = HashMap::new();
    for variant in &all {
        let label = variant
            .conditions
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut hits: Vec<(String, String, String)> =
            guard_hits(rules, &variant.template, stack, &mut evaluated)?;
        hits.extend(native::hits(&variant.template));
        let mut seen = std::collections::BTreeSet::new();
        for (rule, resource, path) in hits {
            if !seen.insert((rule.clone(), resource.clone())) {
                continue;
            }
            let slot = failing
                .entry((rule, resource))
                .or_insert_with(|| (path, Vec::new()));
            slot.1.push(label.clone());
        }
    }

    let resources = template["Resources"].as_object();
    let metadata_of = |id: &str| {
        resources
            .and_then(|r| r.get(id))
            .and_then(|r| r.get("Metadata"))
    };
    let mut findings = Vec::new();
    for ((rule, resource), (path, labels)) in failing {
        let info = rules.catalog.get(&rule);
        let suppression = suppressions_of(metadata_of(&resource))
            .into_iter()
            .find(|s| s.rule == rule);
        let suppressed = match (info, suppression) {
            (Some(info), Some(s))
                if info.suppressible && s.reason.chars().count() >= MIN_REASON_CHARS =>
            {
                Some(s.reason)
            }
            _ => None,
        };
        findings.push(Finding {
            severity: info.map_or(Severity::Error, |i| i.severity),
            message: info.map_or_else(|| format!("rule {rule} failed"), |i| i.message.clone()),
            fix: info.map(|i| i.fix.clone()).unwrap_or_default(),
            when: (labels.len() < total).then(|| labels.join(" | ")),
            rule,
            stack: stack.to_owned(),
            resource,
            path,
            suppressed,
        });
    }

    // The suppressions themselves must be valid.
    for (id, resource) in resources.into_iter().flatten() {
        for s in suppressions_of(resource.get("Metadata")) {
            let info = rules.catalog.get(&s.rule);
            let (rule, detail) = match info {
                None => (
                    native::SUPPRESSION_INVALID,
                    format!("unknown rule `{}`", s.rule),
                ),
                Some(_) if s.reason.chars().count() < MIN_REASON_CHARS => (
                    native::SUPPRESSION_INVALID,
                    format!(
                        "reason for `{}` is shorter than {MIN_REASON_CHARS} characters",
                        s.rule
                    ),
                ),
                Some(info) if !info.suppressible => (
                    native::SUPPRESSION_NOT_ALLOWED,
                    format!("`{}` cannot be suppressed", s.rule),
                ),
                Some(_) => continue,
            };
            let native = &rules.catalog[rule];
            findings.push(Finding {
                rule: rule.to_owned(),
                severity: Severity::Error,
                stack: stack.to_owned(),
                resource: id.clone(),
                message: format!("{} ({detail})", native.message),
                fix: native.fix.clone(),
                path: format!("Metadata/{METADATA_KEY}/suppressions"),
                when: None,
                suppressed: None,
            });
        }
    }
    findings
        .sort_by(|a, b| (&a.stack, &a.resource, &a.rule).cmp(&(&b.stack, &b.resource, &b.rule)));
    Ok(findings)
}

/// What guard found in one resolved variant: (rule, resource, path).
///
/// Each file reads only the resources of the types it selects, and a file whose input is
/// the same as in an earlier variant (most resources do not change with the conditions)
/// is not evaluated again: `evaluated` holds each (file, input) pair's result.
fn guard_hits(
    rules: &RuleSet,
    template: &Json,
    stack: &str,
    evaluated: &mut HashMap<(usize, String), Vec<guard::GuardFailure>>,
) -> Result<Vec<(String, String, String)>, CheckError> {
    let mut hits = Vec::new();
    for (index, file) in rules.files.iter().enumerate() {
        let input = match file.scope() {
            None => template.clone(),
            Some(types) => {
                // Only what the file can read: its sections, and of the resources those
                // of its types (guard's cost grows with the size of what it reads).
                let resources: serde_json::Map<String, Json> = template["Resources"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(_, r)| r["Type"].as_str().is_some_and(|t| types.contains(t)))
                    .map(|(id, r)| (id.clone(), r.clone()))
                    .collect();
                if resources.is_empty() {
                    continue;
                }
                let mut scoped = serde_json::Map::new();
                for section in file.sections() {
                    if *section == "Resources" {
                        continue;
                    }
                    if let Some(value) = template.get(*section) {
                        scoped.insert((*section).to_owned(), value.clone());
                    }
                }
                scoped.insert("Resources".to_owned(), Json::Object(resources));
                Json::Object(scoped)
            }
        };
        let content = serde_json::to_string(&input).map_err(|source| CheckError::Render {
            stack: stack.to_owned(),
            source,
        })?;
        let key = (index, content);
        if !evaluated.contains_key(&key) {
            let failures = guard::evaluate_file(file, &key.1, stack)?;
            evaluated.insert(key.clone(), failures);
        }
        hits.extend(
            evaluated[&key]
                .iter()
                .map(|f| (f.rule.clone(), f.resource.clone(), f.path.clone())),
        );
    }
    Ok(hits)
}

/// Findings as text, one block per finding, and a summary line.
pub fn render_text(findings: &[Finding], templates: usize) -> String {
    let mut out = String::new();
    for f in findings {
        let label = match (&f.suppressed, f.severity) {
            (Some(_), _) => "SUPPRESSED",
            (None, Severity::Error) => "ERROR",
            (None, Severity::Warning) => "WARNING",
        };
        out.push_str(&format!("{label} {} {}/{}\n", f.rule, f.stack, f.resource));
        out.push_str(&format!("  {}", f.message));
        if !f.path.is_empty() {
            out.push_str(&format!(" [{}]", f.path));
        }
        out.push('\n');
        if let Some(when) = &f.when {
            out.push_str(&format!("  when: {when}\n"));
        }
        match &f.suppressed {
            Some(reason) => out.push_str(&format!("  reason: {reason}\n")),
            None => out.push_str(&format!("  fix: {}\n", f.fix)),
        }
    }
    let errors = findings.iter().filter(|f| f.is_blocking()).count();
    let warnings = findings
        .iter()
        .filter(|f| f.severity == Severity::Warning && f.suppressed.is_none())
        .count();
    let suppressed = findings.iter().filter(|f| f.suppressed.is_some()).count();
    out.push_str(&format!(
        "{templates} templates checked: {errors} errors, {warnings} warnings, {suppressed} suppressed\n"
    ));
    out
}
