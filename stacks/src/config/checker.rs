//! The building blocks of a stage file's value checks: each turns a value AWS or this
//! project would refuse into a [`ConfigError::Invalid`] naming the file, the key and what
//! is allowed. Each section's own checks live next to the construct that reads it.

use std::fmt;

use serde::{Deserialize, Deserializer, de};

use super::ConfigError;

/// CloudWatch Logs accepts only these retention periods.
pub const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Checks the values of one stage file; `path` is the file as messages name it.
#[derive(Clone, Debug)]
pub struct Checker {
    path: String,
}

impl Checker {
    /// A checker whose errors name `path`.
    pub fn new(path: impl Into<String>) -> Self {
        Self { path: path.into() }
    }

    /// The error for `key` holding `value`, with what is allowed instead.
    pub fn invalid(
        &self,
        key: &str,
        value: impl fmt::Debug,
        allowed: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            key: key.to_owned(),
            value: format!("{value:?}"),
            allowed: allowed.into(),
        }
    }

    /// `value` must be one of `allowed`.
    pub fn one_of(&self, key: &str, value: &str, allowed: &[&str]) -> Result<(), ConfigError> {
        if allowed.contains(&value) {
            Ok(())
        } else {
            Err(self.invalid(
                key,
                value,
                format!("expected one of {}", allowed.join(", ")),
            ))
        }
    }

    /// `value` must be within `min..=max`.
    pub fn range(&self, key: &str, value: u32, min: u32, max: u32) -> Result<(), ConfigError> {
        if (min..=max).contains(&value) {
            Ok(())
        } else {
            Err(self.invalid(key, value, format!("expected {min} to {max}")))
        }
    }

    /// `days` must be a retention period CloudWatch Logs accepts.
    pub fn retention(&self, key: &str, days: u32) -> Result<(), ConfigError> {
        if LOG_RETENTION_DAYS.contains(&days) {
            Ok(())
        } else {
            let allowed: Vec<String> = LOG_RETENTION_DAYS.iter().map(u32::to_string).collect();
            Err(self.invalid(key, days, format!("expected one of {}", allowed.join(", "))))
        }
    }

    /// `ok` says whether `value` has the shape `what` describes.
    pub fn pattern(&self, key: &str, value: &str, ok: bool, what: &str) -> Result<(), ConfigError> {
        if ok {
            Ok(())
        } else {
            Err(self.invalid(key, value, what))
        }
    }
}

/// Deserializes one of `allowed` from its CloudFormation spelling (its `Display`), for
/// stage-file fields typed with a generated enum of which a stage may use only some
/// values; anything else is refused with the list of those values.
pub fn deserialize_one_of<'de, D, T>(deserializer: D, allowed: &[T]) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Copy + fmt::Display,
{
    let text = String::deserialize(deserializer)?;
    allowed
        .iter()
        .copied()
        .find(|value| value.to_string() == text)
        .ok_or_else(|| {
            let names: Vec<String> = allowed.iter().map(T::to_string).collect();
            de::Error::custom(format!("expected one of {}", names.join(", ")))
        })
}

/// A lowercase DNS name of two or more labels.
pub fn domain_name(value: &str) -> bool {
    value.len() <= 253
        && value.contains('.')
        && value.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}
