//! Deleting stacks, after a confirmation.

use std::io::Write;

use crate::app::Stack;
use crate::deploy::error::from_sdk;
use crate::deploy::events::run_operation;
use crate::deploy::outputs::describe_stack;
use crate::deploy::{AwsContext, DeployError};

/// Whether destroying may go ahead. `--yes` always may; otherwise an interactive
/// terminal must answer `y`/`yes` (`answer` is what was typed, `None` when nothing could
/// be read); without a terminal there is nobody to ask, so it refuses.
pub fn confirmed(yes: bool, interactive: bool, answer: Option<&str>) -> Result<bool, DeployError> {
    if yes {
        return Ok(true);
    }
    if !interactive {
        return Err(DeployError::Refused(
            "refusing to destroy without confirmation: no terminal to ask; pass --yes".to_owned(),
        ));
    }
    Ok(matches!(
        answer.map(|a| a.trim().to_ascii_lowercase()).as_deref(),
        Some("y" | "yes")
    ))
}

/// What destroying one stack did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DestroyOutcome {
    /// It was deleted.
    Deleted,
    /// There was nothing to delete.
    NotDeployed,
}

/// Deletes one stack and follows its events to the end.
pub async fn destroy_stack(
    ctx: &AwsContext,
    stack: &Stack,
    out: &mut dyn Write,
) -> Result<DestroyOutcome, DeployError> {
    let client = ctx.cloudformation(stack.part);
    let name = stack.name.as_str();
    let Some(existing) = describe_stack(&client, name).await? else {
        return Ok(DestroyOutcome::NotDeployed);
    };
    if existing.status.ends_with("_IN_PROGRESS") && existing.status != "REVIEW_IN_PROGRESS" {
        return Err(DeployError::StackBusy {
            stack: name.to_owned(),
            status: existing.status,
            hint: "another operation is running; wait for it to finish".to_owned(),
        });
    }
    let delete = async {
        client
            .delete_stack()
            .stack_name(&existing.id)
            .send()
            .await
            .map(drop)
            .map_err(|e| from_sdk("DeleteStack", name, e))
    };
    run_operation(
        &client,
        name,
        &existing.id,
        0,
        ctx.poll_interval,
        out,
        delete,
    )
    .await?;
    Ok(DestroyOutcome::Deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_rules() {
        assert!(confirmed(true, false, None).unwrap());
        assert!(confirmed(false, false, None).is_err());
        assert!(confirmed(false, true, Some("yes\n")).unwrap());
        assert!(confirmed(false, true, Some(" Y ")).unwrap());
        assert!(!confirmed(false, true, Some("no")).unwrap());
        assert!(!confirmed(false, true, Some("")).unwrap());
        assert!(!confirmed(false, true, None).unwrap());
    }
}
