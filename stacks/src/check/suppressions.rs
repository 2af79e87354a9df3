//! `[[suppressions]]` of a stage file: a rule that does not apply to one resource, and why.
//! [`crate::app`] writes each into the named resource's `Metadata`, where the rules read it.

use serde::Deserialize;

use crate::config::ConfigError;
use crate::config::checker::Checker;
use crate::stage::Part;

/// One `[[suppressions]]` entry.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SuppressionConfig {
    /// The stack part: network, redis, monitoring, dax, cdn, appsync-cache or warmer.
    pub stack: String,
    /// Logical id of the resource.
    pub resource: String,
    /// Rule id (`stacks check` rules, or checkov's `CKV_...`).
    pub rule: String,
    /// Why the rule does not apply (10 characters or more).
    pub reason: String,
}

impl SuppressionConfig {
    /// Refuses an unknown stack, a malformed logical id or rule id and a short reason;
    /// `index` is the entry's place in the file.
    pub fn check(&self, index: usize, c: &Checker) -> Result<(), ConfigError> {
        let key = format!("suppressions[{index}]");
        c.pattern(
            &format!("{key}.stack"),
            &self.stack,
            Part::from_slug(&self.stack).is_some(),
            "expected one of network, redis, monitoring, dax, cdn, appsync-cache, warmer",
        )?;
        c.pattern(
            &format!("{key}.resource"),
            &self.resource,
            !self.resource.is_empty() && self.resource.chars().all(|c| c.is_ascii_alphanumeric()),
            "expected a logical id (letters and digits)",
        )?;
        c.pattern(
            &format!("{key}.rule"),
            &self.rule,
            !self.rule.is_empty()
                && self
                    .rule
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
            "expected a rule id such as S3_PUBLIC_ACCESS_BLOCKED or CKV_AWS_18",
        )?;
        c.pattern(
            &format!("{key}.reason"),
            &self.reason,
            self.reason.trim().chars().count() >= super::MIN_REASON_CHARS,
            "expected a reason of at least 10 characters",
        )
    }
}
