//! Which stacks a command acts on, and in which order.

use crate::app::Stack;
use crate::deploy::DeployError;

/// Orders stacks so each comes after the stacks it imports from (stable: stacks with no
/// constraint between them keep their given order). Dependencies outside the list are
/// ignored (they are deployed already, or the import fails with CloudFormation's reason).
pub fn dependency_order(stacks: Vec<Stack>) -> Vec<Stack> {
    let mut remaining = stacks;
    let mut ordered: Vec<Stack> = Vec::with_capacity(remaining.len());
    while !remaining.is_empty() {
        let ready = remaining.iter().position(|stack| {
            stack
                .depends_on
                .iter()
                .all(|dependency| !remaining.iter().any(|other| &other.name == dependency))
        });
        // A cycle cannot come from `Part::depends_on`; if one ever did, keep the given
        // order rather than loop forever.
        let next = ready.unwrap_or(0);
        ordered.push(remaining.remove(next));
    }
    ordered
}

/// Does `wanted` (a full stack name or a part slug such as `redis`) name `stack`?
pub fn matches(stack: &Stack, wanted: &str) -> bool {
    stack.name == wanted || stack.part.slug() == wanted
}

/// The stacks a command acts on: all of the stage's in dependency order, or the one that
/// `only` names.
pub fn select(
    stage: &str,
    stacks: Vec<Stack>,
    only: Option<&str>,
) -> Result<Vec<Stack>, DeployError> {
    let ordered = dependency_order(stacks);
    let Some(wanted) = only else {
        return Ok(ordered);
    };
    let available = ordered
        .iter()
        .map(|s| s.part.slug())
        .collect::<Vec<_>>()
        .join(", ");
    let chosen: Vec<Stack> = ordered.into_iter().filter(|s| matches(s, wanted)).collect();
    if chosen.is_empty() {
        return Err(DeployError::UnknownStack {
            stage: stage.to_owned(),
            stack: wanted.to_owned(),
            available,
        });
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::Part;

    fn stack(part: Part, depends_on: &[&str]) -> Stack {
        Stack {
            name: format!("p-dev-{}", part.slug()),
            part,
            depends_on: depends_on.iter().map(|d| format!("p-dev-{d}")).collect(),
            template: cfn::Template::new("t"),
        }
    }

    fn names(stacks: &[Stack]) -> Vec<&str> {
        stacks.iter().map(|s| s.part.slug()).collect()
    }

    #[test]
    fn dependencies_come_first_and_order_is_otherwise_kept() {
        let given = vec![
            stack(Part::Warmer, &["keys"]),
            stack(Part::Dax, &["network", "monitoring"]),
            stack(Part::Monitoring, &["keys", "redis"]),
            stack(Part::Redis, &["keys", "network"]),
            stack(Part::Network, &[]),
            stack(Part::Keys, &[]),
            stack(Part::Cdn, &[]),
        ];
        let ordered = dependency_order(given);
        assert_eq!(
            names(&ordered),
            [
                "network",
                "keys",
                "warmer",
                "redis",
                "monitoring",
                "dax",
                "cdn"
            ]
        );
    }

    #[test]
    fn the_shipped_order_is_already_a_dependency_order() {
        let config =
            crate::config::load_stage(&crate::config::default_stages_dir(), "dev").unwrap();
        let stacks = crate::app::build_stage(&config).unwrap();
        let before: Vec<String> = stacks.iter().map(|s| s.name.clone()).collect();
        let after: Vec<String> = dependency_order(stacks)
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(before, after);
    }

    #[test]
    fn a_stack_is_chosen_by_slug_or_full_name() {
        let all = || vec![stack(Part::Keys, &[]), stack(Part::Redis, &["keys"])];
        assert_eq!(
            names(&select("dev", all(), Some("redis")).unwrap()),
            ["redis"]
        );
        assert_eq!(
            names(&select("dev", all(), Some("p-dev-keys")).unwrap()),
            ["keys"]
        );
        assert_eq!(
            names(&select("dev", all(), None).unwrap()),
            ["keys", "redis"]
        );
        let error = select("dev", all(), Some("redsi")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no stack of stage dev is called redsi (stacks: keys, redis)"
        );
    }
}
