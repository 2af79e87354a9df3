//! `[warmer]` and `[[warmer.targets]]` of a stage file: the schedule, the code and the
//! functions kept warm.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::config::ConfigError;
use crate::config::checker::Checker;

/// `[warmer]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WarmerConfig {
    /// EventBridge schedule expression.
    pub schedule: String,
    /// Default of the `WarmerCodeBucket` parameter.
    pub code_bucket: String,
    /// Default of the `WarmerCodeKey` parameter.
    pub code_key: String,
    /// Warmer memory.
    pub memory_mb: u32,
    /// Warmer timeout.
    pub timeout_seconds: u32,
    /// Days the warmer's log group keeps entries.
    pub log_retention_days: u32,
    /// Reserved concurrency of the warmer; absent (the default) reserves none, which
    /// every account accepts.
    #[serde(default)]
    pub reserved_concurrency: Option<u32>,
    /// Functions to keep warm.
    #[serde(default)]
    pub targets: Vec<WarmerTargetConfig>,
}

/// One `[[warmer.targets]]` entry.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WarmerTargetConfig {
    /// Function name.
    pub function: String,
    /// Alias or version; absent means `$LATEST`.
    #[serde(default)]
    pub qualifier: Option<String>,
    /// Concurrent environments to keep warm.
    pub concurrency: u32,
}

impl WarmerConfig {
    /// Refuses schedules EventBridge would refuse, malformed code locations, limits Lambda
    /// does not offer and malformed or repeated targets.
    pub fn check(&self, c: &Checker) -> Result<(), ConfigError> {
        c.pattern(
            "warmer.schedule",
            &self.schedule,
            schedule_expression(&self.schedule),
            "expected rate(N minutes|hours|days) or cron(...)",
        )?;
        c.pattern(
            "warmer.code_bucket",
            &self.code_bucket,
            bucket_name(&self.code_bucket),
            "expected an S3 bucket name (3-63 of a-z 0-9 . -)",
        )?;
        c.pattern(
            "warmer.code_key",
            &self.code_key,
            !self.code_key.is_empty()
                && self.code_key.len() <= 1024
                && !self.code_key.starts_with('/'),
            "expected an S3 object key such as lambdas/warmer.zip",
        )?;
        c.range("warmer.memory_mb", self.memory_mb, 128, 10_240)?;
        c.range("warmer.timeout_seconds", self.timeout_seconds, 1, 900)?;
        c.retention("warmer.log_retention_days", self.log_retention_days)?;
        if let Some(n) = self.reserved_concurrency {
            c.range("warmer.reserved_concurrency", n, 1, 1000)?;
        }
        let mut names = BTreeSet::new();
        for (i, t) in self.targets.iter().enumerate() {
            let key = format!("warmer.targets[{i}]");
            c.pattern(
                &format!("{key}.function"),
                &t.function,
                function_name(&t.function),
                "expected a Lambda function name (1-64 of a-z A-Z 0-9 - _)",
            )?;
            if let Some(q) = &t.qualifier {
                c.pattern(
                    &format!("{key}.qualifier"),
                    q,
                    qualifier(q),
                    "expected an alias or version (1-128 of a-z A-Z 0-9 - _, not starting with a digit unless all digits)",
                )?;
            }
            c.range(&format!("{key}.concurrency"), t.concurrency, 1, 50)?;
            if !names.insert((t.function.clone(), t.qualifier.clone())) {
                return Err(c.invalid(
                    &format!("{key}.function"),
                    &t.function,
                    "each function and qualifier may appear once",
                ));
            }
        }
        Ok(())
    }
}

/// An S3 bucket name (3-63 of a-z 0-9 . -, starting and ending with a letter or digit).
pub(crate) fn bucket_name(value: &str) -> bool {
    (3..=63).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A Lambda function name (1-64 of a-z A-Z 0-9 - _).
pub(crate) fn function_name(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn qualifier(value: &str) -> bool {
    let all_digits = value.chars().all(|c| c.is_ascii_digit());
    (1..=128).contains(&value.len())
        && (all_digits
            || (value.starts_with(|c: char| c.is_ascii_alphabetic())
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')))
}

/// EventBridge's `rate(...)` (singular unit exactly for 1) or a six-field `cron(...)`.
fn schedule_expression(value: &str) -> bool {
    if let Some(inner) = value
        .strip_prefix("rate(")
        .and_then(|v| v.strip_suffix(')'))
    {
        let mut parts = inner.split(' ');
        let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        let Ok(n) = n.parse::<u32>() else {
            return false;
        };
        return match unit {
            "minute" | "hour" | "day" => n == 1,
            "minutes" | "hours" | "days" => n > 1,
            _ => false,
        };
    }
    value
        .strip_prefix("cron(")
        .and_then(|v| v.strip_suffix(')'))
        .is_some_and(|inner| inner.split(' ').count() == 6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_expressions_follow_eventbridge_grammar() {
        assert!(schedule_expression("rate(5 minutes)"));
        assert!(schedule_expression("rate(1 hour)"));
        assert!(!schedule_expression("rate(1 minutes)"));
        assert!(!schedule_expression("rate(5 minute)"));
        assert!(schedule_expression("cron(0/5 * * * ? *)"));
        assert!(!schedule_expression("every 5 minutes"));
    }
}
