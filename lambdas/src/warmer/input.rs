//! The warmer's input: what the EventBridge schedule sends.

use serde::Deserialize;

use super::WarmerError;

/// Most invocations the warmer fires at one target per run; a typo such as `2000` would
/// otherwise exhaust the account's concurrency.
pub const MAX_CONCURRENCY: u32 = 100;

/// The schedule's input: `{"targets": [{"function", "qualifier"?, "concurrency"}]}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct WarmerInput {
    /// What to warm.
    pub targets: Vec<Target>,
}

/// A function to keep warm.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Function name or ARN.
    pub function: String,
    /// Alias or version; `None` invokes `$LATEST`.
    #[serde(default)]
    pub qualifier: Option<String>,
    /// Distinct execution environments to keep warm (1 to [`MAX_CONCURRENCY`]).
    pub concurrency: u32,
}

impl Target {
    /// `function` or `function:qualifier`: the name in logs and the EMF `Function` dimension.
    pub fn label(&self) -> String {
        match &self.qualifier {
            Some(q) => format!("{}:{q}", self.function),
            None => self.function.clone(),
        }
    }
}

impl WarmerInput {
    /// Parses and checks an event; the error names the offending field.
    pub fn from_value(event: serde_json::Value) -> Result<Self, WarmerError> {
        let input: Self =
            serde_path_to_error::deserialize(event).map_err(|e| WarmerError::BadInput {
                path: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        input.validate()?;
        Ok(input)
    }

    /// Checks every target.
    pub fn validate(&self) -> Result<(), WarmerError> {
        for (i, target) in self.targets.iter().enumerate() {
            let bad = |field: &str, message: String| WarmerError::BadInput {
                path: format!("targets[{i}].{field}"),
                message,
            };
            if target.function.trim().is_empty() {
                return Err(bad("function", "must not be empty".to_owned()));
            }
            if target
                .qualifier
                .as_deref()
                .is_some_and(|q| q.trim().is_empty())
            {
                return Err(bad(
                    "qualifier",
                    "must not be empty when present".to_owned(),
                ));
            }
            if target.concurrency == 0 || target.concurrency > MAX_CONCURRENCY {
                return Err(bad(
                    "concurrency",
                    format!("{} is not in [1, {MAX_CONCURRENCY}]", target.concurrency),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_stack_input() {
        let input = WarmerInput::from_value(json!({"targets": [
            {"function": "roadcall-vendor-dev", "qualifier": "live", "concurrency": 2},
            {"function": "roadcall-payments-dev", "concurrency": 1}
        ]}))
        .unwrap();
        assert_eq!(input.targets.len(), 2);
        assert_eq!(input.targets[0].label(), "roadcall-vendor-dev:live");
        assert_eq!(input.targets[1].label(), "roadcall-payments-dev");
    }

    #[test]
    fn bad_events_are_errors_naming_the_field() {
        let cases = [
            (json!({"detail-type": "Scheduled Event"}), "targets"),
            (
                json!({"targets": [{"function": "f", "concurrency": -1}]}),
                "targets[0].concurrency",
            ),
            (
                json!({"targets": [{"function": "f", "concurrency": 0}]}),
                "targets[0].concurrency",
            ),
            (
                json!({"targets": [{"function": "f", "concurrency": 101}]}),
                "targets[0].concurrency",
            ),
            (
                json!({"targets": [{"function": " ", "concurrency": 1}]}),
                "targets[0].function",
            ),
            (
                json!({"targets": [{"function": "f", "qualifier": "", "concurrency": 1}]}),
                "targets[0].qualifier",
            ),
            (
                json!({"targets": [{"function": "f", "concurency": 1}]}),
                "targets[0]",
            ),
            (json!("nope"), ""),
        ];
        for (event, field) in cases {
            let err = WarmerInput::from_value(event.clone()).unwrap_err();
            assert!(err.to_string().contains(field), "{event}: {err}");
        }
    }
}
