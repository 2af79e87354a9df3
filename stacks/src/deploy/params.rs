//! `--parameter Stack:Key=Value` and `--parameter Key=Value` overrides.

use std::collections::BTreeMap;

use crate::app::Stack;
use crate::deploy::DeployError;
use crate::deploy::select::matches;

/// The cdn stack's parameter naming the `/api/*` origin; `stacks deploy` fills it from
/// the services stack's `ApiDomainName` output when the stage names no domain.
pub const API_DOMAIN_PARAMETER: &str = "ApiDomainName";

/// One `--parameter` override.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParameterOverride {
    /// The stack it applies to (full name or slug); `None`: every stack with the key.
    pub stack: Option<String>,
    /// Parameter name.
    pub key: String,
    /// Value.
    pub value: String,
}

impl std::str::FromStr for ParameterOverride {
    type Err = DeployError;

    /// Parses `Stack:Key=Value` or `Key=Value`. The value may contain `=` and `:`
    /// (e.g. an ARN); the key may not.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed =
            || DeployError::Parameter(format!("`{text}`: expected Key=Value or Stack:Key=Value"));
        let (target, value) = text.split_once('=').ok_or_else(malformed)?;
        let (stack, key) = match target.split_once(':') {
            Some((stack, key)) => (Some(stack.to_owned()), key),
            None => (None, target),
        };
        let valid_key = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric());
        if !valid_key || stack.as_deref() == Some("") {
            return Err(malformed());
        }
        Ok(Self {
            stack,
            key: key.to_owned(),
            value: value.to_owned(),
        })
    }
}

/// The parameter names a stack's template declares.
pub fn declared_parameters(stack: &Stack) -> Vec<String> {
    match serde_json::to_value(&stack.template) {
        Ok(json) => json
            .get("Parameters")
            .and_then(|p| p.as_object())
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

/// The values to pass to each stack, by stack name then parameter name. Parameters
/// without an override are not passed, so the template default (the stage file) applies.
///
/// Every override must reach at least one stack: a typo in a stack or key is an error,
/// not a silently ignored flag. Later overrides win over earlier ones, and a
/// stack-qualified override wins over an unqualified one.
pub fn resolve(
    stacks: &[Stack],
    overrides: &[ParameterOverride],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, DeployError> {
    let mut resolved: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let declared: Vec<(&Stack, Vec<String>)> =
        stacks.iter().map(|s| (s, declared_parameters(s))).collect();
    // Unqualified first, so qualified ones overwrite them.
    let ordered = overrides
        .iter()
        .filter(|o| o.stack.is_none())
        .chain(overrides.iter().filter(|o| o.stack.is_some()));
    for item in ordered {
        let mut applied = false;
        for (stack, keys) in &declared {
            let stack_matches = item
                .stack
                .as_deref()
                .is_none_or(|wanted| matches(stack, wanted));
            if stack_matches && keys.contains(&item.key) {
                resolved
                    .entry(stack.name.clone())
                    .or_default()
                    .insert(item.key.clone(), item.value.clone());
                applied = true;
            }
        }
        if !applied {
            let target = match &item.stack {
                Some(stack) => format!("stack {stack}"),
                None => "any selected stack".to_owned(),
            };
            return Err(DeployError::Parameter(format!(
                "{}: no parameter {} in {target}",
                item.key, item.key
            )));
        }
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ParameterOverride, DeployError> {
        text.parse()
    }

    #[test]
    fn parses_both_forms() {
        assert_eq!(
            parse("warmer:WarmerCodeKey=lambdas/a=b.zip").unwrap(),
            ParameterOverride {
                stack: Some("warmer".into()),
                key: "WarmerCodeKey".into(),
                value: "lambdas/a=b.zip".into()
            }
        );
        assert_eq!(
            parse("CertificateArn=arn:aws:acm:us-east-1:1:certificate/x").unwrap(),
            ParameterOverride {
                stack: None,
                key: "CertificateArn".into(),
                value: "arn:aws:acm:us-east-1:1:certificate/x".into()
            }
        );
        assert_eq!(parse("VpcId=").unwrap().value, "");
        for bad in ["VpcId", "=x", ":VpcId=x", "Vpc Id=x", "a:b:c=x"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resolves_against_declared_parameters() {
        let config =
            crate::config::load_stage(&crate::config::default_stages_dir(), "dev").unwrap();
        let stacks = crate::app::build_stage(&config).unwrap();
        let overrides = vec![
            parse("VpcId=vpc-1").unwrap(),
            parse("roadcall-perf-dev-warmer:WarmerCodeKey=k.zip").unwrap(),
        ];
        let resolved = resolve(&stacks, &overrides).unwrap();
        assert_eq!(resolved["roadcall-perf-dev-network"]["VpcId"], "vpc-1");
        assert_eq!(
            resolved["roadcall-perf-dev-warmer"]["WarmerCodeKey"],
            "k.zip"
        );
        assert!(!resolved.contains_key("roadcall-perf-dev-keys"));

        let typo = resolve(&stacks, &[parse("VpcID=vpc-1").unwrap()]).unwrap_err();
        assert!(typo.to_string().contains("no parameter VpcID"), "{typo}");
        let wrong_stack = resolve(&stacks, &[parse("keys:VpcId=vpc-1").unwrap()]).unwrap_err();
        assert!(
            wrong_stack.to_string().contains("in stack keys"),
            "{wrong_stack}"
        );
    }

    #[test]
    fn a_qualified_override_wins() {
        let config =
            crate::config::load_stage(&crate::config::default_stages_dir(), "dev").unwrap();
        let stacks = crate::app::build_stage(&config).unwrap();
        let overrides = vec![
            parse("warmer:WarmerCodeKey=specific.zip").unwrap(),
            parse("WarmerCodeKey=general.zip").unwrap(),
        ];
        let resolved = resolve(&stacks, &overrides).unwrap();
        assert_eq!(
            resolved["roadcall-perf-dev-warmer"]["WarmerCodeKey"],
            "specific.zip"
        );
    }
}
